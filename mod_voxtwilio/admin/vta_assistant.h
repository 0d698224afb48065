/* vta_assistant — `assistant import|show` (the script assistant's document per company).
 * Kept out of vta.h only so that this verb could be added without editing shared headers;
 * fold it into vta.h's verb list at will. */
#ifndef VTA_ASSISTANT_H
#define VTA_ASSISTANT_H

#include "vta.h"

int vta_cmd_assistant(vta_ctx_t *c, int argc, char **argv);

#endif
