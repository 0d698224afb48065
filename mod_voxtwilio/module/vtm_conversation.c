/* vtm_conversation — inbound, speech and escalate; see vtm_conversation.h. */
#include <stdlib.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include "vt_assistant.h"
#include "vt_assistant_cache.h"
#include "vt_conversation.h"
#include "vt_events.h"
#include "vt_form.h"
#include "vt_util.h"
#include "vt_voice.h"
#include "vtm_conversation.h"
#include "vtm_handler.h"
#include "vtm_llm.h"
#include "vtm_module.h"
#include "vtm_status.h"
#include "vtm_stream.h"

APLOG_USE_MODULE(voxtwilio);

/* A turn number past any a stream could have written, when the database cannot say. */
#define VTM_STREAM_END_UNKNOWN_TURN 500

/* This child's parsed assistants (VoxTwilioAssistantCache), made in child_init. */
static vt_assistant_cache_t *assistants;


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

static vt_conv_state_t read_state(request_rec *r)
{
    vt_conv_state_t s = { 1, 0, 0, 0 };
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
static const char *action_url(request_rec *r, int turn, const vt_conv_state_t *s)
{
    return apr_psprintf(r->pool, "speech?t=%d&ni=%d&nm=%d%s", turn, s->no_input, s->no_match,
                        s->lang ? apr_psprintf(r->pool, "&lg=%d", s->lang) : "");
}

static const char *escalate_url(request_rec *r, const vt_conv_state_t *s)
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

/* Resolves and authenticates a voice webhook; on anything but OK *status is the answer. */
static int voice_preamble(vtm_webhook_t *w, vt_tenant_t **t, int *status)
{
    switch (vtm_resolve_tenant(w, t)) {
    case VTM_TENANT_DB_DOWN:
        *status = -1;
        return 0;
    case VTM_TENANT_NONE:
        *status = vtm_send_not_in_service(w->r);
        return 0;
    case VTM_TENANT_OK:
        break;
    }
    *status = vtm_authenticate_tenant(w, t);
    if (*status == HTTP_INTERNAL_SERVER_ERROR) {
        *status = vtm_send_apology(w->r);
        return 0;
    }
    if (*status == HTTP_NOT_FOUND) {
        *status = vtm_send_not_in_service(w->r);
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

/* Writes the inbound call (vt_event_inbound_stmt, which checks the tenant's version), and
 * sets *first to what the assistant says first (NULL: nothing, or not written) and *over
 * when the tenant is past its monthly minutes limit (*first then says so). A tenant
 * from the cache that is no longer current writes nothing: it is looked up again, the
 * request authenticated again, and the write repeated. 1: written (or spooled, or logged as
 * lost); 0: the new lookup refused the call, answer with *status. */
static int record_inbound(vtm_webhook_t *w, vt_tenant_t **t, const char **first, int *over,
                          int *status)
{
    int attempt, ncols = 0, current = 0;
    const char **row = NULL;
    vtm_db_rc rc = VTM_DB_OK;

    *first = NULL;
    *over = 0;
    for (attempt = 0; attempt < 3; attempt++) {
        rc = vtm_record_event_row(w, *t, vt_event_inbound_args, &vt_event_inbound_stmt, &row,
                                  &ncols);
        current = rc == VTM_DB_OK && row && ncols > 2 && row[0] && strcmp(row[0], "1") == 0;
        if (rc != VTM_DB_OK || current) {
            break;
        }
        vtm_tenant_stale(w);
        if (!voice_preamble(w, t, status)) {
            if (*status != -1) {
                return 0;
            }
            rc = VTM_DB_UNAVAILABLE;
            break;
        }
    }
    if (rc == VTM_DB_OK && !current) {
        /* The tenant changed three times under this request: let the helper replay it. */
        rc = VTM_DB_UNAVAILABLE;
    }
    /* Twilio retries a webhook it got no answer for: the write (call, event and first
     * turn) is idempotent by CallSid. */
    if (rc == VTM_DB_UNAVAILABLE && !vtm_spool(w)) {
        log_db_down(w, "call");
    }
    if (current) {
        *first = row[1];
        *over = row[2] && strcmp(row[2], "t") == 0;
    }
    return 1;
}

/* 1: written; 0: the tenant changed since it was read (vt_event_turn_stmt wrote nothing);
 * -1: the database is unavailable. */
static int record_turn(vtm_webhook_t *w, const vt_tenant_t *t, int turn, const char *caller,
                       const char *confidence, const char *reply)
{
    const char **args = vt_event_turn_args(w->r->pool, w->params, t->company_id, t->version,
                                           turn, caller, confidence, reply);
    const char *value = NULL;

    if (!t->version) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, w->r,
                      VTLOGNO(10507) "CallSid %s: turn not recorded: the tenant's version is "
                      "unknown (is the schema migrated?)", w->call_sid);
        return 1;
    }
    if (vtm_db_event_value(w->r, &vt_event_turn_stmt, args, &value) != VTM_DB_OK) {
        return -1;
    }
    return value && strcmp(value, "1") == 0;
}

/* Stream mode's answer to inbound: the call's audio goes to the helper (vtm_stream.h), which
 * greets the caller itself; stream-end decides what follows. */
static int stream_answer(vtm_webhook_t *w, const vt_tenant_t *t)
{
    request_rec *r = w->r;
    vt_voice_param_t params[] = {
        { "From", vt_params_get(w->params, "From") },
        { "To", vt_params_get(w->params, "To") },
    };
    apr_size_t len;
    const char *doc = vt_voice_stream(r->pool, vtm_stream_url(r, w->conf, t->slug, w->call_sid),
                                      params, 2, "stream-end",
                                      t->recording ? "recording" : NULL, &len);

    return vtm_send_twiml(r, doc, len);
}

/* Said, then hung up: to an outbound call's machine (the tenant's voicemail message, or
 * nothing: a fax, no message, the database could not say), to a caller past the limit. */
static int say_and_hang_up(vtm_webhook_t *w, const vt_tenant_t *t, const char *message)
{
    request_rec *r = w->r;
    vt_voice_opts_t voice;
    apr_size_t len;
    const char *doc;

    if (!message) {
        doc = vt_voice_hangup(r->pool, &len);
    }
    else {
        voice = vt_conv_voice(assistant_of(r, t), 0);
        doc = vt_voice_say_hangup(r->pool, message, &voice, &len);
    }
    return vtm_send_twiml(r, doc, len);
}

/* POST inbound — "A call comes in" (or an outbound call was answered): greet and listen. */
int vtm_route_inbound(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_call_answer_t who = vt_call_answer(w->params);
    vt_tenant_t *t = NULL;
    vt_voice_opts_t voice;
    vt_conv_state_t start = { 0, 0, 0, 0 };
    const char *doc, *first;
    apr_size_t len;
    int status, over;

    if (!voice_preamble(w, &t, &status)) {
        if (status == -1) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          VTLOGNO(10304) "CallSid %s: database unavailable, caller hears "
                          "apology; call %s",
                          w->call_sid, vtm_spool(w) ? "spooled" : "NOT spooled");
            return vtm_send_apology(r);
        }
        return status;
    }
    if (!record_inbound(w, &t, &first, &over, &status)) {
        return status;
    }
    if (over) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VTLOGNO(10509) "CallSid %s: tenant %s is past its monthly minutes "
                      "limit: the caller hears its limit message", w->call_sid, t->slug);
        return say_and_hang_up(w, t, first);
    }
    if (who == VT_ANSWER_MACHINE || who == VT_ANSWER_FAX) {
        return say_and_hang_up(w, t, first);
    }
    if (vt_tenant_is_stream(t)) {
        return stream_answer(w, t);
    }
    voice = vt_conv_voice(assistant_of(r, t), 0);
    doc = vt_voice_gather(r->pool, first ? first : t->greeting, &voice,
                          action_url(r, 1, &start), &len);
    return vtm_send_twiml(r, doc, len);
}

/* The tenant's model, for the turn rules (vt_conv_model_fn). */
typedef struct model_baton {
    vtm_webhook_t *w;
    const vt_tenant_t *t;
    const vt_assistant_t *a;
} model_baton_t;

static int ask_model(void *baton, const char *said, int *lang, vt_answer_t *ans)
{
    model_baton_t *b = baton;

    return vtm_llm_answer(b->w, b->t, b->a, said, lang, ans);
}

/* The turn's result as TwiML. */
static const char *twiml_of(request_rec *r, const vt_conv_result_t *res, apr_size_t *len)
{
    switch (res->next) {
    case VT_CONV_TRANSFER:
        return vt_voice_say_redirect(r->pool, res->reply, &res->voice,
                                     escalate_url(r, &res->state), len);
    case VT_CONV_HANGUP:
        return vt_voice_say_hangup(r->pool, res->reply, &res->voice, len);
    case VT_CONV_LISTEN:
    default:
        return vt_voice_gather(r->pool, res->reply, &res->voice,
                               action_url(r, res->state.turn, &res->state), len);
    }
}

static void queue_sms(vtm_webhook_t *w, const vt_tenant_t *t, const char *to, const char *body,
                      const char *dedup_key, const char *what)
{
    const char **args = vt_event_sms_job_args(w->r->pool, t->company_id, w->call_sid, to, body,
                                              dedup_key);

    if (vtm_db_event(w->r, &vt_event_sms_job_stmt, args) != VTM_DB_OK) {
        log_db_down(w, what);
    }
}

/* The speech route's answer when its tenant could not be had (voice_preamble's status). */
static int speech_without_tenant(vtm_webhook_t *w, const vt_conv_state_t *st, int status)
{
    request_rec *r = w->r;
    const char *doc;
    apr_size_t len;

    if (status != -1) {
        return status;
    }
    /* Keep the caller on the line: the next result may reach a database again. */
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                  VTLOGNO(10503) "CallSid %s: database unavailable during a turn; "
                  "caller asked to repeat, result %s",
                  w->call_sid, vtm_spool(w) ? "spooled" : "NOT spooled");
    doc = vt_voice_gather(r->pool, VT_VOICE_RETRY_TEXT, NULL, action_url(r, st->turn, st),
                          &len);
    return vtm_send_twiml(r, doc, len);
}

/* POST speech — the Gather result: one assistant turn (vt_conv_turn), written with a check
 * that the tenant it was made with is still current; else made again with the new one. */
int vtm_route_speech(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    vt_conv_state_t st = read_state(r);
    model_baton_t mb = { w, NULL, NULL };
    vt_conv_ctx_t ctx = { 0 };
    vt_conv_input_t in = { 0 };
    vt_conv_result_t res;
    const char *doc;
    apr_size_t len;
    int status, heard, attempt, written;

    if (!voice_preamble(w, &t, &status)) {
        return speech_without_tenant(w, &st, status);
    }
    in.said = vt_params_get(w->params, "SpeechResult");
    in.confidence = vt_params_get(w->params, "Confidence");
    heard = in.said && strspn(in.said, " \t\r\n") != strlen(in.said);
    for (attempt = 0;; attempt++) {
        mb.t = ctx.tenant = t;
        mb.a = ctx.assistant = assistant_of(r, t);
        ctx.model = ask_model;
        ctx.model_baton = &mb;
        ctx.from = vt_params_get(w->params, "From");
        ctx.call_sid = w->call_sid;
        vt_conv_turn(r->pool, &ctx, &st, &in, &res);
        written = record_turn(w, t, st.turn, heard ? in.said : "",
                              heard ? in.confidence : NULL, res.reply);
        if (written == -1) {
            /* A turn the database does not hold is not answered (the tenant came from the
             * cache): asked again, as when the tenant could not be read. */
            return speech_without_tenant(w, &st, -1);
        }
        if (written == 1) {
            break;
        }
        if (attempt == 2) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          VTLOGNO(10508) "CallSid %s: turn %d not recorded: tenant %s changed "
                          "three times during it", w->call_sid, st.turn, t->slug);
            break;
        }
        vtm_tenant_stale(w);
        if (!voice_preamble(w, &t, &status)) {
            return speech_without_tenant(w, &st, status);
        }
    }
    if (res.sms_to) {
        queue_sms(w, t, res.sms_to, res.sms_body, res.sms_dedup_key, "SMS job");
    }
    doc = twiml_of(r, &res, &len);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, VTLOGNO(10504) "CallSid %s: turn %d intent %s",
                  w->call_sid, st.turn, res.intent ? res.intent : "(none)");
    return vtm_send_twiml(r, doc, len);
}

/* Puts the caller through to the tenant's human now: <Dial> (the caller ID is the tenant's
 * number the caller dialled, so the human sees who it is for), the escalation recorded, the
 * notification phone alerted by SMS. Without a human: an apology and the end of the call.
 * announced: the caller was just told ("Let me connect you ..."), nothing more is said;
 * else lead (may be NULL) and "please hold". */
static const char *transfer_now(vtm_webhook_t *w, const vt_tenant_t *t,
                                const vt_voice_opts_t *voice, int announced,
                                const char *lead, apr_size_t *len)
{
    request_rec *r = w->r;
    const char *to = vt_params_get(w->params, "To"), **args;

    if (!vt_conv_can_transfer(t)) {
        return vt_voice_say_hangup(r->pool, VT_VOICE_DIAL_FAILED_TEXT, voice, len);
    }
    args = apr_pcalloc(r->pool, sizeof(*args) * 2);
    args[0] = "dialing";
    args[1] = w->call_sid;
    if (vtm_db_event(r, &vt_event_escalation_stmt, args) != VTM_DB_OK) {
        log_db_down(w, "escalation");
    }
    if (t->notification_phone && vt_e164_valid(t->notification_phone)) {
        queue_sms(w, t, t->notification_phone,
                  vt_conv_transfer_alert(r->pool, vt_params_get(w->params, "From"), w->call_sid,
                                         t->escalation_phone),
                  vt_conv_transfer_alert_key(r->pool, w->call_sid), "escalation SMS alert");
    }
    return vt_voice_dial(r->pool,
                         announced ? NULL
                         : lead    ? apr_pstrcat(r->pool, lead, " ", VT_VOICE_CONNECTING_TEXT, NULL)
                                   : VT_VOICE_CONNECTING_TEXT,
                         voice, (to && vt_e164_valid(to)) ? to : NULL, t->escalation_phone,
                         "escalate", VT_CONV_DIAL_TIMEOUT_S, len);
}

/* POST escalate — our <Redirect> (transfer now) or the <Dial action> result. */
int vtm_route_escalate(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    const char *dial_status = vt_params_get(w->params, "DialCallStatus");
    const char *doc, **args;
    vt_voice_opts_t voice;
    apr_size_t len;
    int status;

    if (!voice_preamble(w, &t, &status)) {
        return status == -1 ? vtm_send_apology(r) : status;
    }
    voice = vt_conv_voice(assistant_of(r, t), read_state(r).lang);
    if (dial_status) {
        /* The human's leg ended: answered calls simply end, others get a callback promise. */
        int answered = vt_conv_dial_answered(dial_status);
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
    /* Our own <Redirect>, after the turn's hand-over text. */
    doc = transfer_now(w, t, &voice, 1, NULL, &len);
    return vtm_send_twiml(r, doc, len);
}

/* POST stream-end — Twilio continues here when a stream-mode call's stream closed. The helper
 * wrote how it ended before closing (calls.stream_outcome): after a transfer the human is
 * dialled, after a goodbye the call ends; when the backend failed (the caller already heard
 * an apology) the human takes over, else the conversation goes on in gather mode. A stream
 * that ended without saying (its helper died, or it never started) gets an apology first.
 * The caller never hears silence. */
int vtm_route_stream_end(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    const char *outcome = NULL, *lead, *doc;
    vt_conv_state_t st = { 1, 0, 0, 0 };
    vt_voice_opts_t voice;
    apr_size_t len;
    int status, last_seq = 1;

    if (!voice_preamble(w, &t, &status)) {
        if (status != -1) {
            return status;
        }
        /* No database: keep the caller talking; a later turn may reach it again. */
        st.turn = VTM_STREAM_END_UNKNOWN_TURN;
        doc = vt_voice_gather(r->pool, VT_VOICE_STREAM_LOST_TEXT " " VT_VOICE_CONTINUE_TEXT,
                              NULL, action_url(r, st.turn, &st), &len);
        return vtm_send_twiml(r, doc, len);
    }
    if (vtm_db_call_stream(r, w->call_sid, &outcome, &last_seq) == VTM_DB_UNAVAILABLE) {
        log_db_down(w, "stream outcome");
        last_seq = 2 * VTM_STREAM_END_UNKNOWN_TURN;
    }
    voice = vt_conv_voice(assistant_of(r, t), 0);
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  VTLOGNO(10506) "CallSid %s: stream ended (%s)", w->call_sid,
                  outcome ? outcome : "without an outcome");
    if (outcome && strcmp(outcome, "hangup") == 0) {
        doc = vt_voice_hangup(r->pool, &len);
    }
    else {
        lead = outcome ? NULL : VT_VOICE_STREAM_LOST_TEXT;
        if ((outcome && strcmp(outcome, "transfer") == 0) || vt_conv_can_transfer(t)) {
            /* After "transfer" the helper's reply said it; after a failure only sorry. */
            doc = transfer_now(w, t, &voice, outcome && strcmp(outcome, "transfer") == 0, lead,
                               &len);
        }
        else {
            /* The next gather turn after the stream's own turns (seq 2*turn, 2*turn+1). */
            st.turn = last_seq / 2 + 1;
            doc = vt_voice_gather(r->pool,
                                  lead ? apr_pstrcat(r->pool, lead, " ", VT_VOICE_CONTINUE_TEXT,
                                                     NULL)
                                       : VT_VOICE_CONTINUE_TEXT,
                                  &voice, action_url(r, st.turn, &st), &len);
        }
    }
    return vtm_send_twiml(r, doc, len);
}
