/* vtsim_stream — Twilio's side of a bidirectional Media Stream (<Connect><Stream>,
 * twilio-protocol.md §12) with libwebsockets:
 *   - the upgrade to the stream URL's path, with Host and X-Twilio-Signature as Twilio sends
 *     them (signed over the wss:// URL exactly as the TwiML wrote it), at the webhook's host
 *     and port over ws:// (wss:// for an https:// webhook), or at --stream-connect;
 *   - connected, start (customParameters from the <Parameter>s), then one 160-byte µ-law
 *     media frame every 20 ms on a monotonic clock (a timerfd in the lws loop), dtmf when the
 *     caller presses keys, stop when it hangs up;
 *   - Twilio's playback: the gateway's media plays in real time, a mark is echoed when
 *     playback reaches it, clear empties the buffer and echoes every pending mark at once.
 *     What the gateway sends is checked as Twilio does: text frames only (31950), and only
 *     media, mark and clear with this stream's streamSid (31951); each logged once per
 *     stream, the message ignored, the call goes on.
 * The transcript shows the assistant's audio per stretch ("assistant: [audio 2.4 s]"), each
 * [clear], and how the stream ended. The caller's turns are vtsim_caller.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include <apr_strings.h>
#include "vt_g711.h"
#include "vt_signature.h"
#include "vtsim_stream.h"

#define CATCH_UP_MAX 50          /* frames run at once after the loop was held up */
/* A media frame of Twilio's: VT_SM_MEDIA_JSON_MAX sizes the gateway's media, which carries
 * no sequenceNumber, track, chunk or timestamp. */
#define INBOUND_MEDIA_MAX (VT_SM_MEDIA_JSON_MAX(VTSIM_FRAME_BYTES) + 128)
#define RX_CHUNK 4096            /* lws hands messages over in pieces of this size */

struct vtsim_out {
    vtsim_out_t *next;
    size_t len;
    unsigned char buf[];         /* LWS_PRE bytes, then the message */
};

struct vtsim_pb {
    vtsim_pb_t *next;
    char *mark;                  /* a mark's name; NULL: audio */
    size_t len, off;
    uint8_t audio[];
};

/* ---------------------------------------------------------------- to the gateway */

static void send_text(vtss_t *t, const char *json, size_t len)
{
    vtsim_out_t *o;

    if (!len && !t->oversize++) {
        vtsim_error("stream %s: a message did not fit its buffer", t->stream_sid);
        t->s->warnings++;
    }
    if (!len || !t->wsi || !(o = malloc(sizeof(*o) + LWS_PRE + len))) {
        return;
    }
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, json, len);
    if (t->out_tail) {
        t->out_tail->next = o;
    }
    else {
        t->out_head = o;
    }
    t->out_tail = o;
    lws_callback_on_writable(t->wsi);
}

static void send_mark_echo(vtss_t *t, const char *name)
{
    char json[1024]; /* a name of VT_SM_NAME_MAX bytes, every one escaped as \u00XX */

    send_text(t, json, vt_sm_mark_echo_json(json, sizeof(json), ++t->seq, t->stream_sid, name));
}

void vtss_send_dtmf(vtss_t *t, char key)
{
    char json[256];

    send_text(t, json, vt_sm_dtmf_json(json, sizeof(json), ++t->seq, t->stream_sid, key));
}

void vtss_hangup(vtss_t *t)
{
    char json[512];

    if (t->hanging_up) {
        return;
    }
    if (!t->failed) {
        printf("[caller hangs up]\n");
    }
    send_text(t, json, vt_sm_stop_json(json, sizeof(json), ++t->seq, t->stream_sid,
                                       t->s->account_sid, t->s->call_sid));
    t->hanging_up = 1;
    if (t->wsi) {
        lws_callback_on_writable(t->wsi);
    }
}

/* CLIENT_WRITEABLE: one message per callback; after stop, the close. */
static int on_writable(vtss_t *t)
{
    vtsim_out_t *o = t->out_head;
    int n;

    if (o) {
        n = lws_write(t->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
        t->out_head = o->next;
        if (!t->out_head) {
            t->out_tail = NULL;
        }
        free(o);
        if (n < 0) {
            return -1;
        }
        if (t->out_head || t->hanging_up) {
            lws_callback_on_writable(t->wsi);
        }
        return 0;
    }
    if (t->hanging_up) {
        lws_close_reason(t->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- Twilio's playback */

void vtss_flush_assistant(vtss_t *t, size_t min_bytes)
{
    if (t->seg_bytes && t->seg_bytes >= min_bytes) {
        printf("assistant: [audio %.1f s]\n", (double)t->seg_bytes / 8000.0);
        t->seg_bytes = 0;
    }
}

int vtss_quiet(const vtss_t *t)
{
    return !t->in_stretch && t->pb_audio == 0;
}

static void pb_append(vtss_t *t, vtsim_pb_t *b)
{
    b->next = NULL;
    if (t->pb_tail) {
        t->pb_tail->next = b;
    }
    else {
        t->pb_head = b;
    }
    t->pb_tail = b;
}

static void pb_pop(vtss_t *t)
{
    vtsim_pb_t *b = t->pb_head;

    t->pb_head = b->next;
    if (!t->pb_head) {
        t->pb_tail = NULL;
    }
    if (!b->mark) {
        t->pb_audio -= b->len - b->off;
    }
    free(b->mark);
    free(b);
}

/* Marks with no audio before them have been reached: echoed. */
static void pb_echo_reached(vtss_t *t)
{
    while (t->pb_head && t->pb_head->mark) {
        send_mark_echo(t, t->pb_head->mark);
        pb_pop(t);
    }
}

static void pb_audio_in(vtss_t *t, const uint8_t *audio, size_t n)
{
    vtsim_pb_t *b;

    if (!n || !(b = malloc(sizeof(*b) + n))) {
        return;
    }
    b->mark = NULL;
    b->len = n;
    b->off = 0;
    memcpy(b->audio, audio, n);
    pb_append(t, b);
    t->pb_audio += n;
}

static void pb_mark_in(vtss_t *t, const char *name)
{
    vtsim_pb_t *b = calloc(1, sizeof(*b));

    if (!b || !(b->mark = strdup(name))) {
        free(b);
        return;
    }
    pb_append(t, b);
    pb_echo_reached(t);
}

/* clear: the audio goes, every pending mark is echoed at once. */
static void pb_clear(vtss_t *t)
{
    while (t->pb_head) {
        if (t->pb_head->mark) {
            send_mark_echo(t, t->pb_head->mark);
        }
        pb_pop(t);
    }
    vtss_flush_assistant(t, 0);
    t->in_stretch = 0;
    printf("[clear]\n");
}

/* Plays the next 20 ms into frame (silence where there is no audio). */
static void pb_frame(vtss_t *t, uint8_t *frame)
{
    size_t n = 0;

    memset(frame, VT_ULAW_SILENCE, VTSIM_FRAME_BYTES);
    pb_echo_reached(t);
    while (n < VTSIM_FRAME_BYTES && t->pb_head) {
        vtsim_pb_t *b = t->pb_head;
        size_t take = b->len - b->off;
        if (b->mark) {
            send_mark_echo(t, b->mark);
            pb_pop(t);
            continue;
        }
        take = take < VTSIM_FRAME_BYTES - n ? take : VTSIM_FRAME_BYTES - n;
        memcpy(frame + n, b->audio + b->off, take);
        b->off += take;
        t->pb_audio -= take;
        n += take;
        if (b->off == b->len) {
            pb_pop(t);
        }
    }
    if (n > 0) {
        t->stretches += !t->in_stretch;
        t->in_stretch = 1;
        t->seg_bytes += n;
        t->idle_since = t->ms + (long long)n / 8;
    }
    else if (t->in_stretch && t->ms - t->idle_since >= VTSIM_STRETCH_GAP_MS) {
        vtss_flush_assistant(t, 0);
        t->in_stretch = 0;
    }
}

/* ---------------------------------------------------------------- from the gateway */

/* Twilio's warnings about what the gateway sent: logged once per stream each; the message
 * is ignored and the call goes on (the simulator then exits 1). */
static void warn_once(vtss_t *t, int code, const char *fmt, ...)
{
    int *seen = code == 31950 ? &t->warned_31950 : &t->warned_31951;
    char what[300];
    va_list ap;

    if (*seen) {
        return;
    }
    *seen = 1;
    t->s->warnings++;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    vtsim_error("stream %s: Twilio error %d (Stream - Protocol - %s): %s; the message is "
                "ignored", t->stream_sid, code,
                code == 31950 ? "Malformed Message" : "Invalid Message", what);
}

static void on_message(vtss_t *t, const char *buf, size_t len)
{
    vt_stream_msg_t m;
    const char *err;

    if (vt_sm_parse(t->ps, buf, len, &m, &err) != 0) {
        warn_once(t, 31951, "%s", err);
        return;
    }
    if (m.event != VT_SM_MEDIA && m.event != VT_SM_MARK && m.event != VT_SM_CLEAR) {
        warn_once(t, 31951, "a '%.40s' message (the gateway may send media, mark and clear)",
                  m.event_name);
        return;
    }
    if (!m.stream_sid || strcmp(m.stream_sid, t->stream_sid) != 0) {
        warn_once(t, 31951, "%s %s streamSid", m.event_name,
                  m.stream_sid ? "with another stream's" : "without a");
        return;
    }
    switch (m.event) {
    case VT_SM_MEDIA:
        pb_audio_in(t, m.payload, m.payload_len);
        break;
    case VT_SM_MARK:
        pb_mark_in(t, m.mark_name);
        break;
    default:
        pb_clear(t);
        break;
    }
}

/* A piece of a message: whole ones are read, binary or oversized ones refused. */
static void on_receive(vtss_t *t, struct lws *wsi, const void *in, size_t len)
{
    if (!t->rx_more) {
        t->rx_len = 0;
        t->rx_binary = lws_frame_is_binary(wsi);
        t->rx_too_large = 0;
    }
    if (t->rx_len + len > VT_SM_MESSAGE_MAX) {
        t->rx_too_large = 1;
    }
    else if (!t->rx_binary) {
        memcpy(t->rx + t->rx_len, in, len);
        t->rx_len += len;
    }
    if ((t->rx_more = !lws_is_final_fragment(wsi))) {
        return;
    }
    if (t->rx_binary) {
        warn_once(t, 31950, "a binary message (Twilio reads text frames only)");
    }
    else if (t->rx_too_large) {
        warn_once(t, 31951, "a message over %d bytes", VT_SM_MESSAGE_MAX);
    }
    else if (!t->done) {
        on_message(t, t->rx, t->rx_len);
    }
    t->rx_len = 0;
}

/* ---------------------------------------------------------------- the frame clock */

/* 20 ms: the gateway's audio plays, the caller's goes out. */
static void tick(vtss_t *t)
{
    uint8_t caller[VTSIM_FRAME_BYTES], played[VTSIM_FRAME_BYTES];
    char json[INBOUND_MEDIA_MAX];

    pb_frame(t, played);
    vtsim_caller_frame(t, caller);
    if (!t->hanging_up) {
        t->chunk++;
        send_text(t, json, vt_sm_inbound_media_json(json, sizeof(json), ++t->seq, t->stream_sid,
                                                    t->chunk, (t->chunk - 1) * VTSIM_FRAME_MS,
                                                    caller, VTSIM_FRAME_BYTES));
    }
    vtsim_wav_frame(t->s, caller, played);
    t->ms += VTSIM_FRAME_MS;
}

static void on_clock(vtss_t *t)
{
    uint64_t due = 0;

    if (read(t->tfd, &due, sizeof(due)) != (ssize_t)sizeof(due)) {
        return;
    }
    /* Late (the machine was busy): the frames due go at once, as Twilio's would. */
    for (due = due < CATCH_UP_MAX ? due : CATCH_UP_MAX; due > 0; due--) {
        if (!t->open || t->done || t->hanging_up) {
            break;
        }
        tick(t);
    }
}

/* A periodic timerfd in the lws loop (an lws_sul would wake it to the millisecond only). */
static int clock_create(vtss_t *t)
{
    struct lws_vhost *vh = lws_get_vhost_by_name(t->ctx, "default");
    lws_sock_file_fd_type fd;

    t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->tfd < 0 || !vh) {
        return vtsim_error("cannot create the frame clock: %s", strerror(errno));
    }
    fd.filefd = t->tfd;
    if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "vtsim-clock", NULL)) {
        close(t->tfd);
        return vtsim_error("libwebsockets cannot watch the frame clock");
    }
    return 0;
}

static int clock_start(vtss_t *t)
{
    struct itimerspec its;

    its.it_interval.tv_sec = 0;
    its.it_interval.tv_nsec = VTSIM_FRAME_MS * 1000000L;
    its.it_value = its.it_interval;
    return timerfd_settime(t->tfd, 0, &its, NULL);
}

/* ---------------------------------------------------------------- the connection */

static void on_open(vtss_t *t)
{
    size_t cap = 64 * 1024;
    char *json = apr_palloc(t->pool, cap);
    size_t n;

    t->open = 1;
    if (t->s->verbose) {
        printf("  < 101 Switching Protocols\n");
    }
    send_text(t, json, vt_sm_connected_json(json, cap));
    n = vt_sm_start_json(json, cap, ++t->seq, t->stream_sid, t->s->account_sid,
                         t->s->call_sid, t->params, t->nparams);
    if (!n || clock_start(t) != 0) {
        vtsim_error("stream %s: cannot start (%s)", t->url,
                    n ? strerror(errno) : "the <Parameter>s are too large");
        t->failed = 1;
        vtss_hangup(t);
        return;
    }
    send_text(t, json, n);
}

/* Twilio's error code for a stream that did not open. */
static void on_connect_error(vtss_t *t, struct lws *wsi, const char *why)
{
    int status = wsi ? lws_http_client_http_response(wsi) : 0, code = 31902;
    const char *name = "Connection Refused", *detail;

    why = why && *why ? why : "the connection failed";
    detail = why;
    if ((status > 0 && status != 101) || strncmp(why, "HS:", 3) == 0) {
        code = 31920;
        name = "Handshake Error";
        if (status > 0) {
            detail = apr_psprintf(t->pool, "the upgrade was answered HTTP %d", status);
        }
    }
    else if (strcasestr(why, "ssl") || strcasestr(why, "tls")) {
        code = 31910;
        name = "SSL Protocol Error";
    }
    else if (strcasestr(why, "timed out") || strcasestr(why, "timeout")) {
        code = 31901;
        name = "Connection Timeout";
    }
    vtsim_error("stream %s: %s (Twilio error %d: Stream - WebSocket - %s)", t->url, detail, code,
                name);
    t->s->warnings++;
    t->failed = 1;
    t->done = 1;
    t->wsi = NULL;
}

static void on_peer_close(vtss_t *t, const unsigned char *in, size_t len)
{
    t->closed_by_peer = 1;
    t->close_code = len >= 2 ? (in[0] << 8 | in[1]) : LWS_CLOSE_STATUS_NO_STATUS;
}

static void on_closed(vtss_t *t)
{
    double unplayed = (double)t->pb_audio / 8000.0;

    t->wsi = NULL;
    t->done = 1;
    if (t->hanging_up) {
        t->end = t->failed ? VTSIM_STREAM_ERROR : VTSIM_STREAM_HANGUP;
        return;
    }
    t->end = VTSIM_STREAM_CLOSED;
    vtss_flush_assistant(t, 0);
    if (!t->closed_by_peer) {
        printf("[stream lost: the gateway's connection closed without a close frame]\n");
    }
    else if (unplayed > 0.0) {
        printf("[stream closed by the gateway (%d) with %.1f s of its audio not played]\n",
               t->close_code, unplayed);
    }
    else {
        printf("[stream closed by the gateway (%d)]\n", t->close_code);
    }
}

static int ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                 size_t len)
{
    vtss_t *t = lws_context_user(lws_get_context(wsi));

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        unsigned char **p = in, *end = *p + len;
        return lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Twilio-Signature:",
                                           (const unsigned char *)t->signature,
                                           (int)strlen(t->signature), p, end) ? -1 : 0;
    }
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        on_open(t);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        on_connect_error(t, wsi, in);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(t, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writable(t);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        on_peer_close(t, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (t->open) {
            on_closed(t);
        }
        else if (!t->done) {
            on_connect_error(t, NULL, "the connection closed before the upgrade");
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static int clock_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        on_clock(lws_context_user(lws_get_context(wsi)));
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    { "twilio-media", ws_cb, 0, RX_CHUNK, 0, NULL, 0 },
    { "vtsim-clock", clock_cb, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_log(int level, const char *line)
{
    (void)level;
    fprintf(stderr, VTSIM_PROG ": libwebsockets: %s", line);
}

/* "host:port" or "[v6]:port" -> host and port (default_port when none). */
static void split_authority(apr_pool_t *p, const char *auth, const char **host, int *port,
                            int default_port)
{
    const char *at = strrchr(auth, '@'), *colon;

    auth = at ? at + 1 : auth;
    colon = strrchr(auth, ':');
    if (auth[0] == '[' && strchr(auth, ']')) {
        *host = apr_pstrmemdup(p, auth + 1, (apr_size_t)(strchr(auth, ']') - auth - 1));
        colon = strchr(auth, ']')[1] == ':' ? strchr(auth, ']') + 1 : NULL;
    }
    else {
        *host = colon ? apr_pstrmemdup(p, auth, (apr_size_t)(colon - auth)) : auth;
    }
    *port = colon && atoi(colon + 1) > 0 ? atoi(colon + 1) : default_port;
}

/* Opens the socket: to --stream-connect, else to the webhook's host and port (ws://, or
 * wss:// for https://); the path and Host of the stream URL, as Twilio sends them. */
static int connect_stream(vtss_t *t)
{
    const char *base = t->s->stream_connect ? t->s->stream_connect : t->s->url;
    const char *auth = strstr(base, "://") + 3, *tw = t->url + 6, *path = strchr(tw, '/');
    int tls = strncasecmp(base, "https:", 6) == 0 || strncasecmp(base, "wss:", 4) == 0;
    struct lws_client_connect_info ci;
    const char *host;
    int port;

    split_authority(t->pool, apr_pstrmemdup(t->pool, auth, strcspn(auth, "/?#")), &host, &port,
                    tls ? 443 : 80);
    memset(&ci, 0, sizeof(ci));
    ci.context = t->ctx;
    ci.address = host;
    ci.port = port;
    ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    ci.path = path ? path : "/";
    ci.host = path ? apr_pstrmemdup(t->pool, tw, (apr_size_t)(path - tw)) : tw;
    ci.local_protocol_name = "twilio-media";
    ci.pwsi = &t->wsi;
    if (t->s->verbose) {
        printf("  > GET %s%s:%d%s (Upgrade: websocket, Host: %s)\n", tls ? "wss://" : "ws://",
               host, port, ci.path, ci.host);
    }
    if (!lws_client_connect_via_info(&ci) && !t->done) {
        on_connect_error(t, NULL, NULL);
    }
    return 0;
}

static int context_create(vtss_t *t)
{
    struct lws_context_creation_info info;

    lws_set_log_level(t->s->verbose ? LLL_ERR | LLL_WARN : 0, lws_log);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = t;
    info.gid = -1;
    info.uid = -1;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.connect_timeout_secs = VTSIM_CONNECT_TIMEOUT_S * 2; /* Twilio tries twice */
    info.timeout_secs = VTSIM_TIMEOUT_S;
    if (!(t->ctx = lws_create_context(&info))) {
        return vtsim_error("cannot start libwebsockets");
    }
    return clock_create(t);
}

/* ---------------------------------------------------------------- a stream */

/* customParameters: the <Parameter>s of the <Stream>, in order. */
static void read_params(vtss_t *t, const vt_twiml_verb_t *stream)
{
    int i;

    for (i = 0; i < stream->children->nelts && t->nparams < VT_SM_PARAMS_MAX; i++) {
        const vt_twiml_verb_t *ch = APR_ARRAY_IDX(stream->children, i, vt_twiml_verb_t *);
        const char *value = vt_twiml_verb_attr(ch, "value");
        t->params[t->nparams].name = vt_twiml_verb_attr(ch, "name");
        t->params[t->nparams++].value = value ? value : "";
    }
}

static void print_start(const vtss_t *t)
{
    int i;

    printf("[stream %s", t->url);
    for (i = 0; i < t->nparams; i++) {
        printf("%s%s=%s", i ? ", " : " (", t->params[i].name, t->params[i].value);
    }
    printf("%s]\n", t->nparams ? ")" : "");
    if (t->s->verbose) {
        printf("  streamSid %s\n", t->stream_sid);
    }
}

static void stream_free(vtss_t *t)
{
    vtsim_caller_stop(t);
    if (t->ctx) {
        lws_context_destroy(t->ctx); /* closes the clock's descriptor too */
    }
    while (t->out_head) {
        vtsim_out_t *o = t->out_head;
        t->out_head = o->next;
        free(o);
    }
    while (t->pb_head) {
        pb_pop(t);
    }
    if (t->ps) {
        vt_sm_parser_destroy(t->ps);
    }
}

vtsim_stream_end_t vtsim_stream(vtsim_t *s, const vt_twiml_verb_t *stream)
{
    apr_pool_t *p;
    vtss_t *t;
    const char *sid;
    vtsim_stream_end_t end;

    apr_pool_create(&p, s->pool);
    t = apr_pcalloc(p, sizeof(*t));
    t->s = s;
    t->pool = p;
    t->tfd = -1;
    t->url = vt_twiml_verb_attr(stream, "url");
    t->end = VTSIM_STREAM_FAILED;
    t->rx = apr_palloc(p, VT_SM_MESSAGE_MAX);
    read_params(t, stream);
    if (!(sid = vtsim_random_sid(p, "MZ")) || !(t->ps = vt_sm_parser_create())
        || !(t->signature = vt_signature_compute(p, s->token, t->url, NULL))) {
        vtsim_error("cannot set the stream up (no randomness or memory)");
        end = VTSIM_STREAM_ERROR;
    }
    else {
        apr_cpystrn(t->stream_sid, sid, sizeof(t->stream_sid));
        print_start(t);
        if (context_create(t) == 0 && connect_stream(t) == 0) {
            while (!t->done && lws_service(t->ctx, 0) >= 0) {
            }
            end = t->end;
        }
        else {
            end = VTSIM_STREAM_ERROR;
        }
    }
    stream_free(t);
    apr_pool_destroy(p);
    fflush(stdout);
    return end;
}
