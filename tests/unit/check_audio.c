/* speexdsp wrappers: the resampler keeps a tone and counts samples right; the VAD turns
 * bursts of sound into START after min_speech_ms and END after hangover_ms, and clicks
 * and silence into nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vt_suites.h"
#include "vt_audio.h"
#include "vt_espeak.h"
#include "vt_g711.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define TONE_HZ 440.0

static int16_t tone_sample(long i, int rate, double amp)
{
    return (int16_t)lrint(amp * sin(2.0 * M_PI * TONE_HZ * (double)i / rate));
}

/* ---------------------------------------------------------------- resampler */

/* The normalized correlation of a and b[lag..] over n samples, best lag in 0..max_lag. */
static double best_correlation(const int16_t *a, const int16_t *b, size_t n, int max_lag,
                               double *energy_ratio)
{
    double best = -1.0;

    for (int lag = 0; lag <= max_lag; lag++) {
        double ab = 0, aa = 0, bb = 0;
        for (size_t i = 0; i < n; i++) {
            ab += (double)a[i] * b[i + (size_t)lag];
            aa += (double)a[i] * a[i];
            bb += (double)b[i + (size_t)lag] * b[i + (size_t)lag];
        }
        if (ab / sqrt(aa * bb) > best) {
            best = ab / sqrt(aa * bb);
            *energy_ratio = bb / aa;
        }
    }
    return best;
}

static int zero_crossings(const int16_t *s, size_t n)
{
    int z = 0;

    for (size_t i = 1; i < n; i++)
        z += (s[i - 1] < 0) != (s[i] < 0);
    return z;
}

START_TEST(test_resample_tone_round_trip)
{
    enum { SECONDS = 1, N8 = 8000 * SECONDS, N24 = 24000 * SECONDS };
    static int16_t in[N8], mid[N24 + 64], out[N8 + 64];
    vt_resampler_t *up = vt_resampler_create(8000, 24000, VT_RESAMPLER_VOIP);
    vt_resampler_t *down = vt_resampler_create(24000, 8000, VT_RESAMPLER_VOIP);
    size_t nmid = 0, nout = 0;
    double ratio = 0;

    ck_assert_ptr_nonnull(up);
    ck_assert_ptr_nonnull(down);
    for (long i = 0; i < N8; i++)
        in[i] = tone_sample(i, 8000, 8000.0);
    /* 20 ms frames, as the helper does: 160 in, 480 out, and back. */
    for (size_t f = 0; f < N8 / 160; f++) {
        size_t k = vt_resampler_process(up, in + f * 160, 160, mid + nmid, 480 + 16);
        size_t d = vt_resampler_process(down, mid + nmid, k, out + nout, 160 + 16);
        ck_assert_uint_eq(k, 480);
        ck_assert_uint_eq(d, 160);
        nmid += k;
        nout += d;
    }
    ck_assert_uint_eq(nmid, N24);
    ck_assert_uint_eq(nout, N8);
    /* At 24 kHz it is still 440 Hz (two zero crossings a period) at the same level. */
    ck_assert_int_ge(zero_crossings(mid + 2400, N24 - 2400), (int)(2 * TONE_HZ * 0.9) - 2);
    ck_assert_int_le(zero_crossings(mid + 2400, N24 - 2400), (int)(2 * TONE_HZ * 0.9) + 2);
    {
        /* Up-sampled, compare against the tone at 24 kHz. */
        static int16_t ref24[N24];
        for (long i = 0; i < N24; i++)
            ref24[i] = tone_sample(i, 24000, 8000.0);
        ck_assert_double_gt(best_correlation(ref24 + 2400, mid + 2400, 18000, 200, &ratio), 0.995);
        ck_assert_double_gt(ratio, 0.9);
        ck_assert_double_lt(ratio, 1.1);
    }
    /* Back at 8 kHz: the same tone, a few samples late. */
    ck_assert_double_gt(best_correlation(in + 800, out + 800, 6000, 64, &ratio), 0.99);
    ck_assert_double_gt(ratio, 0.9);
    ck_assert_double_lt(ratio, 1.1);
    vt_resampler_destroy(up);
    vt_resampler_destroy(down);
}
END_TEST

START_TEST(test_resample_counts)
{
    static int16_t in[22050], out[24000 + 64];
    vt_resampler_t *rs = vt_resampler_create(8000, 24000, VT_RESAMPLER_DEFAULT);
    size_t total = 0, i;

    /* Odd chunk sizes add up to the exact ratio, give or take the filter's phase. */
    for (i = 0; i < 8000; i += 7) {
        size_t n = 8000 - i < 7 ? 8000 - i : 7;
        total += vt_resampler_process(rs, in + i, n, out + total, n * 3 + 16);
    }
    ck_assert_int_ge((long)total, 24000 - 3);
    ck_assert_int_le((long)total, 24000);
    vt_resampler_destroy(rs);
    /* espeak's 22050 Hz to Twilio's 8 kHz in one call. */
    rs = vt_resampler_create(22050, 8000, VT_RESAMPLER_VOIP);
    total = vt_resampler_process(rs, in, 22050, out, 8000 + 16);
    ck_assert_int_ge((long)total, 8000 - 2);
    ck_assert_int_le((long)total, 8000 + 1);
    /* Too small an output: at most cap samples, the rest dropped. */
    ck_assert_uint_eq(vt_resampler_process(rs, in, 2205, out, 100), 100);
    vt_resampler_destroy(rs);
}
END_TEST

START_TEST(test_resample_reset_and_limits)
{
    int16_t loud[160], zeros[160] = { 0 }, out[480 + 16];
    vt_resampler_t *rs = vt_resampler_create(8000, 24000, VT_RESAMPLER_VOIP);
    size_t n;
    int peak = 0;

    for (int i = 0; i < 160; i++)
        loud[i] = tone_sample(i, 8000, 20000.0);
    /* Without a reset the filter's memory rings into the next frame... */
    vt_resampler_process(rs, loud, 160, out, sizeof out / sizeof out[0]);
    n = vt_resampler_process(rs, zeros, 160, out, sizeof out / sizeof out[0]);
    for (size_t i = 0; i < n; i++)
        peak = abs(out[i]) > peak ? abs(out[i]) : peak;
    ck_assert_int_gt(peak, 100);
    /* ... with one it does not. */
    vt_resampler_process(rs, loud, 160, out, sizeof out / sizeof out[0]);
    vt_resampler_reset(rs);
    n = vt_resampler_process(rs, zeros, 160, out, sizeof out / sizeof out[0]);
    ck_assert_uint_eq(n, 480);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(out[i], 0);
    vt_resampler_destroy(rs);
    ck_assert_ptr_null(vt_resampler_create(999, 8000, 3));
    ck_assert_ptr_null(vt_resampler_create(8000, 192001, 3));
    ck_assert_ptr_null(vt_resampler_create(8000, 16000, 11));
    ck_assert_ptr_null(vt_resampler_create(8000, 16000, -1));
    rs = vt_resampler_create(192000, 1000, 0);
    ck_assert_ptr_nonnull(rs);
    vt_resampler_destroy(rs);
    vt_resampler_destroy(NULL);
}
END_TEST

/* ---------------------------------------------------------------- VAD */

typedef enum { SIG_QUIET, SIG_TONE, SIG_NOISE } vad_sig_t;

static uint32_t rng_state;

static double noise(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (double)(rng_state >> 8) / 8388608.0 - 1.0;
}

/* One 20 ms frame: a quiet line (faint hiss), or a tone or a noise burst over it. */
static void make_frame(int16_t *f, vad_sig_t sig, long *t)
{
    for (int i = 0; i < VT_VAD_FRAME; i++, (*t)++) {
        double v = 20.0 * noise();
        if (sig == SIG_TONE)
            v += 6000.0 * sin(2.0 * M_PI * TONE_HZ * (double)*t / 8000.0);
        else if (sig == SIG_NOISE)
            v += 5000.0 * noise();
        f[i] = (int16_t)lrint(v);
    }
}

typedef struct {
    int starts, ends;
    int start_ms, end_ms; /* since the burst began / ended; -1: none */
} vad_run_t;

/* lead_ms of quiet line, burst_ms of sig, then tail_ms of quiet line. */
static vad_run_t run_vad(const vt_vad_conf_t *conf, vad_sig_t sig, int lead_ms, int burst_ms,
                         int tail_ms)
{
    vt_vad_t *vad = vt_vad_create(conf);
    vad_run_t r = { 0, 0, -1, -1 };
    int16_t f[VT_VAD_FRAME], copy[VT_VAD_FRAME];
    long t = 0;

    rng_state = 12345;
    ck_assert_ptr_nonnull(vad);
    for (int ms = 0; ms < lead_ms + burst_ms + tail_ms; ms += 20) {
        int in_burst = ms >= lead_ms && ms < lead_ms + burst_ms;
        vt_vad_event_t ev;
        make_frame(f, in_burst ? sig : SIG_QUIET, &t);
        memcpy(copy, f, sizeof f);
        ev = vt_vad_frame(vad, f);
        ck_assert(memcmp(copy, f, sizeof f) == 0); /* the frame is left alone */
        if (ev == VT_VAD_START) {
            r.starts++;
            r.start_ms = ms + 20 - lead_ms;
            ck_assert(vt_vad_in_speech(vad));
        }
        else if (ev == VT_VAD_END) {
            r.ends++;
            r.end_ms = ms + 20 - (lead_ms + burst_ms);
            ck_assert(!vt_vad_in_speech(vad));
        }
    }
    vt_vad_destroy(vad);
    return r;
}

START_TEST(test_vad_silence)
{
    int16_t zeros[VT_VAD_FRAME] = { 0 };
    vt_vad_t *vad = vt_vad_create(NULL);
    vad_run_t r;

    for (int i = 0; i < 150; i++)
        ck_assert_int_eq(vt_vad_frame(vad, zeros), VT_VAD_NONE);
    ck_assert(!vt_vad_in_speech(vad));
    vt_vad_destroy(vad);
    r = run_vad(NULL, SIG_QUIET, 3000, 0, 0);
    ck_assert_int_eq(r.starts + r.ends, 0);
}
END_TEST

START_TEST(test_vad_tone_burst)
{
    vad_run_t r = run_vad(NULL, SIG_TONE, 1000, 300, 1500);

    ck_assert_int_eq(r.starts, 1);
    ck_assert_int_eq(r.ends, 1);
    ck_assert_int_ge(r.start_ms, 100); /* min_speech_ms */
    ck_assert_int_le(r.start_ms, 140);
    ck_assert_int_ge(r.end_ms, 500);   /* hangover_ms */
    ck_assert_int_le(r.end_ms, 560);
}
END_TEST

START_TEST(test_vad_noise_burst)
{
    vad_run_t r = run_vad(NULL, SIG_NOISE, 1000, 300, 1500);

    ck_assert_int_eq(r.starts, 1);
    ck_assert_int_eq(r.ends, 1);
    ck_assert_int_ge(r.start_ms, 100);
    ck_assert_int_le(r.start_ms, 140);
    ck_assert_int_ge(r.end_ms, 500);
    ck_assert_int_le(r.end_ms, 560);
}
END_TEST

START_TEST(test_vad_short_burst)
{
    /* 40 ms (a click, a cough) is shorter than min_speech_ms: no barge-in. */
    vad_run_t r = run_vad(NULL, SIG_TONE, 1000, 40, 1500);

    ck_assert_int_eq(r.starts + r.ends, 0);
    r = run_vad(NULL, SIG_NOISE, 1000, 40, 1500);
    ck_assert_int_eq(r.starts + r.ends, 0);
}
END_TEST

START_TEST(test_vad_conf)
{
    vt_vad_conf_t conf = { 200, 300, 0, 0 };
    vad_run_t r = run_vad(&conf, SIG_TONE, 1000, 400, 1000);

    ck_assert_int_eq(r.starts, 1);
    ck_assert_int_ge(r.start_ms, 200);
    ck_assert_int_le(r.start_ms, 240);
    ck_assert_int_ge(r.end_ms, 300);
    ck_assert_int_le(r.end_ms, 360);
    /* 160 ms is now too short; with the defaults it is not. */
    r = run_vad(&conf, SIG_TONE, 1000, 160, 1000);
    ck_assert_int_eq(r.starts, 0);
    r = run_vad(NULL, SIG_TONE, 1000, 160, 1000);
    ck_assert_int_eq(r.starts, 1);
    /* The first 200 ms only learn the line: a loud line from the first frame is not
     * speech, and speech over it is found once it starts. */
    r = run_vad(NULL, SIG_NOISE, 0, 2000, 0);
    ck_assert_int_eq(r.starts, 0);
    r = run_vad(NULL, SIG_TONE, 200, 300, 1000);
    ck_assert_int_eq(r.starts, 1);
    ck_assert_int_eq(r.ends, 1);
}
END_TEST

START_TEST(test_vad_reset)
{
    vt_vad_t *vad = vt_vad_create(NULL);
    int16_t f[VT_VAD_FRAME];
    long t = 0;
    int started = 0;

    rng_state = 7;
    for (int i = 0; i < 50; i++) {
        make_frame(f, SIG_QUIET, &t);
        vt_vad_frame(vad, f);
    }
    for (int i = 0; i < 10 && !started; i++) {
        make_frame(f, SIG_TONE, &t);
        started = vt_vad_frame(vad, f) == VT_VAD_START;
    }
    ck_assert(started);
    ck_assert(vt_vad_in_speech(vad));
    vt_vad_reset(vad);
    ck_assert(!vt_vad_in_speech(vad));
    /* A new START needs min_speech_ms again. */
    for (int i = 0; i < 4; i++) {
        make_frame(f, SIG_TONE, &t);
        ck_assert_int_eq(vt_vad_frame(vad, f), VT_VAD_NONE);
    }
    vt_vad_destroy(vad);
    vt_vad_destroy(NULL);
}
END_TEST

/* A whole clip to Twilio's 8 kHz µ-law: 8 kHz is only encoded, 16 kHz is halved. */
START_TEST(test_pcm_to_ulaw8k)
{
    int16_t pcm[1600];
    uint8_t want[1600], *got;
    size_t len = 0;

    for (int i = 0; i < 1600; i++) {
        pcm[i] = (int16_t)(8000.0 * sin(2 * M_PI * 440.0 * i / 16000.0));
    }
    got = vt_pcm_to_ulaw8k(pcm, 1600, 8000, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, 1600);
    vt_ulaw_encode(pcm, 1600, want);
    ck_assert_mem_eq(got, want, 1600);
    free(got);
    got = vt_pcm_to_ulaw8k(pcm, 1600, 16000, &len);
    ck_assert_ptr_nonnull(got);
    ck_assert(len >= 790 && len <= 800); /* less the filter's delay */
    free(got);
    ck_assert_ptr_null(vt_pcm_to_ulaw8k(pcm, 1600, 500, &len));
}
END_TEST

/* espeak-ng speaks a short line as 8 kHz µ-law: between a third of a second and 3 s. */
START_TEST(test_espeak_ulaw)
{
    uint8_t *ulaw;
    size_t len = 0;
    long loud = 0;

    ck_assert_int_gt(vt_espeak_start(), 0);
    vt_espeak_set_language("en-US");
    ulaw = vt_espeak_ulaw("Hello there.", &len);
    ck_assert_ptr_nonnull(ulaw);
    ck_assert(len > 2700 && len < 24000);
    for (size_t i = 0; i < len; i++) {
        loud += abs(vt_ulaw_to_pcm(ulaw[i])) > 1000;
    }
    ck_assert_int_gt(loud, 500); /* speech, not silence */
    free(ulaw);
    vt_espeak_set_language("xx-YY"); /* unknown: English, not a failure */
    ulaw = vt_espeak_ulaw("Hi.", &len);
    ck_assert_ptr_nonnull(ulaw);
    free(ulaw);
    vt_espeak_stop();
}
END_TEST

Suite *vt_suite_audio(void)
{
    Suite *s = suite_create("audio");
    TCase *tc = tcase_create("resampler");

    tcase_add_test(tc, test_resample_tone_round_trip);
    tcase_add_test(tc, test_resample_counts);
    tcase_add_test(tc, test_resample_reset_and_limits);
    tcase_add_test(tc, test_pcm_to_ulaw8k);
    suite_add_tcase(s, tc);
    tc = tcase_create("espeak");
    tcase_add_test(tc, test_espeak_ulaw);
    suite_add_tcase(s, tc);
    tc = tcase_create("vad");
    tcase_add_test(tc, test_vad_silence);
    tcase_add_test(tc, test_vad_tone_burst);
    tcase_add_test(tc, test_vad_noise_burst);
    tcase_add_test(tc, test_vad_short_burst);
    tcase_add_test(tc, test_vad_conf);
    tcase_add_test(tc, test_vad_reset);
    suite_add_tcase(s, tc);
    return s;
}
