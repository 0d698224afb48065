/* vtm_conversation — the voice routes of a call: inbound (greeting), speech (one assistant
 * turn per Gather result) and escalate (transfer to a human and its outcome).
 *
 * The conversation's state travels in the Gather action URL Twilio signs and calls back:
 * "speech?t=TURN&ni=NO_INPUTS&nm=NO_MATCHES". A repeated delivery of the same Gather result
 * therefore carries the same turn and adds no second turn row, and no state has to be kept
 * per call between webhooks.
 *
 * A tenant's parsed script and languages come from the child's assistant cache
 * (vt_assistant_cache, VoxTwilioAssistantCache): a turn does not parse JSON again.
 */
#ifndef VTM_CONVERSATION_H
#define VTM_CONVERSATION_H

#include "vtm_request.h"

/* child_init: this child's assistant cache. */
void vtm_conversation_child_init(apr_pool_t *pchild, server_rec *s);
int vtm_route_inbound(vtm_webhook_t *w);
int vtm_route_speech(vtm_webhook_t *w);
int vtm_route_escalate(vtm_webhook_t *w);
/* POST stream-end — a stream-mode call's <Connect action>: what follows its stream. */
int vtm_route_stream_end(vtm_webhook_t *w);

#endif
