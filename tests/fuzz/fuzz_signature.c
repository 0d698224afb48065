/* libFuzzer target for vt_signature (and the URL helpers it shares with vt_util).
 *
 * Input: token NUL url NUL body (missing parts are empty). Checks that URL variants are
 * well-formed, that verification accepts the signature we compute ourselves (over every
 * variant, and in the bodySHA256 mode), and rejects a tampered one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_general.h>
#include <apr_strings.h>
#include "vt_form.h"
#include "vt_signature.h"
#include "vt_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static void vt_fuzz_check_variants(apr_pool_t *p, const char *url)
{
    apr_array_header_t *v = vt_signature_url_variants(p, url);
    if (v == NULL || v->nelts < 1 || v->nelts > 9)
        abort();
    if (strcmp(APR_ARRAY_IDX(v, 0, const char *), url) != 0)
        abort();
    for (int i = 0; i < v->nelts; i++) {
        const char *a = APR_ARRAY_IDX(v, i, const char *);
        if (a == NULL)
            abort();
        for (int j = i + 1; j < v->nelts; j++) {
            if (strcmp(a, APR_ARRAY_IDX(v, j, const char *)) == 0)
                abort();
        }
    }
}

static void vt_fuzz_check_base_url(apr_pool_t *p, const char *url)
{
    const char *err = NULL;
    const char *n = vt_base_url_normalize(p, url, &err);
    if (n == NULL) {
        if (err == NULL)
            abort();
        return;
    }
    apr_size_t len = strlen(n);
    if (err != NULL || strchr(n, '?') || strchr(n, '#') || (len > 0 && n[len - 1] == '/'))
        abort();
    if (strncmp(n, "http://", 7) != 0 && strncmp(n, "https://", 8) != 0)
        abort();
    /* Normalizing is idempotent. */
    const char *n2 = vt_base_url_normalize(p, n, &err);
    if (n2 == NULL || strcmp(n, n2) != 0)
        abort();
}

static void vt_fuzz_check_util(apr_pool_t *p, const char *s)
{
    unsigned char *bin;
    apr_size_t binlen;
    if (vt_hex_decode(p, s, &bin, &binlen) == 0) {
        const char *hex = vt_hex_encode(p, bin, binlen);
        if (strlen(hex) != strlen(s) || strcasecmp(hex, s) != 0)
            abort();
    }
    (void)vt_e164_valid(s);
    (void)vt_sid_valid(s, "CA");
    (void)vt_sid_valid(s, NULL);
    (void)vt_slug_valid(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();

    /* Split at the first two NUL bytes. */
    const char *in = (const char *)data;
    const char *nul1 = memchr(in, '\0', size);
    const char *token = apr_pstrmemdup(p, in, nul1 ? (apr_size_t)(nul1 - in) : size);
    const char *url = "";
    const char *body = "";
    apr_size_t bodylen = 0;
    if (nul1) {
        const char *u = nul1 + 1;
        apr_size_t rest = size - (apr_size_t)(u - in);
        const char *nul2 = memchr(u, '\0', rest);
        url = apr_pstrmemdup(p, u, nul2 ? (apr_size_t)(nul2 - u) : rest);
        if (nul2) {
            bodylen = rest - (apr_size_t)(nul2 + 1 - u);
            /* An exact-size copy, not NUL-terminated, so overreads are caught. */
            char *b = apr_palloc(p, bodylen ? bodylen : 1);
            memcpy(b, nul2 + 1, bodylen);
            body = b;
        }
    }

    vt_fuzz_check_variants(p, url);
    vt_fuzz_check_base_url(p, url);
    vt_fuzz_check_util(p, url);

    apr_array_header_t *params = NULL;
    if (vt_form_parse(p, body, bodylen, 64, &params) != VT_FORM_OK)
        params = NULL;

    const char *sig = vt_signature_compute(p, token, url, params);
    if (token[0] == '\0') {
        if (sig != NULL)
            abort();
        if (vt_signature_verify(p, token, url, params, body, bodylen, "x") != VT_SIG_MISMATCH)
            abort();
        apr_pool_destroy(p);
        return 0;
    }
    if (sig == NULL || strlen(sig) != 28)
        abort();
    if (vt_signature_verify(p, token, url, params, body, bodylen, "") != VT_SIG_MISSING ||
        vt_signature_verify(p, token, url, params, body, bodylen, NULL) != VT_SIG_MISSING)
        abort();

    /* Our own signature verifies. The exception: a URL carrying bodySHA256 switches to the
     * JSON mode, where only the URL is signed; then the URL-only signature must pass. */
    vt_sig_rc rc = vt_signature_verify(p, token, url, params, body, bodylen, sig);
    if (rc != VT_SIG_OK) {
        const char *url_sig = vt_signature_compute(p, token, url, NULL);
        vt_sig_rc rc2 = vt_signature_verify(p, token, url, params, body, bodylen, url_sig);
        if (rc2 != VT_SIG_OK && rc2 != VT_SIG_BODY_HASH)
            abort();
        if (!strstr(url, "bodySHA256") && !strchr(url, '%'))
            abort();
    }

    /* A signature over any variant verifies against the URL as received. */
    int plain = !strstr(url, "bodySHA256") && !strchr(url, '%');
    apr_array_header_t *v = vt_signature_url_variants(p, url);
    for (int i = 0; plain && i < v->nelts; i++) {
        const char *vs = vt_signature_compute(p, token, APR_ARRAY_IDX(v, i, const char *), params);
        if (vt_signature_verify(p, token, url, params, body, bodylen, vs) != VT_SIG_OK)
            abort();
    }

    /* A tampered signature never verifies. */
    char *bad = apr_pstrdup(p, sig);
    bad[0] = bad[0] == 'A' ? 'B' : 'A';
    if (vt_signature_verify(p, token, url, params, body, bodylen, bad) == VT_SIG_OK)
        abort();

    /* JSON mode: append bodySHA256 of the body, sign the URL alone. */
    if (plain && !strchr(url, '#')) {
        const char *hash = vt_sha256_hex(p, body, bodylen);
        const char *jurl = apr_pstrcat(p, url, strchr(url, '?') ? "&" : "?", "bodySHA256=", hash,
                                       NULL);
        const char *jsig = vt_signature_compute(p, token, jurl, NULL);
        if (vt_signature_verify(p, token, jurl, params, body, bodylen, jsig) != VT_SIG_OK)
            abort();
        char *longer = apr_palloc(p, bodylen + 1);
        memcpy(longer, body, bodylen);
        longer[bodylen] = 'x';
        if (vt_signature_verify(p, token, jurl, params, longer, bodylen + 1, jsig) !=
            VT_SIG_BODY_HASH)
            abort();
    }

    apr_pool_destroy(p);
    return 0;
}
