/* vt_voice — what callers hear, as TwiML. */
#include <apr_strings.h>
#include "vt_twiml.h"
#include "vt_voice.h"

/* Nothing to say writes no <Say> (Twilio rejects an empty one): a <Gather> then just listens. */
static void say(vt_twiml_t *t, const char *text, const vt_voice_opts_t *o)
{
    if (!text || !*text) {
        return;
    }
    vt_twiml_leaf(t, "Say", text, "voice", o ? o->voice : NULL, "language",
                  o ? o->language : NULL, NULL);
}

const char *vt_voice_gather(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                            const char *action, apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);

    vt_twiml_open(t, "Gather", "input", "speech", "action", action, "method", "POST",
                  "speechTimeout", "auto", "actionOnEmptyResult", "true", "language",
                  o ? o->language : NULL, NULL);
    say(t, text, o);
    vt_twiml_close(t);
    return vt_twiml_finish(t, len);
}

const char *vt_voice_hangup(apr_pool_t *p, apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);

    vt_twiml_leaf(t, "Hangup", NULL, NULL);
    return vt_twiml_finish(t, len);
}

const char *vt_voice_say_hangup(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                                apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);

    say(t, text, o);
    vt_twiml_leaf(t, "Hangup", NULL, NULL);
    return vt_twiml_finish(t, len);
}

const char *vt_voice_say_redirect(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                                  const char *url, apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);

    say(t, text, o);
    vt_twiml_leaf(t, "Redirect", url, "method", "POST", NULL);
    return vt_twiml_finish(t, len);
}

const char *vt_voice_dial(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                          const char *caller_id, const char *number, const char *action,
                          int timeout_s, apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);

    say(t, text, o);
    vt_twiml_open(t, "Dial", "callerId", caller_id, "action", action, "method", "POST",
                  "timeout", apr_itoa(p, timeout_s), NULL);
    vt_twiml_leaf(t, "Number", number, NULL);
    return vt_twiml_finish(t, len);
}

const char *vt_voice_stream(apr_pool_t *p, const char *url, const vt_voice_param_t *params,
                            int nparams, const char *action, const char *recording_callback,
                            apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);
    int i;

    if (recording_callback) {
        vt_twiml_open(t, "Start", NULL);
        /* Dual: the caller and the assistant on channels of their own, so the recording's
         * transcript says who said what (the post-call job transcribes each). */
        vt_twiml_leaf(t, "Recording", NULL, "channels", "dual", "recordingStatusCallback",
                      recording_callback, "recordingStatusCallbackEvent", "completed", NULL);
        vt_twiml_close(t);
    }
    vt_twiml_open(t, "Connect", "action", action, "method", "POST", NULL);
    vt_twiml_open(t, "Stream", "url", url, NULL);
    for (i = 0; i < nparams; i++) {
        if (params[i].value) {
            vt_twiml_leaf(t, "Parameter", NULL, "name", params[i].name, "value",
                          params[i].value, NULL);
        }
    }
    return vt_twiml_finish(t, len);
}

const char *vt_voice_not_in_service(apr_pool_t *p, apr_size_t *len)
{
    return vt_voice_say_hangup(p, VT_VOICE_NOT_IN_SERVICE_TEXT, NULL, len);
}

const char *vt_voice_apology(apr_pool_t *p, apr_size_t *len)
{
    return vt_voice_say_hangup(p, VT_VOICE_APOLOGY_TEXT, NULL, len);
}
