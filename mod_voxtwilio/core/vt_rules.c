/* vt_rules — a tenant's rules document, what sets its rules off, and the consent keywords.
 * See vt_rules.h and docs/rules.md. */
#include <limits.h>
#include <regex.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "vt_rules.h"
#include "vt_util.h"

#define RULES_JSON_DEPTH 16 /* the document needs 5; room left so a misplaced member is named */
#define RULE_NAME_MAX 64
#define RULE_KEYWORDS_MAX 20
#define RULE_KEYWORD_MAX 64
#define RULE_REGEX_MAX 200
#define RULE_TAG_MAX 32
/* glibc copies the atom of a{n} n times, so nested bounds multiply: ((a{255}){255}){255}
 * takes seconds and gigabytes to compile, and matching slows with the copies (.{0,2000} takes
 * 2 s on a 1600-byte body). An expression may weigh this much (regex_check): ~10 ms. */
#define RULE_REGEX_WEIGHT_MAX 256

struct vt_rule {
    const char *name;
    vt_trigger_t trigger;
    int enabled, stop;
    const char **keywords;
    int nkeywords;
    regex_t *regex;
    int hours;    /* -1: no condition; 1: only within the business hours; 0: only outside */
    int customer; /* -1: any; 0: new; 1: known */
    vt_rule_action_t *actions;
    int nactions;
};

struct vt_rules {
    int has_hours;
    int open[7], close[7]; /* minutes of each day, Monday first; a closed day has 0, 0 */
    vt_rule_t *rules;
    int nrules;
};

static const char *const trigger_names[VT_TRIGGER_COUNT] = {
    "inbound_sms", "inbound_whatsapp", "missed_call", "call_completed", "call_escalated"
};
static const char *const action_names[] = { "auto_reply", "send_message", "notify", "tag" };
static const char *const day_names[7] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" };
static const char *const channel_names[] = { "sms", "whatsapp" };
static const char *const customer_names[] = { "new", "known" };

#define COUNT_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *vt_trigger_name(vt_trigger_t t)
{
    return (unsigned)t < VT_TRIGGER_COUNT ? trigger_names[t] : "unknown";
}

int vt_trigger_from_name(const char *name)
{
    int i;

    for (i = 0; name && i < VT_TRIGGER_COUNT; i++)
        if (strcmp(name, trigger_names[i]) == 0)
            return i;
    return -1;
}

static int message_trigger(vt_trigger_t t)
{
    return t == VT_TRIGGER_INBOUND_SMS || t == VT_TRIGGER_INBOUND_WHATSAPP;
}

/* ASCII only, whatever the process's locale. */
static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int ascii_alnum(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ascii_space(int c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* ------------------------------------------------------------------ members */

/* The path of a member: "rules[0].when" and "regex" give "rules[0].when.regex". */
static const char *member(apr_pool_t *p, const char *path, const char *key)
{
    key = vt_json_key_for_msg(p, key);
    return *path ? apr_pstrcat(p, path, ".", key, NULL) : key;
}

static const char *unknown(apr_pool_t *p, const char *at)
{
    return apr_psprintf(p, "%s: unknown member", at);
}

/* A string of min..max bytes without NUL; *out and *len (may be NULL) set. */
static const char *string_of(apr_pool_t *p, json_object *v, const char *at, int min, int max,
                             const char **out, int *len)
{
    int n;

    if (!json_object_is_type(v, json_type_string))
        return apr_psprintf(p, "%s: not a string", at);
    n = json_object_get_string_len(v);
    if (n < min || n > max)
        return apr_psprintf(p, "%s: not a string of %d to %d bytes (has %d)", at, min, max, n);
    if (memchr(json_object_get_string(v), '\0', (size_t)n))
        return apr_psprintf(p, "%s: contains a NUL character", at);
    *out = apr_pstrmemdup(p, json_object_get_string(v), (apr_size_t)n);
    if (len)
        *len = n;
    return NULL;
}

static const char *bool_of(apr_pool_t *p, json_object *v, const char *at, int *out)
{
    if (!json_object_is_type(v, json_type_boolean))
        return apr_psprintf(p, "%s: not a boolean", at);
    *out = json_object_get_boolean(v) ? 1 : 0;
    return NULL;
}

/* One of n names: *out its index. */
static const char *one_of(apr_pool_t *p, json_object *v, const char *at,
                          const char *const *names, int n, int *out)
{
    const char *list = "";
    int i;

    for (i = 0; i < n && json_object_is_type(v, json_type_string); i++)
        if (strcmp(json_object_get_string(v), names[i]) == 0) {
            *out = i;
            return NULL;
        }
    for (i = 0; i < n; i++)
        list = apr_pstrcat(p, list, i ? (i == n - 1 ? " or " : ", ") : "", names[i], NULL);
    return apr_psprintf(p, "%s: not %s%s", at, n > 2 ? "one of " : "", list);
}

/* ------------------------------------------------------------------ business hours */

/* "HH:MM" at s as minutes, or -1; 24:00 only when end. */
static int clock_of(const char *s, int end)
{
    int h, m;

    if (!apr_isdigit(s[0]) || !apr_isdigit(s[1]) || s[2] != ':' || !apr_isdigit(s[3])
        || !apr_isdigit(s[4]))
        return -1;
    h = (s[0] - '0') * 10 + s[1] - '0';
    m = (s[3] - '0') * 10 + s[4] - '0';
    if (m > 59 || h > 24 || (h == 24 && (!end || m != 0)))
        return -1;
    return h * 60 + m;
}

static const char *day_of(apr_pool_t *p, json_object *v, const char *at, int *open, int *close)
{
    const char *s;
    int from, to;

    if (json_object_is_type(v, json_type_null)) /* closed */
        return NULL;
    s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    if (json_object_get_string_len(v) != 11 || strlen(s) != 11 || s[5] != '-'
        || (from = clock_of(s, 0)) < 0 || (to = clock_of(s + 6, 1)) < 0 || from >= to)
        return apr_psprintf(p, "%s: not hours like \"09:00-17:00\" (from before to, 00:00 to "
                               "24:00) or null",
                            at);
    *open = from;
    *close = to;
    return NULL;
}

static const char *hours_of(apr_pool_t *p, json_object *v, vt_rules_t *doc)
{
    const char *err = NULL;
    int d;

    if (!json_object_is_type(v, json_type_object))
        return "business_hours: not an object";
    json_object_object_foreach(v, key, val) {
        const char *at = member(p, "business_hours", key);

        for (d = 0; d < 7 && strcmp(key, day_names[d]) != 0; d++)
            ;
        err = d < 7 ? day_of(p, val, at, &doc->open[d], &doc->close[d]) : unknown(p, at);
        if (err)
            return err;
    }
    return NULL;
}

/* ------------------------------------------------------------------ conditions */

static const char *keywords_of(apr_pool_t *p, json_object *v, const char *at, vt_rule_t *r)
{
    size_t n, i, k;

    if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) < 1
        || n > RULE_KEYWORDS_MAX)
        return apr_psprintf(p, "%s: not an array of 1 to %d keywords", at, RULE_KEYWORDS_MAX);
    r->keywords = apr_pcalloc(p, n * sizeof *r->keywords);
    for (i = 0; i < n; i++) {
        const char *ka = apr_psprintf(p, "%s[%" APR_SIZE_T_FMT "]", at, i), *err;

        err = string_of(p, json_object_array_get_idx(v, i), ka, 1, RULE_KEYWORD_MAX,
                        &r->keywords[i], NULL);
        if (err)
            return err;
        for (k = 0; ascii_space(r->keywords[i][k]); k++)
            ;
        if (!r->keywords[i][k])
            return apr_psprintf(p, "%s: blank", ka);
    }
    r->nkeywords = (int)n;
    return NULL;
}

/* The digits at s as a number (saturated past RULE_REGEX_WEIGHT_MAX), *j after them. */
static long digits_of(const char *s, int *j)
{
    long n = 0;

    for (; apr_isdigit(s[*j]); (*j)++)
        n = n > RULE_REGEX_WEIGHT_MAX ? n : n * 10 + s[*j] - '0';
    return n;
}

/* The bound at s ("{m}", "{m,}", "{m,n}", "{,n}" after the '{'): how many copies of its
 * atom glibc makes (m + 1 for {m,}, at least 1), *min (m) and *end after its '}'; 0 when
 * it is no bound. */
static long bound_of(const char *s, int *end, long *min)
{
    long m, n;
    int j = 0, k;

    m = digits_of(s, &j);
    n = m;
    if (s[j] == ',') {
        k = ++j;
        n = digits_of(s, &j);
        n = j == k ? m + 1 : n; /* {m,}: m copies and a star */
    }
    if (s[j] != '}' || j == 0)
        return 0;
    *end = j + 1;
    *min = m;
    n = n > m ? n : m;
    return n > 1 ? n : 1;
}

/* The length of the bracket expression at s (its '['): one atom, [:class:] & co inside. */
static int bracket_len(const char *s)
{
    int i = 1;

    i += s[i] == '^';
    i += s[i] == ']';
    while (s[i] && s[i] != ']') {
        if (s[i] == '[' && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
            const char *e = strchr(s + i + 2, s[i + 1]);

            while (e && e[1] != ']')
                e = strchr(e + 1, s[i + 1]);
            i = e ? (int)(e - s) + 2 : (int)strlen(s);
        }
        else {
            i++;
        }
    }
    return i + (s[i] == ']');
}

/* A level of parentheses as regex_check reads it. */
typedef struct re_level {
    long sum;   /* the weight of what it holds so far */
    int before; /* its branch so far, but for the last piece, can match the empty text */
    int empty;  /* one of its finished branches can */
} re_level_t;

/* The repetition at s applied to the last piece (weight *w, *null when it can match the
 * empty text): what it adds to the weight, and its length in s; 0 when s holds none. */
static int repetition_of(const char *s, long *w, int *null, long *add)
{
    long n, min;
    int end;

    if (*s == '*' || *s == '?') {
        *add = 1; /* a node on top of the piece, which a bound after it copies too */
        *w += 1;
        *null = 1;
        return 1;
    }
    if (*s == '+') {
        *add = *w + 1; /* a+ is aa*: glibc copies the piece */
        *w = 2 * *w + 1;
        return 1;
    }
    if (*s == '{' && (n = bound_of(s + 1, &end, &min)) > 0) {
        *add = *w * (n - 1);
        *w *= n;
        *null = *null || min == 0;
        return 1 + end;
    }
    return 0;
}

/* glibc's regcomp and regexec are slow on some expressions: ones whose repetitions, once
 * copied out, make a large tree (its weight: an atom weighs 1, a group what it holds, a{n}
 * n times a; over RULE_REGEX_WEIGHT_MAX), and ones that repeat what can match the empty
 * text, (a*)* or a**, whose compiling doubles with each. The error, or NULL. */
static const char *regex_check(apr_pool_t *p, const char *s, const char *at)
{
    re_level_t lv[RULE_REGEX_MAX + 2] = { { 0, 1, 0 } };
    long w = 0, add, total;
    int depth = 0, i = 0, d, len, null = 0, have = 0;

    while (s[i]) {
        char c = s[i];
        long w2 = w;
        int null2 = null;

        if (have && (len = repetition_of(s + i, &w2, &null2, &add)) > 0) {
            if (null)
                return apr_psprintf(p, "%s: repeats what can match the empty text (like (a*)* "
                                       "or a**): not allowed",
                                    at);
            w = w2;
            null = null2;
            i += len;
        }
        else {
            /* A new piece: the last one is part of its branch now. */
            lv[depth].before = lv[depth].before && (!have || null);
            have = c != '(' && c != '|';
            if (c == '(' && depth <= RULE_REGEX_MAX) {
                lv[++depth] = (re_level_t){ 0, 1, 0 };
                i++;
                continue;
            }
            if (c == '|') {
                lv[depth].empty |= lv[depth].before;
                lv[depth].before = 1;
                add = 1;
                i++;
            }
            else if (c == ')' && depth > 0) {
                lv[depth].empty |= lv[depth].before;
                add = w = lv[depth].sum + 1;
                null = lv[depth--].empty;
                i++;
            }
            else {
                add = w = 1;
                null = c == '^' || c == '$' || (c == '\\' && s[i + 1]
                                                && strchr("bB<>`'", s[i + 1]));
                i += c == '[' ? bracket_len(s + i) : c == '\\' && s[i + 1] ? 2 : 1;
            }
        }
        lv[depth].sum += add;
        for (total = 0, d = 0; d <= depth; d++)
            total += lv[d].sum;
        if (total > RULE_REGEX_WEIGHT_MAX || w > RULE_REGEX_WEIGHT_MAX)
            return apr_psprintf(p, "%s: too complex (more than %d parts once its repetitions "
                                   "are expanded)",
                                at, RULE_REGEX_WEIGHT_MAX);
    }
    return NULL;
}

static apr_status_t regex_cleanup(void *re)
{
    regfree(re);
    return APR_SUCCESS;
}

static const char *regex_of(apr_pool_t *p, json_object *v, const char *at, vt_rule_t *r)
{
    const char *src, *err;
    char msg[160];
    int len, i, rc;

    if ((err = string_of(p, v, at, 1, RULE_REGEX_MAX, &src, &len)))
        return err;
    /* Back-references make matching exponential; \\1 is a backslash and a 1, so skip pairs. */
    for (i = 0; i < len; i++)
        if (src[i] == '\\' && apr_isdigit(src[i + 1]))
            return apr_psprintf(p, "%s: back-references (\\%c) are not allowed", at, src[i + 1]);
        else if (src[i] == '\\' && src[i + 1])
            i++;
    if ((err = regex_check(p, src, at)))
        return err;
    r->regex = apr_pcalloc(p, sizeof *r->regex);
    if ((rc = regcomp(r->regex, src, REG_EXTENDED | REG_ICASE | REG_NOSUB)) != 0) {
        regerror(rc, r->regex, msg, sizeof msg);
        r->regex = NULL;
        return apr_psprintf(p, "%s: not a valid POSIX extended regular expression: %s", at, msg);
    }
    apr_pool_cleanup_register(p, r->regex, regex_cleanup, apr_pool_cleanup_null);
    return NULL;
}

static const char *when_of(apr_pool_t *p, json_object *v, const char *path,
                           const vt_rules_t *doc, vt_rule_t *r)
{
    const char *err = NULL;

    if (!json_object_is_type(v, json_type_object))
        return apr_psprintf(p, "%s: not an object", path);
    json_object_object_foreach(v, key, val) {
        const char *at = member(p, path, key);

        if (strcmp(key, "keywords") == 0)
            err = keywords_of(p, val, at, r);
        else if (strcmp(key, "regex") == 0)
            err = regex_of(p, val, at, r);
        else if (strcmp(key, "business_hours") == 0) {
            err = bool_of(p, val, at, &r->hours);
            if (!err && !doc->has_hours)
                err = apr_psprintf(p, "%s: the document has no business_hours", at);
        }
        else if (strcmp(key, "customer") == 0)
            err = one_of(p, val, at, customer_names, COUNT_OF(customer_names), &r->customer);
        else
            err = unknown(p, at);
        if (err)
            return err;
    }
    return NULL;
}

/* ------------------------------------------------------------------ actions */

/* 1..VT_RULE_BODY_MAX bytes whose every '{' begins a placeholder. */
static const char *body_of(apr_pool_t *p, json_object *v, const char *at, const char **out)
{
    static const char *const names[] = { "{from}", "{body}", "{company}" };
    const char *s, *err, *b;
    int i;

    if ((err = string_of(p, v, at, 1, VT_RULE_BODY_MAX, &s, NULL)))
        return err;
    for (b = strchr(s, '{'); b; b = strchr(b + 1, '{')) {
        for (i = 0; i < COUNT_OF(names) && strncmp(b, names[i], strlen(names[i])) != 0; i++)
            ;
        if (i == COUNT_OF(names))
            return apr_psprintf(p, "%s: the '{' at byte %d begins no placeholder ({from}, "
                                   "{body} or {company})",
                                at, (int)(b - s));
    }
    *out = s;
    return NULL;
}

/* "N" followed by s, m, h or d: from 1 s to VT_RULE_DELAY_MAX_S. */
static const char *delay_of(apr_pool_t *p, json_object *v, const char *at, long *out)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    long n = 0, unit;
    int i;

    for (i = 0; apr_isdigit(s[i]) && n <= VT_RULE_DELAY_MAX_S; i++)
        n = n * 10 + s[i] - '0';
    unit = s[i] == 's' ? 1 : s[i] == 'm' ? 60 : s[i] == 'h' ? 3600 : s[i] == 'd' ? 86400 : 0;
    if (i == 0 || !unit || s[i + 1] || (int)strlen(s) != json_object_get_string_len(v)
        || n <= 0 || n > VT_RULE_DELAY_MAX_S / unit)
        return apr_psprintf(p, "%s: not a duration like 30m, 24h or 2d (at most 30d)", at);
    *out = n * unit;
    return NULL;
}

static const char *tag_of(apr_pool_t *p, json_object *v, const char *at, const char **out)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    int n = json_object_is_type(v, json_type_string) ? json_object_get_string_len(v) : 0, i;

    for (i = 0; i < n && (ascii_alnum(s[i]) ? s[i] < 'A' || s[i] > 'Z'
                                            : i > 0 && (s[i] == '_' || s[i] == '-'));
         i++)
        ;
    if (n < 1 || n > RULE_TAG_MAX || i < n)
        return apr_psprintf(p, "%s: not a tag of 1 to %d of a-z, 0-9, _ and -, a letter or "
                               "digit first",
                            at, RULE_TAG_MAX);
    *out = apr_pstrmemdup(p, s, (apr_size_t)n);
    return NULL;
}

/* A member of an action, type given. */
static const char *action_member(apr_pool_t *p, const char *key, json_object *val,
                                 const char *at, vt_rule_action_t *a)
{
    int is_body = strcmp(key, "body") == 0, is_tag = strcmp(key, "tag") == 0, ch;
    int is_send = strcmp(key, "channel") == 0 || strcmp(key, "delay") == 0;
    const char *err;

    if (!is_body && !is_tag && !is_send)
        return unknown(p, at);
    if ((is_body && a->kind == VT_ACTION_TAG) || (is_tag && a->kind != VT_ACTION_TAG)
        || (is_send && a->kind != VT_ACTION_SEND_MESSAGE))
        return apr_psprintf(p, "%s: not allowed in a %s action", at, action_names[a->kind]);
    if (is_body)
        return body_of(p, val, at, &a->text);
    if (is_tag)
        return tag_of(p, val, at, &a->text);
    if (strcmp(key, "delay") == 0)
        return delay_of(p, val, at, &a->delay_s);
    if ((err = one_of(p, val, at, channel_names, COUNT_OF(channel_names), &ch)))
        return err;
    a->channel = channel_names[ch];
    return NULL;
}

static const char *action_of(apr_pool_t *p, json_object *v, const char *path,
                             vt_rule_action_t *a)
{
    json_object *type;
    const char *err;
    int kind;

    if (!json_object_is_type(v, json_type_object))
        return apr_psprintf(p, "%s: not an object", path);
    /* The type says which members the others may be, wherever it is. */
    if (!json_object_object_get_ex(v, "type", &type))
        return apr_psprintf(p, "%s.type: required", path);
    err = one_of(p, type, apr_pstrcat(p, path, ".type", NULL), action_names,
                 COUNT_OF(action_names), &kind);
    if (err)
        return err;
    a->kind = (vt_action_kind_t)kind;
    json_object_object_foreach(v, key, val) {
        if (strcmp(key, "type") != 0
            && (err = action_member(p, key, val, member(p, path, key), a)))
            return err;
    }
    if (!a->text)
        return apr_psprintf(p, "%s.%s: required", path, a->kind == VT_ACTION_TAG ? "tag"
                                                                                 : "body");
    return NULL;
}

static const char *actions_of(apr_pool_t *p, json_object *v, const char *at, vt_rule_t *r)
{
    size_t n, i;

    if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) < 1
        || n > VT_RULE_ACTIONS_MAX)
        return apr_psprintf(p, "%s: not an array of 1 to %d actions", at, VT_RULE_ACTIONS_MAX);
    r->actions = apr_pcalloc(p, n * sizeof *r->actions);
    for (i = 0; i < n; i++) {
        const char *err = action_of(p, json_object_array_get_idx(v, i),
                                    apr_psprintf(p, "%s[%" APR_SIZE_T_FMT "]", at, i),
                                    &r->actions[i]);
        if (err)
            return err;
    }
    r->nactions = (int)n;
    return NULL;
}

/* ------------------------------------------------------------------ rules */

static const char *name_of(apr_pool_t *p, json_object *v, const char *at, const char **out)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    int n = json_object_is_type(v, json_type_string) ? json_object_get_string_len(v) : 0, i;

    for (i = 0; i < n && (ascii_alnum(s[i]) || strchr(" _.-", s[i])) && s[i]; i++)
        ;
    if (n < 1 || n > RULE_NAME_MAX || i < n)
        return apr_psprintf(p, "%s: not a name of 1 to %d letters, digits, spaces, _ . or -",
                            at, RULE_NAME_MAX);
    *out = apr_pstrmemdup(p, s, (apr_size_t)n);
    return NULL;
}

static const char *rule_member(apr_pool_t *p, const char *key, json_object *val,
                               const char *at, const vt_rules_t *doc, vt_rule_t *r,
                               int *trigger)
{
    if (strcmp(key, "name") == 0)
        return name_of(p, val, at, &r->name);
    if (strcmp(key, "trigger") == 0)
        return one_of(p, val, at, trigger_names, VT_TRIGGER_COUNT, trigger);
    if (strcmp(key, "enabled") == 0)
        return bool_of(p, val, at, &r->enabled);
    if (strcmp(key, "stop") == 0)
        return bool_of(p, val, at, &r->stop);
    if (strcmp(key, "when") == 0)
        return when_of(p, val, at, doc, r);
    if (strcmp(key, "actions") == 0)
        return actions_of(p, val, at, r);
    return unknown(p, at);
}

static const char *rule_of(apr_pool_t *p, json_object *v, const char *path,
                           const vt_rules_t *doc, vt_rule_t *r)
{
    const char *err;
    int trigger = -1, i;

    if (!json_object_is_type(v, json_type_object))
        return apr_psprintf(p, "%s: not an object", path);
    r->enabled = 1;
    r->hours = r->customer = -1;
    json_object_object_foreach(v, key, val) {
        if ((err = rule_member(p, key, val, member(p, path, key), doc, r, &trigger)))
            return err;
    }
    if (!r->name)
        return apr_psprintf(p, "%s.name: required", path);
    if (trigger < 0)
        return apr_psprintf(p, "%s.trigger: required", path);
    if (!r->actions)
        return apr_psprintf(p, "%s.actions: required", path);
    r->trigger = (vt_trigger_t)trigger;
    /* An auto-reply is the answer to a message's webhook: a call has none to give. */
    for (i = 0; i < r->nactions; i++)
        if (r->actions[i].kind == VT_ACTION_AUTO_REPLY && !message_trigger(r->trigger))
            return apr_psprintf(p, "%s.actions[%d]: auto_reply is only for the inbound_sms and "
                                   "inbound_whatsapp triggers (this rule's is %s)",
                                path, i, trigger_names[trigger]);
    return NULL;
}

static const char *rules_of(apr_pool_t *p, json_object *v, vt_rules_t *doc)
{
    size_t n, i;
    int j;

    if (!json_object_is_type(v, json_type_array))
        return "rules: not an array";
    if ((n = json_object_array_length(v)) > VT_RULES_MAX)
        return apr_psprintf(p, "rules: at most %d rules (has %" APR_SIZE_T_FMT ")",
                            VT_RULES_MAX, n);
    doc->rules = apr_pcalloc(p, (n ? n : 1) * sizeof *doc->rules);
    for (i = 0; i < n; i++) {
        const char *path = apr_psprintf(p, "rules[%" APR_SIZE_T_FMT "]", i);
        const char *err = rule_of(p, json_object_array_get_idx(v, i), path, doc,
                                  &doc->rules[i]);
        if (err)
            return err;
        /* The runs log names rules, and a run is keyed by its rule's name. */
        for (j = 0; j < (int)i; j++)
            if (strcmp(doc->rules[j].name, doc->rules[i].name) == 0)
                return apr_psprintf(p, "%s.name: '%s' is already the name of rules[%d]", path,
                                    doc->rules[i].name, j);
    }
    doc->nrules = (int)n;
    return NULL;
}

static const char *document_of(apr_pool_t *p, json_object *v, vt_rules_t *doc)
{
    const char *err = NULL;
    int have_rules = 0;

    if (!json_object_is_type(v, json_type_object))
        return "top level: not a JSON object";
    /* Known before the rules, wherever it is: their conditions may need it. */
    doc->has_hours = json_object_object_get_ex(v, "business_hours", NULL);
    json_object_object_foreach(v, key, val) {
        if (strcmp(key, "business_hours") == 0)
            err = hours_of(p, val, doc);
        else if (strcmp(key, "rules") == 0) {
            err = rules_of(p, val, doc);
            have_rules = 1;
        }
        else
            err = unknown(p, member(p, "", key));
        if (err)
            return err;
    }
    return have_rules ? NULL : "rules: required";
}

/* ------------------------------------------------------------------ parsing */

vt_rules_t *vt_rules_parse(apr_pool_t *p, const char *json, size_t len, const char **err)
{
    const char *e = NULL;
    json_object *v = vt_json_document(p, json, len, VT_RULES_DOC_MAX, RULES_JSON_DEPTH,
                                      "top level: not a JSON object", &e);
    vt_rules_t *doc = NULL;

    if (v) {
        doc = apr_pcalloc(p, sizeof *doc);
        e = document_of(p, v, doc);
        json_object_put(v);
    }
    if (err)
        *err = e;
    return e ? NULL : doc;
}

/* ------------------------------------------------------------------ matching */

/* The keyword at body[i..i+klen), case-insensitive, bounded by the ends or non-alphanumerics. */
static int keyword_at(const char *body, size_t blen, size_t i, const char *kw, size_t klen)
{
    size_t k;

    for (k = 0; k < klen; k++)
        if (ascii_lower((unsigned char)body[i + k]) != ascii_lower((unsigned char)kw[k]))
            return 0;
    return (i == 0 || !ascii_alnum(body[i - 1])) && (i + klen == blen
                                                     || !ascii_alnum(body[i + klen]));
}

static int has_keyword(const char *body, size_t blen, const char *kw)
{
    size_t klen = strlen(kw), i;

    for (i = 0; klen <= blen && i <= blen - klen; i++)
        if (keyword_at(body, blen, i, kw, klen))
            return 1;
    return 0;
}

static int within_hours(const vt_rules_t *doc, const vt_rule_event_t *ev)
{
    int d = ev->weekday - 1;

    return d >= 0 && d < 7 && ev->minute >= doc->open[d] && ev->minute < doc->close[d];
}

static int rule_holds(const vt_rules_t *doc, const vt_rule_t *r, const vt_rule_event_t *ev,
                      const char *body)
{
    size_t blen = strlen(body);
    int i, any = r->nkeywords == 0;

    if (!r->enabled || r->trigger != ev->trigger)
        return 0;
    for (i = 0; i < r->nkeywords && !any; i++)
        any = has_keyword(body, blen, r->keywords[i]);
    if (!any)
        return 0;
    if (r->regex && regexec(r->regex, body, 0, NULL, 0) != 0)
        return 0;
    if (r->hours >= 0 && within_hours(doc, ev) != r->hours)
        return 0;
    return r->customer < 0 || r->customer == (ev->known_customer ? 1 : 0);
}

int vt_rules_match(const vt_rules_t *rules, const vt_rule_event_t *ev, const vt_rule_t **out,
                   int max)
{
    const char *body = ev->body ? ev->body : "";
    int i, n = 0;

    for (i = 0; rules && i < rules->nrules && n < max; i++) {
        const vt_rule_t *r = &rules->rules[i];

        if (!rule_holds(rules, r, ev, body))
            continue;
        out[n++] = r;
        if (r->stop)
            break;
    }
    return n;
}

const char *vt_rule_name(const vt_rule_t *rule)
{
    return rule->name;
}

const vt_rule_action_t *vt_rule_actions(const vt_rule_t *rule, int *n)
{
    if (n)
        *n = rule->nactions;
    return rule->actions;
}

int vt_rules_count(const vt_rules_t *rules)
{
    return rules ? rules->nrules : 0;
}

const char *vt_rule_expand(apr_pool_t *p, const char *text, const char *from,
                           const char *body, const char *company)
{
    const char *names[3] = { "{from}", "{body}", "{company}" };
    const char *values[3] = { from ? from : "", body ? body : "", company ? company : "" };
    const char *s, *b;
    char *out;
    int i;

    if (!text || !strchr(text, '{'))
        return text ? text : "";
    out = apr_pstrdup(p, "");
    for (s = text; (b = strchr(s, '{')) != NULL; s = b) {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, s, (apr_size_t)(b - s)), NULL);
        for (i = 0; i < 3 && strncmp(b, names[i], strlen(names[i])) != 0; i++)
            ;
        /* Any other '{' stays as it is (a body that passed vt_rules_parse has none). */
        out = apr_pstrcat(p, out, i < 3 ? values[i] : "{", NULL);
        b += i < 3 ? strlen(names[i]) : 1;
    }
    return apr_pstrcat(p, out, s, NULL);
}

/* ------------------------------------------------------------------ consent */

vt_consent_keyword_t vt_consent_keyword(const char *body, const char **word)
{
    static const struct {
        const char *word;
        vt_consent_keyword_t kind;
    } keywords[] = {
        { "STOP", VT_CONSENT_KEYWORD_OPT_OUT },   { "STOPALL", VT_CONSENT_KEYWORD_OPT_OUT },
        { "UNSUBSCRIBE", VT_CONSENT_KEYWORD_OPT_OUT }, { "CANCEL", VT_CONSENT_KEYWORD_OPT_OUT },
        { "END", VT_CONSENT_KEYWORD_OPT_OUT },    { "QUIT", VT_CONSENT_KEYWORD_OPT_OUT },
        { "START", VT_CONSENT_KEYWORD_OPT_IN },   { "UNSTOP", VT_CONSENT_KEYWORD_OPT_IN },
        { "YES", VT_CONSENT_KEYWORD_OPT_IN },
    };
    size_t n, k;
    int i;

    if (word)
        *word = NULL;
    if (!body)
        return VT_CONSENT_KEYWORD_NONE;
    while (ascii_space((unsigned char)*body))
        body++;
    n = strlen(body);
    while (n > 0 && (ascii_space((unsigned char)body[n - 1]) || strchr(".!?", body[n - 1])))
        n--;
    for (i = 0; i < COUNT_OF(keywords); i++) {
        if (strlen(keywords[i].word) != n)
            continue;
        for (k = 0; k < n && ascii_lower((unsigned char)body[k]) == ascii_lower(
                                 (unsigned char)keywords[i].word[k]); k++)
            ;
        if (k == n) {
            if (word)
                *word = keywords[i].word;
            return keywords[i].kind;
        }
    }
    return VT_CONSENT_KEYWORD_NONE;
}
