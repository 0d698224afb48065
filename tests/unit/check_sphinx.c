/* check_sphinx — the offline recognizer (vt_sphinx) against the packaged en-us model, on
 * speech espeak-ng synthesizes and the phone leg's µ-law carries. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "vt_espeak.h"
#include "vt_g711.h"
#include "vt_sphinx.h"
#include "vt_suites.h"

static const char *const menu[] = {
    "What are your opening hours?", "Book an appointment", "Where are you located?",
    "Order status", "human", "goodbye",
};

/* text -> 8 kHz PCM as the phone leg delivers it (espeak -> µ-law -> PCM), in the pool.
 * espeak-ng is started between vt_espeak_start/stop once per test: restarting it in one
 * process hangs. */
static int16_t *speech(const char *text, size_t *n)
{
    uint8_t *ulaw = vt_espeak_ulaw(text, n);
    int16_t *pcm;

    ck_assert_ptr_nonnull(ulaw);
    pcm = apr_palloc(vt_test_pool, *n * sizeof(int16_t));
    vt_ulaw_decode(ulaw, *n, pcm);
    free(ulaw);
    return pcm;
}

static void espeak_setup(void)
{
    vt_test_pool_setup();
    ck_assert_int_gt(vt_espeak_start(), 0);
    vt_espeak_set_language("en-US");
}

static void espeak_teardown(void)
{
    vt_espeak_stop();
    vt_test_pool_teardown();
}

START_TEST(test_normalize)
{
    ck_assert_str_eq(vt_sphinx_normalize(vt_test_pool, "  That's ALL!  Thanks."),
                     "that's all thanks");
    ck_assert_str_eq(vt_sphinx_normalize(vt_test_pool, "?!"), "");
}
END_TEST

START_TEST(test_recognize_phrase)
{
    vt_sphinx_t *sx = vt_sphinx_thread();
    vt_sphinx_result_t r;
    size_t n;
    int16_t *pcm = speech("Where are you located?", &n);

    ck_assert_ptr_nonnull(sx);
    ck_assert_ptr_eq(vt_sphinx_thread(), sx);           /* one decoder per thread */
    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, menu, 6, pcm, n, 0.0, &r), 0);
    ck_assert_ptr_nonnull(r.phrase);
    ck_assert_str_eq(r.phrase, "Where are you located?");
    ck_assert_str_eq(r.text, "where are you located");
    ck_assert_int_eq(r.index, 2);
    ck_assert(r.confidence > 0.0 && r.confidence <= 1.0);
    ck_assert_ptr_null(r.dropped);
    /* an impossible threshold turns the same hypothesis into a no-match */
    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, menu, 6, pcm, n, 1.01, &r), 0);
    ck_assert_ptr_null(r.phrase);
    ck_assert_ptr_null(r.text);
    ck_assert_int_eq(r.index, -1);
}
END_TEST

START_TEST(test_out_of_dictionary)
{
    static const char *const phrases[] = { "zorbulax quintz", "goodbye", "frobnitzel" };
    static const char *const none[] = { "zorbulax", "!!" };
    vt_sphinx_t *sx = vt_sphinx_thread();
    vt_sphinx_result_t r;
    size_t n;
    int16_t *pcm = speech("Goodbye.", &n);

    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, phrases, 3, pcm, n, 0.0, &r), 0);
    ck_assert_str_eq(r.dropped, "zorbulax quintz; frobnitzel");
    ck_assert_str_eq(r.phrase, "goodbye");
    ck_assert_int_eq(r.index, 1);
    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, none, 2, pcm, n, 0.0, &r), -1);
    ck_assert_str_eq(r.dropped, "zorbulax; !!");
    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, menu, 0, pcm, n, 0.0, &r), -1);
}
END_TEST

START_TEST(test_silence_and_noise)
{
    vt_sphinx_t *sx = vt_sphinx_thread();
    vt_sphinx_result_t r;
    size_t n = 8000 * 2;
    int16_t *pcm = apr_pcalloc(vt_test_pool, n * sizeof(int16_t));

    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, menu, 6, pcm, n,
                                         VT_SPHINX_THRESHOLD, &r), 0);
    ck_assert_ptr_null(r.phrase);
    srand(7);
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)(rand() % 4001 - 2000);       /* white noise, about -27 dBFS */
    ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, menu, 6, pcm, n,
                                         VT_SPHINX_THRESHOLD, &r), 0);
    ck_assert_ptr_null(r.phrase);
}
END_TEST

START_TEST(test_two_grammars)
{
    static const char *const yesno[] = { "yes", "no" };
    vt_sphinx_t *sx = vt_sphinx_thread();
    vt_sphinx_result_t r;
    size_t n1, n2;
    int16_t *hours = speech("What are your opening hours?", &n1);
    int16_t *no = speech("No.", &n2);

    /* alternate the two phrase sets: each is compiled once and switched to, by hash */
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, menu, 6, hours, n1, 0.0, &r), 0);
        ck_assert_int_eq(r.index, 0);
        ck_assert_int_eq(vt_sphinx_recognize(sx, vt_test_pool, yesno, 2, no, n2, 0.0, &r), 0);
        ck_assert_ptr_nonnull(r.phrase);
        ck_assert_str_eq(r.phrase, "no");
    }
}
END_TEST

Suite *vt_suite_sphinx(void)
{
    Suite *s = suite_create("sphinx");
    TCase *tc = tcase_create("recognize");

    tcase_add_checked_fixture(tc, espeak_setup, espeak_teardown);
    tcase_set_timeout(tc, 120); /* each test loads the model: slow under ASan */
    tcase_add_test(tc, test_normalize);
    tcase_add_test(tc, test_recognize_phrase);
    tcase_add_test(tc, test_out_of_dictionary);
    tcase_add_test(tc, test_silence_and_noise);
    tcase_add_test(tc, test_two_grammars);
    suite_add_tcase(s, tc);
    return s;
}
