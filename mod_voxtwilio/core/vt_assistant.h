/* vt_assistant — the script assistant: a tenant's JSON script (docs/assistant-script.md)
 * and the offline, deterministic matching of a caller's utterance against its intents.
 *
 *   vt_script_t *s;  const char *err;  vt_answer_t a;
 *   if (vt_script_parse(p, json, len, &s, &err) != APR_SUCCESS)
 *       ... err names the field: "intents[2].phrases[0]: must be a non-empty string"
 *   s = vt_script_default(p);                     // tenant without a script
 *   if (vt_script_match(s, p, speech_result, &a)) ... a.intent matched
 *   else ... a.reply is the fallback, a.action VT_ACTION_NONE
 *
 * The document is untrusted (fuzzed): strict JSON, valid UTF-8, unknown fields rejected.
 * Matching lower-cases ASCII (other UTF-8 bytes are compared as they are), drops
 * apostrophes, treats other punctuation as spaces, and matches a phrase when all its words
 * occur in the utterance in order. The tenant's intents are tried before the built-in
 * ones ("human": escalate, "goodbye": hangup); among matches the phrase with the most
 * words wins, then the earlier intent. A script is immutable once built, so one may be
 * shared by threads.
 */
#ifndef VT_ASSISTANT_H
#define VT_ASSISTANT_H

#include <apr_pools.h>

#define VT_SCRIPT_TEXT_MAX 1000   /* characters (code points) in any string */
#define VT_SCRIPT_INTENTS_MAX 200
#define VT_SCRIPT_PHRASES_MAX 50  /* per intent */
#define VT_SCRIPT_LIMIT_MIN 1     /* no_input_limit, no_match_limit */
#define VT_SCRIPT_LIMIT_MAX 10

#define VT_SCRIPT_DEFAULT_FALLBACK "Sorry, I did not catch that. Could you say it another way?"
#define VT_SCRIPT_DEFAULT_REPROMPT "Are you still there? How can I help you?"
#define VT_SCRIPT_DEFAULT_GOODBYE "Thank you for calling. Goodbye!"
#define VT_SCRIPT_DEFAULT_ESCALATION "Let me connect you with a member of our team."
#define VT_SCRIPT_DEFAULT_FILLER "One moment, please."
#define VT_SCRIPT_DEFAULT_LIMIT 2

typedef enum {
    VT_ACTION_NONE = 0,
    VT_ACTION_ESCALATE,
    VT_ACTION_HANGUP,
    VT_ACTION_SMS
} vt_action_t;

typedef struct vt_script vt_script_t;

typedef struct vt_answer {
    const char *intent; /* name of the matched intent; NULL: no match (the fallback) */
    const char *reply;  /* what to say; never NULL */
    vt_action_t action;
    const char *sms;    /* text to text the caller when action is VT_ACTION_SMS, else NULL */
    int builtin;        /* 1 when a built-in intent ("human", "goodbye") matched */
} vt_answer_t;

/* Parses and validates json[0..len). Returns APR_SUCCESS with *script (allocated in p),
 * or APR_EINVAL with *err (in p) naming the offending field path, or the JSON syntax error
 * with its line, column and byte offset. */
apr_status_t vt_script_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             vt_script_t **script, const char **err);
/* No document: the built-in intents and the default texts and limits. */
vt_script_t *vt_script_default(apr_pool_t *p);
/* Matches an utterance (NULL or empty: no match). Fills *answer, allocated in p or
 * pointing into the script; returns 1 when an intent matched, else 0. */
int vt_script_match(const vt_script_t *script, apr_pool_t *p, const char *utterance,
                    vt_answer_t *answer);
/* The normalized document, pretty-printed, every field present with its effective value
 * (what `assistant import` stores and `assistant show` prints); parsing it gives back an
 * equivalent script. */
const char *vt_script_to_json(apr_pool_t *p, const vt_script_t *script);

/* Accessors. */
const char *vt_script_fallback(const vt_script_t *s);
const char *vt_script_reprompt(const vt_script_t *s);
const char *vt_script_goodbye(const vt_script_t *s);
const char *vt_script_escalation(const vt_script_t *s);
/* Said in stream mode while a reply is late (the voice pipeline's reply budget). */
const char *vt_script_filler(const vt_script_t *s);
int vt_script_no_input_limit(const vt_script_t *s);
int vt_script_no_match_limit(const vt_script_t *s);
int vt_script_intent_count(const vt_script_t *s); /* the tenant's, without the built-ins */
/* The tenant's intent i (0-based, < vt_script_intent_count) as if it had matched. */
void vt_script_intent_answer(const vt_script_t *s, int i, vt_answer_t *answer);
/* Its label in a spoken menu: its first phrase. */
const char *vt_script_intent_label(const vt_script_t *s, int i);
/* Every phrase a caller may say, the tenant's intents' first and then the built-ins', in
 * matching order (what the offline recognizer listens for). Returns the count; *out in p. */
int vt_script_phrases(const vt_script_t *s, apr_pool_t *p, const char *const **out);
/* The built-in "human" intent as if it had matched. */
void vt_script_human_answer(const vt_script_t *s, vt_answer_t *answer);

/* "none", "escalate", "hangup", "sms". */
const char *vt_action_name(vt_action_t action);

#endif
