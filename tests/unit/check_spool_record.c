/* The outage spool's document: what the module writes the helper reads back unchanged,
 * and anything else is refused with a reason. */
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_spool_record.h"

static vt_spool_record_t decode_ok(const char *doc)
{
    vt_spool_record_t rec;
    const char *why = NULL;

    ck_assert_msg(vt_spool_record_decode(vt_test_pool, doc, strlen(doc), &rec, &why)
                  == APR_SUCCESS, "%s: %s", doc, why);
    return rec;
}

static const char *decode_err(const char *doc, apr_size_t len)
{
    vt_spool_record_t rec;
    const char *why = NULL;

    ck_assert_int_eq(vt_spool_record_decode(vt_test_pool, doc, len, &rec, &why), APR_EINVAL);
    ck_assert_ptr_nonnull(why);
    return why;
}

START_TEST(test_round_trip)
{
    static const char body[] = "CallSid=CA1&Caller=%2B1415\0binary\xff";
    vt_spool_record_t in = { 0 }, out;
    const char *doc;

    in.route = "status-callback";
    in.url = "https://calls.example.com/voice/acme/status-callback?x=\"1\"";
    in.signature = "AbC+/=";
    in.content_type = "application/x-www-form-urlencoded";
    in.tenant = "acme";
    in.body = body;
    in.body_len = sizeof(body) - 1;
    doc = vt_spool_record_encode(vt_test_pool, &in, apr_time_from_sec(1795000000));
    ck_assert_ptr_nonnull(strstr(doc, "\"version\":1"));
    ck_assert_ptr_nonnull(strstr(doc, "\"received_at\":\"2026-11-18T"));
    out = decode_ok(doc);
    ck_assert_str_eq(out.route, in.route);
    ck_assert_str_eq(out.url, in.url);
    ck_assert_str_eq(out.signature, in.signature);
    ck_assert_ptr_null(out.idempotency_token);
    ck_assert_str_eq(out.content_type, in.content_type);
    ck_assert_str_eq(out.tenant, "acme");
    ck_assert_uint_eq(out.body_len, in.body_len);
    ck_assert(memcmp(out.body, body, in.body_len) == 0);
    ck_assert_int_eq(out.body[out.body_len], '\0');
    /* No body, no tenant: an empty body and no member. */
    in.body = NULL;
    in.tenant = NULL;
    doc = vt_spool_record_encode(vt_test_pool, &in, apr_time_now());
    ck_assert_ptr_null(strstr(doc, "tenant"));
    out = decode_ok(doc);
    ck_assert_uint_eq(out.body_len, 0);
    ck_assert_ptr_null(out.tenant);
    /* Trailing whitespace (a hand-edited file) is fine. */
    decode_ok(apr_pstrcat(vt_test_pool, doc, "\n", NULL));
}
END_TEST

START_TEST(test_refusals)
{
#define DOC(members) "{\"version\": 1, \"route\": \"inbound\", \"url\": \"http://h/voice/inbound\"" \
                     members "}"
    ck_assert_str_eq(decode_err("", 0), "not a JSON object");
    ck_assert_str_eq(decode_err("[1]", 3), "not a JSON object");
    ck_assert_str_eq(decode_err("{\"version\": 1", 13), "not a JSON object");
    ck_assert_str_eq(decode_err(DOC(", \"body\": \"\"") " x", strlen(DOC(", \"body\": \"\"") " x")),
                     "not a JSON object");
    {
        const char *v2 = "{\"version\": 2, \"route\": \"inbound\", \"url\": \"u\", \"body\": \"\"}";
        const char *vs = "{\"version\": \"1\", \"route\": \"inbound\", \"url\": \"u\", \"body\": \"\"}";
        ck_assert_str_eq(decode_err(v2, strlen(v2)), "unknown spool file version");
        ck_assert_str_eq(decode_err(vs, strlen(vs)), "unknown spool file version");
    }
#define REFUSED(members, reason) \
    ck_assert_str_eq(decode_err(DOC(members), strlen(DOC(members))), reason)
    REFUSED("", "a field is missing or not a string");                     /* no body */
    REFUSED(", \"body\": 12", "a field is missing or not a string");
    REFUSED(", \"body\": \"\", \"signature\": true", "a field is missing or not a string");
    REFUSED(", \"body\": \"\", \"url\": \"a\\u0000b\"", "a field is missing or not a string");
    REFUSED(", \"body\": \"Zm9v!\"", "body is not base64 (of at most 16 MiB)");
    REFUSED(", \"body\": \"Zm9\"", "body is not base64 (of at most 16 MiB)");
    REFUSED(", \"body\": \"Zg===\"", "body is not base64 (of at most 16 MiB)");
    REFUSED(", \"body\": \"\", \"tenant\": \"../etc\"", "tenant is not a slug");
    /* A NUL byte inside the buffer ends nothing early: it is refused. */
    ck_assert_str_eq(decode_err(DOC(", \"body\": \"\"") "\0", strlen(DOC(", \"body\": \"\"")) + 1),
                     "not a JSON object");
#undef REFUSED
#undef DOC
}
END_TEST

Suite *vt_suite_spool_record(void)
{
    Suite *s = suite_create("spool_record");
    TCase *tc = tcase_create("spool_record");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    return s;
}
