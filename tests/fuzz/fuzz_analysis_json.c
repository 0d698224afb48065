/* libFuzzer target for vt_analysis_parse (the model's post-call analysis answer, stored on
 * the call): arbitrary bytes either fail with an error or give an analysis within the
 * documented limits: a known sentiment, valid UTF-8 texts of bounded length, at most
 * VT_ANALYSIS_TODOS_MAX to-dos, and to-dos that serialize to a JSON array. The same bytes
 * as a caller's turn must not break the offline analysis either. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vt_analysis.h"
#include "vt_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static void check(const vt_analysis_t *a, size_t summary_max)
{
    int i;

    if (!a->summary || !a->sentiment || !a->todos || !a->source)
        abort();
    if (strcmp(a->sentiment, "positive") != 0 && strcmp(a->sentiment, "neutral") != 0
        && strcmp(a->sentiment, "negative") != 0)
        abort();
    if (vt_utf8_chars(a->summary) > summary_max || a->todos->nelts > VT_ANALYSIS_TODOS_MAX)
        abort();
    for (i = 0; i < a->todos->nelts; i++) {
        const char *t = APR_ARRAY_IDX(a->todos, i, const char *);
        if (!t || vt_utf8_chars(t) > VT_ANALYSIS_TODO_MAX)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vt_analysis_t a;
    const char *err = NULL, *text;
    const char *todos;
    vt_llm_turn_t turns[2];

    apr_pool_create(&p, NULL);
    text = apr_pstrmemdup(p, (const char *)data, size);
    memset(&a, 0, sizeof(a));
    if (vt_analysis_parse(p, text, &a, &err) == APR_SUCCESS) {
        check(&a, VT_ANALYSIS_SUMMARY_MAX);
        if (strcmp(a.source, "llm") != 0)
            abort();
        todos = vt_analysis_todos_json(p, &a);
        if (!todos || todos[0] != '[')
            abort();
    }
    else if (!err) {
        abort();
    }
    turns[0].role = "assistant";
    turns[0].text = "Hello, how can I help?";
    turns[1].role = "caller";
    turns[1].text = text;
    memset(&a, 0, sizeof(a));
    vt_analysis_offline(p, turns, 2, (int)(size & 1), &a);
    check(&a, VT_ANALYSIS_SUMMARY_MAX);
    apr_pool_destroy(p);
    return 0;
}
