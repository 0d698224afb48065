/* vth_stream — one call's Media Stream on the media thread; see vth_media.h.
 *
 * States: VERIFYING (the upgrade's signature is checked by the database worker; Twilio's
 * messages wait in the socket meanwhile) -> CONNECTED (waiting for start) -> CLAIMING (the
 * call is claimed: it must exist, belong to the tenant of the URL, not have ended and have
 * no stream yet) -> LIVE (the backend talks) -> CLOSING (the outcome is written, then the
 * socket closes with 1000 and Twilio goes on with the <Connect action>).
 *
 * Playback: audio goes to Twilio in media messages of at most VTH_CHUNK_MS, each followed
 * by a mark named "GEN:ITEM:MS" (the item's milliseconds sent so far), and an item's last
 * by "GEN:ITEM:end". Twilio echoes a mark when its audio has played, so items[] always
 * knows what the caller heard. A clear (barge-in) bumps GEN: the marks Twilio then echoes
 * for the cleared audio name an old generation and are ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "vth_media.h"
#include "vt_crypto.h"
#include "vt_keyring.h"
#include "vt_log.h"
#include "vt_signature.h"
#include "vt_util.h"

#define RX_MAX VT_SM_MESSAGE_MAX
#define HDR_MAX 2048

/* WebSocket close codes. */
#define CLOSE_NORMAL 1000
#define CLOSE_UNSUPPORTED 1003
#define CLOSE_INVALID 1007
#define CLOSE_POLICY 1008
#define CLOSE_ERROR 1011

typedef struct pss {
    vth_stream_t *s;
} pss_t;

/* ------------------------------------------------------------------ logging */

void vth_stream_log(vth_stream_t *s, vt_log_level_t level, const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vt_log(level, "stream CallSid %s (tenant %s): %s", s->call_sid ? s->call_sid : "-",
           s->slug ? s->slug : "-", msg);
}

static void close_now(vth_stream_t *s, int code, const char *why);

/* ------------------------------------------------------------------ the outbound queue */

static void out_push(vth_stream_t *s, const char *json, size_t len)
{
    /* The answer to a frame, while its RECEIVE runs and nothing waits before it: written
     * at once (one write per callback is what lws allows), sparing the loop a round of
     * "tell me when writable" per frame. lws keeps what the socket does not take. */
    if (s->rx_write_ok && s->out.count == 0 && len <= VT_SM_MEDIA_JSON_MAX(VTH_CHUNK_BYTES)) {
        unsigned char buf[LWS_PRE + VT_SM_MEDIA_JSON_MAX(VTH_CHUNK_BYTES)];
        s->rx_write_ok = 0;
        memcpy(buf + LWS_PRE, json, len);
        if (lws_write(s->wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len) {
            close_now(s, CLOSE_ERROR, "cannot write to Twilio's connection");
        }
        return;
    }
    if (vth_outq_push(&s->out, json, len) == 0) {
        lws_callback_on_writable(s->wsi);
    }
}

/* SERVER_WRITEABLE: one frame per callback (lws refuses back-to-back writes); the close
 * once the outcome is written and everything queued has gone. */
static int out_write(vth_stream_t *s)
{
    if (s->close_started) {
        return 0;
    }
    if (s->out.count > 0) {
        if (vth_outq_write(&s->out, s->wsi) < 0) {
            return -1;
        }
        /* More frames, or the close: each in a callback of its own. */
        lws_callback_on_writable(s->wsi);
        return 0;
    }
    /* Once: lws then sends the close frame and waits for Twilio's. A second -1 (a
     * writable callback while it waits) would drop the socket with the reply unread, and
     * the peer could lose our close frame to the reset. */
    if (s->state == VTH_S_CLOSING && s->outcome_written) {
        s->close_started = 1;
        lws_rx_flow_control(s->wsi, 1); /* the reply must be read (a refusal paused rx) */
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, NULL, 0);
        return -1;
    }
    return 0;
}

/* The apology is item -1: played, then the stream ends "failed". */
#define APOLOGY_ITEM (-1)

/* ------------------------------------------------------------------ playback */

vth_item_t *vth_stream_item(vth_stream_t *s, int item)
{
    int i;

    for (i = 0; i < VTH_ITEMS; i++) {
        if (s->items[i].id == item) {
            return &s->items[i];
        }
    }
    return NULL;
}

static vth_item_t *item_new(vth_stream_t *s, int item)
{
    vth_item_t *it = vth_stream_item(s, item);
    int i, oldest = 0;

    if (it) {
        return it;
    }
    /* The slot of the lowest id: items are numbered in order, so it is the oldest. */
    for (i = 1; i < VTH_ITEMS; i++) {
        if (s->items[i].id < s->items[oldest].id) {
            oldest = i;
        }
    }
    it = &s->items[oldest];
    memset(it, 0, sizeof *it);
    it->id = item;
    return it;
}

static void mark_push(vth_stream_t *s, int item, const char *what)
{
    char name[64], json[256];
    size_t n;

    snprintf(name, sizeof name, "%u:%d:%s", s->gen, item, what);
    n = vt_sm_mark_json(json, sizeof json, s->stream_sid, name);
    if (n) {
        out_push(s, json, n);
        s->pending_marks++;
    }
}

void vth_stream_play(vth_stream_t *s, int item, const uint8_t *ulaw, size_t n, int last)
{
    char json[VT_SM_MEDIA_JSON_MAX(VTH_CHUNK_BYTES)];
    vth_item_t *it = item_new(s, item);
    char ms[24];

    while (n > 0) {
        size_t chunk = n < VTH_CHUNK_BYTES ? n : VTH_CHUNK_BYTES;
        size_t len = vt_sm_media_json(json, sizeof json, s->stream_sid, ulaw, chunk);
        if (len) {
            out_push(s, json, len);
        }
        it->sent_ms += (long)chunk / 8;
        snprintf(ms, sizeof ms, "%ld", it->sent_ms);
        mark_push(s, item, ms);
        ulaw += chunk;
        n -= chunk;
    }
    if (last && !it->done) {
        it->done = 1;
        mark_push(s, item, "end");
    }
}

void vth_stream_send_media(vth_stream_t *s, const uint8_t *ulaw, size_t n)
{
    char json[VT_SM_MEDIA_JSON_MAX(VTH_CHUNK_BYTES)];
    size_t len = n <= VTH_CHUNK_BYTES ? vt_sm_media_json(json, sizeof json, s->stream_sid,
                                                         ulaw, n) : 0;

    if (len) {
        out_push(s, json, len);
    }
}

void vth_stream_clear(vth_stream_t *s)
{
    char json[128];
    size_t n = vt_sm_clear_json(json, sizeof json, s->stream_sid);

    /* Unsent audio never reaches Twilio: only what it holds needs clearing. */
    vth_outq_clear(&s->out);
    s->gen++;
    s->pending_marks = 0;
    if (n) {
        out_push(s, json, n);
    }
}

void vth_stream_barge_in(vth_stream_t *s)
{
    vth_stream_clear(s);
    s->barge_ins++;
    s->media->stats->barge_ins++;
}

int vth_stream_playing(const vth_stream_t *s)
{
    return s->pending_marks > 0;
}

/* A mark came back: its audio has played. */
static void on_mark(vth_stream_t *s, const char *name)
{
    unsigned gen;
    int item, off = 0;
    vth_item_t *it;

    if (!name || sscanf(name, "%u:%d:%n", &gen, &item, &off) != 2 || !off || gen != s->gen) {
        return; /* cleared audio, or not ours */
    }
    if (s->pending_marks > 0) {
        s->pending_marks--;
    }
    it = vth_stream_item(s, item);
    if (!it) {
        return;
    }
    if (strcmp(name + off, "end") == 0) {
        it->played_ms = it->sent_ms;
        if (item == APOLOGY_ITEM) {
            vth_stream_finish(s, "failed");
        }
        else if (s->ops && s->ops->played && s->state == VTH_S_LIVE && !s->failed) {
            s->ops->played(s, item);
        }
    }
    else {
        long ms = atol(name + off);
        if (ms > it->played_ms) {
            it->played_ms = ms;
        }
    }
}

/* ------------------------------------------------------------------ database tasks */

/* The upgrade: tenant of the URL, its signature, its assistant and realtime key. */
typedef struct verify {
    const vt_keyring_t *ring;
    const char *slug, *url, *signature;
    vt_tenant_t tenant;
    const vt_assistant_t *assistant;
    vth_keys_t keys;
    const char *why;        /* refused: for the log */
} verify_t;

/* Decrypts one of the tenant's sealed keys into the task's pool (wiped with it); *out
 * stays NULL when the tenant has none. 0, or -1 with v->why. */
static int open_key(vth_task_t *t, verify_t *v, const char *blob, const char *key_id,
                    const char *what, const char **out)
{
    const char *err = NULL;

    if (!blob) {
        return 0;
    }
    if (vt_secret_decrypt(t->pool, v->ring, v->tenant.company_id, key_id, blob, out, &err)
        != APR_SUCCESS) {
        v->why = apr_psprintf(t->pool, "cannot decrypt its %s: %s", what, err);
        return -1;
    }
    vt_wipe_on_cleanup(t->pool, (void *)*out, strlen(*out));
    return 0;
}

static void verify_run(vth_task_t *t, vth_db_t *db)
{
    verify_t *v = t->data;
    const char *args[1] = { v->slug }, *token = NULL, *err = NULL;
    const char *cols[VT_TENANT_NCOLS];
    PGresult *res = vth_db_exec(db, t->pool, &vt_tenant_by_slug_stmt, args, &v->why);
    int i;

    t->rc = -1;
    if (!res) {
        t->rc = -2; /* the database, not the caller */
        return;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        v->why = "no such tenant";
        return;
    }
    for (i = 0; i < VT_TENANT_NCOLS; i++) {
        cols[i] = PQgetisnull(res, 0, i) ? NULL : apr_pstrdup(t->pool, PQgetvalue(res, 0, i));
    }
    PQclear(res);
    vt_tenant_from_row(cols, &v->tenant);
    if (!v->tenant.enabled || !v->tenant.has_integration || !v->tenant.integration_enabled) {
        v->why = "tenant disabled or without an enabled Twilio integration";
        return;
    }
    if (vt_secret_decrypt(t->pool, v->ring, v->tenant.company_id, v->tenant.key_id,
                          v->tenant.token_blob_hex, &token, &err) != APR_SUCCESS) {
        v->why = apr_psprintf(t->pool, "cannot decrypt its auth token: %s", err);
        return;
    }
    if (vt_signature_verify(t->pool, token, v->url, NULL, NULL, 0, v->signature) != VT_SIG_OK) {
        v->why = "signature does not match";
        return;
    }
    if (open_key(t, v, v->tenant.realtime_key_blob_hex, v->tenant.realtime_key_id,
                 "realtime API key", &v->keys.realtime) < 0
        || open_key(t, v, v->tenant.stt_key_blob_hex, v->tenant.stt_key_id,
                    "speech-to-text API key", &v->keys.stt) < 0
        || open_key(t, v, v->tenant.tts_key_blob_hex, v->tenant.tts_key_id,
                    "text-to-speech API key", &v->keys.tts) < 0
        || open_key(t, v, v->tenant.llm_key_blob_hex, v->tenant.llm_key_id,
                    "model API key", &v->keys.llm) < 0) {
        return;
    }
    v->assistant = vt_assistant_build(t->pool, &v->tenant);
    t->rc = 0;
}

static void close_now(vth_stream_t *s, int code, const char *why)
{
    if (why) {
        vth_stream_log(s, VT_LOG_INFO, "closing (%d): %s", code, why);
    }
    s->state = VTH_S_CLOSING;
    s->outcome_written = 1;
    s->close_code = code;
    vth_outq_clear(&s->out);
    lws_callback_on_writable(s->wsi);
}

static void refuse(vth_stream_t *s, const char *why)
{
    s->media->stats->refused++;
    vth_stream_log(s, VT_LOG_WARN, "refused: %s", why);
    close_now(s, CLOSE_POLICY, NULL);
}

static void verify_done(vth_task_t *t)
{
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
    verify_t *v = t->data;

    if (!s) {
        return;
    }
    if (t->rc == -2) {
        vth_stream_log(s, VT_LOG_ERR, "cannot check the stream: %s", v->why);
        close_now(s, CLOSE_ERROR, NULL);
        return;
    }
    if (t->rc != 0) {
        refuse(s, v->why);
        return;
    }
    if (!(s->hold = malloc(sizeof *s->hold))) {
        close_now(s, CLOSE_ERROR, "out of memory");
        return;
    }
    s->hold->pool = s->tenant_pool = t->pool; /* the tenant, its assistant and keys */
    s->hold->refs = 1;
    t->pool = NULL;
    s->tenant = &v->tenant;
    s->assistant = v->assistant;
    s->keys = v->keys;
    s->state = VTH_S_CONNECTED;
    lws_rx_flow_control(s->wsi, 1);
}

/* Start: the call is claimed for this stream. */
typedef struct claim {
    const char *args[4];
    int last_seq;
    const char *first; /* the first turn's text, or NULL */
    const char *why;
} claim_t;

static void claim_run(vth_task_t *t, vth_db_t *db)
{
    claim_t *c = t->data;
    PGresult *res = vth_db_exec(db, t->pool, &vt_stream_claim_stmt, c->args, &c->why);

    t->rc = -2;
    if (!res) {
        return;
    }
    t->rc = PQntuples(res) == 1 ? 0 : -1;
    if (t->rc == 0) {
        c->last_seq = atoi(PQgetvalue(res, 0, 0));
        c->first = PQgetisnull(res, 0, 1) ? NULL : apr_pstrdup(t->pool, PQgetvalue(res, 0, 1));
    }
    PQclear(res);
}

/* The tenant's backend (what the call log records); the benchmark's loopback replaces it. */
static const vth_backend_ops_t *backend_of(const vth_stream_t *s)
{
    return vt_tenant_has_realtime(s->tenant) ? &vth_realtime_ops
           : vt_tenant_has_stt(s->tenant)  ? &vth_pipeline_ops
                                           : &vth_offline_ops;
}

static void claim_done(vth_task_t *t)
{
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
    claim_t *c = t->data;

    if (!s || s->state != VTH_S_CLAIMING) {
        return;
    }
    if (t->rc == -2) {
        vth_stream_log(s, VT_LOG_ERR, "cannot claim the call: %s", c->why);
        close_now(s, CLOSE_ERROR, NULL);
        return;
    }
    if (t->rc != 0) {
        refuse(s, "no such call of this tenant, the call has ended, or it has a stream "
                  "already");
        return;
    }
    s->next_seq = c->last_seq + 1;
    s->greeting = c->first && *c->first ? apr_pstrdup(s->pool, c->first) : s->tenant->greeting;
    s->state = VTH_S_LIVE;
    s->ops = s->media->conf.loopback ? &vth_loopback_ops : backend_of(s);
    vth_stream_log(s, VT_LOG_INFO, "live, %s backend, stream %s", s->ops->name, s->stream_sid);
    s->ops->start(s);
    lws_rx_flow_control(s->wsi, 1);
}

/* Writes without an answer the stream waits for (turns, SMS jobs): logged on failure. */
typedef struct write_task {
    const vt_event_stmt_t *stmt;
    const char **args;
    const char *why;
} write_task_t;

static void write_run(vth_task_t *t, vth_db_t *db)
{
    write_task_t *w = t->data;
    PGresult *res = vth_db_exec(db, t->pool, w->stmt, w->args, &w->why);

    t->rc = res ? 0 : -1;
    PQclear(res);
}

static void write_done(vth_task_t *t)
{
    write_task_t *w = t->data;
    vth_stream_t *s;

    if (t->rc == 0) {
        return;
    }
    s = vth_stream_find(t->media, t->stream_id);
    vt_log(VT_LOG_ERR, "stream CallSid %s: not stored: %s", s ? s->call_sid : "-", w->why);
}

static vth_task_t *write_task(vth_stream_t *s, const vt_event_stmt_t *stmt,
                              void (*done)(vth_task_t *))
{
    vth_task_t *t = vth_task_new(write_run, done, s->id, NULL);
    write_task_t *w = apr_pcalloc(t->pool, sizeof *w);

    w->stmt = stmt;
    w->args = apr_pcalloc(t->pool, sizeof(*w->args) * (size_t)stmt->nargs);
    t->data = w;
    return t;
}

static const char *ms_arg(apr_pool_t *p, long ms)
{
    return ms >= 0 ? apr_ltoa(p, ms) : NULL;
}

static void turn_write(vth_stream_t *s, const char *role, const char *text, int interrupted,
                       long heard_ms, const vth_turn_times_t *times, double confidence)
{
    vth_task_t *t = write_task(s, &vt_stream_turn_stmt, write_done);
    write_task_t *w = t->data;

    w->args[0] = apr_pstrdup(t->pool, s->call_sid);
    w->args[1] = apr_itoa(t->pool, s->next_seq++);
    w->args[2] = role;
    w->args[3] = apr_pstrdup(t->pool, text ? text : "");
    w->args[4] = interrupted ? "t" : "f";
    w->args[5] = ms_arg(t->pool, heard_ms);
    if (times) {
        w->args[6] = ms_arg(t->pool, times->transcript_ms);
        w->args[7] = ms_arg(t->pool, times->answer_ms);
        w->args[8] = ms_arg(t->pool, times->audio_ms);
        w->args[9] = ms_arg(t->pool, times->reply_ms);
        w->args[10] = ms_arg(t->pool, times->first_token_ms);
        vth_stage_stats_add(s->media->stats, times);
    }
    w->args[11] = confidence >= 0 ? apr_psprintf(t->pool, "%.3f", confidence) : NULL;
    vth_queue_push(s->media->dbq, t);
}

void vth_stream_turn(vth_stream_t *s, const char *role, const char *text, int interrupted,
                     long heard_ms)
{
    turn_write(s, role, text, interrupted, heard_ms, NULL, -1);
}

void vth_stream_turn_timed(vth_stream_t *s, const char *role, const char *text,
                           int interrupted, long heard_ms, const vth_turn_times_t *times)
{
    turn_write(s, role, text, interrupted, heard_ms, times, -1);
}

void vth_stream_caller_turn(vth_stream_t *s, const char *text, double confidence)
{
    turn_write(s, "caller", text, 0, -1, NULL, confidence);
}

void vth_stream_sms(vth_stream_t *s, const char *to, const char *body, const char *dedup)
{
    vth_task_t *t = write_task(s, &vt_event_sms_job_stmt, write_done);
    write_task_t *w = t->data;

    w->args = vt_event_sms_job_args(t->pool, apr_pstrdup(t->pool, s->tenant->company_id),
                                    apr_pstrdup(t->pool, s->call_sid),
                                    apr_pstrdup(t->pool, to), apr_pstrdup(t->pool, body),
                                    apr_pstrdup(t->pool, dedup));
    vth_queue_push(s->media->dbq, t);
}

/* ------------------------------------------------------------------ the end */

static void end_done(vth_task_t *t)
{
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);

    write_done(t);
    if (s) {
        s->outcome_written = 1;
        lws_callback_on_writable(s->wsi);
    }
}

void vth_stream_finish(vth_stream_t *s, const char *outcome)
{
    vth_task_t *t;
    write_task_t *w;

    if (s->state == VTH_S_CLOSING) {
        return;
    }
    s->state = VTH_S_CLOSING;
    s->outcome = outcome;
    s->close_code = CLOSE_NORMAL;
    s->close_deadline = vth_now_ms() + VTH_CLOSE_WAIT_MS;
    vth_stream_log(s, VT_LOG_INFO, "ending: %s", outcome ? outcome : "call over");
    /* After the turns already queued: the same worker, in order. */
    t = write_task(s, &vt_stream_end_stmt, end_done);
    w = t->data;
    w->args[0] = outcome;
    w->args[1] = apr_itoa(t->pool, s->barge_ins);
    w->args[2] = apr_pstrdup(t->pool, s->call_sid);
    vth_queue_push(s->media->dbq, t);
}

void vth_stream_backend_failed(vth_stream_t *s, const char *why)
{
    const vth_clip_t *clip = s->media->apology;

    if (s->state != VTH_S_LIVE || s->failed) {
        return;
    }
    s->failed = 1;
    s->media->stats->backend_failures++;
    vth_stream_log(s, VT_LOG_WARN, "%s backend failed: %s; the caller hears an apology",
                   s->ops ? s->ops->name : "the", why);
    if (vth_stream_playing(s)) {
        vth_stream_clear(s);
    }
    if (!clip) {
        vth_stream_finish(s, "failed");
        return;
    }
    vth_stream_play(s, APOLOGY_ITEM, clip->ulaw, clip->len, 1);
    /* If Twilio never echoes the end mark: once it has surely played. */
    s->fail_deadline = vth_now_ms() + (long long)clip->len / 8 + 1500;
}

/* ------------------------------------------------------------------ Twilio's messages */

static const char *param_of(const vt_stream_msg_t *m, const char *name)
{
    int i;

    for (i = 0; i < m->nparams; i++) {
        if (strcmp(m->params[i].name, name) == 0) {
            return m->params[i].value;
        }
    }
    return NULL;
}

/* One stream per call: a second socket for a call that has one here is refused at once
 * (the claim refuses it across helpers). */
static int call_has_stream(vth_stream_t *s)
{
    vth_stream_t *o;

    for (o = s->media->streams; o; o = o->next) {
        if (o != s && o->state >= VTH_S_CLAIMING && o->state != VTH_S_CLOSING
            && strcmp(o->call_sid, s->call_sid) == 0) {
            return 1;
        }
    }
    return 0;
}

static void on_start(vth_stream_t *s, const vt_stream_msg_t *m)
{
    vth_task_t *t;
    claim_t *c;

    if (strcmp(m->call_sid, s->call_sid) != 0) {
        refuse(s, "start names another call than the URL");
        return;
    }
    if (!s->tenant->account_sid || strcmp(m->account_sid, s->tenant->account_sid) != 0) {
        refuse(s, "start names another Twilio account than the tenant's");
        return;
    }
    if (call_has_stream(s)) {
        refuse(s, "a second stream for a call that has one");
        return;
    }
    s->stream_sid = apr_pstrdup(s->pool, m->stream_sid);
    s->from = apr_pstrdup(s->pool, param_of(m, "From"));
    s->to = apr_pstrdup(s->pool, param_of(m, "To"));
    s->state = VTH_S_CLAIMING;
    /* What follows start (a key pressed at once) waits in the socket until the call is
     * claimed and the backend started: nothing is lost. */
    lws_rx_flow_control(s->wsi, 0);
    t = vth_task_new(claim_run, claim_done, s->id, NULL);
    c = apr_pcalloc(t->pool, sizeof *c);
    c->args[0] = apr_pstrdup(t->pool, s->stream_sid);
    c->args[1] = backend_of(s)->name;
    c->args[2] = apr_pstrdup(t->pool, s->call_sid);
    c->args[3] = apr_pstrdup(t->pool, s->tenant->company_id);
    t->data = c;
    vth_queue_push(s->media->dbq, t);
}

static void on_message(vth_stream_t *s, const char *buf, size_t len)
{
    vt_stream_msg_t m;
    const char *err;

    if (vt_sm_parse(s->parser, buf, len, &m, &err) != 0) {
        close_now(s, CLOSE_INVALID, apr_psprintf(s->pool, "malformed message: %s", err));
        return;
    }
    if (m.stream_sid && s->stream_sid && strcmp(m.stream_sid, s->stream_sid) != 0) {
        close_now(s, CLOSE_INVALID, "a message of another stream");
        return;
    }
    switch (m.event) {
    case VT_SM_START:
        if (s->state == VTH_S_CONNECTED) {
            on_start(s, &m);
        }
        else {
            close_now(s, CLOSE_INVALID, "start out of place");
        }
        break;
    case VT_SM_MEDIA:
        if (s->state == VTH_S_LIVE && !s->failed && s->ops->media) {
            s->ops->media(s, &m);
        }
        break;
    case VT_SM_MARK:
        on_mark(s, m.mark_name);
        break;
    case VT_SM_DTMF:
        if (s->state == VTH_S_LIVE && !s->failed && s->ops->dtmf) {
            s->ops->dtmf(s, m.digit);
        }
        break;
    case VT_SM_STOP:
        /* The caller hung up: nothing follows the stream. */
        if (s->state == VTH_S_LIVE) {
            vth_stream_finish(s, NULL);
        }
        break;
    default: /* connected, unknown events */
        break;
    }
}

/* A chunk of a message (lws hands over at most rx_buffer_size at a time). */
static void on_receive(vth_stream_t *s, const void *in, size_t len)
{
    s->last_rx_ms = vth_now_ms();
    if (s->state == VTH_S_CLOSING) {
        return;
    }
    if (lws_frame_is_binary(s->wsi)) {
        close_now(s, CLOSE_UNSUPPORTED, "a binary frame (Twilio sends text)");
        return;
    }
    switch (vth_rxbuf_add(&s->rx, s->wsi, in, len, RX_MAX)) {
    case 1:
        /* Not lws_send_pipe_choked(): a poll() per frame. What matters is that lws holds
         * no partial write (4.1 miscounts a write queued behind one); a full socket takes
         * the write into lws' buffer. */
        s->rx_write_ok = !lws_partial_buffered(s->wsi);
        on_message(s, s->rx.data, s->rx.len);
        s->rx_write_ok = 0;
        s->rx.len = 0;
        break;
    case -1:
        close_now(s, CLOSE_INVALID, "a message over 64 KiB");
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ lifecycle */

vth_stream_t *vth_stream_find(vth_media_t *m, unsigned long id)
{
    return id ? apr_hash_get(m->by_id, &id, sizeof id) : NULL;
}

/* A header copied into p, or NULL. name: lower case with its colon. */
static const char *header(apr_pool_t *p, struct lws *wsi, const char *name)
{
    char buf[HDR_MAX];
    int n = lws_hdr_custom_copy(wsi, buf, sizeof buf, name, (int)strlen(name));

    return n > 0 ? apr_pstrmemdup(p, buf, (apr_size_t)n) : NULL;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);

    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* The upgrade, before lws answers it: 0 accepts (the signature is checked next). */
static int on_filter(vth_media_t *m, struct lws *wsi, pss_t *pss)
{
    apr_pool_t *p;
    vth_stream_t *s;
    char uri[HDR_MAX];
    int direct;

    if (m->nstreams >= m->conf.max_streams) {
        m->stats->refused++;
        vt_log(VT_LOG_WARN, "stream refused: %d streams already (--stream-max)", m->nstreams);
        return 1;
    }
    apr_pool_create_unmanaged(&p);
    s = apr_pcalloc(p, sizeof *s);
    s->pool = p;
    s->media = m;
    s->wsi = wsi;
    s->signature = header(p, wsi, "x-twilio-signature:");
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0) {
        uri[0] = '\0';
    }
    /* On the unix socket only mod_voxtwilio's tunnel reaches us: it checked the signature
     * of this URL and says which URL it was; verified again here all the same. On the
     * direct listener anybody may connect: the URL is ours, never a header's. */
    direct = m->direct && lws_get_vhost(wsi) == m->direct;
    s->url = !direct ? header(p, wsi, "x-voxtwilio-stream-url:")
             : uri[0] == '/' ? apr_pstrcat(p, m->conf.public_url, uri, NULL) : NULL;
    if (!uri[0] || !s->url || !s->signature
        || !vt_stream_path_parse(p, s->url, &s->slug, &s->call_sid)
        || !ends_with(uri, apr_pstrcat(p, "/", s->slug, "/", s->call_sid, NULL))) {
        m->stats->refused++;
        vt_log(VT_LOG_WARN, "stream refused: %s", !s->signature ? "no X-Twilio-Signature"
                            : !s->url && !direct
                                ? "no X-VoxTwilio-Stream-URL (not from mod_voxtwilio)"
                                      : "not a stream URL");
        apr_pool_destroy(p);
        return 1;
    }
    s->id = ++m->next_id;
    s->parser = vt_sm_parser_create();
    s->last_rx_ms = vth_now_ms();
    s->state = VTH_S_VERIFYING;
    s->next = m->streams;
    if (m->streams) {
        m->streams->prev = s;
    }
    m->streams = s;
    m->stats->live = (uint64_t)++m->nstreams;
    m->stats->total++;
    apr_hash_set(m->by_id, &s->id, sizeof s->id, s);
    pss->s = s;
    return 0;
}

static void on_established(vth_stream_t *s)
{
    vth_task_t *t = vth_task_new(verify_run, verify_done, s->id, NULL);
    verify_t *v = apr_pcalloc(t->pool, sizeof *v);

    v->ring = s->media->cfg->ring;
    v->slug = apr_pstrdup(t->pool, s->slug);
    v->url = apr_pstrdup(t->pool, s->url);
    v->signature = apr_pstrdup(t->pool, s->signature);
    t->data = v;
    /* Twilio's messages wait in the socket until the stream is known to be genuine. */
    lws_rx_flow_control(s->wsi, 0);
    vth_queue_push(s->media->dbq, t);
}

static void on_closed(vth_stream_t *s)
{
    vth_media_t *m = s->media;

    if (s->state == VTH_S_LIVE) {
        vth_stream_log(s, VT_LOG_INFO, "Twilio closed the stream");
    }
    if (s->ops && s->ops->stop) {
        s->ops->stop(s);
    }
    apr_hash_set(m->by_id, &s->id, sizeof s->id, NULL);
    if (s->prev) {
        s->prev->next = s->next;
    }
    else {
        m->streams = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    m->stats->live = (uint64_t)--m->nstreams;
    vth_outq_clear(&s->out);
    vt_sm_parser_destroy(s->parser);
    vth_rxbuf_free(&s->rx);
    vth_hold_release(s->hold); /* the tenant and its keys go with the last task using them */
    apr_pool_destroy(s->pool);
}

vth_hold_t *vth_stream_hold(vth_stream_t *s)
{
    s->hold->refs++;
    return s->hold;
}

void vth_hold_release(vth_hold_t *h)
{
    if (h && --h->refs == 0) {
        apr_pool_destroy(h->pool); /* wipes the keys */
        free(h);
    }
}

void vth_stream_tick(vth_stream_t *s, long long now)
{
    if (s->state == VTH_S_CLOSING) {
        if (now > s->close_deadline && !s->outcome_written) {
            s->outcome_written = 1; /* the database is slow: close all the same */
            lws_callback_on_writable(s->wsi);
        }
        return;
    }
    if (now - s->last_rx_ms > (long long)s->media->conf.stream_timeout_s * 1000) {
        close_now(s, CLOSE_NORMAL, "Twilio has sent nothing for too long");
        return;
    }
    if (s->failed) {
        if (now > s->fail_deadline) {
            vth_stream_finish(s, "failed");
        }
        return;
    }
    if (s->state == VTH_S_LIVE && s->ops->tick) {
        s->ops->tick(s, now);
    }
}

int vth_stream_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                        void *in, size_t len)
{
    vth_media_t *m = lws_context_user(lws_get_context(wsi));
    pss_t *pss = user;
    vth_stream_t *s = pss ? pss->s : NULL;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return on_filter(m, wsi, pss);
    case LWS_CALLBACK_ESTABLISHED:
        if (s) {
            on_established(s);
        }
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (s) {
            on_receive(s, in, len);
        }
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return s ? out_write(s) : 0;
    case LWS_CALLBACK_CLOSED:
        if (s) {
            on_closed(s);
            pss->s = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        vth_media_wakeup(m);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
