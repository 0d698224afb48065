/* Unit tests for vt_rules: the document's checks (every error names its member), which
 * rules an event sets off, placeholders, and the consent keywords. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_rules.h"

/* Parses a copy in a heap buffer of exactly len bytes, so ASan sees any over-read. */
static vt_rules_t *parse_len(const char *json, size_t len, const char **err)
{
    char *buf = malloc(len ? len : 1);
    vt_rules_t *r;

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, json, len);
    r = vt_rules_parse(vt_test_pool, buf, len, err);
    free(buf);
    return r;
}

static vt_rules_t *parse_ok(const char *json)
{
    const char *err = NULL;
    vt_rules_t *r = parse_len(json, strlen(json), &err);

    ck_assert_msg(r != NULL, "parse failed: %s\n%s", err ? err : "(no message)", json);
    ck_assert_ptr_null(err);
    return r;
}

static const char *parse_err(const char *json)
{
    const char *err = NULL;

    ck_assert_msg(parse_len(json, strlen(json), &err) == NULL, "accepted: %s", json);
    ck_assert_ptr_nonnull(err);
    return err;
}

/* The error names the member (and says what, when want has a ": "). */
#define ERR_HAS(json, want)                                                                  \
    do {                                                                                     \
        const char *e_ = parse_err(json);                                                    \
        ck_assert_msg(strstr(e_, (want)) != NULL, "wanted '%s', got '%s'", (want), e_);      \
    } while (0)
#define ERR_IS(json, want) ck_assert_str_eq(parse_err(json), (want))

/* A document of one rule: its members as given. */
static const char *one_rule(const char *members)
{
    return apr_psprintf(vt_test_pool, "{\"rules\": [{%s}]}", members);
}

/* A sms rule named r with these actions. */
static const char *with_actions(const char *actions)
{
    return apr_psprintf(vt_test_pool,
                        "{\"rules\": [{\"name\": \"r\", \"trigger\": \"inbound_sms\", "
                        "\"actions\": [%s]}]}",
                        actions);
}

/* A sms rule with this "when" (and business hours on weekdays 09:00-17:00). */
static const char *with_when(const char *when)
{
    return apr_psprintf(vt_test_pool,
                        "{\"business_hours\": {\"mon\": \"09:00-17:00\", \"tue\": \"09:00-17:00\","
                        " \"wed\": \"09:00-17:00\", \"thu\": \"09:00-17:00\", \"fri\": "
                        "\"09:00-17:00\", \"sat\": \"00:00-24:00\", \"sun\": null},"
                        " \"rules\": [{\"name\": \"r\", \"trigger\": \"inbound_sms\", "
                        "\"when\": %s, \"actions\": [{\"type\": \"notify\", \"body\": \"x\"}]}]}",
                        when);
}

static const char *repeat(const char *unit, int n)
{
    char *r = apr_pstrdup(vt_test_pool, "");
    for (int i = 0; i < n; i++)
        r = apr_pstrcat(vt_test_pool, r, unit, NULL);
    return r;
}

static vt_rule_event_t event(vt_trigger_t t, const char *body, int known, int weekday,
                             int minute)
{
    vt_rule_event_t ev = { t, body, known, weekday, minute };
    return ev;
}

/* The names of the rules the event sets off, comma-separated. */
static const char *matched(const vt_rules_t *r, vt_rule_event_t ev)
{
    const vt_rule_t *out[VT_RULES_MAX];
    const char *names = "";
    int n = vt_rules_match(r, &ev, out, VT_RULES_MAX), i;

    for (i = 0; i < n; i++)
        names = apr_pstrcat(vt_test_pool, names, i ? "," : "", vt_rule_name(out[i]), NULL);
    return names;
}

static const char *sms_matched(const vt_rules_t *r, const char *body)
{
    return matched(r, event(VT_TRIGGER_INBOUND_SMS, body, 0, 1, 600));
}

static const char *const full =
    "{\n"
    "  \"business_hours\": {\"mon\": \"09:00-17:30\", \"tue\": \"09:00-17:30\",\n"
    "                     \"wed\": \"09:00-17:30\", \"thu\": \"09:00-17:30\",\n"
    "                     \"fri\": \"09:00-16:00\", \"sat\": \"10:00-13:00\", \"sun\": null},\n"
    "  \"rules\": [\n"
    "    {\"name\": \"after-hours\", \"trigger\": \"inbound_sms\", \"enabled\": true,\n"
    "     \"when\": {\"business_hours\": false},\n"
    "     \"actions\": [{\"type\": \"auto_reply\", \"body\": \"{company} is closed.\"}],\n"
    "     \"stop\": true},\n"
    "    {\"name\": \"Quote request_2.0\", \"trigger\": \"inbound_sms\",\n"
    "     \"when\": {\"keywords\": [\"quote\", \"price\", \"how much\"], \"regex\": \"[a-z]\",\n"
    "              \"business_hours\": true, \"customer\": \"new\"},\n"
    "     \"actions\": [{\"type\": \"tag\", \"tag\": \"lead\"},\n"
    "                 {\"type\": \"notify\", \"body\": \"New lead {from}: {body}\"},\n"
    "                 {\"type\": \"auto_reply\", \"body\": \"Thanks!\"},\n"
    "                 {\"type\": \"send_message\", \"body\": \"Did you get it?\",\n"
    "                  \"channel\": \"whatsapp\", \"delay\": \"2d\"},\n"
    "                 {\"delay\": \"30m\", \"type\": \"send_message\", \"body\": \"Hi\"}],\n"
    "     \"stop\": false},\n"
    "    {\"name\": \"missed\", \"trigger\": \"missed_call\", \"enabled\": false,\n"
    "     \"when\": {\"customer\": \"known\"},\n"
    "     \"actions\": [{\"type\": \"send_message\", \"body\": \"Sorry we missed you\"}]}\n"
    "  ]\n"
    "}\n";

/* ------------------------------------------------------------------ parsing */

START_TEST(test_full_document)
{
    vt_rules_t *r = parse_ok(full);
    const vt_rule_t *out[4];
    const vt_rule_action_t *a;
    vt_rule_event_t ev = event(VT_TRIGGER_INBOUND_SMS, "What's the price?", 0, 1, 600);
    int n = 0;

    ck_assert_int_eq(vt_rules_count(r), 3);
    ck_assert_int_eq(vt_rules_match(r, &ev, out, 4), 1);
    ck_assert_str_eq(vt_rule_name(out[0]), "Quote request_2.0");
    a = vt_rule_actions(out[0], &n);
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(a[0].kind, VT_ACTION_TAG);
    ck_assert_str_eq(a[0].text, "lead");
    ck_assert_int_eq(a[1].kind, VT_ACTION_NOTIFY);
    ck_assert_str_eq(a[1].text, "New lead {from}: {body}");
    ck_assert_ptr_null(a[1].channel);
    ck_assert_int_eq(a[2].kind, VT_ACTION_AUTO_REPLY);
    ck_assert_str_eq(a[2].text, "Thanks!");
    ck_assert_int_eq(a[3].kind, VT_ACTION_SEND_MESSAGE);
    ck_assert_str_eq(a[3].text, "Did you get it?");
    ck_assert_str_eq(a[3].channel, "whatsapp");
    ck_assert_int_eq(a[3].delay_s, 2 * 86400);
    ck_assert_int_eq(a[4].kind, VT_ACTION_SEND_MESSAGE);
    ck_assert_ptr_null(a[4].channel);
    ck_assert_int_eq(a[4].delay_s, 30 * 60);

    /* Friday 16:00 is after hours: that rule stops the rest. */
    ev.weekday = 5;
    ev.minute = 16 * 60;
    ck_assert_int_eq(vt_rules_match(r, &ev, out, 4), 1);
    ck_assert_str_eq(vt_rule_name(out[0]), "after-hours");
    a = vt_rule_actions(out[0], &n);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(a[0].text, "{company} is closed.");
    ck_assert_int_eq(a[0].delay_s, 0);
    /* The disabled one never runs. */
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_MISSED_CALL, NULL, 1, 1, 600)), "");
}
END_TEST

START_TEST(test_trigger_names)
{
    for (int t = 0; t < VT_TRIGGER_COUNT; t++)
        ck_assert_int_eq(vt_trigger_from_name(vt_trigger_name((vt_trigger_t)t)), t);
    ck_assert_str_eq(vt_trigger_name(VT_TRIGGER_INBOUND_WHATSAPP), "inbound_whatsapp");
    ck_assert_str_eq(vt_trigger_name(VT_TRIGGER_CALL_ESCALATED), "call_escalated");
    ck_assert_int_eq(vt_trigger_from_name("inbound_fax"), -1);
    ck_assert_int_eq(vt_trigger_from_name("INBOUND_SMS"), -1);
    ck_assert_int_eq(vt_trigger_from_name(""), -1);
    ck_assert_int_eq(vt_trigger_from_name(NULL), -1);
}
END_TEST

START_TEST(test_empty_rules)
{
    vt_rules_t *r = parse_ok(" \n{\"rules\": []}\n ");

    ck_assert_int_eq(vt_rules_count(r), 0);
    ck_assert_str_eq(sms_matched(r, "hello"), "");
    r = parse_ok("{\"business_hours\": {}, \"rules\": []}");
    ck_assert_int_eq(vt_rules_count(r), 0);
}
END_TEST

START_TEST(test_document_errors)
{
    const char *err = NULL;
    char *big;

    ERR_IS("", "empty document");
    ERR_IS(" \n\t", "empty document");
    ERR_IS("[]", "top level: not a JSON object");
    ERR_IS("null", "top level: not a JSON object");
    ERR_IS("5", "top level: not a JSON object");
    ERR_IS("{}", "rules: required");
    ERR_IS("{\"rules\": {}}", "rules: not an array");
    ERR_IS("{\"rules\": null}", "rules: not an array");
    ERR_IS("{\"rules\": [], \"colour\": 1}", "colour: unknown member");
    ERR_IS("{\"rules\": [], \"a\\u0001b\": 1}", "a?b: unknown member");
    ERR_IS("{\"rules\": [],\n}", "JSON syntax error at line 2, column 1 (byte 14): "
                                 "unexpected character");
    ERR_IS("{\"rules\": []} x", "JSON syntax error at line 1, column 15 (byte 14): "
                                "unexpected character");
    ck_assert_ptr_nonnull(strstr(parse_err("{\"rules\": []}{}"), "JSON syntax error"));
    ck_assert_ptr_nonnull(strstr(parse_err("{\"rules\": ["), "JSON syntax error at line 1"));
    ck_assert_ptr_nonnull(strstr(parse_err("{\"rules\": [\"\xc3\x28\"]}"), "invalid utf-8"));
    ck_assert_ptr_nonnull(strstr(parse_err(apr_pstrcat(vt_test_pool, "{\"rules\": [],"
                                                       " \"x\": ", repeat("[", 40),
                                                       repeat("]", 40), "}", NULL)),
                                 "too deep"));
    /* A NUL byte inside is an error, not the end of the document. */
    ck_assert_ptr_null(parse_len("{\"rules\": []}\0{", 15, &err));
    ck_assert_str_eq(err, "JSON syntax error at line 1, column 14 (byte 13): NUL byte");

    /* 256 KiB of JSON at most. */
    big = apr_palloc(vt_test_pool, VT_RULES_DOC_MAX + 2);
    memset(big, ' ', VT_RULES_DOC_MAX + 1);
    memcpy(big, "{\"rules\": []}", 13);
    ck_assert_ptr_nonnull(parse_len(big, VT_RULES_DOC_MAX, &err));
    ck_assert_ptr_null(parse_len(big, VT_RULES_DOC_MAX + 1, &err));
    ck_assert_str_eq(err, "document too large: 262145 bytes (at most 262144)");
}
END_TEST

START_TEST(test_unknown_members)
{
    ERR_IS("{\"business_hours\": {\"monday\": \"09:00-17:00\"}, \"rules\": []}",
           "business_hours.monday: unknown member");
    ERR_IS(one_rule("\"name\": \"r\", \"trigger\": \"inbound_sms\", \"colour\": 1, "
                    "\"actions\": [{\"type\": \"notify\", \"body\": \"x\"}]"),
           "rules[0].colour: unknown member");
    ERR_IS(with_when("{\"keywords\": [\"a\"], \"color\": \"red\"}"),
           "rules[0].when.color: unknown member");
    ERR_IS(with_actions("{\"type\": \"notify\", \"bodyy\": \"hi\"}"),
           "rules[0].actions[0].bodyy: unknown member");
    ERR_IS(with_actions("{\"type\": \"notify\", \"body\": \"hi\"}, {\"type\": \"tag\", "
                        "\"tag\": \"t\", \"Tag\": \"u\"}"),
           "rules[0].actions[1].Tag: unknown member");
    ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"rules\": [], \"%s\": 1}",
                                            repeat("k", 100))),
                     apr_psprintf(vt_test_pool, "%s...: unknown member", repeat("k", 64)));
}
END_TEST

START_TEST(test_required_members)
{
#define NOTIFY "\"actions\": [{\"type\": \"notify\", \"body\": \"x\"}]"
    ERR_IS(one_rule("\"trigger\": \"inbound_sms\", " NOTIFY), "rules[0].name: required");
    ERR_IS(one_rule("\"name\": \"r\", " NOTIFY), "rules[0].trigger: required");
    ERR_IS(one_rule("\"name\": \"r\", \"trigger\": \"inbound_sms\""),
           "rules[0].actions: required");
    ERR_IS(with_actions("{\"body\": \"x\"}"), "rules[0].actions[0].type: required");
    ERR_IS(with_actions("{\"type\": \"auto_reply\"}"), "rules[0].actions[0].body: required");
    ERR_IS(with_actions("{\"type\": \"send_message\", \"delay\": \"1h\"}"),
           "rules[0].actions[0].body: required");
    ERR_IS(with_actions("{\"type\": \"notify\", \"body\": \"x\"}, {\"type\": \"notify\"}"),
           "rules[0].actions[1].body: required");
    ERR_IS(with_actions("{\"type\": \"tag\"}"), "rules[0].actions[0].tag: required");
    ERR_IS("{\"rules\": [{\"name\": \"a\", \"trigger\": \"inbound_sms\", " NOTIFY "}, {}]}",
           "rules[1].name: required");
#undef NOTIFY
}
END_TEST

START_TEST(test_type_errors)
{
#define NT "\"name\": \"r\", \"trigger\": \"inbound_sms\", "
#define NOTIFY "\"actions\": [{\"type\": \"notify\", \"body\": \"x\"}]"
    ERR_IS("{\"rules\": [\"r\"]}", "rules[0]: not an object");
    ERR_IS(one_rule(NT NOTIFY ", \"enabled\": 1"), "rules[0].enabled: not a boolean");
    ERR_IS(one_rule(NT NOTIFY ", \"stop\": \"true\""), "rules[0].stop: not a boolean");
    ERR_IS(one_rule(NT NOTIFY ", \"when\": []"), "rules[0].when: not an object");
    ERR_IS(one_rule(NT "\"actions\": {}"), "rules[0].actions: not an array of 1 to 10 actions");
    ERR_IS(one_rule(NT "\"actions\": []"), "rules[0].actions: not an array of 1 to 10 actions");
#define TAG_T "{\"type\": \"tag\", \"tag\": \"t\"}"
    parse_ok(with_actions(apr_pstrcat(vt_test_pool, repeat(TAG_T ", ", 9), TAG_T, NULL)));
    ERR_IS(with_actions(apr_pstrcat(vt_test_pool, repeat(TAG_T ", ", 10), TAG_T, NULL)),
           "rules[0].actions: not an array of 1 to 10 actions");
    ERR_IS(with_actions("\"notify\""), "rules[0].actions[0]: not an object");
    ERR_IS(one_rule("\"name\": 5, \"trigger\": \"inbound_sms\", " NOTIFY),
           "rules[0].name: not a name of 1 to 64 letters, digits, spaces, _ . or -");
    ERR_IS(one_rule("\"name\": \"r\", \"trigger\": \"inbound_fax\", " NOTIFY),
           "rules[0].trigger: not one of inbound_sms, inbound_whatsapp, missed_call, "
           "call_completed or call_escalated");
    ERR_IS(with_actions("{\"type\": \"email\", \"body\": \"x\"}"),
           "rules[0].actions[0].type: not one of auto_reply, send_message, notify or tag");
    ERR_IS(with_actions("{\"type\": \"send_message\", \"body\": \"x\", \"channel\": \"mms\"}"),
           "rules[0].actions[0].channel: not sms or whatsapp");
    ERR_IS(with_actions("{\"type\": \"notify\", \"body\": 5}"),
           "rules[0].actions[0].body: not a string");
    ERR_IS(with_when("{\"customer\": \"old\"}"), "rules[0].when.customer: not new or known");
    ERR_IS(with_when("{\"business_hours\": \"yes\"}"),
           "rules[0].when.business_hours: not a boolean");
    ERR_IS("{\"business_hours\": [], \"rules\": []}", "business_hours: not an object");
#undef NT
#undef NOTIFY
#undef TAG_T
}
END_TEST

START_TEST(test_rule_names)
{
    const char *a = "\"trigger\": \"inbound_sms\", \"actions\": [{\"type\": \"tag\", "
                    "\"tag\": \"t\"}]";
    const char *doc;

    vt_rules_t *r;

    r = parse_ok(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"%s\", %s", repeat("n", 64), a)));
    ck_assert_str_eq(sms_matched(r, "x"), repeat("n", 64));
    parse_ok(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"A z_0.9-\", %s", a)));
    ERR_HAS(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"%s\", %s", repeat("n", 65), a)),
            "rules[0].name: not a name");
    ERR_HAS(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"\", %s", a)), "rules[0].name");
    ERR_HAS(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"a/b\", %s", a)), "rules[0].name");
    ERR_HAS(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"caf\xc3\xa9\", %s", a)),
            "rules[0].name");
    ERR_HAS(one_rule(apr_psprintf(vt_test_pool, "\"name\": \"a\\u0000b\", %s", a)),
            "rules[0].name");
    doc = apr_psprintf(vt_test_pool, "{\"rules\": [{\"name\": \"a\", %s}, {\"name\": \"b\", %s},"
                       " {\"name\": \"a\", %s}]}", a, a, a);
    ERR_IS(doc, "rules[2].name: 'a' is already the name of rules[0]");
    /* Names are compared exactly. */
    parse_ok(apr_psprintf(vt_test_pool, "{\"rules\": [{\"name\": \"a\", %s}, {\"name\": \"A\", "
                          "%s}]}", a, a));
}
END_TEST

START_TEST(test_rules_limit)
{
    const char *rule = "{\"name\": \"r%d\", \"trigger\": \"inbound_sms\", \"actions\": "
                       "[{\"type\": \"tag\", \"tag\": \"t\"}]}";
    char *doc = apr_pstrdup(vt_test_pool, "{\"rules\": [");

    for (int i = 0; i < VT_RULES_MAX + 1; i++) {
        if (i == VT_RULES_MAX)
            ck_assert_int_eq(vt_rules_count(parse_ok(apr_pstrcat(vt_test_pool, doc, "]}",
                                                                 NULL))),
                             VT_RULES_MAX);
        doc = apr_pstrcat(vt_test_pool, doc, i ? ", " : "", apr_psprintf(vt_test_pool, rule, i),
                          NULL);
    }
    ERR_IS(apr_pstrcat(vt_test_pool, doc, "]}", NULL), "rules: at most 100 rules (has 101)");
}
END_TEST

START_TEST(test_business_hours_values)
{
    static const char *const good[] = { "\"00:00-24:00\"", "\"09:00-17:30\"", "\"23:59-24:00\"",
                                        "\"00:00-00:01\"", "null" };
    static const char *const bad[] = { "\"24:00-24:00\"", "\"17:00-09:00\"", "\"09:00-09:00\"",
                                       "\"09:00-24:01\"", "\"9:00-17:00\"", "\"09:60-17:00\"",
                                       "\"09:00 - 17:00\"", "\"09:00-17:00 \"", "\"25:00-26:00\"",
                                       "\"09h00-17h00\"", "\"\"", "true", "900", "[]",
                                       "\"09:00-17:00\\u0000\"" };
    size_t i;

    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        parse_ok(apr_psprintf(vt_test_pool, "{\"business_hours\": {\"wed\": %s}, \"rules\": []}",
                              good[i]));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ERR_HAS(apr_psprintf(vt_test_pool, "{\"business_hours\": {\"mon\": null, \"sun\": %s},"
                             " \"rules\": []}", bad[i]),
                "business_hours.sun: not hours like \"09:00-17:00\"");
}
END_TEST

START_TEST(test_conditions_need_business_hours)
{
    const char *rule = "{\"name\": \"r\", \"trigger\": \"inbound_sms\", \"when\": "
                       "{\"business_hours\": true}, \"actions\": [{\"type\": \"tag\", \"tag\": "
                       "\"t\"}]}";

    ERR_IS(apr_psprintf(vt_test_pool, "{\"rules\": [%s]}", rule),
           "rules[0].when.business_hours: the document has no business_hours");
    /* Wherever they are in the document. */
    parse_ok(apr_psprintf(vt_test_pool, "{\"rules\": [%s], \"business_hours\": {}}", rule));
    parse_ok(apr_psprintf(vt_test_pool, "{\"business_hours\": {\"mon\": null}, \"rules\": [%s]}",
                          rule));
}
END_TEST

START_TEST(test_condition_errors)
{
    ERR_IS(with_when("{\"keywords\": []}"), "rules[0].when.keywords: not an array of 1 to 20 "
                                            "keywords");
    ERR_IS(with_when("{\"keywords\": \"price\"}"), "rules[0].when.keywords: not an array of 1 "
                                                   "to 20 keywords");
    parse_ok(with_when(apr_psprintf(vt_test_pool, "{\"keywords\": [%s\"k\"]}",
                                    repeat("\"k\", ", 19))));
    ERR_HAS(with_when(apr_psprintf(vt_test_pool, "{\"keywords\": [%s\"k\"]}",
                                   repeat("\"k\", ", 20))),
            "rules[0].when.keywords: not an array");
    parse_ok(with_when(apr_psprintf(vt_test_pool, "{\"keywords\": [\"%s\"]}", repeat("k", 64))));
    ERR_IS(with_when(apr_psprintf(vt_test_pool, "{\"keywords\": [\"a\", \"%s\"]}",
                                  repeat("k", 65))),
           "rules[0].when.keywords[1]: not a string of 1 to 64 bytes (has 65)");
    ERR_HAS(with_when("{\"keywords\": [\"\"]}"), "rules[0].when.keywords[0]");
    ERR_IS(with_when("{\"keywords\": [\" \\t\"]}"), "rules[0].when.keywords[0]: blank");
    ERR_IS(with_when("{\"keywords\": [\"a\", 7]}"), "rules[0].when.keywords[1]: not a string");

    parse_ok(with_when(apr_psprintf(vt_test_pool, "{\"regex\": \"%s\"}", repeat("a", 200))));
    ERR_IS(with_when(apr_psprintf(vt_test_pool, "{\"regex\": \"%s\"}", repeat("a", 201))),
           "rules[0].when.regex: not a string of 1 to 200 bytes (has 201)");
    ERR_HAS(with_when("{\"regex\": \"\"}"), "rules[0].when.regex: not a string");
    ERR_IS(with_when("{\"regex\": \"(a)\\\\1\"}"),
           "rules[0].when.regex: back-references (\\1) are not allowed");
    parse_ok(with_when("{\"regex\": \"a\\\\\\\\1\"}")); /* a, a backslash, then 1 */
    ERR_HAS(with_when("{\"regex\": \"(ab\"}"),
            "rules[0].when.regex: not a valid POSIX extended regular expression");
    ERR_HAS(with_when("{\"regex\": \"((a{255}){255}){255}\"}"), "rules[0].when.regex: too complex");
    ERR_HAS(with_when("{\"regex\": \"^a+++++++++\"}"), "rules[0].when.regex: too complex");
    /* Repeating what can match nothing makes glibc's compiling double with each. */
    static const char *const empty_loops[] = { "^(a*)*", "a**", "(a|)+", "(a?b?){2}",
                                               "(^)*", "x(\\\\b)+", "(a|(b*))*", "()*" };
    for (size_t i = 0; i < sizeof empty_loops / sizeof empty_loops[0]; i++)
        ERR_IS(with_when(apr_psprintf(vt_test_pool, "{\"regex\": \"%s\"}", empty_loops[i])),
               "rules[0].when.regex: repeats what can match the empty text (like (a*)* or a**):"
               " not allowed");
    parse_ok(with_when("{\"regex\": \"(a+)*(b|c?d)+x{0,3}(y?z)?\"}"));
    parse_ok(with_when("{\"regex\": \"^[[:digit:]]{5}(-[0-9]{4})?$\"}"));
    parse_ok(with_when("{\"regex\": \"x{250}\"}"));
    ERR_HAS(with_when("{\"regex\": \".{0,1000}\"}"), "rules[0].when.regex: too complex");
    ERR_HAS(with_when("{\"regex\": \"(.{0,5}){100}\"}"), "rules[0].when.regex: repeats what can");
}
END_TEST

START_TEST(test_bodies)
{
    parse_ok(with_actions(apr_psprintf(vt_test_pool, "{\"type\": \"notify\", \"body\": \"%s\"}",
                                       repeat("b", VT_RULE_BODY_MAX))));
    ERR_IS(with_actions(apr_psprintf(vt_test_pool, "{\"type\": \"notify\", \"body\": \"%s\"}",
                                     repeat("b", VT_RULE_BODY_MAX + 1))),
           "rules[0].actions[0].body: not a string of 1 to 1600 bytes (has 1601)");
    ERR_HAS(with_actions("{\"type\": \"auto_reply\", \"body\": \"\"}"),
            "rules[0].actions[0].body: not a string of 1 to 1600 bytes");
    ERR_IS(with_actions("{\"type\": \"notify\", \"body\": \"a\\u0000b\"}"),
           "rules[0].actions[0].body: contains a NUL character");
    parse_ok(with_actions("{\"type\": \"notify\", \"body\": \"{from}{body}{company} } {body}\"}"));
    ERR_IS(with_actions("{\"type\": \"notify\", \"body\": \"Hi {name}\"}"),
           "rules[0].actions[0].body: the '{' at byte 3 begins no placeholder ({from}, {body} "
           "or {company})");
    ERR_HAS(with_actions("{\"type\": \"notify\", \"body\": \"{body\"}"),
            "rules[0].actions[0].body: the '{' at byte 0");
    ERR_HAS(with_actions("{\"type\": \"notify\", \"body\": \"{from}{\"}"),
            "rules[0].actions[0].body: the '{' at byte 6");
}
END_TEST

START_TEST(test_delays_and_channels)
{
    static const struct {
        const char *delay;
        long s;
    } good[] = { { "1s", 1 }, { "30m", 1800 }, { "24h", 86400 }, { "30d", 30L * 86400 },
                 { "720h", 30L * 86400 }, { "2592000s", 2592000 }, { "007m", 420 } };
    static const char *const bad[] = { "\"0s\"", "\"0d\"", "\"31d\"", "\"721h\"", "\"2592001s\"",
                                       "\"10\"", "\"m\"", "\"1.5h\"", "\"1 h\"", "\"1H\"",
                                       "\"-1d\"", "\"1d \"", "\"\"", "60", "null",
                                       "\"99999999999999999999d\"", "\"1w\"", "\"1m\\u0000\"" };
    size_t i;

    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        const vt_rule_t *out[1];
        vt_rule_event_t ev = event(VT_TRIGGER_INBOUND_SMS, "x", 0, 1, 0);
        vt_rules_t *r = parse_ok(with_actions(apr_psprintf(
            vt_test_pool, "{\"type\": \"send_message\", \"body\": \"b\", \"delay\": \"%s\"}",
            good[i].delay)));
        int n;

        ck_assert_int_eq(vt_rules_match(r, &ev, out, 1), 1);
        ck_assert_int_eq(vt_rule_actions(out[0], &n)[0].delay_s, good[i].s);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ERR_IS(with_actions(apr_psprintf(vt_test_pool, "{\"type\": \"notify\", \"body\": \"b\"},"
                                         " {\"type\": \"send_message\", \"body\": \"b\", "
                                         "\"delay\": %s}", bad[i])),
               "rules[0].actions[1].delay: not a duration like 30m, 24h or 2d (at most 30d)");
    /* Only a message sent later has a delay, or a channel. */
    ERR_IS(with_actions("{\"type\": \"notify\", \"body\": \"b\", \"delay\": \"1h\"}"),
           "rules[0].actions[0].delay: not allowed in a notify action");
    ERR_IS(with_actions("{\"type\": \"auto_reply\", \"channel\": \"sms\", \"body\": \"b\"}"),
           "rules[0].actions[0].channel: not allowed in a auto_reply action");
    parse_ok(with_actions("{\"type\": \"send_message\", \"body\": \"b\", \"channel\": \"sms\"}"));
}
END_TEST

START_TEST(test_tags)
{
    static const char *const good[] = { "lead", "vip-2", "a_b", "0",
                                        "abcdefghijklmnopqrstuvwxyz012345" };
    static const char *const bad[] = { "\"Lead\"", "\"-x\"", "\"_x\"", "\"\"", "\"a b\"",
                                       "\"abcdefghijklmnopqrstuvwxyz0123456\"", "5",
                                       "\"caf\xc3\xa9\"" };
    size_t i;

    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        parse_ok(with_actions(apr_psprintf(vt_test_pool, "{\"type\": \"tag\", \"tag\": \"%s\"}",
                                           good[i])));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ERR_HAS(with_actions(apr_psprintf(vt_test_pool, "{\"type\": \"tag\", \"tag\": %s}",
                                          bad[i])),
                "rules[0].actions[0].tag: not a tag");
    ERR_IS(with_actions("{\"type\": \"tag\", \"tag\": \"t\", \"body\": \"b\"}"),
           "rules[0].actions[0].body: not allowed in a tag action");
    ERR_IS(with_actions("{\"type\": \"notify\", \"tag\": \"t\", \"body\": \"b\"}"),
           "rules[0].actions[0].tag: not allowed in a notify action");
}
END_TEST

START_TEST(test_auto_reply_needs_a_message)
{
    static const char *const calls[] = { "missed_call", "call_completed", "call_escalated" };

    for (size_t i = 0; i < 3; i++)
        ERR_IS(one_rule(apr_psprintf(vt_test_pool, "\"actions\": [{\"type\": \"tag\", \"tag\": "
                                     "\"t\"}, {\"type\": \"auto_reply\", \"body\": \"b\"}], "
                                     "\"name\": \"r\", \"trigger\": \"%s\"", calls[i])),
               apr_psprintf(vt_test_pool, "rules[0].actions[1]: auto_reply is only for the "
                            "inbound_sms and inbound_whatsapp triggers (this rule's is %s)",
                            calls[i]));
    parse_ok(one_rule("\"name\": \"r\", \"trigger\": \"inbound_whatsapp\", \"actions\": "
                      "[{\"type\": \"auto_reply\", \"body\": \"b\"}]"));
    parse_ok(one_rule("\"name\": \"r\", \"trigger\": \"missed_call\", \"actions\": "
                      "[{\"type\": \"send_message\", \"body\": \"b\"}]"));
}
END_TEST

START_TEST(test_first_error_is_kept)
{
    ERR_IS("{\"rules\": [{\"name\": \"r\", \"trigger\": \"x\", \"enabled\": 2, \"actions\": []},"
           " 5], \"colour\": 1}",
           "rules[0].trigger: not one of inbound_sms, inbound_whatsapp, missed_call, "
           "call_completed or call_escalated");
    ERR_IS("{\"colour\": 1, \"rules\": [5]}", "colour: unknown member");
}
END_TEST

/* ------------------------------------------------------------------ matching */

START_TEST(test_match_keywords)
{
    vt_rules_t *r = parse_ok(with_when("{\"keywords\": [\"price\", \"opening hours\", "
                                       "\"caf\xc3\xa9\"]}"));
    static const char *const yes[] = { "Price?", "price", "What's the PRICE of it",
                                       "the price-list", "(price)", "priceless price",
                                       "your Opening Hours?", "un caf\xc3\xa9, svp",
                                       "CAF\xc3\xa9" };
    static const char *const no[] = { "priceless", "xprice", "price2", "prices", "opening  hours",
                                      "hours", "", "caf\xc3\xa8", "pric" };
    size_t i;

    for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_msg(strcmp(sms_matched(r, yes[i]), "r") == 0, "'%s' did not match", yes[i]);
    for (i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_msg(strcmp(sms_matched(r, no[i]), "") == 0, "'%s' matched", no[i]);
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_INBOUND_SMS, NULL, 0, 1, 0)), "");
}
END_TEST

START_TEST(test_match_regex)
{
    vt_rules_t *r = parse_ok(with_when("{\"regex\": \"^(re)?book\"}"));

    ck_assert_str_eq(sms_matched(r, "Book me in"), "r");
    ck_assert_str_eq(sms_matched(r, "rebook please"), "r");
    ck_assert_str_eq(sms_matched(r, "I want to book"), "");
    /* With keywords, both must hold. */
    r = parse_ok(with_when("{\"regex\": \"[0-9]{5}\", \"keywords\": [\"zip\"]}"));
    ck_assert_str_eq(sms_matched(r, "zip 75011"), "r");
    ck_assert_str_eq(sms_matched(r, "zip 7501"), "");
    ck_assert_str_eq(sms_matched(r, "code 75011"), "");
    /* No body is the empty text. */
    r = parse_ok("{\"rules\": [{\"name\": \"r\", \"trigger\": \"missed_call\", \"when\": "
                 "{\"regex\": \"^$\"}, \"actions\": [{\"type\": \"tag\", \"tag\": \"t\"}]}]}");
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_MISSED_CALL, NULL, 0, 1, 0)), "r");
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_MISSED_CALL, "x", 0, 1, 0)), "");
}
END_TEST

START_TEST(test_match_business_hours)
{
    vt_rules_t *in = parse_ok(with_when("{\"business_hours\": true}"));
    vt_rules_t *out = parse_ok(with_when("{\"business_hours\": false}"));
    static const struct {
        int weekday, minute, within;
    } cases[] = {
        { 1, 539, 0 }, { 1, 540, 1 }, { 1, 1019, 1 }, { 1, 1020, 0 }, /* 09:00-17:00 */
        { 5, 0, 0 },   { 6, 0, 1 },   { 6, 1439, 1 },                 /* sat all day */
        { 7, 600, 0 },                                                 /* sun null */
        { 0, 600, 0 }, { 8, 600, 0 },                                  /* no such day */
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vt_rule_event_t ev = event(VT_TRIGGER_INBOUND_SMS, "x", 0, cases[i].weekday,
                                   cases[i].minute);
        ck_assert_msg(strcmp(matched(in, ev), cases[i].within ? "r" : "") == 0,
                      "day %d minute %d", cases[i].weekday, cases[i].minute);
        ck_assert_msg(strcmp(matched(out, ev), cases[i].within ? "" : "r") == 0,
                      "day %d minute %d", cases[i].weekday, cases[i].minute);
    }
    /* A day not given is closed. */
    in = parse_ok("{\"business_hours\": {\"mon\": \"08:00-09:00\"}, \"rules\": [{\"name\": \"r\", "
                  "\"trigger\": \"inbound_sms\", \"when\": {\"business_hours\": true}, "
                  "\"actions\": [{\"type\": \"tag\", \"tag\": \"t\"}]}]}");
    ck_assert_str_eq(matched(in, event(VT_TRIGGER_INBOUND_SMS, "x", 0, 1, 480)), "r");
    ck_assert_str_eq(matched(in, event(VT_TRIGGER_INBOUND_SMS, "x", 0, 2, 480)), "");
}
END_TEST

START_TEST(test_match_customer)
{
    vt_rules_t *r = parse_ok("{\"rules\": ["
                             "{\"name\": \"new\", \"trigger\": \"inbound_whatsapp\", \"when\": "
                             "{\"customer\": \"new\"}, \"actions\": [{\"type\": \"tag\", \"tag\": "
                             "\"t\"}]},"
                             "{\"name\": \"known\", \"trigger\": \"inbound_whatsapp\", \"when\": "
                             "{\"customer\": \"known\"}, \"actions\": [{\"type\": \"tag\", "
                             "\"tag\": \"t\"}]},"
                             "{\"name\": \"any\", \"trigger\": \"inbound_whatsapp\", \"when\": {},"
                             " \"actions\": [{\"type\": \"tag\", \"tag\": \"t\"}]}]}");

    ck_assert_str_eq(matched(r, event(VT_TRIGGER_INBOUND_WHATSAPP, "hi", 0, 1, 0)), "new,any");
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_INBOUND_WHATSAPP, "hi", 1, 1, 0)), "known,any");
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_INBOUND_SMS, "hi", 1, 1, 0)), "");
}
END_TEST

START_TEST(test_match_enabled_stop_and_trigger)
{
#define TAG "\"actions\": [{\"type\": \"tag\", \"tag\": \"t\"}]"
    vt_rules_t *r = parse_ok(
        "{\"rules\": ["
        "{\"name\": \"off\", \"trigger\": \"inbound_sms\", \"enabled\": false, " TAG "},"
        "{\"name\": \"a\", \"trigger\": \"inbound_sms\", \"enabled\": true, " TAG "},"
        "{\"name\": \"calls\", \"trigger\": \"missed_call\", " TAG "},"
        "{\"name\": \"stop-unmatched\", \"trigger\": \"inbound_sms\", \"stop\": true, "
        "\"when\": {\"keywords\": [\"never\"]}, " TAG "},"
        "{\"name\": \"b\", \"trigger\": \"inbound_sms\", \"stop\": false, " TAG "},"
        "{\"name\": \"stopper\", \"trigger\": \"inbound_sms\", \"stop\": true, "
        "\"when\": {\"keywords\": [\"halt\"]}, " TAG "},"
        "{\"name\": \"c\", \"trigger\": \"inbound_sms\", " TAG "}]}");
    const vt_rule_t *out[2];
    vt_rule_event_t ev = event(VT_TRIGGER_INBOUND_SMS, "halt", 0, 1, 0);

    ck_assert_str_eq(sms_matched(r, "hello"), "a,b,c");
    ck_assert_str_eq(sms_matched(r, "please halt"), "a,b,stopper");
    ck_assert_str_eq(sms_matched(r, "never"), "a,stop-unmatched");
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_MISSED_CALL, NULL, 0, 1, 0)), "calls");
    ck_assert_str_eq(matched(r, event(VT_TRIGGER_CALL_COMPLETED, NULL, 0, 1, 0)), "");
    /* At most max of them. */
    ck_assert_int_eq(vt_rules_match(r, &ev, out, 2), 2);
    ck_assert_str_eq(vt_rule_name(out[1]), "b");
    ck_assert_int_eq(vt_rules_match(r, &ev, out, 0), 0);
#undef TAG
}
END_TEST

/* ------------------------------------------------------------------ expand, consent */

START_TEST(test_expand)
{
    const char *plain = "No placeholder } here";

    ck_assert_ptr_eq(vt_rule_expand(vt_test_pool, plain, "+1", "b", "c"), plain);
    ck_assert_str_eq(vt_rule_expand(vt_test_pool, "New lead {from}: {body} ({company}{from})",
                                    "+14155550100", "Price?", "Acme & Sons"),
                     "New lead +14155550100: Price? (Acme & Sons+14155550100)");
    ck_assert_str_eq(vt_rule_expand(vt_test_pool, "{from}|{body}|{company}", NULL, NULL, NULL),
                     "||");
    /* The values are not expanded again. */
    ck_assert_str_eq(vt_rule_expand(vt_test_pool, "{body}!", "+1", "{from}", "c"), "{from}!");
    ck_assert_str_eq(vt_rule_expand(vt_test_pool, "{x} {from", "+1", "b", "c"), "{x} {from");
}
END_TEST

START_TEST(test_consent_keywords)
{
    static const struct {
        const char *body, *word;
        vt_consent_keyword_t kind;
    } cases[] = {
        { "STOP", "STOP", VT_CONSENT_KEYWORD_OPT_OUT },
        { " Stop. ", "STOP", VT_CONSENT_KEYWORD_OPT_OUT },
        { "stop!", "STOP", VT_CONSENT_KEYWORD_OPT_OUT },
        { "\tSTOPALL\r\n", "STOPALL", VT_CONSENT_KEYWORD_OPT_OUT },
        { "Unsubscribe", "UNSUBSCRIBE", VT_CONSENT_KEYWORD_OPT_OUT },
        { "cancel?", "CANCEL", VT_CONSENT_KEYWORD_OPT_OUT },
        { "end", "END", VT_CONSENT_KEYWORD_OPT_OUT },
        { "Quit", "QUIT", VT_CONSENT_KEYWORD_OPT_OUT },
        { "start", "START", VT_CONSENT_KEYWORD_OPT_IN },
        { "unstop", "UNSTOP", VT_CONSENT_KEYWORD_OPT_IN },
        { "Yes!", "YES", VT_CONSENT_KEYWORD_OPT_IN },
        { "stop please", NULL, VT_CONSENT_KEYWORD_NONE },
        { "please stop", NULL, VT_CONSENT_KEYWORD_NONE },
        { "stopp", NULL, VT_CONSENT_KEYWORD_NONE },
        { ".stop", NULL, VT_CONSENT_KEYWORD_NONE },
        { "s top", NULL, VT_CONSENT_KEYWORD_NONE },
        { "", NULL, VT_CONSENT_KEYWORD_NONE },
        { " .!? ", NULL, VT_CONSENT_KEYWORD_NONE },
        { "yes\xc2\xa0", NULL, VT_CONSENT_KEYWORD_NONE },
    };
    const char *word = "unset";

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        word = "unset";
        ck_assert_msg(vt_consent_keyword(cases[i].body, &word) == cases[i].kind, "'%s'",
                      cases[i].body);
        if (cases[i].word)
            ck_assert_str_eq(word, cases[i].word);
        else
            ck_assert_ptr_null(word);
        ck_assert_int_eq(vt_consent_keyword(cases[i].body, NULL), cases[i].kind);
    }
    ck_assert_int_eq(vt_consent_keyword(NULL, &word), VT_CONSENT_KEYWORD_NONE);
    ck_assert_ptr_null(word);
}
END_TEST

Suite *vt_suite_rules(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_full_document);
    tcase_add_test(tc, test_trigger_names);
    tcase_add_test(tc, test_empty_rules);
    tcase_add_test(tc, test_document_errors);
    tcase_add_test(tc, test_unknown_members);
    tcase_add_test(tc, test_required_members);
    tcase_add_test(tc, test_type_errors);
    tcase_add_test(tc, test_rule_names);
    tcase_add_test(tc, test_rules_limit);
    tcase_add_test(tc, test_business_hours_values);
    tcase_add_test(tc, test_conditions_need_business_hours);
    tcase_add_test(tc, test_condition_errors);
    tcase_add_test(tc, test_bodies);
    tcase_add_test(tc, test_delays_and_channels);
    tcase_add_test(tc, test_tags);
    tcase_add_test(tc, test_auto_reply_needs_a_message);
    tcase_add_test(tc, test_first_error_is_kept);
    tcase_add_test(tc, test_match_keywords);
    tcase_add_test(tc, test_match_regex);
    tcase_add_test(tc, test_match_business_hours);
    tcase_add_test(tc, test_match_customer);
    tcase_add_test(tc, test_match_enabled_stop_and_trigger);
    tcase_add_test(tc, test_expand);
    tcase_add_test(tc, test_consent_keywords);
    suite_add_tcase(s, tc);
    return s;
}
