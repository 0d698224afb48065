/* vtsim_http — voxtwilio-sim's HTTP client: requests signed and shaped like Twilio's. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include <apr_strings.h>
#include "vt_crypto.h"
#include "vt_form.h"
#include "vt_signature.h"
#include "vt_twiml_doc.h"
#include "vt_util.h"
#include "vtsim.h"

int vtsim_error(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout); /* the transcript so far comes first when both go to one terminal */
    fputs(VTSIM_PROG ": error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

const char *vtsim_random_sid(apr_pool_t *p, const char *prefix)
{
    unsigned char raw[16];

    if (vt_random_bytes(raw, sizeof(raw)) != VT_CRYPTO_OK) {
        return NULL;
    }
    return apr_pstrcat(p, prefix, vt_hex_encode(p, raw, sizeof(raw)), NULL);
}

int vtsim_http_init(vtsim_t *s)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(s->curl = curl_easy_init())) {
        return vtsim_error("cannot initialize libcurl");
    }
    return 0;
}

void vtsim_http_cleanup(vtsim_t *s)
{
    if (s->curl) {
        curl_easy_cleanup(s->curl);
        s->curl = NULL;
    }
    curl_global_cleanup();
}

typedef struct vtsim_xfer {
    apr_pool_t *pool;
    vtsim_resp_t *resp;
} vtsim_xfer_t;

static size_t on_body(char *data, size_t size, size_t n, void *baton)
{
    vtsim_xfer_t *x = baton;
    vtsim_resp_t *r = x->resp;
    apr_size_t add = size * n, room = VT_TWIML_DOC_MAX + 1 - r->len;

    /* Keep one byte past the limit: enough for the reader to say "too large". */
    if (add > room) {
        r->too_large = 1;
        add = room;
    }
    memcpy(r->body + r->len, data, add);
    r->len += add;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *baton)
{
    vtsim_xfer_t *x = baton;
    vtsim_resp_t *r = x->resp;
    apr_size_t len = size * n;
    char *line = apr_pstrmemdup(x->pool, data, len);
    char *colon, *v;

    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue): forget the previous one's headers. */
        r->content_type = NULL;
        r->chunked = 0;
        return len;
    }
    if (!(colon = strchr(line, ':'))) {
        return len;
    }
    *colon = '\0';
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++) {
    }
    if (strcasecmp(line, "Content-Type") == 0) {
        r->content_type = v;
    }
    else if (strcasecmp(line, "Transfer-Encoding") == 0 && strstr(v, "chunked")) {
        r->chunked = 1;
    }
    return len;
}

/* A UUID-shaped token, unique per delivery as Twilio's are. */
static const char *idempotency_token(apr_pool_t *p)
{
    unsigned char raw[16];
    const char *h;

    if (vt_random_bytes(raw, sizeof(raw)) != VT_CRYPTO_OK) {
        return NULL;
    }
    h = vt_hex_encode(p, raw, sizeof(raw));
    return apr_psprintf(p, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

/* Twilio's error code for a transport failure. */
static int transport_code(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        return 11210; /* bad host name */
    case CURLE_SSL_CONNECT_ERROR:
        return 11220; /* TLS handshake */
    case CURLE_PEER_FAILED_VERIFICATION:
        return 11237; /* certificate invalid */
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
        return 11205; /* connection failure or timeout */
    default:
        return 11200; /* HTTP retrieval failure */
    }
}

int vtsim_request(vtsim_t *s, apr_pool_t *p, const char *method, const char *url,
                  const apr_array_header_t *params, vtsim_resp_t *resp)
{
    CURL *h = s->curl;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    vtsim_xfer_t x = { p, resp };
    const char *sig, *token, *form = vt_form_encode(p, params);
    int get = strcasecmp(method, "GET") == 0;
    CURLcode cc;

    memset(resp, 0, sizeof(*resp));
    resp->body = apr_palloc(p, VT_TWIML_DOC_MAX + 2);
    resp->body[0] = '\0';
    url = apr_pstrmemdup(p, url, strcspn(url, "#")); /* a fragment is never sent */
    if (get) {
        /* GET: the parameters follow the URL's own query, and the URL alone is signed. */
        url = apr_pstrcat(p, url, strchr(url, '?') ? "&" : "?", form, NULL);
        sig = vt_signature_compute(p, s->token, url, NULL);
    }
    else {
        sig = vt_signature_compute(p, s->token, url, params);
    }
    if (!(token = idempotency_token(p))) {
        return vtsim_error("no randomness for the idempotency token");
    }
    hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "X-Twilio-Signature: ", sig, NULL));
    hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "I-Twilio-Idempotency-Token: ", token, NULL));
    hdrs = curl_slist_append(hdrs, "Accept: */*");
    hdrs = curl_slist_append(hdrs, "Expect:"); /* Twilio sends no 100-continue */
    if (!get) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (get) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    else {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(form));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "TwilioProxy/1.1 (voxtwilio-sim)");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, VTSIM_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, VTSIM_CONNECT_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    /* The body Twilio would decode is the raw one: no Accept-Encoding is sent. */
    errbuf[0] = '\0';
    if (s->verbose) {
        printf("  > %s %s\n", get ? "GET" : "POST", url);
    }
    cc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        return vtsim_error("%s %s failed: %s (Twilio error %d: the caller hears an application "
                           "error)",
                           get ? "GET" : "POST", url, errbuf[0] ? errbuf : curl_easy_strerror(cc),
                           transport_code(cc));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    if (s->verbose) {
        printf("  < HTTP %ld%s%s\n", resp->status, resp->content_type ? ", " : "",
               resp->content_type ? resp->content_type : "");
    }
    return 0;
}
