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
#include <strings.h>

#include <apr_strings.h>
#include <curl/curl.h>

#include "vt_llm.h"
#include "vt_util.h"

#ifdef PACKAGE_VERSION
#define VT_LLM_UA "mod_voxtwilio/" PACKAGE_VERSION
#else
#define VT_LLM_UA "mod_voxtwilio"
#endif

/* The transfer runs on a multi handle of its own (its connection cache is what carries
 * over between exchanges), so that the wait for a first byte can end on time. */
struct vt_llm_http {
    CURL *curl;
    CURLM *multi;
};

static apr_status_t http_cleanup(void *data)
{
    vt_llm_http_t *h = data;

    if (h->multi) {
        curl_multi_cleanup(h->multi);
        h->multi = NULL;
    }
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
    CURLM *m = c ? curl_multi_init() : NULL;

    if (!m) {
        if (c)
            curl_easy_cleanup(c);
        return NULL;
    }
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 4L);
    h = apr_pcalloc(p, sizeof *h);
    h->curl = c;
    h->multi = m;
    apr_pool_cleanup_register(p, h, http_cleanup, apr_pool_cleanup_null);
    return h;
}

/* The response body, bounded by the exchange's max_response. */
typedef struct body {
    char *data;
    size_t len, cap, max;
    int overflow;
} body_t;

/* Returns n, or 0 to abort the transfer (CURLE_WRITE_ERROR). */
static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_t *b = userdata;
    size_t n = size * nmemb;

    if (n > b->max - b->len) {
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
typedef struct post_call {
    struct curl_slist *headers;
    curl_mime *mime;
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    body_t resp;
    /* streaming */
    CURL *curl;
    const vt_http_post_t *x;
    apr_time_t start;
    size_t streamed;            /* bytes given to the sink */
    int got_byte, first_byte_late, aborted;
    int typed, textual;         /* a 2xx answer's Content-Type was read; JSON or text/ */
} post_call_t;

/* A streamed answer is binary: a JSON or text body with 2xx is a server's (or a proxy's)
 * error, kept whole for the error text rather than handed to the sink. */
static int post_textual(post_call_t *pc)
{
    char *type = NULL;

    if (!pc->typed) {
        pc->typed = 1;
        curl_easy_getinfo(pc->curl, CURLINFO_CONTENT_TYPE, &type);
        pc->textual = type && (strncasecmp(type, "application/json", 16) == 0
                               || strncasecmp(type, "text/", 5) == 0)
                      && !(pc->x->event_stream
                           && strncasecmp(type, "text/event-stream", 17) == 0);
    }
    return pc->textual;
}

/* The body: into pc->resp, or, streaming a 2xx answer, to the sink (an error answer is
 * still kept whole: its message goes into the error text). */
static size_t post_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    post_call_t *pc = userdata;
    size_t n = size * nmemb;
    long status = 0;

    pc->got_byte = 1;
    if (!pc->x->sink)
        return body_write(ptr, size, nmemb, &pc->resp);
    curl_easy_getinfo(pc->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299 || post_textual(pc))
        return body_write(ptr, size, nmemb, &pc->resp);
    if (n > pc->resp.max - pc->streamed) {
        pc->resp.overflow = 1;
        return 0;
    }
    pc->streamed += n;
    if (pc->x->sink(pc->x->baton, ptr, n) != 0) {
        pc->aborted = 1;
        return 0;
    }
    return n;
}

/* How long the transfer may wait for the socket: up to a second (libcurl's own timers
 * shorten it), and no longer than the first-byte budget has left; -1 when that is spent. */
static int post_wait_ms(const post_call_t *pc)
{
    apr_interval_time_t left;

    if (pc->x->first_byte_ms <= 0 || pc->got_byte)
        return 1000;
    left = apr_time_from_msec(pc->x->first_byte_ms) - (apr_time_now() - pc->start);
    if (left <= 0)
        return -1;
    return left >= apr_time_from_msec(1000) ? 1000 : (int)((left + 999) / 1000);
}

/* curl_easy_perform's loop, with the first-byte budget: libcurl looks at the clock only
 * about once a second while the line is idle, a progress callback no more often. */
static CURLcode post_perform(vt_llm_http_t *h, post_call_t *pc)
{
    CURLMcode mc = curl_multi_add_handle(h->multi, h->curl);
    CURLcode code = CURLE_FAILED_INIT;
    CURLMsg *msg;
    int running = 1, queued, wait;

    while (mc == CURLM_OK && running) {
        mc = curl_multi_perform(h->multi, &running);
        if (mc != CURLM_OK || !running)
            break;
        if ((wait = post_wait_ms(pc)) < 0) {
            pc->first_byte_late = 1;
            break;
        }
        mc = curl_multi_poll(h->multi, NULL, 0, wait, NULL);
    }
    while ((msg = curl_multi_info_read(h->multi, &queued)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->curl)
            code = msg->data.result;
    curl_multi_remove_handle(h->multi, h->curl); /* mid-transfer: closes the connection */
    return pc->first_byte_late ? CURLE_ABORTED_BY_CALLBACK : code;
}

/* Every option of an exchange, set each time: the handle keeps options between calls and
 * only its connection and DNS caches are meant to carry over. */
static void post_setopt(CURL *c, const vt_http_post_t *x, post_call_t *pc)
{
    curl_easy_setopt(c, CURLOPT_URL, x->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (pc->mime) {
        curl_easy_setopt(c, CURLOPT_MIMEPOST, pc->mime);
    }
    else {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->json);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->json));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, pc->headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, VT_LLM_UA);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, pc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, pc->timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    /* A declared length over the cap aborts before any byte; the callback caps the rest. */
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)pc->resp.max);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, pc->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, post_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, pc);
}

/* The handle outlives this call's buffers: no option may keep pointing at them. */
static void post_unsetopt(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, NULL);
}

static struct curl_slist *post_headers(apr_pool_t *p, const vt_http_post_t *x)
{
    struct curl_slist *l = x->parts ? NULL
                                    : curl_slist_append(NULL, "Content-Type: application/json");

    /* No "Expect: 100-continue" wait (up to a second) before a larger body goes out. */
    l = (l || x->parts) ? curl_slist_append(l, "Expect:") : NULL;
    if (l && x->api_key && *x->api_key)
        l = curl_slist_append(l, apr_pstrcat(p, "Authorization: Bearer ", x->api_key, NULL));
    return l;
}

/* multipart/form-data of the exchange's parts; NULL when out of memory. */
static curl_mime *post_mime(CURL *c, const vt_http_post_t *x)
{
    curl_mime *m = curl_mime_init(c);

    for (int i = 0; m && i < x->nparts; i++) {
        const vt_http_part_t *pt = &x->parts[i];
        curl_mimepart *part = curl_mime_addpart(m);
        if (!part || curl_mime_name(part, pt->name) != CURLE_OK
            || curl_mime_data(part, pt->data, pt->len) != CURLE_OK
            || (pt->filename && curl_mime_filename(part, pt->filename) != CURLE_OK)
            || (pt->type && curl_mime_type(part, pt->type) != CURLE_OK)) {
            curl_mime_free(m);
            return NULL;
        }
    }
    return m;
}

/* The transport failure as a log text. */
static const char *transport_error(apr_pool_t *p, CURLcode code, post_call_t *pc)
{
    size_t n = strlen(pc->errbuf);

    if (pc->resp.overflow || code == CURLE_FILESIZE_EXCEEDED)
        return apr_psprintf(p, "the answer is larger than %" APR_SIZE_T_FMT " bytes",
                            pc->resp.max);
    while (n > 0 && (pc->errbuf[n - 1] == '\n' || pc->errbuf[n - 1] == ' '))
        n--;
    return n ? apr_pstrmemdup(p, pc->errbuf, n) : curl_easy_strerror(code);
}

/* Decides the outcome from the transfer's result and the status; keeps the body. */
static apr_status_t post_outcome(apr_pool_t *p, CURLcode code, post_call_t *pc,
                                 vt_http_post_t *x)
{
    const char *text;

    x->body = apr_pstrmemdup(p, pc->resp.data ? pc->resp.data : "", pc->resp.len);
    x->len = pc->resp.len;
    if (code == CURLE_OPERATION_TIMEDOUT) {
        x->timed_out = 1;
        x->error = apr_psprintf(p, "no answer within %ld ms", pc->timeout_ms);
        return APR_TIMEUP;
    }
    if (code == CURLE_ABORTED_BY_CALLBACK && pc->first_byte_late) {
        x->timed_out = 1;
        x->error = apr_psprintf(p, "no answer began within %ld ms", x->first_byte_ms);
        return APR_TIMEUP;
    }
    if (code == CURLE_WRITE_ERROR && pc->aborted) {
        x->aborted = 1;
        x->error = "stopped by the receiver";
        return APR_EINTR;
    }
    if (code != CURLE_OK) {
        x->error = transport_error(p, code, pc);
        return APR_EGENERAL;
    }
    if (x->http_status < 200 || x->http_status > 299) {
        text = vt_llm_error_text(p, x->body, x->len);
        x->error = text ? apr_psprintf(p, "HTTP %ld: %s", x->http_status, text)
                        : apr_psprintf(p, "HTTP %ld", x->http_status);
        return APR_EGENERAL;
    }
    if (pc->textual) {
        text = vt_llm_error_text(p, x->body, x->len);
        x->error = apr_psprintf(p, "HTTP %ld with text instead of a stream%s%s",
                                x->http_status, text ? ": " : "", text ? text : "");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

apr_status_t vt_http_post(vt_llm_http_t *h, apr_pool_t *p, vt_http_post_t *x)
{
    post_call_t pc;
    CURLcode code;
    apr_time_t start;
    apr_status_t rv;

    x->http_status = 0;
    x->timed_out = 0;
    x->aborted = 0;
    x->error = NULL;
    x->body = NULL;
    x->len = 0;
    x->elapsed = 0;
    memset(&pc, 0, sizeof pc);
    if (!h || !h->curl || !x->url || (!x->json && !x->parts)) {
        x->error = "no HTTP client or no request";
        return APR_EINVAL;
    }
    if (x->api_key && !key_valid(x->api_key)) {
        x->error = "the API key contains spaces or control characters";
        return APR_EINVAL;
    }
    pc.resp.max = x->max_response ? x->max_response : VT_LLM_RESPONSE_MAX;
    pc.timeout_ms = x->timeout_ms > 0 ? x->timeout_ms : 1;
    if (!(pc.headers = post_headers(p, x)) || (x->parts && !(pc.mime = post_mime(h->curl, x)))) {
        curl_slist_free_all(pc.headers);
        x->error = "out of memory";
        return APR_ENOMEM;
    }
    pc.curl = h->curl;
    pc.x = x;
    post_setopt(h->curl, x, &pc);

    pc.start = start = apr_time_now();
    code = post_perform(h, &pc);
    x->elapsed = apr_time_now() - start;
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &x->http_status);
    post_unsetopt(h->curl);
    curl_slist_free_all(pc.headers);
    curl_mime_free(pc.mime);

    rv = post_outcome(p, code, &pc, x);
    free(pc.resp.data);
    x->error = masked(p, x->error, x->api_key);
    return rv;
}

const char *vt_http_endpoint(apr_pool_t *p, const char *base_url, const char *path,
                             const char **error)
{
    const char *err = NULL;
    const char *base = base_url ? vt_base_url_normalize(p, base_url, &err) : NULL;

    if (!base) {
        *error = apr_pstrcat(p, "invalid base URL: ", err ? err : "missing", NULL);
        return NULL;
    }
    return apr_pstrcat(p, base, path, NULL);
}

/* POST {base_url}/chat/completions (x's streaming fields set by the caller); the
 * transport's outcome into res. */
static apr_status_t chat_post(vt_llm_http_t *h, apr_pool_t *p, const vt_llm_conf_t *conf,
                              const char *request_json, long timeout_ms, vt_http_post_t *x,
                              vt_llm_result_t *res)
{
    apr_status_t rv;

    if (!h || !request_json) {
        res->error = "no HTTP client or no request";
        return APR_EINVAL;
    }
    if (!(x->url = vt_http_endpoint(p, conf ? conf->base_url : NULL, "/chat/completions",
                                    &res->error)))
        return APR_EINVAL;
    x->api_key = conf->api_key;
    x->json = request_json;
    x->timeout_ms = timeout_ms;
    rv = vt_http_post(h, p, x);
    res->http_status = x->http_status;
    res->timed_out = x->timed_out;
    res->error = x->error;
    res->elapsed = x->elapsed;
    return rv;
}

apr_status_t vt_llm_chat(vt_llm_http_t *h, apr_pool_t *p, const vt_llm_conf_t *conf,
                         const char *request_json, long timeout_ms, vt_llm_reply_t *reply,
                         vt_llm_result_t *res)
{
    vt_http_post_t x = { 0 };
    const char *err;
    apr_status_t rv;

    memset(res, 0, sizeof *res);
    memset(reply, 0, sizeof *reply);
    rv = chat_post(h, p, conf, request_json, timeout_ms, &x, res);
    if (rv != APR_SUCCESS)
        return rv;
    if (vt_llm_response_parse(p, x.body, x.len, reply, &err) != APR_SUCCESS) {
        res->error = masked(p, apr_pstrcat(p, "unusable answer: ", err, NULL), conf->api_key);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ streamed answers */

static long ms_since(apr_time_t start, apr_time_t at)
{
    return at ? (long)apr_time_as_msec(at - start) : -1;
}

typedef struct stream_call {
    vt_llm_stream_t *st;
    vt_llm_result_t *res;
    apr_time_t start;
    vt_llm_sentence_fn *fn;
    void *baton;
} stream_call_t;

/* res->first_token_ms is set as soon as it is known: the sentence callback may read it. */
static void first_token(stream_call_t *sc)
{
    apr_time_t at;

    if (sc->res->first_token_ms < 0 && (at = vt_llm_stream_first_token(sc->st)) != 0)
        sc->res->first_token_ms = ms_since(sc->start, at);
}

static int stream_sentence(void *baton, const char *sentence)
{
    stream_call_t *sc = baton;

    first_token(sc);
    return sc->fn ? sc->fn(sc->baton, sentence) : 0;
}

static int stream_sink(void *baton, const char *data, size_t len)
{
    stream_call_t *sc = baton;
    int rc = vt_llm_stream_feed(sc->st, data, len);

    first_token(sc);
    return rc != 0;
}

apr_status_t vt_llm_chat_stream(vt_llm_http_t *h, apr_pool_t *p, const vt_llm_conf_t *conf,
                                const char *request_json, long timeout_ms,
                                long first_byte_ms, vt_llm_sentence_fn *fn, void *baton,
                                vt_llm_reply_t *reply, vt_llm_result_t *res)
{
    vt_http_post_t x = { 0 };
    stream_call_t sc = { NULL, res, 0, fn, baton };
    vt_llm_stream_t *st = sc.st = vt_llm_stream_create(p, stream_sentence, &sc);
    const char *err;
    apr_time_t start;
    apr_status_t rv, parsed;

    memset(res, 0, sizeof *res);
    memset(reply, 0, sizeof *reply);
    res->first_token_ms = res->first_sentence_ms = -1;
    res->spoken = "";
    x.first_byte_ms = first_byte_ms;
    x.sink = stream_sink;
    x.baton = &sc;
    x.event_stream = 1;
    sc.start = start = apr_time_now();
    rv = chat_post(h, p, conf, request_json, timeout_ms, &x, res);
    if (rv == APR_EINVAL)
        return rv; /* nothing sent */
    if (rv == APR_EGENERAL && x.http_status >= 200 && x.http_status <= 299 && x.len > 0
        && (strncmp(x.body, "data:", 5) == 0 || *x.body == ':')) {
        /* Events labelled as some other text: read at once. */
        res->error = NULL;
        rv = vt_llm_stream_feed(st, x.body, x.len) > 0 ? APR_EINTR : APR_SUCCESS;
    }
    else if (rv == APR_EGENERAL && x.http_status >= 200 && x.http_status <= 299 && x.len > 0
             && vt_llm_response_parse(p, x.body, x.len, reply, &err) == APR_SUCCESS) {
        /* A server that ignored "stream": its whole answer (no sentence handed over). */
        res->error = NULL;
        return APR_SUCCESS;
    }
    if (rv == APR_EINTR && vt_llm_stream_error(st))
        rv = APR_EGENERAL; /* the parser stopped it, not the receiver */
    parsed = vt_llm_stream_finish(st, reply, &err);
    res->sentences = vt_llm_stream_sentences(st, &res->spoken);
    res->first_token_ms = ms_since(start, vt_llm_stream_first_token(st));
    res->first_sentence_ms = ms_since(start, vt_llm_stream_first_sentence(st));
    if ((rv == APR_SUCCESS || vt_llm_stream_error(st)) && parsed != APR_SUCCESS) {
        res->error = masked(p, apr_pstrcat(p, "unusable answer: ", err, NULL), conf->api_key);
        return APR_EGENERAL;
    }
    return rv;
}
