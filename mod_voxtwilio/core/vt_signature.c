/* vt_signature — X-Twilio-Signature (HMAC-SHA1 over URL + sorted POST parameters).
 *
 * The URL is used byte-exact: the only rewrites are the ones the official SDKs also
 * accept (port removed / default port added, ' <-> %27 in the query).
 */
#include "vt_signature.h"
#include "vt_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define VT_SIG_B64_LEN 28 /* base64 of a 20-byte SHA-1 MAC */

static const char *vt_str(const char *s)
{
    return s ? s : "";
}

/* Orders pairs by name then value, byte-wise (strcmp = code-point order for UTF-8). */
static int vt_param_cmp(const void *a, const void *b)
{
    const vt_param_t *x = *(const vt_param_t *const *)a;
    const vt_param_t *y = *(const vt_param_t *const *)b;
    int c = strcmp(vt_str(x->name), vt_str(y->name));
    return c != 0 ? c : strcmp(vt_str(x->value), vt_str(y->value));
}

const char *vt_signature_data(apr_pool_t *p, const char *url, const apr_array_header_t *params)
{
    int n = params ? params->nelts : 0;
    if (n == 0)
        return apr_pstrdup(p, vt_str(url));

    const vt_param_t *elts = (const vt_param_t *)params->elts;
    const vt_param_t **sorted = apr_palloc(p, sizeof(*sorted) * (apr_size_t)n);
    for (int i = 0; i < n; i++)
        sorted[i] = &elts[i];
    qsort(sorted, (size_t)n, sizeof(*sorted), vt_param_cmp);

    /* Sorting (name, value) pairs and dropping exact repeats gives, per unique name in
     * order, its unique values in order — the SDKs' algorithm. */
    apr_size_t total = strlen(vt_str(url));
    for (int i = 0; i < n; i++) {
        if (i > 0 && vt_param_cmp(&sorted[i - 1], &sorted[i]) == 0)
            continue;
        total += strlen(vt_str(sorted[i]->name)) + strlen(vt_str(sorted[i]->value));
    }
    char *out = apr_palloc(p, total + 1);
    char *o = out;
    apr_size_t l = strlen(vt_str(url));
    memcpy(o, vt_str(url), l);
    o += l;
    for (int i = 0; i < n; i++) {
        if (i > 0 && vt_param_cmp(&sorted[i - 1], &sorted[i]) == 0)
            continue;
        l = strlen(vt_str(sorted[i]->name));
        memcpy(o, vt_str(sorted[i]->name), l);
        o += l;
        l = strlen(vt_str(sorted[i]->value));
        memcpy(o, vt_str(sorted[i]->value), l);
        o += l;
    }
    *o = '\0';
    return out;
}

/* Signature over a prepared data string; NULL on failure. */
static const char *vt_signature_of_data(apr_pool_t *p, const char *auth_token, const char *data)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token), (const unsigned char *)data,
             strlen(data), mac, &maclen) == NULL || maclen != 20)
        return NULL;
    unsigned char *b64 = apr_palloc(p, VT_SIG_B64_LEN + 1);
    if (EVP_EncodeBlock(b64, mac, (int)maclen) != VT_SIG_B64_LEN)
        return NULL;
    return (const char *)b64;
}

const char *vt_signature_compute(apr_pool_t *p, const char *auth_token, const char *url,
                                 const apr_array_header_t *params)
{
    /* An empty key would make every signature forgeable: refuse it. */
    if (auth_token == NULL || *auth_token == '\0' || url == NULL)
        return NULL;
    return vt_signature_of_data(p, auth_token, vt_signature_data(p, url, params));
}

const char *vt_sha256_hex(apr_pool_t *p, const void *buf, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (buf == NULL)
        buf = "", len = 0;
    if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL))
        return NULL;
    return vt_hex_encode(p, md, mdlen);
}

/* ------------------------------------------------------------------ URL variants */

/* Where the authority's port sits. Only scheme://[userinfo@]host[:port] is looked at, so a
 * ':' in the path or query (sip:alice@example.com) is never taken for a port. */
typedef struct {
    const char *auth_end;   /* first '/', '?', '#' after "://", or the end */
    const char *port_colon; /* ':' before the port, or NULL */
    int default_port;       /* 443 / 80 by scheme, 0 if unknown */
    int host_present;
} vt_url_auth_t;

static int vt_url_parse_auth(const char *url, vt_url_auth_t *a)
{
    memset(a, 0, sizeof(*a));
    const char *c = url;
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
        return 0;
    while ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
           *c == '+' || *c == '-' || *c == '.')
        c++;
    if (strncmp(c, "://", 3) != 0)
        return 0;
    apr_size_t slen = (apr_size_t)(c - url);
    if ((slen == 5 && strncasecmp(url, "https", 5) == 0) ||
        (slen == 3 && strncasecmp(url, "wss", 3) == 0))
        a->default_port = 443;
    else if ((slen == 4 && strncasecmp(url, "http", 4) == 0) ||
             (slen == 2 && strncasecmp(url, "ws", 2) == 0))
        a->default_port = 80;

    const char *auth = c + 3;
    a->auth_end = auth + strcspn(auth, "/?#");
    const char *host = auth;
    for (const char *s = auth; s < a->auth_end; s++) {
        if (*s == '@')
            host = s + 1; /* the last '@' ends the userinfo, which may contain ':' */
    }
    const char *host_end;
    if (*host == '[') {
        const char *rb = memchr(host, ']', (apr_size_t)(a->auth_end - host));
        if (rb == NULL)
            return 0;
        host_end = rb + 1;
        if (host_end != a->auth_end && *host_end != ':')
            return 0;
    }
    else {
        host_end = host;
        while (host_end < a->auth_end && *host_end != ':')
            host_end++;
    }
    a->host_present = host_end > host;
    if (host_end < a->auth_end) {
        /* Not a number: not something we understand, so leave the URL alone. */
        for (const char *s = host_end + 1; s < a->auth_end; s++) {
            if (*s < '0' || *s > '9')
                return 0;
        }
        a->port_colon = host_end;
    }
    return 1;
}

static void vt_push_unique(apr_array_header_t *arr, const char *s)
{
    for (int i = 0; i < arr->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(arr, i, const char *), s) == 0)
            return;
    }
    APR_ARRAY_PUSH(arr, const char *) = s;
}

/* Replaces every `from` by `to` in the query part of url; NULL if there is none. */
static const char *vt_query_replace(apr_pool_t *p, const char *url, const char *from,
                                    const char *to)
{
    const char *q = strchr(url, '?');
    if (q == NULL)
        return NULL;
    apr_size_t flen = strlen(from), tlen = strlen(to);
    const char *qend = q + strcspn(q, "#");
    apr_size_t hits = 0;
    for (const char *s = q; (apr_size_t)(qend - s) >= flen; s++) {
        if (memcmp(s, from, flen) == 0) {
            hits++;
            s += flen - 1;
        }
    }
    if (hits == 0)
        return NULL;
    apr_size_t len = strlen(url);
    char *out = apr_palloc(p, len - hits * flen + hits * tlen + 1);
    char *o = out;
    memcpy(o, url, (apr_size_t)(q - url));
    o += q - url;
    const char *s = q;
    while (s < qend) {
        if ((apr_size_t)(qend - s) >= flen && memcmp(s, from, flen) == 0) {
            memcpy(o, to, tlen);
            o += tlen;
            s += flen;
        }
        else {
            *o++ = *s++;
        }
    }
    strcpy(o, qend);
    return out;
}

apr_array_header_t *vt_signature_url_variants(apr_pool_t *p, const char *url)
{
    apr_array_header_t *base = apr_array_make(p, 3, sizeof(const char *));
    if (url == NULL)
        return base;
    vt_push_unique(base, url);

    vt_url_auth_t a;
    if (vt_url_parse_auth(url, &a)) {
        if (a.port_colon) {
            vt_push_unique(base, apr_pstrcat(p, apr_pstrmemdup(p, url,
                                                               (apr_size_t)(a.port_colon - url)),
                                             a.auth_end, NULL));
        }
        else if (a.default_port && a.host_present) {
            vt_push_unique(base, apr_psprintf(p, "%.*s:%d%s", (int)(a.auth_end - url), url,
                                              a.default_port, a.auth_end));
        }
    }

    apr_array_header_t *all = apr_array_make(p, base->nelts * 3, sizeof(const char *));
    for (int i = 0; i < base->nelts; i++)
        vt_push_unique(all, APR_ARRAY_IDX(base, i, const char *));
    for (int i = 0; i < base->nelts; i++) {
        const char *u = APR_ARRAY_IDX(base, i, const char *);
        const char *esc = vt_query_replace(p, u, "'", "%27");
        const char *unesc = vt_query_replace(p, u, "%27", "'");
        if (esc)
            vt_push_unique(all, esc);
        if (unesc)
            vt_push_unique(all, unesc);
    }
    return all;
}

/* ------------------------------------------------------------------ verification */

/* Decoded value of the first query parameter called name, or NULL. */
static const char *vt_query_param(apr_pool_t *p, const char *url, const char *name)
{
    const char *q = strchr(url, '?');
    if (q == NULL)
        return NULL;
    q++;
    const char *qend = q + strcspn(q, "#");
    while (q < qend) {
        const char *amp = memchr(q, '&', (apr_size_t)(qend - q));
        const char *seg_end = amp ? amp : qend;
        const char *eq = memchr(q, '=', (apr_size_t)(seg_end - q));
        const char *name_end = eq ? eq : seg_end;
        const char *n = vt_form_decode(p, q, (apr_size_t)(name_end - q));
        if (n != NULL && strcmp(n, name) == 0) {
            const char *v = eq ? vt_form_decode(p, eq + 1, (apr_size_t)(seg_end - eq - 1)) : "";
            if (v != NULL)
                return v;
        }
        q = seg_end + 1;
    }
    return NULL;
}

vt_sig_rc vt_signature_verify(apr_pool_t *p, const char *auth_token, const char *url,
                              const apr_array_header_t *params, const char *body,
                              apr_size_t bodylen, const char *header_sig)
{
    if (header_sig == NULL || *header_sig == '\0')
        return VT_SIG_MISSING;
    if (auth_token == NULL || *auth_token == '\0' || url == NULL)
        return VT_SIG_MISMATCH;

    /* JSON bodies: the signature covers the URL alone, the body is bound by its hash. */
    const char *body_hash = vt_query_param(p, url, "bodySHA256");
    const apr_array_header_t *signed_params = body_hash ? NULL : params;

    apr_size_t siglen = strlen(header_sig);
    apr_array_header_t *variants = vt_signature_url_variants(p, url);
    int match = 0;
    /* Every variant is tried, so the time does not tell which one matched. */
    for (int i = 0; i < variants->nelts; i++) {
        const char *u = APR_ARRAY_IDX(variants, i, const char *);
        const char *sig = vt_signature_compute(p, auth_token, u, signed_params);
        if (sig != NULL)
            match |= vt_const_time_eq(sig, strlen(sig), header_sig, siglen);
    }
    if (!match)
        return VT_SIG_MISMATCH;

    if (body_hash != NULL) {
        const char *actual = vt_sha256_hex(p, body, body ? bodylen : 0);
        if (actual == NULL ||
            !vt_const_time_eq(actual, strlen(actual), body_hash, strlen(body_hash)))
            return VT_SIG_BODY_HASH;
    }
    return VT_SIG_OK;
}
