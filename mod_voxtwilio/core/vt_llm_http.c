/* vt_llm_http — the Chat Completions exchange over libcurl. See vt_llm.h.
 *
 * The API key travels only in the Authorization header. Error texts are built from
 * libcurl's error buffer (it names the host, never a header) or from at most 100
 * sanitized characters of the server's own error message, and any copy of the key in them
 * is masked: a server may echo what it was sent.
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <curl/curl.h>

#include "vt_llm.h"
#include "vt_util.h"

#ifdef PACKAGE_VERSION
#define VT_LLM_UA "mod_voxtwilio/" PACKAGE_VERSION
#else
#define VT_LLM_UA "mod_voxtwilio"
#endif

struct vt_llm_http {
    CURL *curl;
};

static apr_status_t http_cleanup(void *data)
{
    vt_llm_http_t *h = data;

    if (h->curl) {
        curl_easy_cleanup(h->curl);
        h->curl = NULL;
    }
    return APR_SUCCESS;
}

vt_llm_http_t *vt_llm_http_create(apr_pool_t *p)
{
    vt_llm_http_t *h;
    CURL *c = curl_easy_init();

    if (!c)
        return NULL;
    h = apr_pcalloc(p, sizeof *h);
    h->curl = c;
    apr_pool_cleanup_register(p, h, http_cleanup, apr_pool_cleanup_null);
    return h;
}

/* The response body, bounded by VT_LLM_RESPONSE_MAX. */
typedef struct body {
    char *data;
    size_t len, cap;
    int overflow;
} body_t;

/* Returns n, or 0 to abort the transfer (CURLE_WRITE_ERROR). */
static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_t *b = userdata;
    size_t n = size * nmemb;

    if (n > VT_LLM_RESPONSE_MAX - b->len) {
        b->overflow = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 8192;
        char *d;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (!(d = realloc(b->data, cap)))
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

/* The API key goes into a header line: printable ASCII only, so it cannot add another. */
static int key_valid(const char *key)
{
    for (; *key; key++)
        if ((unsigned char)*key <= 0x20 || (unsigned char)*key >= 0x7F)
            return 0;
    return 1;
}

/* msg with every copy of key replaced by "***". */
static const char *masked(apr_pool_t *p, const char *msg, const char *key)
{
    const char *hit, *r = "";

    if (!msg || !key || !*key)
        return msg;
    while ((hit = strstr(msg, key)) != NULL) {
        r = apr_pstrcat(p, r, apr_pstrmemdup(p, msg, (apr_size_t)(hit - msg)), "***", NULL);
        msg = hit + strlen(key);
    }
    return apr_pstrcat(p, r, msg, NULL);
}

/* One exchange's request state: what the options point at until the transfer ends. */
typedef struct chat_call {
    const char *url;
    const char *body;
    struct curl_slist *headers;
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    body_t resp;
} chat_call_t;

/* Every option of an exchange, set each time: the handle keeps options between calls and
 * only its connection and DNS caches are meant to carry over. */
static void chat_setopt(CURL *c, chat_call_t *cc)
{
    curl_easy_setopt(c, CURLOPT_URL, cc->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, cc->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(cc->body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, cc->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, VT_LLM_UA);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    /* A declared length over the cap aborts before any byte; the callback caps the rest. */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)VT_LLM_RESPONSE_MAX);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cc->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cc->resp);
}

/* The handle outlives this call's buffers: no option may keep pointing at them. */
static void chat_unsetopt(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
}

static struct curl_slist *chat_headers(apr_pool_t *p, const char *key)
{
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: application/json");

    /* No "Expect: 100-continue" wait (up to a second) before a larger body goes out. */
    l = l ? curl_slist_append(l, "Expect:") : NULL;
    if (l && key && *key)
        l = curl_slist_append(l, apr_pstrcat(p, "Authorization: Bearer ", key, NULL));
    return l;
}

/* The transport failure as a log text. */
static const char *transport_error(apr_pool_t *p, CURLcode code, chat_call_t *cc)
{
    size_t n = strlen(cc->errbuf);

    if (cc->resp.overflow || code == CURLE_FILESIZE_EXCEEDED)
        return apr_psprintf(p, "the answer is larger than %d bytes", VT_LLM_RESPONSE_MAX);
    while (n > 0 && (cc->errbuf[n - 1] == '\n' || cc->errbuf[n - 1] == ' '))
        n--;
    return n ? apr_pstrmemdup(p, cc->errbuf, n) : curl_easy_strerror(code);
}

/* Decides the outcome from the transfer's result, the status and the body. */
static apr_status_t chat_outcome(apr_pool_t *p, CURLcode code, chat_call_t *cc,
                                 vt_llm_reply_t *reply, vt_llm_result_t *res)
{
    const char *err, *text;

    if (code == CURLE_OPERATION_TIMEDOUT) {
        res->timed_out = 1;
        res->error = apr_psprintf(p, "no answer within %ld ms", cc->timeout_ms);
        return APR_TIMEUP;
    }
    if (code != CURLE_OK) {
        res->error = transport_error(p, code, cc);
        return APR_EGENERAL;
    }
    if (res->http_status < 200 || res->http_status > 299) {
        text = vt_llm_error_text(p, cc->resp.data ? cc->resp.data : "", cc->resp.len);
        res->error = text ? apr_psprintf(p, "HTTP %ld: %s", res->http_status, text)
                          : apr_psprintf(p, "HTTP %ld", res->http_status);
        return APR_EGENERAL;
    }
    if (vt_llm_response_parse(p, cc->resp.data ? cc->resp.data : "", cc->resp.len, reply,
                              &err) != APR_SUCCESS) {
        res->error = apr_pstrcat(p, "unusable answer: ", err, NULL);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* {base_url}/chat/completions, or NULL with res->error. */
static const char *chat_url(apr_pool_t *p, const vt_llm_conf_t *conf, vt_llm_result_t *res)
{
    const char *err = NULL;
    const char *base = conf && conf->base_url
                           ? vt_base_url_normalize(p, conf->base_url, &err) : NULL;

    if (!base) {
        res->error = apr_pstrcat(p, "invalid base URL: ", err ? err : "missing", NULL);
        return NULL;
    }
    return apr_pstrcat(p, base, "/chat/completions", NULL);
}

apr_status_t vt_llm_chat(vt_llm_http_t *h, apr_pool_t *p, const vt_llm_conf_t *conf,
                         const char *request_json, long timeout_ms, vt_llm_reply_t *reply,
                         vt_llm_result_t *res)
{
    chat_call_t cc;
    CURLcode code;
    apr_time_t start;
    apr_status_t rv;

    memset(res, 0, sizeof *res);
    memset(reply, 0, sizeof *reply);
    memset(&cc, 0, sizeof cc);
    if (!h || !h->curl || !request_json) {
        res->error = "no HTTP client or no request";
        return APR_EINVAL;
    }
    if (!(cc.url = chat_url(p, conf, res)))
        return APR_EINVAL;
    if (conf->api_key && !key_valid(conf->api_key)) {
        res->error = "the API key contains spaces or control characters";
        return APR_EINVAL;
    }
    if (!(cc.headers = chat_headers(p, conf->api_key))) {
        res->error = "out of memory";
        return APR_ENOMEM;
    }
    cc.body = request_json;
    cc.timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    chat_setopt(h->curl, &cc);

    start = apr_time_now();
    code = curl_easy_perform(h->curl);
    res->elapsed = apr_time_now() - start;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &res->http_status);
    chat_unsetopt(h->curl);
    curl_slist_free_all(cc.headers);

    rv = chat_outcome(p, code, &cc, reply, res);
    free(cc.resp.data);
    res->error = masked(p, res->error, conf->api_key);
    return rv;
}
