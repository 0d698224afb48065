/* libFuzzer target for vt_llm's streamed answers: a model server's event stream is
 * untrusted. The input (after two bytes that choose the piece sizes) is fed whole and in
 * pieces: both must give the same sentences, error and reply, since a network can split
 * a body anywhere; every sentence must be clean spoken text and all of them within
 * VT_LLM_SPOKEN_MAX; the reply keeps vt_llm_response_parse's invariants; the sentence
 * splitter and the unspoken rest stay within their input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vt_llm.h"
#include "vt_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

typedef struct seen {
    apr_pool_t *p;
    const char *all;
    int n;
} seen_t;

static int on_sentence(void *baton, const char *s)
{
    seen_t *g = baton;
    size_t n = strlen(s);

    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || strstr(s, "  ") || strpbrk(s, "*_`#\t\r\n"))
        abort();
    if (strcmp(vt_llm_spoken(g->p, s, VT_LLM_SPOKEN_MAX), s) != 0)
        abort();
    g->all = apr_pstrcat(g->p, g->all, "|", s, NULL);
    g->n++;
    return 0;
}

typedef struct outcome {
    seen_t seen;
    int failed;
    apr_status_t rv;
    vt_llm_reply_t reply;
    const char *spoken;
    int nspoken;
} outcome_t;

static void run(apr_pool_t *p, const char *data, size_t size, size_t piece, size_t step,
                outcome_t *o)
{
    vt_llm_stream_t *st;
    const char *err;
    size_t i = 0, k;
    int rc = 0;

    memset(o, 0, sizeof *o);
    o->seen.p = p;
    o->seen.all = "";
    st = vt_llm_stream_create(p, on_sentence, &o->seen);
    while (i < size && rc == 0) {
        k = piece && piece < size - i ? piece : size - i;
        rc = vt_llm_stream_feed(st, data + i, k);
        i += k;
        piece = piece ? piece + step : 0;
    }
    if (rc == 0 && size == 0 && vt_llm_stream_feed(st, "", 0) != 0)
        abort();
    o->failed = vt_llm_stream_error(st) != NULL;
    if ((rc < 0) != o->failed || rc > 0)
        abort();
    o->rv = vt_llm_stream_finish(st, &o->reply, &err);
    if (o->rv != APR_SUCCESS && (!err || !*err))
        abort();
    o->nspoken = vt_llm_stream_sentences(st, &o->spoken);
    if (o->nspoken != o->seen.n || vt_utf8_chars(o->spoken) > VT_LLM_SPOKEN_MAX)
        abort();
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    outcome_t whole, pieces;
    const char *body, *rest;
    size_t n;

    if (size < 2)
        return 0;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    run(p, (const char *)data + 2, size - 2, 0, 0, &whole);
    run(p, (const char *)data + 2, size - 2, 1 + data[0] % 64, data[1] % 8, &pieces);
    if (whole.failed != pieces.failed || whole.rv != pieces.rv
        || strcmp(whole.seen.all, pieces.seen.all) != 0
        || !same(whole.reply.content, pieces.reply.content)
        || whole.reply.action != pieces.reply.action
        || !same(whole.reply.language, pieces.reply.language))
        abort();
    if (whole.rv == APR_SUCCESS && whole.reply.action == VT_LLM_ACT_SAY && !whole.reply.content)
        abort();
    /* What is left to say after the sentences is never longer than the reply. */
    if (whole.reply.content) {
        rest = vt_llm_unspoken(p, whole.reply.content, whole.spoken);
        if (!rest || strlen(rest) > strlen(whole.reply.content))
            abort();
    }
    /* The splitter on the raw bytes. */
    body = apr_pstrmemdup(p, (const char *)data + 2, size - 2);
    n = strlen(body);
    if (vt_llm_sentence_len(body, n, 0) > n || vt_llm_sentence_len(body, n, 1) > n)
        abort();
    if (n && strspn(body, " \t\r\n\f\v") < n && vt_llm_sentence_len(body, n, 1) == 0)
        abort();
    apr_pool_destroy(p);
    return 0;
}
