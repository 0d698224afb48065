/* vth_realtime — the realtime backend of stream mode: the call's audio bridged to any
 * OpenAI-Realtime-compatible WebSocket (realtime-and-streams.md §1-§2), on the media
 * thread's own loop. The host name is looked up by a worker (Debian's libwebsockets
 * resolves synchronously, which would stall every call).
 *
 * Audio: PCMU both ways when the tenant says so (Twilio's base64 goes out as it came in,
 * the model's µ-law goes back re-cut into whole 20 ms frames), else PCM16 at 24 kHz through
 * speexdsp both ways.
 *
 * Barge-in: on input_audio_buffer.speech_started while the caller is still hearing the
 * assistant (marks not all back) or a response is being made: `clear` to Twilio at once,
 * the rest of that response dropped (the server cancels it: interrupt_response), and its
 * item truncated at what the caller heard, from the marks Twilio echoed. The assistant's
 * turn is stored with what was heard (its transcript cut in proportion).
 *
 * Tools: escalate_to_human and end_call, only for items that end "completed"; the core's
 * rules decide (a transfer without a human becomes a goodbye). The stream closes once the
 * caller has heard the last words, and stream-end takes over.
 *
 * Failures (cannot resolve, connect or upgrade; closed; an error before the session; no
 * answer within --realtime-timeout when one is owed) end in vth_stream_backend_failed.
 */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <apr_strings.h>

#include "vth_media.h"
#include "vt_audio.h"
#include "vt_g711.h"
#include "vt_llm.h"
#include "vt_log.h"
#include "vt_realtime.h"

#define RT_RX_MAX VT_RT_MESSAGE_MAX
#define RT_FRAME 160            /* µ-law bytes of 20 ms */

typedef struct rt_item {
    char id[80];                /* the server's item_id; "" when the slot is free */
    int local;                  /* the stream's item number */
    const char *transcript;     /* when known */
    long produced_ms;
    int greeting, audio_done, truncated, stored;
    long heard_ms;
    uint8_t rem[RT_FRAME];      /* µ-law not yet a whole frame */
    size_t rem_len;
} rt_item_t;

typedef struct rt {
    vth_stream_t *s;            /* NULL once the stream is gone */
    apr_pool_t *pool;
    struct lws *wsi;
    vth_outq_t out;
    vt_rt_parser_t *parser;
    vth_rxbuf_t rx;
    vt_rt_dialect_t dialect;
    vt_rt_audio_t audio;
    vt_resampler_t *up, *down;  /* PCM16: 8 -> 24 kHz, 24 -> 8 kHz */
    vt_vad_t *vad;              /* the helper's own ear: a model that hangs stays silent */
    long long last_event;       /* when the server last said anything */
    long long speech_from;      /* when the helper heard the caller start, 0: not talking */
    const char *host, *path, *address;
    int port, tls;
    int session;                /* session.update sent: audio may flow */
    long long deadline;         /* the server owes an answer by then; 0: nothing owed */
    char active[80];            /* the response being made; "" when none */
    char cancelled[80];         /* a response whose late deltas are dropped */
    int greeting_pending;       /* the next response is the greeting */
    char greeting[80];          /* ... its response id */
    rt_item_t items[VTH_ITEMS];
    int next_local;
    const char *after;          /* an outcome waiting for the last words to be heard */
    vt_conv_state_t st;
} rt_t;

/* ------------------------------------------------------------------ sending */

static void rt_send(rt_t *rt, const char *json, size_t len)
{
    if (rt->wsi && json && vth_outq_push(&rt->out, json, len) == 0) {
        lws_callback_on_writable(rt->wsi);
    }
}

static void rt_send_str(rt_t *rt, const char *json)
{
    if (json) {
        rt_send(rt, json, strlen(json));
    }
}

static void fail(rt_t *rt, const char *why)
{
    if (rt->s) {
        vth_stream_backend_failed(rt->s, why);
    }
}

/* ------------------------------------------------------------------ connecting */

typedef struct lookup {
    const char *host;
    char address[64];
    const char *why;
} lookup_t;

static void lookup_run(vth_task_t *t, vth_db_t *db)
{
    lookup_t *l = t->data;
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(l->host, NULL, &hints, &res);
    if (rc != 0 || !res
        || getnameinfo(res->ai_addr, res->ai_addrlen, l->address, sizeof l->address, NULL, 0,
                       NI_NUMERICHOST) != 0) {
        l->why = apr_psprintf(t->pool, "cannot resolve %s: %s", l->host,
                              rc ? gai_strerror(rc) : "no address");
        t->rc = -1;
    }
    if (res) {
        freeaddrinfo(res);
    }
}

static void lookup_done(vth_task_t *t)
{
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
    lookup_t *l = t->data;
    struct lws_client_connect_info ci;
    rt_t *rt;

    if (!s || s->state != VTH_S_LIVE || s->ops != &vth_realtime_ops || s->failed) {
        return;
    }
    rt = s->backend;
    if (t->rc != 0) {
        fail(rt, l->why);
        return;
    }
    rt->address = apr_pstrdup(rt->pool, l->address);
    memset(&ci, 0, sizeof ci);
    ci.context = lws_get_context(s->wsi);
    ci.address = rt->address;
    ci.port = rt->port;
    ci.path = rt->path;
    ci.host = (rt->port == (rt->tls ? 443 : 80))
                  ? rt->host : apr_psprintf(rt->pool, "%s:%d", rt->host, rt->port);
    ci.origin = ci.host;
    ci.ssl_connection = rt->tls ? LCCSCF_USE_SSL : 0;
    ci.local_protocol_name = "vt-realtime";
    ci.opaque_user_data = rt;
    ci.pwsi = &rt->wsi;
    rt->deadline = vth_now_ms() + s->media->conf.realtime_timeout_ms;
    /* A refusal may be reported (CLIENT_CONNECTION_ERROR) before this returns. */
    if (!lws_client_connect_via_info(&ci) && rt->s && !rt->s->failed) {
        rt->wsi = NULL;
        fail(rt, "cannot start the connection");
    }
}

/* "wss://host[:port]/path" -> host, port, tls, path (with ?model=). 0 when it is not. */
static int parse_url(rt_t *rt, const char *url, const char *model)
{
    const char *rest, *slash, *colon;

    rt->tls = strncmp(url, "wss://", 6) == 0;
    if (!rt->tls && strncmp(url, "ws://", 5) != 0) {
        return 0;
    }
    rest = url + (rt->tls ? 6 : 5);
    slash = strchr(rest, '/');
    if (!slash) {
        slash = rest + strlen(rest);
    }
    colon = memchr(rest, ':', (size_t)(slash - rest));
    if (*rest == '[') { /* an IPv6 literal */
        const char *rb = memchr(rest, ']', (size_t)(slash - rest));
        colon = rb && rb[1] == ':' ? rb + 1 : NULL;
    }
    rt->host = apr_pstrmemdup(rt->pool, rest, (size_t)((colon ? colon : slash) - rest));
    rt->port = colon ? atoi(colon + 1) : (rt->tls ? 443 : 80);
    rt->path = apr_pstrcat(rt->pool, *slash ? slash : "/", "?model=", model, NULL);
    if (rt->host[0] == '[') {
        rt->host = apr_pstrmemdup(rt->pool, rt->host + 1, strlen(rt->host) - 2);
    }
    return *rt->host && rt->port > 0 && rt->port < 65536;
}

static void rt_start(vth_stream_t *s)
{
    apr_pool_t *p = s->pool;
    rt_t *rt = apr_pcalloc(p, sizeof *rt);
    vth_task_t *t;
    lookup_t *l;

    s->backend = rt;
    rt->s = s;
    rt->pool = p;
    rt->st.turn = 1;
    rt->greeting_pending = 1;
    rt->next_local = 1;
    rt->parser = vt_rt_parser_create();
    rt->vad = vt_vad_create(NULL);
    if (vt_rt_dialect_parse(s->tenant->realtime_dialect, &rt->dialect) != 0) {
        rt->dialect = VT_RT_GA;
    }
    rt->audio = s->tenant->realtime_audio && strcmp(s->tenant->realtime_audio, "pcm16") == 0
                    ? VT_RT_AUDIO_PCM16 : VT_RT_AUDIO_PCMU;
    if (rt->audio == VT_RT_AUDIO_PCM16) {
        rt->up = vt_resampler_create(8000, 24000, VT_RESAMPLER_VOIP);
        rt->down = vt_resampler_create(24000, 8000, VT_RESAMPLER_VOIP);
    }
    if (!rt->parser || !rt->vad
        || (rt->audio == VT_RT_AUDIO_PCM16 && (!rt->up || !rt->down))) {
        fail(rt, "out of memory");
        return;
    }
    if (!parse_url(rt, s->tenant->realtime_url, s->tenant->realtime_model)) {
        fail(rt, "the realtime URL is not a ws:// or wss:// URL");
        return;
    }
    t = vth_task_new(lookup_run, lookup_done, s->id, NULL);
    l = apr_pcalloc(t->pool, sizeof *l);
    l->host = apr_pstrdup(t->pool, rt->host);
    t->data = l;
    rt->deadline = vth_now_ms() + s->media->conf.realtime_timeout_ms;
    vth_queue_push(s->media->dnsq, t);
}

/* ------------------------------------------------------------------ the session */

static const vt_rt_tool_t tools[] = {
    { VT_LLM_TOOL_ESCALATE, "Put the caller through to a person of the company.",
      "{\"type\":\"object\",\"properties\":{\"reason\":{\"type\":\"string\","
      "\"description\":\"Why, in a few words.\"}}}" },
    { VT_LLM_TOOL_END_CALL, "End the call once the caller needs nothing else.",
      "{\"type\":\"object\",\"properties\":{}}" },
};

/* The primary subtag of a language tag, for the transcription hint ("en-US" -> "en"). */
static const char *primary_subtag(apr_pool_t *p, const char *tag)
{
    return tag ? apr_pstrmemdup(p, tag, strcspn(tag, "-")) : NULL;
}

static void session_start(rt_t *rt)
{
    vth_stream_t *s = rt->s;
    vt_rt_session_t ss;
    apr_pool_t *p;

    apr_pool_create_unmanaged(&p);
    memset(&ss, 0, sizeof ss);
    ss.instructions = vt_conv_instructions(p, s->tenant, s->assistant);
    ss.voice = s->tenant->realtime_voice;
    ss.audio = rt->audio;
    ss.transcription_model = s->tenant->realtime_transcription;
    ss.language = primary_subtag(p, s->assistant->languages[0].language);
    ss.tools = tools;
    ss.ntools = 2;
    rt_send_str(rt, vt_rt_session_update(p, rt->dialect, &ss));
    /* The greeting: the tenant's words, spoken in the model's voice. */
    rt_send_str(rt, vt_rt_response_create(
                        p, apr_psprintf(p, "Greet the caller by saying exactly this, and "
                                           "nothing else: %s", s->greeting)));
    rt->session = 1;
    rt->deadline = vth_now_ms() + s->media->conf.realtime_timeout_ms;
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ items and turns */

static rt_item_t *item_of(rt_t *rt, const char *id, int create)
{
    int i, oldest = -1;

    if (!id) {
        return NULL;
    }
    for (i = 0; i < VTH_ITEMS; i++) {
        if (strcmp(rt->items[i].id, id) == 0) {
            return &rt->items[i];
        }
        if (oldest < 0 || rt->items[i].local < rt->items[oldest].local) {
            oldest = i;
        }
    }
    if (!create || strlen(id) >= sizeof rt->items[0].id) {
        return NULL;
    }
    memset(&rt->items[oldest], 0, sizeof rt->items[oldest]);
    apr_cpystrn(rt->items[oldest].id, id, sizeof rt->items[oldest].id);
    rt->items[oldest].local = rt->next_local++;
    return &rt->items[oldest];
}

/* The words the caller heard of a transcript cut at heard of produced ms: in proportion,
 * at a word's end. */
static const char *heard_words(apr_pool_t *p, const char *text, long heard, long produced)
{
    size_t n = strlen(text), cut;

    if (produced <= 0 || heard >= produced) {
        return text;
    }
    cut = (size_t)((double)n * (double)heard / (double)produced);
    while (cut > 0 && text[cut] != ' ' && text[cut] != '\0') {
        cut--;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, text, cut), cut ? " ..." : "...", NULL);
}

/* The assistant's turn, once its transcript is known and the caller heard it all (or was
 * cut off). The greeting is the call's first turn already (inbound wrote it). */
static void store_if_ready(rt_t *rt, rt_item_t *it)
{
    vth_stream_t *s = rt->s;
    vth_item_t *pl;

    if (!s || it->stored || it->greeting || !it->transcript) {
        return;
    }
    pl = vth_stream_item(s, it->local);
    if (it->truncated) {
        vth_stream_turn(s, "assistant",
                        heard_words(s->pool, it->transcript, it->heard_ms, it->produced_ms), 1,
                        it->heard_ms);
    }
    else if (it->audio_done && pl && pl->played_ms >= pl->sent_ms) {
        vth_stream_turn(s, "assistant", it->transcript, 0, it->produced_ms);
    }
    else {
        return;
    }
    it->stored = 1;
}

/* ------------------------------------------------------------------ audio both ways */

/* Plays µ-law in whole 20 ms frames; last: flush the rest and end the item. */
static void play_ulaw(rt_t *rt, rt_item_t *it, const uint8_t *u, size_t n, int last)
{
    size_t whole;

    if (it->rem_len) {
        size_t take = RT_FRAME - it->rem_len < n ? RT_FRAME - it->rem_len : n;
        memcpy(it->rem + it->rem_len, u, take);
        it->rem_len += take;
        u += take;
        n -= take;
        if (it->rem_len == RT_FRAME || last) {
            vth_stream_play(rt->s, it->local, it->rem, it->rem_len, last && n == 0);
            it->rem_len = 0;
        }
    }
    whole = last ? n : n - n % RT_FRAME;
    if (whole || (last && !it->rem_len)) {
        vth_stream_play(rt->s, it->local, u, whole, last);
    }
    if (n > whole) {
        memcpy(it->rem, u + whole, n - whole);
        it->rem_len = n - whole;
    }
}

static void on_audio(rt_t *rt, const vt_rt_event_t *ev)
{
    rt_item_t *it;
    int16_t pcm24[8192], pcm8[4096];
    uint8_t ulaw[4096];

    if (strcmp(ev->response_id, rt->cancelled) == 0 || !(it = item_of(rt, ev->item_id, 1))) {
        return; /* a response cut by barge-in: its late deltas are not heard */
    }
    if (it->produced_ms == 0 && strcmp(ev->response_id, rt->greeting) == 0) {
        it->greeting = 1;
    }
    rt->deadline = vth_now_ms() + rt->s->media->conf.realtime_timeout_ms;
    if (rt->audio == VT_RT_AUDIO_PCMU) {
        it->produced_ms += (long)ev->audio_len / 8;
        play_ulaw(rt, it, ev->audio, ev->audio_len, 0);
        return;
    }
    /* PCM16 24 kHz little-endian, in pieces the stack buffers hold. */
    for (size_t off = 0; off + 1 < ev->audio_len;) {
        size_t n = (ev->audio_len - off) / 2, i, n8;
        if (n > sizeof pcm24 / sizeof pcm24[0]) {
            n = sizeof pcm24 / sizeof pcm24[0];
        }
        for (i = 0; i < n; i++) {
            pcm24[i] = (int16_t)(ev->audio[off + 2 * i] | (ev->audio[off + 2 * i + 1] << 8));
        }
        off += n * 2;
        n8 = vt_resampler_process(rt->down, pcm24, n, pcm8, sizeof pcm8 / sizeof pcm8[0]);
        vt_ulaw_encode(pcm8, n8, ulaw);
        it->produced_ms += (long)n / 24;
        play_ulaw(rt, it, ulaw, n8, 0);
    }
}

/* The helper's own voice detection: when the caller has spoken and stopped and the server
 * has said nothing since, an answer is owed (a model that hangs says nothing at all). */
static void hear_caller(rt_t *rt, const vt_stream_msg_t *m)
{
    int16_t pcm[VT_VAD_FRAME];
    long long now;

    if (m->payload_len != VT_VAD_FRAME) {
        return; /* Twilio's frames are 20 ms; anything else is not worth a guess */
    }
    vt_ulaw_decode(m->payload, VT_VAD_FRAME, pcm);
    switch (vt_vad_frame(rt->vad, pcm)) {
    case VT_VAD_START:
        rt->speech_from = vth_now_ms();
        break;
    case VT_VAD_END:
        now = vth_now_ms();
        if (rt->speech_from && rt->last_event < rt->speech_from && !rt->deadline) {
            rt->deadline = now + rt->s->media->conf.realtime_timeout_ms;
        }
        rt->speech_from = 0;
        break;
    default:
        break;
    }
}

static void rt_media(vth_stream_t *s, const vt_stream_msg_t *m)
{
    rt_t *rt = s->backend;
    char json[4096];
    size_t n;

    if (!rt->session || !rt->wsi) {
        return; /* before the session: the caller is hearing nothing yet anyway */
    }
    hear_caller(rt, m);
    if (rt->audio == VT_RT_AUDIO_PCMU) {
        n = vt_rt_append_json(json, sizeof json, m->payload_b64, m->payload_b64_len);
    }
    else {
        int16_t pcm8[VT_SM_PAYLOAD_MAX / 8], pcm24[VT_SM_PAYLOAD_MAX / 8 * 3 + 16];
        uint8_t le[sizeof pcm24];
        size_t k = m->payload_len < sizeof pcm8 / sizeof pcm8[0] ? m->payload_len
                                                                   : sizeof pcm8 / sizeof pcm8[0];
        size_t n24, i;
        vt_ulaw_decode(m->payload, k, pcm8);
        n24 = vt_resampler_process(rt->up, pcm8, k, pcm24, sizeof pcm24 / sizeof pcm24[0]);
        for (i = 0; i < n24; i++) {
            le[2 * i] = (uint8_t)(pcm24[i] & 0xff);
            le[2 * i + 1] = (uint8_t)((uint16_t)pcm24[i] >> 8);
        }
        n = vt_rt_append_raw_json(json, sizeof json, le, n24 * 2);
    }
    if (n) {
        rt_send(rt, json, n);
    }
}

/* ------------------------------------------------------------------ barge-in */

/* The item the caller is hearing now: the oldest one whose audio has not all played. */
static rt_item_t *audible_item(rt_t *rt)
{
    rt_item_t *best = NULL;
    int i;

    for (i = 0; i < VTH_ITEMS; i++) {
        rt_item_t *it = &rt->items[i];
        vth_item_t *pl = it->id[0] ? vth_stream_item(rt->s, it->local) : NULL;
        if (pl && !it->truncated && (pl->played_ms < pl->sent_ms || !it->audio_done)
            && (!best || it->local < best->local)) {
            best = it;
        }
    }
    return best;
}

static void barge_in(rt_t *rt)
{
    vth_stream_t *s = rt->s;
    rt_item_t *it = audible_item(rt);
    apr_pool_t *p;

    /* Only over the assistant: else every utterance would cut the history. */
    if (!vth_stream_playing(s) && !rt->active[0]) {
        return;
    }
    vth_stream_barge_in(s); /* first: this is what stops the sound */
    if (rt->active[0]) {
        /* The server cancels it itself (interrupt_response); its late deltas go nowhere. */
        apr_cpystrn(rt->cancelled, rt->active, sizeof rt->cancelled);
    }
    if (it) {
        vth_item_t *pl = vth_stream_item(s, it->local);
        long heard = pl ? pl->played_ms : 0;
        if (heard > it->produced_ms) {
            heard = it->produced_ms; /* never past the audio the item has */
        }
        it->truncated = 1;
        it->heard_ms = heard;
        if (it->produced_ms > 0) {
            apr_pool_create_unmanaged(&p);
            rt_send_str(rt, vt_rt_item_truncate(p, it->id, 0, heard));
            apr_pool_destroy(p);
        }
        store_if_ready(rt, it);
        vth_stream_log(s, VT_LOG_DEBUG, "barge-in: item %s cut at %ld of %ld ms", it->id, heard,
                       it->produced_ms);
    }
    if (rt->after) {
        vth_stream_finish(s, rt->after); /* the last words were cut: go on at once */
    }
}

/* ------------------------------------------------------------------ tools */

/* Finishes once everything said has been heard. */
static void finish_when_heard(rt_t *rt)
{
    if (rt->after && !vth_stream_playing(rt->s) && !rt->active[0]) {
        vth_stream_finish(rt->s, rt->after);
    }
}

static void on_tool(rt_t *rt, const vt_rt_event_t *ev)
{
    vth_stream_t *s = rt->s;
    vt_answer_t ans = { "llm", NULL, VT_ACTION_NONE, NULL, 0 };
    vt_conv_ctx_t c = { s->tenant, s->assistant, NULL, NULL, s->from, s->call_sid };
    vt_conv_result_t res;
    apr_pool_t *p;

    /* Also fired for cancelled responses: only a completed call counts. */
    if (!ev->item_status || strcmp(ev->item_status, "completed") != 0 || rt->after) {
        return;
    }
    if (strcmp(ev->name, VT_LLM_TOOL_ESCALATE) == 0) {
        ans.action = VT_ACTION_ESCALATE;
    }
    else if (strcmp(ev->name, VT_LLM_TOOL_END_CALL) == 0) {
        ans.action = VT_ACTION_HANGUP;
    }
    else {
        return;
    }
    apr_pool_create_unmanaged(&p);
    vt_conv_answer(p, &c, &rt->st, &ans, &res);
    vth_stream_log(s, VT_LOG_INFO, "the model called %s: %s", ev->name,
                   res.next == VT_CONV_TRANSFER ? "transfer" : "goodbye");
    rt->after = res.next == VT_CONV_TRANSFER ? "transfer" : "hangup";
    if (ans.action == VT_ACTION_ESCALATE && res.next == VT_CONV_HANGUP) {
        /* Nobody to transfer to: the goodbye of the rules, in the model's voice. */
        rt_send_str(rt, vt_rt_response_create(
                            p, apr_psprintf(p, "Say exactly this, and nothing else: %s",
                                            res.reply)));
    }
    apr_pool_destroy(p);
    finish_when_heard(rt);
}

/* ------------------------------------------------------------------ server events */

static void on_event(rt_t *rt, const vt_rt_event_t *ev)
{
    vth_stream_t *s = rt->s;
    long long now = vth_now_ms();
    rt_item_t *it;

    switch (ev->type) {
    case VT_RT_SESSION_CREATED:
        if (!rt->session) {
            session_start(rt);
        }
        break;
    case VT_RT_SESSION_UPDATED:
        if (ev->output_format
            && strcmp(ev->output_format, rt->audio == VT_RT_AUDIO_PCMU ? "pcmu" : "pcm16")) {
            fail(rt, apr_psprintf(s->pool, "the server speaks %s, not the audio asked for",
                                  ev->output_format));
        }
        break;
    case VT_RT_RESPONSE_CREATED:
        apr_cpystrn(rt->active, ev->response_id ? ev->response_id : "?", sizeof rt->active);
        if (rt->greeting_pending) {
            apr_cpystrn(rt->greeting, rt->active, sizeof rt->greeting);
            rt->greeting_pending = 0;
        }
        rt->deadline = now + s->media->conf.realtime_timeout_ms;
        break;
    case VT_RT_AUDIO_DELTA:
        on_audio(rt, ev);
        break;
    case VT_RT_AUDIO_DONE:
        if ((it = item_of(rt, ev->item_id, 0)) && strcmp(ev->response_id, rt->cancelled)) {
            play_ulaw(rt, it, NULL, 0, 1);
            it->audio_done = 1;
        }
        break;
    case VT_RT_TRANSCRIPT_DONE:
        if ((it = item_of(rt, ev->item_id, 1)) && ev->text) {
            it->transcript = apr_pstrdup(s->pool, ev->text);
            store_if_ready(rt, it);
        }
        break;
    case VT_RT_INPUT_TRANSCRIPT:
        if (ev->text && *ev->text) {
            vth_stream_turn(s, "caller", ev->text, 0, -1);
        }
        break;
    case VT_RT_SPEECH_STARTED:
        barge_in(rt);
        break;
    case VT_RT_SPEECH_STOPPED:
        /* The server now owes an answer (create_response). */
        rt->deadline = now + s->media->conf.realtime_timeout_ms;
        break;
    case VT_RT_FUNCTION_CALL_DONE:
        on_tool(rt, ev);
        break;
    case VT_RT_RESPONSE_DONE:
        rt->active[0] = '\0';
        rt->deadline = 0;
        if (ev->status && strcmp(ev->status, "failed") == 0) {
            fail(rt, "the server failed a response");
            break;
        }
        finish_when_heard(rt);
        break;
    case VT_RT_ERROR:
        vth_stream_log(s, VT_LOG_WARN, "realtime server error: %s%s%s",
                       ev->error_code ? ev->error_code : (ev->error_type ? ev->error_type : "?"),
                       ev->error_message ? ": " : "",
                       ev->error_message ? ev->error_message : "");
        if (!rt->session || !rt->greeting[0]) {
            fail(rt, "the server refused the session");
        }
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ the stream's hooks */

static void rt_played(vth_stream_t *s, int item)
{
    rt_t *rt = s->backend;
    int i;

    for (i = 0; i < VTH_ITEMS; i++) {
        if (rt->items[i].id[0] && rt->items[i].local == item) {
            store_if_ready(rt, &rt->items[i]);
        }
    }
    finish_when_heard(rt);
}

static void rt_tick(vth_stream_t *s, long long now)
{
    rt_t *rt = s->backend;

    if (rt->deadline && now > rt->deadline) {
        rt->deadline = 0;
        fail(rt, apr_psprintf(s->pool, "no answer within %d ms",
                              s->media->conf.realtime_timeout_ms));
    }
}

static void rt_dtmf(vth_stream_t *s, char digit)
{
    /* The model does not take keys; a key pressed over it still stops it talking. */
    rt_t *rt = s->backend;

    if (digit && vth_stream_playing(s)) {
        barge_in(rt);
    }
}

static void rt_stop(vth_stream_t *s)
{
    rt_t *rt = s->backend;
    int i;

    if (!rt) {
        return;
    }
    /* Whatever the caller heard of an item still playing is its turn. */
    for (i = 0; i < VTH_ITEMS; i++) {
        rt_item_t *it = &rt->items[i];
        vth_item_t *pl = it->id[0] ? vth_stream_item(s, it->local) : NULL;
        if (pl && !it->stored && it->transcript && pl->played_ms < pl->sent_ms) {
            it->truncated = 1;
            it->heard_ms = pl->played_ms;
        }
        store_if_ready(rt, it);
    }
    rt->s = NULL;
    if (rt->wsi) {
        lws_set_opaque_user_data(rt->wsi, NULL);
        lws_set_timeout(rt->wsi, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
        rt->wsi = NULL;
    }
    vth_outq_clear(&rt->out);
    vt_rt_parser_destroy(rt->parser);
    vth_rxbuf_free(&rt->rx);
    if (rt->up) {
        vt_resampler_destroy(rt->up);
        vt_resampler_destroy(rt->down);
    }
    if (rt->vad) {
        vt_vad_destroy(rt->vad);
    }
    s->backend = NULL;
}

const vth_backend_ops_t vth_realtime_ops = {
    "realtime", rt_start, rt_media, rt_dtmf, rt_played, rt_tick, rt_stop
};

/* ------------------------------------------------------------------ the client connection */

static void rt_receive(rt_t *rt, struct lws *wsi, const void *in, size_t len)
{
    vt_rt_event_t ev;
    const char *err;

    switch (vth_rxbuf_add(&rt->rx, wsi, in, len, RT_RX_MAX)) {
    case -1:
        fail(rt, "an event over 1 MiB");
        return;
    case 0:
        return;
    default:
        break;
    }
    len = rt->rx.len;
    rt->rx.len = 0;
    rt->last_event = vth_now_ms();
    if (vt_rt_parse(rt->parser, rt->rx.data, len, &ev, &err) != 0) {
        vth_stream_log(rt->s, VT_LOG_WARN, "realtime server: unusable event: %s", err);
        return;
    }
    on_event(rt, &ev);
}

int vth_realtime_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len)
{
    rt_t *rt = lws_get_opaque_user_data(wsi);
    int rc;

    if (!rt || !rt->s) {
        /* The stream has gone: only let the connection close. */
        return reason == LWS_CALLBACK_CLIENT_WRITEABLE || reason == LWS_CALLBACK_CLIENT_RECEIVE
                   ? -1 : lws_callback_http_dummy(wsi, reason, user, in, len);
    }
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        const char *key = rt->s->keys.realtime;
        if (key && *key) {
            const char *v = apr_pstrcat(rt->pool, "Bearer ", key, NULL);
            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"authorization:",
                                            (const unsigned char *)v, (int)strlen(v), p, end)) {
                return -1;
            }
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        rt->deadline = vth_now_ms() + rt->s->media->conf.realtime_timeout_ms;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        rt_receive(rt, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        rc = vth_outq_write(&rt->out, wsi);
        if (rc > 0) {
            lws_callback_on_writable(wsi);
        }
        return rc < 0 ? -1 : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        rt->wsi = NULL;
        fail(rt, apr_psprintf(rt->pool, "cannot connect: %s",
                              in ? apr_pstrmemdup(rt->pool, in, len ? len : strlen(in))
                                 : "connection refused"));
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        rt->wsi = NULL;
        if (!rt->s->outcome_written && rt->s->state == VTH_S_LIVE) {
            fail(rt, "the server closed the connection");
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
