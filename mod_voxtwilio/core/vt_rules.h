/* vt_rules — a tenant's automations: the rules document (JSON, imported and exported with
 * `voxtwilio-admin rules`), checked whole before anything is stored, and which of its
 * rules an event sets off. Also the consent keywords of an inbound message (STOP, START).
 *
 * The document (docs/rules.md has examples):
 *
 *   {"business_hours": {"mon": "09:00-17:00", ..., "sun": null},   optional; a day absent
 *                                                                    or null is closed;
 *                                                                    "00:00-24:00" all day
 *    "rules": [                                                      required; at most
 *                                                                    VT_RULES_MAX
 *      {"name": "after-hours",             [A-Za-z0-9 _.-]{1,64}, unique in the document
 *       "trigger": "inbound_sms",          inbound_sms | inbound_whatsapp | missed_call |
 *                                          call_completed | call_escalated
 *       "enabled": true,                   optional, default true
 *       "when": {                          optional; every condition given must hold
 *         "keywords": ["price", "open"],   any of them in the body, case-insensitive, as
 *                                          whole words (a keyword may hold spaces); 1..20,
 *                                          each 1..64 bytes
 *         "regex": "^book",                POSIX extended, case-insensitive, on the body;
 *                                          1..200 bytes, no back-references, at most
 *                                          256 parts with its repetitions written out,
 *                                          nothing that can match "" repeated ((a*)*)
 *         "business_hours": false,         true: only within the hours; false: only outside
 *                                          (the document must have business_hours)
 *         "customer": "new"},              new | known
 *       "actions": [                       1..VT_RULE_ACTIONS_MAX, run in order
 *         {"type": "auto_reply", "body": "..."},        the answer's <Message>; inbound
 *                                                       message triggers only
 *         {"type": "send_message", "body": "...",       to the customer, through the outbox
 *          "channel": "sms", "delay": "24h"},           channel: sms | whatsapp, default the
 *                                                       trigger's (sms for call triggers);
 *                                                       delay: N followed by s, m, h or d,
 *                                                       at most 30d; default none
 *         {"type": "notify", "body": "..."},            an SMS to the tenant's notification
 *                                                       phone
 *         {"type": "tag", "tag": "lead"}],              [a-z0-9][a-z0-9_-]{0,31}, on the customer
 *       "stop": false}]}                   optional: true, no later rule runs after this one
 *                                          matched
 *
 * Every body is 1..1600 bytes (Twilio's limit) and may hold the placeholders {from} (the
 * customer's number), {body} (their message, empty for call triggers) and {company}; any
 * other '{' is an error. No other member is allowed anywhere: a typo is an error, never
 * silently ignored. An error names the member, JSON-path style:
 * "rules[2].actions[0].delay: not a duration like 30m, 24h or 2d (at most 30d)".
 */
#ifndef VT_RULES_H
#define VT_RULES_H

#include <apr_pools.h>

#define VT_RULES_MAX 100
#define VT_RULE_ACTIONS_MAX 10
#define VT_RULE_BODY_MAX 1600
#define VT_RULES_DOC_MAX (256 * 1024) /* bytes of JSON a document may have */
#define VT_RULE_DELAY_MAX_S (30L * 86400)

typedef enum {
    VT_TRIGGER_INBOUND_SMS = 0,
    VT_TRIGGER_INBOUND_WHATSAPP,
    VT_TRIGGER_MISSED_CALL,
    VT_TRIGGER_CALL_COMPLETED,
    VT_TRIGGER_CALL_ESCALATED,
    VT_TRIGGER_COUNT
} vt_trigger_t;

typedef enum {
    VT_ACTION_AUTO_REPLY = 0,
    VT_ACTION_SEND_MESSAGE,
    VT_ACTION_NOTIFY,
    VT_ACTION_TAG
} vt_action_kind_t;

typedef struct vt_rule_action {
    vt_action_kind_t kind;
    const char *text;    /* the body (placeholders unexpanded), or the tag */
    const char *channel; /* send_message: "sms" or "whatsapp"; NULL: the trigger's */
    long delay_s;        /* send_message: 0 = now */
} vt_rule_action_t;

typedef struct vt_rule vt_rule_t; /* opaque: conditions, compiled regex */
typedef struct vt_rules vt_rules_t;

/* The document's text (len bytes, not necessarily NUL-terminated) checked and compiled in
 * p (regexes are freed with p), or NULL with *err (in p) naming the member at fault. */
vt_rules_t *vt_rules_parse(apr_pool_t *p, const char *json, size_t len, const char **err);

/* The trigger's name ("inbound_sms"...) and back; -1 for an unknown name. */
const char *vt_trigger_name(vt_trigger_t t);
int vt_trigger_from_name(const char *name);

/* What an event is, for matching. */
typedef struct vt_rule_event {
    vt_trigger_t trigger;
    const char *body;   /* the message's text; NULL or "" for call triggers */
    int known_customer; /* 1: the customer was seen before this event */
    int weekday;        /* in the tenant's time zone: 1 Monday .. 7 Sunday (ISO) */
    int minute;         /* of that day, 0..1439 */
} vt_rule_event_t;

/* The enabled rules of the event's trigger that match it, in document order, up to and
 * including the first matching one with "stop"; at most max of them into out. Returns
 * how many. */
int vt_rules_match(const vt_rules_t *rules, const vt_rule_event_t *ev, const vt_rule_t **out,
                   int max);

/* A rule's name and its actions. */
const char *vt_rule_name(const vt_rule_t *rule);
const vt_rule_action_t *vt_rule_actions(const vt_rule_t *rule, int *n);

/* A body with its placeholders replaced (NULL values as ""), in p. */
const char *vt_rule_expand(apr_pool_t *p, const char *text, const char *from,
                           const char *body, const char *company);

/* How many rules the document has (enabled or not). */
int vt_rules_count(const vt_rules_t *rules);

/* Consent keywords, as carriers and Twilio's Advanced Opt-Out read them: the whole body,
 * trimmed of white space and trailing punctuation, case-insensitive. */
typedef enum {
    VT_CONSENT_KEYWORD_NONE = 0,
    VT_CONSENT_KEYWORD_OPT_OUT, /* STOP STOPALL UNSUBSCRIBE CANCEL END QUIT */
    VT_CONSENT_KEYWORD_OPT_IN   /* START UNSTOP YES */
} vt_consent_keyword_t;

/* The keyword of a body, and *word its canonical upper-case form (static) when there is
 * one. */
vt_consent_keyword_t vt_consent_keyword(const char *body, const char **word);

#endif
