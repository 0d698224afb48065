/* vtm_conversation — the voice routes of a call: inbound (greeting), speech (one assistant
 * turn per Gather result) and escalate (transfer to a human and its outcome).
 *
 * The conversation's state travels in the Gather action URL Twilio signs and calls back:
 * "speech?t=TURN&ni=NO_INPUTS&nm=NO_MATCHES". A repeated delivery of the same Gather result
 * therefore carries the same turn and adds no second turn row, and no state has to be kept
 * per call between webhooks.
 */
#ifndef VTM_CONVERSATION_H
#define VTM_CONVERSATION_H

#include "vtm_request.h"

int vtm_route_inbound(vtm_webhook_t *w);
int vtm_route_speech(vtm_webhook_t *w);
int vtm_route_escalate(vtm_webhook_t *w);

#endif
