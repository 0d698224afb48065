/* The turn rules every channel shares (vt_conversation): limits, fallbacks, the model's
 * answers and failures, actions, the hand-over with and without a human, DTMF menus. */
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_conversation.h"

#define SCRIPT \
    "{\"no_input_limit\": 2, \"no_match_limit\": 2," \
    " \"intents\": [" \
    "  {\"name\": \"hours\", \"phrases\": [\"opening hours\", \"open\"]," \
    "   \"reply\": \"We are open nine to five.\"}," \
    "  {\"name\": \"book\", \"phrases\": [\"appointment\"], \"reply\": \"Texting you.\"," \
    "   \"action\": \"sms\", \"sms\": \"Book at example.com\"}," \
    "  {\"name\": \"bye\", \"phrases\": [\"ciao\"], \"reply\": \"Ciao!\", \"action\": \"hangup\"}" \
    "]}"

#define CALL "CA0123456789abcdef0123456789abcdef"

static vt_tenant_t t;
static vt_conv_ctx_t ctx;

/* The model stand-in: what it answers next. */
static struct {
    int ok;
    vt_answer_t ans;
    int switch_to;   /* -1: keep the language */
    int calls;
} model;

static int fake_model(void *baton, const char *said, int *lang, vt_answer_t *ans)
{
    model.calls++;
    if (!model.ok) {
        return 0;
    }
    *ans = model.ans;
    if (model.switch_to >= 0) {
        *lang = model.switch_to;
    }
    return 1;
}

static void setup(void)
{
    vt_test_pool_setup();
    memset(&t, 0, sizeof t);
    t.company_id = "7";
    t.slug = "acme";
    t.language = "en-US";
    t.voice = "Polly.Joanna";
    t.assistant_kind = "script";
    t.assistant_script = SCRIPT;
    t.escalation_phone = "+14155550199";
    t.languages_json = "[{\"language\": \"es-ES\", \"voice\": \"Polly.Lucia\"}]";
    memset(&ctx, 0, sizeof ctx);
    ctx.tenant = &t;
    ctx.assistant = vt_assistant_build(vt_test_pool, &t);
    ctx.model = fake_model;
    ctx.from = "+14155550100";
    ctx.call_sid = CALL;
    memset(&model, 0, sizeof model);
    model.switch_to = -1;
}

static vt_conv_result_t turn(vt_conv_state_t st, const char *said, const char *conf)
{
    vt_conv_input_t in = { said, conf, 0, 0 };
    vt_conv_result_t res;

    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &res);
    return res;
}

static vt_conv_result_t key(vt_conv_state_t st, char digit)
{
    vt_conv_input_t in = { NULL, NULL, digit, 1 };
    vt_conv_result_t res;

    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &res);
    return res;
}

START_TEST(test_no_input_then_limit)
{
    vt_conv_state_t st = { 1, 0, 0, 0 };
    vt_conv_result_t r = turn(st, "  \t", NULL);

    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_REPROMPT);
    ck_assert_int_eq(r.state.turn, 2);
    ck_assert_int_eq(r.state.no_input, 1);
    ck_assert_ptr_null(r.intent);
    /* The second silence reaches the limit: the human, with the script's words. */
    r = turn(r.state, NULL, NULL);
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_ESCALATION);
    /* Without a human: the goodbye and the end. */
    t.escalation_phone = NULL;
    st.no_input = 1;
    r = turn(st, "", NULL);
    ck_assert_int_eq(r.next, VT_CONV_HANGUP);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_GOODBYE);
}
END_TEST

/* The recognizer failed: an apology that asks to repeat, no limit of the script moves;
 * from the second failure in a row the keypad menu, at the third a person. */
START_TEST(test_unheard_is_not_the_callers_miss)
{
    vt_conv_state_t st = { 1, 1, 1, 0, 0 };
    vt_conv_input_t in = { NULL, NULL, 0, 0, 1 };
    vt_conv_result_t r;

    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &r);
    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    ck_assert_str_eq(r.reply, VT_VOICE_RETRY_TEXT);
    ck_assert_int_eq(r.state.turn, st.turn + 1);
    ck_assert_int_le(r.state.no_input, 1);
    ck_assert_int_le(r.state.no_match, 1);
    st = r.state;
    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &r);
    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    ck_assert_str_eq(r.reply, apr_pstrcat(vt_test_pool, VT_VOICE_RETRY_TEXT, " ",
                                          vt_conv_menu(vt_test_pool, &ctx), NULL));
    ck_assert_ptr_nonnull(strstr(r.reply, "press 1"));
    /* Understood words in between start the count again. */
    vt_conv_result_t ok = turn(r.state, "When are you open?", "0.9");
    ck_assert_int_eq(ok.state.unheard, 0);
    st = r.state;
    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &r);
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_ESCALATION);
}
END_TEST

START_TEST(test_match_resets_counters)
{
    vt_conv_state_t st = { 3, 1, 1, 0 };
    vt_conv_result_t r = turn(st, "When are you open?", "0.9");

    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    ck_assert_str_eq(r.reply, "We are open nine to five.");
    ck_assert_str_eq(r.intent, "hours");
    ck_assert_int_eq(r.state.turn, 4);
    ck_assert_int_eq(r.state.no_input, 0);
    ck_assert_int_eq(r.state.no_match, 0);
    ck_assert_str_eq(r.voice.voice, "Polly.Joanna");
    ck_assert_int_eq(model.calls, 0); /* a script tenant never asks a model */
}
END_TEST

START_TEST(test_low_confidence_and_no_match_limit)
{
    vt_conv_state_t st = { 1, 0, 0, 0 };
    /* Words that would match, heard with too little confidence: the fallback. */
    vt_conv_result_t r = turn(st, "opening hours", "0.2");

    ck_assert_ptr_null(r.intent);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_FALLBACK);
    ck_assert_int_eq(r.state.no_match, 1);
    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    /* "0" is "unknown", not low. */
    r = turn(st, "opening hours", "0");
    ck_assert_str_eq(r.intent, "hours");
    /* Two misses in a row: the hand-over. */
    st.no_match = 1;
    r = turn(st, "purple elephants", NULL);
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_ESCALATION);
}
END_TEST

START_TEST(test_rejected_by_the_offline_recognizer)
{
    vt_conv_state_t st = { 1, 0, 0, 0 };
    vt_conv_input_t in = { 0 };
    vt_conv_result_t r;

    /* The caller spoke, the grammar matched nothing: a no-match (not no input), the
     * fallback and, at the offline menu, its keys again; the model is not asked. */
    in.rejected = 1;
    in.menu = 1;
    model.calls = 0;
    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &r);
    ck_assert_ptr_null(r.intent);
    ck_assert_int_eq(r.state.no_match, 1);
    ck_assert_int_eq(r.state.no_input, 0);
    ck_assert_int_eq(model.calls, 0);
    ck_assert_str_eq(r.reply, apr_pstrcat(vt_test_pool, VT_SCRIPT_DEFAULT_FALLBACK, " ",
                                          vt_conv_menu(vt_test_pool, &ctx), NULL));
    /* Whatever it heard is not used. */
    in.said = "opening hours";
    in.menu = 0;
    vt_conv_turn(vt_test_pool, &ctx, &st, &in, &r);
    ck_assert_ptr_null(r.intent);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_FALLBACK);
}
END_TEST

START_TEST(test_actions)
{
    vt_conv_state_t st = { 2, 0, 0, 0 };
    vt_conv_result_t r = turn(st, "I need an appointment", NULL);

    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    ck_assert_str_eq(r.sms_to, "+14155550100");
    ck_assert_str_eq(r.sms_body, "Book at example.com");
    ck_assert_str_eq(r.sms_dedup_key, "sms:" CALL ":2");
    /* No usable caller number: no text, the conversation goes on. */
    ctx.from = "anonymous";
    r = turn(st, "I need an appointment", NULL);
    ck_assert_ptr_null(r.sms_to);
    ck_assert_str_eq(r.reply, "Texting you.");
    /* The tenant's hang-up intent speaks its own reply. */
    r = turn(st, "ciao", NULL);
    ck_assert_int_eq(r.next, VT_CONV_HANGUP);
    ck_assert_str_eq(r.reply, "Ciao!");
    /* The built-in "human" speaks the script's escalation text... */
    r = turn(st, "an operator please", NULL);
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_ESCALATION);
    ck_assert_str_eq(r.intent, "human");
    /* ... and without a human says goodbye. */
    t.escalation_phone = "not a number";
    r = turn(st, "an operator please", NULL);
    ck_assert_int_eq(r.next, VT_CONV_HANGUP);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_GOODBYE);
}
END_TEST

START_TEST(test_model_answers_and_fallbacks)
{
    vt_conv_state_t st = { 1, 0, 1, 0 };
    vt_conv_result_t r;

    t.assistant_kind = "llm";
    t.llm_base_url = "http://127.0.0.1:9/v1";
    t.llm_model = "m";
    model.ok = 1;
    model.ans.intent = "llm";
    model.ans.reply = "Sure, we open at nine.";
    r = turn(st, "opening hours", NULL);
    ck_assert_str_eq(r.reply, "Sure, we open at nine.");
    ck_assert_int_eq(model.calls, 1);
    ck_assert_int_eq(r.state.no_match, 0);
    /* The model fails: the script answers what it knows... */
    model.ok = 0;
    r = turn(st, "opening hours", NULL);
    ck_assert_str_eq(r.intent, "hours");
    /* ... and an apology what it does not, without counting a miss. */
    r = turn(st, "purple elephants", NULL);
    ck_assert_str_eq(r.reply, VT_VOICE_RETRY_TEXT);
    ck_assert_str_eq(r.intent, "fallback");
    ck_assert_int_eq(r.next, VT_CONV_LISTEN);
    ck_assert_int_eq(r.state.no_match, 0);
    /* The model escalates in its own words. */
    model.ok = 1;
    model.ans.action = VT_ACTION_ESCALATE;
    model.ans.reply = "Let me get Maria for you.";
    r = turn(st, "can I talk to Maria", NULL);
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    ck_assert_str_eq(r.reply, "Let me get Maria for you.");
    /* ... or with a tool call alone: the script's words. */
    model.ans.reply = NULL;
    r = turn(st, "can I talk to Maria", NULL);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_ESCALATION);
    /* It ends the call without words: the goodbye. */
    model.ans.action = VT_ACTION_HANGUP;
    r = turn(st, "that is all", NULL);
    ck_assert_int_eq(r.next, VT_CONV_HANGUP);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_GOODBYE);
}
END_TEST

START_TEST(test_model_switches_language)
{
    vt_conv_state_t st = { 1, 0, 0, 0 };
    vt_conv_result_t r;

    t.assistant_kind = "llm";
    t.llm_base_url = "http://127.0.0.1:9/v1";
    t.llm_model = "m";
    ctx.assistant = vt_assistant_build(vt_test_pool, &t);
    model.ok = 1;
    model.ans.intent = "llm";
    model.ans.reply = "Claro.";
    model.switch_to = 1;
    r = turn(st, "hablas español", NULL);
    ck_assert_int_eq(r.state.lang, 1);
    ck_assert_str_eq(r.voice.voice, "Polly.Lucia");
    ck_assert_str_eq(r.voice.language, "es-ES");
    /* A language index from a stale URL falls back to the primary before the model. */
    st.lang = 5;
    model.switch_to = -1;
    r = turn(st, "hello", NULL);
    ck_assert_int_eq(r.state.lang, 0);
}
END_TEST

START_TEST(test_model_answer_mapping)
{
    vt_llm_language_t langs[2] = { { "en-US", "Polly.Joanna" }, { "es-ES", "Polly.Lucia" } };
    vt_llm_reply_t reply = { 0 };
    vt_answer_t a;
    const char *why = NULL;
    int lang = 0;

    reply.content = "  Hello **there**  ";
    ck_assert_int_eq(vt_conv_model_answer(vt_test_pool, &reply, langs, 2, &lang, &a, &why), 1);
    ck_assert_str_eq(a.intent, "llm");
    ck_assert_str_eq(a.reply, "Hello there");
    ck_assert_int_eq(a.action, VT_ACTION_NONE);
    reply.content = NULL;
    reply.action = VT_LLM_ACT_ESCALATE;
    ck_assert_int_eq(vt_conv_model_answer(vt_test_pool, &reply, langs, 2, &lang, &a, &why), 1);
    ck_assert_int_eq(a.action, VT_ACTION_ESCALATE);
    ck_assert_ptr_null(a.reply);
    reply.action = VT_LLM_ACT_END_CALL;
    vt_conv_model_answer(vt_test_pool, &reply, langs, 2, &lang, &a, &why);
    ck_assert_int_eq(a.action, VT_ACTION_HANGUP);
    reply.action = VT_LLM_ACT_LANGUAGE;
    reply.language = "ES-es";
    ck_assert_int_eq(vt_conv_model_answer(vt_test_pool, &reply, langs, 2, &lang, &a, &why), 1);
    ck_assert_int_eq(lang, 1);
    reply.language = "fr-FR"; /* not the tenant's: ignored */
    vt_conv_model_answer(vt_test_pool, &reply, langs, 2, &lang, &a, &why);
    ck_assert_int_eq(lang, 1);
    reply.action = VT_LLM_ACT_SAY;
    reply.content = "   ";
    ck_assert_int_eq(vt_conv_model_answer(vt_test_pool, &reply, langs, 2, &lang, &a, &why), 0);
    ck_assert_str_eq(why, "empty answer");
}
END_TEST

START_TEST(test_realtime_tool_call)
{
    vt_conv_state_t st = { 4, 0, 0, 0 };
    vt_answer_t a = { "llm", NULL, VT_ACTION_ESCALATE, NULL, 0 };
    vt_conv_result_t r;

    vt_conv_answer(vt_test_pool, &ctx, &st, &a, &r);
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    t.escalation_phone = NULL;
    vt_conv_answer(vt_test_pool, &ctx, &st, &a, &r);
    ck_assert_int_eq(r.next, VT_CONV_HANGUP);
    ck_assert_str_eq(r.reply, VT_SCRIPT_DEFAULT_GOODBYE);
}
END_TEST

START_TEST(test_dtmf_menu)
{
    vt_conv_state_t st = { 1, 1, 0, 0 };
    vt_conv_result_t r;
    const char *menu = vt_conv_menu(vt_test_pool, &ctx);

    ck_assert_str_eq(menu, "For opening hours, press 1. For appointment, press 2. "
                           "For ciao, press 3. To speak with a person, press 0.");
    r = key(st, '1');
    ck_assert_str_eq(r.intent, "hours");
    ck_assert_str_eq(r.reply, "We are open nine to five.");
    ck_assert_int_eq(r.state.no_input, 0);
    ck_assert_int_eq(r.state.turn, 2);
    r = key(st, '2');
    ck_assert_str_eq(r.sms_to, "+14155550100");
    r = key(st, '0');
    ck_assert_int_eq(r.next, VT_CONV_TRANSFER);
    ck_assert_str_eq(r.intent, "human");
    r = key(st, '*');
    ck_assert_str_eq(r.reply, menu);
    /* A key that is not on the menu: a miss, and the menu again. */
    r = key(st, '7');
    ck_assert_ptr_null(r.intent);
    ck_assert_int_eq(r.state.no_match, 1);
    ck_assert_str_eq(r.reply, apr_pstrcat(vt_test_pool, "Sorry, that key is not on the menu. ",
                                          menu, NULL));
    /* Silence at a menu: the reprompt, then the menu. */
    {
        vt_conv_input_t in = { NULL, NULL, 0, 1 };
        vt_conv_state_t s0 = { 1, 0, 0, 0 };
        vt_conv_turn(vt_test_pool, &ctx, &s0, &in, &r);
        ck_assert_str_eq(r.reply, apr_pstrcat(vt_test_pool, VT_SCRIPT_DEFAULT_REPROMPT, " ",
                                              menu, NULL));
    }
    /* No human: the menu does not offer one. */
    t.escalation_phone = NULL;
    ck_assert_str_eq(vt_conv_menu(vt_test_pool, &ctx),
                     "For opening hours, press 1. For appointment, press 2. For ciao, press 3.");
}
END_TEST

START_TEST(test_transfer_alert_and_dial)
{
    ck_assert_str_eq(vt_conv_transfer_alert(vt_test_pool, "+14155550100", CALL, "+14155550199"),
                     "Call from +14155550100 (" CALL ") is being transferred to +14155550199. "
                     "If nobody answers, please call back.");
    ck_assert_str_eq(vt_conv_transfer_alert_key(vt_test_pool, CALL), "escalation_alert:" CALL);
    ck_assert_int_eq(vt_conv_dial_answered("completed"), 1);
    ck_assert_int_eq(vt_conv_dial_answered("answered"), 1);
    ck_assert_int_eq(vt_conv_dial_answered("no-answer"), 0);
    ck_assert_int_eq(vt_conv_dial_answered(NULL), 0);
}
END_TEST

Suite *vt_suite_conversation(void)
{
    Suite *s = suite_create("conversation");
    TCase *tc = tcase_create("turn");

    tcase_add_checked_fixture(tc, setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_no_input_then_limit);
    tcase_add_test(tc, test_unheard_is_not_the_callers_miss);
    tcase_add_test(tc, test_match_resets_counters);
    tcase_add_test(tc, test_low_confidence_and_no_match_limit);
    tcase_add_test(tc, test_rejected_by_the_offline_recognizer);
    tcase_add_test(tc, test_actions);
    tcase_add_test(tc, test_model_answers_and_fallbacks);
    tcase_add_test(tc, test_model_switches_language);
    tcase_add_test(tc, test_model_answer_mapping);
    tcase_add_test(tc, test_realtime_tool_call);
    tcase_add_test(tc, test_dtmf_menu);
    tcase_add_test(tc, test_transfer_alert_and_dial);
    suite_add_tcase(s, tc);
    return s;
}
