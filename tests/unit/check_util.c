/* Unit tests for vt_util: hex, constant-time compare, validators, base URL normalization. */
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_util.h"

START_TEST(test_hex_encode)
{
    static const unsigned char buf[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    ck_assert_str_eq(vt_hex_encode(vt_test_pool, buf, sizeof(buf)), "00017f80abff");
    ck_assert_str_eq(vt_hex_encode(vt_test_pool, buf, 0), "");
}
END_TEST

START_TEST(test_hex_decode)
{
    unsigned char *out = NULL;
    apr_size_t len = 99;
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "00017F80aBfF", &out, &len), 0);
    ck_assert_uint_eq(len, 6);
    static const unsigned char want[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    ck_assert_mem_eq(out, want, 6);

    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "", &out, &len), 0);
    ck_assert_uint_eq(len, 0);

    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "abc", &out, &len), -1);  /* odd length */
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "0g", &out, &len), -1);   /* non-hex */
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "zz00", &out, &len), -1);
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "00 1", &out, &len), -1);
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, "+1", &out, &len), -1);
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, NULL, &out, &len), -1);
}
END_TEST

START_TEST(test_hex_roundtrip)
{
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *hex = vt_hex_encode(vt_test_pool, all, sizeof(all));
    ck_assert_uint_eq(strlen(hex), 512);
    unsigned char *back;
    apr_size_t len;
    ck_assert_int_eq(vt_hex_decode(vt_test_pool, hex, &back, &len), 0);
    ck_assert_uint_eq(len, 256);
    ck_assert_mem_eq(back, all, 256);
}
END_TEST

START_TEST(test_hex_decode_fixed)
{
    unsigned char out[4];
    ck_assert_int_eq(vt_hex_decode_fixed("DEADbeef", out, 4), 0);
    ck_assert_uint_eq(out[0], 0xde);
    ck_assert_uint_eq(out[3], 0xef);
    ck_assert_int_eq(vt_hex_decode_fixed("deadbe", out, 4), -1);     /* too short */
    ck_assert_int_eq(vt_hex_decode_fixed("deadbeef00", out, 4), -1); /* too long */
    ck_assert_int_eq(vt_hex_decode_fixed("deadbeeg", out, 4), -1);
    ck_assert_int_eq(vt_hex_decode_fixed(NULL, out, 4), -1);
    ck_assert_int_eq(vt_hex_decode_fixed("", out, 0), 0);
}
END_TEST

START_TEST(test_const_time_eq)
{
    ck_assert_int_eq(vt_const_time_eq("abc", 3, "abc", 3), 1);
    ck_assert_int_eq(vt_const_time_eq("abc", 3, "abd", 3), 0);
    ck_assert_int_eq(vt_const_time_eq("xbc", 3, "abc", 3), 0);
    ck_assert_int_eq(vt_const_time_eq("abc", 3, "abcd", 4), 0); /* prefix */
    ck_assert_int_eq(vt_const_time_eq("abcd", 4, "abc", 3), 0);
    ck_assert_int_eq(vt_const_time_eq("", 0, "", 0), 1);
    ck_assert_int_eq(vt_const_time_eq(NULL, 0, NULL, 0), 1);
    ck_assert_int_eq(vt_const_time_eq("a\0b", 3, "a\0c", 3), 0); /* binary, not strings */
}
END_TEST

START_TEST(test_e164)
{
    static const char *ok[] = {"+14155550100", "+12", "+123456789012345", "+442071838750", "+91"};
    static const char *bad[] = {"",           "+",          "+1",          "+0123",
                                "14155550100", "+1234567890123456",       "+1 415",
                                "+1415a",      "++14155550100", "+1-415-555", "+14155550100\n",
                                " +14155550100", "+\xef\xbc\x91\x32"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(vt_e164_valid(ok[i]), "should be valid: %s", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!vt_e164_valid(bad[i]), "should be invalid: %s", bad[i]);
    ck_assert_int_eq(vt_e164_valid(NULL), 0);
}
END_TEST

START_TEST(test_sid)
{
    const char *hex32 = "0123456789abcdef0123456789ABCDEF";
    const char *call = apr_pstrcat(vt_test_pool, "CA", hex32, NULL);
    ck_assert_int_eq(vt_sid_valid(call, "CA"), 1);
    ck_assert_int_eq(vt_sid_valid(call, "AC"), 0);
    ck_assert_int_eq(vt_sid_valid(apr_pstrcat(vt_test_pool, "AC", hex32, NULL), "AC"), 1);
    ck_assert_int_eq(vt_sid_valid("CAffffffffffffffffffffffffffffffff", "CA"), 1);
    ck_assert_int_eq(vt_sid_valid("CAfffffffffffffffffffffffffffffff", "CA"), 0);   /* 31 */
    ck_assert_int_eq(vt_sid_valid("CAfffffffffffffffffffffffffffffffff0", "CA"), 0); /* 33 */
    ck_assert_int_eq(vt_sid_valid("CAgfffffffffffffffffffffffffffffff", "CA"), 0);
    ck_assert_int_eq(vt_sid_valid("caffffffffffffffffffffffffffffffff", "CA"), 0);
    ck_assert_int_eq(vt_sid_valid("CA1234567890ABCDE", "CA"), 0);
    ck_assert_int_eq(vt_sid_valid("CA", "CA"), 0);
    ck_assert_int_eq(vt_sid_valid("", "CA"), 0);
    ck_assert_int_eq(vt_sid_valid(NULL, "CA"), 0);
    /* NULL prefix: any two upper-case letters. */
    ck_assert_int_eq(vt_sid_valid("MZffffffffffffffffffffffffffffffff", NULL), 1);
    ck_assert_int_eq(vt_sid_valid("mzffffffffffffffffffffffffffffffff", NULL), 0);
}
END_TEST

START_TEST(test_slug)
{
    char s63[64], s64[65];
    memset(s63, 'a', 63);
    s63[63] = '\0';
    memset(s64, 'a', 64);
    s64[64] = '\0';
    static const char *ok[] = {"a", "0", "acme", "acme-corp", "a-", "9lives", "a--b"};
    static const char *bad[] = {"", "-a", "A", "Acme", "a_b", "a b", "a.b", "caf\xc3\xa9", "a/b"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        ck_assert_msg(vt_slug_valid(ok[i]), "should be valid: %s", ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!vt_slug_valid(bad[i]), "should be invalid: %s", bad[i]);
    ck_assert_int_eq(vt_slug_valid(s63), 1);
    ck_assert_int_eq(vt_slug_valid(s64), 0);
    ck_assert_int_eq(vt_slug_valid(NULL), 0);
}
END_TEST

static const struct {
    const char *in;
    const char *out; /* NULL: rejected */
    const char *err; /* substring of the error when rejected */
} url_cases[] = {
    {"https://voice.example.com", "https://voice.example.com", NULL},
    {"https://voice.example.com/", "https://voice.example.com", NULL},
    {"https://voice.example.com/twilio/", "https://voice.example.com/twilio", NULL},
    {"https://voice.example.com/twilio//", "https://voice.example.com/twilio", NULL},
    {"HTTPS://Voice.Example.COM/Twilio/", "https://voice.example.com/Twilio", NULL},
    {"http://127.0.0.1:8080/", "http://127.0.0.1:8080", NULL},
    {"https://h.example:443/a/b", "https://h.example:443/a/b", NULL},
    {"https://h.example:1", "https://h.example:1", NULL},
    {"https://h.example:65535/x", "https://h.example:65535/x", NULL},
    {"https://[::1]:8443/", "https://[::1]:8443", NULL},
    {"https://[2001:DB8::1]/p", "https://[2001:db8::1]/p", NULL},
    {"https://api.twilio.com/2010-04-01", "https://api.twilio.com/2010-04-01", NULL},
    {"https://h.example/a%20b", "https://h.example/a%20b", NULL},
    {"", NULL, "empty"},
    {"ftp://h.example", NULL, "must start with http:// or https://"},
    {"h.example/x", NULL, "must start with http:// or https://"},
    {"https:/h.example", NULL, "must start with http:// or https://"},
    {"wss://h.example", NULL, "must start with http:// or https://"},
    {"https://", NULL, "host"},
    {"https:///path", NULL, "host"},
    {"https://:443/", NULL, "host"},
    {"https://h.example/x?a=1", NULL, "must not contain a query string"},
    {"https://h.example?", NULL, "must not contain a query string"},
    {"https://h.example/x#frag", NULL, "must not contain a fragment"},
    {"https://user:pw@h.example/", NULL, "user info"},
    {"https://user@h.example", NULL, "user info"},
    {"https://h.example:0/", NULL, "invalid port"},
    {"https://h.example:65536/", NULL, "invalid port"},
    {"https://h.example:99999999999999999999/", NULL, "invalid port"},
    {"https://h.example:/", NULL, "invalid port"},
    {"https://h.example:44a/", NULL, "invalid port"},
    {"https://h.example:-1/", NULL, "invalid port"},
    {"https://h.example:0443/", NULL, "invalid port"},
    {"https://h.example:443:1/", NULL, "invalid port"},
    {"https://h ex.com/", NULL, "whitespace"},
    {"https://h.example/a b", NULL, "whitespace"},
    {" https://h.example", NULL, "whitespace"},
    {"https://h.example/\n", NULL, "control"},
    {"https://h.example/\t", NULL, "control"},
    {"https://h.example/\x7f", NULL, "control"},
    {"https://h.example/caf\xc3\xa9", NULL, "ASCII"},
    {"https://h.ex%41mple/", NULL, "invalid host"},
    {"https://h.example\\x/", NULL, "invalid host"},
    {"https://[::1/", NULL, "IPv6"},
    {"https://[]/", NULL, "IPv6"},
    {"https://[::g]/", NULL, "IPv6"},
    {"https://[::1]x/", NULL, "invalid host"},
};

START_TEST(test_base_url_normalize)
{
    const char *err = NULL;
    const char *out = vt_base_url_normalize(vt_test_pool, url_cases[_i].in, &err);
    if (url_cases[_i].out) {
        ck_assert_msg(out != NULL, "'%s' rejected: %s", url_cases[_i].in, err ? err : "?");
        ck_assert_str_eq(out, url_cases[_i].out);
        ck_assert_ptr_null(err);
    }
    else {
        ck_assert_msg(out == NULL, "'%s' accepted as '%s'", url_cases[_i].in, out ? out : "");
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err, url_cases[_i].err) != NULL, "'%s': error '%s' lacks '%s'",
                      url_cases[_i].in, err, url_cases[_i].err);
    }
}
END_TEST

START_TEST(test_base_url_null)
{
    const char *err = NULL;
    ck_assert_ptr_null(vt_base_url_normalize(vt_test_pool, NULL, &err));
    ck_assert_ptr_nonnull(err);
    /* err may be omitted. */
    ck_assert_ptr_null(vt_base_url_normalize(vt_test_pool, "gopher://x", NULL));
    ck_assert_str_eq(vt_base_url_normalize(vt_test_pool, "http://x/", NULL), "http://x");
}
END_TEST

START_TEST(test_voice_language_chars)
{
    ck_assert(vt_voice_name_valid("Polly.Joanna"));
    ck_assert(vt_voice_name_valid("Google.en-US-Neural2-F"));
    ck_assert(!vt_voice_name_valid(""));
    ck_assert(!vt_voice_name_valid(NULL));
    ck_assert(!vt_voice_name_valid("Polly Joanna"));
    ck_assert(!vt_voice_name_valid("<Say>"));
    ck_assert(vt_language_valid("en"));
    ck_assert(vt_language_valid("en-US"));
    ck_assert(vt_language_valid("zh-Hant-TW"));
    ck_assert(!vt_language_valid(NULL));
    ck_assert(!vt_language_valid("e"));
    ck_assert(!vt_language_valid("english"));
    ck_assert(!vt_language_valid("en-"));
    ck_assert(!vt_language_valid("en_US"));
    ck_assert_uint_eq(vt_utf8_chars(""), 0);
    ck_assert_uint_eq(vt_utf8_chars("abc"), 3);
    ck_assert_uint_eq(vt_utf8_chars("\xc2\xa1Hola, se\xc3\xb1or! \xf0\x9f\x98\x80"), 15);
}
END_TEST

/* The one UTF-8 decoder the script validator, the model client and the analysis share. */
START_TEST(test_utf8_decode)
{
#define DEC(bytes, cp_out) vt_utf8_decode((const unsigned char *)(bytes), sizeof(bytes) - 1, cp_out)
    unsigned cp = 0;

    ck_assert_uint_eq(DEC("A", &cp), 1);
    ck_assert_uint_eq(cp, 'A');
    ck_assert_uint_eq(DEC("\xc3\xb1", &cp), 2);
    ck_assert_uint_eq(cp, 0xF1);
    ck_assert_uint_eq(DEC("\xe2\x80\xa6", &cp), 3);
    ck_assert_uint_eq(cp, 0x2026);
    ck_assert_uint_eq(DEC("\xf0\x9f\x98\x80", &cp), 4);
    ck_assert_uint_eq(cp, 0x1F600);
    ck_assert_uint_eq(DEC("\xf4\x8f\xbf\xbf", NULL), 4);    /* U+10FFFF */
    ck_assert_uint_eq(DEC("\xf4\x90\x80\x80", NULL), 0);    /* beyond U+10FFFF */
    ck_assert_uint_eq(DEC("\xc0\xaf", NULL), 0);              /* overlong '/' */
    ck_assert_uint_eq(DEC("\xe0\x80\xaf", NULL), 0);         /* overlong, 3 bytes */
    ck_assert_uint_eq(DEC("\xf0\x80\x80\xaf", NULL), 0);    /* overlong, 4 bytes */
    ck_assert_uint_eq(DEC("\xed\xa0\x80", NULL), 0);         /* surrogate U+D800 */
    ck_assert_uint_eq(DEC("\xe2\x80", NULL), 0);              /* cut short */
    ck_assert_uint_eq(DEC("\x80", NULL), 0);                  /* stray continuation */
    ck_assert_uint_eq(DEC("\xc3\x28", NULL), 0);              /* bad continuation */
#undef DEC
}
END_TEST

/* VoxTwilioStreamDirect's two arguments. */
START_TEST(test_stream_direct_parse)
{
    const char *url = NULL, *host = "x", *err = NULL;
    int port = 0;

#define OK(u, l) vt_stream_direct_parse(vt_test_pool, u, l, &url, &host, &port, &err)
    ck_assert(OK("wss://Media.Example.test/", "8443"));
    ck_assert_str_eq(url, "wss://media.example.test");
    ck_assert_ptr_null(host);
    ck_assert_int_eq(port, 8443);
    ck_assert(OK("WSS://media.example.test:7443", "127.0.0.1:9000"));
    ck_assert_str_eq(url, "wss://media.example.test:7443");
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 9000);
    ck_assert(OK("wss://m.example", "[::1]:65535"));
    ck_assert_str_eq(host, "::1");
    ck_assert(!OK("https://m.example", "8443") && strstr(err, "wss://"));
    ck_assert(!OK(NULL, "8443") && strstr(err, "wss://"));
    ck_assert(!OK("wss://m.example/voice", "8443") && strstr(err, "without a path"));
    ck_assert(!OK("wss://", "8443"));
    ck_assert(!OK("wss://m.example", "443") && strstr(err, "1024 to 65535"));
    ck_assert(!OK("wss://m.example", "0.0.0.0") && strstr(err, "1024"));
    ck_assert(!OK("wss://m.example", "70000"));
    ck_assert(!OK("wss://m.example", NULL));
    ck_assert(!OK("wss://m.example", "[fe80::1%eth0]:9000"));
#undef OK
}
END_TEST

Suite *vt_suite_util(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("util");
    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_hex_encode);
    tcase_add_test(tc, test_hex_decode);
    tcase_add_test(tc, test_hex_roundtrip);
    tcase_add_test(tc, test_hex_decode_fixed);
    tcase_add_test(tc, test_const_time_eq);
    tcase_add_test(tc, test_e164);
    tcase_add_test(tc, test_sid);
    tcase_add_test(tc, test_slug);
    tcase_add_test(tc, test_voice_language_chars);
    tcase_add_test(tc, test_utf8_decode);
    tcase_add_loop_test(tc, test_base_url_normalize, 0,
                        (int)(sizeof(url_cases) / sizeof(url_cases[0])));
    tcase_add_test(tc, test_base_url_null);
    tcase_add_test(tc, test_stream_direct_parse);
    suite_add_tcase(s, tc);
    return s;
}
