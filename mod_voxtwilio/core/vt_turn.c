/* vt_turn — see vt_turn.h. The audio lives in one buffer sized at create: a ring of the
 * last preroll_ms + min_speech_ms frames while nobody talks (START comes min_speech_ms
 * after the speech began, and the preroll goes before that), then the utterance. */
#include <stdlib.h>
#include <string.h>

#include "vt_turn.h"

#define FRAME_MS (VT_VAD_FRAME * 1000 / 8000)

struct vt_turn {
    vt_turn_conf_t conf;
    vt_vad_t *vad;
    int16_t *hist;              /* ring of history frames */
    size_t hist_frames, hist_next, hist_count;
    int16_t *utt;               /* the utterance */
    size_t utt_cap, utt_len;    /* samples */
    size_t done_len;            /* after END: the utterance's length for the caller */
    int in_utt;
    int speech_frames;          /* speech since START, for BARGE_IN */
    int barged;
    int silent_frames;          /* trailing silence in utt */
    size_t speech_len;          /* samples up to the last speech frame in utt */
    size_t speech_from;         /* where the speech began in utt (after the preroll) */
};

static int or_default(int v, int dflt)
{
    return v > 0 ? v : dflt;
}

static size_t frames_of(int ms)
{
    return (size_t)((ms + FRAME_MS - 1) / FRAME_MS);
}

vt_turn_t *vt_turn_create(const vt_turn_conf_t *conf)
{
    vt_turn_t *t = calloc(1, sizeof *t);
    vt_vad_conf_t vc = { 0 };

    if (!t) {
        return NULL;
    }
    if (conf) {
        t->conf = *conf;
    }
    t->conf.end_silence_ms = or_default(t->conf.end_silence_ms, 500);
    t->conf.min_speech_ms = or_default(t->conf.min_speech_ms, 100);
    t->conf.min_utterance_ms = or_default(t->conf.min_utterance_ms, 150);
    t->conf.max_utterance_ms = or_default(t->conf.max_utterance_ms, 15000);
    t->conf.barge_in_ms = or_default(t->conf.barge_in_ms, 250);
    t->conf.preroll_ms = or_default(t->conf.preroll_ms, 200);
    t->conf.trail_ms = or_default(t->conf.trail_ms, 200);
    vc.min_speech_ms = t->conf.min_speech_ms;
    vc.hangover_ms = t->conf.end_silence_ms;
    vc.energy_only = !t->conf.speexdsp;
    t->hist_frames = frames_of(t->conf.preroll_ms) + frames_of(t->conf.min_speech_ms);
    /* the history, the utterance and the silence that ends it */
    t->utt_cap = (t->hist_frames + frames_of(t->conf.max_utterance_ms)
                  + frames_of(t->conf.end_silence_ms) + 1) * VT_VAD_FRAME;
    t->vad = vt_vad_create(&vc);
    t->hist = malloc(t->hist_frames * VT_VAD_FRAME * sizeof *t->hist);
    t->utt = malloc(t->utt_cap * sizeof *t->utt);
    if (!t->vad || !t->hist || !t->utt) {
        vt_turn_destroy(t);
        return NULL;
    }
    return t;
}

void vt_turn_destroy(vt_turn_t *t)
{
    if (t) {
        vt_vad_destroy(t->vad);
        free(t->hist);
        free(t->utt);
        free(t);
    }
}

static void hist_push(vt_turn_t *t, const int16_t *frame)
{
    memcpy(t->hist + t->hist_next * VT_VAD_FRAME, frame, VT_VAD_FRAME * sizeof *frame);
    t->hist_next = (t->hist_next + 1) % t->hist_frames;
    if (t->hist_count < t->hist_frames) {
        t->hist_count++;
    }
}

/* START: the utterance begins with the history (the preroll and the speech so far). */
static void utt_begin(vt_turn_t *t)
{
    size_t first = (t->hist_next + t->hist_frames - t->hist_count) % t->hist_frames;
    size_t speech = frames_of(t->conf.min_speech_ms);

    t->utt_len = 0;
    for (size_t i = 0; i < t->hist_count; i++) {
        size_t k = (first + i) % t->hist_frames;
        memcpy(t->utt + t->utt_len, t->hist + k * VT_VAD_FRAME, VT_VAD_FRAME * sizeof *t->utt);
        t->utt_len += VT_VAD_FRAME;
    }
    t->speech_from = t->hist_count > speech ? (t->hist_count - speech) * VT_VAD_FRAME : 0;
    t->speech_len = t->utt_len;
    t->hist_count = 0;
    t->in_utt = 1;
    t->speech_frames = (int)speech;
    t->barged = 0;
    t->silent_frames = 0;
}

/* END or DROPPED: what the caller gets, trimmed to trail_ms of silence. */
static vt_turn_event_t utt_finish(vt_turn_t *t, int cut)
{
    size_t trail = frames_of(t->conf.trail_ms) * VT_VAD_FRAME;
    size_t spoken = t->speech_len - t->speech_from;

    t->in_utt = cut; /* a cut utterance goes on in the next one */
    t->utt_len = t->utt_len < t->speech_len + trail ? t->utt_len : t->speech_len + trail;
    if (!cut && spoken < (size_t)t->conf.min_utterance_ms * 8) {
        t->done_len = 0;
        return VT_TURN_DROPPED;
    }
    t->done_len = t->utt_len;
    return VT_TURN_END;
}

vt_turn_event_t vt_turn_frame(vt_turn_t *t, const int16_t *frame)
{
    vt_vad_event_t ev = vt_vad_frame(t->vad, frame);
    vt_turn_event_t out = VT_TURN_NONE;

    if (t->done_len) { /* the last utterance has been taken */
        t->done_len = 0;
        t->utt_len = t->speech_len = t->speech_from = 0;
    }
    if (!t->in_utt) {
        hist_push(t, frame);
        if (ev != VT_VAD_START) {
            return VT_TURN_NONE;
        }
        utt_begin(t);
        out = VT_TURN_START;
    }
    else {
        memcpy(t->utt + t->utt_len, frame, VT_VAD_FRAME * sizeof *frame);
        t->utt_len += VT_VAD_FRAME;
        if (ev == VT_VAD_END) {
            return utt_finish(t, 0);
        }
        /* vt_vad holds speech through its hangover: count what is loud here */
        if (vt_vad_last_speech(t->vad)) {
            t->speech_len = t->utt_len;
            t->speech_frames++;
            t->silent_frames = 0;
        }
        else {
            t->silent_frames++;
        }
        if (t->utt_len - t->speech_from >= (size_t)t->conf.max_utterance_ms * 8) {
            vt_turn_event_t e = utt_finish(t, 1);
            t->speech_from = 0;
            return e;
        }
    }
    if (!t->barged && t->speech_frames * FRAME_MS >= t->conf.barge_in_ms) {
        t->barged = 1;
        out = VT_TURN_BARGE_IN;
    }
    return out;
}

const int16_t *vt_turn_utterance(const vt_turn_t *t, size_t *n)
{
    *n = t->done_len;
    return t->done_len ? t->utt : NULL;
}

int vt_turn_in_utterance(const vt_turn_t *t)
{
    return t->in_utt;
}

const vt_turn_conf_t *vt_turn_conf(const vt_turn_t *t)
{
    return &t->conf;
}

void vt_turn_reset(vt_turn_t *t)
{
    vt_vad_reset(t->vad);
    t->hist_next = t->hist_count = 0;
    t->utt_len = t->done_len = t->speech_len = t->speech_from = 0;
    t->in_utt = t->barged = 0;
    t->speech_frames = t->silent_frames = 0;
}
