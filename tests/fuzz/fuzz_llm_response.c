/* libFuzzer target for vt_llm: a model server's answer is untrusted. Parse arbitrary bytes
 * as a Chat Completions response and check the reply's invariants; read them as an error
 * body; trim them (and the parsed content) to spoken text, which must be clean UTF-8 within
 * the limit, a prefix of the untrimmed text, and a fixed point; send them back as an
 * utterance, which must give a strictly valid JSON request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include "vt_llm.h"
#include "vt_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

/* Code points of s when it is valid UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF), else -1. */
static long utf8_chars(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    long n = 0;

    while (*u) {
        unsigned c = *u, v, min;
        int k;
        if (c < 0x80)
            k = 0, v = c, min = 0;
        else if (c >= 0xC2 && c <= 0xDF)
            k = 1, v = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, v = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, v = c & 0x07, min = 0x10000;
        else
            return -1;
        for (int i = 1; i <= k; i++) {
            if ((u[i] & 0xC0) != 0x80)
                return -1;
            v = (v << 6) | (u[i] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return -1;
        u += k + 1;
        n++;
    }
    return n;
}

static void check_printable(const char *s, size_t max)
{
    if (strlen(s) > max)
        abort();
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e)
            abort();
}

static void check_spoken(apr_pool_t *p, const char *text)
{
    static const apr_size_t limits[] = { 0, 1, 7, 40, VT_LLM_SPOKEN_MAX };
    const char *full = vt_llm_spoken(p, text, (apr_size_t)-1);

    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
        const char *s = vt_llm_spoken(p, text, limits[i]);
        size_t n = strlen(s);
        long chars = utf8_chars(s);
        if (chars < 0 || (apr_size_t)chars > limits[i])
            abort();
        if (strpbrk(s, "*_`#\t\r\n") || strstr(s, "  "))
            abort();
        if (n > 0 && (s[0] == ' ' || s[n - 1] == ' '))
            abort();
        for (const char *c = s; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                abort();
        if (strncmp(full, s, n) != 0)
            abort();
        if (strcmp(vt_llm_spoken(p, s, limits[i]), s) != 0)
            abort();
    }
}

static void check_reply(apr_pool_t *p, const vt_llm_reply_t *r)
{
    if ((unsigned)r->action > VT_LLM_ACT_LANGUAGE)
        abort();
    if (r->action == VT_LLM_ACT_SAY && r->content == NULL)
        abort();
    if (r->content) {
        size_t n = strlen(r->content);
        if (n == 0 || strchr(" \t\r\n", r->content[0]) || strchr(" \t\r\n", r->content[n - 1]))
            abort();
        check_spoken(p, r->content);
    }
    if ((r->action == VT_LLM_ACT_LANGUAGE) != (r->language != NULL))
        abort();
    if (r->language && !vt_language_valid(r->language))
        abort();
    if (r->finish_reason)
        check_printable(r->finish_reason, 35);
}

/* The text as a caller's utterance: the request must be strict, valid-UTF-8 JSON. */
static void check_request(apr_pool_t *p, const char *text)
{
    static const vt_llm_language_t langs[] = { { "en-US", "Polly.Joanna" },
                                               { "es-ES", "Polly.Lucia" } };
    vt_llm_phone_t ph = { "Acme", text, langs, 2, "en-US" };
    vt_llm_conf_t conf = { "http://127.0.0.1/v1", text, "sk-fuzz", 0.5, 100 };
    vt_llm_turn_t hist[] = { { "caller", text }, { "assistant", text } };
    int n;
    const vt_llm_msg_t *m = vt_llm_phone_messages(p, &ph, hist, 2, text, &n);
    const char *body = vt_llm_request_json(p, &conf, m, n, &ph, 0);
    json_tokener *tok = json_tokener_new();
    json_object *o;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    o = json_tokener_parse_ex(tok, body, (int)strlen(body) + 1);
    json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object))
        abort();
    /* The key never goes into the body (unless the fuzzer wrote it into the text). */
    if (strstr(body, "sk-fuzz") && !strstr(text, "sk-fuzz"))
        abort();
    json_object_put(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vt_llm_reply_t r;
    const char *err = NULL, *text, *et;
    apr_status_t rv;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    rv = vt_llm_response_parse(p, (const char *)data, size, &r, &err);
    if (rv == APR_SUCCESS) {
        if (err != NULL)
            abort();
        check_reply(p, &r);
    }
    else if (rv != APR_EINVAL || err == NULL || err[0] == '\0' || r.content || r.language
             || r.finish_reason || r.action != VT_LLM_ACT_SAY)
        abort();

    et = vt_llm_error_text(p, (const char *)data, size);
    if (et)
        check_printable(et, 103);

    text = apr_pstrmemdup(p, (const char *)data, size); /* up to the first NUL */
    check_spoken(p, text);
    check_request(p, text);
    if (vt_llm_base_url_valid(text) && strncasecmp(text, "http://", 7) != 0
        && strncasecmp(text, "https://", 8) != 0)
        abort();
    apr_pool_destroy(p);
    return 0;
}
