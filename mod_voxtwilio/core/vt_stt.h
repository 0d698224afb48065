/* vt_stt — a client for any OpenAI-compatible speech-to-text endpoint (OpenAI, whisper.cpp's
 * server, speaches, vLLM): POST {base_url}/audio/transcriptions with the utterance as a WAV
 * file in multipart/form-data (file=utterance.wav, model, language, response_format=json),
 * and the parser of its answer.
 *
 *   vt_stt_http_t *http = vt_stt_http_create(pool);     // once per thread; reused
 *   vt_stt_conf_t conf = { base_url, "whisper-1", api_key, vt_stt_language(p, "en-US") };
 *   if (vt_stt_transcribe(http, p, &conf, pcm8k, n, 4000, &reply, &res) == APR_SUCCESS)
 *       ... reply.text (may be ""), reply.confidence (-1: unknown)
 *   else log(res.error);                                 // short, never the key
 *
 * The API key goes only into the Authorization header (vt_http_post), never into the form
 * or an error text (any copy a server echoes is masked). The answer is untrusted (fuzzed):
 * JSON {"text": ...} (also verbose_json, whose segments give a confidence), or the plain
 * text of servers that answer response_format=text whatever they were asked.
 */
#ifndef VT_STT_H
#define VT_STT_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>
#include <apr_time.h>

#include "vt_llm.h"

#define VT_STT_RESPONSE_MAX (64 * 1024) /* bytes of an answer; more is an error */
#define VT_STT_TEXT_MAX 2000            /* bytes of a transcript kept */

typedef struct vt_stt_conf {
    const char *base_url;   /* "https://api.openai.com/v1" */
    const char *model;      /* "whisper-1", "gpt-4o-mini-transcribe" */
    const char *api_key;    /* NULL or "": no Authorization header (a local server) */
    const char *language;   /* ISO-639-1 ("en"; vt_stt_language), or NULL/"": not sent,
                             * the server guesses */
} vt_stt_conf_t;

typedef struct vt_stt_reply {
    const char *text;       /* one line: control characters as spaces, blanks collapsed,
                             * trimmed, invalid UTF-8 as U+FFFD, at most VT_STT_TEXT_MAX
                             * bytes (cut at a character); "" when nothing was heard */
    double confidence;      /* 0..1 from verbose_json's segments; -1 unknown */
    const char *language;   /* as the server names it ("en", "english"), or NULL */
} vt_stt_reply_t;

typedef struct vt_stt_result {
    long http_status;       /* 0 when no HTTP answer arrived */
    int timed_out;          /* 1 when the budget ran out */
    const char *error;      /* on failure: a short text for the log (no key, no body) */
    apr_interval_time_t elapsed;
} vt_stt_result_t;

/* The HTTP client is the language model's (one libcurl handle, connections reused; one
 * caller at a time; cleaned up with p): a thread may use one for both. */
typedef vt_llm_http_t vt_stt_http_t;
vt_stt_http_t *vt_stt_http_create(apr_pool_t *p);

/* The language part of a BCP-47 tag as speech-to-text takes it: "en-US" -> "en", "es" ->
 * "es"; Norwegian "nb"/"nn" -> "no", Filipino "fil" -> "tl" (Whisper's names); NULL when
 * there is none or it is a code Whisper does not know the shape of. */
const char *vt_stt_language(apr_pool_t *p, const char *bcp47);

/* Parses an answer body (in p). APR_SUCCESS with *reply; APR_EINVAL with *why (static or
 * in p): larger than VT_STT_RESPONSE_MAX, JSON that is not an object with a string "text"
 * (the server's own error message when it sent one). A body that does not start with '{'
 * (after blanks) is the transcript itself. */
apr_status_t vt_stt_response_parse(apr_pool_t *p, const char *body, size_t len,
                                   vt_stt_reply_t *reply, const char **why);

/* Transcribes n samples of 8 kHz mono PCM in at most budget_ms, connect included.
 * APR_SUCCESS with *reply; otherwise res->error says why: APR_TIMEUP (res->timed_out),
 * APR_EGENERAL (transport, non-2xx, oversized or unusable answer), APR_EINVAL (nothing
 * sent: no client, a bad base URL or key, no model). res is always filled. */
apr_status_t vt_stt_transcribe(vt_stt_http_t *http, apr_pool_t *p, const vt_stt_conf_t *conf,
                               const int16_t *pcm8k, size_t n, long budget_ms,
                               vt_stt_reply_t *reply, vt_stt_result_t *res);

#endif
