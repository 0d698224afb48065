/* vt_assistant — the script assistant. See vt_assistant.h and docs/assistant-script.md. */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vt_assistant.h"
#include "vt_util.h"

/* A phrase as written and as the word list it is matched by. */
typedef struct vt_phrase {
    const char *text;
    const char **words;
    int nwords;
} vt_phrase_t;

typedef struct vt_intent {
    const char *name;
    const char *reply;
    const char *sms;
    vt_action_t action;
    vt_phrase_t *phrases;
    int nphrases;
} vt_intent_t;

struct vt_script {
    const char *fallback, *reprompt, *goodbye, *escalation, *filler;
    int no_input_limit, no_match_limit;
    vt_intent_t *intents; /* the tenant's */
    int nintents;
    vt_intent_t builtins[2];
};

static const char *const action_names[] = { "none", "escalate", "hangup", "sms" };

static const char *const human_phrases[] = {
    "human", "agent", "representative", "operator", "real person", "speak to someone", NULL
};
static const char *const goodbye_phrases[] = {
    "goodbye", "bye", "that's all", "that is all", "nothing else", NULL
};

const char *vt_action_name(vt_action_t action)
{
    if ((unsigned)action < sizeof action_names / sizeof action_names[0])
        return action_names[action];
    return "none";
}

/* ------------------------------------------------------------------ words */

static int words_of(apr_pool_t *p, const char *s, apr_size_t len, const char ***out)
{
    return vt_words(p, s, len, 0, out);
}

/* All words of the phrase occur in the utterance in this order (others may come between). */
static int phrase_in(const vt_phrase_t *ph, const char *const *words, int nwords)
{
    int i, k = 0;
    for (i = 0; i < nwords && k < ph->nwords; i++)
        if (strcmp(words[i], ph->words[k]) == 0)
            k++;
    return k == ph->nwords;
}

/* The intent whose matching phrase has the most words (the earlier one on a tie). */
static const vt_intent_t *best_of(const vt_intent_t *intents, int n, const char *const *words,
                                  int nwords)
{
    const vt_intent_t *best = NULL;
    int best_len = 0, i, j;

    for (i = 0; i < n; i++)
        for (j = 0; j < intents[i].nphrases; j++) {
            const vt_phrase_t *ph = &intents[i].phrases[j];
            if (ph->nwords > best_len && phrase_in(ph, words, nwords)) {
                best = &intents[i];
                best_len = ph->nwords;
            }
        }
    return best;
}

static void answer_of(const vt_intent_t *in, int builtin, vt_answer_t *a)
{
    a->intent = in->name;
    a->reply = in->reply;
    a->action = in->action;
    a->sms = in->action == VT_ACTION_SMS ? in->sms : NULL;
    a->builtin = builtin;
}

int vt_script_match(const vt_script_t *s, apr_pool_t *p, const char *utterance,
                    vt_answer_t *a)
{
    const char **words;
    int nwords = utterance ? words_of(p, utterance, strlen(utterance), &words) : 0;
    const vt_intent_t *hit = NULL;
    int builtin = 0;

    memset(a, 0, sizeof *a);
    if (nwords > 0) {
        /* The tenant's intents win over the built-ins, whatever the phrase lengths. */
        hit = best_of(s->intents, s->nintents, words, nwords);
        if (!hit) {
            hit = best_of(s->builtins, 2, words, nwords);
            builtin = hit != NULL;
        }
    }
    if (!hit) {
        a->reply = s->fallback;
        a->action = VT_ACTION_NONE;
        return 0;
    }
    answer_of(hit, builtin, a);
    return 1;
}

void vt_script_intent_answer(const vt_script_t *s, int i, vt_answer_t *a)
{
    memset(a, 0, sizeof *a);
    answer_of(&s->intents[i], 0, a);
}

const char *vt_script_intent_label(const vt_script_t *s, int i)
{
    return s->intents[i].phrases[0].text;
}

int vt_script_phrases(const vt_script_t *s, apr_pool_t *p, const char *const **out)
{
    int n = s->builtins[0].nphrases + s->builtins[1].nphrases, k = 0;
    const char **all;

    for (int i = 0; i < s->nintents; i++)
        n += s->intents[i].nphrases;
    all = apr_palloc(p, sizeof(*all) * (size_t)(n ? n : 1));
    for (int i = 0; i < s->nintents + 2; i++) {
        const vt_intent_t *in = i < s->nintents ? &s->intents[i] : &s->builtins[i - s->nintents];
        for (int j = 0; j < in->nphrases; j++)
            all[k++] = in->phrases[j].text;
    }
    *out = all;
    return k;
}

void vt_script_human_answer(const vt_script_t *s, vt_answer_t *a)
{
    memset(a, 0, sizeof *a);
    answer_of(&s->builtins[0], 1, a);
}

/* ------------------------------------------------------------------ building */

static void builtin_make(apr_pool_t *p, vt_intent_t *in, const char *name, vt_action_t action,
                         const char *reply, const char *const *phrases)
{
    int n = 0, i;

    while (phrases[n])
        n++;
    in->name = name;
    in->reply = reply;
    in->action = action;
    in->sms = NULL;
    in->nphrases = n;
    in->phrases = apr_pcalloc(p, n * sizeof *in->phrases);
    for (i = 0; i < n; i++) {
        in->phrases[i].text = phrases[i];
        in->phrases[i].nwords = words_of(p, phrases[i], strlen(phrases[i]),
                                         &in->phrases[i].words);
    }
}

static void builtins_make(apr_pool_t *p, vt_script_t *s)
{
    builtin_make(p, &s->builtins[0], "human", VT_ACTION_ESCALATE, s->escalation, human_phrases);
    builtin_make(p, &s->builtins[1], "goodbye", VT_ACTION_HANGUP, s->goodbye, goodbye_phrases);
}

static vt_script_t *script_new(apr_pool_t *p)
{
    vt_script_t *s = apr_pcalloc(p, sizeof *s);
    s->fallback = VT_SCRIPT_DEFAULT_FALLBACK;
    s->reprompt = VT_SCRIPT_DEFAULT_REPROMPT;
    s->goodbye = VT_SCRIPT_DEFAULT_GOODBYE;
    s->escalation = VT_SCRIPT_DEFAULT_ESCALATION;
    s->filler = VT_SCRIPT_DEFAULT_FILLER;
    s->no_input_limit = VT_SCRIPT_DEFAULT_LIMIT;
    s->no_match_limit = VT_SCRIPT_DEFAULT_LIMIT;
    return s;
}

vt_script_t *vt_script_default(apr_pool_t *p)
{
    vt_script_t *s = script_new(p);
    builtins_make(p, s);
    return s;
}

/* ------------------------------------------------------------------ parsing */

/* Code points in valid UTF-8 s[0..len), or -1 when it is not valid UTF-8 (json-c turns a
 * bad \u escape into U+FFFD, but check rather than rely on it). */
static long utf8_chars(const unsigned char *s, apr_size_t len)
{
    apr_size_t i = 0, k;
    long n = 0;

    for (; i < len; i += k, n++) {
        if ((k = vt_utf8_decode(s + i, len - i, NULL)) == 0)
            return -1;
    }
    return n;
}

/* A required non-blank string of at most VT_SCRIPT_TEXT_MAX characters. Returns NULL with
 * *out set, or the error message (path: ...). */
static const char *text_of(apr_pool_t *p, json_object *v, const char *path, const char **out)
{
    const char *s;
    apr_size_t len, i;
    long chars;

    if (!v || !json_object_is_type(v, json_type_string))
        return apr_psprintf(p, "%s: must be a non-empty string", path);
    s = json_object_get_string(v);
    len = (apr_size_t)json_object_get_string_len(v);
    for (i = 0; i < len && strchr(" \t\r\n\f\v", s[i]) && s[i]; i++)
        ;
    if (i == len)
        return apr_psprintf(p, "%s: must be a non-empty string", path);
    if (memchr(s, '\0', len))
        return apr_psprintf(p, "%s: must not contain a NUL character", path);
    chars = utf8_chars((const unsigned char *)s, len);
    if (chars < 0)
        return apr_psprintf(p, "%s: must be valid UTF-8", path);
    if (chars > VT_SCRIPT_TEXT_MAX)
        return apr_psprintf(p, "%s: must be at most %d characters (has %ld)", path,
                            VT_SCRIPT_TEXT_MAX, chars);
    *out = apr_pstrmemdup(p, s, len);
    return NULL;
}

static const char *limit_of(apr_pool_t *p, json_object *v, const char *path, int *out)
{
    int64_t n;

    if (!json_object_is_type(v, json_type_int)
        || (n = json_object_get_int64(v)) < VT_SCRIPT_LIMIT_MIN || n > VT_SCRIPT_LIMIT_MAX)
        return apr_psprintf(p, "%s: must be an integer from %d to %d", path,
                            VT_SCRIPT_LIMIT_MIN, VT_SCRIPT_LIMIT_MAX);
    *out = (int)n;
    return NULL;
}

static const char *phrases_of(apr_pool_t *p, json_object *v, const char *path, vt_intent_t *in)
{
    size_t n, i;

    if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) == 0)
        return apr_psprintf(p, "%s: must be a non-empty array of strings", path);
    if (n > VT_SCRIPT_PHRASES_MAX)
        return apr_psprintf(p, "%s: at most %d phrases (has %" APR_SIZE_T_FMT ")", path,
                            VT_SCRIPT_PHRASES_MAX, n);
    in->nphrases = (int)n;
    in->phrases = apr_pcalloc(p, n * sizeof *in->phrases);
    for (i = 0; i < n; i++) {
        vt_phrase_t *ph = &in->phrases[i];
        const char *at = apr_psprintf(p, "%s[%" APR_SIZE_T_FMT "]", path, i);
        const char *err = text_of(p, json_object_array_get_idx(v, i), at, &ph->text);

        if (err)
            return err;
        ph->nwords = words_of(p, ph->text, strlen(ph->text), &ph->words);
        if (ph->nwords == 0)
            return apr_psprintf(p, "%s: must contain at least one word", at);
    }
    return NULL;
}

static const char *intent_of(apr_pool_t *p, json_object *v, const char *path, vt_intent_t *in)
{
    const char *err = NULL;
    int have_phrases = 0, i, action;

    if (!json_object_is_type(v, json_type_object))
        return apr_psprintf(p, "%s: must be an object", path);
    json_object_object_foreach(v, key, val) {
        const char *at = apr_pstrcat(p, path, ".", key, NULL);

        if (strcmp(key, "name") == 0)
            err = text_of(p, val, at, &in->name);
        else if (strcmp(key, "phrases") == 0) {
            err = phrases_of(p, val, at, in);
            have_phrases = 1;
        }
        else if (strcmp(key, "reply") == 0)
            err = text_of(p, val, at, &in->reply);
        else if (strcmp(key, "sms") == 0)
            err = text_of(p, val, at, &in->sms);
        else if (strcmp(key, "action") == 0) {
            action = -1;
            for (i = 0; i < 4 && json_object_is_type(val, json_type_string); i++)
                if (strcmp(json_object_get_string(val), action_names[i]) == 0)
                    action = i;
            if (action < 0)
                err = apr_psprintf(p, "%s: must be one of none, escalate, hangup, sms", at);
            else
                in->action = (vt_action_t)action;
        }
        else
            err = apr_psprintf(p, "%s: unknown field '%s'", path, vt_json_key_for_msg(p, key));
        if (err)
            return err;
    }
    if (!in->name)
        return apr_psprintf(p, "%s.name: required", path);
    if (!have_phrases)
        return apr_psprintf(p, "%s.phrases: required", path);
    if (!in->reply)
        return apr_psprintf(p, "%s.reply: required", path);
    if (in->action == VT_ACTION_SMS && !in->sms)
        return apr_psprintf(p, "%s.sms: required when action is sms", path);
    if (in->action != VT_ACTION_SMS && in->sms)
        return apr_psprintf(p, "%s.sms: only allowed when action is sms", path);
    return NULL;
}

static const char *intents_of(apr_pool_t *p, json_object *v, vt_script_t *s)
{
    size_t n, i;
    int j;

    if (!json_object_is_type(v, json_type_array))
        return "intents: must be an array";
    n = json_object_array_length(v);
    if (n > VT_SCRIPT_INTENTS_MAX)
        return apr_psprintf(p, "intents: at most %d intents (has %" APR_SIZE_T_FMT ")",
                            VT_SCRIPT_INTENTS_MAX, n);
    s->nintents = (int)n;
    s->intents = apr_pcalloc(p, (n ? n : 1) * sizeof *s->intents);
    for (i = 0; i < n; i++) {
        const char *path = apr_psprintf(p, "intents[%" APR_SIZE_T_FMT "]", i);
        const char *err = intent_of(p, json_object_array_get_idx(v, i), path, &s->intents[i]);

        if (err)
            return err;
        /* Names identify intents in the call log: keep them unique. */
        for (j = 0; j < (int)i; j++)
            if (strcmp(s->intents[j].name, s->intents[i].name) == 0)
                return apr_psprintf(p, "%s.name: '%s' is already the name of intents[%d]",
                                    path, vt_json_key_for_msg(p, s->intents[i].name), j);
    }
    return NULL;
}

static const char *script_of(apr_pool_t *p, json_object *doc, vt_script_t *s)
{
    const char *err = NULL;

    if (!json_object_is_type(doc, json_type_object))
        return "top level: must be a JSON object";
    json_object_object_foreach(doc, key, val) {
        if (strcmp(key, "fallback") == 0)
            err = text_of(p, val, key, &s->fallback);
        else if (strcmp(key, "reprompt") == 0)
            err = text_of(p, val, key, &s->reprompt);
        else if (strcmp(key, "goodbye") == 0)
            err = text_of(p, val, key, &s->goodbye);
        else if (strcmp(key, "escalation") == 0)
            err = text_of(p, val, key, &s->escalation);
        else if (strcmp(key, "filler") == 0)
            err = text_of(p, val, key, &s->filler);
        else if (strcmp(key, "no_input_limit") == 0)
            err = limit_of(p, val, key, &s->no_input_limit);
        else if (strcmp(key, "no_match_limit") == 0)
            err = limit_of(p, val, key, &s->no_match_limit);
        else if (strcmp(key, "intents") == 0)
            err = intents_of(p, val, s);
        else
            err = apr_psprintf(p, "unknown field '%s'", vt_json_key_for_msg(p, key));
        if (err)
            return err;
    }
    return NULL;
}

apr_status_t vt_script_parse(apr_pool_t *p, const char *json, apr_size_t len,
                             vt_script_t **script, const char **err)
{
    json_object *doc;
    const char *e;
    vt_script_t *s;

    *script = NULL;
    *err = NULL;
    /* The depth json-c allows by default: a script needs far less. */
    doc = vt_json_document(p, json, len, INT_MAX - 1, JSON_TOKENER_DEFAULT_DEPTH,
                           "top level: must be a JSON object", err);
    if (!doc) {
        return APR_EINVAL;
    }
    s = script_new(p);
    e = script_of(p, doc, s);
    json_object_put(doc);
    if (e) {
        *err = e;
        return APR_EINVAL;
    }
    builtins_make(p, s);
    *script = s;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ output */

static void put_str(json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, json_object_new_string(val));
}

const char *vt_script_to_json(apr_pool_t *p, const vt_script_t *s)
{
    json_object *doc = json_object_new_object();
    json_object *arr = json_object_new_array();
    char *out;
    int i, j;

    put_str(doc, "fallback", s->fallback);
    put_str(doc, "reprompt", s->reprompt);
    json_object_object_add(doc, "no_input_limit", json_object_new_int(s->no_input_limit));
    json_object_object_add(doc, "no_match_limit", json_object_new_int(s->no_match_limit));
    put_str(doc, "goodbye", s->goodbye);
    put_str(doc, "escalation", s->escalation);
    put_str(doc, "filler", s->filler);
    for (i = 0; i < s->nintents; i++) {
        const vt_intent_t *in = &s->intents[i];
        json_object *o = json_object_new_object();
        json_object *ph = json_object_new_array();

        put_str(o, "name", in->name);
        for (j = 0; j < in->nphrases; j++)
            json_object_array_add(ph, json_object_new_string(in->phrases[j].text));
        json_object_object_add(o, "phrases", ph);
        put_str(o, "reply", in->reply);
        put_str(o, "action", vt_action_name(in->action));
        if (in->action == VT_ACTION_SMS)
            put_str(o, "sms", in->sms);
        json_object_array_add(arr, o);
    }
    json_object_object_add(doc, "intents", arr);
    out = apr_pstrcat(p,
                      json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY
                                                              | JSON_C_TO_STRING_SPACED
                                                              | JSON_C_TO_STRING_NOSLASHESCAPE),
                      "\n", NULL);
    json_object_put(doc);
    if (s->nintents == 0) { /* json-c writes an empty array over two lines */
        static const char two_lines[] = "[\n  ]\n}\n";
        size_t n = strlen(out), k = sizeof two_lines - 1;
        if (n >= k && strcmp(out + n - k, two_lines) == 0)
            strcpy(out + n - k, "[]\n}\n");
    }
    return out;
}

/* ------------------------------------------------------------------ accessors */

const char *vt_script_fallback(const vt_script_t *s)
{
    return s->fallback;
}

const char *vt_script_reprompt(const vt_script_t *s)
{
    return s->reprompt;
}

const char *vt_script_goodbye(const vt_script_t *s)
{
    return s->goodbye;
}

const char *vt_script_escalation(const vt_script_t *s)
{
    return s->escalation;
}

const char *vt_script_filler(const vt_script_t *s)
{
    return s->filler;
}

int vt_script_no_input_limit(const vt_script_t *s)
{
    return s->no_input_limit;
}

int vt_script_no_match_limit(const vt_script_t *s)
{
    return s->no_match_limit;
}

int vt_script_intent_count(const vt_script_t *s)
{
    return s->nintents;
}
