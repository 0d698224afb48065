/* Unit tests for vt_signature.
 *
 * Published vectors come from the official SDK test suites:
 *   twilio-node   spec/validation.spec.js, spec/unit/webhooks/webhooks.spec.js
 *   twilio-python tests/unit/test_request_validator.py
 * The remaining fixed signatures were computed independently (Python hmac/hashlib) with
 * the reference algorithm.
 */
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_signature.h"
#include "vt_form.h"

#define TOKEN "12345"
#define REQ_URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define JSON_BODY "{\"property\": \"value\", \"boolean\": true}"
#define JSON_HASH "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
#define EMPTY_JSON_HASH "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define DEFAULT_SIG "RSOYDt4T1cUTdK1PDd93/VVr8B8="

enum params_kind {
    P_NONE,    /* no parameters (JSON / GET) */
    P_DEFAULT, /* the SDK suites' default POST parameters */
    P_DUP,     /* Sid, SidAccount, Digits x3 (repeated names and values) */
    P_ARRAY,   /* MessagingBinding.Address = [+1325xxxxxxx, +1415xxxxxxx] */
    P_ARRAY_REV
};

static apr_array_header_t *make_params(enum params_kind kind)
{
    apr_array_header_t *a = apr_array_make(vt_test_pool, 8, sizeof(vt_param_t));
    switch (kind) {
    case P_NONE:
        break;
    case P_DEFAULT:
        /* Not in sorted order on purpose. */
        vt_params_add(a, "To", "+18005551212");
        vt_params_add(a, "CallSid", "CA1234567890ABCDE");
        vt_params_add(a, "Digits", "1234");
        vt_params_add(a, "From", "+14158675309");
        vt_params_add(a, "Caller", "+14158675309");
        break;
    case P_DUP:
        vt_params_add(a, "Sid", "CA123");
        vt_params_add(a, "SidAccount", "AC123");
        vt_params_add(a, "Digits", "5678");
        vt_params_add(a, "Digits", "1234");
        vt_params_add(a, "Digits", "1234");
        break;
    case P_ARRAY:
        vt_params_add(a, "MessagingBinding.Address", "+1325xxxxxxx");
        vt_params_add(a, "MessagingBinding.Address", "+1415xxxxxxx");
        break;
    case P_ARRAY_REV:
        vt_params_add(a, "MessagingBinding.Address", "+1415xxxxxxx");
        vt_params_add(a, "MessagingBinding.Address", "+1325xxxxxxx");
        break;
    }
    return a;
}

/* ---------------------------------------------------------------- exact signatures */

static const struct {
    const char *token, *url;
    enum params_kind params;
    const char *sig;
} compute_vectors[] = {
    /* node + python: default signature, :443, :80, :1234 */
    {TOKEN, REQ_URL, P_DEFAULT, DEFAULT_SIG},
    {TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", P_DEFAULT,
     "kvajT1Ptam85bY51eRf/AJRuM3w="},
    {TOKEN, "http://mycompany.com:80/myapp.php?foo=1&bar=2", P_DEFAULT,
     "0ZXoZLH/DfblKGATFgpif+LLRf4="},
    {TOKEN, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", P_DEFAULT,
     "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
    /* node + python: repeated names and values */
    {TOKEN, REQ_URL, P_DUP, "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
    /* node: array parameter, either order */
    {TOKEN, REQ_URL, P_ARRAY, "83O6e2vORAoJHUNzJjDWN1jz+BA="},
    {TOKEN, REQ_URL, P_ARRAY_REV, "83O6e2vORAoJHUNzJjDWN1jz+BA="},
    /* node: URLs with credentials */
    {TOKEN, "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", P_DEFAULT,
     "CukzLTc1tT5dXEDIHm/tKBanW10="},
    {TOKEN, "https://user@mycompany.com/myapp.php?foo=1&bar=2", P_DEFAULT,
     "2YRLlVAflCqxaNicjMpJcSTgzSs="},
    {TOKEN, "https://user:pass@mycompany.com:443/myapp.php?foo=1&bar=2", P_DEFAULT,
     "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI="},
    /* node: special characters in the query */
    {TOKEN, REQ_URL "&Body=It's+amazing", P_DEFAULT, "dsq4Ehbj6cs+KdTkpF5sSSplOWw="},
    /* node + python: bodySHA256 (URL only) */
    {TOKEN, REQ_URL "&bodySHA256=" JSON_HASH, P_NONE, "a9nBmqA0ju/hNViExpshrM61xv4="},
    {TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256=" EMPTY_JSON_HASH,
     P_NONE, "Ldidvp12m26NI7eqEvxnEpkd9Hc="},
    {TOKEN, "https://mycompany.com/myapp.php?bodySHA256=" JSON_HASH, P_NONE,
     "y77kIzt2vzLz71DgmJGsen2scGs="},
};

START_TEST(test_compute_vectors)
{
    const char *sig = vt_signature_compute(vt_test_pool, compute_vectors[_i].token,
                                           compute_vectors[_i].url,
                                           make_params(compute_vectors[_i].params));
    ck_assert_ptr_nonnull(sig);
    ck_assert_uint_eq(strlen(sig), 28);
    ck_assert_str_eq(sig, compute_vectors[_i].sig);
}
END_TEST

/* ---------------------------------------------------------------- verification */

static const struct {
    const char *name;
    const char *url; /* as received */
    enum params_kind params;
    const char *body; /* raw body for bodySHA256, or NULL */
    const char *sig;
    vt_sig_rc want;
} verify_vectors[] = {
    /* twilio-node spec/validation.spec.js "Request validation" */
    {"correct signature", REQ_URL, P_DEFAULT, NULL, DEFAULT_SIG, VT_SIG_OK},
    {"wrong signature", REQ_URL, P_DEFAULT, NULL, "WRONG_SIGNATURE", VT_SIG_MISMATCH},
    {"request body when given", REQ_URL "&bodySHA256=" JSON_HASH, P_NONE, JSON_BODY,
     "a9nBmqA0ju/hNViExpshrM61xv4=", VT_SIG_OK},
    {"request body when empty", REQ_URL "&bodySHA256=" EMPTY_JSON_HASH, P_NONE, "{}",
     "Ldidvp12m26NI7eqEvxnEpkd9Hc=", VT_SIG_OK},
    {"request body with only sha param", "https://mycompany.com/myapp.php?bodySHA256=" JSON_HASH,
     P_NONE, JSON_BODY, "y77kIzt2vzLz71DgmJGsen2scGs=", VT_SIG_OK},
    {"body but no bodySHA256 param", REQ_URL, P_NONE, JSON_BODY, DEFAULT_SIG, VT_SIG_MISMATCH},
    {"https port stripped", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", P_DEFAULT, NULL,
     DEFAULT_SIG, VT_SIG_OK},
    {"http with port", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", P_DEFAULT, NULL,
     "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", VT_SIG_OK},
    {"https adds 443", REQ_URL, P_DEFAULT, NULL, "kvajT1Ptam85bY51eRf/AJRuM3w=", VT_SIG_OK},
    {"http adds 80", "http://mycompany.com/myapp.php?foo=1&bar=2", P_DEFAULT, NULL,
     "0ZXoZLH/DfblKGATFgpif+LLRf4=", VT_SIG_OK},
    {"credentials", "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2", P_DEFAULT, NULL,
     "CukzLTc1tT5dXEDIHm/tKBanW10=", VT_SIG_OK},
    {"just username", "https://user@mycompany.com/myapp.php?foo=1&bar=2", P_DEFAULT, NULL,
     "2YRLlVAflCqxaNicjMpJcSTgzSs=", VT_SIG_OK},
    {"credentials adding port", "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
     P_DEFAULT, NULL, "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=", VT_SIG_OK},
    {"special characters", REQ_URL "&Body=It's+amazing", P_DEFAULT, NULL,
     "dsq4Ehbj6cs+KdTkpF5sSSplOWw=", VT_SIG_OK},
    {"array parameter", REQ_URL, P_ARRAY, NULL, "83O6e2vORAoJHUNzJjDWN1jz+BA=", VT_SIG_OK},
    {"array parameter, other order", REQ_URL, P_ARRAY_REV, NULL, "83O6e2vORAoJHUNzJjDWN1jz+BA=",
     VT_SIG_OK},
    {"multiple params and values", REQ_URL, P_DUP, NULL, "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
     VT_SIG_OK},
    /* twilio-node spec/validation.spec.js "Request validation middleware" */
    {"middleware: unexpected query param", REQ_URL "&somethingUnexpected=true", P_DEFAULT, NULL,
     DEFAULT_SIG, VT_SIG_MISMATCH},
    {"middleware: wrong body hash", REQ_URL "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b28"
                                    "3a80c7cf19632632f96e662",
     P_NONE, JSON_BODY, "a9nBmqA0ju/hNViExpshrM61xv4=", VT_SIG_MISMATCH},
    /* twilio-python tests/unit/test_request_validator.py (not already above) */
    {"python: removes port on https", "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
     P_DEFAULT, NULL, DEFAULT_SIG, VT_SIG_OK},
    {"python: body succeeds", REQ_URL "&bodySHA256=" JSON_HASH, P_NONE, JSON_BODY,
     "a9nBmqA0ju/hNViExpshrM61xv4=", VT_SIG_OK},
    /* ' <-> %27: the published signature over the raw ' validates the %27 form */
    {"special characters, %27 received", REQ_URL "&Body=It%27s+amazing", P_DEFAULT, NULL,
     "dsq4Ehbj6cs+KdTkpF5sSSplOWw=", VT_SIG_OK},
    {"special characters, %27 received, :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2"
                                               "&Body=It%27s+amazing",
     P_DEFAULT, NULL, "dsq4Ehbj6cs+KdTkpF5sSSplOWw=", VT_SIG_OK},
    /* bodySHA256 vector at the other port forms */
    {"body vector, :443 received", "https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256="
                                   JSON_HASH,
     P_NONE, JSON_BODY, "a9nBmqA0ju/hNViExpshrM61xv4=", VT_SIG_OK},
    {"body vector, params ignored", REQ_URL "&bodySHA256=" JSON_HASH, P_DEFAULT, JSON_BODY,
     "a9nBmqA0ju/hNViExpshrM61xv4=", VT_SIG_OK},
    {"body vector, tampered body", REQ_URL "&bodySHA256=" JSON_HASH, P_NONE,
     "{\"property\": \"value\", \"boolean\": false}", "a9nBmqA0ju/hNViExpshrM61xv4=",
     VT_SIG_BODY_HASH},
    {"body vector, body with trailing newline", REQ_URL "&bodySHA256=" JSON_HASH, P_NONE,
     JSON_BODY "\n", "a9nBmqA0ju/hNViExpshrM61xv4=", VT_SIG_BODY_HASH},
    {"body vector, wrong signature", REQ_URL "&bodySHA256=" JSON_HASH, P_NONE, JSON_BODY,
     DEFAULT_SIG, VT_SIG_MISMATCH},
    /* Negative cases on the published vectors */
    {"lower-cased signature", REQ_URL, P_DEFAULT, NULL, "rsoydt4t1cutdk1pdd93/vvr8b8=",
     VT_SIG_MISMATCH},
    {"signature with trailing space", REQ_URL, P_DEFAULT, NULL, DEFAULT_SIG " ",
     VT_SIG_MISMATCH},
    {"truncated signature", REQ_URL, P_DEFAULT, NULL, "RSOYDt4T1cUTdK1PDd93/VVr8B8",
     VT_SIG_MISMATCH},
    {"other path", "https://mycompany.com/myapp.php2?foo=1&bar=2", P_DEFAULT, NULL, DEFAULT_SIG,
     VT_SIG_MISMATCH},
    {"other host", "https://mycompany.org/myapp.php?foo=1&bar=2", P_DEFAULT, NULL, DEFAULT_SIG,
     VT_SIG_MISMATCH},
    {"http instead of https", "http://mycompany.com/myapp.php?foo=1&bar=2", P_DEFAULT, NULL,
     DEFAULT_SIG, VT_SIG_MISMATCH},
    {"query reordered", "https://mycompany.com/myapp.php?bar=2&foo=1", P_DEFAULT, NULL,
     DEFAULT_SIG, VT_SIG_MISMATCH},
    {"trailing &", REQ_URL "&", P_DEFAULT, NULL, DEFAULT_SIG, VT_SIG_MISMATCH},
    {"no params", REQ_URL, P_NONE, NULL, DEFAULT_SIG, VT_SIG_MISMATCH},
    {"missing signature", REQ_URL, P_DEFAULT, NULL, NULL, VT_SIG_MISSING},
    {"empty signature", REQ_URL, P_DEFAULT, NULL, "", VT_SIG_MISSING},
};

START_TEST(test_verify_vectors)
{
    const char *body = verify_vectors[_i].body;
    vt_sig_rc rc = vt_signature_verify(vt_test_pool, TOKEN, verify_vectors[_i].url,
                                       make_params(verify_vectors[_i].params), body,
                                       body ? strlen(body) : 0, verify_vectors[_i].sig);
    ck_assert_msg(rc == verify_vectors[_i].want, "%s: got %d, want %d", verify_vectors[_i].name,
                  (int)rc, (int)verify_vectors[_i].want);
}
END_TEST

START_TEST(test_body_hash_vectors)
{
    /* node validateBody / python compute_hash */
    ck_assert_str_eq(vt_sha256_hex(vt_test_pool, JSON_BODY, strlen(JSON_BODY)), JSON_HASH);
    ck_assert_str_eq(vt_sha256_hex(vt_test_pool, "{}", 2), EMPTY_JSON_HASH);
    ck_assert_str_eq(vt_sha256_hex(vt_test_pool, "", 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_str_eq(vt_sha256_hex(vt_test_pool, NULL, 0),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_python_query_dict)
{
    /* python test_compute_signature_duplicate_query_dict: the same pairs as a form body */
    apr_array_header_t *a;
    const char *body = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
    ck_assert_int_eq(vt_form_parse(vt_test_pool, body, strlen(body), 100, &a), VT_FORM_OK);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, a),
                     "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, a, body, strlen(body),
                                         "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
                     VT_SIG_OK);
}
END_TEST

/* twilio-node spec/unit/webhooks/webhooks.spec.js: sign serverUrl, validate targetUrl. */
static const struct {
    const char *server, *target;
    vt_sig_rc want;
} node_webhook_cases[] = {
    {"https://example.com/path?test=param", "https://example.com/path?test=param2",
     VT_SIG_MISMATCH},
    {"https://example.com:443/path?test=param", "https://example.com:443/path?test=param",
     VT_SIG_OK},
    {"https://example.com:443/path?test=param", "https://example.com/path?test=param", VT_SIG_OK},
    {"https://example.com/path?test=param", "https://example.com/path?test=param", VT_SIG_OK},
    {"https://example.com/path?test=param", "https://example.com:443/path?test=param", VT_SIG_OK},
    {"https://example.com/path?test=param'WithQuote",
     "https://example.com/path?test=param'WithQuote", VT_SIG_OK},
    {"https://example.com/path?test=param'WithQuote",
     "https://example.com/path?test=param%27WithQuote", VT_SIG_OK},
    {"https://example.com/path?test=param%27WithQuote",
     "https://example.com/path?test=param'WithQuote", VT_SIG_OK},
    {"https://example.com/path?test=param%27WithQuote",
     "https://example.com/path?test=param%27WithQuote", VT_SIG_OK},
};

START_TEST(test_node_webhooks)
{
    const char *sig =
        vt_signature_compute(vt_test_pool, "s3cr3t", node_webhook_cases[_i].server, NULL);
    ck_assert_ptr_nonnull(sig);
    vt_sig_rc rc = vt_signature_verify(vt_test_pool, "s3cr3t", node_webhook_cases[_i].target,
                                       NULL, NULL, 0, sig);
    ck_assert_msg(rc == node_webhook_cases[_i].want, "%s -> %s: got %d",
                  node_webhook_cases[_i].server, node_webhook_cases[_i].target, (int)rc);
}
END_TEST

/* ---------------------------------------------------------------- own edge cases */

/* Any form of the URL that Twilio may have signed validates against any received form. */
static const struct {
    const char *signed_url, *received_url;
    vt_sig_rc want;
} port_cases[] = {
    {"https://h.example/v?a=1", "https://h.example:443/v?a=1", VT_SIG_OK},
    {"https://h.example:443/v?a=1", "https://h.example/v?a=1", VT_SIG_OK},
    {"http://h.example/v", "http://h.example:80/v", VT_SIG_OK},
    {"http://h.example:80/v", "http://h.example/v", VT_SIG_OK},
    {"https://h.example/v", "https://h.example:8443/v", VT_SIG_OK}, /* any port is removed */
    {"https://h.example:8443/v", "https://h.example/v", VT_SIG_MISMATCH},
    {"https://h.example:8443/v", "https://h.example:8444/v", VT_SIG_MISMATCH},
    {"https://h.example:443/v", "https://h.example:8443/v", VT_SIG_MISMATCH},
    {"http://h.example:443/v", "http://h.example/v", VT_SIG_MISMATCH},
    {"https://h.example:80/v", "https://h.example/v", VT_SIG_MISMATCH},
    {"https://[::1]/v", "https://[::1]:8080/v", VT_SIG_OK},
    {"https://[::1]:443/v", "https://[::1]/v", VT_SIG_OK},
    {"https://u:p@h.example/v", "https://u:p@h.example:443/v", VT_SIG_OK},
    {"https://h.example/v?to=sip:a@b.example:5060",
     "https://h.example:443/v?to=sip:a@b.example:5060", VT_SIG_OK},
    {"https://h.example/v?to=sip:a@b.example", "https://h.example/v?to=sip:a@b.example:5060",
     VT_SIG_MISMATCH},
    {"https://h.example/a:1/v", "https://h.example:443/a:1/v", VT_SIG_OK},
    {"https://h.example/a:1/v", "https://h.example/a/v", VT_SIG_MISMATCH},
    {"https://h.example/v?q='''", "https://h.example:443/v?q=%27%27%27", VT_SIG_OK},
    {"https://h.example/v?q=%27%27", "https://h.example:443/v?q=''", VT_SIG_OK},
    {"https://h.example/v?q='''", "https://h.example/v?q=%27'%27", VT_SIG_OK},
    /* The swap is all-or-nothing: a mixed form Twilio never produces is not tried. */
    {"https://h.example/v?q='%27'", "https://h.example/v?q=%27%27%27", VT_SIG_MISMATCH},
    {"https://h.example/it's?q=1", "https://h.example/it%27s?q=1", VT_SIG_MISMATCH},
    {"https://h.example/v?q=a+b", "https://h.example/v?q=a%20b", VT_SIG_MISMATCH},
    {"wss://h.example/media", "wss://h.example:443/media", VT_SIG_OK},
};

START_TEST(test_port_and_quote_forms)
{
    apr_array_header_t *params = make_params(P_DEFAULT);
    const char *sig = vt_signature_compute(vt_test_pool, TOKEN, port_cases[_i].signed_url, params);
    vt_sig_rc rc = vt_signature_verify(vt_test_pool, TOKEN, port_cases[_i].received_url, params,
                                       NULL, 0, sig);
    ck_assert_msg(rc == port_cases[_i].want, "signed %s, received %s: got %d",
                  port_cases[_i].signed_url, port_cases[_i].received_url, (int)rc);
}
END_TEST

static const char *variant(const apr_array_header_t *v, int i)
{
    return APR_ARRAY_IDX(v, i, const char *);
}

static void assert_variants(const char *url, const char *const *want, int n)
{
    apr_array_header_t *v = vt_signature_url_variants(vt_test_pool, url);
    ck_assert_ptr_nonnull(v);
    for (int i = 0; i < v->nelts && i < n; i++)
        ck_assert_msg(strcmp(variant(v, i), want[i]) == 0, "%s: variant %d is %s, want %s", url,
                      i, variant(v, i), want[i]);
    ck_assert_msg(v->nelts == n, "%s: %d variants, want %d", url, v->nelts, n);
}

#define VARIANTS(url, ...)                                                                     \
    do {                                                                                       \
        static const char *const w_[] = {__VA_ARGS__};                                         \
        assert_variants((url), w_, (int)(sizeof(w_) / sizeof(w_[0])));                         \
    } while (0)

START_TEST(test_url_variants)
{
    VARIANTS(REQ_URL, REQ_URL, "https://mycompany.com:443/myapp.php?foo=1&bar=2");
    VARIANTS("https://mycompany.com:443/x", "https://mycompany.com:443/x",
             "https://mycompany.com/x");
    VARIANTS("https://h:1234/x?a=1", "https://h:1234/x?a=1", "https://h/x?a=1");
    VARIANTS("http://h/x", "http://h/x", "http://h:80/x");
    VARIANTS("HTTPS://h/x", "HTTPS://h/x", "HTTPS://h:443/x");
    VARIANTS("https://h", "https://h", "https://h:443");
    VARIANTS("https://h?x=1", "https://h?x=1", "https://h:443?x=1");
    VARIANTS("https://h/v?c=sip:alice@example.com:5060&t=a:b",
             "https://h/v?c=sip:alice@example.com:5060&t=a:b",
             "https://h:443/v?c=sip:alice@example.com:5060&t=a:b");
    VARIANTS("https://h/a:80/b", "https://h/a:80/b", "https://h:443/a:80/b");
    VARIANTS("https://user:pass@h/x", "https://user:pass@h/x", "https://user:pass@h:443/x");
    VARIANTS("https://user:pass@h:8443/x", "https://user:pass@h:8443/x", "https://user:pass@h/x");
    VARIANTS("https://[::1]:8080/x", "https://[::1]:8080/x", "https://[::1]/x");
    VARIANTS("https://[2001:db8::1]/x", "https://[2001:db8::1]/x",
             "https://[2001:db8::1]:443/x");
    VARIANTS("https://h:/x", "https://h:/x", "https://h/x");
    VARIANTS("https://h/x?q=it's", "https://h/x?q=it's", "https://h:443/x?q=it's",
             "https://h/x?q=it%27s", "https://h:443/x?q=it%27s");
    VARIANTS("https://h/x?q=it%27s", "https://h/x?q=it%27s", "https://h:443/x?q=it%27s",
             "https://h/x?q=it's", "https://h:443/x?q=it's");
    VARIANTS("https://h:443/x?q=a'b%27c", "https://h:443/x?q=a'b%27c", "https://h/x?q=a'b%27c",
             "https://h:443/x?q=a%27b%27c", "https://h:443/x?q=a'b'c", "https://h/x?q=a%27b%27c",
             "https://h/x?q=a'b'c");
    VARIANTS("https://h/it's/x?q=1", "https://h/it's/x?q=1", "https://h:443/it's/x?q=1");
    /* Not a URL we understand: used as given only. */
    VARIANTS("ftp://h/x", "ftp://h/x");
    VARIANTS("/relative?a=1", "/relative?a=1");
    VARIANTS("", "");
    VARIANTS("https://h:44a/x", "https://h:44a/x");
    VARIANTS("https://[::1/x", "https://[::1/x");
    VARIANTS("https:///x", "https:///x");
    ck_assert_int_eq(vt_signature_url_variants(vt_test_pool, NULL)->nelts, 0);
}
END_TEST

START_TEST(test_data_string)
{
    ck_assert_str_eq(vt_signature_data(vt_test_pool, REQ_URL, NULL), REQ_URL);
    ck_assert_str_eq(vt_signature_data(vt_test_pool, REQ_URL, make_params(P_NONE)), REQ_URL);
    ck_assert_str_eq(vt_signature_data(vt_test_pool, REQ_URL, make_params(P_DEFAULT)),
                     REQ_URL "CallSidCA1234567890ABCDECaller+14158675309Digits1234"
                             "From+14158675309To+18005551212");
    ck_assert_str_eq(vt_signature_data(vt_test_pool, "u", make_params(P_DUP)),
                     "uDigits1234Digits5678SidCA123SidAccountAC123");

    /* Byte order: upper < '_' < lower; prefixes first; "10" < "2". */
    apr_array_header_t *a = apr_array_make(vt_test_pool, 8, sizeof(vt_param_t));
    vt_params_add(a, "a", "1");
    vt_params_add(a, "B", "2");
    vt_params_add(a, "_x", "3");
    vt_params_add(a, "DigitsX", "1");
    vt_params_add(a, "Digits", "2");
    vt_params_add(a, "Digit", "10");
    vt_params_add(a, "Digits", "10");
    ck_assert_str_eq(vt_signature_data(vt_test_pool, "u", a),
                     "uB2Digit10Digits10Digits2DigitsX1_x3a1");
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, "https://example.com/x", a),
                     "i4JGadGtB2abBReNz3G3qIpQT8I=");
}
END_TEST

START_TEST(test_empty_values)
{
    /* An empty value contributes just the name. */
    apr_array_header_t *a;
    const char *body = "RecordingUrl=&Digits&From=%2B14158675309";
    ck_assert_int_eq(vt_form_parse(vt_test_pool, body, strlen(body), 100, &a), VT_FORM_OK);
    ck_assert_str_eq(vt_signature_data(vt_test_pool, "u", a),
                     "uDigitsFrom+14158675309RecordingUrl");
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, a),
                     "COAefMnE+2VRbuoOJNUMtnTInLM=");
    /* An empty value next to a non-empty one of the same name. */
    apr_array_header_t *b = apr_array_make(vt_test_pool, 2, sizeof(vt_param_t));
    vt_params_add(b, "A", "x");
    vt_params_add(b, "A", "");
    ck_assert_str_eq(vt_signature_data(vt_test_pool, "u", b), "uAAx");
}
END_TEST

START_TEST(test_body_order_irrelevant)
{
    const char *b1 = "CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234"
                     "&From=%2B14158675309&To=%2B18005551212";
    const char *b2 = "To=%2B18005551212&Digits=1234&From=%2B14158675309"
                     "&CallSid=CA1234567890ABCDE&Caller=%2b14158675309";
    apr_array_header_t *p1, *p2;
    ck_assert_int_eq(vt_form_parse(vt_test_pool, b1, strlen(b1), 100, &p1), VT_FORM_OK);
    ck_assert_int_eq(vt_form_parse(vt_test_pool, b2, strlen(b2), 100, &p2), VT_FORM_OK);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, p1), DEFAULT_SIG);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, p2), DEFAULT_SIG);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, p2, b2, strlen(b2),
                                         DEFAULT_SIG),
                     VT_SIG_OK);
}
END_TEST

START_TEST(test_plus_and_space)
{
    /* '+' and %20 both decode to a space; %2B is a literal '+'. */
    apr_array_header_t *plus, *pct, *lit, *want = apr_array_make(vt_test_pool, 1,
                                                                  sizeof(vt_param_t));
    vt_params_add(want, "Body", "Hello World");
    ck_assert_int_eq(vt_form_parse(vt_test_pool, "Body=Hello+World", 16, 10, &plus), VT_FORM_OK);
    ck_assert_int_eq(vt_form_parse(vt_test_pool, "Body=Hello%20World", 18, 10, &pct), VT_FORM_OK);
    ck_assert_int_eq(vt_form_parse(vt_test_pool, "Body=Hello%2BWorld", 18, 10, &lit), VT_FORM_OK);
    const char *sig = vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, want);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, plus), sig);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, pct), sig);
    ck_assert_str_ne(vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, lit), sig);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, lit, NULL, 0, sig),
                     VT_SIG_MISMATCH);
}
END_TEST

START_TEST(test_utf8)
{
    const char *body = "Body=h%C3%A9llo+w%C3%B6rld+%F0%9F%91%8B&From=%2B14155550100";
    apr_array_header_t *a;
    ck_assert_int_eq(vt_form_parse(vt_test_pool, body, strlen(body), 10, &a), VT_FORM_OK);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, "https://example.com/sms", a),
                     "j+mOhZGAZMEFyOzbFLJ9mSVtsz4=");
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, "https://example.com/sms", a, body,
                                         strlen(body), "j+mOhZGAZMEFyOzbFLJ9mSVtsz4="),
                     VT_SIG_OK);
}
END_TEST

START_TEST(test_sip_query)
{
    /* SIP callers: Twilio signs '@' and ':' in the query unescaped. */
    const char *url = "https://example.com/voice?Caller=sip:1234567890@209.182.172.181"
                      "&To=sip:bob@example.com:5060";
    apr_array_header_t *params = make_params(P_DEFAULT);
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN, url, params),
                     "U2mILGvbQmAKX5RffScnu5wgbFc=");
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, url, params, NULL, 0,
                                         "U2mILGvbQmAKX5RffScnu5wgbFc="),
                     VT_SIG_OK);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN,
                                         "https://example.com:443/voice?Caller=sip:1234567890@"
                                         "209.182.172.181&To=sip:bob@example.com:5060",
                                         params, NULL, 0, "U2mILGvbQmAKX5RffScnu5wgbFc="),
                     VT_SIG_OK);
}
END_TEST

START_TEST(test_websocket_url)
{
    /* Media Streams upgrade: wss:// URL, no params. */
    ck_assert_str_eq(vt_signature_compute(vt_test_pool, TOKEN,
                                          "wss://example.com/media?CallSid=CA1", NULL),
                     "H7Qh8/DPpYe+czyZcaffVd7IBQY=");
}
END_TEST

START_TEST(test_tampering)
{
    apr_array_header_t *params = make_params(P_DEFAULT);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, params, NULL, 0,
                                         DEFAULT_SIG),
                     VT_SIG_OK);
    /* Wrong token. */
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, "12346", REQ_URL, params, NULL, 0,
                                         DEFAULT_SIG),
                     VT_SIG_MISMATCH);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, "", REQ_URL, params, NULL, 0, DEFAULT_SIG),
                     VT_SIG_MISMATCH);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, NULL, REQ_URL, params, NULL, 0,
                                         DEFAULT_SIG),
                     VT_SIG_MISMATCH);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, NULL, params, NULL, 0, DEFAULT_SIG),
                     VT_SIG_MISMATCH);
    /* Tampered value, extra param, missing param, renamed param. */
    const char *tweaks[] = {"Digits=1235", "Extra=1", NULL, "digits=1234"};
    for (int t = 0; t < 4; t++) {
        apr_array_header_t *p = make_params(P_DEFAULT);
        vt_param_t *digits = &APR_ARRAY_IDX(p, 2, vt_param_t);
        ck_assert_str_eq(digits->name, "Digits");
        if (t == 0)
            digits->value = "1235";
        else if (t == 1)
            vt_params_add(p, "Extra", "1");
        else if (t == 2) {
            apr_array_pop(p); /* drops Caller */
            apr_array_pop(p); /* and From */
        }
        else
            digits->name = "digits";
        ck_assert_msg(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, p, NULL, 0,
                                          DEFAULT_SIG) == VT_SIG_MISMATCH,
                      "tweak %s accepted", tweaks[t] ? tweaks[t] : "drop");
    }
    /* A repeated identical pair is not a change (both SDKs de-duplicate). */
    apr_array_header_t *dup = make_params(P_DEFAULT);
    vt_params_add(dup, "Digits", "1234");
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, dup, NULL, 0, DEFAULT_SIG),
                     VT_SIG_OK);
    /* A second, different value is. */
    vt_params_add(dup, "Digits", "9");
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, dup, NULL, 0, DEFAULT_SIG),
                     VT_SIG_MISMATCH);
}
END_TEST

START_TEST(test_query_not_merged)
{
    /* foo and bar are in the URL's query: they must not also be counted as params. */
    apr_array_header_t *merged = make_params(P_DEFAULT);
    vt_params_add(merged, "foo", "1");
    vt_params_add(merged, "bar", "2");
    const char *sig = vt_signature_compute(vt_test_pool, TOKEN, REQ_URL, merged);
    ck_assert_str_ne(sig, DEFAULT_SIG);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, REQ_URL, make_params(P_DEFAULT),
                                         NULL, 0, sig),
                     VT_SIG_MISMATCH);
    /* GET: the parameters are only in the URL. */
    const char *get_url = "https://h.example/v?CallSid=CA1&From=%2B1415";
    sig = vt_signature_compute(vt_test_pool, TOKEN, get_url, NULL);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, get_url, NULL, NULL, 0, sig),
                     VT_SIG_OK);
    apr_array_header_t *qp = apr_array_make(vt_test_pool, 2, sizeof(vt_param_t));
    vt_params_add(qp, "CallSid", "CA1");
    vt_params_add(qp, "From", "+1415");
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, get_url, qp, NULL, 0, sig),
                     VT_SIG_MISMATCH);
}
END_TEST

START_TEST(test_body_sha_lookup)
{
    const char *body = JSON_BODY;
    apr_size_t len = strlen(body);
    /* bodySHA256 anywhere in the query; the name must match exactly. */
    const char *urls[] = {
        "https://h.example/v?bodySHA256=" JSON_HASH "&x=1",
        "https://h.example/v?a=b&bodySHA256=" JSON_HASH,
        "https://h.example/v?body%53HA256=" JSON_HASH, /* percent-encoded name */
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        const char *sig = vt_signature_compute(vt_test_pool, TOKEN, urls[i], NULL);
        ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, urls[i], NULL, body, len, sig),
                         VT_SIG_OK);
        ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, urls[i], NULL, "{}", 2, sig),
                         VT_SIG_BODY_HASH);
        /* The params are not signed in this mode. */
        ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, urls[i],
                                             make_params(P_DEFAULT), body, len, sig),
                         VT_SIG_OK);
    }
    /* Upper-case hex, empty value, look-alike names. */
    const char *bad_hash[] = {
        "https://h.example/v?bodySHA256=0A1FF7634D9AB3B95DB5C9A2DFE9416E41502B283A80C7CF19632632"
        "F96E6620",
        "https://h.example/v?bodySHA256=",
        "https://h.example/v?bodySHA256",
    };
    for (size_t i = 0; i < sizeof(bad_hash) / sizeof(bad_hash[0]); i++) {
        const char *sig = vt_signature_compute(vt_test_pool, TOKEN, bad_hash[i], NULL);
        ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, bad_hash[i], NULL, body, len,
                                             sig),
                         VT_SIG_BODY_HASH);
    }
    /* Not bodySHA256: an ordinary form request, params signed. */
    const char *other = "https://h.example/v?bodysha256=" JSON_HASH "&xbodySHA256=" JSON_HASH;
    apr_array_header_t *params = make_params(P_DEFAULT);
    const char *sig = vt_signature_compute(vt_test_pool, TOKEN, other, params);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, other, params, "x", 1, sig),
                     VT_SIG_OK);
    /* A body hash in the path is not a query parameter either. */
    const char *path = "https://h.example/bodySHA256=" JSON_HASH;
    sig = vt_signature_compute(vt_test_pool, TOKEN, path, params);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, TOKEN, path, params, "x", 1, sig),
                     VT_SIG_OK);
}
END_TEST

START_TEST(test_compute_refuses)
{
    ck_assert_ptr_null(vt_signature_compute(vt_test_pool, NULL, REQ_URL, NULL));
    ck_assert_ptr_null(vt_signature_compute(vt_test_pool, "", REQ_URL, NULL));
    ck_assert_ptr_null(vt_signature_compute(vt_test_pool, TOKEN, NULL, NULL));
    /* A long token (longer than the SHA-1 block) is hashed first, as HMAC specifies. */
    char token[200];
    memset(token, 'k', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    const char *sig = vt_signature_compute(vt_test_pool, token, REQ_URL, NULL);
    ck_assert_ptr_nonnull(sig);
    ck_assert_int_eq(vt_signature_verify(vt_test_pool, token, REQ_URL, NULL, NULL, 0, sig),
                     VT_SIG_OK);
}
END_TEST

Suite *vt_suite_signature(void)
{
    Suite *s = suite_create("signature");
    TCase *tc = tcase_create("signature");
    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_loop_test(tc, test_compute_vectors, 0,
                        (int)(sizeof(compute_vectors) / sizeof(compute_vectors[0])));
    tcase_add_loop_test(tc, test_verify_vectors, 0,
                        (int)(sizeof(verify_vectors) / sizeof(verify_vectors[0])));
    tcase_add_test(tc, test_body_hash_vectors);
    tcase_add_test(tc, test_python_query_dict);
    tcase_add_loop_test(tc, test_node_webhooks, 0,
                        (int)(sizeof(node_webhook_cases) / sizeof(node_webhook_cases[0])));
    tcase_add_loop_test(tc, test_port_and_quote_forms, 0,
                        (int)(sizeof(port_cases) / sizeof(port_cases[0])));
    tcase_add_test(tc, test_url_variants);
    tcase_add_test(tc, test_data_string);
    tcase_add_test(tc, test_empty_values);
    tcase_add_test(tc, test_body_order_irrelevant);
    tcase_add_test(tc, test_plus_and_space);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_sip_query);
    tcase_add_test(tc, test_websocket_url);
    tcase_add_test(tc, test_tampering);
    tcase_add_test(tc, test_query_not_merged);
    tcase_add_test(tc, test_body_sha_lookup);
    tcase_add_test(tc, test_compute_refuses);
    suite_add_tcase(s, tc);
    return s;
}
