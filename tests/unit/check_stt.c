/* vt_stt: the language helper, the answer parser (json, verbose_json with a confidence,
 * plain text; cleaning, caps, UTF-8, Whisper's non-speech annotations; malformed answers),
 * and what vt_stt_transcribe refuses before sending anything. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "vt_suites.h"
#include "vt_rest.h"
#include "vt_stt.h"

#define KEY "sk-SECRET-stt-0123456789"

static vt_stt_reply_t parse_ok(const char *body)
{
    vt_stt_reply_t r;
    const char *why = NULL;
    apr_status_t rv = vt_stt_response_parse(vt_test_pool, body, strlen(body), &r, &why);

    ck_assert_msg(rv == APR_SUCCESS, "refused %s: %s", body, why ? why : "?");
    ck_assert_ptr_nonnull(r.text);
    return r;
}

static const char *parse_bad(const char *body, size_t len)
{
    vt_stt_reply_t r;
    const char *why = NULL;

    ck_assert_msg(vt_stt_response_parse(vt_test_pool, body, len, &r, &why) == APR_EINVAL,
                  "accepted %s", body);
    ck_assert_ptr_nonnull(why);
    return why;
}

START_TEST(test_language)
{
    static const char *const cases[][2] = {
        { "en-US", "en" }, { "es", "es" }, { "EN_gb", "en" }, { "pt-BR", "pt" },
        { "zh-Hant-TW", "zh" }, { "nb-NO", "no" }, { "fil-PH", "tl" }, { "yue-HK", "yue" },
        { "haw", "haw" }, { "cmn-Hans-CN", NULL }, { "e", NULL }, { "", NULL },
        { "en1", NULL }, { "english", NULL }, { "-en", NULL }, { "en US", NULL },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = vt_stt_language(vt_test_pool, cases[i][0]);
        if (cases[i][1])
            ck_assert_msg(got && strcmp(got, cases[i][1]) == 0, "%s -> %s", cases[i][0],
                          got ? got : "NULL");
        else
            ck_assert_msg(!got, "%s -> %s", cases[i][0], got);
    }
    ck_assert_ptr_null(vt_stt_language(vt_test_pool, NULL));
}
END_TEST

START_TEST(test_parse_json)
{
    vt_stt_reply_t r = parse_ok("{\"text\": \" What are your opening hours?\\n\"}");

    ck_assert_str_eq(r.text, "What are your opening hours?");
    ck_assert(r.confidence == -1);
    ck_assert_ptr_null(r.language);
    r = parse_ok("{\"text\":\"\",\"usage\":{\"type\":\"duration\",\"seconds\":2}}\r\n");
    ck_assert_str_eq(r.text, "");
    r = parse_ok("  {\"text\":\"Hola\",\"language\":\"es\"}");
    ck_assert_str_eq(r.text, "Hola");
    ck_assert_str_eq(r.language, "es");
    /* a language that is no plain word is dropped, the text kept */
    r = parse_ok("{\"text\":\"Hi\",\"language\":\"en\\u0000; rm\"}");
    ck_assert_ptr_null(r.language);
}
END_TEST

/* verbose_json: exp(mean avg_logprob) x (1 - max no_speech_prob). */
START_TEST(test_parse_verbose_json)
{
    vt_stt_reply_t r = parse_ok(
        "{\"task\":\"transcribe\",\"language\":\"english\",\"duration\":2.1,"
        "\"text\":\"I need a plumber.\",\"segments\":[{\"id\":0,\"avg_logprob\":-0.2,"
        "\"no_speech_prob\":0.1,\"text\":\"I need\"},{\"id\":1,\"avg_logprob\":-0.4,"
        "\"no_speech_prob\":0.3,\"text\":\" a plumber.\"}]}");

    ck_assert_str_eq(r.text, "I need a plumber.");
    ck_assert_str_eq(r.language, "english");
    ck_assert_msg(fabs(r.confidence - exp(-0.3) * 0.7) < 1e-9, "%f", r.confidence);
    r = parse_ok("{\"text\":\"x\",\"segments\":[{\"no_speech_prob\":0.25}]}");
    ck_assert(fabs(r.confidence - 0.75) < 1e-9);
    r = parse_ok("{\"text\":\"x\",\"segments\":[{\"avg_logprob\":-1}]}");
    ck_assert(fabs(r.confidence - exp(-1)) < 1e-9);
    /* nothing usable, or out of range values from a confused server */
    r = parse_ok("{\"text\":\"x\",\"segments\":[{\"id\":0},7,\"s\"]}");
    ck_assert(r.confidence == -1);
    r = parse_ok("{\"text\":\"x\",\"segments\":{\"avg_logprob\":-1}}");
    ck_assert(r.confidence == -1);
    r = parse_ok("{\"text\":\"x\",\"segments\":[{\"avg_logprob\":3,\"no_speech_prob\":9}]}");
    ck_assert(r.confidence >= 0 && r.confidence <= 1);
    r = parse_ok("{\"text\":\"x\",\"segments\":[{\"avg_logprob\":-1e308,\"no_speech_prob\":-2}]}");
    ck_assert(r.confidence >= 0 && r.confidence <= 1);
}
END_TEST

START_TEST(test_parse_plain_text)
{
    vt_stt_reply_t r = parse_ok("  Yes, tomorrow at nine.\n");

    ck_assert_str_eq(r.text, "Yes, tomorrow at nine.");
    ck_assert(r.confidence == -1);
    r = parse_ok("");
    ck_assert_str_eq(r.text, "");
    r = parse_ok("\n\n");
    ck_assert_str_eq(r.text, "");
    ck_assert_str_eq(parse_bad("<html><body>502 Bad Gateway</body></html>", 41),
                     "an HTML page instead of a transcript");
}
END_TEST

/* Control characters and separators become one space; bidi overrides go; invalid UTF-8 is
 * U+FFFD; Whisper's annotations alone are no words. */
START_TEST(test_parse_cleaning)
{
    vt_stt_reply_t r = parse_ok("{\"text\":\"one\\ttwo\\r\\n\\u0000three\\u2028four\\u202Efive\"}");

    ck_assert_str_eq(r.text, "one two three four five");
    r = parse_ok("caf\xc3\xa9 \xff ok \xe2\x82");
    ck_assert_str_eq(r.text, "caf\xc3\xa9 \xef\xbf\xbd ok \xef\xbf\xbd\xef\xbf\xbd");
    r = parse_ok("{\"text\":\"\\ud800 lone\"}");  /* json-c's choice for a lone surrogate */
    ck_assert_ptr_nonnull(r.text);
    r = parse_ok("{\"text\":\" [BLANK_AUDIO]\\n\"}");
    ck_assert_str_eq(r.text, "");
    r = parse_ok("[Music] (silence)");
    ck_assert_str_eq(r.text, "");
    r = parse_ok("{\"text\":\"[laughs] I see\"}");
    ck_assert_str_eq(r.text, "[laughs] I see");
}
END_TEST

/* Capped at VT_STT_TEXT_MAX bytes, cut at a character. */
START_TEST(test_parse_cap)
{
    char *body = apr_palloc(vt_test_pool, 3 * VT_STT_TEXT_MAX + 16);
    size_t n = 0;

    n += (size_t)sprintf(body, "{\"text\":\"a");
    for (int i = 0; i < VT_STT_TEXT_MAX; i++) {
        memcpy(body + n, "\xe2\x82\xac", 3); /* € */
        n += 3;
    }
    memcpy(body + n, "\"}", 3);
    vt_stt_reply_t r = parse_ok(body);
    ck_assert_uint_eq(strlen(r.text), 1 + 3 * ((VT_STT_TEXT_MAX - 1) / 3));
    ck_assert(strncmp(r.text + strlen(r.text) - 3, "\xe2\x82\xac", 3) == 0);
}
END_TEST

START_TEST(test_parse_bad)
{
    static const char *const bad[] = {
        "{\"text\": 42}",
        "{\"transcript\": \"hi\"}",
        "{\"text\": \"hi\"",
        "{\"text\": \"hi\"} trailing",
        "{\"text\": \"hi\"}{\"text\": \"again\"}",
        "{'text': 'hi'}",
        "{\"error\": {\"message\": \"Invalid file format.\"}}",
    };
    char *big = apr_palloc(vt_test_pool, VT_STT_RESPONSE_MAX + 2);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], strlen(bad[i]));
    ck_assert_str_eq(parse_bad(bad[6], strlen(bad[6])), "an error instead of a transcript");
    ck_assert_str_eq(parse_bad("{\"text\":\"a\0b\"}", 14), "not JSON: a NUL byte");
    memset(big, ' ', VT_STT_RESPONSE_MAX + 1);
    big[VT_STT_RESPONSE_MAX + 1] = '\0';
    ck_assert_str_eq(parse_bad(big, VT_STT_RESPONSE_MAX + 1), "the answer is too large");
}
END_TEST

/* Refused before anything is sent; the key never in an error. */
START_TEST(test_transcribe_refused)
{
    int16_t pcm[160] = { 0 };
    vt_stt_reply_t r;
    vt_stt_result_t res;
    vt_stt_http_t *h;
    vt_stt_conf_t conf = { "http://127.0.0.1:9/v1", "whisper-1", KEY, "en" };

    vt_rest_global_init();
    h = vt_stt_http_create(vt_test_pool);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(vt_stt_transcribe(NULL, vt_test_pool, &conf, pcm, 160, 1000, &r, &res),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(res.error);
    conf.base_url = "ftp://example.com/v1";
    ck_assert_int_eq(vt_stt_transcribe(h, vt_test_pool, &conf, pcm, 160, 1000, &r, &res),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(res.error, "invalid base URL"));
    conf.base_url = "http://127.0.0.1:9/v1";
    conf.model = "";
    ck_assert_int_eq(vt_stt_transcribe(h, vt_test_pool, &conf, pcm, 160, 1000, &r, &res),
                     APR_EINVAL);
    conf.model = "whisper-1";
    conf.api_key = KEY "\r\nX-Evil: 1";
    ck_assert_int_eq(vt_stt_transcribe(h, vt_test_pool, &conf, pcm, 160, 1000, &r, &res),
                     APR_EINVAL);
    ck_assert_ptr_null(strstr(res.error, "SECRET"));
    ck_assert_int_eq(res.http_status, 0);
    ck_assert_ptr_null(r.text);
    ck_assert(r.confidence == -1);
}
END_TEST

Suite *vt_suite_stt(void)
{
    Suite *s = suite_create("stt");
    TCase *tc = tcase_create("stt");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_language);
    tcase_add_test(tc, test_parse_json);
    tcase_add_test(tc, test_parse_verbose_json);
    tcase_add_test(tc, test_parse_plain_text);
    tcase_add_test(tc, test_parse_cleaning);
    tcase_add_test(tc, test_parse_cap);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_transcribe_refused);
    suite_add_tcase(s, tc);
    return s;
}
