/* vt_voice — what callers hear, as TwiML. */
#include "vt_twiml.h"
#include "vt_voice.h"

const char *vt_voice_gather(apr_pool_t *p, const char *text, const vt_voice_opts_t *o,
                            const char *action, apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);
    const char *voice = o ? o->voice : NULL;
    const char *language = o ? o->language : NULL;

    vt_twiml_open(t, "Gather", "input", "speech", "action", action, "method", "POST",
                  "speechTimeout", "auto", "actionOnEmptyResult", "true", "language", language,
                  NULL);
    vt_twiml_leaf(t, "Say", text, "voice", voice, "language", language, NULL);
    vt_twiml_close(t);
    return vt_twiml_finish(t, len);
}

static const char *say_and_hangup(apr_pool_t *p, const char *text, apr_size_t *len)
{
    vt_twiml_t *t = vt_twiml_create(p);

    vt_twiml_leaf(t, "Say", text, NULL);
    vt_twiml_leaf(t, "Hangup", NULL, NULL);
    return vt_twiml_finish(t, len);
}

const char *vt_voice_not_in_service(apr_pool_t *p, apr_size_t *len)
{
    return say_and_hangup(p, VT_VOICE_NOT_IN_SERVICE_TEXT, len);
}

const char *vt_voice_apology(apr_pool_t *p, apr_size_t *len)
{
    return say_and_hangup(p, VT_VOICE_APOLOGY_TEXT, len);
}
