/* Unit tests for vt_assistant: script validation (every error names its field), matching
 * and the normalized JSON. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_assistant.h"

/* Parses a copy in a heap buffer of exactly len bytes, so ASan sees any over-read. */
static apr_status_t parse_len(const char *json, apr_size_t len, vt_script_t **s,
                              const char **err)
{
    char *buf = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, json, len);
    apr_status_t rv = vt_script_parse(vt_test_pool, buf, len, s, err);
    free(buf);
    return rv;
}

static vt_script_t *parse_ok(const char *json)
{
    vt_script_t *s = NULL;
    const char *err = NULL;
    apr_status_t rv = parse_len(json, strlen(json), &s, &err);
    ck_assert_msg(rv == APR_SUCCESS, "parse failed: %s\n%s", err ? err : "(no message)", json);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_null(err);
    return s;
}

static const char *parse_err(const char *json)
{
    vt_script_t *s = (vt_script_t *)1;
    const char *err = NULL;
    ck_assert_int_eq(parse_len(json, strlen(json), &s, &err), APR_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(err);
    return err;
}

#define ERR_IS(json, msg) ck_assert_str_eq(parse_err(json), (msg))

/* A document with one intent whose body is given ("name", "phrases", "reply" filled in
 * unless the fragment replaces them). */
static const char *one_intent(const char *fields)
{
    return apr_psprintf(vt_test_pool, "{\"intents\": [{%s}]}", fields);
}

static const char *repeat(const char *unit, int n)
{
    char *r = apr_pstrdup(vt_test_pool, "");
    for (int i = 0; i < n; i++)
        r = apr_pstrcat(vt_test_pool, r, unit, NULL);
    return r;
}

static const char *const dental =
    "{\n"
    "  \"fallback\": \"Pardon?\",\n"
    "  \"reprompt\": \"Hello?\",\n"
    "  \"no_input_limit\": 3,\n"
    "  \"no_match_limit\": 1,\n"
    "  \"goodbye\": \"Bye now.\",\n"
    "  \"escalation\": \"Transferring you.\",\n"
    "  \"intents\": [\n"
    "    {\"name\": \"hours\", \"phrases\": [\"opening hours\", \"when are you open\"],\n"
    "     \"reply\": \"Nine to five.\"},\n"
    "    {\"name\": \"book\", \"phrases\": [\"appointment\", \"book\"],\n"
    "     \"reply\": \"I will text you a link.\", \"action\": \"sms\",\n"
    "     \"sms\": \"Book here: https://example.com/book?x=1\"},\n"
    "    {\"name\": \"cancel\", \"phrases\": [\"cancel appointment\"],\n"
    "     \"reply\": \"Connecting you.\", \"action\": \"escalate\"},\n"
    "    {\"name\": \"emergency\", \"phrases\": [\"emergency\", \"pain\"],\n"
    "     \"reply\": \"Hold on.\", \"action\": \"escalate\"},\n"
    "    {\"name\": \"done\", \"phrases\": [\"i am finished\"],\n"
    "     \"reply\": \"See you.\", \"action\": \"hangup\"},\n"
    "    {\"name\": \"coffee\", \"phrases\": [\"café\"], \"reply\": \"No coffee.\",\n"
    "     \"action\": \"none\"}\n"
    "  ]\n"
    "}\n";

/* ------------------------------------------------------------------ parsing */

START_TEST(test_defaults)
{
    vt_script_t *d = vt_script_default(vt_test_pool);
    vt_script_t *e = parse_ok("{}");
    vt_script_t *both[2] = { d, e };

    for (int i = 0; i < 2; i++) {
        vt_script_t *s = both[i];
        ck_assert_str_eq(vt_script_fallback(s),
                         "Sorry, I did not catch that. Could you say it another way?");
        ck_assert_str_eq(vt_script_reprompt(s), "Are you still there? How can I help you?");
        ck_assert_str_eq(vt_script_goodbye(s), "Thank you for calling. Goodbye!");
        ck_assert_str_eq(vt_script_escalation(s),
                         "Let me connect you with a member of our team.");
        ck_assert_int_eq(vt_script_no_input_limit(s), 2);
        ck_assert_int_eq(vt_script_no_match_limit(s), 2);
        ck_assert_int_eq(vt_script_intent_count(s), 0);
    }
    /* Whitespace around the document; an empty intent list. */
    vt_script_t *s = parse_ok(" \n\t{\"intents\": [], \"no_match_limit\": 10}\r\n ");
    ck_assert_int_eq(vt_script_intent_count(s), 0);
    ck_assert_int_eq(vt_script_no_match_limit(s), 10);
    ck_assert_int_eq(vt_script_no_input_limit(s), 2);
}
END_TEST

START_TEST(test_full_document)
{
    vt_script_t *s = parse_ok(dental);
    ck_assert_str_eq(vt_script_fallback(s), "Pardon?");
    ck_assert_str_eq(vt_script_reprompt(s), "Hello?");
    ck_assert_str_eq(vt_script_goodbye(s), "Bye now.");
    ck_assert_str_eq(vt_script_escalation(s), "Transferring you.");
    ck_assert_int_eq(vt_script_no_input_limit(s), 3);
    ck_assert_int_eq(vt_script_no_match_limit(s), 1);
    ck_assert_int_eq(vt_script_intent_count(s), 6);
}
END_TEST

START_TEST(test_limits_of_sizes)
{
    /* 1000 characters is the limit, counted in code points (é is two bytes). */
    parse_ok(apr_psprintf(vt_test_pool, "{\"fallback\": \"%s\"}", repeat("a", 1000)));
    parse_ok(apr_psprintf(vt_test_pool, "{\"fallback\": \"%s\"}", repeat("\xc3\xa9", 1000)));
    ERR_IS(apr_psprintf(vt_test_pool, "{\"fallback\": \"%s\"}", repeat("\xc3\xa9", 1001)),
           "fallback: must be at most 1000 characters (has 1001)");
    ERR_IS(apr_psprintf(vt_test_pool, "{\"intents\": [{\"name\": \"n\", \"phrases\": [\"%s\"],"
                                      " \"reply\": \"r\"}]}",
                        repeat("ab ", 334)),
           "intents[0].phrases[0]: must be at most 1000 characters (has 1002)");

    /* 50 phrases per intent, 200 intents. */
    const char *ph50 = apr_pstrcat(vt_test_pool, repeat("\"p\", ", 49), "\"p\"", NULL);
    parse_ok(one_intent(
        apr_psprintf(vt_test_pool, "\"name\": \"n\", \"reply\": \"r\", \"phrases\": [%s]", ph50)));
    ERR_IS(one_intent(apr_psprintf(vt_test_pool,
                                   "\"name\": \"n\", \"reply\": \"r\", \"phrases\": [%s, \"q\"]",
                                   ph50)),
           "intents[0].phrases: at most 50 phrases (has 51)");

    char *many = apr_pstrdup(vt_test_pool, "{\"intents\": [");
    for (int i = 0; i < 201; i++) {
        if (i == 200) {
            ck_assert_int_eq(vt_script_intent_count(parse_ok(apr_pstrcat(vt_test_pool, many,
                                                                         "]}", NULL))),
                             200);
        }
        many = apr_psprintf(vt_test_pool,
                            "%s%s{\"name\": \"i%d\", \"phrases\": [\"w%d\"], \"reply\": \"r\"}",
                            many, i ? ", " : "", i, i);
    }
    ERR_IS(apr_pstrcat(vt_test_pool, many, "]}", NULL), "intents: at most 200 intents (has 201)");

    /* Limits 1..10. */
    ck_assert_int_eq(vt_script_no_input_limit(parse_ok("{\"no_input_limit\": 1}")), 1);
    ck_assert_int_eq(vt_script_no_input_limit(parse_ok("{\"no_input_limit\": 10}")), 10);
}
END_TEST

START_TEST(test_syntax_errors)
{
    vt_script_t *s;
    const char *err;

    ERR_IS("", "empty document");
    ERR_IS(" \n\t ", "empty document");
    ERR_IS("[]", "top level: must be a JSON object");
    ERR_IS("null", "top level: must be a JSON object");
    ERR_IS("5", "top level: must be a JSON object");
    ERR_IS("\"x\"", "top level: must be a JSON object");
    ERR_IS("{\n  \"fallback\": \"x\",\n}", "JSON syntax error at line 3, column 1 (byte 21): "
                                             "unexpected character");
    ERR_IS("{\"fallback\": tru}", "JSON syntax error at line 1, column 17 (byte 16): "
                                  "boolean expected");
    ERR_IS("{} x", "JSON syntax error at line 1, column 4 (byte 3): unexpected character");
    ck_assert_ptr_nonnull(strstr(parse_err("{\"fallback\": \"x\""), "JSON syntax error at line 1"));
    ck_assert_ptr_nonnull(strstr(parse_err("{\"fallback\": \"\xc3\x28\"}"),
                                 "invalid utf-8"));
    /* A NUL byte inside the input is an error, not the end of the document. */
    ck_assert_int_eq(parse_len("{}\0{\"x\": 1}", 11, &s, &err), APR_EINVAL);
    ck_assert_str_eq(err, "JSON syntax error at line 1, column 3 (byte 2): NUL byte");
}
END_TEST

START_TEST(test_field_errors)
{
    ERR_IS("{\"intnets\": []}", "unknown field 'intnets'");
    ERR_IS("{\"fallback\": \"ok\", \"Fallback\": \"x\"}", "unknown field 'Fallback'");
    ERR_IS("{\"a\\u0001b\": 1}", "unknown field 'a?b'");
    ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": 1}", repeat("k", 100))),
                     apr_psprintf(vt_test_pool, "unknown field '%s...'", repeat("k", 64)));

    static const char *const texts[] = { "fallback", "reprompt", "goodbye", "escalation",
                                         "filler" };
    for (int i = 0; i < 5; i++) {
        const char *f = texts[i];
        const char *want = apr_psprintf(vt_test_pool, "%s: must be a non-empty string", f);
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": 5}", f)), want);
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": null}", f)), want);
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": \"\"}", f)), want);
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": \" \\n \"}", f)), want);
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": [\"x\"]}", f)), want);
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"%s\": \"a\\u0000b\"}", f)),
                         apr_psprintf(vt_test_pool, "%s: must not contain a NUL character", f));
    }

    static const char *const limits[] = { "no_input_limit", "no_match_limit" };
    static const char *const bad_limits[] = { "0", "11", "-1", "2.5", "2.0", "\"2\"", "true",
                                              "null", "99999999999999999999", "1e1" };
    for (int i = 0; i < 2; i++)
        for (size_t j = 0; j < sizeof bad_limits / sizeof bad_limits[0]; j++)
            ck_assert_str_eq(
                parse_err(apr_psprintf(vt_test_pool, "{\"%s\": %s}", limits[i], bad_limits[j])),
                apr_psprintf(vt_test_pool, "%s: must be an integer from 1 to 10", limits[i]));

    ERR_IS("{\"intents\": {}}", "intents: must be an array");
    ERR_IS("{\"intents\": null}", "intents: must be an array");
    ERR_IS("{\"intents\": [\"hours\"]}", "intents[0]: must be an object");
}
END_TEST

START_TEST(test_intent_errors)
{
#define NPR "\"name\": \"n\", \"phrases\": [\"p\"], \"reply\": \"r\""
    parse_ok(one_intent(NPR));
    ERR_IS(one_intent("\"phrases\": [\"p\"], \"reply\": \"r\""), "intents[0].name: required");
    ERR_IS(one_intent("\"name\": \"n\", \"reply\": \"r\""), "intents[0].phrases: required");
    ERR_IS(one_intent("\"name\": \"n\", \"phrases\": [\"p\"]"), "intents[0].reply: required");
    ERR_IS(one_intent("\"name\": 1, \"phrases\": [\"p\"], \"reply\": \"r\""),
           "intents[0].name: must be a non-empty string");
    ERR_IS(one_intent("\"name\": \"n\", \"phrases\": [\"p\"], \"reply\": \"\""),
           "intents[0].reply: must be a non-empty string");
    ERR_IS(one_intent("\"name\": \"n\", \"phrases\": [], \"reply\": \"r\""),
           "intents[0].phrases: must be a non-empty array of strings");
    ERR_IS(one_intent("\"name\": \"n\", \"phrases\": \"p\", \"reply\": \"r\""),
           "intents[0].phrases: must be a non-empty array of strings");
    ERR_IS(one_intent("\"name\": \"n\", \"phrases\": [\"p\", 7], \"reply\": \"r\""),
           "intents[0].phrases[1]: must be a non-empty string");
    ERR_IS(one_intent("\"name\": \"n\", \"phrases\": [\"p\", \"?! ...\"], \"reply\": \"r\""),
           "intents[0].phrases[1]: must contain at least one word");
    ERR_IS(one_intent(NPR ", \"phrase\": [\"x\"]"), "intents[0]: unknown field 'phrase'");
    ERR_IS(one_intent(NPR ", \"action\": \"escalated\""),
           "intents[0].action: must be one of none, escalate, hangup, sms");
    ERR_IS(one_intent(NPR ", \"action\": 1"),
           "intents[0].action: must be one of none, escalate, hangup, sms");
    ERR_IS(one_intent(NPR ", \"action\": \"SMS\""),
           "intents[0].action: must be one of none, escalate, hangup, sms");
    ERR_IS(one_intent(NPR ", \"action\": \"sms\""), "intents[0].sms: required when action is sms");
    ERR_IS(one_intent(NPR ", \"sms\": \"hi\""), "intents[0].sms: only allowed when action is sms");
    ERR_IS(one_intent(NPR ", \"action\": \"none\", \"sms\": \"hi\""),
           "intents[0].sms: only allowed when action is sms");
    ERR_IS(one_intent(NPR ", \"action\": \"sms\", \"sms\": \"\""),
           "intents[0].sms: must be a non-empty string");

    /* The path names the right element. */
    ERR_IS("{\"intents\": [{" NPR "}, {\"name\": \"m\", \"phrases\": [\"p\"], \"reply\": \"r\"},"
           " {\"name\": \"o\", \"phrases\": [\"\"], \"reply\": \"r\"}]}",
           "intents[2].phrases[0]: must be a non-empty string");
    ERR_IS("{\"intents\": [{" NPR "}, {\"name\": \"m\", \"phrases\": [\"p\"], \"reply\": \"r\"},"
           " {" NPR "}]}",
           "intents[2].name: 'n' is already the name of intents[0]");
#undef NPR
}
END_TEST

/* ------------------------------------------------------------------ matching */

static int match(const vt_script_t *s, const char *utterance, vt_answer_t *a)
{
    return vt_script_match(s, vt_test_pool, utterance, a);
}

static void assert_intent(const vt_script_t *s, const char *utterance, const char *intent)
{
    vt_answer_t a;
    int m = match(s, utterance, &a);
    ck_assert_msg(m == 1, "'%s' did not match (wanted %s)", utterance, intent);
    ck_assert_str_eq(a.intent, intent);
}

static void assert_no_match(const vt_script_t *s, const char *utterance)
{
    vt_answer_t a;
    ck_assert_msg(match(s, utterance, &a) == 0, "'%s' matched %s", utterance,
                  a.intent ? a.intent : "?");
    ck_assert_ptr_null(a.intent);
    ck_assert_str_eq(a.reply, vt_script_fallback(s));
    ck_assert_int_eq(a.action, VT_ACTION_NONE);
    ck_assert_ptr_null(a.sms);
    ck_assert_int_eq(a.builtin, 0);
}

START_TEST(test_match_normalization)
{
    vt_script_t *s = parse_ok(dental);
    vt_answer_t a;

    ck_assert_int_eq(match(s, "opening hours", &a), 1);
    ck_assert_str_eq(a.intent, "hours");
    ck_assert_str_eq(a.reply, "Nine to five.");
    ck_assert_int_eq(a.action, VT_ACTION_NONE);
    ck_assert_ptr_null(a.sms);
    ck_assert_int_eq(a.builtin, 0);

    assert_intent(s, "OPENING HOURS", "hours");
    assert_intent(s, "Opening Hours?!", "hours");
    assert_intent(s, "opening-hours", "hours");
    assert_intent(s, "  opening\t\n hours  ", "hours");
    assert_intent(s, "uh what are your opening hours please", "hours");
    assert_intent(s, "When are you, um, open?", "hours");
    assert_intent(s, "Café au lait", "coffee"); /* UTF-8 bytes compared as they are */
    assert_no_match(s, "hours opening");         /* words must come in order */
    assert_no_match(s, "open hours");
    assert_no_match(s, "openinghours");
    assert_no_match(s, "cafe");
    assert_no_match(s, "");
    assert_no_match(s, "?! ...");
    assert_no_match(s, NULL);
    assert_no_match(s, "do you sell toothbrushes");
}
END_TEST

START_TEST(test_match_actions_and_specificity)
{
    vt_script_t *s = parse_ok(dental);
    vt_answer_t a;

    ck_assert_int_eq(match(s, "I'd like to book an appointment", &a), 1);
    ck_assert_str_eq(a.intent, "book");
    ck_assert_int_eq(a.action, VT_ACTION_SMS);
    ck_assert_str_eq(a.sms, "Book here: https://example.com/book?x=1");
    ck_assert_str_eq(a.reply, "I will text you a link.");

    /* "cancel appointment" (two words) beats "appointment" although "book" comes first. */
    ck_assert_int_eq(match(s, "I need to cancel my appointment", &a), 1);
    ck_assert_str_eq(a.intent, "cancel");
    ck_assert_int_eq(a.action, VT_ACTION_ESCALATE);
    ck_assert_ptr_null(a.sms);
    /* Equal lengths: the earlier intent. */
    assert_intent(s, "emergency appointment", "book");
    assert_intent(s, "pain and an appointment", "book");
    assert_intent(s, "I have pain", "emergency");

    ck_assert_int_eq(match(s, "I am finished", &a), 1);
    ck_assert_int_eq(a.action, VT_ACTION_HANGUP);
    ck_assert_str_eq(a.reply, "See you.");
}
END_TEST

START_TEST(test_match_builtins)
{
    vt_script_t *d = vt_script_default(vt_test_pool);
    vt_script_t *s = parse_ok(dental);
    vt_answer_t a;
    static const char *const human[] = {
        "human", "Can I talk to a HUMAN?", "agent please", "a representative", "operator",
        "I want a real person", "could I speak to someone", "speak with someone"
    };
    static const char *const bye[] = { "goodbye", "Good bye!", "ok bye", "That's all, thanks",
                                       "that\xe2\x80\x99s all", "thats all", "that is all",
                                       "no, nothing else" };

    for (size_t i = 0; i < sizeof human / sizeof human[0]; i++) {
        if (i == 7) { /* "speak to someone" needs its "to" */
            assert_no_match(d, human[i]);
            continue;
        }
        ck_assert_msg(match(d, human[i], &a) == 1, "%s", human[i]);
        ck_assert_str_eq(a.intent, "human");
        ck_assert_int_eq(a.builtin, 1);
        ck_assert_int_eq(a.action, VT_ACTION_ESCALATE);
        ck_assert_str_eq(a.reply, "Let me connect you with a member of our team.");
        ck_assert_int_eq(match(s, human[i], &a), 1);
        ck_assert_str_eq(a.reply, "Transferring you."); /* the tenant's escalation text */
    }
    for (size_t i = 0; i < sizeof bye / sizeof bye[0]; i++) {
        ck_assert_msg(match(d, bye[i], &a) == 1, "%s", bye[i]);
        ck_assert_str_eq(a.intent, "goodbye");
        ck_assert_int_eq(a.builtin, 1);
        ck_assert_int_eq(a.action, VT_ACTION_HANGUP);
        ck_assert_str_eq(a.reply, "Thank you for calling. Goodbye!");
        ck_assert_int_eq(match(s, bye[i], &a), 1);
        ck_assert_str_eq(a.reply, "Bye now.");
    }
    assert_no_match(d, "stand by");
    assert_no_match(d, "agents"); /* whole words only */
    assert_no_match(d, "that was all");
    /* A tenant intent is preferred to a built-in one. */
    assert_intent(s, "what are your opening hours, then goodbye", "hours");
}
END_TEST

START_TEST(test_phrases_lead_to_their_intents)
{
    vt_script_t *s = parse_ok(dental), *d = vt_script_default(vt_test_pool);
    const char *const *ph;
    int builtins = vt_script_phrases(d, vt_test_pool, &ph), n;
    vt_answer_t a;

    /* The tenant's first, then the built-ins (what the offline recognizer listens for);
     * each, said alone, reaches an intent. */
    ck_assert_int_eq(builtins, 11);
    n = vt_script_phrases(s, vt_test_pool, &ph);
    ck_assert_int_gt(n, builtins);
    ck_assert_str_eq(ph[n - builtins], "human");
    ck_assert_str_eq(ph[n - 1], "nothing else");
    for (int i = 0; i < n; i++) {
        ck_assert_msg(match(s, ph[i], &a) == 1, "%s", ph[i]);
        ck_assert_int_eq(a.builtin, i >= n - builtins);
    }
}
END_TEST

START_TEST(test_match_tenant_overrides_builtin)
{
    vt_script_t *s = parse_ok(
        "{\"intents\": [{\"name\": \"desk\", \"phrases\": [\"operator\"], \"reply\": \"Desk.\"},"
        " {\"name\": \"talk\", \"phrases\": [\"speak\"], \"reply\": \"Speak.\"},"
        " {\"name\": \"bye\", \"phrases\": [\"goodbye\"], \"reply\": \"Stay!\"}]}");
    vt_answer_t a;

    ck_assert_int_eq(match(s, "operator please", &a), 1);
    ck_assert_str_eq(a.intent, "desk");
    ck_assert_int_eq(a.builtin, 0);
    ck_assert_int_eq(a.action, VT_ACTION_NONE);
    ck_assert_str_eq(a.reply, "Desk.");
    /* Even when the built-in phrase would be longer. */
    assert_intent(s, "can I speak to someone", "talk");
    ck_assert_int_eq(match(s, "goodbye", &a), 1);
    ck_assert_str_eq(a.reply, "Stay!");
    ck_assert_int_eq(a.action, VT_ACTION_NONE);
    /* The other built-ins still work. */
    ck_assert_int_eq(match(s, "a real person", &a), 1);
    ck_assert_int_eq(a.builtin, 1);
    ck_assert_str_eq(a.intent, "human");
    ck_assert_int_eq(match(s, "bye", &a), 1);
    ck_assert_int_eq(a.builtin, 1);
    ck_assert_int_eq(a.action, VT_ACTION_HANGUP);
}
END_TEST

/* ------------------------------------------------------------------ JSON output */

START_TEST(test_to_json_round_trip)
{
    vt_script_t *s = parse_ok(dental);
    const char *j = vt_script_to_json(vt_test_pool, s);

    ck_assert_ptr_nonnull(strstr(j, "\"sms\": \"Book here: https://example.com/book?x=1\""));
    ck_assert_ptr_nonnull(strstr(j, "\"action\": \"none\""));
    ck_assert_ptr_nonnull(strstr(j, "\"no_input_limit\": 3"));
    ck_assert_ptr_nonnull(strstr(j, "\"café\""));
    ck_assert_ptr_nonnull(strstr(j, "\n  \"intents\": ["));
    ck_assert_int_eq(j[strlen(j) - 1], '\n');
    /* Field order is fixed: fallback first, intents last. */
    ck_assert_ptr_eq(strstr(j, "{\n  \"fallback\""), j);

    vt_script_t *t = parse_ok(j);
    ck_assert_str_eq(vt_script_to_json(vt_test_pool, t), j);
    ck_assert_int_eq(vt_script_intent_count(t), 6);
    ck_assert_int_eq(vt_script_no_match_limit(t), 1);
    assert_intent(t, "cancel my appointment", "cancel");

    /* Defaults are written out in full. */
    const char *dj = vt_script_to_json(vt_test_pool, vt_script_default(vt_test_pool));
    ck_assert_str_eq(dj, vt_script_to_json(vt_test_pool, parse_ok("{}")));
    ck_assert_ptr_nonnull(strstr(dj, "\"reprompt\": \"Are you still there? How can I help you?\""));
    ck_assert_ptr_nonnull(strstr(dj, "\"no_match_limit\": 2"));
    ck_assert_ptr_nonnull(strstr(dj, "\n  \"intents\": []\n}\n"));
    ck_assert_str_eq(vt_script_to_json(vt_test_pool, parse_ok(dj)), dj);

    /* Escapes survive: quotes, backslashes, control characters. */
    vt_script_t *e = parse_ok("{\"fallback\": \"say \\\"a\\\\b\\\"\\tnow\"}");
    ck_assert_str_eq(vt_script_fallback(e), "say \"a\\b\"\tnow");
    ck_assert_str_eq(vt_script_fallback(parse_ok(vt_script_to_json(vt_test_pool, e))),
                     "say \"a\\b\"\tnow");
}
END_TEST

START_TEST(test_action_names)
{
    ck_assert_str_eq(vt_action_name(VT_ACTION_NONE), "none");
    ck_assert_str_eq(vt_action_name(VT_ACTION_ESCALATE), "escalate");
    ck_assert_str_eq(vt_action_name(VT_ACTION_HANGUP), "hangup");
    ck_assert_str_eq(vt_action_name(VT_ACTION_SMS), "sms");
    ck_assert_str_eq(vt_action_name((vt_action_t)42), "none");
}
END_TEST

Suite *vt_suite_assistant(void)
{
    Suite *s = suite_create("assistant");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_full_document);
    tcase_add_test(tc, test_limits_of_sizes);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_field_errors);
    tcase_add_test(tc, test_intent_errors);
    tcase_add_test(tc, test_match_normalization);
    tcase_add_test(tc, test_match_actions_and_specificity);
    tcase_add_test(tc, test_match_builtins);
    tcase_add_test(tc, test_phrases_lead_to_their_intents);
    tcase_add_test(tc, test_match_tenant_overrides_builtin);
    tcase_add_test(tc, test_to_json_round_trip);
    tcase_add_test(tc, test_action_names);
    suite_add_tcase(s, tc);
    return s;
}
