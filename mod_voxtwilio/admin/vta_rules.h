/* vta_rules — voxtwilio-admin's `rules` and `consent` verbs (vta_rules.c). */
#ifndef VTA_RULES_H
#define VTA_RULES_H

#include "vta.h"

/* rules import SLUG FILE|- ; rules export SLUG ; rules runs SLUG [--limit N] */
int vta_cmd_rules(vta_ctx_t *c, int argc, char **argv);
/* consent list SLUG [--phone N] ; consent record SLUG --phone N --channel C --granted|--refused */
int vta_cmd_consent(vta_ctx_t *c, int argc, char **argv);
/* The ledger's refusal of (company, phone, channel) as "+1… opted out of sms (keyword
 * STOP, 2026-…)" in *refusal (c->pool), NULL when the customer has not opted out. VTA_OK, or
 * VTA_FAIL after reporting a database error. */
int vta_consent_refusal(vta_ctx_t *c, const char *company_id, const char *phone,
                        const char *channel, const char **refusal);

#endif
