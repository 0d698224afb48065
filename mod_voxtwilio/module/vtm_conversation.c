/* vtm_conversation — inbound, speech and escalate; see vtm_conversation.h. */
#include <stdlib.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include "vt_assistant.h"
#include "vt_assistant_cache.h"
#include "vt_events.h"
#include "vt_form.h"
#include "vt_util.h"
#include "vt_voice.h"
#include "vtm_conversation.h"
#include "vtm_handler.h"
#include "vtm_llm.h"
#include "vtm_module.h"
#include "vtm_status.h"

APLOG_USE_MODULE(voxtwilio);

/* This child's parsed assistants (VoxTwilioAssistantCache), made in child_init. */
static vt_assistant_cache_t *assistants;

/* Below this Twilio confidence an utterance counts as not understood (0 means "unknown"). */
#define VTM_MIN_CONFIDENCE 0.3
/* How long <Dial> rings the human before giving up. */
#define VTM_DIAL_TIMEOUT_S 25

typedef struct conv_state {
    int turn;        /* the Gather result being answered (1 = after the greeting) */
    int no_input;    /* consecutive silent results */
    int no_match;    /* consecutive results the assistant did not understand */
    int lang;        /* index into the tenant's languages (0: the primary) */
} conv_state_t;

static int arg_int(const apr_array_header_t *q, const char *name, int dflt, int max)
{
    const char *v = vt_params_get(q, name);
    char *end;
    long n;

    if (!v) {
        return dflt;
    }
    n = strtol(v, &end, 10);
    return (*v && !*end && n >= 0 && n <= max) ? (int)n : dflt;
}

static conv_state_t read_state(request_rec *r)
{
    conv_state_t s = { 1, 0, 0, 0 };
    apr_array_header_t *q = NULL;

    if (r->args && vt_form_parse(r->pool, r->args, strlen(r->args), 8, &q) == VT_FORM_OK) {
        s.turn = arg_int(q, "t", 1, 1000);
        s.no_input = arg_int(q, "ni", 0, 100);
        s.no_match = arg_int(q, "nm", 0, 100);
        s.lang = arg_int(q, "lg", 0, VT_LLM_LANGUAGES_MAX - 1);
    }
    return s;
}

/* The state after this turn; the language only when it is not the primary, so a
 * one-language tenant's URLs stay as they always were. */
static const char *action_url(request_rec *r, int turn, const conv_state_t *s)
{
    return apr_psprintf(r->pool, "speech?t=%d&ni=%d&nm=%d%s", turn, s->no_input, s->no_match,
                        s->lang ? apr_psprintf(r->pool, "&lg=%d", s->lang) : "");
}

static const char *next_action(request_rec *r, const conv_state_t *s)
{
    return action_url(r, s->turn + 1, s);
}

static const char *escalate_url(request_rec *r, const conv_state_t *s)
{
    return s->lang ? apr_psprintf(r->pool, "escalate?lg=%d", s->lang) : "escalate";
}

void vtm_conversation_child_init(apr_pool_t *pchild, server_rec *s)
{
    int capacity = (int)vtm_srv_conf(s)->assistant_cache;
    apr_status_t rv = vt_assistant_cache_create(pchild, capacity, &assistants);

    if (rv != APR_SUCCESS) {
        /* Every turn then parses its tenant's assistant itself: slower, still correct. */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     VTLOGNO(10505) "could not create the assistant cache");
        assistants = NULL;
    }
}

/* The tenant's parsed script and languages, from this child's cache. */
static const vt_assistant_t *assistant_of(request_rec *r, const vt_tenant_t *t)
{
    int hit;
    const vt_assistant_t *a = vt_assistant_cache_get(assistants, r->pool, t, &hit);

    vtm_status_count(hit ? VTM_STAT_ASSISTANT_CACHE_HITS : VTM_STAT_ASSISTANT_CACHE_MISSES);
    if (a->script_err) {
        /* Only a hand-edited database gets here: import validates. Built-ins still work. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      VTLOGNO(10501) "tenant %s: stored assistant script is invalid (%s); "
                      "using the built-in intents",
                      t->slug, a->script_err);
    }
    return a;
}

/* The voice of language `lang` of the tenant (its primary when out of range). */
static vt_voice_opts_t voice_of(const vt_assistant_t *a, int lang)
{
    vt_voice_opts_t o = { a->languages[0].voice, a->languages[0].language };

    if (lang > 0 && lang < a->nlanguages) {
        o.voice = a->languages[lang].voice;
        o.language = a->languages[lang].language;
    }
    return o;
}

/* Resolves and authenticates a voice webhook; on anything but OK *status is the answer. */
static int voice_preamble(vtm_webhook_t *w, int is_callback, vt_tenant_t **t, int *status)
{
    switch (vtm_resolve_tenant(w, is_callback, t)) {
    case VTM_TENANT_DB_DOWN:
        *status = -1;
        return 0;
    case VTM_TENANT_NONE:
        *status = vtm_send_not_in_service(w->r);
        return 0;
    case VTM_TENANT_OK:
        break;
    }
    *status = vtm_authenticate(w, *t);
    if (*status == HTTP_INTERNAL_SERVER_ERROR) {
        *status = vtm_send_apology(w->r);
        return 0;
    }
    return *status == OK;
}

static void log_db_down(vtm_webhook_t *w, const char *what)
{
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, w->r,
                  VTLOGNO(10502) "CallSid %s: %s not recorded (database unavailable)",
                  w->call_sid, what);
}

static void record_turn(vtm_webhook_t *w, const vt_tenant_t *t, int turn, const char *caller,
                        const char *confidence, const char *reply)
{
    const char **args = vt_event_turn_args(w->r->pool, w->params, t->company_id, turn, caller,
                                           confidence, reply);

    if (vtm_db_event(w->r, &vt_event_turn_stmt, args) != VTM_DB_OK) {
        log_db_down(w, "turn");
    }
}

/* POST inbound — "A call comes in": greet the caller and listen. */
int vtm_route_inbound(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    vt_voice_opts_t voice;
    conv_state_t start = { 0, 0, 0, 0 };
    const char *doc;
    apr_size_t len;
    int status;

    if (!voice_preamble(w, 0, &t, &status)) {
        if (status == -1) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          VTLOGNO(10304) "CallSid %s: database unavailable, caller hears "
                          "apology; call %s",
                          w->call_sid, vtm_spool(w) ? "spooled" : "NOT spooled");
            return vtm_send_apology(r);
        }
        return status;
    }
    /* Twilio retries a webhook it got no answer for: the write (call, event and greeting
     * turn) is idempotent by CallSid. */
    if (vtm_record_event(w, t, vt_event_inbound_args, &vt_event_inbound_stmt)
            == VTM_DB_UNAVAILABLE
        && !vtm_spool(w)) {
        log_db_down(w, "call");
    }
    voice = voice_of(assistant_of(r, t), 0);
    doc = vt_voice_gather(r->pool, t->greeting, &voice, next_action(r, &start), &len);
    return vtm_send_twiml(r, doc, len);
}

/* A hand-over: to a human if the tenant has one, else goodbye. *reply: what to say, or NULL
 * for the script's text; set to what is said. */
static const char *hand_over(vtm_webhook_t *w, const vt_tenant_t *t, const vt_script_t *s,
                             const conv_state_t *st, const vt_voice_opts_t *voice,
                             const char **reply, apr_size_t *len)
{
    if (t->escalation_phone && vt_e164_valid(t->escalation_phone)) {
        *reply = *reply ? *reply : vt_script_escalation(s);
        return vt_voice_say_redirect(w->r->pool, *reply, voice, escalate_url(w->r, st), len);
    }
    *reply = vt_script_goodbye(s);
    return vt_voice_say_hangup(w->r->pool, *reply, voice, len);
}

/* The answer once a miss limit is reached. */
static const char *limit_reached(vtm_webhook_t *w, const vt_tenant_t *t, const vt_script_t *s,
                                 const conv_state_t *st, const vt_voice_opts_t *voice,
                                 const char **reply, apr_size_t *len)
{
    *reply = NULL;
    return hand_over(w, t, s, st, voice, reply, len);
}

/* The assistant's answer to an utterance: the tenant's model when it has one, else (or
 * when the model gives no usable answer) the script. Returns 1 when it understood. */
static int understand(vtm_webhook_t *w, const vt_tenant_t *t, const vt_assistant_t *a,
                      const char *said, conv_state_t *st, vt_answer_t *ans)
{
    if (!vt_tenant_is_llm(t)) {
        return vt_script_match(a->script, w->r->pool, said, ans);
    }
    if (st->lang >= a->nlanguages) {
        st->lang = 0;
    }
    if (vtm_llm_answer(w, t, said, a->languages, a->nlanguages, &st->lang, ans)) {
        return 1;
    }
    /* Never silent: the script's intents, else an apology and a fresh <Gather>. A model
     * failure is not the caller's miss, so it does not count towards the no-match limit. */
    if (vt_script_match(a->script, w->r->pool, said, ans)) {
        return 1;
    }
    ans->reply = VT_VOICE_RETRY_TEXT;
    ans->intent = "fallback";
    return 1;
}

/* POST speech — the Gather result: one assistant turn. */
int vtm_route_speech(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    conv_state_t st = read_state(r);
    const vt_assistant_t *assistant;
    const vt_script_t *script;
    vt_voice_opts_t voice;
    vt_answer_t ans = { 0 };
    const char *said, *confidence, *reply, *doc;
    apr_size_t len;
    int status;

    if (!voice_preamble(w, 1, &t, &status)) {
        if (status == -1) {
            /* Keep the caller on the line: the next result may reach a database again. */
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          VTLOGNO(10503) "CallSid %s: database unavailable during a turn; "
                          "caller asked to repeat, result %s",
                          w->call_sid, vtm_spool(w) ? "spooled" : "NOT spooled");
            doc = vt_voice_gather(r->pool, VT_VOICE_RETRY_TEXT, NULL,
                                  action_url(r, st.turn, &st), &len);
            return vtm_send_twiml(r, doc, len);
        }
        return status;
    }
    assistant = assistant_of(r, t);
    script = assistant->script;
    said = vt_params_get(w->params, "SpeechResult");
    confidence = vt_params_get(w->params, "Confidence");
    if (!said || strspn(said, " \t\r\n") == strlen(said)) {
        voice = voice_of(assistant, st.lang);
        st.no_input++;
        reply = vt_script_reprompt(script);
        if (st.no_input >= vt_script_no_input_limit(script)) {
            doc = limit_reached(w, t, script, &st, &voice, &reply, &len);
            record_turn(w, t, st.turn, "", NULL, reply);
            return vtm_send_twiml(r, doc, len);
        }
        record_turn(w, t, st.turn, "", NULL, reply);
        doc = vt_voice_gather(r->pool, reply, &voice, next_action(r, &st), &len);
        return vtm_send_twiml(r, doc, len);
    }
    st.no_input = 0;
    if (confidence && atof(confidence) > 0 && atof(confidence) < VTM_MIN_CONFIDENCE) {
        ans.reply = vt_script_fallback(script); /* no intent, no action */
    }
    else {
        understand(w, t, assistant, said, &st, &ans);
    }
    /* After understand(): the model may have switched the call's language. */
    voice = voice_of(assistant, st.lang);
    if (!ans.intent) {
        st.no_match++;
        if (st.no_match >= vt_script_no_match_limit(script)) {
            doc = limit_reached(w, t, script, &st, &voice, &reply, &len);
            record_turn(w, t, st.turn, said, confidence, reply);
            return vtm_send_twiml(r, doc, len);
        }
    }
    else {
        st.no_match = 0;
    }
    reply = ans.reply;
    switch (ans.action) {
    case VT_ACTION_ESCALATE:
        /* The script's escalation intents speak the script's hand-over text; the model its
         * own words, when it gave any. */
        if (strcmp(ans.intent, "llm") != 0) {
            reply = NULL;
        }
        doc = hand_over(w, t, script, &st, &voice, &reply, &len);
        break;
    case VT_ACTION_HANGUP:
        reply = reply ? reply : vt_script_goodbye(script);
        doc = vt_voice_say_hangup(r->pool, reply, &voice, &len);
        break;
    case VT_ACTION_SMS: {
        const char *to = vt_params_get(w->params, "From");
        if (to && vt_e164_valid(to) && ans.sms) {
            const char **args = vt_event_sms_job_args(
                r->pool, t->company_id, w->call_sid, to, ans.sms,
                apr_psprintf(r->pool, "sms:%s:%d", w->call_sid, st.turn));
            if (vtm_db_event(r, &vt_event_sms_job_stmt, args) != VTM_DB_OK) {
                log_db_down(w, "SMS job");
            }
        }
        doc = vt_voice_gather(r->pool, reply, &voice, next_action(r, &st), &len);
        break;
    }
    case VT_ACTION_NONE:
    default:
        doc = vt_voice_gather(r->pool, reply, &voice, next_action(r, &st), &len);
        break;
    }
    record_turn(w, t, st.turn, said, confidence, reply ? reply : "");
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, VTLOGNO(10504) "CallSid %s: turn %d intent %s",
                  w->call_sid, st.turn, ans.intent ? ans.intent : "(none)");
    return vtm_send_twiml(r, doc, len);
}

/* POST escalate — our <Redirect> (transfer now) or the <Dial action> result. */
int vtm_route_escalate(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    const char *dial_status = vt_params_get(w->params, "DialCallStatus");
    const char *to = vt_params_get(w->params, "To");
    const char *doc, **args;
    vt_voice_opts_t voice;
    apr_size_t len;
    int status;

    if (!voice_preamble(w, 1, &t, &status)) {
        return status == -1 ? vtm_send_apology(r) : status;
    }
    voice = voice_of(assistant_of(r, t), read_state(r).lang);
    if (dial_status) {
        /* The human's leg ended: answered calls simply end, others get a callback promise. */
        int answered = strcmp(dial_status, "completed") == 0
                       || strcmp(dial_status, "answered") == 0;
        args = apr_pcalloc(r->pool, sizeof(*args) * 2);
        args[0] = dial_status;
        args[1] = w->call_sid;
        if (vtm_db_event(r, &vt_event_escalation_stmt, args) != VTM_DB_OK) {
            log_db_down(w, "escalation outcome");
        }
        if (answered) {
            doc = vt_voice_hangup(r->pool, &len);
        }
        else {
            doc = vt_voice_say_hangup(r->pool, VT_VOICE_DIAL_FAILED_TEXT, &voice, &len);
        }
        return vtm_send_twiml(r, doc, len);
    }
    if (!t->escalation_phone || !vt_e164_valid(t->escalation_phone)) {
        doc = vt_voice_say_hangup(r->pool, VT_VOICE_DIAL_FAILED_TEXT, &voice, &len);
        return vtm_send_twiml(r, doc, len);
    }
    args = apr_pcalloc(r->pool, sizeof(*args) * 2);
    args[0] = "dialing";
    args[1] = w->call_sid;
    if (vtm_db_event(r, &vt_event_escalation_stmt, args) != VTM_DB_OK) {
        log_db_down(w, "escalation");
    }
    if (t->notification_phone && vt_e164_valid(t->notification_phone)) {
        const char *from = vt_params_get(w->params, "From");
        args = vt_event_sms_job_args(
            r->pool, t->company_id, w->call_sid, t->notification_phone,
            apr_psprintf(r->pool, "Call from %s (%s) is being transferred to %s. "
                         "If nobody answers, please call back.",
                         from ? from : "an unknown number", w->call_sid, t->escalation_phone),
            apr_pstrcat(r->pool, "escalation_alert:", w->call_sid, NULL));
        if (vtm_db_event(r, &vt_event_sms_job_stmt, args) != VTM_DB_OK) {
            log_db_down(w, "escalation SMS alert");
        }
    }
    /* Caller ID: the tenant's number the caller dialled, so the human sees who it is for. */
    doc = vt_voice_dial(r->pool, VT_VOICE_CONNECTING_TEXT, &voice,
                        (to && vt_e164_valid(to)) ? to : NULL, t->escalation_phone, "escalate",
                        VTM_DIAL_TIMEOUT_S, &len);
    return vtm_send_twiml(r, doc, len);
}
