/* libFuzzer target for rules documents (vt_rules): any text through vt_rules_parse, and
 * what parses through matching and expansion. A document accepted must keep its promises:
 * rules of 1..10 actions with bodies of 1..1600 bytes, auto_reply only under the message
 * triggers, a delay only on send_message; no more matches than rules. The input is also a
 * message body for the consent keywords. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vt_rules.h"

#define BODY_MAX 200 /* of the input used as a message: enough for keywords and regexes */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static void check_action(apr_pool_t *p, const vt_rule_action_t *a, vt_trigger_t t,
                         const char *body)
{
    size_t len;

    if (!a->text || (len = strlen(a->text)) < 1)
        abort();
    switch (a->kind) {
    case VT_ACTION_AUTO_REPLY:
        if (t != VT_TRIGGER_INBOUND_SMS && t != VT_TRIGGER_INBOUND_WHATSAPP)
            abort();
        /* fall through */
    case VT_ACTION_NOTIFY:
        if (a->channel || a->delay_s)
            abort();
        /* fall through */
    case VT_ACTION_SEND_MESSAGE:
        if (len > VT_RULE_BODY_MAX || a->delay_s < 0 || a->delay_s > VT_RULE_DELAY_MAX_S
            || (a->channel && strcmp(a->channel, "sms") && strcmp(a->channel, "whatsapp")))
            abort();
        if (!vt_rule_expand(p, a->text, "+14155550100", body, "Acme {body}"))
            abort();
        break;
    case VT_ACTION_TAG:
        if (len > 32 || a->channel || a->delay_s)
            abort();
        break;
    default:
        abort();
    }
}

static void check_match(apr_pool_t *p, const vt_rules_t *rules, const vt_rule_event_t *ev)
{
    const vt_rule_t *out[VT_RULES_MAX], *first[1];
    int n = vt_rules_match(rules, ev, out, VT_RULES_MAX), i, j, na;

    if (n < 0 || n > vt_rules_count(rules))
        abort();
    /* A smaller max gives the beginning of the same list. */
    if (vt_rules_match(rules, ev, first, 1) != (n > 0) || (n > 0 && first[0] != out[0]))
        abort();
    for (i = 0; i < n; i++) {
        const vt_rule_action_t *a = vt_rule_actions(out[i], &na);

        if (!vt_rule_name(out[i]) || !*vt_rule_name(out[i]) || na < 1
            || na > VT_RULE_ACTIONS_MAX)
            abort();
        for (j = 0; j < i; j++)
            if (out[j] == out[i])
                abort();
        for (j = 0; j < na; j++)
            check_action(p, &a[j], ev->trigger, ev->body);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    const char *err = NULL, *word = NULL, *text;
    vt_rules_t *rules;
    vt_consent_keyword_t kw;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    rules = vt_rules_parse(p, (const char *)data, size, &err);
    if (!rules != !!err || (err && !*err))
        abort();
    text = apr_pstrmemdup(p, (const char *)data, size); /* up to a NUL, as a message */
    if (rules) {
        if (vt_rules_count(rules) < 0 || vt_rules_count(rules) > VT_RULES_MAX)
            abort();
        for (int t = 0; t < VT_TRIGGER_COUNT; t++) {
            int message = t == VT_TRIGGER_INBOUND_SMS || t == VT_TRIGGER_INBOUND_WHATSAPP;
            vt_rule_event_t ev = { (vt_trigger_t)t,
                                   message ? apr_pstrndup(p, text, BODY_MAX) : NULL, t & 1,
                                   1 + (int)(size % 7), (int)(size * 37 % 1440) };

            check_match(p, rules, &ev);
            ev.known_customer = !ev.known_customer;
            ev.weekday = 1 + t;
            ev.minute = t ? 1439 : 0;
            ev.body = message ? "price quote STOP book" : "";
            check_match(p, rules, &ev);
        }
    }
    kw = vt_consent_keyword(text, &word);
    if ((kw == VT_CONSENT_KEYWORD_NONE) != (word == NULL))
        abort();
    if (vt_trigger_from_name(text) >= 0
        && strcmp(vt_trigger_name((vt_trigger_t)vt_trigger_from_name(text)), text) != 0)
        abort();
    apr_pool_destroy(p);
    return 0;
}
