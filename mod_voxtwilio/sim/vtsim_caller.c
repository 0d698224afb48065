/* vtsim_caller — the caller's side of a Media Stream: its script lines, taken in turns.
 *
 * A turn opens when the assistant has answered the caller's last line (a stretch of its
 * audio began after the line did) and all of that audio has played (every mark echoed),
 * plus a polite pause; with --barge-in as soon as the answer starts playing; and in any
 * case once the assistant stayed quiet VTSIM_TURN_WAIT_MS after a line. At its turn the
 * caller takes its next line: words (espeak-ng, made in a thread meanwhile; --caller-wav is
 * said at the first turn), dtmf keys, <silence> (a turn of saying nothing), <hangup>. "wait
 * N" adds N seconds of silence inside a turn: the line after it goes at once. Out of lines,
 * the caller hangs up once the assistant has been quiet VTSIM_HANGUP_GRACE_MS.
 */
#include <stdlib.h>
#include <string.h>
#include "vt_g711.h"
#include "vtsim_stream.h"

#define MAX_STEPS 8 /* state changes in one frame (a wait 0, then a line, ...) */

static void line_begins(vtss_t *t)
{
    /* The transcript stays in time order; a stretch that has only just begun is shown
     * after the line. */
    vtss_flush_assistant(t, VTSIM_FRAME_BYTES * 5);
    t->c.stretch_mark = t->stretches;
    t->s->turns++;
}

static void line_ends(vtss_t *t)
{
    vtsim_caller_t *c = &t->c;

    if (c->own_audio) {
        free(c->audio);
    }
    c->audio = NULL;
    c->own_audio = 0;
    c->state = VTSIM_CALLER_LISTENS;
    c->ended_ms = t->ms;
}

static void speak(vtss_t *t, uint8_t *audio, size_t len, int own)
{
    vtsim_caller_t *c = &t->c;

    c->audio = audio;
    c->audio_len = len;
    c->audio_off = 0;
    c->own_audio = own;
    c->state = VTSIM_CALLER_SPEAKS;
}

/* A script line the simulator cannot play (printed): the stream ends, the call fails. */
static void caller_fails(vtss_t *t)
{
    t->failed = 1;
    t->c.state = VTSIM_CALLER_GONE;
    vtss_hangup(t);
}

static int turn_open(const vtss_t *t)
{
    const vtsim_caller_t *c = &t->c;

    if (c->in_turn) {
        return 1;
    }
    if (vtss_quiet(t) && t->ms - c->ended_ms >= VTSIM_TURN_WAIT_MS) {
        return 1; /* no answer: the caller goes on */
    }
    if (t->stretches <= c->stretch_mark) {
        return 0;
    }
    return t->s->barge_in
           || (vtss_quiet(t) && t->ms - t->idle_since >= VTSIM_TURN_PAUSE_MS);
}

static int may_hang_up(const vtss_t *t)
{
    long long since = t->idle_since > t->c.ended_ms ? t->idle_since : t->c.ended_ms;

    return vtss_quiet(t) && t->ms - since >= VTSIM_HANGUP_GRACE_MS;
}

static void next_line(vtss_t *t)
{
    vtsim_caller_t *c = &t->c;
    vtsim_line_t line;

    c->in_turn = 0;
    if (t->s->caller_wav && !c->wav_said) {
        c->wav_said = 1;
        line_begins(t);
        printf("caller: [%s, %.1f s]\n", t->s->caller_wav_name,
               (double)t->s->caller_wav_len / 8000.0);
        speak(t, (uint8_t *)t->s->caller_wav, t->s->caller_wav_len, 0);
        return;
    }
    switch (vtsim_next_line(t->s, t->pool, &line)) {
    case VTSIM_LINE_BAD:
        caller_fails(t);
        break;
    case VTSIM_LINE_END:
        c->out_of_lines = 1;
        break;
    case VTSIM_LINE_HANGUP:
        c->state = VTSIM_CALLER_GONE;
        vtss_hangup(t);
        break;
    case VTSIM_LINE_SILENCE:
        line_begins(t);
        printf("caller: <silence>\n");
        line_ends(t);
        break;
    case VTSIM_LINE_WAIT:
        c->state = VTSIM_CALLER_WAITS;
        c->due_ms = t->ms + (long long)(line.seconds * 1000.0 + 0.5);
        break;
    case VTSIM_LINE_DTMF:
        line_begins(t);
        printf("caller: [dtmf %s]\n", line.text);
        c->keys = line.text;
        c->due_ms = t->ms;
        c->state = VTSIM_CALLER_PRESSES;
        break;
    case VTSIM_LINE_SAY:
        c->text = line.text;
        if (!(c->tts = vtsim_tts_start(line.text))) {
            vtsim_error("cannot start speech synthesis for '%s'", line.text);
            caller_fails(t);
            break;
        }
        c->state = VTSIM_CALLER_THINKS;
        break;
    }
}

/* espeak-ng is done with the line: the caller says it. */
static void speech_ready(vtss_t *t)
{
    vtsim_caller_t *c = &t->c;
    size_t len;
    uint8_t *audio = vtsim_tts_finish(c->tts, &len);

    c->tts = NULL;
    if (!audio) {
        vtsim_error("cannot say '%s': %s", c->text, vtsim_tts_error());
        caller_fails(t);
        return;
    }
    line_begins(t);
    printf("caller: %s\n", c->text);
    speak(t, audio, len, 1);
}

/* One change of the caller's state; 1 when another may follow in the same frame. */
static int step(vtss_t *t)
{
    vtsim_caller_t *c = &t->c;

    switch (c->state) {
    case VTSIM_CALLER_LISTENS:
        if (c->out_of_lines) {
            if (may_hang_up(t)) {
                c->state = VTSIM_CALLER_GONE;
                vtss_hangup(t);
            }
            return 0;
        }
        if (!turn_open(t)) {
            return 0;
        }
        next_line(t);
        return 1;
    case VTSIM_CALLER_WAITS:
        if (t->ms < c->due_ms) {
            return 0;
        }
        c->state = VTSIM_CALLER_LISTENS;
        c->in_turn = 1;
        return 1;
    case VTSIM_CALLER_THINKS:
        if (vtsim_tts_done(c->tts)) {
            speech_ready(t);
        }
        return 0;
    case VTSIM_CALLER_PRESSES:
        if (t->ms >= c->due_ms) {
            vtss_send_dtmf(t, *c->keys++);
            c->due_ms += VTSIM_DTMF_GAP_MS;
            if (!*c->keys) {
                line_ends(t);
            }
        }
        return 0;
    default:
        return 0;
    }
}

void vtsim_caller_frame(vtss_t *t, uint8_t *frame)
{
    vtsim_caller_t *c = &t->c;
    size_t n;
    int i;

    memset(frame, VT_ULAW_SILENCE, VTSIM_FRAME_BYTES);
    for (i = 0; i < MAX_STEPS && step(t); i++) {
    }
    if (c->state != VTSIM_CALLER_SPEAKS) {
        return;
    }
    n = c->audio_len - c->audio_off;
    n = n < VTSIM_FRAME_BYTES ? n : VTSIM_FRAME_BYTES;
    memcpy(frame, c->audio + c->audio_off, n);
    c->audio_off += n;
    if (c->audio_off >= c->audio_len) {
        line_ends(t);
    }
}

void vtsim_caller_stop(vtss_t *t)
{
    vtsim_caller_t *c = &t->c;
    size_t n;

    if (c->tts) {
        free(vtsim_tts_finish(c->tts, &n));
        c->tts = NULL;
    }
    if (c->own_audio) {
        free(c->audio);
    }
    c->audio = NULL;
    c->own_audio = 0;
}
