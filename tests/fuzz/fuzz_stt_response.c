/* libFuzzer target for vt_stt: a speech-to-text server's answer is untrusted. Parse
 * arbitrary bytes as a transcription response and check the reply's invariants: the text
 * is valid UTF-8 within VT_STT_TEXT_MAX bytes, without control characters, leading,
 * trailing or double spaces (the language only clean); the confidence is -1 or within 0..1; a failure has a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "vt_stt.h"
#include "vt_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

/* Valid UTF-8 without control characters, at most max bytes; trimmed: one clean line. */
static void check_line(const char *s, size_t max, int trimmed)
{
    size_t n = strlen(s), i = 0;

    if (n > max || (trimmed && ((n && (s[0] == ' ' || s[n - 1] == ' ')) || strstr(s, "  "))))
        abort();
    while (i < n) {
        apr_size_t k = vt_utf8_decode((const unsigned char *)s + i, n - i, NULL);
        if (k == 0 || (k == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)))
            abort();
        i += k;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vt_stt_reply_t r;
    const char *why = NULL;
    apr_status_t rv;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    rv = vt_stt_response_parse(p, (const char *)data, size, &r, &why);
    if (rv == APR_SUCCESS) {
        if (!r.text)
            abort();
        check_line(r.text, VT_STT_TEXT_MAX, 1);
        if (r.language)
            check_line(r.language, VT_STT_RESPONSE_MAX, 0); /* as the server names it */
        if (r.confidence != -1 && !(r.confidence >= 0 && r.confidence <= 1))
            abort();
    }
    else if (rv != APR_EINVAL || !why || !*why)
        abort();
    apr_pool_destroy(p);
    return 0;
}
