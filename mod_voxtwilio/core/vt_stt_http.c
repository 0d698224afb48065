/* vt_stt_http — the speech-to-text exchange: the form and POST over vt_http_post. See
 * vt_stt.h. */
#include <string.h>

#include <apr_strings.h>

#include "vt_stt.h"
#include "vt_util.h"
#include "vt_wav.h"

vt_stt_http_t *vt_stt_http_create(apr_pool_t *p)
{
    return vt_llm_http_create(p);
}

/* The form: the utterance as a WAV file, the model, the language when known. */
static int stt_parts(apr_pool_t *p, const vt_stt_conf_t *conf, const int16_t *pcm8k, size_t n,
                     vt_http_part_t *parts)
{
    int np = 0;

    memset(parts, 0, 4 * sizeof *parts);
    parts[np].name = "file";
    if (!(parts[np].data = vt_wav_pcm16(p, pcm8k, n, 8000, &parts[np].len)))
        return 0;
    parts[np].filename = "utterance.wav";
    parts[np++].type = "audio/wav";
    parts[np].name = "model";
    parts[np].data = conf->model;
    parts[np++].len = strlen(conf->model);
    parts[np].name = "response_format";
    parts[np].data = "json";
    parts[np++].len = 4;
    if (conf->language && *conf->language) {
        parts[np].name = "language";
        parts[np].data = conf->language;
        parts[np++].len = strlen(conf->language);
    }
    return np;
}

apr_status_t vt_stt_transcribe(vt_stt_http_t *http, apr_pool_t *p, const vt_stt_conf_t *conf,
                               const int16_t *pcm8k, size_t n, long budget_ms,
                               vt_stt_reply_t *reply, vt_stt_result_t *res)
{
    const char *err = NULL;
    vt_http_part_t parts[4];
    vt_http_post_t x = { 0 };
    apr_status_t rv;

    memset(res, 0, sizeof *res);
    memset(reply, 0, sizeof *reply);
    reply->confidence = -1;
    if (!http || !conf || !conf->model || !*conf->model || (n && !pcm8k)) {
        res->error = "no HTTP client, model or audio";
        return APR_EINVAL;
    }
    if (!(x.url = vt_http_endpoint(p, conf->base_url, "/audio/transcriptions", &res->error)))
        return APR_EINVAL;
    if (!(x.nparts = stt_parts(p, conf, pcm8k, n, parts))) {
        res->error = "the utterance is too long";
        return APR_EINVAL;
    }
    x.api_key = conf->api_key;
    x.parts = parts;
    x.timeout_ms = budget_ms;
    x.max_response = VT_STT_RESPONSE_MAX;
    rv = vt_http_post(http, p, &x);
    res->http_status = x.http_status;
    res->timed_out = x.timed_out;
    res->error = x.error;
    res->elapsed = x.elapsed;
    if (rv != APR_SUCCESS)
        return rv;
    /* The parser's reasons are static: nothing of the answer (or the key) in them. */
    if (vt_stt_response_parse(p, x.body, x.len, reply, &err) != APR_SUCCESS) {
        res->error = apr_pstrcat(p, "unusable answer: ", err, NULL);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}
