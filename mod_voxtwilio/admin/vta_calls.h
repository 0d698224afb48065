/* vta_calls — voxtwilio-admin's `calls` verb, the call log (vta_calls.c). */
#ifndef VTA_CALLS_H
#define VTA_CALLS_H

#include "vta.h"

/* calls list [SLUG] [--since TIME] [--limit N]
 * calls show CALLSID */
int vta_cmd_calls(vta_ctx_t *c, int argc, char **argv);
/* calls place SLUG --to +E164 [--greeting TEXT] [--machine-detection on|off]
 * (vta_outbound.c) */
int vta_calls_place(vta_ctx_t *c, int argc, char **argv);

#endif
