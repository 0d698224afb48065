/* vt_turn on generated audio: espeak-ng speech through a phone leg (8 kHz µ-law) and
 * tone bursts, between quiet line noise. START, BARGE_IN and END come in order and on
 * time; the utterance holds the speech with its preroll; hangover joins short pauses and
 * not long ones; coughs are dropped; long speech is cut at max_utterance_ms. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vt_suites.h"
#include "vt_turn.h"
#include "vt_espeak.h"
#include "vt_g711.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define RATE 8000
#define MS(n) ((size_t)(n) * RATE / 1000)
#define MAX_SAMPLES MS(20000)
#define MAX_EVENTS 64

typedef struct line {
    int16_t pcm[MAX_SAMPLES];
    size_t n;
    unsigned seed;
} line_t;

typedef struct events {
    vt_turn_event_t ev[MAX_EVENTS];
    int ms[MAX_EVENTS];             /* the end of the frame that brought it */
    size_t utt_len[MAX_EVENTS];     /* samples, for END */
    int count;
} events_t;

/* Quiet line noise, about -60 dBFS. */
static void add_quiet(line_t *l, int ms)
{
    for (size_t i = 0; i < MS(ms) && l->n < MAX_SAMPLES; i++) {
        l->seed = l->seed * 1103515245u + 12345u;
        l->pcm[l->n++] = (int16_t)((int)((l->seed >> 16) % 61) - 30);
    }
}

/* A syllable-like tone burst: 300 Hz, amplitude-modulated at 4 Hz, about -12 dBFS. */
static void add_tone(line_t *l, int ms)
{
    for (size_t i = 0; i < MS(ms) && l->n < MAX_SAMPLES; i++) {
        double env = 0.6 + 0.4 * sin(2 * M_PI * 4.0 * (double)i / RATE);
        l->pcm[l->n++] = (int16_t)lrint(8000.0 * env * sin(2 * M_PI * 300.0 * (double)i / RATE));
    }
}

/* espeak-ng speaking text, as Twilio delivers it (µ-law), trimmed to the speech itself.
 * *from and *to: where the speech begins and ends in the line, in ms. */
static void add_speech(line_t *l, const char *text, int *from, int *to)
{
    size_t len = 0, a = 0, b;
    uint8_t *ulaw;

    ck_assert_int_gt(vt_espeak_start(), 0);
    vt_espeak_set_language("en-US");
    ulaw = vt_espeak_ulaw(text, &len);
    ck_assert_ptr_nonnull(ulaw);
    while (a < len && abs(vt_ulaw_to_pcm(ulaw[a])) < 300) {
        a++;
    }
    for (b = len; b > a && abs(vt_ulaw_to_pcm(ulaw[b - 1])) < 300; b--) {
    }
    *from = (int)(l->n * 1000 / RATE);
    for (size_t i = a; i < b && l->n < MAX_SAMPLES; i++) {
        l->pcm[l->n++] = vt_ulaw_to_pcm(ulaw[i]);
    }
    *to = (int)(l->n * 1000 / RATE);
    free(ulaw);
}

static void run(vt_turn_t *t, const line_t *l, events_t *e)
{
    memset(e, 0, sizeof *e);
    for (size_t f = 0; f + VT_VAD_FRAME <= l->n; f += VT_VAD_FRAME) {
        vt_turn_event_t ev = vt_turn_frame(t, l->pcm + f);
        if (ev != VT_TURN_NONE && e->count < MAX_EVENTS) {
            size_t n = 0;
            if (ev == VT_TURN_END) {
                ck_assert_ptr_nonnull(vt_turn_utterance(t, &n));
            }
            e->ev[e->count] = ev;
            e->ms[e->count] = (int)((f + VT_VAD_FRAME) * 1000 / RATE);
            e->utt_len[e->count++] = n;
        }
    }
}

static line_t line;

START_TEST(test_turn_quiet)
{
    vt_turn_t *t = vt_turn_create(NULL);
    events_t e;

    line.n = 0;
    add_quiet(&line, 5000);
    run(t, &line, &e);
    ck_assert_int_eq(e.count, 0);
    ck_assert(!vt_turn_in_utterance(t));
    vt_turn_destroy(t);
}
END_TEST

/* One spoken sentence: START about min_speech_ms in, BARGE_IN at barge_in_ms, END
 * end_silence_ms after it; the utterance covers the speech, the preroll and the trail. */
START_TEST(test_turn_sentence)
{
    vt_turn_t *t = vt_turn_create(NULL);
    const vt_turn_conf_t *c = vt_turn_conf(t);
    int from, to;
    events_t e;

    line.n = 0;
    add_quiet(&line, 1000);
    add_speech(&line, "I would like to book an appointment for Tuesday.", &from, &to);
    add_quiet(&line, 1500);
    run(t, &line, &e);
    ck_assert_int_eq(c->end_silence_ms, 500);
    ck_assert_int_eq(e.count, 3);
    ck_assert_int_eq(e.ev[0], VT_TURN_START);
    ck_assert_int_eq(e.ev[1], VT_TURN_BARGE_IN);
    ck_assert_int_eq(e.ev[2], VT_TURN_END);
    ck_assert_int_ge(e.ms[0], from + c->min_speech_ms);
    ck_assert_int_le(e.ms[0], from + c->min_speech_ms + 100);
    ck_assert_int_ge(e.ms[1] - e.ms[0], c->barge_in_ms - c->min_speech_ms);
    /* the end: end_silence_ms after the last sound, within a syllable's tail */
    ck_assert_int_ge(e.ms[2], to + c->end_silence_ms - 60);
    ck_assert_int_le(e.ms[2], to + c->end_silence_ms + 200);
    /* the utterance: from preroll_ms before the speech to trail_ms after it */
    ck_assert_uint_ge(e.utt_len[2], MS(to - from));
    ck_assert_uint_le(e.utt_len[2], MS(to - from + c->preroll_ms + c->trail_ms + 200));
    ck_assert(!vt_turn_in_utterance(t));
    vt_turn_destroy(t);
}
END_TEST

/* The utterance's first samples are the preroll: quiet, then the speech. */
START_TEST(test_turn_preroll)
{
    vt_turn_t *t = vt_turn_create(NULL);
    const int16_t *u = NULL;
    size_t n = 0, loud_at = 0;

    line.n = 0;
    add_quiet(&line, 1000);
    add_tone(&line, 800);
    add_quiet(&line, 1000);
    for (size_t f = 0; f + VT_VAD_FRAME <= line.n && !u; f += VT_VAD_FRAME) {
        if (vt_turn_frame(t, line.pcm + f) == VT_TURN_END) {
            u = vt_turn_utterance(t, &n);
        }
    }
    ck_assert_ptr_nonnull(u);
    while (loud_at < n && abs(u[loud_at]) < 1000) {
        loud_at++;
    }
    ck_assert_uint_ge(loud_at, MS(180));
    ck_assert_uint_le(loud_at, MS(220));
    ck_assert_uint_ge(n, MS(800 + 180));
    ck_assert_uint_le(n, MS(800 + 200 + 200 + 40));
    vt_turn_destroy(t);
}
END_TEST

/* A pause shorter than end_silence_ms is inside the utterance; a longer one ends it. */
START_TEST(test_turn_hangover)
{
    vt_turn_t *t = vt_turn_create(NULL);
    events_t e;
    int ends = 0;

    line.n = 0;
    add_quiet(&line, 500);
    add_tone(&line, 600);
    add_quiet(&line, 300);
    add_tone(&line, 600);
    add_quiet(&line, 900);
    add_tone(&line, 600);
    add_quiet(&line, 1000);
    run(t, &line, &e);
    for (int i = 0; i < e.count; i++) {
        ends += e.ev[i] == VT_TURN_END;
        ck_assert_int_ne(e.ev[i], VT_TURN_DROPPED);
    }
    ck_assert_int_eq(ends, 2);
    ck_assert_int_eq(e.ev[0], VT_TURN_START);
    ck_assert_uint_ge(e.utt_len[2], MS(1500));  /* both bursts and the pause */
    vt_turn_destroy(t);
}
END_TEST

/* A click is nothing; a cough (120 ms) starts and is dropped; neither is a barge-in. */
START_TEST(test_turn_short_sounds)
{
    vt_turn_t *t = vt_turn_create(NULL);
    events_t e;

    line.n = 0;
    add_quiet(&line, 500);
    add_tone(&line, 60);
    add_quiet(&line, 1000);
    run(t, &line, &e);
    ck_assert_int_eq(e.count, 0);
    line.n = 0;
    add_quiet(&line, 500);
    add_tone(&line, 120);
    add_quiet(&line, 1000);
    run(t, &line, &e);
    ck_assert_int_eq(e.count, 2);
    ck_assert_int_eq(e.ev[0], VT_TURN_START);
    ck_assert_int_eq(e.ev[1], VT_TURN_DROPPED);
    ck_assert(!vt_turn_in_utterance(t));
    vt_turn_destroy(t);
}
END_TEST

/* Long speech is cut at max_utterance_ms, and the next utterance goes on at once. */
START_TEST(test_turn_max_cut)
{
    vt_turn_conf_t conf = { .max_utterance_ms = 1000 };
    vt_turn_t *t = vt_turn_create(&conf);
    events_t e;
    int ends = 0;

    line.n = 0;
    add_quiet(&line, 500);
    add_tone(&line, 2500);
    add_quiet(&line, 1000);
    run(t, &line, &e);
    for (int i = 0; i < e.count; i++) {
        if (e.ev[i] == VT_TURN_END) {
            ends++;
            ck_assert_uint_le(e.utt_len[i], MS(1000 + 200 + 200 + 20));
        }
    }
    ck_assert_int_eq(ends, 3);  /* 1 s, 1 s, and the rest at the silence */
    ck_assert_int_eq(e.ev[e.count - 1], VT_TURN_END);
    ck_assert_int_le(e.ms[1 + (e.ev[1] == VT_TURN_BARGE_IN)], 500 + 1000 + 220);
    vt_turn_destroy(t);
}
END_TEST

/* Speech over steady line noise (-35 dBFS) is found; the noise alone is not speech, with
 * either detector. */
START_TEST(test_turn_noise)
{
    for (int speexdsp = 0; speexdsp <= 1; speexdsp++) {
        vt_turn_conf_t conf = { .speexdsp = speexdsp };
        vt_turn_t *t = vt_turn_create(&conf);
        events_t e;
        int from, to;

        line.n = 0;
        add_quiet(&line, 500);
        add_speech(&line, "Opening hours, please.", &from, &to);
        add_quiet(&line, 1000);
        for (size_t i = 0; i < line.n; i++) {
            line.seed = line.seed * 1103515245u + 12345u;
            int v = line.pcm[i] + (int)((line.seed >> 16) % 1201) - 600;
            line.pcm[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
        run(t, &line, &e);
        ck_assert_int_ge(e.count, 2);
        ck_assert_int_eq(e.ev[0], VT_TURN_START);
        ck_assert_int_le(e.ms[0], from + 300);
        ck_assert_int_eq(e.ev[e.count - 1], VT_TURN_END);
        vt_turn_reset(t);
        ck_assert(!vt_turn_in_utterance(t));
        vt_turn_destroy(t);
    }
}
END_TEST

Suite *vt_suite_turn(void)
{
    Suite *s = suite_create("turn");
    TCase *tc = tcase_create("detector");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_turn_quiet);
    tcase_add_test(tc, test_turn_sentence);
    tcase_add_test(tc, test_turn_preroll);
    tcase_add_test(tc, test_turn_hangover);
    tcase_add_test(tc, test_turn_short_sounds);
    tcase_add_test(tc, test_turn_max_cut);
    tcase_add_test(tc, test_turn_noise);
    suite_add_tcase(s, tc);
    return s;
}
