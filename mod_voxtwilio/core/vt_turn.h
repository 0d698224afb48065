/* vt_turn — turn detection for the voice pipeline: the caller's utterances (for
 * speech-to-text) and barge-in (to cut the assistant), from vt_vad on 8 kHz audio.
 *
 *   vt_turn_t *t = vt_turn_create(NULL);                 // the defaults below
 *   switch (vt_turn_frame(t, pcm8k_20ms)) {
 *   case VT_TURN_BARGE_IN: ... the caller talks over the assistant: clear
 *   case VT_TURN_END: pcm = vt_turn_utterance(t, &n);  ... transcribe pcm[0..n)
 *   }
 *
 * An utterance starts min_speech_ms after speech starts (vt_vad's START) and ends after
 * end_silence_ms of silence, or is cut at max_utterance_ms (the next one goes on at
 * once). Its audio begins preroll_ms before the speech did, so speech-to-text hears the
 * first syllable, and keeps at most trail_ms of the silence after it. Speech shorter than
 * min_utterance_ms (a cough, a click) is DROPPED, not transcribed. Events come in the
 * order START, BARGE_IN, END or DROPPED; when two fall on one frame the later is returned
 * and implies the earlier (BARGE_IN on the frame of START when barge_in_ms <=
 * min_speech_ms). One object per stream; allocation happens at create only.
 */
#ifndef VT_TURN_H
#define VT_TURN_H

#include <stddef.h>
#include <stdint.h>

#include "vt_audio.h"

typedef struct vt_turn_conf {
    int end_silence_ms;         /* silence that ends an utterance; 0: 500 */
    int min_speech_ms;          /* speech before START; 0: 100 */
    int min_utterance_ms;       /* from the start of speech to its last frame; shorter
                                 * is DROPPED; 0: 150 */
    int max_utterance_ms;       /* an utterance this long is cut; 0: 15000 */
    int barge_in_ms;            /* speech this long is a barge-in; 0: 250 */
    int preroll_ms;             /* audio kept before the speech; 0: 200 */
    int trail_ms;               /* silence kept after it; 0: 200 */
    int speexdsp;               /* 1: speexdsp's speech probability must agree before a
                                 * start (0: loudness over the noise floor alone, which
                                 * detected exactly as well on the corpus test and costs
                                 * less: docs/voice-pipeline.md) */
} vt_turn_conf_t;

typedef enum {
    VT_TURN_NONE = 0,
    VT_TURN_START,              /* the caller has talked min_speech_ms */
    VT_TURN_BARGE_IN,           /* ... and barge_in_ms: cut the assistant */
    VT_TURN_END,                /* an utterance is complete: vt_turn_utterance() */
    VT_TURN_DROPPED             /* the speech was too short to be one */
} vt_turn_event_t;

typedef struct vt_turn vt_turn_t;

/* conf NULL: the defaults. NULL when out of memory. */
vt_turn_t *vt_turn_create(const vt_turn_conf_t *conf);
void vt_turn_destroy(vt_turn_t *t);
/* One 20 ms frame of 8 kHz PCM (VT_VAD_FRAME samples). */
vt_turn_event_t vt_turn_frame(vt_turn_t *t, const int16_t *frame);
/* After END: the utterance (8 kHz PCM, *n samples), valid until the next frame. */
const int16_t *vt_turn_utterance(const vt_turn_t *t, size_t *n);
/* 1 from START until END or DROPPED. */
int vt_turn_in_utterance(const vt_turn_t *t);
/* The configuration in force (defaults filled in). */
const vt_turn_conf_t *vt_turn_conf(const vt_turn_t *t);
/* Forgets the current utterance and the history (a new stream). */
void vt_turn_reset(vt_turn_t *t);

#endif
