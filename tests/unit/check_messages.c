/* Inbound messages as rows: addresses and channels, media lists, the argument builder. */
#include <string.h>
#include "vt_suites.h"
#include "vt_form.h"
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
    ck_assert_str_eq(a[3], SM);
    ck_assert_str_eq(a[4], "sms");
    ck_assert_str_eq(a[7], "Hi & bye");
    ck_assert_str_eq(a[8], "received");
    ck_assert_str_eq(a[9], "[]");
    ck_assert_str_eq(a[10], "2");
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
    ck_assert_str_eq(a[4], "whatsapp");
    ck_assert_str_eq(a[6], "+15005550006");
    ck_assert_str_eq(a[7], ""); /* a media-only message */
    ck_assert_str_eq(a[9], "[{\"url\":\"https:\\/\\/api.twilio.com\\/a\",\"content_type\":"
                           "\"image\\/jpeg\"},{\"url\":\"https:\\/\\/api.twilio.com\\/b\","
                           "\"content_type\":null}]");
    ck_assert_ptr_null(a[10]);
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
    suite_add_tcase(s, tc);
    return s;
}
