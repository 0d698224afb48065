/* vta_rules — voxtwilio-admin's `rules` and `consent` verbs (vta_rules.c). */
#ifndef VTA_RULES_H
#define VTA_RULES_H

#include "vta.h"

/* rules import SLUG FILE|- ; rules export SLUG ; rules runs SLUG [--limit N] */
int vta_cmd_rules(vta_ctx_t *c, int argc, char **argv);
/* consent list SLUG [--phone N] ; consent record SLUG --phone N --channel C --granted|--refused */
int vta_cmd_consent(vta_ctx_t *c, int argc, char **argv);

#endif
