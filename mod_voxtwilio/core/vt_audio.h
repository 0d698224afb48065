/* vt_audio — per-stream audio processing over speexdsp (realtime-and-streams.md §5): a
 * sample-rate converter and a voice-activity detector with the minimum-speech and hangover
 * logic speexdsp's own "kludge" VAD lacks. A VAD frame is speech when speexdsp's speech
 * probability passes prob_start (prob_continue while it did on the frame before) and the
 * frame's energy is over -50 dBFS and 6 dB over a noise floor the VAD tracks; so START
 * comes min_speech_ms after sound starts and END hangover_ms after it stops, to the frame.
 * Cost (one core, 2020s x86): a frame ~2.5 µs when quiet, ~7-9 µs when loud; resampling
 * 20 ms 8k<->24k ~3 µs a direction at VOIP quality.
 *
 *   vt_resampler_t *up = vt_resampler_create(8000, 24000, VT_RESAMPLER_VOIP);
 *   n = vt_resampler_process(up, pcm8k, 160, pcm24k, 480 + 16);   // all input consumed
 *
 *   vt_vad_t *vad = vt_vad_create(NULL);                            // 8 kHz, defaults
 *   switch (vt_vad_frame(vad, pcm8k_20ms)) { case VT_VAD_START: ... barge-in }
 *
 * One object per stream and direction (they keep state between frames); not shared
 * between threads. Allocation happens at create only: the per-frame calls allocate nothing.
 */
#ifndef VT_AUDIO_H
#define VT_AUDIO_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- resampling */

#define VT_RESAMPLER_VOIP 3     /* speexdsp's quality levels */
#define VT_RESAMPLER_DEFAULT 4

typedef struct vt_resampler vt_resampler_t;

/* NULL for unsupported rates (outside 1000..192000) or no memory. */
vt_resampler_t *vt_resampler_create(int in_rate, int out_rate, int quality);
void vt_resampler_destroy(vt_resampler_t *rs);
/* Converts all of in[0..n); returns the samples written to out, at most cap (cap must be
 * at least n * out_rate / in_rate + 16, else the rest is dropped). */
size_t vt_resampler_process(vt_resampler_t *rs, const int16_t *in, size_t n, int16_t *out,
                            size_t cap);
/* Forgets the history (a new utterance, a new stream). */
void vt_resampler_reset(vt_resampler_t *rs);
/* A whole clip at rate -> malloc'd 8 kHz µ-law, *len bytes (Twilio's audio, from espeak-ng
 * or a WAV file); NULL when out of memory or the rate is unsupported. */
uint8_t *vt_pcm_to_ulaw8k(const int16_t *pcm, size_t n, int rate, size_t *len);

/* ---------------------------------------------------------------- voice activity */

#define VT_VAD_FRAME 160        /* samples per call: 20 ms at 8 kHz */

typedef struct vt_vad_conf {
    int min_speech_ms;          /* speech this long before START (a cough is not a
                                 * barge-in); 0: 100 */
    int hangover_ms;            /* silence this long before END; 0: 500 */
    int prob_start;             /* speexdsp's start probability, percent; 0: 60 */
    int prob_continue;          /* ... and its continue probability; 0: 45 */
    int energy_only;            /* 1: loudness over the noise floor alone, without
                                 * speexdsp's probability (measured against the default
                                 * in docs/voice-pipeline.md) */
} vt_vad_conf_t;

typedef enum {
    VT_VAD_NONE = 0,            /* nothing changed */
    VT_VAD_START,               /* speech has lasted min_speech_ms: the caller talks */
    VT_VAD_END                  /* after START, silence has lasted hangover_ms */
} vt_vad_event_t;

typedef struct vt_vad vt_vad_t;

/* conf NULL: the defaults. NULL when out of memory. */
vt_vad_t *vt_vad_create(const vt_vad_conf_t *conf);
void vt_vad_destroy(vt_vad_t *vad);
/* One 20 ms frame of 8 kHz PCM (VT_VAD_FRAME samples; not modified). */
vt_vad_event_t vt_vad_frame(vt_vad_t *vad, const int16_t *frame);
/* 1 between START and END. */
int vt_vad_in_speech(const vt_vad_t *vad);
/* 1 when the last frame itself was speech (between START and END, the hangover is not). */
int vt_vad_last_speech(const vt_vad_t *vad);
void vt_vad_reset(vt_vad_t *vad);

#endif
