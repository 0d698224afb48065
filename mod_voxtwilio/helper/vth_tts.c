/* vth_tts — espeak-ng speech (vt_espeak) for the offline backend and the apology clip,
 * cached per language and text. espeak-ng is not thread-safe: only the TTS worker thread
 * synthesizes, one text at a time; the cache is that thread's alone. */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "vth_media.h"
#include "vt_espeak.h"
#include "vt_log.h"

#define VTH_TTS_CACHE_MAX (64L * 1024 * 1024) /* µ-law bytes kept: about 2 hours of speech */
#define VTH_TTS_TEXT_MAX 4000                  /* bytes of one text */

static struct {
    apr_pool_t *pool;
    apr_hash_t *clips;
    size_t bytes;
} cache;

int vth_tts_init(void)
{
    /* Nothing else runs yet, so silencing stderr (vt_espeak_start) hides no other line. */
    if (vt_espeak_start() < 0) {
        vt_log(VT_LOG_ERR, "espeak-ng cannot start (is espeak-ng-data installed?)");
        return -1;
    }
    apr_pool_create_unmanaged(&cache.pool);
    cache.clips = apr_hash_make(cache.pool);
    return 0;
}

/* text -> µ-law 8 kHz in p. */
static vth_clip_t *synthesize(apr_pool_t *p, const char *language, const char *text)
{
    size_t len = 0;
    uint8_t *ulaw;
    vth_clip_t *clip;

    vt_espeak_set_language(language);
    ulaw = vt_espeak_ulaw(text, &len);
    if (!ulaw) {
        return NULL;
    }
    clip = apr_palloc(p, sizeof *clip);
    clip->ulaw = apr_pmemdup(p, ulaw, len ? len : 1);
    clip->len = len;
    free(ulaw);
    return clip;
}

const vth_clip_t *vth_tts_clip_in(apr_pool_t *p, const char *language, const char *text)
{
    const char *key;
    vth_clip_t *clip;

    if (!cache.clips || !text || !*text || strlen(text) > VTH_TTS_TEXT_MAX) {
        return NULL;
    }
    key = apr_pstrcat(p, language ? language : "", "\n", text, NULL);
    clip = apr_hash_get(cache.clips, key, APR_HASH_KEY_STRING);
    if (clip) {
        return clip;
    }
    /* Fixed phrases (greetings, menus, apologies) come back call after call: kept while
     * there is room; the rest lives as long as the caller's pool. */
    if (cache.bytes < VTH_TTS_CACHE_MAX) {
        clip = synthesize(cache.pool, language, text);
        if (clip) {
            apr_hash_set(cache.clips, apr_pstrdup(cache.pool, key), APR_HASH_KEY_STRING, clip);
            cache.bytes += clip->len;
        }
        return clip;
    }
    return synthesize(p, language, text);
}
