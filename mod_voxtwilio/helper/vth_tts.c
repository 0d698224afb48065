/* vth_tts — espeak-ng speech for the offline backend and the apology clip: text -> PCM at
 * espeak's rate (22050 Hz) -> 8 kHz (speexdsp) -> µ-law. espeak-ng is not thread-safe: only
 * the TTS worker thread synthesizes, one text at a time; its cache is that thread's alone. */
#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>
#include <espeak-ng/speak_lib.h>

#include "vth_media.h"
#include "vt_audio.h"
#include "vt_g711.h"
#include "vt_log.h"

#define VTH_TTS_CACHE_MAX (64L * 1024 * 1024) /* µ-law bytes kept: about 2 hours of speech */
#define VTH_TTS_TEXT_MAX 4000                  /* bytes of one text */

static int sample_rate;
static struct {
    apr_pool_t *pool;
    apr_hash_t *clips;
    size_t bytes;
} cache;

/* What one synthesis collects. */
typedef struct pcm_buf {
    int16_t *samples;
    size_t n, cap;
    int failed;
} pcm_buf_t;

static int on_samples(short *wav, int n, espeak_EVENT *ev)
{
    pcm_buf_t *b = ev ? ev->user_data : NULL;

    if (!b || !wav || n <= 0) {
        return 0;
    }
    if (b->n + (size_t)n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 65536) + (size_t)n;
        int16_t *more = realloc(b->samples, cap * sizeof *more);
        if (!more) {
            b->failed = 1;
            return 1; /* abort */
        }
        b->samples = more;
        b->cap = cap;
    }
    memcpy(b->samples + b->n, wav, (size_t)n * sizeof *wav);
    b->n += (size_t)n;
    return 0;
}

int vth_tts_init(void)
{
    int err_fd = dup(STDERR_FILENO), null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

    /* espeak-ng opens an audio device client (PulseAudio, through pcaudio) even for
     * synchronous output, which prints to stderr (our ErrorLog) about a home directory a
     * daemon has no use for. Nothing else runs yet: silence stderr meanwhile. */
    if (err_fd >= 0 && null_fd >= 0) {
        dup2(null_fd, STDERR_FILENO);
    }
    sample_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, 0);
    if (err_fd >= 0 && null_fd >= 0) {
        dup2(err_fd, STDERR_FILENO);
    }
    if (err_fd >= 0) {
        close(err_fd);
    }
    if (null_fd >= 0) {
        close(null_fd);
    }
    if (sample_rate <= 0) {
        vt_log(VT_LOG_ERR, "espeak-ng cannot start (is espeak-ng-data installed?)");
        return -1;
    }
    espeak_SetSynthCallback(on_samples);
    apr_pool_create_unmanaged(&cache.pool);
    cache.clips = apr_hash_make(cache.pool);
    return 0;
}

/* "en-US" -> "en-us", else the primary subtag "en", else English. */
static void set_voice(const char *language)
{
    char name[32];
    size_t i;

    for (i = 0; language && language[i] && i < sizeof name - 1; i++) {
        name[i] = (char)tolower((unsigned char)language[i]);
    }
    name[i] = '\0';
    if (i && espeak_SetVoiceByName(name) == EE_OK) {
        return;
    }
    name[strcspn(name, "-")] = '\0';
    if (!*name || espeak_SetVoiceByName(name) != EE_OK) {
        espeak_SetVoiceByName("en");
    }
}

/* text -> µ-law 8 kHz in p. */
static vth_clip_t *synthesize(apr_pool_t *p, const char *language, const char *text)
{
    pcm_buf_t b = { 0 };
    vt_resampler_t *rs;
    vth_clip_t *clip = NULL;
    int16_t *pcm8;
    size_t n8;
    uint8_t *ulaw;

    set_voice(language);
    if (espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
                     espeakCHARS_UTF8 | espeakENDPAUSE, NULL, &b) != EE_OK
        || espeak_Synchronize() != EE_OK || b.failed || b.n == 0) {
        free(b.samples);
        return NULL;
    }
    rs = vt_resampler_create(sample_rate, 8000, VT_RESAMPLER_DEFAULT);
    pcm8 = rs ? malloc((b.n * 8000 / (size_t)sample_rate + 16) * sizeof *pcm8) : NULL;
    if (pcm8) {
        n8 = vt_resampler_process(rs, b.samples, b.n, pcm8, b.n * 8000 / (size_t)sample_rate + 16);
        ulaw = apr_palloc(p, n8 ? n8 : 1);
        vt_ulaw_encode(pcm8, n8, ulaw);
        clip = apr_palloc(p, sizeof *clip);
        clip->ulaw = ulaw;
        clip->len = n8;
    }
    free(pcm8);
    if (rs) {
        vt_resampler_destroy(rs);
    }
    free(b.samples);
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
