/* vt_tts — a client for any OpenAI-compatible text-to-speech endpoint (OpenAI, speaches,
 * Kokoro-FastAPI, vLLM-Omni): POST {base_url}/audio/speech with JSON {"model", "input",
 * "voice", "response_format": "pcm" | "wav"}, the answer streamed: as each piece of audio
 * arrives it is decoded (vt_wav reader), resampled to 8 kHz and encoded as µ-law
 * (vt_ulaw8k), and handed to a callback, so the caller hears the start of a reply while
 * the rest is still being synthesized.
 *
 *   static int play(void *baton, const uint8_t *ulaw, size_t len)
 *   { queue(baton, ulaw, len); return caller_talks(baton); }   // nonzero: stop (barge-in)
 *
 *   vt_tts_conf_t conf = { base_url, "gpt-4o-mini-tts", "alloy", api_key, "pcm", 0 };
 *   rv = vt_tts_speak(http, p, &conf, "Hello!", 8000, 1500, play, stream, &res);
 *   if (rv != APR_SUCCESS) log(res.error);       // the caller falls back (espeak-ng)
 *
 * The API key goes only into the Authorization header (vt_http_post), never into the body
 * or an error text; an error answer's message is sanitized (vt_llm_error_text) and any
 * copy of the key in it masked. The audio is untrusted: the reader takes only 16-bit PCM.
 */
#ifndef VT_TTS_H
#define VT_TTS_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>
#include <apr_time.h>

#include "vt_llm.h"

#define VT_TTS_TEXT_MAX 4096                /* bytes of input (OpenAI's limit, characters) */
#define VT_TTS_AUDIO_MAX (16 * 1024 * 1024) /* bytes of audio; ~5 min of 24 kHz PCM */
#define VT_TTS_PCM_RATE 24000               /* OpenAI's "pcm": 24 kHz 16-bit LE mono */

typedef struct vt_tts_conf {
    const char *base_url;   /* "https://api.openai.com/v1" */
    const char *model;      /* "tts-1", "gpt-4o-mini-tts", "kokoro" */
    const char *voice;      /* "alloy"; NULL or "": not sent (the server's default) */
    const char *api_key;    /* NULL or "": no Authorization header (a local server) */
    const char *format;     /* "pcm" (NULL: the same) or "wav" (the header gives the rate) */
    int pcm_rate;           /* "pcm": the server's rate; 0: VT_TTS_PCM_RATE */
} vt_tts_conf_t;

typedef struct vt_tts_result {
    long http_status;       /* 0 when no HTTP answer arrived */
    int timed_out;          /* 1 when the total or the first-byte budget ran out */
    int aborted;            /* 1 when the callback stopped the audio */
    const char *error;      /* on failure: a short text for the log (no key, no body) */
    long first_audio_ms;    /* from the start to the first µ-law piece; -1: none */
    apr_interval_time_t elapsed;
    size_t bytes;           /* µ-law bytes given to the callback (8 per ms) */
} vt_tts_result_t;

/* A piece of 8 kHz µ-law (valid during the call only). Nonzero stops the transfer. */
typedef int vt_tts_audio_fn(void *baton, const uint8_t *ulaw, size_t len);

/* The HTTP client is the language model's (one libcurl handle, connections reused; one
 * caller at a time; cleaned up with p). */
typedef vt_llm_http_t vt_tts_http_t;
vt_tts_http_t *vt_tts_http_create(apr_pool_t *p);

/* The request body (in p); NULL when format is neither "pcm" nor "wav". Never contains
 * the key. */
const char *vt_tts_request_json(apr_pool_t *p, const vt_tts_conf_t *conf, const char *text);

/* Speaks text (UTF-8, not blank, at most VT_TTS_TEXT_MAX bytes): the audio goes to cb as
 * it arrives. budget_ms bounds the whole exchange, connect included; first_byte_ms > 0
 * (less than budget_ms to matter) bounds the wait for the answer's first byte.
 * APR_SUCCESS: the audio was played to its end, or cb stopped it (res->aborted: not an
 * error). Otherwise res->error says why, and some audio may have been played already
 * (res->bytes): APR_TIMEUP (res->timed_out), APR_EGENERAL (transport, non-2xx, oversized,
 * audio that is no 16-bit PCM, no audio at all), APR_ENOMEM, APR_EINVAL (nothing sent: no
 * client, a bad base URL, key, text or format). res is always filled. */
apr_status_t vt_tts_speak(vt_tts_http_t *http, apr_pool_t *p, const vt_tts_conf_t *conf,
                          const char *text, long budget_ms, long first_byte_ms,
                          vt_tts_audio_fn *cb, void *baton, vt_tts_result_t *res);

#endif
