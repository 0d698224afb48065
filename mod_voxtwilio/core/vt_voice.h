/* vt_voice — the gateway's voice answers as TwiML documents. One place for what callers
 * hear, shared by the module, the helper and the tests' expectations.
 */
#ifndef VT_VOICE_H
#define VT_VOICE_H

#include <apr_pools.h>

typedef struct vt_voice_opts {
    const char *voice;    /* <Say voice>, e.g. "Polly.Joanna"; NULL: Twilio's default */
    const char *language; /* <Say language>/<Gather language>, e.g. "en-US"; NULL: default */
} vt_voice_opts_t;

/* Spoken when the database is unreachable or the gateway fails internally. */
#define VT_VOICE_APOLOGY_TEXT \
    "We are sorry, we cannot take your call right now. Please try again in a few minutes."
/* Spoken for an unknown, disabled or mismatched tenant. */
#define VT_VOICE_NOT_IN_SERVICE_TEXT \
    "We are sorry, the number you have called is not in service. Goodbye."

/* <Gather input="speech" action=action method="POST" speechTimeout="auto"
 *  actionOnEmptyResult="true" language=...><Say voice language>text</Say></Gather>.
 * actionOnEmptyResult makes Twilio post silence to the action too, so the assistant
 * (not Twilio's end-of-document hangup) decides what happens after no input. */
const char *vt_voice_gather(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                            const char *action, apr_size_t *len);
/* <Say>not in service</Say><Hangup/> */
const char *vt_voice_not_in_service(apr_pool_t *p, apr_size_t *len);
/* <Say>apology</Say><Hangup/> */
const char *vt_voice_apology(apr_pool_t *p, apr_size_t *len);

#endif
