/* libFuzzer target for vt_assistant (`assistant import` documents): parse arbitrary bytes;
 * a document that parses must match its own phrases, answer any utterance with a reply,
 * and survive to_json -> parse unchanged (to_json is a fixed point). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "vt_assistant.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static void check_answer(const vt_script_t *s, apr_pool_t *p, const char *utterance)
{
    vt_answer_t a;
    int m = vt_script_match(s, p, utterance, &a);

    if (a.reply == NULL || a.reply[0] == '\0' || (m != 0 && m != 1))
        abort();
    if (m == 0 && (a.intent != NULL || a.action != VT_ACTION_NONE || a.sms != NULL
                   || strcmp(a.reply, vt_script_fallback(s)) != 0))
        abort();
    if (m == 1 && a.intent == NULL)
        abort();
    if ((a.action == VT_ACTION_SMS) != (a.sms != NULL))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const utterances[] = {
        "", "hello", "what are your opening hours", "I want to speak to someone",
        "that's all, goodbye", "Book an APPOINTMENT, please!", "\xc3\xa9t\xc3\xa9 caf\xc3\xa9",
    };
    apr_pool_t *p;
    vt_script_t *s = NULL;
    const char *err = NULL;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    if (vt_script_parse(p, (const char *)data, size, &s, &err) != APR_SUCCESS) {
        if (s != NULL || err == NULL || err[0] == '\0')
            abort();
        apr_pool_destroy(p);
        return 0;
    }
    if (s == NULL || err != NULL)
        abort();
    if (vt_script_no_input_limit(s) < 1 || vt_script_no_input_limit(s) > 10
        || vt_script_no_match_limit(s) < 1 || vt_script_no_match_limit(s) > 10
        || vt_script_intent_count(s) > VT_SCRIPT_INTENTS_MAX)
        abort();
    for (size_t i = 0; i < sizeof utterances / sizeof utterances[0]; i++)
        check_answer(s, p, utterances[i]);
    /* The input itself as an utterance (NUL-terminated copy). */
    char *as_text = malloc(size + 1);
    if (!as_text)
        abort();
    memcpy(as_text, data, size);
    as_text[size] = '\0';
    check_answer(s, p, as_text);
    free(as_text);

    const char *j1 = vt_script_to_json(p, s);
    vt_script_t *t = NULL;
    if (vt_script_parse(p, j1, strlen(j1), &t, &err) != APR_SUCCESS)
        abort();
    if (strcmp(vt_script_to_json(p, t), j1) != 0
        || vt_script_intent_count(t) != vt_script_intent_count(s))
        abort();
    apr_pool_destroy(p);
    return 0;
}
