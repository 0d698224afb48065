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
/* <Hangup/> */
const char *vt_voice_hangup(apr_pool_t *p, apr_size_t *len);
/* <Say>text</Say><Hangup/> */
const char *vt_voice_say_hangup(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                                apr_size_t *len);
/* <Say>text</Say><Redirect method="POST">url</Redirect> */
const char *vt_voice_say_redirect(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                                  const char *url, apr_size_t *len);
/* <Say>text</Say><Dial callerId action method="POST" timeout><Number>number</Number></Dial>.
 * number must already be a validated E.164 number. */
const char *vt_voice_dial(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                          const char *caller_id, const char *number, const char *action,
                          int timeout_s, apr_size_t *len);

/* A <Stream>'s <Parameter>, passed to the stream in its start message. */
typedef struct vt_voice_param {
    const char *name;
    const char *value; /* NULL: left out */
} vt_voice_param_t;

/* Stream mode: [<Start><Recording channels="dual" recordingStatusCallback=recording_callback
 * recordingStatusCallbackEvent="completed"/></Start>] (when recording_callback is not NULL;
 * dual: channel 1 the caller, channel 2 what Twilio plays, i.e. the assistant)
 * <Connect action=action method="POST"><Stream url=url><Parameter name value/>...
 * </Stream></Connect>. url must be a wss:// URL without a query (Twilio refuses one). */
const char *vt_voice_stream(apr_pool_t *p, const char *url, const vt_voice_param_t *params,
                            int nparams, const char *action, const char *recording_callback,
                            apr_size_t *len);

/* Said by the <Connect action> route when a stream ended without saying how (its helper
 * died, or it never started): the caller then goes on in gather mode or to the human. */
#define VT_VOICE_STREAM_LOST_TEXT "Sorry, the line had a problem for a moment."
/* Said by the helper when a stream's backend fails (then the <Connect action> route goes
 * on: the human, or gather mode). */
#define VT_VOICE_BACKEND_FAILED_TEXT "Sorry, I am having a technical problem."
/* Asks the caller to go on after the stream, in gather mode. */
#define VT_VOICE_CONTINUE_TEXT "How can I help you?"

/* Spoken while a database outage interrupts a conversation (then a fresh <Gather>). */
#define VT_VOICE_RETRY_TEXT \
    "Sorry, I am having trouble right now. Could you please say that again?"
/* Spoken when the human could not be reached. */
#define VT_VOICE_DIAL_FAILED_TEXT \
    "Sorry, nobody is available to take your call right now. We have noted your call and " \
    "will call you back as soon as possible. Goodbye."
/* Spoken before the transfer. */
#define VT_VOICE_CONNECTING_TEXT "Please hold while I connect you."

/* <Say>not in service</Say><Hangup/> */
const char *vt_voice_not_in_service(apr_pool_t *p, apr_size_t *len);
/* <Say>apology</Say><Hangup/> */
const char *vt_voice_apology(apr_pool_t *p, apr_size_t *len);

#endif
