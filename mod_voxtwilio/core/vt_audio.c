/* vt_audio — speexdsp resampler and VAD for the media path; see vt_audio.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <speex/speex_preprocess.h>
#include <speex/speex_resampler.h>

#include "vt_audio.h"
#include "vt_g711.h"

#define VT_VAD_RATE 8000
#define VT_VAD_FRAME_MS (VT_VAD_FRAME * 1000 / VT_VAD_RATE)

/* ---------------------------------------------------------------- resampling */

struct vt_resampler {
    SpeexResamplerState *st;
};

vt_resampler_t *vt_resampler_create(int in_rate, int out_rate, int quality)
{
    vt_resampler_t *rs;
    int err = 0;

    if (in_rate < 1000 || in_rate > 192000 || out_rate < 1000 || out_rate > 192000
        || quality < 0 || quality > 10 || !(rs = calloc(1, sizeof(*rs))))
        return NULL;
    rs->st = speex_resampler_init(1, (spx_uint32_t)in_rate, (spx_uint32_t)out_rate, quality,
                                  &err);
    if (!rs->st || err != RESAMPLER_ERR_SUCCESS) {
        vt_resampler_destroy(rs);
        return NULL;
    }
    return rs;
}

void vt_resampler_destroy(vt_resampler_t *rs)
{
    if (!rs)
        return;
    if (rs->st)
        speex_resampler_destroy(rs->st);
    free(rs);
}

size_t vt_resampler_process(vt_resampler_t *rs, const int16_t *in, size_t n, int16_t *out,
                            size_t cap)
{
    size_t used = 0, made = 0;

    /* speexdsp may stop short of the input (it works in blocks): call until it is used up
     * or out is full. */
    while (used < n && made < cap) {
        spx_uint32_t in_len = n - used > UINT32_MAX ? UINT32_MAX : (spx_uint32_t)(n - used);
        spx_uint32_t out_len = cap - made > UINT32_MAX ? UINT32_MAX : (spx_uint32_t)(cap - made);
        if (speex_resampler_process_int(rs->st, 0, in + used, &in_len, out + made, &out_len)
                != RESAMPLER_ERR_SUCCESS
            || (in_len == 0 && out_len == 0))
            break;
        used += in_len;
        made += out_len;
    }
    return made;
}

void vt_resampler_reset(vt_resampler_t *rs)
{
    speex_resampler_reset_mem(rs->st);
}

uint8_t *vt_pcm_to_ulaw8k(const int16_t *pcm, size_t n, int rate, size_t *len)
{
    size_t cap = rate == 8000 ? n : n * 8000 / (size_t)rate + 16;
    int16_t *pcm8 = rate == 8000 ? NULL : malloc((cap ? cap : 1) * sizeof *pcm8);
    uint8_t *ulaw = malloc(cap ? cap : 1);
    vt_resampler_t *rs = NULL;

    if (rate != 8000) {
        rs = pcm8 ? vt_resampler_create(rate, 8000, VT_RESAMPLER_DEFAULT) : NULL;
        n = rs ? vt_resampler_process(rs, pcm, n, pcm8, cap) : 0;
        pcm = pcm8;
    }
    if (!ulaw || (rate != 8000 && !rs)) {
        free(ulaw);
        ulaw = NULL;
    }
    else {
        vt_ulaw_encode(pcm, n, ulaw);
        *len = n;
    }
    if (rs) {
        vt_resampler_destroy(rs);
    }
    free(pcm8);
    return ulaw;
}

/* ---------------------------------------------------------------- voice activity
 * A frame is speech when its energy is above an absolute floor and 6 dB over the noise
 * floor, AND speexdsp's speech probability passes its own start/continue rule.
 * speexdsp's probability alone is smoothed over ~400 ms (a 40 ms click reads as 100+ ms
 * of speech, and speech ends late) and calls steady line noise speech for the first
 * second or two; the energy test follows the signal frame by frame.
 *
 * The noise floor is the quietest frame of the last 1.2-1.5 s (minimum statistics, kept
 * as the minima of 300 ms blocks): speech always has gaps at the line's level between
 * words, so the floor stays there while the caller talks, and it follows a line that gets
 * noisier within 1.5 s. A floor that moved up over "quiet" frames (as a smoothed mean
 * would) climbs into the speech on a noisy line: at 10 dB SNR it lost half the
 * utterances of the corpus test. The first VAD_WARMUP frames only learn the floor: on
 * a noisy line a floor guessed from nothing made a false start in every call.
 *
 * Cost: speex_preprocess_run is ~9 µs a frame (two FFTs and a gain per bin, needed or
 * not), so it runs only where its answer matters: on loud frames before START (is this
 * speech?). Once the caller talks, loudness alone carries the hangover to END (speexdsp's
 * probability would only lag it). Quiet frames, which cannot be speech, feed its noise
 * estimate (speex_preprocess_estimate_update, ~2.5 µs) one in VAD_ESTIMATE_EVERY: noise
 * moves over seconds, not frames. The probability is read with GET_PROB, without SET_VAD,
 * which applies the same rule and prints a warning to stderr for each state. */

#define VAD_ENERGY_MIN 10000.0 /* mean square of an rms of 100: about -50 dBFS */
#define VAD_SNR 4.0            /* energy over the noise floor: 6 dB */
#define VAD_WARMUP 10          /* frames (200 ms) never speech, at the start and a reset */
#define VAD_BLOCK 15           /* frames of one block of the minimum (300 ms) */
#define VAD_BLOCKS 4           /* earlier blocks in the window */
#define VAD_ESTIMATE_EVERY 4   /* quiet frames per update of speexdsp's noise estimate */

struct vt_vad {
    SpeexPreprocessState *st;
    vt_vad_conf_t conf;         /* defaults filled in */
    int prob_speech;            /* speexdsp's rule said speech on the last frame */
    double block_min;           /* the quietest frame of the current block */
    double prev_min[VAD_BLOCKS]; /* ... of the blocks before it (< 0: none yet) */
    unsigned frames;            /* seen since the last clear */
    int in_speech;
    int last_speech;            /* the last frame was speech */
    int speech_ms;              /* speech so far, before START */
    int silence_ms;             /* silence so far, after START */
    unsigned quiet;             /* quiet frames seen (every VAD_ESTIMATE_EVERY-th feeds speex) */
    spx_int16_t work[VT_VAD_FRAME]; /* speex_preprocess_run works in place */
};

/* A speexdsp preprocessor used for its speech probability only: no denoise (its output
 * is thrown away; the probability does not depend on it), no AGC. */
static SpeexPreprocessState *vad_state(void)
{
    SpeexPreprocessState *st = speex_preprocess_state_init(VT_VAD_FRAME, VT_VAD_RATE);
    spx_int32_t off = 0;

    if (!st)
        return NULL;
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_DENOISE, &off);
    speex_preprocess_ctl(st, SPEEX_PREPROCESS_SET_AGC, &off);
    return st;
}

static int or_default(int v, int dflt)
{
    return v > 0 ? v : dflt;
}

static void vad_clear(vt_vad_t *vad)
{
    vad->prob_speech = 0;
    vad->block_min = -1.0;
    for (int i = 0; i < VAD_BLOCKS; i++)
        vad->prev_min[i] = -1.0;
    vad->frames = 0;
    vad->in_speech = 0;
    vad->last_speech = 0;
    vad->speech_ms = 0;
    vad->silence_ms = 0;
}

vt_vad_t *vt_vad_create(const vt_vad_conf_t *conf)
{
    vt_vad_t *vad = calloc(1, sizeof(*vad));

    if (!vad)
        return NULL;
    if (conf)
        vad->conf = *conf;
    vad->conf.min_speech_ms = or_default(vad->conf.min_speech_ms, 100);
    vad->conf.hangover_ms = or_default(vad->conf.hangover_ms, 500);
    vad->conf.prob_start = or_default(vad->conf.prob_start, 60);
    vad->conf.prob_continue = or_default(vad->conf.prob_continue, 45);
    if (!(vad->st = vad_state())) {
        free(vad);
        return NULL;
    }
    vad_clear(vad);
    return vad;
}

void vt_vad_destroy(vt_vad_t *vad)
{
    if (!vad)
        return;
    speex_preprocess_state_destroy(vad->st);
    free(vad);
}

static double frame_energy(const int16_t *frame)
{
    int64_t sum = 0;

    for (int i = 0; i < VT_VAD_FRAME; i++)
        sum += (int32_t)frame[i] * frame[i];
    return (double)sum / VT_VAD_FRAME;
}

/* Adds frame energy e to the window; returns the noise floor to judge it against. */
static double vad_floor(vt_vad_t *vad, double e)
{
    double lowest;

    if (vad->frames > 0 && vad->frames % VAD_BLOCK == 0) {
        memmove(vad->prev_min + 1, vad->prev_min, (VAD_BLOCKS - 1) * sizeof(double));
        vad->prev_min[0] = vad->block_min;
        vad->block_min = -1.0;
    }
    vad->frames++;
    if (vad->block_min < 0.0 || e < vad->block_min)
        vad->block_min = e;
    lowest = vad->block_min;
    for (int i = 0; i < VAD_BLOCKS && vad->prev_min[i] >= 0.0; i++)
        if (vad->prev_min[i] < lowest)
            lowest = vad->prev_min[i];
    return lowest < 1.0 ? 1.0 : lowest;
}

/* 1 when this frame is speech. */
static int vad_classify(vt_vad_t *vad, const int16_t *frame)
{
    double e = frame_energy(frame);
    double noise = vad_floor(vad, e); /* every frame goes into the window */
    spx_int32_t prob = 0;
    int loud = vad->frames > VAD_WARMUP && e > VAD_ENERGY_MIN && e > VAD_SNR * noise;

    if (loud && (vad->in_speech || vad->conf.energy_only)) {
        vad->prob_speech = 1; /* talking on: loudness is enough */
    }
    else if (loud) {
        memcpy(vad->work, frame, sizeof vad->work);
        speex_preprocess_run(vad->st, vad->work);
        speex_preprocess_ctl(vad->st, SPEEX_PREPROCESS_GET_PROB, &prob);
        /* speexdsp's own rule (what SET_VAD would return) */
        vad->prob_speech = prob > vad->conf.prob_start
                           || (vad->prob_speech && prob > vad->conf.prob_continue);
    }
    else {
        if (!vad->conf.energy_only && vad->quiet++ % VAD_ESTIMATE_EVERY == 0) {
            memcpy(vad->work, frame, sizeof vad->work);
            speex_preprocess_estimate_update(vad->st, vad->work);
        }
        vad->prob_speech = 0;
    }
    return loud && vad->prob_speech;
}

vt_vad_event_t vt_vad_frame(vt_vad_t *vad, const int16_t *frame)
{
    int speech = vad_classify(vad, frame);

    vad->last_speech = speech;

    if (!vad->in_speech) {
        /* A pause restarts the count: START needs min_speech_ms in one run. */
        vad->speech_ms = speech ? vad->speech_ms + VT_VAD_FRAME_MS : 0;
        if (vad->speech_ms < vad->conf.min_speech_ms)
            return VT_VAD_NONE;
        vad->in_speech = 1;
        vad->silence_ms = 0;
        return VT_VAD_START;
    }
    vad->silence_ms = speech ? 0 : vad->silence_ms + VT_VAD_FRAME_MS;
    if (vad->silence_ms < vad->conf.hangover_ms)
        return VT_VAD_NONE;
    vad->in_speech = 0;
    vad->speech_ms = 0;
    return VT_VAD_END;
}

int vt_vad_in_speech(const vt_vad_t *vad)
{
    return vad->in_speech;
}

int vt_vad_last_speech(const vt_vad_t *vad)
{
    return vad->last_speech;
}

void vt_vad_reset(vt_vad_t *vad)
{
    /* speexdsp has no reset: a new state, so the old noise estimate goes too. If that
     * fails (no memory) the old state stays, which only means a warmer start. */
    SpeexPreprocessState *st = vad_state();

    if (st) {
        speex_preprocess_state_destroy(vad->st);
        vad->st = st;
    }
    vad_clear(vad);
}
