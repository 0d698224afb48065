/* TwiML writer and voice answers: structure, escaping, UTF-8 sanitizing. */
#include <string.h>
#include "vt_suites.h"
#include "vt_twiml.h"
#include "vt_voice.h"

#define PROLOG "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"

START_TEST(test_empty_response)
{
    apr_size_t len;
    const char *doc = vt_twiml_finish(vt_twiml_create(vt_test_pool), &len);

    ck_assert_str_eq(doc, PROLOG "</Response>");
    ck_assert_uint_eq(len, strlen(doc));
}
END_TEST

START_TEST(test_nesting_and_null_attrs)
{
    vt_twiml_t *t = vt_twiml_create(vt_test_pool);

    vt_twiml_open(t, "Gather", "input", "speech", "language", NULL, "action", "speech", NULL);
    vt_twiml_leaf(t, "Say", "Hi", "voice", "Polly.Joanna", NULL);
    vt_twiml_close(t);
    vt_twiml_leaf(t, "Hangup", NULL, NULL);
    ck_assert_str_eq(vt_twiml_finish(t, NULL),
                     PROLOG "<Gather input=\"speech\" action=\"speech\"><Say voice=\"Polly.Joanna\">"
                            "Hi</Say></Gather><Hangup/></Response>");
}
END_TEST

START_TEST(test_finish_closes_open_elements)
{
    vt_twiml_t *t = vt_twiml_create(vt_test_pool);

    vt_twiml_open(t, "Dial", NULL);
    vt_twiml_leaf(t, "Number", "+14155550100", NULL);
    ck_assert_str_eq(vt_twiml_finish(t, NULL),
                     PROLOG "<Dial><Number>+14155550100</Number></Dial></Response>");
}
END_TEST

START_TEST(test_escape_markup)
{
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "<Hangup/> & \"x\" 'y'"),
                     "&lt;Hangup/&gt; &amp; &quot;x&quot; &apos;y&apos;");
}
END_TEST

START_TEST(test_escape_in_attribute_and_text)
{
    vt_twiml_t *t = vt_twiml_create(vt_test_pool);

    vt_twiml_leaf(t, "Say", "a</Say><Hangup/>", "voice", "\"><Hangup/>", NULL);
    ck_assert_str_eq(vt_twiml_finish(t, NULL),
                     PROLOG "<Say voice=\"&quot;&gt;&lt;Hangup/&gt;\">a&lt;/Say&gt;&lt;Hangup/&gt;"
                            "</Say></Response>");
}
END_TEST

START_TEST(test_escape_keeps_utf8)
{
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "Grüß Gott – 日本 🎉"), "Grüß Gott – 日本 🎉");
}
END_TEST

START_TEST(test_escape_invalid_utf8_and_controls)
{
    /* Lone continuation byte, overlong '/', surrogate, truncated sequence, C0 controls. */
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "a\x80" "b"), "a\xEF\xBF\xBD" "b");
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "\xED\xA0\x80"),
                     "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");
    ck_assert_str_eq(vt_xml_escape(vt_test_pool, "a\x01\x08\tb\nc\rd\x1F"), "a\tb\nc\rd");
}
END_TEST

START_TEST(test_voice_gather)
{
    vt_voice_opts_t o = { "Polly.Joanna", "en-US" };
    apr_size_t len;
    const char *doc = vt_voice_gather(vt_test_pool, "Hello & welcome", &o, "speech", &len);

    ck_assert_str_eq(doc, PROLOG "<Gather input=\"speech\" action=\"speech\" method=\"POST\" "
                              "speechTimeout=\"auto\" actionOnEmptyResult=\"true\" "
                              "language=\"en-US\"><Say voice=\"Polly.Joanna\" language=\"en-US\">"
                              "Hello &amp; welcome</Say></Gather></Response>");
    ck_assert_uint_eq(len, strlen(doc));
}
END_TEST

START_TEST(test_voice_not_in_service_and_apology)
{
    const char *a = vt_voice_not_in_service(vt_test_pool, NULL);
    const char *b = vt_voice_apology(vt_test_pool, NULL);

    ck_assert_ptr_nonnull(strstr(a, "not in service"));
    ck_assert_ptr_nonnull(strstr(a, "<Hangup/></Response>"));
    ck_assert_ptr_nonnull(strstr(b, VT_VOICE_APOLOGY_TEXT));
    ck_assert_ptr_nonnull(strstr(b, "<Hangup/></Response>"));
}
END_TEST

START_TEST(test_large_document_grows_buffer)
{
    vt_twiml_t *t = vt_twiml_create(vt_test_pool);
    apr_size_t len;
    int i;

    for (i = 0; i < 500; i++) {
        vt_twiml_leaf(t, "Say", "0123456789 & 0123456789", NULL);
    }
    vt_twiml_finish(t, &len);
    ck_assert_uint_eq(len, strlen(PROLOG "</Response>")
                               + 500 * strlen("<Say>0123456789 &amp; 0123456789</Say>"));
}
END_TEST

Suite *vt_suite_twiml(void)
{
    Suite *s = suite_create("twiml");
    TCase *tc = tcase_create("twiml");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_empty_response);
    tcase_add_test(tc, test_nesting_and_null_attrs);
    tcase_add_test(tc, test_finish_closes_open_elements);
    tcase_add_test(tc, test_escape_markup);
    tcase_add_test(tc, test_escape_in_attribute_and_text);
    tcase_add_test(tc, test_escape_keeps_utf8);
    tcase_add_test(tc, test_escape_invalid_utf8_and_controls);
    tcase_add_test(tc, test_voice_gather);
    tcase_add_test(tc, test_voice_not_in_service_and_apology);
    tcase_add_test(tc, test_large_document_grows_buffer);
    suite_add_tcase(s, tc);
    return s;
}
