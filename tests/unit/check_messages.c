/* Inbound messages as rows: addresses and channels, media lists, the argument builder. */
#include <string.h>
#include "vt_suites.h"
#include "vt_form.h"
#include "vt_automation.h"
#include "vt_messages.h"
#include "vt_util.h"

#define SM "SM0123456789abcdef0123456789abcdef"
#define BASE "MessageSid=" SM "&AccountSid=AC0123456789abcdef0123456789abcdef"

START_TEST(test_addresses_and_their_channels)
{
    const char *ch = NULL;

    ck_assert_str_eq(vt_message_address("+14155550100", &ch), "+14155550100");
    ck_assert_str_eq(ch, "sms");
    ck_assert_str_eq(vt_message_address("whatsapp:+14155550100", &ch), "+14155550100");
    ck_assert_str_eq(ch, "whatsapp");
    ck_assert_ptr_null(vt_message_address("12345", &ch));          /* a short code */
    ck_assert_ptr_null(vt_message_address("messenger:1234", &ch)); /* another channel */
    ck_assert_ptr_null(vt_message_address("whatsapp:", &ch));
    ck_assert_ptr_null(vt_message_address(NULL, &ch));
}
END_TEST

START_TEST(test_an_sms_becomes_its_arguments)
{
    const char *err = NULL;
    const char **a = vt_message_inbound_args(
        vt_test_pool, vt_test_params(BASE "&From=%2B14155550100&To=%2B15005550006&Body=Hi+%26+bye"
                                     "&NumSegments=2&NumMedia=0"),
        "7", "12", "token-is-not-the-identity", &err);

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a[0], "7");
    ck_assert_str_eq(a[1], "12");
    ck_assert_str_eq(a[2], "+14155550100"); /* the customer's phone */
    ck_assert_str_eq(a[3], SM);             /* the message that made the customer */
    ck_assert_str_eq(a[4], SM);
    ck_assert_str_eq(a[5], "sms");
    ck_assert_str_eq(a[8], "Hi & bye");
    ck_assert_str_eq(a[9], "received");
    ck_assert_str_eq(a[10], "[]");
    ck_assert_str_eq(a[11], "2");
    ck_assert_ptr_null(a[15]); /* no consent keyword: no ledger entry */
    ck_assert_ptr_null(a[16]);
}
END_TEST

START_TEST(test_whatsapp_media_are_listed)
{
    const char *err = NULL;
    const char **a = vt_message_inbound_args(
        vt_test_pool,
        vt_test_params(BASE "&From=whatsapp%3A%2B14155550100&To=whatsapp%3A%2B15005550006"
                       "&NumMedia=2&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fa"
                       "&MediaContentType0=image%2Fjpeg&MediaUrl1=https%3A%2F%2Fapi.twilio.com%2Fb"),
        "7", "12", NULL, &err);

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a[5], "whatsapp");
    ck_assert_str_eq(a[7], "+15005550006");
    ck_assert_str_eq(a[8], ""); /* a media-only message */
    ck_assert_str_eq(a[10], "[{\"url\":\"https:\\/\\/api.twilio.com\\/a\",\"content_type\":"
                           "\"image\\/jpeg\"},{\"url\":\"https:\\/\\/api.twilio.com\\/b\","
                           "\"content_type\":null}]");
    ck_assert_ptr_null(a[11]);
}
END_TEST

/* A STOP or START is a ledger entry of the message's channel, said how. */
START_TEST(test_consent_keywords_become_ledger_arguments)
{
    const char *err = NULL;
    const char **a = vt_message_inbound_args(
        vt_test_pool, vt_test_params(BASE "&From=%2B14155550100&To=%2B15005550006&Body=+stop%21"),
        "7", "12", NULL, &err);

    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a[13], "+14155550100");
    ck_assert_str_eq(a[14], "sms");
    ck_assert_str_eq(a[15], "false");
    ck_assert_str_eq(a[16], "keyword STOP");
    ck_assert_str_eq(a[17], SM);
    a = vt_message_inbound_args(
        vt_test_pool, vt_test_params(BASE "&From=whatsapp%3A%2B14155550100"
                                     "&To=whatsapp%3A%2B15005550006&Body=Unstop"),
        "7", "12", NULL, &err);
    ck_assert_str_eq(a[14], "whatsapp");
    ck_assert_str_eq(a[15], "true");
    ck_assert_str_eq(a[16], "keyword UNSTOP");
}
END_TEST

static const vt_rules_t *rules_of(const char *json)
{
    const char *err = NULL;
    vt_rules_t *r = vt_rules_parse(vt_test_pool, json, strlen(json), &err);

    ck_assert_msg(r != NULL, "%s", err);
    return r;
}

static const vt_automation_event_t EVENT = {
    VT_TRIGGER_INBOUND_SMS, SM, "+14155550100", "+15005550006", "sms", "need a quote", 0,
    "Acme", "+14155550188"
};

/* What a rule's actions become: the replies, the runs, the jobs with their keys, the tags. */
START_TEST(test_a_plan_of_every_action)
{
    const vt_rules_t *rules = rules_of(
        "{\"rules\": [{\"name\": \"lead\", \"trigger\": \"inbound_sms\", \"actions\": ["
        "{\"type\": \"auto_reply\", \"body\": \"Thanks, {company}\"},"
        "{\"type\": \"notify\", \"body\": \"{from}: {body}\"},"
        "{\"type\": \"send_message\", \"body\": \"Later\", \"delay\": \"1h\","
        " \"channel\": \"whatsapp\"},"
        "{\"type\": \"tag\", \"tag\": \"lead\"}, {\"type\": \"tag\", \"tag\": \"vip\"}]}]}");
    const vt_rule_t *m[4];
    vt_rule_event_t re = { VT_TRIGGER_INBOUND_SMS, "need a quote", 0, 1, 600 };
    vt_automation_t plan;
    const char **a;

    ck_assert_int_eq(vt_rules_match(rules, &re, m, 4), 1);
    vt_automation_plan(vt_test_pool, m, 1, &EVENT, &plan);
    ck_assert_int_eq(plan.nreplies, 1);
    ck_assert_str_eq(plan.replies[0], "Thanks, Acme");
    ck_assert_str_eq(plan.tags, "{lead,vip}");
    ck_assert_ptr_nonnull(strstr(plan.runs_json, "\"outcome\":\"done\""));
    ck_assert_ptr_nonnull(strstr(plan.jobs_json, "\"kind\":\"sms_alert\""));
    ck_assert_ptr_nonnull(strstr(plan.jobs_json, "\"to\":\"+14155550188\""));
    ck_assert_ptr_nonnull(strstr(plan.jobs_json, "+14155550100: need a quote"));
    ck_assert_ptr_nonnull(strstr(plan.jobs_json, "\"channel\":\"whatsapp\""));
    ck_assert_ptr_nonnull(strstr(plan.jobs_json, "\"delay_s\":3600"));
    ck_assert_ptr_nonnull(strstr(plan.jobs_json, "\"dedup_key\":\"rule:" SM ":lead:2\""));
    a = vt_automation_args(vt_test_pool, "7", &EVENT, &plan);
    ck_assert_str_eq(a[0], "7");
    ck_assert_str_eq(a[1], SM);
    ck_assert_ptr_null(a[5]); /* a message is not a call */
}
END_TEST

/* An opted-out customer gets no auto-reply; no notification phone, no notify. */
START_TEST(test_a_plan_skips_what_cannot_be_done)
{
    const vt_rules_t *rules = rules_of(
        "{\"rules\": [{\"name\": \"r\", \"trigger\": \"inbound_sms\", \"actions\": ["
        "{\"type\": \"auto_reply\", \"body\": \"x\"}, {\"type\": \"notify\", \"body\": \"y\"}]}]}");
    vt_automation_event_t ev = EVENT;
    vt_rule_event_t re = { VT_TRIGGER_INBOUND_SMS, "hello", 1, 1, 600 };
    const vt_rule_t *m[1];
    vt_automation_t plan;

    ev.opted_out = 1;
    ck_assert_int_eq(vt_rules_match(rules, &re, m, 1), 1);
    vt_automation_plan(vt_test_pool, m, 1, &ev, &plan);
    ck_assert_int_eq(plan.nreplies, 0);
    ck_assert_ptr_nonnull(strstr(plan.runs_json, "\"outcome\":\"partial\""));
    ev.notification_phone = NULL;
    vt_automation_plan(vt_test_pool, m, 1, &ev, &plan);
    ck_assert_ptr_nonnull(strstr(plan.runs_json, "\"outcome\":\"skipped\""));
    ck_assert_str_eq(plan.jobs_json, "[]");
    ck_assert_str_eq(plan.tags, "{}");
}
END_TEST

START_TEST(test_unusable_messages_are_refused_with_a_reason)
{
    static const char *const bad[] = {
        "MessageSid=XX0123456789abcdef0123456789abcdef&From=%2B14155550100&To=%2B15005550006",
        BASE "&From=12345&To=%2B15005550006",
        BASE "&From=whatsapp%3A%2B14155550100&To=%2B15005550006",
        BASE "&From=%2B14155550100&To=%2B15005550006&NumMedia=11",
        BASE "&From=%2B14155550100&To=%2B15005550006&NumMedia=1",
        BASE "&From=%2B14155550100&To=%2B15005550006&NumMedia=1&MediaUrl0=http%3A%2F%2Fx",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = NULL;
        ck_assert_msg(!vt_message_inbound_args(vt_test_pool, vt_test_params(bad[i]), "7", "12",
                                               NULL, &err), "accepted: %s", bad[i]);
        ck_assert_ptr_nonnull(err);
    }
}
END_TEST

Suite *vt_suite_messages(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_addresses_and_their_channels);
    tcase_add_test(tc, test_an_sms_becomes_its_arguments);
    tcase_add_test(tc, test_whatsapp_media_are_listed);
    tcase_add_test(tc, test_unusable_messages_are_refused_with_a_reason);
    tcase_add_test(tc, test_consent_keywords_become_ledger_arguments);
    tcase_add_test(tc, test_a_plan_of_every_action);
    tcase_add_test(tc, test_a_plan_skips_what_cannot_be_done);
    suite_add_tcase(s, tc);
    return s;
}
