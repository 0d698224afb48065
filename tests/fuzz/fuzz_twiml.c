/* libFuzzer target for vt_twiml_doc: the simulator's TwiML reader and URL resolution.
 *
 * Input: byte 0 picks the document kind, the Content-Type and chunked flag; the rest is the
 * body. Whatever is accepted must be a well-formed tree, and writing that tree back out as
 * XML and reading it again must give the same tree (names, attributes, text, nesting).
 * The body's first line is also resolved as a URL reference against a fixed base and
 * against itself: the result is absolute and resolving it again changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vt_twiml_doc.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

/* XML escaping that also keeps white space characters in attributes (an attribute's raw
 * tab or newline would be normalized to a space when read back). */
static void put_escaped(apr_array_header_t *out, const char *s)
{
    for (; *s; s++) {
        const char *e = NULL;
        switch (*s) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        case '\t': e = "&#9;"; break;
        case '\n': e = "&#10;"; break;
        case '\r': e = "&#13;"; break;
        }
        if (e)
            APR_ARRAY_PUSH(out, const char *) = e;
        else
            APR_ARRAY_PUSH(out, const char *) = apr_pstrndup(out->pool, s, 1);
    }
}

/* Verbs are written with their text first, then their children: a verb's own text is
 * what the reader collected before and between children, so it reads back the same.
 * <Say> keeps its SSML children's text in its own, so it is written as text only. */
static void put_verb(apr_array_header_t *out, const vt_twiml_verb_t *v, int in_say)
{
    int say = in_say || strcmp(v->name, "Say") == 0;

    APR_ARRAY_PUSH(out, const char *) = "<";
    APR_ARRAY_PUSH(out, const char *) = v->name;
    for (int i = 0; i < v->attrs->nelts; i++) {
        const vt_twiml_attr_t *a = &APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t);
        APR_ARRAY_PUSH(out, const char *) = " ";
        APR_ARRAY_PUSH(out, const char *) = a->name;
        APR_ARRAY_PUSH(out, const char *) = "=\"";
        put_escaped(out, a->value);
        APR_ARRAY_PUSH(out, const char *) = "\"";
    }
    APR_ARRAY_PUSH(out, const char *) = ">";
    put_escaped(out, v->text);
    if (!say)
        for (int i = 0; i < v->children->nelts; i++)
            put_verb(out, APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *), 0);
    APR_ARRAY_PUSH(out, const char *) = "</";
    APR_ARRAY_PUSH(out, const char *) = v->name;
    APR_ARRAY_PUSH(out, const char *) = ">";
}

static void check_tree(const vt_twiml_verb_t *v, int depth)
{
    if (depth > 16 || !v || !v->name || !v->name[0] || !v->text || !v->attrs || !v->children)
        abort();
    /* text is trimmed */
    size_t n = strlen(v->text);
    if (n && (strchr(" \t\r\n", v->text[0]) || strchr(" \t\r\n", v->text[n - 1])))
        abort();
    for (int i = 0; i < v->attrs->nelts; i++) {
        const vt_twiml_attr_t *a = &APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t);
        if (!a->name || !a->value || vt_twiml_verb_attr(v, a->name) == NULL)
            abort();
    }
    for (int i = 0; i < v->children->nelts; i++)
        check_tree(APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *), depth + 1);
}

/* Attribute names that do not survive being written back, so such trees skip the round
 * trip: two with the same local name ("a" and "x:a" lose their prefixes and clash), names
 * with a ':' left after apr_xml took the prefix off (":a" reads back as "a"), and names
 * starting with a non-ASCII character (":\xcc\x9a" arrives as U+031A, which may follow but
 * not start a name; the reader takes every non-ASCII byte as a name character). */
static int dup_attrs(const vt_twiml_verb_t *v, int in_say)
{
    int say = in_say || strcmp(v->name, "Say") == 0;

    for (int i = 0; i < v->attrs->nelts; i++) {
        const char *name = APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t).name;
        if (strchr(name, ':') || (unsigned char)name[0] >= 0x80)
            return 1;
    }
    for (int i = 0; i < v->attrs->nelts; i++)
        for (int j = i + 1; j < v->attrs->nelts; j++)
            if (strcmp(APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t).name,
                       APR_ARRAY_IDX(v->attrs, j, vt_twiml_attr_t).name) == 0)
                return 1;
    for (int i = 0; !say && i < v->children->nelts; i++)
        if (dup_attrs(APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *), 0))
            return 1;
    return 0;
}

/* Same tree, except under <Say> only the text counts (see put_verb). */
static void same_verb(const vt_twiml_verb_t *a, const vt_twiml_verb_t *b, int in_say)
{
    int say = in_say || strcmp(a->name, "Say") == 0;

    if (strcmp(a->name, b->name) != 0 || strcmp(a->text, b->text) != 0
        || a->attrs->nelts != b->attrs->nelts)
        abort();
    for (int i = 0; i < a->attrs->nelts; i++) {
        const vt_twiml_attr_t *x = &APR_ARRAY_IDX(a->attrs, i, vt_twiml_attr_t);
        const vt_twiml_attr_t *y = &APR_ARRAY_IDX(b->attrs, i, vt_twiml_attr_t);
        if (strcmp(x->name, y->name) != 0 || strcmp(x->value, y->value) != 0)
            abort();
    }
    if (say)
        return;
    if (a->children->nelts != b->children->nelts)
        abort();
    for (int i = 0; i < a->children->nelts; i++)
        same_verb(APR_ARRAY_IDX(a->children, i, vt_twiml_verb_t *),
                  APR_ARRAY_IDX(b->children, i, vt_twiml_verb_t *), 0);
}

static void check_resolve(apr_pool_t *p, const char *ref)
{
    static const char *const bases[] = { "http://127.0.0.1:8080/voice/inbound",
                                         "https://h/a/b/c?q=1#f", "http://h" };

    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        char *r = vt_twiml_doc_resolve(p, bases[i], ref);
        if (!r || !strchr(r, ':'))
            abort();
        /* absolute now: resolving it again, against anything, gives it back */
        char *again = vt_twiml_doc_resolve(p, bases[i], r);
        if (!again || strcmp(again, r) != 0)
            abort();
        if (strcmp(vt_twiml_doc_resolve(p, r, ""), apr_pstrndup(p, r, strcspn(r, "#"))) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = { "text/xml", "application/xml; charset=utf-8",
                                         "text/html", NULL };
    apr_pool_t *p;
    apr_array_header_t *verbs = NULL, *again = NULL;
    const char *err = NULL;

    if (size < 1)
        return 0;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    uint8_t sel = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    vt_twiml_kind_t kind = (sel & 1) ? VT_TWIML_MESSAGING : VT_TWIML_VOICE;
    const char *ct = types[(sel >> 1) & 3];
    int chunked = (sel & 0x30) == 0x30;

    vt_twiml_doc_rc rc = vt_twiml_doc_parse(p, kind, ct, chunked, body, len, &verbs, &err);
    if (rc == VT_TWIML_DOC_OK) {
        if (!verbs || err || !ct || chunked || len > VT_TWIML_DOC_MAX)
            abort();
        apr_array_header_t *out = apr_array_make(p, 64, sizeof(const char *));
        int dups = 0;
        APR_ARRAY_PUSH(out, const char *) = "<Response>";
        for (int i = 0; i < verbs->nelts; i++) {
            check_tree(APR_ARRAY_IDX(verbs, i, vt_twiml_verb_t *), 1);
            dups |= dup_attrs(APR_ARRAY_IDX(verbs, i, vt_twiml_verb_t *), 0);
            put_verb(out, APR_ARRAY_IDX(verbs, i, vt_twiml_verb_t *), 0);
        }
        APR_ARRAY_PUSH(out, const char *) = "</Response>";
        const char *doc = apr_array_pstrcat(p, out, 0);
        /* the rewrite can be larger than 64 KB (escapes); that is no finding */
        if (!dups && strlen(doc) <= VT_TWIML_DOC_MAX) {
            if (vt_twiml_doc_parse(p, kind, "text/xml", 0, doc, strlen(doc), &again, &err)
                != VT_TWIML_DOC_OK)
                abort();
            if (again->nelts != verbs->nelts)
                abort();
            for (int i = 0; i < verbs->nelts; i++)
                same_verb(APR_ARRAY_IDX(verbs, i, vt_twiml_verb_t *),
                          APR_ARRAY_IDX(again, i, vt_twiml_verb_t *), 0);
        }
    }
    else {
        if (verbs || !err || strncmp(err, "Twilio error ", 13) != 0
            || strcmp(vt_twiml_doc_strerror(rc), "unknown error") == 0)
            abort();
    }

    /* the first line as a URL reference (no NUL inside: it is a C string) */
    size_t n = 0;
    while (n < len && n < 512 && body[n] != '\n' && body[n] != '\0')
        n++;
    check_resolve(p, apr_pstrndup(p, body, n));

    apr_pool_destroy(p);
    return 0;
}
