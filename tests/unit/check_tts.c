/* vt_tts: the request body, what is refused before sending, and vt_tts_speak against a
 * small HTTP server on 127.0.0.1 that streams its answer in pieces: raw 24 kHz PCM and a
 * streamed stereo WAV become 8 kHz µ-law as they arrive, the callback stops the audio
 * (barge-in), a late first byte and an error answer fail with a short text and no key. */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_g711.h"
#include "vt_rest.h"
#include "vt_tts.h"
#include "vt_wav.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define KEY "sk-SECRET-tts-0123456789"

static vt_tts_conf_t conf_for(const char *base, const char *format)
{
    vt_tts_conf_t c = { base, "gpt-4o-mini-tts", "alloy", KEY, format, 0 };
    return c;
}

/* ---------------------------------------------------------------- request, refusals */

START_TEST(test_request_json)
{
    vt_tts_conf_t c = conf_for("http://x/v1", NULL);
    const char *j = vt_tts_request_json(vt_test_pool, &c, "Say \"hi\" / bye");

    ck_assert_str_eq(j, "{\"model\":\"gpt-4o-mini-tts\",\"input\":\"Say \\\"hi\\\" / bye\","
                        "\"voice\":\"alloy\",\"response_format\":\"pcm\"}");
    ck_assert_ptr_null(strstr(j, KEY));
    c.voice = NULL;
    c.format = "wav";
    ck_assert_str_eq(vt_tts_request_json(vt_test_pool, &c, "x"),
                     "{\"model\":\"gpt-4o-mini-tts\",\"input\":\"x\",\"response_format\":\"wav\"}");
    c.format = "mp3";
    ck_assert_ptr_null(vt_tts_request_json(vt_test_pool, &c, "x"));
}
END_TEST

static int count_cb(void *baton, const uint8_t *ulaw, size_t len)
{
    (void)ulaw;
    *(size_t *)baton += len;
    return 0;
}

START_TEST(test_speak_refused)
{
    vt_tts_conf_t c = conf_for("http://127.0.0.1:9/v1", "pcm");
    vt_tts_result_t res;
    vt_tts_http_t *h;
    char *long_text = apr_palloc(vt_test_pool, VT_TTS_TEXT_MAX + 2);
    size_t got = 0;

    vt_rest_global_init();
    h = vt_tts_http_create(vt_test_pool);
    memset(long_text, 'a', VT_TTS_TEXT_MAX + 1);
    long_text[VT_TTS_TEXT_MAX + 1] = '\0';
    ck_assert_int_eq(vt_tts_speak(NULL, vt_test_pool, &c, "Hi", 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, " \n ", 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    ck_assert_str_eq(res.error, "nothing to say");
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, NULL, 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, long_text, 1000, 0, count_cb, &got,
                                  &res), APR_EINVAL);
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, "caf\xe9", 1000, 0, count_cb, &got,
                                  &res), APR_EINVAL);
    ck_assert_str_eq(res.error, "the text is not UTF-8");
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, "Hi", 1000, 0, NULL, &got, &res),
                     APR_EINVAL);
    c.pcm_rate = 96000;
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, "Hi", 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    c.pcm_rate = 0;
    c.format = "opus";
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, "Hi", 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    c.format = "pcm";
    c.base_url = "http://user:" KEY "@127.0.0.1/v1";
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, "Hi", 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    c.base_url = "http://127.0.0.1:9/v1";
    c.api_key = KEY "\nX: y";
    ck_assert_int_eq(vt_tts_speak(h, vt_test_pool, &c, "Hi", 1000, 0, count_cb, &got, &res),
                     APR_EINVAL);
    ck_assert_ptr_null(strstr(res.error, "SECRET"));
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(res.first_audio_ms, -1);
}
END_TEST

/* ---------------------------------------------------------------- the streaming server */

/* One connection at a time: reads a request (headers and Content-Length body), waits
 * delay_ms, then sends head and body, the body in pieces of piece bytes gap_ms apart. */
typedef struct srv {
    int lfd, port, stop;
    pthread_t th;
    pthread_mutex_t mu;
    const char *head, *body;
    size_t body_len, piece;
    int delay_ms, gap_ms;
    char req[16384];
    int requests;
} srv_t;

static int srv_stopping(srv_t *s)
{
    pthread_mutex_lock(&s->mu);
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* Waits up to ms (-1: until stopped) for fd to be readable; 1 when it is. */
static int srv_wait(srv_t *s, int fd, int ms)
{
    struct pollfd pf = { fd, POLLIN, 0 };

    for (int waited = 0; !srv_stopping(s) && (ms < 0 || waited < ms); waited += 10)
        if (poll(&pf, 1, 10) > 0)
            return 1;
    return 0;
}

static int srv_read_request(srv_t *s, int fd)
{
    size_t len = 0;
    char *end;

    for (;;) {
        if ((end = memmem(s->req, len, "\r\n\r\n", 4))) {
            const char *cl = strcasestr(s->req, "Content-Length:");
            size_t want = (size_t)(end + 4 - s->req) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
            if (len >= want)
                break;
        }
        if (len >= sizeof s->req - 1 || !srv_wait(s, fd, -1))
            return 0;
        ssize_t r = recv(fd, s->req + len, sizeof s->req - 1 - len, 0);
        if (r <= 0)
            return 0;
        len += (size_t)r;
        s->req[len] = '\0';
    }
    pthread_mutex_lock(&s->mu);
    s->requests++;
    pthread_mutex_unlock(&s->mu);
    return 1;
}

static int srv_send(int fd, const char *d, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, d + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

static void srv_answer(srv_t *s, int fd)
{
    char sink[256];

    /* a client that gives up closes the connection: that ends the wait */
    if (s->delay_ms && srv_wait(s, fd, s->delay_ms) && recv(fd, sink, sizeof sink, MSG_PEEK) <= 0)
        return;
    if (srv_send(fd, s->head, strlen(s->head)) < 0)
        return;
    for (size_t off = 0; off < s->body_len; off += s->piece) {
        size_t n = s->body_len - off < s->piece ? s->body_len - off : s->piece;
        if (srv_send(fd, s->body + off, n) < 0)
            return;
        if (s->gap_ms)
            usleep((useconds_t)s->gap_ms * 1000);
    }
}

static void *srv_main(void *arg)
{
    srv_t *s = arg;

    while (srv_wait(s, s->lfd, -1)) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        while (srv_read_request(s, fd))
            srv_answer(s, fd);
        close(fd);
    }
    return NULL;
}

static apr_status_t srv_stop(void *arg)
{
    srv_t *s = arg;

    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->th, NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
    return APR_SUCCESS;
}

/* Serves status, type and body (with a Content-Length) to every request until the test
 * pool goes. */
static srv_t *srv_start(const char *status, const char *type, const char *body, size_t len,
                        size_t piece, int gap_ms, int delay_ms)
{
    srv_t *s = apr_pcalloc(vt_test_pool, sizeof *s);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;

    s->head = apr_psprintf(vt_test_pool, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
                           "Content-Length: %" APR_SIZE_T_FMT "\r\n\r\n", status, type, len);
    s->body = body;
    s->body_len = len;
    s->piece = piece ? piece : len + 1;
    s->gap_ms = gap_ms;
    s->delay_ms = delay_ms;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(s->lfd, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(s->lfd, 8), 0);
    ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
    s->port = ntohs(a.sin_port);
    pthread_mutex_init(&s->mu, NULL);
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
    /* Registered before the client: runs after its cleanup closed the connection. */
    apr_pool_cleanup_register(vt_test_pool, s, srv_stop, apr_pool_cleanup_null);
    return s;
}

static const char *srv_base(const srv_t *s)
{
    return apr_psprintf(vt_test_pool, "http://127.0.0.1:%d/v1", s->port);
}

static vt_tts_http_t *client(void)
{
    vt_rest_global_init();
    vt_tts_http_t *h = vt_tts_http_create(vt_test_pool);
    ck_assert_ptr_nonnull(h);
    return h;
}

/* ---------------------------------------------------------------- speaking */

/* What the callback saw. */
typedef struct heard {
    uint8_t ulaw[16000];
    size_t len;
    int calls;
    size_t stop_after;   /* > 0: stop once this much came */
} heard_t;

static int heard_cb(void *baton, const uint8_t *ulaw, size_t len)
{
    heard_t *h = baton;

    ck_assert_uint_le(h->len + len, sizeof h->ulaw);
    memcpy(h->ulaw + h->len, ulaw, len);
    h->len += len;
    h->calls++;
    return h->stop_after && h->len >= h->stop_after;
}

static int zero_crossings(const heard_t *h)
{
    int z = 0;

    for (size_t i = 1; i < h->len; i++)
        z += (vt_ulaw_to_pcm(h->ulaw[i - 1]) < 0) != (vt_ulaw_to_pcm(h->ulaw[i]) < 0);
    return z;
}

/* 1 s of a 440 Hz tone as raw PCM16 LE at rate, channels interleaved. */
static char *tone_pcm(int rate, int channels, size_t *len)
{
    unsigned char *b = apr_palloc(vt_test_pool, (size_t)rate * 2 * (size_t)channels);

    for (int i = 0; i < rate; i++) {
        int16_t v = (int16_t)lrint(8000.0 * sin(2.0 * M_PI * 440.0 * i / rate));
        for (int c = 0; c < channels; c++) {
            b[(i * channels + c) * 2] = (unsigned char)(v & 0xff);
            b[(i * channels + c) * 2 + 1] = (unsigned char)((uint16_t)v >> 8);
        }
    }
    *len = (size_t)rate * 2 * (size_t)channels;
    return (char *)b;
}

START_TEST(test_speak_raw_pcm)
{
    size_t len;
    char *pcm = tone_pcm(24000, 1, &len);
    srv_t *s = srv_start("200 OK", "audio/pcm", pcm, len, 4801, 5, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "pcm");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;

    ck_assert_int_eq(vt_tts_speak(client(), vt_test_pool, &c, "Hello there", 5000, 2000,
                                  heard_cb, h, &res), APR_SUCCESS);
    ck_assert_ptr_null(res.error);
    ck_assert_int_eq(res.http_status, 200);
    ck_assert(!res.timed_out && !res.aborted);
    ck_assert_msg(h->len >= 8000 - 160 && h->len <= 8000 + 160, "%zu bytes", h->len);
    ck_assert_uint_eq(res.bytes, h->len);
    ck_assert_int_gt(h->calls, 3); /* streamed, not at the end */
    ck_assert_int_ge(res.first_audio_ms, 0);
    ck_assert_int_lt(res.first_audio_ms, apr_time_as_msec(res.elapsed) + 1);
    ck_assert_msg(zero_crossings(h) > 860 && zero_crossings(h) < 900, "%d", zero_crossings(h));
    ck_assert_ptr_nonnull(strstr(s->req, "POST /v1/audio/speech "));
    ck_assert_ptr_nonnull(strstr(s->req, "Authorization: Bearer " KEY "\r\n"));
    ck_assert_ptr_nonnull(strstr(s->req, "\"input\":\"Hello there\""));
    ck_assert_ptr_nonnull(strstr(s->req, "\"response_format\":\"pcm\""));
}
END_TEST

/* A WAV streamed before its size was known (OpenAI writes 0xFFFFFFFF), stereo 16 kHz,
 * with a LIST chunk; cut into odd pieces. */
START_TEST(test_speak_streamed_wav)
{
    size_t len;
    char *pcm = tone_pcm(16000, 2, &len);
    static const char head[] =
        "RIFF\xff\xff\xff\xffWAVE"
        "LIST\x04\0\0\0INFO"
        "fmt \x10\0\0\0\x01\0\x02\0\x80\x3e\0\0\0\xfa\0\0\x04\0\x10\0"
        "data\xff\xff\xff\xff";
    char *wav = apr_palloc(vt_test_pool, sizeof head - 1 + len);
    memcpy(wav, head, sizeof head - 1);
    memcpy(wav + sizeof head - 1, pcm, len);
    srv_t *s = srv_start("200 OK", "audio/wav", wav, sizeof head - 1 + len, 3333, 1, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "wav");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;

    c.api_key = NULL;
    ck_assert_int_eq(vt_tts_speak(client(), vt_test_pool, &c, "Hi", 5000, 0, heard_cb, h,
                                  &res), APR_SUCCESS);
    ck_assert_msg(h->len >= 8000 - 160 && h->len <= 8000 + 160, "%zu bytes", h->len);
    ck_assert_msg(zero_crossings(h) > 860 && zero_crossings(h) < 900, "%d", zero_crossings(h));
    ck_assert_ptr_null(strcasestr(s->req, "Authorization:"));
    ck_assert_ptr_nonnull(strstr(s->req, "\"response_format\":\"wav\""));
}
END_TEST

/* The callback stops the audio: success, aborted, only what was played counted. */
START_TEST(test_speak_barge_in)
{
    size_t len;
    char *pcm = tone_pcm(24000, 1, &len);
    srv_t *s = srv_start("200 OK", "audio/pcm", pcm, len, 4800, 5, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "pcm");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;
    vt_tts_http_t *http = client();

    h->stop_after = 1600;
    ck_assert_int_eq(vt_tts_speak(http, vt_test_pool, &c, "Hello", 5000, 0, heard_cb, h, &res),
                     APR_SUCCESS);
    ck_assert(res.aborted);
    ck_assert_ptr_null(res.error);
    ck_assert_uint_ge(h->len, 1600);
    ck_assert_uint_lt(h->len, 4000);
    ck_assert_uint_eq(res.bytes, h->len);
    /* the handle is fine for the next exchange */
    h->stop_after = 0;
    h->len = 0;
    ck_assert_int_eq(vt_tts_speak(http, vt_test_pool, &c, "Again", 5000, 0, heard_cb, h, &res),
                     APR_SUCCESS);
    ck_assert_uint_ge(h->len, 8000 - 160);
}
END_TEST

/* No first byte within first_byte_ms: APR_TIMEUP then, not at the total budget. */
START_TEST(test_speak_first_byte_late)
{
    size_t len;
    char *pcm = tone_pcm(24000, 1, &len);
    srv_t *s = srv_start("200 OK", "audio/pcm", pcm, len, 0, 0, 3000);
    vt_tts_conf_t c = conf_for(srv_base(s), "pcm");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;

    ck_assert_int_eq(vt_tts_speak(client(), vt_test_pool, &c, "Hello", 5000, 250, heard_cb, h,
                                  &res), APR_TIMEUP);
    ck_assert(res.timed_out);
    ck_assert_int_ge(apr_time_as_msec(res.elapsed), 240);
    ck_assert_msg(apr_time_as_msec(res.elapsed) < 1000, "%ld ms",
                  (long)apr_time_as_msec(res.elapsed));
    ck_assert_str_eq(res.error, "no answer began within 250 ms");
    ck_assert_uint_eq(h->len, 0);
    ck_assert_int_eq(res.first_audio_ms, -1);
}
END_TEST

/* The total budget bounds a stream that trickles in. */
START_TEST(test_speak_total_budget)
{
    size_t len;
    char *pcm = tone_pcm(24000, 1, &len);
    srv_t *s = srv_start("200 OK", "audio/pcm", pcm, len, 2400, 100, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "pcm");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;

    ck_assert_int_eq(vt_tts_speak(client(), vt_test_pool, &c, "Hello", 450, 200, heard_cb, h,
                                  &res), APR_TIMEUP);
    ck_assert(res.timed_out);
    ck_assert_uint_gt(h->len, 0);  /* what came in time was played */
    ck_assert_uint_lt(h->len, 8000);
    ck_assert_int_ge(res.first_audio_ms, 0);
}
END_TEST

START_TEST(test_speak_http_error)
{
    static const char body[] = "{\"error\":{\"message\":\"Incorrect API key provided: " KEY
                               "\",\"type\":\"invalid_request_error\"}}";
    srv_t *s = srv_start("401 Unauthorized", "application/json", body, sizeof body - 1, 0, 0, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "pcm");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;

    ck_assert_int_eq(vt_tts_speak(client(), vt_test_pool, &c, "Hello", 5000, 1000, heard_cb, h,
                                  &res), APR_EGENERAL);
    ck_assert_int_eq(res.http_status, 401);
    ck_assert_str_eq(res.error, "HTTP 401: Incorrect API key provided: ***");
    ck_assert_uint_eq(h->len, 0);
}
END_TEST

/* A 200 answer that is JSON (a confused server) is not played as noise. */
START_TEST(test_speak_json_200)
{
    static const char body[] = "{\"error\":{\"message\":\"voice not found\"}}";
    srv_t *s = srv_start("200 OK", "application/json", body, sizeof body - 1, 0, 0, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "pcm");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;

    ck_assert_int_eq(vt_tts_speak(client(), vt_test_pool, &c, "Hello", 5000, 0, heard_cb, h,
                                  &res), APR_EGENERAL);
    ck_assert_ptr_nonnull(strstr(res.error, "voice not found"));
    ck_assert_uint_eq(h->len, 0);
}
END_TEST

/* Audio that is no 16-bit PCM WAV, and an answer without audio. */
START_TEST(test_speak_bad_audio)
{
    static const char mp3[] = "ID3\x04\0\0\0\0\0\0\xff\xfb\x90\x64\0\0\0\0\0\0\0\0\0\0\0\0";
    srv_t *s = srv_start("200 OK", "audio/wav", mp3, sizeof mp3 - 1, 0, 0, 0);
    srv_t *e = srv_start("200 OK", "audio/pcm", "", 0, 0, 0, 0);
    vt_tts_conf_t c = conf_for(srv_base(s), "wav");
    heard_t *h = apr_pcalloc(vt_test_pool, sizeof *h);
    vt_tts_result_t res;
    vt_tts_http_t *http = client();

    ck_assert_int_eq(vt_tts_speak(http, vt_test_pool, &c, "Hello", 5000, 0, heard_cb, h, &res),
                     APR_EGENERAL);
    ck_assert_str_eq(res.error, "the audio is not 16-bit PCM WAV or raw PCM");
    c = conf_for(srv_base(e), "pcm");
    ck_assert_int_eq(vt_tts_speak(http, vt_test_pool, &c, "Hello", 5000, 0, heard_cb, h, &res),
                     APR_EGENERAL);
    ck_assert_str_eq(res.error, "the answer has no audio");
    ck_assert_uint_eq(h->len, 0);
}
END_TEST

Suite *vt_suite_tts(void)
{
    Suite *s = suite_create("tts");
    TCase *tc = tcase_create("request");
    TCase *http = tcase_create("http");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_request_json);
    tcase_add_test(tc, test_speak_refused);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(http, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_set_timeout(http, 20);
    tcase_add_test(http, test_speak_raw_pcm);
    tcase_add_test(http, test_speak_streamed_wav);
    tcase_add_test(http, test_speak_barge_in);
    tcase_add_test(http, test_speak_first_byte_late);
    tcase_add_test(http, test_speak_total_budget);
    tcase_add_test(http, test_speak_http_error);
    tcase_add_test(http, test_speak_json_200);
    tcase_add_test(http, test_speak_bad_audio);
    suite_add_tcase(s, http);
    return s;
}
