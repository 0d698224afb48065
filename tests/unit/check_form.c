/* Unit tests for vt_form: strict x-www-form-urlencoded parsing and encoding. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_form.h"

/* Parses a copy of s in a heap buffer of exactly strlen(s) bytes (no NUL after it), so
 * ASan reports any read past the end. */
static vt_form_rc parse_exact(const char *s, apr_size_t len, int max, apr_array_header_t **out)
{
    char *buf = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, s, len);
    vt_form_rc rc = vt_form_parse(vt_test_pool, buf, len, max, out);
    free(buf);
    return rc;
}

static vt_form_rc parse(const char *s, apr_array_header_t **out)
{
    return parse_exact(s, strlen(s), 100, out);
}

#define PARAM(arr, i) (&APR_ARRAY_IDX((arr), (i), vt_param_t))

static void assert_pair(const apr_array_header_t *arr, int i, const char *name,
                        const char *value)
{
    ck_assert_int_gt(arr->nelts, i);
    ck_assert_str_eq(PARAM(arr, i)->name, name);
    ck_assert_str_eq(PARAM(arr, i)->value, value);
}

START_TEST(test_basic)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("CallSid=CA123&From=%2B14155550100&To=+18005551212", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 3);
    assert_pair(a, 0, "CallSid", "CA123");
    assert_pair(a, 1, "From", "+14155550100");
    assert_pair(a, 2, "To", " 18005551212"); /* a literal '+' is a space */
}
END_TEST

START_TEST(test_plus_and_escapes)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("a=x+y&b=x%2By&c=x%2by&d=x%20y&e=%41%42&f=++&g=%25%26%3D", &a),
                     VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 7);
    assert_pair(a, 0, "a", "x y");
    assert_pair(a, 1, "b", "x+y");
    assert_pair(a, 2, "c", "x+y");
    assert_pair(a, 3, "d", "x y");
    assert_pair(a, 4, "e", "AB");
    assert_pair(a, 5, "f", "  ");
    assert_pair(a, 6, "g", "%&=");
    /* Names are decoded too. */
    ck_assert_int_eq(parse("My+Name%5B0%5D=1", &a), VT_FORM_OK);
    assert_pair(a, 0, "My Name[0]", "1");
}
END_TEST

START_TEST(test_bad_escapes)
{
    static const char *bad[] = {"a=%zz",   "a=%",      "a=%4",    "a=%4g",  "a=%g4",
                                "a=1&b=%", "a%=1",     "%",       "%%",     "a=%%41",
                                "a=x%",    "a=%+1",    "a=% 1",   "a=%-1",  "a=1&b=2%a",
                                "%zz=1",   "a=%\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_array_header_t *a = (apr_array_header_t *)1;
        ck_assert_msg(parse(bad[i], &a) == VT_FORM_EBADESCAPE, "accepted: %s", bad[i]);
        ck_assert_ptr_null(a);
    }
}
END_TEST

START_TEST(test_nul)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("a=%00", &a), VT_FORM_ENUL);
    ck_assert_int_eq(parse("a=x%00y", &a), VT_FORM_ENUL);
    ck_assert_int_eq(parse("a%00b=1", &a), VT_FORM_ENUL);
    ck_assert_int_eq(parse("a=1&b=2&c=%00", &a), VT_FORM_ENUL);
    /* A raw NUL inside the given length is rejected as well. */
    ck_assert_int_eq(parse_exact("a=x\0y", 5, 10, &a), VT_FORM_ENUL);
    ck_assert_int_eq(parse_exact("a\0=1", 4, 10, &a), VT_FORM_ENUL);
}
END_TEST

START_TEST(test_not_utf8)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("a=%FF", &a), VT_FORM_EUTF8);
    ck_assert_int_eq(parse("a=x%C3", &a), VT_FORM_EUTF8);        /* cut short */
    ck_assert_int_eq(parse("a=%C0%AF", &a), VT_FORM_EUTF8);      /* overlong '/' */
    ck_assert_int_eq(parse("a=%ED%A0%80", &a), VT_FORM_EUTF8);   /* a surrogate */
    ck_assert_int_eq(parse("%FF=1", &a), VT_FORM_EUTF8);
    ck_assert_int_eq(parse_exact("a=\xff", 3, 10, &a), VT_FORM_EUTF8);
    /* UTF-8 is kept as it is */
    ck_assert_int_eq(parse("a=Caf%C3%A9+%F0%9F%93%9E", &a), VT_FORM_OK);
    ck_assert_str_eq(vt_params_get(a, "a"), "Caf\xc3\xa9 \xf0\x9f\x93\x9e");
}
END_TEST

START_TEST(test_empty_name)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("=v", &a), VT_FORM_EEMPTYNAME);
    ck_assert_int_eq(parse("=", &a), VT_FORM_EEMPTYNAME);
    ck_assert_int_eq(parse("a=1&=2", &a), VT_FORM_EEMPTYNAME);
    ck_assert_int_eq(parse("==", &a), VT_FORM_EEMPTYNAME);
}
END_TEST

START_TEST(test_no_equals_and_empty_values)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("a", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 1);
    assert_pair(a, 0, "a", "");
    ck_assert_int_eq(parse("a=&b&c=3&d==x", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 4);
    assert_pair(a, 0, "a", "");
    assert_pair(a, 1, "b", "");
    assert_pair(a, 2, "c", "3");
    assert_pair(a, 3, "d", "=x"); /* only the first '=' separates */
}
END_TEST

START_TEST(test_empty_bodies)
{
    apr_array_header_t *a = NULL;
    ck_assert_int_eq(parse("", &a), VT_FORM_OK);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->nelts, 0);
    a = NULL;
    ck_assert_int_eq(vt_form_parse(vt_test_pool, NULL, 0, 10, &a), VT_FORM_OK);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_int_eq(parse("&", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_int_eq(parse("&&&&", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 0);
    ck_assert_int_eq(parse("&a=1&&b=2&", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 2);
    assert_pair(a, 0, "a", "1");
    assert_pair(a, 1, "b", "2");
}
END_TEST

START_TEST(test_duplicates_keep_order)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("Digits=5678&Sid=CA1&Digits=1234&Digits=1234", &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 4);
    assert_pair(a, 0, "Digits", "5678");
    assert_pair(a, 1, "Sid", "CA1");
    assert_pair(a, 2, "Digits", "1234");
    assert_pair(a, 3, "Digits", "1234");
    ck_assert_str_eq(vt_params_get(a, "Digits"), "5678");
}
END_TEST

START_TEST(test_limits)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse_exact("a=1&b=2&c=3", 11, 3, &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 3);
    ck_assert_int_eq(parse_exact("a=1&b=2&c=3&d", 13, 3, &a), VT_FORM_ETOOMANY);
    ck_assert_ptr_null(a);
    /* Empty pairs are not counted. */
    ck_assert_int_eq(parse_exact("a=1&&&&b=2&&", 12, 2, &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 2);
    ck_assert_int_eq(parse_exact("", 0, 0, &a), VT_FORM_OK);
    ck_assert_int_eq(parse_exact("&&", 2, 0, &a), VT_FORM_OK);
    ck_assert_int_eq(parse_exact("a", 1, 0, &a), VT_FORM_ETOOMANY);
    ck_assert_int_eq(parse_exact("a=1&b=2", 7, 1, &a), VT_FORM_ETOOMANY);

    /* Many pairs, well past the array's initial size. */
    char *big = "";
    for (int i = 0; i < 500; i++)
        big = apr_psprintf(vt_test_pool, "%s%sk%d=v%d", big, i ? "&" : "", i, i);
    ck_assert_int_eq(parse_exact(big, strlen(big), 500, &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 500);
    assert_pair(a, 499, "k499", "v499");
    ck_assert_int_eq(parse_exact(big, strlen(big), 499, &a), VT_FORM_ETOOMANY);
}
END_TEST

START_TEST(test_length_bounds)
{
    apr_array_header_t *a;
    /* Only [body, body+len) is read: the rest of the buffer is ignored. */
    ck_assert_int_eq(vt_form_parse(vt_test_pool, "a=1&b=2", 3, 10, &a), VT_FORM_OK);
    ck_assert_int_eq(a->nelts, 1);
    assert_pair(a, 0, "a", "1");
    ck_assert_int_eq(vt_form_parse(vt_test_pool, "a=%41", 4, 10, &a), VT_FORM_EBADESCAPE);
    ck_assert_int_eq(vt_form_parse(vt_test_pool, "ab=cd", 2, 10, &a), VT_FORM_OK);
    assert_pair(a, 0, "ab", "");
    /* Edge positions on exact-size heap buffers (ASan would flag an overread). */
    static const char *edges[] = {"%", "%4", "a=%4", "a=1&", "a", "a=", "&", "=", "a=%41"};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        (void)parse_exact(edges[i], strlen(edges[i]), 10, &a);
}
END_TEST

START_TEST(test_utf8_values)
{
    apr_array_header_t *a;
    ck_assert_int_eq(parse("Body=h%C3%A9llo+w%C3%B6rld+%F0%9F%91%8B&Raw=\xc3\xa9", &a),
                     VT_FORM_OK);
    assert_pair(a, 0, "Body", "h\xc3\xa9llo w\xc3\xb6rld \xf0\x9f\x91\x8b");
    assert_pair(a, 1, "Raw", "\xc3\xa9"); /* raw UTF-8 bytes pass through */
    ck_assert_int_eq(parse("T=%01%7F%0D%0A", &a), VT_FORM_OK); /* control bytes are UTF-8 */
    assert_pair(a, 0, "T", "\x01\x7f\r\n");
    ck_assert_int_eq(parse("Raw=\xc3\xa9\xff", &a), VT_FORM_EUTF8);
}
END_TEST

START_TEST(test_decode)
{
    ck_assert_str_eq(vt_form_decode(vt_test_pool, "a+b%21%2b", 9), "a b!+");
    ck_assert_str_eq(vt_form_decode(vt_test_pool, "abc", 2), "ab");
    ck_assert_str_eq(vt_form_decode(vt_test_pool, "", 0), "");
    ck_assert_ptr_null(vt_form_decode(vt_test_pool, "%zz", 3));
    ck_assert_ptr_null(vt_form_decode(vt_test_pool, "%4", 2));
    ck_assert_ptr_null(vt_form_decode(vt_test_pool, "%41", 2)); /* escape cut by the length */
    ck_assert_ptr_null(vt_form_decode(vt_test_pool, "a%00", 4));
}
END_TEST

START_TEST(test_strerror)
{
    vt_form_rc rcs[] = {VT_FORM_OK, VT_FORM_EBADESCAPE, VT_FORM_ENUL, VT_FORM_ETOOMANY,
                        VT_FORM_EEMPTYNAME};
    for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
        ck_assert_ptr_nonnull(vt_form_strerror(rcs[i]));
        ck_assert_int_gt(strlen(vt_form_strerror(rcs[i])), 0);
    }
    ck_assert_ptr_nonnull(vt_form_strerror((vt_form_rc)99));
}
END_TEST

START_TEST(test_params_get_add)
{
    apr_array_header_t *a = apr_array_make(vt_test_pool, 1, sizeof(vt_param_t));
    char name[] = "From", value[] = "+1415";
    vt_params_add(a, name, value);
    vt_params_add(a, "From", "second");
    vt_params_add(a, "Empty", "");
    name[0] = 'X'; /* the array holds copies */
    value[0] = 'X';
    ck_assert_int_eq(a->nelts, 3);
    ck_assert_str_eq(vt_params_get(a, "From"), "+1415");
    ck_assert_str_eq(vt_params_get(a, "Empty"), "");
    ck_assert_ptr_null(vt_params_get(a, "from")); /* case-sensitive */
    ck_assert_ptr_null(vt_params_get(a, "Missing"));
    ck_assert_ptr_null(vt_params_get(NULL, "From"));
}
END_TEST

START_TEST(test_encode)
{
    apr_array_header_t *a = apr_array_make(vt_test_pool, 4, sizeof(vt_param_t));
    ck_assert_str_eq(vt_form_encode(vt_test_pool, a), "");
    ck_assert_str_eq(vt_form_encode(vt_test_pool, NULL), "");
    vt_params_add(a, "Body", "a b+c");
    vt_params_add(a, "To", "+14155550100");
    vt_params_add(a, "Keep", "AZaz09-._*");
    vt_params_add(a, "Esc", "~!'()&=%/?#");
    vt_params_add(a, "U", "\xc3\xa9");
    vt_params_add(a, "E", "");
    vt_params_add(a, "a b", "x");
    ck_assert_str_eq(vt_form_encode(vt_test_pool, a),
                     "Body=a+b%2Bc&To=%2B14155550100&Keep=AZaz09-._*"
                     "&Esc=%7E%21%27%28%29%26%3D%25%2F%3F%23&U=%C3%A9&E=&a+b=x");
}
END_TEST

START_TEST(test_roundtrip)
{
    apr_array_header_t *a = apr_array_make(vt_test_pool, 4, sizeof(vt_param_t));
    vt_params_add(a, "CallSid", "CA1234567890ABCDE");
    vt_params_add(a, "From", "+14158675309");
    vt_params_add(a, "SpeechResult", "It's 5 o'clock & 50% off = great?");
    vt_params_add(a, "Digits", "1234");
    vt_params_add(a, "Digits", "1234");
    vt_params_add(a, "Empty", "");
    vt_params_add(a, "Utf8", "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\x89");
    vt_params_add(a, "Ctl", "\x01\t\r\n\x7f");
    vt_params_add(a, "sip", "sip:alice@example.com:5060;transport=tls");
    char *enc = vt_form_encode(vt_test_pool, a);
    apr_array_header_t *b;
    ck_assert_int_eq(parse(enc, &b), VT_FORM_OK);
    ck_assert_int_eq(b->nelts, a->nelts);
    for (int i = 0; i < a->nelts; i++)
        assert_pair(b, i, PARAM(a, i)->name, PARAM(a, i)->value);
    /* Re-encoding a parsed body gives the same bytes. */
    ck_assert_str_eq(vt_form_encode(vt_test_pool, b), enc);
}
END_TEST

Suite *vt_suite_form(void)
{
    Suite *s = suite_create("form");
    TCase *tc = tcase_create("form");
    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_basic);
    tcase_add_test(tc, test_plus_and_escapes);
    tcase_add_test(tc, test_bad_escapes);
    tcase_add_test(tc, test_nul);
    tcase_add_test(tc, test_not_utf8);
    tcase_add_test(tc, test_empty_name);
    tcase_add_test(tc, test_no_equals_and_empty_values);
    tcase_add_test(tc, test_empty_bodies);
    tcase_add_test(tc, test_duplicates_keep_order);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_length_bounds);
    tcase_add_test(tc, test_utf8_values);
    tcase_add_test(tc, test_decode);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_params_get_add);
    tcase_add_test(tc, test_encode);
    tcase_add_test(tc, test_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
