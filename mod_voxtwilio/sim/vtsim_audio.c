/* vtsim_audio — the caller's voice and the call's recording: espeak-ng speech made in a
 * thread of its own (the stream's frames keep their pace meanwhile), WAV files read
 * (--caller-wav) and written (--wav). The caller's audio ends as Twilio's: 8 kHz µ-law.
 *
 * espeak-ng is not thread-safe: only one synthesis thread runs at a time (the stream starts
 * the next one after it has joined the last).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vt_audio.h"
#include "vt_espeak.h"
#include "vt_g711.h"
#include "vtsim.h"

#define VTSIM_WAV_IN_MAX (64L * 1024 * 1024) /* bytes of a --caller-wav file */
#define VTSIM_CALLER_LANGUAGE "en-US"

struct vtsim_tts {
    pthread_t thread;
    atomic_int done;
    char *text;
    uint8_t *ulaw;            /* malloc'd; NULL when synthesis failed */
    size_t len;
};

static int tts_rate;          /* espeak-ng's output rate; 0: not started, -1: failed */

static void *tts_main(void *arg)
{
    vtsim_tts_t *t = arg;

    if (tts_rate == 0) {
        tts_rate = vt_espeak_start();
        if (tts_rate > 0) {
            vt_espeak_set_language(VTSIM_CALLER_LANGUAGE);
        }
    }
    if (tts_rate > 0) {
        t->ulaw = vt_espeak_ulaw(t->text, &t->len);
    }
    atomic_store(&t->done, 1);
    return NULL;
}

vtsim_tts_t *vtsim_tts_start(const char *text)
{
    vtsim_tts_t *t = calloc(1, sizeof(*t));

    if (!t || !(t->text = strdup(text))) {
        free(t);
        return NULL;
    }
    atomic_init(&t->done, 0);
    if (pthread_create(&t->thread, NULL, tts_main, t) != 0) {
        free(t->text);
        free(t);
        return NULL;
    }
    return t;
}

int vtsim_tts_done(vtsim_tts_t *t)
{
    return atomic_load(&t->done);
}

uint8_t *vtsim_tts_finish(vtsim_tts_t *t, size_t *len)
{
    uint8_t *ulaw;

    pthread_join(t->thread, NULL);
    ulaw = t->ulaw;
    *len = ulaw ? t->len : 0;
    free(t->text);
    free(t);
    return ulaw;
}

void vtsim_tts_cleanup(void)
{
    vt_espeak_stop();
    tts_rate = 0;
}

const char *vtsim_tts_error(void)
{
    return tts_rate < 0 ? "espeak-ng cannot start (is espeak-ng-data installed?)"
                        : "espeak-ng could not speak the line";
}

/* ---------------------------------------------------------------- WAV in */

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static unsigned long le32(const unsigned char *p)
{
    return (unsigned long)le16(p) | (unsigned long)le16(p + 2) << 16;
}

typedef struct wav_fmt {
    unsigned tag, channels, bits;
    unsigned long rate;
    const unsigned char *data;
    size_t size;
} wav_fmt_t;

/* Finds the fmt and data chunks of a RIFF WAVE file. NULL, or what is wrong. */
static const char *wav_parse(const unsigned char *f, size_t n, wav_fmt_t *w)
{
    size_t off = 12;

    memset(w, 0, sizeof(*w));
    if (n < 12 || memcmp(f, "RIFF", 4) != 0 || memcmp(f + 8, "WAVE", 4) != 0) {
        return "not a RIFF WAVE file";
    }
    while (off + 8 <= n && !(w->tag && w->data)) {
        size_t size = le32(f + off + 4), body = off + 8;
        size_t have = n - body < size ? n - body : size;
        if (memcmp(f + off, "fmt ", 4) == 0 && have >= 16) {
            w->tag = le16(f + body);
            w->channels = le16(f + body + 2);
            w->rate = le32(f + body + 4);
            w->bits = le16(f + body + 14);
            if (w->tag == 0xFFFE && have >= 26) { /* WAVE_FORMAT_EXTENSIBLE: the sub-format */
                w->tag = le16(f + body + 24);
            }
        }
        else if (memcmp(f + off, "data", 4) == 0) {
            w->data = f + body;
            w->size = have;
        }
        off = body + size + (size & 1);
    }
    if (!w->tag || !w->data) {
        return "no fmt or data chunk";
    }
    if (!((w->tag == 1 && w->bits == 16) || (w->tag == 7 && w->bits == 8))) {
        return "not 16-bit PCM or 8-bit mu-law";
    }
    if (w->channels < 1 || w->channels > 2 || w->rate < 1000 || w->rate > 192000) {
        return "not mono or stereo, or a sample rate outside 1000-192000 Hz";
    }
    return NULL;
}

/* The frames of w as mono PCM (stereo mixed down); malloc'd, *n samples. */
static int16_t *wav_pcm(const wav_fmt_t *w, size_t *n)
{
    size_t width = (w->bits / 8) * w->channels, i, k;
    int16_t *pcm;

    *n = w->size / width;
    if (!(pcm = malloc((*n ? *n : 1) * sizeof(*pcm)))) {
        return NULL;
    }
    for (i = 0; i < *n; i++) {
        long sum = 0;
        for (k = 0; k < w->channels; k++) {
            const unsigned char *p = w->data + i * width + k * (w->bits / 8);
            sum += w->tag == 7 ? vt_ulaw_to_pcm(*p) : (int16_t)le16(p);
        }
        pcm[i] = (int16_t)(sum / (long)w->channels);
    }
    return pcm;
}

int vtsim_wav_read(apr_pool_t *p, const char *path, uint8_t **ulaw, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = malloc(VTSIM_WAV_IN_MAX);
    size_t n = 0, samples;
    const char *why = NULL;
    int16_t *pcm = NULL;
    uint8_t *out = NULL;
    wav_fmt_t w;

    if (!f || !buf) {
        free(buf);
        if (f) {
            fclose(f);
        }
        return vtsim_error("cannot read %s: %s", path, f ? "out of memory" : strerror(errno));
    }
    n = fread(buf, 1, VTSIM_WAV_IN_MAX, f);
    fclose(f);
    if (!(why = wav_parse(buf, n, &w))) {
        if (w.tag == 7 && w.rate == 8000 && w.channels == 1) {
            out = malloc(w.size ? w.size : 1);
            if (out) {
                memcpy(out, w.data, w.size);
                *len = w.size;
            }
        }
        else if ((pcm = wav_pcm(&w, &samples))) {
            out = vt_pcm_to_ulaw8k(pcm, samples, (int)w.rate, len);
        }
        why = out ? NULL : "out of memory";
    }
    free(pcm);
    free(buf);
    if (why) {
        return vtsim_error("%s: %s (--caller-wav takes 8 kHz mono 16-bit PCM or mu-law; other "
                           "rates are resampled)", path, why);
    }
    *ulaw = apr_pmemdup(p, out, *len ? *len : 1);
    free(out);
    return 0;
}

/* ---------------------------------------------------------------- WAV out */

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, unsigned long v)
{
    put16(p, (unsigned)(v & 0xffff));
    put16(p + 2, (unsigned)(v >> 16));
}

/* The 44-byte header of a stereo 8 kHz 16-bit file of `frames` sample frames. */
static void wav_header(unsigned char *h, unsigned long frames)
{
    unsigned long data = frames * 4;

    memcpy(h, "RIFF", 4);
    put32(h + 4, 36 + data);
    memcpy(h + 8, "WAVEfmt ", 8);
    put32(h + 16, 16);
    put16(h + 20, 1);        /* PCM */
    put16(h + 22, 2);        /* left: the caller; right: what the gateway played */
    put32(h + 24, 8000);
    put32(h + 28, 8000 * 4); /* bytes per second */
    put16(h + 32, 4);        /* bytes per frame */
    put16(h + 34, 16);
    memcpy(h + 36, "data", 4);
    put32(h + 40, data);
}

int vtsim_wav_create(vtsim_t *s, const char *path)
{
    unsigned char h[44];

    wav_header(h, 0);
    if (!(s->wav = fopen(path, "wb")) || fwrite(h, 1, sizeof(h), s->wav) != sizeof(h)) {
        return vtsim_error("cannot write %s: %s", path, strerror(errno));
    }
    s->wav_name = path;
    return 0;
}

void vtsim_wav_frame(vtsim_t *s, const uint8_t *left, const uint8_t *right)
{
    unsigned char out[VTSIM_FRAME_BYTES * 4];
    int i;

    if (!s->wav) {
        return;
    }
    for (i = 0; i < VTSIM_FRAME_BYTES; i++) {
        put16(out + 4 * i, (unsigned)(uint16_t)vt_ulaw_to_pcm(left[i]));
        put16(out + 4 * i + 2, (unsigned)(uint16_t)vt_ulaw_to_pcm(right[i]));
    }
    if (fwrite(out, 1, sizeof(out), s->wav) == sizeof(out)) {
        s->wav_frames += VTSIM_FRAME_BYTES;
    }
}

int vtsim_wav_finish(vtsim_t *s)
{
    unsigned char h[44];
    int rc = 0;

    if (!s->wav) {
        return 0;
    }
    wav_header(h, s->wav_frames);
    if (fseek(s->wav, 0, SEEK_SET) != 0 || fwrite(h, 1, sizeof(h), s->wav) != sizeof(h)) {
        rc = -1;
    }
    if (fclose(s->wav) != 0 || rc != 0) {
        rc = vtsim_error("cannot finish %s: %s", s->wav_name, strerror(errno));
    }
    s->wav = NULL;
    return rc;
}
