/* vt_tts — the streaming text-to-speech client; see vt_tts.h. */
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vt_tts.h"
#include "vt_util.h"
#include "vt_wav.h"

vt_tts_http_t *vt_tts_http_create(apr_pool_t *p)
{
    return vt_llm_http_create(p);
}

static const char *tts_format(const vt_tts_conf_t *conf)
{
    return conf->format && *conf->format ? conf->format : "pcm";
}

const char *vt_tts_request_json(apr_pool_t *p, const vt_tts_conf_t *conf, const char *text)
{
    const char *fmt = tts_format(conf), *out;
    json_object *req;

    if (strcmp(fmt, "pcm") != 0 && strcmp(fmt, "wav") != 0)
        return NULL;
    req = json_object_new_object();
    json_object_object_add(req, "model", json_object_new_string(conf->model ? conf->model : ""));
    json_object_object_add(req, "input", json_object_new_string(text ? text : ""));
    if (conf->voice && *conf->voice)
        json_object_object_add(req, "voice", json_object_new_string(conf->voice));
    json_object_object_add(req, "response_format", json_object_new_string(fmt));
    out = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN
                                                  | JSON_C_TO_STRING_NOSLASHESCAPE);
    out = out ? apr_pstrdup(p, out) : NULL;
    json_object_put(req);
    return out;
}

/* Why text cannot be spoken, or NULL. */
static const char *text_problem(const char *text)
{
    size_t len = text ? strlen(text) : 0, i = 0;
    int blank = 1;

    if (len > VT_TTS_TEXT_MAX)
        return "the text is too long";
    while (i < len) {
        size_t k = vt_utf8_decode((const unsigned char *)text + i, len - i, NULL);
        if (k == 0)
            return "the text is not UTF-8";
        blank = blank && k == 1 && (unsigned char)text[i] <= ' ';
        i += k;
    }
    return blank ? "nothing to say" : NULL;
}

/* One exchange's decoding state, the sink's baton. */
typedef struct speak {
    vt_wav_reader_t *reader;
    vt_ulaw8k_t *conv;          /* made once the reader knows the rate */
    vt_tts_audio_fn *cb;
    void *baton;
    apr_time_t start;
    vt_tts_result_t *res;
    const char *why;            /* the audio could not be decoded */
    int stopped;                /* cb said stop */
} speak_t;

/* A piece of the body: decoded, converted and played; nonzero stops the transfer. */
static int speak_sink(void *baton, const char *data, size_t len)
{
    speak_t *s = baton;
    const int16_t *pcm;
    const uint8_t *ulaw;
    size_t n, ulen;

    if (vt_wav_reader_feed(s->reader, data, len, &pcm, &n) < 0) {
        s->why = vt_wav_reader_error(s->reader);
        return 1;
    }
    if (n == 0)
        return 0;
    /* The reader only gives samples at a rate it took, which the converter takes too. */
    if (!s->conv && !(s->conv = vt_ulaw8k_create(vt_wav_reader_rate(s->reader)))) {
        s->why = "out of memory";
        return 1;
    }
    if (vt_ulaw8k_feed(s->conv, pcm, n, &ulaw, &ulen) < 0) {
        s->why = "out of memory";
        return 1;
    }
    if (ulen == 0)
        return 0;
    if (s->res->first_audio_ms < 0)
        s->res->first_audio_ms = (long)apr_time_as_msec(apr_time_now() - s->start);
    s->res->bytes += ulen;
    if (s->cb(s->baton, ulaw, ulen) != 0) {
        s->stopped = 1;
        return 1;
    }
    return 0;
}

/* What is checked before anything is sent: the URL, or NULL with res->error. */
static const char *speak_url(apr_pool_t *p, const vt_tts_conf_t *conf, const char *text,
                             vt_tts_audio_fn *cb, vt_tts_result_t *res)
{
    const char *err;
    int rate = conf ? conf->pcm_rate : 0;

    if (!conf || !conf->model || !*conf->model || !cb) {
        res->error = "no model or no callback";
        return NULL;
    }
    if ((err = text_problem(text))) {
        res->error = err;
        return NULL;
    }
    if (rate != 0 && (rate < VT_WAV_RATE_MIN || rate > VT_WAV_RATE_MAX)) {
        res->error = "the PCM rate is outside 8000..48000 Hz";
        return NULL;
    }
    return vt_http_endpoint(p, conf->base_url, "/audio/speech", &res->error);
}

/* The outcome once the transfer is over (s->reader still there). */
static apr_status_t speak_outcome(apr_status_t rv, const speak_t *s, vt_tts_result_t *res)
{
    if (rv == APR_EINTR && s->stopped) {
        res->aborted = 1;   /* barge-in: what the caller asked for */
        res->error = NULL;
        return APR_SUCCESS;
    }
    if (rv == APR_EINTR) {
        /* The reader's reasons are static: nothing of the answer in them. */
        res->error = s->why && strcmp(s->why, "out of memory") == 0
                         ? s->why : "the audio is not 16-bit PCM WAV or raw PCM";
        return s->why && strcmp(s->why, "out of memory") == 0 ? APR_ENOMEM : APR_EGENERAL;
    }
    if (rv == APR_SUCCESS && res->bytes == 0) {
        res->error = vt_wav_reader_rate(s->reader) ? "the answer has no audio"
                                                   : "the answer ended before any audio";
        return APR_EGENERAL;
    }
    return rv;
}

apr_status_t vt_tts_speak(vt_tts_http_t *http, apr_pool_t *p, const vt_tts_conf_t *conf,
                          const char *text, long budget_ms, long first_byte_ms,
                          vt_tts_audio_fn *cb, void *baton, vt_tts_result_t *res)
{
    vt_http_post_t x = { 0 };
    speak_t s = { 0 };
    int raw;
    apr_status_t rv;

    memset(res, 0, sizeof *res);
    res->first_audio_ms = -1;
    if (!http) {
        res->error = "no HTTP client";
        return APR_EINVAL;
    }
    if (!(x.url = speak_url(p, conf, text, cb, res)))
        return APR_EINVAL;
    if (!(x.json = vt_tts_request_json(p, conf, text))) {
        res->error = "the format is neither pcm nor wav";
        return APR_EINVAL;
    }
    raw = strcmp(tts_format(conf), "pcm") == 0;
    if (!(s.reader = vt_wav_reader_create(raw ? (conf->pcm_rate ? conf->pcm_rate
                                                                : VT_TTS_PCM_RATE) : 0))) {
        res->error = "out of memory";
        return APR_ENOMEM;
    }
    s.cb = cb;
    s.baton = baton;
    s.res = res;
    s.start = apr_time_now();
    x.api_key = conf->api_key;
    x.timeout_ms = budget_ms;
    x.first_byte_ms = first_byte_ms;
    x.max_response = VT_TTS_AUDIO_MAX;
    x.sink = speak_sink;
    x.baton = &s;
    rv = vt_http_post(http, p, &x);
    res->http_status = x.http_status;
    res->timed_out = x.timed_out;
    res->error = x.error;
    res->elapsed = x.elapsed;
    rv = speak_outcome(rv, &s, res);
    vt_ulaw8k_destroy(s.conv);
    vt_wav_reader_destroy(s.reader);
    return rv;
}
