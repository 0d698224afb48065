/* vt_signature — X-Twilio-Signature computation and verification.
 *
 * data = URL (byte-exact, as Twilio requested it)
 *        + for each POST parameter name in byte order, for each of its distinct
 *          values in byte order: name + value
 * signature = base64(HMAC-SHA1(auth_token, data))
 *
 * Verification accepts the URL as given, the URL with its port removed and the URL
 * with the scheme's default port added (Twilio is inconsistent about ports, and the
 * official SDKs accept all three), and for each of those the query with ' and %27
 * swapped. When the URL's query holds bodySHA256, the body is JSON: the signature
 * covers the URL alone and the body must hash (SHA-256, lower-case hex) to that value.
 * Comparison is constant-time. Query-string parameters are never merged into params.
 */
#ifndef VT_SIGNATURE_H
#define VT_SIGNATURE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vt_form.h"

/* 28-char base64 signature over url + sorted params (params may be NULL). */
const char *vt_signature_compute(apr_pool_t *p, const char *auth_token, const char *url,
                                 const apr_array_header_t *params);

/* The data string that is signed (exposed for tests and debugging; contains no secret). */
const char *vt_signature_data(apr_pool_t *p, const char *url, const apr_array_header_t *params);

typedef enum {
    VT_SIG_OK = 0,
    VT_SIG_MISSING,     /* no signature header */
    VT_SIG_MISMATCH,    /* no URL variant matched */
    VT_SIG_BODY_HASH    /* bodySHA256 present but the body does not hash to it */
} vt_sig_rc;

/* Verify header_sig for a request. params: the decoded form parameters (ignored for the
 * bodySHA256 variant); body/bodylen: the raw body (used only for bodySHA256). */
vt_sig_rc vt_signature_verify(apr_pool_t *p, const char *auth_token, const char *url,
                              const apr_array_header_t *params, const char *body,
                              apr_size_t bodylen, const char *header_sig);

/* The URL variants tried by vt_signature_verify, in order, without duplicates. */
apr_array_header_t *vt_signature_url_variants(apr_pool_t *p, const char *url);

/* Lower-case hex SHA-256 of buf. */
const char *vt_sha256_hex(apr_pool_t *p, const void *buf, apr_size_t len);

#endif
