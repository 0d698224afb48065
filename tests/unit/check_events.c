/* Call webhooks as rows: status ranks, dedup keys, argument builders, SQL placeholder map. */
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_events.h"
#include "vt_form.h"

#define SID "CA0123456789abcdef0123456789abcdef"

START_TEST(test_status_ranks_are_monotonic)
{
    ck_assert_int_lt(vt_call_status_rank("queued"), vt_call_status_rank("ringing"));
    ck_assert_int_lt(vt_call_status_rank("ringing"), vt_call_status_rank("in-progress"));
    ck_assert_int_lt(vt_call_status_rank("in-progress"), vt_call_status_rank("completed"));
    ck_assert_int_eq(vt_call_status_rank("busy"), vt_call_status_rank("completed"));
    ck_assert_int_eq(vt_call_status_rank("no-such-status"), 0);
    ck_assert_int_eq(vt_call_status_rank(NULL), 0);
    ck_assert(vt_call_status_is_final("canceled"));
    ck_assert(!vt_call_status_is_final("ringing"));
}
END_TEST

START_TEST(test_params_to_json_keeps_repeats)
{
    const char *j = vt_params_to_json(vt_test_pool, vt_test_params("a=1&b=x+y&a=2&c=%22q%22"));

    ck_assert_str_eq(j, "{\"a\":[\"1\",\"2\"],\"b\":\"x y\",\"c\":\"\\\"q\\\"\"}");
}
END_TEST

START_TEST(test_status_args)
{
    const char *err = NULL;
    const char **a = vt_event_status_args(
        vt_test_pool,
        vt_test_params("CallSid=" SID "&CallStatus=completed&SequenceNumber=3&CallDuration=42"
                  "&From=%2B14155550100&To=%2B15005550006&Direction=inbound"),
        "7", "12", NULL, &err);

    ck_assert_ptr_nonnull(a);
    /* the guard: company, version, call, company */
    ck_assert_str_eq(a[0], "7");
    ck_assert_str_eq(a[1], "12");
    ck_assert_str_eq(a[2], SID);
    ck_assert_str_eq(a[3], "7");
    ck_assert_str_eq(a[4], SID);
    ck_assert_str_eq(a[5], "status:" SID ":3:completed");
    ck_assert_str_eq(a[7], "3");
    ck_assert_str_eq(a[14], "4");
    ck_assert_str_eq(a[15], "42");
}
END_TEST

START_TEST(test_status_args_prefers_idempotency_token)
{
    const char *err = NULL;
    const char **a = vt_event_status_args(
        vt_test_pool, vt_test_params("CallSid=" SID "&CallStatus=ringing&SequenceNumber=x"), "7",
        "12", "tok-123", &err);

    ck_assert_str_eq(a[5], "tok:tok-123");
    ck_assert_ptr_null(a[7]);  /* a non-numeric SequenceNumber is not passed to SQL */
    ck_assert_ptr_null(a[15]); /* no CallDuration */
}
END_TEST

START_TEST(test_status_args_reject_missing_fields)
{
    const char *err = NULL;

    ck_assert_ptr_null(vt_event_status_args(vt_test_pool, vt_test_params("CallStatus=ringing"), "7",
                                            "12", NULL, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(vt_event_status_args(vt_test_pool, vt_test_params("CallSid=" SID), "7", "12",
                                            NULL, &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    /* without the tenant's version (an unmigrated schema) nothing could be checked */
    ck_assert_ptr_null(vt_event_status_args(
        vt_test_pool, vt_test_params("CallSid=" SID "&CallStatus=ringing"), "7", NULL, NULL, &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(test_recording_args)
{
    const char *err = NULL;
    const char **a = vt_event_recording_args(
        vt_test_pool,
        vt_test_params("CallSid=" SID "&RecordingSid=RE0123456789abcdef0123456789abcdef"
                  "&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2Fx&RecordingStatus=completed"
                  "&RecordingDuration=12"),
        "7", NULL, NULL, &err);

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a[7], "12");
    ck_assert_str_eq(a[12], "recording_download:RE0123456789abcdef0123456789abcdef");
    ck_assert_ptr_nonnull(strstr(a[11], "\"url\":\"https:\\/\\/api.twilio.com\\/x\""));
    ck_assert_ptr_null(vt_event_recording_args(
        vt_test_pool, vt_test_params("CallSid=" SID "&RecordingSid=RE1&RecordingUrl=https%3A%2F%2Fx"),
        "7", NULL, NULL, &err));
}
END_TEST

/* The inbound statement writes only under the tenant's version (sql/009): it needs it. */
START_TEST(test_inbound_args_carry_the_tenant_version)
{
    const char *err = NULL;
    const char **a = vt_event_inbound_args(
        vt_test_pool, vt_test_params("CallSid=" SID "&From=%2B14155550100&To=%2B15005550006"), "7",
        "42", NULL, &err);

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a[0], "7");
    ck_assert_str_eq(a[1], "42");
    ck_assert_str_eq(a[2], "caller");
    ck_assert_str_eq(a[3], SID);
    ck_assert_str_eq(a[4], "caller");
    ck_assert_str_eq(a[8], "ringing");
    ck_assert_str_eq(a[12], "inbound");
    ck_assert_str_eq(a[14], "+15005550006");
    ck_assert_str_eq(a[16], "2");
    ck_assert_ptr_null(a[17]);
    ck_assert_ptr_null(vt_event_inbound_args(vt_test_pool, vt_test_params("CallSid=" SID), "7",
                                             NULL, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err, "version"));
}
END_TEST

/* Who answered decides what is said first: the caller of the tenant's number, the person
 * an outbound call reached, their machine, a fax. */
START_TEST(test_call_answer_by_direction_and_amd)
{
    static const struct {
        const char *form;
        vt_call_answer_t want;
        const char *name;
    } cases[] = {
        { "Direction=inbound", VT_ANSWER_CALLER, "caller" },
        { "", VT_ANSWER_CALLER, "caller" },
        /* AnsweredBy only counts for a call the tenant placed */
        { "Direction=inbound&AnsweredBy=machine_start", VT_ANSWER_CALLER, "caller" },
        { "Direction=outbound-dial&AnsweredBy=fax", VT_ANSWER_CALLER, "caller" },
        { "Direction=outbound-api", VT_ANSWER_CALLEE, "callee" },
        { "Direction=outbound-api&AnsweredBy=human", VT_ANSWER_CALLEE, "callee" },
        { "Direction=outbound-api&AnsweredBy=unknown", VT_ANSWER_CALLEE, "callee" },
        { "Direction=outbound-api&AnsweredBy=machine_start", VT_ANSWER_MACHINE, "machine" },
        { "Direction=outbound-api&AnsweredBy=machine_end_beep", VT_ANSWER_MACHINE, "machine" },
        { "Direction=outbound-api&AnsweredBy=machine_end_silence", VT_ANSWER_MACHINE,
          "machine" },
        { "Direction=outbound-api&AnsweredBy=fax", VT_ANSWER_FAX, "fax" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *err = NULL;
        const apr_array_header_t *params = vt_test_params(
            apr_pstrcat(vt_test_pool, "CallSid=" SID "&", cases[i].form, NULL));
        const char **a = vt_event_inbound_args(vt_test_pool, params, "7", "42", NULL, &err);

        ck_assert_msg(vt_call_answer(params) == cases[i].want, "%s", cases[i].form);
        ck_assert_str_eq(a[2], cases[i].name);
    }
}
END_TEST

/* The machine's verdict is stored with the call (calls.answered_by); a silly one is not. */
START_TEST(test_inbound_args_keep_answered_by)
{
    const char *err = NULL;
    const char **a = vt_event_inbound_args(
        vt_test_pool, vt_test_params("CallSid=" SID "&Direction=outbound-api&AnsweredBy=human"),
        "7", "42", NULL, &err);

    ck_assert_str_eq(a[12], "outbound-api");
    ck_assert_str_eq(a[17], "human");
    a = vt_event_inbound_args(
        vt_test_pool,
        vt_test_params("CallSid=" SID "&AnsweredBy=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        "7", "42", NULL, &err);
    ck_assert_ptr_null(a[17]);
}
END_TEST

START_TEST(test_placeholder_counts_match_nargs)
{
    const vt_event_stmt_t *all[] = { &vt_event_inbound_stmt,   &vt_event_status_stmt,
                                     &vt_event_recording_stmt, &vt_event_turn_stmt,
                                     &vt_event_sms_job_stmt,   &vt_event_escalation_stmt,
                                     &vt_event_speech_stmt };
    apr_size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *s = all[i]->sql;
        int n = 0;
        while ((s = strstr(s, "%s")) != NULL) {
            n++, s += 2;
        }
        ck_assert_msg(n == all[i]->nargs, "%s: %d placeholders, nargs %d", all[i]->label, n,
                      all[i]->nargs);
    }
}
END_TEST

START_TEST(test_sql_to_libpq)
{
    ck_assert_str_eq(vt_sql_to_libpq(vt_test_pool, "a = %s AND b LIKE 'x%%' AND c = %s"),
                     "a = $1 AND b LIKE 'x%' AND c = $2");
}
END_TEST

Suite *vt_suite_events(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("events");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_status_ranks_are_monotonic);
    tcase_add_test(tc, test_params_to_json_keeps_repeats);
    tcase_add_test(tc, test_status_args);
    tcase_add_test(tc, test_status_args_prefers_idempotency_token);
    tcase_add_test(tc, test_status_args_reject_missing_fields);
    tcase_add_test(tc, test_recording_args);
    tcase_add_test(tc, test_inbound_args_carry_the_tenant_version);
    tcase_add_test(tc, test_call_answer_by_direction_and_amd);
    tcase_add_test(tc, test_inbound_args_keep_answered_by);
    tcase_add_test(tc, test_placeholder_counts_match_nargs);
    tcase_add_test(tc, test_sql_to_libpq);
    suite_add_tcase(s, tc);
    return s;
}
