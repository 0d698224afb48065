/* vt_conversation — the rules of a turn; see vt_conversation.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "vt_conversation.h"
#include "vt_util.h"

/* Said before the menu again when a key is not on it. */
#define DTMF_INVALID_TEXT "Sorry, that key is not on the menu."
#define MENU_PERSON_TEXT "To speak with a person, press 0."

vt_voice_opts_t vt_conv_voice(const vt_assistant_t *a, int lang)
{
    vt_voice_opts_t o = { a->languages[0].voice, a->languages[0].language };

    if (lang > 0 && lang < a->nlanguages) {
        o.voice = a->languages[lang].voice;
        o.language = a->languages[lang].language;
    }
    return o;
}

int vt_conv_can_transfer(const vt_tenant_t *t)
{
    return t->escalation_phone && vt_e164_valid(t->escalation_phone);
}

static int blank(const char *s)
{
    return !s || strspn(s, " \t\r\n") == strlen(s);
}

/* Hands the caller over: to the human when the tenant has one (reply: what to say, NULL for
 * the script's escalation text), else the goodbye and the end of the call. */
static void hand_over(const vt_conv_ctx_t *ctx, const char *reply, vt_conv_result_t *res)
{
    const vt_script_t *s = ctx->assistant->script;

    if (vt_conv_can_transfer(ctx->tenant)) {
        res->reply = reply ? reply : vt_script_escalation(s);
        res->next = VT_CONV_TRANSFER;
    }
    else {
        res->reply = vt_script_goodbye(s);
        res->next = VT_CONV_HANGUP;
    }
}

/* Words that ask for the menu's keys again, when the caller answers a menu. */
static const char *with_menu(apr_pool_t *p, const vt_conv_ctx_t *ctx, const char *text,
                             int menu)
{
    return menu ? apr_pstrcat(p, text, " ", vt_conv_menu(p, ctx), NULL) : text;
}

/* The rules after the assistant answered (or did not): miss limits, actions. */
static void apply(apr_pool_t *p, const vt_conv_ctx_t *ctx, vt_conv_state_t *st,
                  const vt_answer_t *ans, vt_conv_result_t *res)
{
    const vt_script_t *s = ctx->assistant->script;
    const char *reply = ans->reply;

    /* After the assistant: the model may have switched the call's language. */
    res->voice = vt_conv_voice(ctx->assistant, st->lang);
    res->intent = ans->intent;
    res->next = VT_CONV_LISTEN;
    if (!ans->intent) {
        if (++st->no_match >= vt_script_no_match_limit(s)) {
            hand_over(ctx, NULL, res);
            res->state = *st;
            return;
        }
    }
    else {
        st->no_match = 0;
    }
    switch (ans->action) {
    case VT_ACTION_ESCALATE:
        /* The script's escalation intents speak the script's hand-over text; the model its
         * own words, when it gave any. */
        hand_over(ctx, strcmp(ans->intent, "llm") == 0 ? reply : NULL, res);
        reply = res->reply;
        break;
    case VT_ACTION_HANGUP:
        reply = reply ? reply : vt_script_goodbye(s);
        res->next = VT_CONV_HANGUP;
        break;
    case VT_ACTION_SMS:
        if (ctx->from && vt_e164_valid(ctx->from) && ans->sms) {
            res->sms_to = ctx->from;
            res->sms_body = ans->sms;
            res->sms_dedup_key = apr_psprintf(p, "sms:%s:%d", ctx->call_sid, st->turn);
        }
        break;
    case VT_ACTION_NONE:
    default:
        break;
    }
    res->reply = reply ? reply : "";
    res->state = *st;
    if (res->next == VT_CONV_LISTEN) {
        res->state.turn++;
    }
}

/* The assistant's answer to words: the model when the tenant has one (falling back to the
 * script, then to an apology), else the script. */
static void understand(apr_pool_t *p, const vt_conv_ctx_t *ctx, const char *said,
                       vt_conv_state_t *st, vt_answer_t *ans)
{
    const vt_assistant_t *a = ctx->assistant;

    if (!ctx->model || !vt_tenant_is_llm(ctx->tenant)) {
        vt_script_match(a->script, p, said, ans);
        return;
    }
    if (st->lang >= a->nlanguages) {
        st->lang = 0;
    }
    if (ctx->model(ctx->model_baton, said, &st->lang, ans)) {
        return;
    }
    /* Never silent. A model failure is not the caller's miss, so the apology counts as
     * understood and does not move the no-match limit. */
    if (vt_script_match(a->script, p, said, ans)) {
        return;
    }
    ans->reply = VT_VOICE_RETRY_TEXT;
    ans->intent = "fallback";
}

/* A key pressed at the menu. */
static void key_pressed(apr_pool_t *p, const vt_conv_ctx_t *ctx, char digit, vt_answer_t *ans)
{
    const vt_script_t *s = ctx->assistant->script;
    int n = vt_script_intent_count(s);

    memset(ans, 0, sizeof *ans);
    if (digit >= '1' && digit <= '9' && digit - '1' < (n < VT_CONV_MENU_MAX ? n : VT_CONV_MENU_MAX)) {
        vt_script_intent_answer(s, digit - '1', ans);
    }
    else if (digit == '0') {
        vt_script_human_answer(s, ans);
    }
    else if (digit == '*') {
        ans->intent = "menu";
        ans->reply = vt_conv_menu(p, ctx);
    }
    else {
        ans->reply = with_menu(p, ctx, DTMF_INVALID_TEXT, 1);
    }
}

void vt_conv_turn(apr_pool_t *p, const vt_conv_ctx_t *ctx, const vt_conv_state_t *in_state,
                  const vt_conv_input_t *in, vt_conv_result_t *res)
{
    vt_conv_state_t st = *in_state;
    vt_answer_t ans = { 0 };
    int menu = in->menu || in->digit;

    memset(res, 0, sizeof *res);
    if (in->digit) {
        st.no_input = 0;
        key_pressed(p, ctx, in->digit, &ans);
        apply(p, ctx, &st, &ans, res);
        return;
    }
    if (in->unheard && blank(in->said)) {
        /* Not the caller's miss, so no limit of the script moves; an outage still must
         * not keep them apologized to: the keys, then a person. */
        if (++st.unheard >= VT_CONV_UNHEARD_LIMIT) {
            res->voice = vt_conv_voice(ctx->assistant, st.lang);
            hand_over(ctx, NULL, res);
            res->state = st;
            return;
        }
        ans.reply = with_menu(p, ctx, VT_VOICE_RETRY_TEXT, st.unheard >= VT_CONV_UNHEARD_MENU);
        ans.intent = "fallback";
        apply(p, ctx, &st, &ans, res);
        return;
    }
    st.unheard = 0;
    if (blank(in->said) && !in->rejected) {
        res->voice = vt_conv_voice(ctx->assistant, st.lang);
        if (++st.no_input >= vt_script_no_input_limit(ctx->assistant->script)) {
            hand_over(ctx, NULL, res);
            res->state = st;
            return;
        }
        res->reply = with_menu(p, ctx, vt_script_reprompt(ctx->assistant->script), menu);
        res->next = VT_CONV_LISTEN;
        res->state = st;
        res->state.turn++;
        return;
    }
    st.no_input = 0;
    if (in->rejected
        || (in->confidence && atof(in->confidence) > 0
            && atof(in->confidence) < VT_CONV_MIN_CONFIDENCE)) {
        /* no intent, no action; offline, the keys again */
        ans.reply = with_menu(p, ctx, vt_script_fallback(ctx->assistant->script),
                              in->rejected && menu);
    }
    else {
        understand(p, ctx, in->said, &st, &ans);
    }
    apply(p, ctx, &st, &ans, res);
}

void vt_conv_answer(apr_pool_t *p, const vt_conv_ctx_t *ctx, const vt_conv_state_t *in_state,
                    const vt_answer_t *ans, vt_conv_result_t *res)
{
    vt_conv_state_t st = *in_state;

    memset(res, 0, sizeof *res);
    apply(p, ctx, &st, ans, res);
}

/* The request of a phone turn; conf filled. */
static const char *model_request(apr_pool_t *p, const vt_tenant_t *t, const vt_assistant_t *a,
                                 const char *api_key, const vt_llm_turn_t *history,
                                 int nhistory, const char *said, int lang, int stream,
                                 vt_llm_conf_t *conf)
{
    int nlangs = a->nlanguages, nmsgs = 0;
    vt_llm_phone_t phone = { t->name, t->system_prompt, a->languages, nlangs,
                             a->languages[lang >= 0 && lang < nlangs ? lang : 0].language };
    const vt_llm_msg_t *msgs;

    *conf = (vt_llm_conf_t){ t->llm_base_url, t->llm_model, api_key, t->llm_temperature,
                             t->llm_max_tokens };
    msgs = vt_llm_phone_messages(p, &phone, history, nhistory, said, &nmsgs);
    return stream ? vt_llm_request_stream_json(p, conf, msgs, nmsgs, &phone)
                  : vt_llm_request_json(p, conf, msgs, nmsgs, &phone, 0);
}

static const char *model_failure(apr_pool_t *p, const vt_llm_result_t *res, long budget_ms)
{
    return res->timed_out ? apr_psprintf(p, "no answer within %ld ms", budget_ms)
                          : apr_psprintf(p, "HTTP %ld: %s", res->http_status,
                                         res->error ? res->error : "error");
}

int vt_conv_ask_model(vt_llm_http_t *http, apr_pool_t *p, const vt_tenant_t *t,
                      const vt_assistant_t *a, const char *api_key, const vt_llm_turn_t *history, int nhistory,
                      const char *said, long budget_ms, int *lang, vt_answer_t *ans,
                      vt_llm_result_t *res, const char **why)
{
    vt_llm_conf_t conf;
    const char *body = model_request(p, t, a, api_key, history, nhistory, said, *lang, 0,
                                     &conf);
    vt_llm_reply_t reply;

    memset(res, 0, sizeof *res);
    if (vt_llm_chat(http, p, &conf, body, budget_ms, &reply, res) != APR_SUCCESS) {
        *why = model_failure(p, res, budget_ms);
        return 0;
    }
    return vt_conv_model_answer(p, &reply, a->languages, a->nlanguages, lang, ans, why);
}

int vt_conv_ask_model_stream(vt_llm_http_t *http, apr_pool_t *p, const vt_tenant_t *t,
                             const vt_assistant_t *a, const char *api_key,
                             const vt_llm_turn_t *history, int nhistory, const char *said,
                             long first_byte_ms, long budget_ms, vt_llm_sentence_fn *fn,
                             void *baton, int *lang, vt_answer_t *ans, vt_llm_result_t *res,
                             const char **why)
{
    vt_llm_conf_t conf;
    const char *body = model_request(p, t, a, api_key, history, nhistory, said, *lang, 1,
                                     &conf);
    vt_llm_reply_t reply;
    apr_status_t rv = vt_llm_chat_stream(http, p, &conf, body, budget_ms, first_byte_ms, fn,
                                         baton, &reply, res);

    *why = NULL;
    if (rv == APR_SUCCESS)
        return vt_conv_model_answer(p, &reply, a->languages, a->nlanguages, lang, ans, why);
    *why = res->timed_out && res->error ? res->error : model_failure(p, res, budget_ms);
    if (!res->sentences)
        return 0;
    /* The caller heard the start of an answer: it stands as the answer, not an apology. */
    memset(ans, 0, sizeof *ans);
    ans->intent = "llm";
    ans->reply = res->spoken;
    ans->action = VT_ACTION_NONE;
    return 1;
}

int vt_conv_model_answer(apr_pool_t *p, const vt_llm_reply_t *reply,
                         const vt_llm_language_t *langs, int nlangs, int *lang,
                         vt_answer_t *ans, const char **why)
{
    const char *text = vt_llm_spoken(p, reply->content, VT_LLM_SPOKEN_MAX);
    int i;

    memset(ans, 0, sizeof *ans);
    ans->intent = "llm";
    ans->reply = *text ? text : NULL;
    switch (reply->action) {
    case VT_LLM_ACT_ESCALATE:
        ans->action = VT_ACTION_ESCALATE;
        break;
    case VT_LLM_ACT_END_CALL:
        ans->action = VT_ACTION_HANGUP;
        break;
    case VT_LLM_ACT_LANGUAGE:
        for (i = 0; reply->language && i < nlangs; i++) {
            if (strcasecmp(langs[i].language, reply->language) == 0) {
                *lang = i;
                break;
            }
        }
        ans->action = VT_ACTION_NONE;
        break;
    case VT_LLM_ACT_SAY:
    default:
        if (!ans->reply) {
            *why = "empty answer";
            return 0;
        }
        ans->action = VT_ACTION_NONE;
        break;
    }
    return 1;
}

const char *vt_conv_menu(apr_pool_t *p, const vt_conv_ctx_t *ctx)
{
    const vt_script_t *s = ctx->assistant->script;
    int n = vt_script_intent_count(s), i;
    const char *menu = "";

    if (n > VT_CONV_MENU_MAX) {
        n = VT_CONV_MENU_MAX;
    }
    for (i = 0; i < n; i++) {
        menu = apr_psprintf(p, "%s%sFor %s, press %d.", menu, i ? " " : "",
                            vt_script_intent_label(s, i), i + 1);
    }
    if (vt_conv_can_transfer(ctx->tenant)) {
        menu = apr_pstrcat(p, menu, n ? " " : "", MENU_PERSON_TEXT, NULL);
    }
    return menu;
}

const char *vt_conv_instructions(apr_pool_t *p, const vt_tenant_t *t, const vt_assistant_t *a)
{
    vt_llm_phone_t phone = { t->name, t->system_prompt, a->languages, 1,
                             a->languages[0].language };
    const vt_script_t *s = a->script;
    int n = vt_script_intent_count(s), i, k;
    const vt_llm_msg_t *msgs = vt_llm_phone_messages(p, &phone, NULL, 0, NULL, &k);
    const char *out = msgs[0].content;

    if (n > 0) {
        out = apr_pstrcat(p, out, "What the company wants callers told (use it, in your own "
                          "words):\n", NULL);
    }
    for (i = 0; i < n; i++) {
        vt_answer_t ans;
        vt_script_intent_answer(s, i, &ans);
        out = apr_psprintf(p, "%s- When asked about %s: %s\n", out, vt_script_intent_label(s, i),
                           ans.reply);
    }
    return out;
}

const char *vt_conv_transfer_alert(apr_pool_t *p, const char *from, const char *call_sid,
                                   const char *escalation_phone)
{
    return apr_psprintf(p, "Call from %s (%s) is being transferred to %s. "
                        "If nobody answers, please call back.",
                        from ? from : "an unknown number", call_sid, escalation_phone);
}

const char *vt_conv_transfer_alert_key(apr_pool_t *p, const char *call_sid)
{
    return apr_pstrcat(p, "escalation_alert:", call_sid, NULL);
}

int vt_conv_dial_answered(const char *dial_status)
{
    return dial_status
           && (strcmp(dial_status, "completed") == 0 || strcmp(dial_status, "answered") == 0);
}
