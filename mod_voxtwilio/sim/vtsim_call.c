/* vtsim_call — plays one call the way Twilio runs it: status callbacks around it, the
 * inbound webhook, then each TwiML document verb by verb, following Gather actions,
 * Redirects, Dial actions and (with --stream) <Connect><Stream> Media Streams and their
 * actions until <Hangup/>, a <Reject>, the caller hanging up or the end of a document.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <apr_strings.h>
#include "vt_form.h"
#include "vt_twiml_doc.h"
#include "vtsim.h"

typedef enum {
    STEP_NEXT,  /* fetch the next document (next_*) */
    STEP_ENDED, /* the call is over */
    STEP_ERROR  /* printed */
} vtsim_step_t;

/* The next webhook a document asked for. */
typedef struct vtsim_next {
    const char *method;
    const char *url;
    apr_array_header_t *params;
} vtsim_next_t;

/* The parameters of every voice webhook of this call, CallStatus as given. */
static apr_array_header_t *voice_params(const vtsim_t *s, apr_pool_t *p, const char *status)
{
    apr_array_header_t *a = apr_array_make(p, 16, sizeof(vt_param_t));

    vt_params_add(a, "AccountSid", s->account_sid);
    vt_params_add(a, "ApiVersion", "2010-04-01");
    vt_params_add(a, "CallSid", s->call_sid);
    vt_params_add(a, "CallStatus", status);
    vt_params_add(a, "Called", s->to);
    vt_params_add(a, "Caller", s->from);
    vt_params_add(a, "Direction", "inbound");
    vt_params_add(a, "From", s->from);
    vt_params_add(a, "To", s->to);
    return a;
}

static int is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* Seconds of the call so far: wall clock since the answer plus the simulated Dial legs. */
static int call_duration(const vtsim_t *s)
{
    if (!s->answered) {
        return 0;
    }
    return (int)((apr_time_now() - s->answered_at + APR_USEC_PER_SEC / 2) / APR_USEC_PER_SEC)
           + s->extra_seconds;
}

/* One call progress event to the status callback URL (RFC 2822 Timestamp, SequenceNumber
 * from 0). Its body is ignored, as Twilio does. */
static int status_callback(vtsim_t *s, const char *status, int final)
{
    apr_pool_t *p;
    apr_array_header_t *a;
    vtsim_resp_t resp;
    char ts[64];
    time_t now = time(NULL);
    struct tm tm;
    int rc = 0;

    if (!s->status_url) {
        return 0;
    }
    apr_pool_create(&p, s->pool);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    a = voice_params(s, p, status);
    vt_params_add(a, "CallbackSource", "call-progress-events");
    vt_params_add(a, "SequenceNumber", apr_itoa(p, s->seq++));
    vt_params_add(a, "Timestamp", ts);
    if (final) {
        vt_params_add(a, "CallDuration", apr_itoa(p, call_duration(s)));
    }
    printf("[status %s]\n", status);
    if (vtsim_request(s, p, "POST", s->status_url, a, &resp) != 0) {
        rc = -1;
    }
    else if (!is_2xx(resp.status)) {
        rc = vtsim_error("status callback '%s' to %s answered HTTP %ld (Twilio error 11200: "
                         "HTTP retrieval failure)",
                         status, s->status_url, resp.status);
    }
    apr_pool_destroy(p);
    return rc;
}

/* Requests a TwiML document and checks it as Twilio would. */
static int fetch(vtsim_t *s, const vtsim_next_t *n, apr_array_header_t **verbs)
{
    vtsim_resp_t resp;
    const char *err;

    if (++s->requests > s->max_requests) {
        return vtsim_error("more than %d webhook requests in one call (a <Redirect> loop?); "
                           "see --max-requests",
                           s->max_requests);
    }
    if (vtsim_request(s, s->pool, n->method, n->url, n->params, &resp) != 0) {
        return -1;
    }
    if (!is_2xx(resp.status)) {
        return vtsim_error("%s %s answered HTTP %ld (Twilio error 11200: HTTP retrieval "
                           "failure; the caller hears an application error)",
                           n->method, n->url, resp.status);
    }
    if (vt_twiml_doc_parse(s->pool, VT_TWIML_VOICE, resp.content_type, resp.chunked, resp.body,
                           resp.too_large ? VT_TWIML_DOC_MAX + 1 : resp.len, verbs, &err)
        != VT_TWIML_DOC_OK) {
        return vtsim_error("invalid TwiML from %s: %s", n->url, err);
    }
    return 0;
}

/* ---------------------------------------------------------------- verbs */

static int attr_true(const vt_twiml_verb_t *v, const char *name)
{
    const char *a = vt_twiml_verb_attr(v, name);

    return a && strcasecmp(a, "true") == 0;
}

static const char *method_of(const vt_twiml_verb_t *v)
{
    const char *m = vt_twiml_verb_attr(v, "method");

    return m && strcasecmp(m, "GET") == 0 ? "GET" : "POST";
}

/* The target of an action-like attribute, or the current document when absent (Twilio's
 * default for Gather and Record). */
static void set_next(vtsim_t *s, vtsim_next_t *next, const vt_twiml_verb_t *v,
                     const char *doc_url, const char *ref)
{
    next->method = method_of(v);
    next->url = vt_twiml_doc_resolve(s->pool, doc_url, ref ? ref : "");
    next->params = voice_params(s, s->pool, s->call_status);
}

static void say(const vt_twiml_verb_t *v)
{
    const char *loop = vt_twiml_verb_attr(v, "loop");

    if (loop && strcmp(loop, "1") != 0) {
        printf("assistant: %s [loop=%s]\n", v->text, loop);
    }
    else {
        printf("assistant: %s\n", v->text);
    }
}

/* Say, Play, Pause: what the caller hears. 1 if v was one of them. */
static int play_audio(const vt_twiml_verb_t *v)
{
    if (strcmp(v->name, "Say") == 0) {
        say(v);
    }
    else if (strcmp(v->name, "Play") == 0) {
        printf("[play %s]\n", v->text);
    }
    else if (strcmp(v->name, "Pause") == 0) {
        const char *len = vt_twiml_verb_attr(v, "length");
        printf("[pause %s s]\n", len ? len : "1");
    }
    else {
        return 0;
    }
    return 1;
}

/* No input at a <Gather>: Twilio requests the action only with actionOnEmptyResult, else
 * it goes on with the verb after </Gather> (next->url NULL). */
static vtsim_step_t no_input(vtsim_t *s, const vt_twiml_verb_t *v, const char *doc_url,
                             vtsim_next_t *next, int speech)
{
    if (!attr_true(v, "actionOnEmptyResult")) {
        next->url = NULL;
        return STEP_NEXT;
    }
    set_next(s, next, v, doc_url, vt_twiml_verb_attr(v, "action"));
    vt_params_add(next->params, speech ? "SpeechResult" : "Digits", "");
    return STEP_NEXT;
}

/* The caller said text at a <Gather>: a speech result, or digits for a keypad one. */
static vtsim_step_t said(vtsim_t *s, const vt_twiml_verb_t *v, const char *doc_url,
                         vtsim_next_t *next, const char *text)
{
    const char *input = vt_twiml_verb_attr(v, "input");

    s->turns++;
    if (!s->interactive) {
        printf("caller: %s\n", text);
    }
    set_next(s, next, v, doc_url, vt_twiml_verb_attr(v, "action"));
    if (input && strstr(input, "speech")) {
        vt_params_add(next->params, "SpeechResult", text);
        vt_params_add(next->params, "Confidence", s->confidence);
    }
    else if (vtsim_keys_valid(text)) {
        vt_params_add(next->params, "Digits", text);
    }
    else {
        vtsim_error("the <Gather> takes keypad input only (input=\"%s\"): '%s' is not digits",
                    input ? input : "dtmf", text);
        return STEP_ERROR;
    }
    return STEP_NEXT;
}

/* The caller's line at a <Gather>; "wait" lines mean nothing here and are skipped. */
static vtsim_line_kind_t gather_line(vtsim_t *s, vtsim_line_t *line)
{
    while (vtsim_next_line(s, s->pool, line) == VTSIM_LINE_WAIT) {
    }
    return line->kind;
}

/* A <Gather>: prompts, then the caller's answer posted to the action. STEP_ENDED when the
 * caller hung up; STEP_NEXT with next->url NULL: no input, go on with the verb after
 * </Gather>. */
static vtsim_step_t gather(vtsim_t *s, const vt_twiml_verb_t *v, const char *doc_url,
                           vtsim_next_t *next)
{
    const char *input = vt_twiml_verb_attr(v, "input");
    int speech = input && strstr(input, "speech") != NULL;
    int keys = !input || strstr(input, "dtmf") != NULL;
    vtsim_line_t line;
    int i;

    for (i = 0; i < v->children->nelts; i++) {
        play_audio(APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *));
    }
    switch (gather_line(s, &line)) {
    case VTSIM_LINE_BAD:
        return STEP_ERROR;
    case VTSIM_LINE_END:
    case VTSIM_LINE_HANGUP:
        printf("[caller hangs up]\n");
        return STEP_ENDED;
    case VTSIM_LINE_SILENCE:
        s->turns++;
        printf("caller: <silence>\n");
        return no_input(s, v, doc_url, next, speech);
    case VTSIM_LINE_DTMF:
        s->turns++;
        printf("caller: [dtmf %s]\n", line.text);
        if (!keys) {
            return no_input(s, v, doc_url, next, speech); /* it listens for speech only */
        }
        set_next(s, next, v, doc_url, vt_twiml_verb_attr(v, "action"));
        vt_params_add(next->params, "Digits", line.text);
        return STEP_NEXT;
    default:
        return said(s, v, doc_url, next, line.text);
    }
}

static const char *dial_status_name(vtsim_dial_t d)
{
    switch (d) {
    case VTSIM_DIAL_ANSWERED:
        return "completed";
    case VTSIM_DIAL_NO_ANSWER:
        return "no-answer";
    case VTSIM_DIAL_BUSY:
        return "busy";
    case VTSIM_DIAL_FAILED:
        return "failed";
    }
    return "failed";
}

/* A <Dial>: the dialed leg rings and is answered or not (--dial); the result goes to the
 * action, or without one the call goes on after </Dial>. */
static vtsim_step_t dial(vtsim_t *s, const vt_twiml_verb_t *v, const char *doc_url,
                         vtsim_next_t *next)
{
    const char *action = vt_twiml_verb_attr(v, "action");
    const char *caller_id = vt_twiml_verb_attr(v, "callerId");
    const char *timeout = vt_twiml_verb_attr(v, "timeout");
    const char *targets = v->text, *sid;
    int i;

    for (i = 0; i < v->children->nelts; i++) {
        const vt_twiml_verb_t *ch = APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *);
        const char *t = strcmp(ch->name, "Number") == 0
                            ? ch->text
                            : apr_psprintf(s->pool, "%s:%s", ch->name, ch->text);
        targets = targets[0] ? apr_pstrcat(s->pool, targets, " ", t, NULL) : t;
    }
    printf("[dial %s (callerId %s, timeout %s s)]\n", targets[0] ? targets : "(nobody)",
           caller_id ? caller_id : "the caller's", timeout ? timeout : "30");
    if (s->dial == VTSIM_DIAL_ANSWERED) {
        printf("[dial answered: talked %d s, hung up]\n", s->dial_duration);
        s->extra_seconds += s->dial_duration;
    }
    else {
        printf("[dial %s]\n", dial_status_name(s->dial));
    }
    if (!action) {
        next->url = NULL;
        return STEP_NEXT;
    }
    if (!(sid = vtsim_random_sid(s->pool, "CA"))) {
        vtsim_error("no randomness for DialCallSid");
        return STEP_ERROR;
    }
    set_next(s, next, v, doc_url, action);
    vt_params_add(next->params, "DialBridged",
                  s->dial == VTSIM_DIAL_ANSWERED ? "true" : "false");
    vt_params_add(next->params, "DialCallSid", sid);
    vt_params_add(next->params, "DialCallStatus", dial_status_name(s->dial));
    if (s->dial == VTSIM_DIAL_ANSWERED) {
        vt_params_add(next->params, "DialCallDuration", apr_itoa(s->pool, s->dial_duration));
    }
    return STEP_NEXT;
}

/* Verbs the simulator only reports: Twilio runs them without the caller's part here. */
static vtsim_step_t not_simulated(vtsim_t *s, const vt_twiml_verb_t *v, const char *doc_url,
                                  vtsim_next_t *next)
{
    const char *url = vt_twiml_verb_attr(v, "url");
    const char *what = v->text[0] ? v->text : url ? url : "";
    const char *action = vt_twiml_verb_attr(v, "action");
    int i;

    for (i = 0; !what[0] && i < v->children->nelts; i++) {
        const vt_twiml_verb_t *ch = APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *);
        const char *curl = vt_twiml_verb_attr(ch, "url");
        what = apr_pstrcat(s->pool, ch->name, curl ? " " : "", curl ? curl : "", NULL);
    }
    printf("[%s%s%s: not simulated%s]\n", v->name, what[0] ? " " : "", what,
           strcmp(v->name, "Connect") == 0 && vt_twiml_verb_child(v, "Stream")
               ? " without --stream" : "");
    /* <Record> hears silence: Twilio then skips the action and goes on. */
    if (action && strcmp(v->name, "Record") != 0) {
        set_next(s, next, v, doc_url, action);
        return STEP_NEXT;
    }
    next->url = NULL;
    return STEP_NEXT;
}

/* <Connect>: with --stream, its <Stream> is played as Twilio plays it; once the gateway
 * closes it (or it fails) the call goes on at the action, or after </Connect>. */
static vtsim_step_t connect_verb(vtsim_t *s, const vt_twiml_verb_t *v, const char *doc_url,
                                 vtsim_next_t *next)
{
    const vt_twiml_verb_t *stream = vt_twiml_verb_child(v, "Stream");
    const char *action = vt_twiml_verb_attr(v, "action");

    if (!stream || !s->stream) {
        return not_simulated(s, v, doc_url, next);
    }
    switch (vtsim_stream(s, stream)) {
    case VTSIM_STREAM_HANGUP:
        return STEP_ENDED;
    case VTSIM_STREAM_ERROR:
        return STEP_ERROR;
    default:
        break;
    }
    if (!action) {
        next->url = NULL;
        return STEP_NEXT;
    }
    set_next(s, next, v, doc_url, action);
    return STEP_NEXT;
}

/* Plays one document. STEP_NEXT with next->url: fetch it; STEP_ENDED: over. *reject is set
 * to the final status when a <Reject> ended the call. */
static vtsim_step_t play(vtsim_t *s, const apr_array_header_t *verbs, const char *doc_url,
                         vtsim_next_t *next, const char **reject)
{
    int i;

    for (i = 0; i < verbs->nelts; i++) {
        const vt_twiml_verb_t *v = APR_ARRAY_IDX(verbs, i, vt_twiml_verb_t *);
        vtsim_step_t st;

        if (play_audio(v)) {
            continue;
        }
        if (strcmp(v->name, "Gather") == 0) {
            st = gather(s, v, doc_url, next);
        }
        else if (strcmp(v->name, "Dial") == 0) {
            st = dial(s, v, doc_url, next);
        }
        else if (strcmp(v->name, "Connect") == 0) {
            st = connect_verb(s, v, doc_url, next);
        }
        else if (strcmp(v->name, "Redirect") == 0) {
            set_next(s, next, v, doc_url, v->text);
            printf("[redirect %s]\n", next->url);
            return STEP_NEXT;
        }
        else if (strcmp(v->name, "Hangup") == 0) {
            printf("[the gateway hangs up]\n");
            return STEP_ENDED;
        }
        else if (strcmp(v->name, "Reject") == 0) {
            const char *reason = vt_twiml_verb_attr(v, "reason");
            int busy = reason && strcmp(reason, "busy") == 0;
            printf("[call rejected: %s]\n", busy ? "busy" : "rejected");
            /* Only a first <Reject> leaves the call unanswered. */
            *reject = busy ? "busy" : "no-answer";
            return STEP_ENDED;
        }
        else if (strcmp(v->name, "Sms") == 0) {
            const char *to = vt_twiml_verb_attr(v, "to");
            printf("[sms to %s: %s]\n", to ? to : s->from, v->text);
            continue;
        }
        else if (strcmp(v->name, "Leave") == 0) {
            continue; /* leaves a queue; this call is in none */
        }
        else if (strcmp(v->name, "Start") == 0 || strcmp(v->name, "Stop") == 0) {
            printf("[%s", v->name);
            for (int j = 0; j < v->children->nelts; j++) {
                const vt_twiml_verb_t *ch = APR_ARRAY_IDX(v->children, j, vt_twiml_verb_t *);
                const char *url = vt_twiml_verb_attr(ch, "url");
                printf(" %s%s%s", ch->name, url ? " " : "", url ? url : "");
            }
            printf("]\n");
            continue;
        }
        else {
            st = not_simulated(s, v, doc_url, next);
        }
        if (st != STEP_NEXT || next->url) {
            return st;
        }
    }
    printf("[end of TwiML: Twilio hangs up]\n");
    return STEP_ENDED;
}

/* The first verb of the inbound answer decides whether the call is answered at all. */
static int starts_with_reject(const apr_array_header_t *verbs)
{
    return verbs->nelts > 0
           && strcmp(APR_ARRAY_IDX(verbs, 0, vt_twiml_verb_t *)->name, "Reject") == 0;
}

int vtsim_call(vtsim_t *s)
{
    apr_array_header_t *verbs;
    vtsim_next_t next;
    const char *doc_url, *reject = NULL, *final;
    vtsim_step_t st;

    printf("[call %s from %s to %s]\n", s->call_sid, s->from, s->to);
    s->call_status = "ringing";
    if (status_callback(s, "ringing", 0) != 0) {
        return 1;
    }
    next.method = "POST";
    next.url = s->url;
    next.params = voice_params(s, s->pool, s->call_status);
    if (fetch(s, &next, &verbs) != 0) {
        goto failed;
    }
    if (!starts_with_reject(verbs)) {
        s->answered = 1;
        s->answered_at = apr_time_now();
        s->call_status = "in-progress";
        if (status_callback(s, "in-progress", 0) != 0) {
            return 1;
        }
    }
    for (;;) {
        doc_url = next.url;
        st = play(s, verbs, doc_url, &next, &reject);
        if (st == STEP_ERROR) {
            goto failed;
        }
        if (st == STEP_ENDED) {
            break;
        }
        if (fetch(s, &next, &verbs) != 0) {
            goto failed;
        }
    }
    final = reject && !s->answered ? reject : "completed";
    printf("[call ended: %s, %d turn%s, %d s]\n", final, s->turns, s->turns == 1 ? "" : "s",
           call_duration(s));
    /* Twilio errors logged while the call went on (a stream's): the call is not clean. */
    return status_callback(s, final, 1) == 0 && !s->warnings ? 0 : 1;

failed:
    /* Twilio plays its application error and hangs up; the call still completes. */
    printf("[call ended: application error after %d turn%s]\n", s->turns,
           s->turns == 1 ? "" : "s");
    if (!s->answered) {
        s->answered = 1;
        s->answered_at = apr_time_now();
    }
    status_callback(s, "completed", 1);
    return 1;
}
