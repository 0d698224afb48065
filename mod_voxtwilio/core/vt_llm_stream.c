/* vt_llm_stream — a Chat Completions answer streamed as Server-Sent Events, its sentences
 * handed over as they complete. See vt_llm.h ("streamed answers").
 *
 * The final reply is what vt_llm_response_parse makes of the whole answer the deltas add
 * up to (rebuilt as one chat.completion), so the tool-call and trimming rules exist once.
 * Buffers are malloc'd (they grow piece by piece; a pool would keep every old copy) and
 * freed with the pool.
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vt_llm.h"
#include "vt_util.h"

#define TOOL_SLOTS 8            /* tool calls of one answer kept; more are ignored */
#define JSON_DEPTH 32
#define LONG_MIN_CUT 40         /* a long sentence is not cut before this many bytes */

typedef struct buf {
    char *d;
    apr_size_t len, cap;
} buf_t;

typedef struct tool_slot {
    buf_t id, name, args;
    int used;
} tool_slot_t;

struct vt_llm_stream {
    apr_pool_t *p;
    vt_llm_sentence_fn *fn;
    void *baton;
    buf_t line, data;           /* the line being read; the event's data */
    int cr, has_data;           /* the last byte was CR (an LF after it ends nothing) */
    apr_size_t total;           /* bytes fed */
    buf_t content, finish, spoken;
    tool_slot_t tools[TOOL_SLOTS];
    int last_tool;              /* the slot the last index-less delta went to; -1 */
    apr_size_t said;            /* content handed over (or skipped) up to here */
    apr_size_t think_scan;      /* where to look on for </think> */
    int thought;                /* whether content opens with <think> is settled */
    int sentences, full, done, stopped;
    const char *error;
    apr_time_t first_token, first_sentence;
};

/* ------------------------------------------------------------------ buffers */

static apr_status_t stream_cleanup(void *data)
{
    vt_llm_stream_t *st = data;

    free(st->line.d);
    free(st->data.d);
    free(st->content.d);
    free(st->finish.d);
    free(st->spoken.d);
    for (int i = 0; i < TOOL_SLOTS; i++) {
        free(st->tools[i].id.d);
        free(st->tools[i].name.d);
        free(st->tools[i].args.d);
    }
    return APR_SUCCESS;
}

/* Appends (NUL-terminated after); -1 out of memory. Lengths are bounded by what was fed. */
static int buf_add(buf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = b->cap ? b->cap : 256;
        char *d;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(d = realloc(b->d, cap)))
            return -1;
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
    return 0;
}

static int fail(vt_llm_stream_t *st, const char *why)
{
    if (!st->error)
        st->error = why;
    return -1;
}

static int add(vt_llm_stream_t *st, buf_t *b, const char *s, apr_size_t n)
{
    return buf_add(b, s, n) == 0 ? 0 : fail(st, "out of memory");
}

vt_llm_stream_t *vt_llm_stream_create(apr_pool_t *p, vt_llm_sentence_fn *fn, void *baton)
{
    vt_llm_stream_t *st = apr_pcalloc(p, sizeof *st);

    st->p = p;
    st->fn = fn;
    st->baton = baton;
    st->last_tool = -1;
    apr_pool_cleanup_register(p, st, stream_cleanup, apr_pool_cleanup_null);
    return st;
}

/* ------------------------------------------------------------------ sentences */

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Words whose '.' ends no sentence. */
static const char *const abbreviations[] = {
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "sra", "jr", "vs", "e.g", "i.e", "a.m",
    "p.m", "approx", "ca", "z.b", "bzw", "mt", NULL
};

/* 1 when the '.' at s[i] ends a word that does not end a sentence: a single letter
 * ("J. Smith"), an abbreviation, or a number the sentence starts with ("1. Call us"). */
static int dot_continues(const char *s, apr_size_t start, apr_size_t i)
{
    apr_size_t w = i, n, k;
    int digits = 1;

    while (w > start && (is_alnum((unsigned char)s[w - 1]) || s[w - 1] == '.'))
        w--;
    if ((n = i - w) == 0)
        return 0;
    if (n == 1 && !(s[w] >= '0' && s[w] <= '9'))
        return 1;
    for (k = w; k < i; k++)
        digits &= s[k] >= '0' && s[k] <= '9';
    if (digits)
        return w == start;
    for (k = 0; abbreviations[k]; k++)
        if (strlen(abbreviations[k]) == n && strncasecmp(abbreviations[k], s + w, n) == 0)
            return 1;
    return 0;
}

/* A CJK full stop, exclamation or question mark (U+3002, U+FF01, U+FF1F) at s[i]. */
static int cjk_end(const unsigned char *s, apr_size_t i, apr_size_t len)
{
    if (i + 2 >= len)
        return 0;
    return (s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x82)
           || (s[i] == 0xEF && s[i + 1] == 0xBC && (s[i + 2] == 0x81 || s[i + 2] == 0x9F));
}

/* Where a sentence with no end yet, longer than VT_LLM_SENTENCE_LONG, is cut: after its
 * last comma (or ; :) in the first VT_LLM_SENTENCE_LONG bytes, else after a space; 0: no
 * place yet. */
static apr_size_t long_cut(const char *s, apr_size_t start, apr_size_t len)
{
    apr_size_t lim = start + VT_LLM_SENTENCE_LONG, i, comma = 0, space = 0;

    for (i = start + LONG_MIN_CUT; i < len; i++) {
        if (s[i] == ' ' && i > lim && !space)
            return i + 1;
        if (i > lim)
            continue;
        if ((s[i] == ',' || s[i] == ';' || s[i] == ':') && i + 1 < len && s[i + 1] == ' ')
            comma = i + 1;
        else if (s[i] == ' ')
            space = i + 1;
    }
    return comma ? comma : space;
}

apr_size_t vt_llm_sentence_len(const char *s, apr_size_t len, int at_end)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t start = 0, i, j;

    while (start < len && is_space(u[start]))
        start++;
    if (start == len)
        return 0;
    for (i = start; i < len; i++) {
        if (u[i] == '\n' && i + 1 < len && u[i + 1] == '\n')
            return i + 2;
        if (cjk_end(u, i, len))
            return i + 3;
        if (u[i] != '.' && u[i] != '!' && u[i] != '?')
            continue;
        for (j = i + 1; j < len && strchr(".!?\"')]", s[j]); j++)
            ;
        if (j == len && !at_end && u[j - 1] == '.' && i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
            return 0; /* "3." may become "3.5": wait for what follows */
        /* At the end of what came so far, a sentence ends too: the next token is not
         * waited for (the model may pause there). */
        if ((j == len || is_space(u[j])) && !(u[i] == '.' && dot_continues(s, start, i)))
            return j;
        i = j - 1;
    }
    if (len - start > VT_LLM_SENTENCE_LONG && (j = long_cut(s, start, len)) != 0)
        return j;
    return at_end ? len : 0;
}

const char *vt_llm_unspoken(apr_pool_t *p, const char *full, const char *spoken)
{
    const unsigned char *a = (const unsigned char *)(full ? full : "");
    const unsigned char *b = (const unsigned char *)(spoken ? spoken : "");
    const char *rest;
    apr_size_t n;

    for (;;) {
        while (is_space(*a))
            a++;
        while (is_space(*b))
            b++;
        if (!*b) {
            rest = (const char *)a;
            break;
        }
        if (!*a)
            return "";
        if (*a != *b) {
            rest = full;
            break;
        }
        a++, b++;
    }
    while (is_space((unsigned char)*rest))
        rest++;
    for (n = strlen(rest); n > 0 && is_space((unsigned char)rest[n - 1]); n--)
        ;
    return apr_pstrmemdup(p, rest, n);
}

/* Hands over one sentence s[0..n) as it is to be spoken. */
static void hand_over(vt_llm_stream_t *st, const char *s, apr_size_t n)
{
    const char *text = vt_llm_spoken(st->p, apr_pstrmemdup(st->p, s, n), VT_LLM_SPOKEN_MAX);
    apr_size_t chars = vt_utf8_chars(text);

    if (!*text)
        return;
    if (vt_utf8_chars(st->spoken.d ? st->spoken.d : "") + chars + 1 > VT_LLM_SPOKEN_MAX) {
        st->full = 1; /* the reply is trimmed there anyway */
        return;
    }
    if ((st->sentences && add(st, &st->spoken, " ", 1) != 0)
        || add(st, &st->spoken, text, strlen(text)) != 0)
        return;
    st->sentences++;
    if (!st->first_sentence)
        st->first_sentence = apr_time_now();
    if (st->fn && st->fn(st->baton, text) != 0)
        st->stopped = 1;
}

/* Whether the content opens with a <think> block is known (and the block skipped). */
static int think_settled(vt_llm_stream_t *st)
{
    const char *c = st->content.d;
    apr_size_t i = 0, n = st->content.len;

    while (i < n && is_space((unsigned char)c[i]))
        i++;
    if (n - i < 7 ? memcmp(c + i, "<think>", n - i) != 0 : memcmp(c + i, "<think>", 7) != 0) {
        st->thought = 1; /* no block */
        return 1;
    }
    if (n - i < 7)
        return 0; /* maybe the start of one */
    if (st->think_scan < i + 7)
        st->think_scan = i + 7;
    for (; st->think_scan + 8 <= n; st->think_scan++)
        if (memcmp(c + st->think_scan, "</think>", 8) == 0) {
            st->said = st->think_scan + 8;
            st->thought = 1;
            return 1;
        }
    return 0;
}

static void sentences(vt_llm_stream_t *st)
{
    apr_size_t k;

    if (!st->content.len || (!st->thought && !think_settled(st)))
        return;
    while (!st->full && !st->stopped && !st->error
           && (k = vt_llm_sentence_len(st->content.d + st->said, st->content.len - st->said,
                                       0)) != 0) {
        hand_over(st, st->content.d + st->said, k);
        st->said += k;
    }
}

/* ------------------------------------------------------------------ events */

static void token(vt_llm_stream_t *st)
{
    if (!st->first_token)
        st->first_token = apr_time_now();
}

static json_object *member(json_object *o, const char *key, json_type type)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, type) ? v : NULL;
}

/* The slot of a tool-call delta: its index, or (servers that send none) a new slot for a
 * new id, else the last one. -1: past TOOL_SLOTS. */
static int tool_slot(vt_llm_stream_t *st, json_object *call)
{
    json_object *ix = member(call, "index", json_type_int), *id = member(call, "id",
                                                                         json_type_string);
    int i;

    if (ix)
        i = json_object_get_int(ix);
    else if (st->last_tool < 0
             || (id && st->tools[st->last_tool].id.d
                 && strcmp(st->tools[st->last_tool].id.d, json_object_get_string(id)) != 0))
        i = st->last_tool + 1;
    else
        i = st->last_tool;
    if (i < 0 || i >= TOOL_SLOTS)
        return -1;
    st->last_tool = i;
    return i;
}

/* Keeps the first id and name of a call; arguments are concatenated. */
static int tool_delta(vt_llm_stream_t *st, json_object *call)
{
    json_object *id = member(call, "id", json_type_string);
    json_object *fn = member(call, "function", json_type_object), *name = NULL, *args = NULL;
    int i = tool_slot(st, call);
    tool_slot_t *t;
    const char *a;

    if (i < 0)
        return 0;
    t = &st->tools[i];
    t->used = 1;
    token(st);
    if (fn) {
        name = member(fn, "name", json_type_string);
        json_object_object_get_ex(fn, "arguments", &args);
    }
    if (id && !t->id.len && add(st, &t->id, json_object_get_string(id),
                                (apr_size_t)json_object_get_string_len(id)) != 0)
        return -1;
    if (name && !t->name.len && add(st, &t->name, json_object_get_string(name),
                                    (apr_size_t)json_object_get_string_len(name)) != 0)
        return -1;
    if (!args || json_object_is_type(args, json_type_null))
        return 0;
    /* Some servers send the arguments as an object, whole. */
    a = json_object_is_type(args, json_type_string)
            ? json_object_get_string(args)
            : json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
    return add(st, &t->args, a, strlen(a));
}

/* One chunk: choices[0].delta's content and tool calls, its finish_reason. */
static int chunk(vt_llm_stream_t *st, json_object *doc)
{
    json_object *choices, *choice, *delta, *v, *calls;
    size_t i, n;

    if (json_object_object_get_ex(doc, "error", &v) && !json_object_is_type(v, json_type_null)) {
        const char *t = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
        t = vt_llm_error_text(st->p, t, strlen(t));
        return fail(st, t ? apr_pstrcat(st->p, "the server reported an error: ", t, NULL)
                          : "the server reported an error");
    }
    /* A last chunk with only usage has no choices. */
    if (!(choices = member(doc, "choices", json_type_array))
        || json_object_array_length(choices) == 0
        || !(choice = json_object_array_get_idx(choices, 0))
        || !json_object_is_type(choice, json_type_object))
        return 0;
    if ((v = member(choice, "finish_reason", json_type_string))) {
        st->finish.len = 0;
        if (add(st, &st->finish, json_object_get_string(v),
                (apr_size_t)json_object_get_string_len(v)) != 0)
            return -1;
    }
    if (!(delta = member(choice, "delta", json_type_object)))
        return 0;
    if ((calls = member(delta, "tool_calls", json_type_array)))
        for (i = 0, n = json_object_array_length(calls); i < n; i++)
            if ((v = json_object_array_get_idx(calls, i))
                && json_object_is_type(v, json_type_object) && tool_delta(st, v) != 0)
                return -1;
    if ((v = member(delta, "content", json_type_string)) && json_object_get_string_len(v) > 0) {
        token(st);
        if (add(st, &st->content, json_object_get_string(v),
                (apr_size_t)json_object_get_string_len(v)) != 0)
            return -1;
        sentences(st);
    }
    return st->error ? -1 : 0;
}

/* A complete event: its data is [DONE] or one JSON chunk. */
static int dispatch(vt_llm_stream_t *st)
{
    json_tokener *tok;
    json_object *doc;
    int rc;

    st->has_data = 0;
    if (st->data.len == 6 && memcmp(st->data.d, "[DONE]", 6) == 0) {
        st->done = 1;
        return 0;
    }
    if (!(tok = json_tokener_new_ex(JSON_DEPTH)))
        return fail(st, "out of memory");
    doc = json_tokener_parse_ex(tok, st->data.d ? st->data.d : "", (int)st->data.len);
    if (doc && tok->char_offset != (int)st->data.len) {
        json_object_put(doc); /* a JSON value and then more */
        doc = NULL;
    }
    json_tokener_free(tok);
    st->data.len = 0;
    if (!doc || !json_object_is_type(doc, json_type_object)) {
        json_object_put(doc);
        return fail(st, "a stream event is not a JSON object");
    }
    rc = chunk(st, doc);
    json_object_put(doc);
    return rc;
}

/* A complete line: a blank one ends the event; "data:" adds to it; the rest is ignored. */
static int line_end(vt_llm_stream_t *st)
{
    const char *l = st->line.d ? st->line.d : "", *v;
    apr_size_t n = st->line.len;

    st->line.len = 0;
    if (n == 0)
        return st->has_data ? dispatch(st) : 0;
    if (n < 5 || memcmp(l, "data", 4) != 0 || (n > 4 && l[4] != ':'))
        return 0; /* a comment, or event:, id:, retry: */
    v = l + 5;
    if (*v == ' ')
        v++;
    if (st->has_data && add(st, &st->data, "\n", 1) != 0)
        return -1;
    st->has_data = 1;
    return add(st, &st->data, v, (apr_size_t)(l + n - v));
}

int vt_llm_stream_feed(vt_llm_stream_t *st, const char *data, apr_size_t len)
{
    apr_size_t i = 0, j;

    if (st->error)
        return -1;
    if (st->stopped)
        return 1;
    if (len > VT_LLM_RESPONSE_MAX - st->total)
        return fail(st, apr_psprintf(st->p, "the answer is larger than %d bytes",
                                     VT_LLM_RESPONSE_MAX));
    st->total += len;
    while (i < len && !st->done) {
        if (st->cr) {
            st->cr = 0;
            if (data[i] == '\n') { /* the LF of a CRLF split across pieces */
                i++;
                continue;
            }
        }
        for (j = i; j < len && data[j] != '\n' && data[j] != '\r'; j++)
            ;
        if (add(st, &st->line, data + i, j - i) != 0)
            return -1;
        if (j == len)
            break;
        st->cr = data[j] == '\r';
        if (line_end(st) != 0 || st->stopped)
            break;
        i = j + 1;
    }
    return st->error ? -1 : st->stopped ? 1 : 0;
}

const char *vt_llm_stream_error(const vt_llm_stream_t *st)
{
    return st->error;
}

/* ------------------------------------------------------------------ the end */

/* The whole answer the deltas add up to, as one chat.completion. */
static const char *whole_answer(vt_llm_stream_t *st)
{
    json_object *doc = json_object_new_object(), *choices = json_object_new_array();
    json_object *choice = json_object_new_object(), *msg = json_object_new_object();
    json_object *calls = NULL;
    const char *out;

    json_object_object_add(msg, "role", json_object_new_string("assistant"));
    json_object_object_add(msg, "content",
                           st->content.len ? json_object_new_string_len(st->content.d,
                                                                        (int)st->content.len)
                                           : NULL);
    for (int i = 0; i < TOOL_SLOTS; i++) {
        tool_slot_t *t = &st->tools[i];
        json_object *c, *fn;
        if (!t->used)
            continue;
        c = json_object_new_object();
        fn = json_object_new_object();
        json_object_object_add(fn, "name", json_object_new_string(t->name.d ? t->name.d : ""));
        json_object_object_add(fn, "arguments",
                               json_object_new_string(t->args.d ? t->args.d : ""));
        json_object_object_add(c, "id", json_object_new_string(t->id.d ? t->id.d : ""));
        json_object_object_add(c, "type", json_object_new_string("function"));
        json_object_object_add(c, "function", fn);
        if (!calls)
            calls = json_object_new_array();
        json_object_array_add(calls, c);
    }
    if (calls)
        json_object_object_add(msg, "tool_calls", calls);
    json_object_object_add(choice, "message", msg);
    if (st->finish.len)
        json_object_object_add(choice, "finish_reason", json_object_new_string(st->finish.d));
    json_object_array_add(choices, choice);
    json_object_object_add(doc, "choices", choices);
    out = apr_pstrdup(st->p, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
    json_object_put(doc);
    return out;
}

apr_status_t vt_llm_stream_finish(vt_llm_stream_t *st, vt_llm_reply_t *reply,
                                  const char **err)
{
    const char *body;

    memset(reply, 0, sizeof *reply);
    if (!st->error && !st->stopped && !st->done) {
        /* A body that ends without its last newline or blank line. */
        if (st->line.len)
            line_end(st);
        if (!st->error && st->has_data)
            dispatch(st);
    }
    if (st->error) {
        *err = st->error;
        return APR_EINVAL;
    }
    body = whole_answer(st);
    return vt_llm_response_parse(st->p, body, strlen(body), reply, err);
}

int vt_llm_stream_sentences(const vt_llm_stream_t *st, const char **spoken)
{
    if (spoken)
        *spoken = st->spoken.d ? apr_pstrdup(st->p, st->spoken.d) : "";
    return st->sentences;
}

apr_time_t vt_llm_stream_first_token(const vt_llm_stream_t *st)
{
    return st->first_token;
}

apr_time_t vt_llm_stream_first_sentence(const vt_llm_stream_t *st)
{
    return st->first_sentence;
}

int vt_llm_stream_done(const vt_llm_stream_t *st)
{
    return st->done;
}
