/* bench_stream_load — plays Twilio's side of N concurrent Media Streams (twilio-protocol.md
 * §12) against a server: the helper directly (TCP or unix socket), the helper through
 * Apache's mod_proxy_wstunnel, or the Node peer (shared/peers/stream-node). Per stream:
 * `connected`, `start`, then one 160-byte µ-law `media` frame every 20 ms for the duration,
 * then `stop`. The server answers every media frame with exactly one media frame, in order,
 * so the k-th answer of a stream is matched to its k-th frame.
 *
 *   bench_stream_load --n 200 --duration 20 [--url ws://127.0.0.1:3001/] [--unix PATH]
 *       [--pid SERVER_PID] [--late-ms 20] [--grace-ms 2000] [--json OUT] [--host HOST]
 *       [--sig-file FILE] [--param NAME=VALUE]... [--tick-us 1000] [--loop libev|poll]
 *       [--caller-audio FILE.ulaw [--gap-ms 0]]
 *
 * The figures and their definitions are those of the peer's load-client.js, so both
 * clients can measure one server in one run: frames sent and received, round trip
 * p50/p99/max, late answers (> --late-ms), missing answers, late sends (a frame written
 * more than 10 ms after its schedule: the client itself fell behind), and the CPU of the
 * server's process tree (--pid), of this client and of everything else, over the window
 * from the first frame's schedule to the last frame's write. Exit status 3 when a stream
 * failed to connect, an answer is missing or one is malformed, as the peer's client.
 *
 * --sig-file: one "PATH SIGNATURE [ACCOUNT_SID CALL_SID [STREAM_URL]]" line per stream
 * (blank and # lines skipped); stream i connects to its PATH with `X-Twilio-Signature:
 * SIGNATURE`, names that call in `start`, and sends X-VoxTwilio-Stream-URL when it goes to
 * the helper without Apache. Without it every stream uses the URL's path, random SIDs and
 * no signature.
 *
 * Cost: it shares the cores with the server it measures, so it is kept cheap. One lws
 * context, one service thread; every write happens in CLIENT_WRITEABLE, one lws_write
 * per callback. lws runs on a libev loop with epoll (--loop libev, the default): lws
 * 4.1's own loop calls poll() on every socket at every wake-up, which at hundreds of
 * streams costs more than the frames. One timerfd in the same loop is the frame clock
 * and the phase timer (see "timer" below for why not lws_sul). Messages are written with
 * vt_stream_msg's writers per frame (seq, chunk and timestamp change) and answers parsed
 * with vt_sm_parse, one parser per stream.
 *
 * --caller-audio (the voice pipeline's benchmark, bench/pipeline.sh): the frames are the
 * file's raw 8 kHz µ-law, then --gap-ms of silence, in a loop, each stream starting at its
 * own place in it (streams talk at different moments), and the client plays Twilio's
 * side of a conversation instead of expecting echoes: the server's media are "played" in
 * real time (a clock per stream), each of its marks is echoed when the audio before it has
 * played, `clear` empties the queue and echoes the pending marks at once. Round trips and
 * missing answers do not apply; it reports the media received, the seconds of audio, the
 * marks and clears.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/timerfd.h>

#include <ev.h>
#include <libwebsockets.h>

#include "vt_g711.h"
#include "vt_stream_msg.h"

#define FRAME_NS 20000000LL     /* 20 ms of audio per media frame */
#define FRAME_BYTES 160         /* 20 ms of 8 kHz µ-law */
#define AUDIO_FRAMES 50         /* 1 s of test audio, sent in a loop */
#define LATE_SEND_MS 10.0       /* as load-client.js: the client fell behind */
#define START_DELAY_MS 200      /* from `start` to the first frame, as load-client.js */
#define STOP_WAIT_MS 1000       /* for the server to close after `stop` */
#define NS_PER_MS 1000000LL
#define NS_PER_ULAW_BYTE 125000LL   /* 8 kHz */
#define MARKS_MAX 32                /* pending marks of a stream (--caller-audio) */

enum { S_CONNECTING, S_OPEN, S_FAILED, S_CLOSED };
enum { P_CONNECT, P_START, P_SEND, P_DRAIN, P_STOP, P_DONE };
enum { W_CONNECTED = 1, W_START = 2, W_STOP = 4 };   /* control messages still to write */
enum { L_EPOLL, L_POLL };                            /* --loop */
static const char *const loop_names[] = { "epoll", "poll" };

typedef struct opts {
    const char *url, *unix_path, *host_arg, *json_out, *sig_file;
    char address[256], host[256], path[512];
    int port, n, frames, loop;     /* loop: L_* */
    double duration, late_ms, grace_ms;
    long pid, tick_us;
    vt_sm_param_t params[VT_SM_PARAMS_MAX];
    int nparams;
    const char *caller_audio;      /* --caller-audio: a conversation, not echoes */
    double gap_ms;
} opts_t;

typedef struct stream {
    struct run *run;
    struct lws *wsi;
    int state, want, due;       /* want: W_* flags; due: frames scheduled, not written */
    int sent, recv;
    long seq;
    int64_t first_due, next_due;    /* CLOCK_MONOTONIC ns */
    int64_t *sent_at;               /* [frames]: when each media frame was written */
    const char *path, *sig, *stream_url; /* stream_url: X-VoxTwilio-Stream-URL (direct) */
    char stream_sid[VT_SM_SID_LEN + 1], account_sid[VT_SM_SID_LEN + 1];
    char call_sid[VT_SM_SID_LEN + 1];
    vt_sm_parser_t *ps;
    char *rx;                       /* a fragmented message being put together */
    size_t rx_len, rx_cap;
    /* --caller-audio */
    long audio_off;                 /* its first frame's place in the caller's audio */
    int64_t play_until;             /* the server's audio received plays until then */
    int nmarks;                     /* pending marks, oldest first */
    int64_t mark_due[MARKS_MAX];
    char marks[MARKS_MAX][VT_SM_NAME_MAX + 1];
} stream_t;

typedef struct cpu_mark {
    int64_t t;
    long long server, self, all;    /* clock ticks from /proc */
    long long busy, total;          /* the machine's ticks from /proc/stat */
    double user_s, sys_s;           /* this process, getrusage */
} cpu_mark_t;

typedef struct run {
    opts_t o;
    struct lws_context *ctx;
    stream_t *st, **live;
    int nlive, phase, unresolved, open, finished;
    /* frame clock: live[] in phase order, visited round robin */
    int cursor, tfd;
    long scheduled, to_schedule;
    int64_t clock_at, phase_at;     /* next wake-ups, 0: none */
    int64_t t0, deadline;
    /* results */
    double *rtt;
    long nrtt, late, late_sends, bad_echo, connect_failed, closed_early;
    long media_in, marks_in, marks_echoed, clears;   /* --caller-audio */
    int64_t played_ns;
    double max_send_lag_ms;
    char first_error[160];
    cpu_mark_t m0, m1;
    int done;
} run_t;

static uint8_t audio[AUDIO_FRAMES][FRAME_BYTES];
static uint8_t *caller;            /* --caller-audio: whole frames, the gap included */
static long caller_frames;
static struct ev_loop *evloop;     /* --loop libev: lws runs on it (epoll) */
static unsigned char txbuf[LWS_PRE + 2048];

/* ---------------------------------------------------------------- small helpers */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *msg, const char *arg)
{
    fprintf(stderr, "bench_stream_load: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    exit(2);
}

static void note_error(run_t *r, const char *what, const char *detail)
{
    if (!r->first_error[0])
        snprintf(r->first_error, sizeof r->first_error, "%s%s%s", what,
                 detail ? ": " : "", detail ? detail : "");
}

/* A Twilio SID: two letters and 32 hex digits. */
static void random_sid(char *out, const char *prefix)
{
    uint8_t b[16];
    int i;

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        die("getrandom failed", NULL);
    memcpy(out, prefix, 2);
    for (i = 0; i < 16; i++)
        sprintf(out + 2 + 2 * i, "%02x", b[i]);
}

/* 1 s of a 440 Hz tone plus a little noise, like load-client.js. */
static void make_audio(void)
{
    int f, i;

    for (f = 0; f < AUDIO_FRAMES; f++)
        for (i = 0; i < FRAME_BYTES; i++) {
            double t = (f * FRAME_BYTES + i) / 8000.0;
            double noise = 500.0 * ((double)rand() / RAND_MAX - 0.5);
            audio[f][i] = vt_ulaw_from_pcm((int16_t)lround(8000.0 * sin(2 * M_PI * 440 * t)
                                                           + noise));
        }
}

/* --caller-audio: the file's µ-law in whole frames (the last one padded with silence),
 * then the gap's silence. */
static void load_caller_audio(const opts_t *o)
{
    FILE *f = fopen(o->caller_audio, "rb");
    long len, gap = (long)lround(o->gap_ms / 20) * FRAME_BYTES, total;

    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        die("cannot read --caller-audio", o->caller_audio);
    total = (len + FRAME_BYTES - 1) / FRAME_BYTES * FRAME_BYTES + gap;
    if (total == 0)
        die("--caller-audio is empty and there is no gap", o->caller_audio);
    if (!(caller = malloc((size_t)total)))
        die("out of memory", NULL);
    memset(caller, 0xFF, (size_t)total);     /* µ-law silence */
    if (len && fread(caller, 1, (size_t)len, f) != (size_t)len)
        die("cannot read --caller-audio", o->caller_audio);
    fclose(f);
    caller_frames = total / FRAME_BYTES;
}

/* ---------------------------------------------------------------- CPU from /proc */

/* utime+stime+cutime+cstime of one process, as load-client.js counts it; -1 when gone. */
static long long proc_ticks(const char *pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    long long cut, cst;
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (!(p = strrchr(buf, ')')))
        return -1;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
               &ut, &st, &cut, &cst) != 4)
        return -1;
    return (long long)(ut + st) + cut + cst;
}

/* A process and its descendants, through /proc/PID/task/TID/children. */
static long long tree_ticks(long pid)
{
    char path[64], kids[4096], spid[24];
    long long sum;
    struct dirent *de;
    DIR *d;

    snprintf(spid, sizeof spid, "%ld", pid);
    if ((sum = proc_ticks(spid)) < 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    if (!(d = opendir(path)))
        return sum;
    while ((de = readdir(d))) {
        char cpath[400], *tok, *save;
        FILE *f;
        size_t n;

        if (de->d_name[0] == '.')
            continue;
        snprintf(cpath, sizeof cpath, "%s/%s/children", path, de->d_name);
        if (!(f = fopen(cpath, "r")))
            continue;
        n = fread(kids, 1, sizeof kids - 1, f);
        fclose(f);
        kids[n] = '\0';
        for (tok = strtok_r(kids, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
            sum += tree_ticks(atol(tok));
    }
    closedir(d);
    return sum;
}

/* Every process on the machine. */
static long long all_ticks(void)
{
    long long sum = 0, t;
    struct dirent *de;
    DIR *d = opendir("/proc");

    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && (t = proc_ticks(de->d_name)) > 0)
            sum += t;
    closedir(d);
    return sum;
}

/* All cores: busy and total ticks (idle and iowait are not busy). */
static void machine_ticks(long long *busy, long long *total)
{
    long long v[10] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    int i;

    *busy = *total = 0;
    if (!f)
        return;
    if (fscanf(f, "cpu %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1],
               &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) >= 8)
        for (i = 0; i < 8; i++) {   /* guest time is already in user */
            *total += v[i];
            if (i != 3 && i != 4)
                *busy += v[i];
        }
    fclose(f);
}

static void cpu_mark(run_t *r, cpu_mark_t *m)
{
    struct rusage ru;

    m->t = now_ns();
    m->server = r->o.pid > 0 ? tree_ticks(r->o.pid) : 0;
    m->self = tree_ticks((long)getpid());
    m->all = all_ticks();
    machine_ticks(&m->busy, &m->total);
    getrusage(RUSAGE_SELF, &ru);
    m->user_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    m->sys_s = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ---------------------------------------------------------------- writing */

static size_t media_json(stream_t *s, char *out, size_t cap)
{
    const uint8_t *frame = caller
                               ? caller + (s->audio_off + s->sent) % caller_frames * FRAME_BYTES
                               : audio[s->sent % AUDIO_FRAMES];

    return vt_sm_inbound_media_json(out, cap, ++s->seq, s->stream_sid, s->sent + 1,
                                    (long)s->sent * 20, frame, FRAME_BYTES);
}

static void window_end(run_t *r);

/* Bookkeeping of a media frame about to be written: its time and how late it is. */
static void media_sending(run_t *r, stream_t *s, int64_t now)
{
    double lag = (now - (s->first_due + (int64_t)s->sent * FRAME_NS)) / (double)NS_PER_MS;

    if (lag > LATE_SEND_MS)
        r->late_sends++;
    if (lag > r->max_send_lag_ms)
        r->max_send_lag_ms = lag;
    s->sent_at[s->sent] = now;
}

static void media_sent(run_t *r, stream_t *s)
{
    s->sent++;
    s->due--;
    if (s->sent == r->o.frames && ++r->finished == r->nlive)
        window_end(r);
}

/* --caller-audio: the oldest pending mark is written; the rest move up. */
static void mark_echoed(run_t *r, stream_t *s)
{
    s->nmarks--;
    memmove(s->mark_due, s->mark_due + 1, sizeof *s->mark_due * (size_t)s->nmarks);
    memmove(s->marks, s->marks + 1, sizeof *s->marks * (size_t)s->nmarks);
    r->marks_echoed++;
}

/* One message per WRITEABLE: connected, start, marks due (--caller-audio), the frames
 * due, then stop. */
static int on_writeable(run_t *r, stream_t *s)
{
    char *p = (char *)txbuf + LWS_PRE;
    size_t cap = sizeof txbuf - LWS_PRE, n;
    int media = 0;

    if (s->state != S_OPEN)
        return 0;
    if (s->want & W_CONNECTED) {
        s->want &= ~W_CONNECTED;
        n = vt_sm_connected_json(p, cap);
    } else if (s->want & W_START) {
        s->want &= ~W_START;
        n = vt_sm_start_json(p, cap, ++s->seq, s->stream_sid, s->account_sid, s->call_sid,
                             r->o.params, r->o.nparams);
    } else if (s->nmarks && s->mark_due[0] <= now_ns()) {
        n = vt_sm_mark_echo_json(p, cap, ++s->seq, s->stream_sid, s->marks[0]);
        mark_echoed(r, s);
    } else if (s->due > 0) {
        media = 1;
        n = media_json(s, p, cap);
    } else if (s->want & W_STOP) {
        s->want &= ~W_STOP;
        n = vt_sm_stop_json(p, cap, ++s->seq, s->stream_sid, s->account_sid, s->call_sid);
    } else {
        return 0;   /* spurious */
    }
    if (!n)
        die("a message did not fit the write buffer", NULL);
    if (media)
        media_sending(r, s, now_ns());
    if (lws_write(s->wsi, txbuf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n) {
        note_error(r, "lws_write failed", NULL);
        return -1;
    }
    if (media)
        media_sent(r, s);
    if (s->state == S_OPEN
        && (s->want || s->due > 0 || (s->nmarks && s->mark_due[0] <= now_ns())))
        lws_callback_on_writable(s->wsi);
    return 0;
}

/* ---------------------------------------------------------------- receiving */

/* --caller-audio: what Twilio does with the server's messages. */
static void on_conversation(run_t *r, stream_t *s, const vt_stream_msg_t *m, int64_t now)
{
    int i;

    if (!m->stream_sid || strcmp(m->stream_sid, s->stream_sid) != 0) {
        r->bad_echo++;
        note_error(r, "unexpected message", "wrong streamSid");
        return;
    }
    if (m->event == VT_SM_MEDIA) {
        r->media_in++;
        r->played_ns += (int64_t)m->payload_len * NS_PER_ULAW_BYTE;
        s->play_until = (s->play_until > now ? s->play_until : now)
                        + (int64_t)m->payload_len * NS_PER_ULAW_BYTE;
    } else if (m->event == VT_SM_MARK) {
        r->marks_in++;
        if (s->nmarks == MARKS_MAX) {
            r->bad_echo++;
            note_error(r, "too many pending marks", NULL);
            return;
        }
        snprintf(s->marks[s->nmarks], sizeof s->marks[0], "%s", m->mark_name);
        s->mark_due[s->nmarks++] = s->play_until > now ? s->play_until : now;
    } else if (m->event == VT_SM_CLEAR) {
        r->clears++;
        for (i = 0; i < s->nmarks; i++)
            s->mark_due[i] = now;
        s->play_until = now;
        if (s->nmarks)
            lws_callback_on_writable(s->wsi);
    }
}

static void on_message(run_t *r, stream_t *s, const char *buf, size_t len, int64_t now)
{
    vt_stream_msg_t m;
    const char *err;
    double rtt;

    if (vt_sm_parse(s->ps, buf, len, &m, &err) != 0) {
        r->bad_echo++;
        note_error(r, "answer does not parse", err);
        return;
    }
    if (caller) {
        on_conversation(r, s, &m, now);
        return;
    }
    if (m.event != VT_SM_MEDIA)
        return;
    if (s->recv >= s->sent || !m.stream_sid || strcmp(m.stream_sid, s->stream_sid) != 0
        || m.payload_len != FRAME_BYTES) {
        r->bad_echo++;
        note_error(r, "unexpected answer", s->recv >= s->sent ? "more answers than frames"
                   : "wrong streamSid or payload length");
        return;
    }
    rtt = (now - s->sent_at[s->recv++]) / (double)NS_PER_MS;
    r->rtt[r->nrtt++] = rtt;
    if (rtt > r->o.late_ms)
        r->late++;
}

/* lws hands a message over in pieces of at most rx_buffer_size: put them together. */
static void on_receive(run_t *r, stream_t *s, const char *in, size_t len, int final,
                       int binary)
{
    int64_t now = now_ns();

    if (!final || s->rx_len) {
        if (s->rx_len + len > VT_SM_MESSAGE_MAX) {
            r->bad_echo++;
            note_error(r, "answer too large", NULL);
            s->rx_len = 0;
            return;
        }
        if (s->rx_len + len > s->rx_cap) {
            s->rx_cap = s->rx_len + len + 1024;
            if (!(s->rx = realloc(s->rx, s->rx_cap)))
                die("out of memory", NULL);
        }
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
        if (!final)
            return;
        in = s->rx;
        len = s->rx_len;
        s->rx_len = 0;
    }
    if (binary) {
        r->bad_echo++;
        note_error(r, "binary answer", NULL);
        return;
    }
    on_message(r, s, in, len, now);
}

/* ---------------------------------------------------------------- phases */

static void start_phase(run_t *r);
static void stop_phase(run_t *r);
static void finish(run_t *r);

static void check_connects(run_t *r)
{
    if (r->phase == P_CONNECT && r->unresolved == 0)
        start_phase(r);
}

static void stream_closed(run_t *r, stream_t *s)
{
    s->state = S_CLOSED;
    s->wsi = NULL;
    r->open--;
    if (r->phase < P_STOP) {
        r->closed_early++;
        note_error(r, "a stream was closed by the server before stop", NULL);
    }
    if (r->phase >= P_START && r->phase <= P_SEND && s->sent < r->o.frames) {
        r->finished++;      /* it will send no more */
        if (r->phase == P_SEND && r->finished == r->nlive)
            window_end(r);
    }
    if (r->phase == P_STOP && r->open == 0)
        finish(r);
}

static int stream_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                     void *in, size_t len)
{
    stream_t *s = lws_get_opaque_user_data(wsi);
    run_t *r = s ? s->run : NULL;

    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (s && s->sig) {
            unsigned char **p = in, *end = *p + len;

            if (lws_add_http_header_by_name(wsi, (const unsigned char *)"X-Twilio-Signature:",
                                            (const unsigned char *)s->sig,
                                            (int)strlen(s->sig), p, end))
                return -1;
            /* Straight to the helper: the header mod_voxtwilio would add. */
            if (s->stream_url
                && lws_add_http_header_by_name(wsi,
                                               (const unsigned char *)"X-VoxTwilio-Stream-URL:",
                                               (const unsigned char *)s->stream_url,
                                               (int)strlen(s->stream_url), p, end))
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s->state = S_OPEN;
        r->open++;
        r->unresolved--;
        check_connects(r);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s && s->state == S_CONNECTING) {
            s->state = S_FAILED;
            s->wsi = NULL;
            r->connect_failed++;
            r->unresolved--;
            note_error(r, "connect failed", in ? (const char *)in : NULL);
            check_connects(r);
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(r, s);
    case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive(r, s, in, len, lws_is_final_fragment(wsi), lws_frame_is_binary(wsi));
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (s && s->state == S_OPEN)
            stream_closed(r, s);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---------------------------------------------------------------- timer
 * One timerfd, adopted into the lws loop, wakes the loop for the frame clock and for the
 * phase changes (start delay, drain, stop). lws_sul is not used: on lws 4.1.6's poll loop
 * a sul wait is rounded down to whole milliseconds and the loop then polls with a zero
 * timeout until the sul is due (with a frame due every 40 µs at 500 streams, it never
 * sleeps); on its libev loop a sul scheduled earlier than the one already armed waits
 * for that one (ev_timer_set on an active watcher). */

static void timer_arm(run_t *r)
{
    int64_t at = r->clock_at;
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };

    if (r->phase_at && (!at || r->phase_at < at))
        at = r->phase_at;
    its.it_value.tv_sec = at / 1000000000LL;    /* 0: disarmed */
    its.it_value.tv_nsec = at % 1000000000LL;
    if (timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime failed", strerror(errno));
}

/* Marks every live stream whose next frame is due; returns when the next one is due,
 * or 0 when every frame has been scheduled. */
static int64_t clock_tick(run_t *r, int64_t now)
{
    while (r->scheduled < r->to_schedule) {
        stream_t *s = r->live[r->cursor];

        if (s->next_due > now)
            return s->next_due;
        s->next_due += FRAME_NS;
        r->scheduled++;
        r->cursor = (r->cursor + 1) % r->nlive;
        if (s->state == S_OPEN) {
            s->due++;
            lws_callback_on_writable(s->wsi);
        }
    }
    return 0;
}

/* Runs the frame clock; its next wake-up is at least --tick-us away (the peer's client
 * ticks every 1 ms), so at hundreds of streams one wake-up serves a batch of frames. */
static void clock_run(run_t *r, int64_t now)
{
    int64_t next = clock_tick(r, now), min = now + r->o.tick_us * 1000;

    r->clock_at = next && next < min ? min : next;
}

static void phase_fire(run_t *r);

static void on_timer(run_t *r)
{
    uint64_t expirations;
    int64_t now;

    if (read(r->tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        die("read of the timerfd failed", strerror(errno));
    now = now_ns();
    if (r->phase_at && r->phase_at <= now) {
        r->phase_at = 0;
        phase_fire(r);
    }
    if (r->phase == P_SEND && r->clock_at && r->clock_at <= now)
        clock_run(r, now);
    timer_arm(r);
}

static run_t *the_run;  /* for the timer's raw wsi, which has no stream */

static int timer_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                    void *in, size_t len)
{
    if (reason == LWS_CALLBACK_RAW_RX_FILE) {
        on_timer(the_run);
        return 0;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void timer_open(run_t *r)
{
    lws_sock_file_fd_type fd;
    struct lws_vhost *vh = lws_get_vhost_by_name(r->ctx, "default");

    r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (r->tfd < 0 || !vh)
        die("cannot create the timer", strerror(errno));
    fd.filefd = r->tfd;
    if (!lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "timer", NULL))
        die("lws cannot adopt the timerfd", NULL);
}

/* ---------------------------------------------------------------- phase changes */

static void phase_in(run_t *r, int phase, int64_t ms)
{
    r->phase = phase;
    r->phase_at = now_ns() + ms * NS_PER_MS;
    timer_arm(r);
}

/* Every stream is open or has failed: send connected and start; the first frames follow
 * START_DELAY_MS later, their phases spread over one frame period like independent calls. */
static void start_phase(run_t *r)
{
    int i, k;

    r->live = calloc((size_t)r->o.n, sizeof *r->live);
    if (!r->live)
        die("out of memory", NULL);
    for (i = 0; i < r->o.n; i++)
        if (r->st[i].state == S_OPEN)
            r->live[r->nlive++] = &r->st[i];
    if (!r->nlive) {
        finish(r);
        return;
    }
    r->t0 = now_ns() + START_DELAY_MS * NS_PER_MS;
    for (k = 0; k < r->nlive; k++) {
        stream_t *s = r->live[k];

        s->first_due = s->next_due = r->t0 + FRAME_NS * k / r->nlive;
        s->want = W_CONNECTED | W_START;
        lws_callback_on_writable(s->wsi);
    }
    r->to_schedule = (long)r->nlive * r->o.frames;
    phase_in(r, P_START, START_DELAY_MS);
}

static void window_start(run_t *r)
{
    cpu_mark(r, &r->m0);
    r->phase = P_SEND;
    if (r->finished == r->nlive)
        window_end(r);      /* every stream closed during the start delay */
    else
        clock_run(r, now_ns());
}

/* The last frame is written: the measurement window ends, answers may still come. */
static void window_end(run_t *r)
{
    cpu_mark(r, &r->m1);
    r->deadline = r->m1.t + (int64_t)(r->o.grace_ms * NS_PER_MS);
    r->clock_at = 0;
    phase_in(r, P_DRAIN, 20);
}

static int answers_outstanding(run_t *r)
{
    int k;

    if (caller)
        return 0;   /* a conversation owes no echoes */
    for (k = 0; k < r->nlive; k++)
        if (r->live[k]->state == S_OPEN && r->live[k]->recv < r->live[k]->sent)
            return 1;
    return 0;
}

static void stop_phase(run_t *r)
{
    int k;

    for (k = 0; k < r->nlive; k++) {
        stream_t *s = r->live[k];

        if (s->state == S_OPEN) {
            s->want |= W_STOP;
            lws_callback_on_writable(s->wsi);
        }
    }
    phase_in(r, P_STOP, STOP_WAIT_MS);
    if (r->open == 0)
        finish(r);
}

static void finish(run_t *r)
{
    r->phase = P_DONE;
    r->phase_at = r->clock_at = 0;
    r->done = 1;
    if (evloop)
        ev_break(evloop, EVBREAK_ALL);
}

static void phase_fire(run_t *r)
{
    switch (r->phase) {
    case P_START:
        window_start(r);
        break;
    case P_DRAIN:
        if (answers_outstanding(r) && now_ns() < r->deadline)
            phase_in(r, P_DRAIN, 20);
        else
            stop_phase(r);
        break;
    case P_STOP:
        finish(r);      /* the server did not close every stream after stop: we do */
        break;
    default:
        break;
    }
}

/* ---------------------------------------------------------------- options */

static const char usage[] =
    "usage: bench_stream_load [--n 50] [--duration 20] [--url ws://127.0.0.1:3001/]\n"
    "         [--unix PATH] [--host HOST] [--pid SERVER_PID] [--late-ms 20]\n"
    "         [--grace-ms 2000] [--json OUT|-] [--sig-file FILE] [--param NAME=VALUE]...\n"
    "         [--tick-us 1000] [--loop libev|poll] [--caller-audio FILE.ulaw [--gap-ms 0]]\n";

/* ws://HOST[:PORT][/PATH] into address, port, host header and path. */
static void parse_url(opts_t *o)
{
    const char *h, *slash, *colon;
    size_t hl;

    if (strncmp(o->url, "ws://", 5) != 0)
        die("--url must start with ws://", o->url);
    h = o->url + 5;
    slash = strchr(h, '/');
    hl = slash ? (size_t)(slash - h) : strlen(h);
    if (hl == 0 || hl >= sizeof o->host)
        die("bad host in --url", o->url);
    snprintf(o->host, sizeof o->host, "%.*s", (int)hl, h);
    snprintf(o->path, sizeof o->path, "%s", slash ? slash : "/");
    snprintf(o->address, sizeof o->address, "%s", o->host);
    o->port = 80;
    if ((colon = strchr(o->address, ':'))) {
        o->port = atoi(colon + 1);
        o->address[colon - o->address] = '\0';
    }
    if (o->port <= 0 || o->port > 65535)
        die("bad port in --url", o->url);
}

static void add_param(opts_t *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *name;

    if (!eq || eq == arg || o->nparams == VT_SM_PARAMS_MAX)
        die("--param wants NAME=VALUE (at most 16)", arg);
    name = strndup(arg, (size_t)(eq - arg));
    o->params[o->nparams].name = name;
    o->params[o->nparams++].value = eq + 1;
}

static int loop_arg(const char *v)
{
    int i;

    for (i = 0; i <= L_POLL; i++)
        if (!strcmp(v, loop_names[i]))
            return i;
    die("--loop is epoll or poll", v);
    return 0;
}

static void parse_args(opts_t *o, int argc, char **argv)
{
    int i;

    *o = (opts_t){ .url = "ws://127.0.0.1:3001/", .n = 50, .duration = 20, .late_ms = 20,
                   .grace_ms = 2000, .tick_us = 1000 };
    for (i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!strcmp(k, "-h") || !strcmp(k, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (!v || strncmp(k, "--", 2) != 0)
            die("bad or incomplete option", k);
        i++;
        if (!strcmp(k, "--n")) o->n = atoi(v);
        else if (!strcmp(k, "--duration")) o->duration = atof(v);
        else if (!strcmp(k, "--url")) o->url = v;
        else if (!strcmp(k, "--unix")) o->unix_path = v;
        else if (!strcmp(k, "--host")) o->host_arg = v;
        else if (!strcmp(k, "--pid")) o->pid = atol(v);
        else if (!strcmp(k, "--late-ms")) o->late_ms = atof(v);
        else if (!strcmp(k, "--grace-ms")) o->grace_ms = atof(v);
        else if (!strcmp(k, "--json")) o->json_out = v;
        else if (!strcmp(k, "--sig-file")) o->sig_file = v;
        else if (!strcmp(k, "--param")) add_param(o, v);
        else if (!strcmp(k, "--tick-us")) o->tick_us = atol(v);
        else if (!strcmp(k, "--loop")) o->loop = loop_arg(v);
        else if (!strcmp(k, "--caller-audio")) o->caller_audio = v;
        else if (!strcmp(k, "--gap-ms")) o->gap_ms = atof(v);
        else die("unknown option", k);
    }
    o->frames = (int)lround(o->duration * 50);
    if (o->n <= 0 || o->frames <= 0 || o->tick_us < 0 || o->gap_ms < 0)
        die("--n and --duration must be positive", NULL);
    parse_url(o);
    if (o->host_arg)
        snprintf(o->host, sizeof o->host, "%s", o->host_arg);
}

/* --sig-file: "PATH SIGNATURE [ACCOUNT_SID CALL_SID [STREAM_URL]]" per stream, in order:
 * the SIDs go into `start` (a real gateway checks them against the URL's call), the URL
 * into X-VoxTwilio-Stream-URL (the helper without Apache in front). */
static void read_sig_file(run_t *r)
{
    FILE *f = fopen(r->o.sig_file, "r");
    char line[2048];
    int i = 0;

    if (!f)
        die("cannot open --sig-file", r->o.sig_file);
    while (i < r->o.n && fgets(line, sizeof line, f)) {
        char path[1024], sig[512], ac[VT_SM_SID_LEN + 1], ca[VT_SM_SID_LEN + 1], url[1024];
        int k = line[0] == '#' ? 0 : sscanf(line, "%1023s %511s %34s %34s %1023s", path, sig,
                                            ac, ca, url);

        if (k < 2)
            continue;
        if (path[0] != '/')
            die("a --sig-file path must start with /", path);
        if (k >= 4) {
            memcpy(r->st[i].account_sid, ac, sizeof ac);
            memcpy(r->st[i].call_sid, ca, sizeof ca);
        }
        if (k == 5)
            r->st[i].stream_url = strdup(url);
        r->st[i].path = strdup(path);
        r->st[i++].sig = strdup(sig);
    }
    fclose(f);
    if (i < r->o.n)
        die("--sig-file has fewer lines than --n streams", r->o.sig_file);
}

/* ---------------------------------------------------------------- setup */

static const struct lws_protocols protocols[] = {
    { "twilio-stream", stream_cb, 0, 4096, 0, NULL, 0 },
    { "timer", timer_cb, 0, 0, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void raise_fd_limit(int need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max : (rlim_t)need;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* lws's own loop polls every socket at every wake-up; with --loop libev (default) lws
 * runs on a libev loop with epoll, which costs only the sockets that are ready. */
static void create_context(run_t *r)
{
    struct lws_context_creation_info info;
    void *loops[1];

    memset(&info, 0, sizeof info);
    if (r->o.loop != L_POLL) {
        if (!(evloop = ev_loop_new(EVBACKEND_EPOLL)))
            die("ev_loop_new failed", NULL);
        loops[0] = evloop;
        info.foreign_loops = loops;
        info.options |= LWS_SERVER_OPTION_LIBEV;
    }
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    /* no fd_limit_per_thread: below the ulimit, lws 4.1 finds a socket's wsi by a linear
     * search at every event (wsi_from_fd) instead of indexing a table */
    info.timeout_secs = 30;
    info.connect_timeout_secs = 20;
    lws_set_log_level(LLL_ERR, NULL);
    if (!(r->ctx = lws_create_context(&info)))
        die("lws_create_context failed", NULL);
}

static void init_streams(run_t *r)
{
    int i;

    r->st = calloc((size_t)r->o.n, sizeof *r->st);
    r->rtt = malloc(sizeof *r->rtt * (size_t)r->o.n * (size_t)r->o.frames);
    if (!r->st || !r->rtt)
        die("out of memory", NULL);
    for (i = 0; i < r->o.n; i++) {
        stream_t *s = &r->st[i];

        s->run = r;
        s->path = r->o.path;
        random_sid(s->stream_sid, "MZ");
        random_sid(s->account_sid, "AC");
        random_sid(s->call_sid, "CA");
        s->audio_off = caller_frames ? (long)i * caller_frames / r->o.n : 0;
        s->sent_at = calloc((size_t)r->o.frames, sizeof *s->sent_at);
        if (!s->sent_at || !(s->ps = vt_sm_parser_create()))
            die("out of memory", NULL);
    }
    if (r->o.sig_file)
        read_sig_file(r);
}

static void connect_all(run_t *r)
{
    char address[sizeof r->o.address + 2];
    int i;

    if (r->o.unix_path)
        snprintf(address, sizeof address, "+%s", r->o.unix_path);   /* lws: unix socket */
    else
        snprintf(address, sizeof address, "%s", r->o.address);
    r->unresolved = r->o.n;
    for (i = 0; i < r->o.n; i++) {
        struct lws_client_connect_info ci;
        stream_t *s = &r->st[i];

        memset(&ci, 0, sizeof ci);
        ci.context = r->ctx;
        ci.address = address;
        ci.port = r->o.port;
        ci.path = s->path;
        ci.host = r->o.host;
        ci.origin = r->o.host;
        ci.local_protocol_name = "twilio-stream";
        ci.opaque_user_data = s;
        ci.pwsi = &s->wsi;
        if (!lws_client_connect_via_info(&ci) && s->state == S_CONNECTING) {
            s->state = S_FAILED;
            s->wsi = NULL;
            r->connect_failed++;
            r->unresolved--;
            note_error(r, "connect failed", NULL);
        }
    }
    check_connects(r);
}

/* ---------------------------------------------------------------- report */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* As load-client.js: the element at floor(p% of n). */
static double pct(const double *a, long n, double p)
{
    long i = (long)floor(p / 100 * n);

    return n ? a[i < n - 1 ? i : n - 1] : NAN;
}

typedef struct report {
    long sent, recv;
    double p50, p99, max, window_s, server_s, client_s, client_sys_s, other_s, busy_pct;
} report_t;

static void compute(run_t *r, report_t *rep)
{
    double clk = (double)sysconf(_SC_CLK_TCK);
    long long server = r->m1.server - r->m0.server;
    int k;

    memset(rep, 0, sizeof *rep);
    for (k = 0; k < r->nlive; k++) {
        rep->sent += r->live[k]->sent;
        rep->recv += r->live[k]->recv;
    }
    qsort(r->rtt, (size_t)r->nrtt, sizeof *r->rtt, cmp_double);
    rep->p50 = pct(r->rtt, r->nrtt, 50);
    rep->p99 = pct(r->rtt, r->nrtt, 99);
    rep->max = r->nrtt ? r->rtt[r->nrtt - 1] : NAN;
    rep->window_s = (r->m1.t - r->m0.t) / 1e9;
    rep->server_s = server / clk;
    rep->client_sys_s = r->m1.sys_s - r->m0.sys_s;
    rep->client_s = r->m1.user_s - r->m0.user_s + rep->client_sys_s;
    rep->busy_pct = 100.0 * (r->m1.busy - r->m0.busy)
                    / (double)(r->m1.total - r->m0.total > 0 ? r->m1.total - r->m0.total : 1);
    rep->other_s = (r->m1.all - r->m0.all - server - (r->m1.self - r->m0.self)) / clk;
}

/* A JSON number with 2 decimals, or null. */
static void jnum(FILE *f, const char *key, double v, int last)
{
    if (isfinite(v))
        fprintf(f, "  \"%s\": %.2f%s\n", key, v, last ? "" : ",");
    else
        fprintf(f, "  \"%s\": null%s\n", key, last ? "" : ",");
}

static double per(double a, double b)
{
    return b > 0 ? a / b : NAN;
}

static void write_json(run_t *r, const report_t *p, FILE *f)
{
    const opts_t *o = &r->o;
    double w = p->window_s, srv = o->pid > 0 ? p->server_s : NAN;

    fprintf(f, "{\n  \"client\": \"bench_stream_load\",\n  \"url\": \"%s\",\n", o->url);
    if (o->unix_path)
        fprintf(f, "  \"unix_socket\": \"%s\",\n", o->unix_path);
    fprintf(f, "  \"streams\": %d,\n  \"connected\": %d,\n  \"connect_failed\": %ld,\n"
            "  \"closed_early\": %ld,\n  \"duration_s\": %g,\n  \"frames_sent\": %ld,\n"
            "  \"frames_received\": %ld,\n  \"missing\": %ld,\n  \"bad_echo\": %ld,\n",
            o->n, r->nlive, r->connect_failed, r->closed_early, o->duration, p->sent, p->recv,
            caller ? 0 : p->sent - p->recv, r->bad_echo);
    if (caller)
        fprintf(f, "  \"caller_audio\": \"%s\",\n  \"gap_ms\": %g,\n  \"media_in\": %ld,\n"
                "  \"played_s\": %.2f,\n  \"marks\": %ld,\n  \"marks_echoed\": %ld,\n"
                "  \"clears\": %ld,\n", o->caller_audio, o->gap_ms, r->media_in,
                r->played_ns / 1e9, r->marks_in, r->marks_echoed, r->clears);
    jnum(f, "rtt_p50_ms", p->p50, 0);
    jnum(f, "rtt_p99_ms", p->p99, 0);
    jnum(f, "rtt_max_ms", p->max, 0);
    fprintf(f, "  \"late_ms\": %g,\n  \"late\": %ld,\n", o->late_ms, r->late);
    jnum(f, "late_pct", 100.0 * r->late / (p->recv > 0 ? p->recv : 1), 0);
    fprintf(f, "  \"late_sends\": %ld,\n", r->late_sends);
    jnum(f, "max_send_lag_ms", r->max_send_lag_ms, 0);
    jnum(f, "server_cpu_pct", 100 * per(srv, w), 0);
    jnum(f, "server_us_per_frame", 1e6 * per(srv, (double)p->sent), 0);
    jnum(f, "client_cpu_pct", 100 * per(p->client_s, w), 0);
    jnum(f, "client_us_per_frame", 1e6 * per(p->client_s, (double)p->sent), 0);
    jnum(f, "client_sys_pct", 100 * per(p->client_sys_s, w), 0);
    jnum(f, "other_cpu_pct", 100 * per(p->other_s, w), 0);
    jnum(f, "machine_busy_pct", p->busy_pct, 0);  /* of all cores */
    jnum(f, "window_s", w, 0);
    fprintf(f, "  \"loop\": \"%s\",\n  \"tick_us\": %ld,\n", loop_names[o->loop],
            o->tick_us);
    if (r->first_error[0])
        fprintf(f, "  \"first_error\": \"%s\",\n", r->first_error);
    fprintf(f, "  \"signed\": %s\n}\n", o->sig_file ? "true" : "false");
}

static void print_summary(run_t *r, const report_t *p)
{
    double w = p->window_s;

    printf("streams=%d/%d failed=%ld sent=%ld recv=%ld missing=%ld bad=%ld "
           "rtt p50=%.2f p99=%.2f max=%.2f ms late=%ld (%.2f%%) late-sends=%ld "
           "(max lag %.1f ms) cpu: server=", r->nlive, r->o.n, r->connect_failed, p->sent,
           p->recv, caller ? 0 : p->sent - p->recv, r->bad_echo, p->p50, p->p99, p->max, r->late,
           100.0 * r->late / (p->recv > 0 ? p->recv : 1), r->late_sends, r->max_send_lag_ms);
    if (r->o.pid > 0)
        printf("%.1f%% (%.1f us/frame)", 100 * per(p->server_s, w),
               1e6 * per(p->server_s, (double)p->sent));
    else
        printf("n/a");
    printf(" client=%.1f%% (%.1f us/frame) other=%.1f%% machine=%.0f%% over %.2fs\n",
           100 * per(p->client_s, w), 1e6 * per(p->client_s, (double)p->sent),
           100 * per(p->other_s, w), p->busy_pct, w);
    if (caller)
        printf("conversation: media-in=%ld played=%.1fs marks=%ld echoed=%ld clears=%ld "
               "closed-early=%ld\n", r->media_in, r->played_ns / 1e9, r->marks_in,
               r->marks_echoed, r->clears, r->closed_early);
    if (r->first_error[0])
        printf("first error: %s\n", r->first_error);
}

static void report(run_t *r, report_t *p)
{
    FILE *f;

    compute(r, p);
    print_summary(r, p);
    if (!r->o.json_out)
        return;
    if (!strcmp(r->o.json_out, "-")) {
        write_json(r, p, stdout);
        return;
    }
    if (!(f = fopen(r->o.json_out, "w")))
        die("cannot write --json", r->o.json_out);
    write_json(r, p, f);
    fclose(f);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    static run_t run;
    run_t *r = &run;
    report_t rep;
    int failed;

    parse_args(&r->o, argc, argv);
    the_run = r;
    r->tfd = -1;
    make_audio();
    if (r->o.caller_audio)
        load_caller_audio(&r->o);
    raise_fd_limit(r->o.n + 64);
    init_streams(r);
    create_context(r);
    timer_open(r);
    connect_all(r);
    if (evloop && !r->done)
        ev_run(evloop, 0);
    while (!evloop && !r->done && lws_service(r->ctx, 0) >= 0)
        ;
    r->phase = P_DONE;
    report(r, &rep);
    failed = r->connect_failed || (!caller && rep.sent != rep.recv) || r->bad_echo
             || !r->nlive;
    lws_context_destroy(r->ctx);
    if (evloop)
        ev_loop_destroy(evloop);
    return failed ? 3 : 0;
}
