/* vt_rest — the Twilio REST API client (libcurl + json-c). See vt_rest.h.
 *
 * Credentials are handed to libcurl with CURLOPT_USERNAME/CURLOPT_PASSWORD, so they
 * travel only in the Authorization header: never in the URL, never in an error text
 * (curl's error buffer names the host, never the password), never logged.
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_date.h>
#include <apr_strings.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "vt_form.h"
#include "vt_rest.h"
#include "vt_util.h"

#define VT_REST_BODY_MAX (1024 * 1024)
#define VT_REST_MAX_REDIRS 3L
/* Recording media always comes from here, whatever the configured API base. */
#define VT_REST_TWILIO_API "https://api.twilio.com/"

#ifdef PACKAGE_VERSION
#define VT_REST_UA "mod_voxtwilio/" PACKAGE_VERSION
#else
#define VT_REST_UA "mod_voxtwilio"
#endif

static int rest_initialized;

void vt_rest_global_init(void)
{
    if (!rest_initialized) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        rest_initialized = 1;
    }
}

typedef struct body_buf {
    char *data;
    size_t len, cap;
    int overflow;
} body_buf_t;

/* Appends to the in-memory body; returns n, or 0 to abort the transfer. */
static size_t body_append(body_buf_t *b, const char *ptr, size_t n)
{
    if (n > VT_REST_BODY_MAX - b->len) {
        b->overflow = 1;
        return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *d;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > VT_REST_BODY_MAX + 1)
            cap = VT_REST_BODY_MAX + 1;
        d = realloc(b->data, cap);
        if (!d)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* What a request is for: decides how a 2xx answer is read. */
typedef enum { REST_ACCOUNT, REST_CREATE, REST_FIND, REST_DOWNLOAD } rest_kind_t;

typedef struct rest_call {
    rest_kind_t kind;
    const char *url;
    const char *form;        /* POST body (form-encoded); NULL: GET */
    const char *account_sid;
    const char *auth_token;
    long timeout_ms;
    int fd;                  /* REST_DOWNLOAD: where a 2xx body goes */
    apr_off_t max_bytes;
    const char *list;        /* REST_FIND: the page's list ("messages", "calls") */
    const char *body;        /* .. the text to find (NULL: any) */
    apr_time_t since;        /* .. created at or after this */
} rest_call_t;

/* Write-callback state: a 2xx body of a download goes to fd, anything else to memory
 * (an error document to parse). */
typedef struct xfer {
    CURL *h;
    body_buf_t body;
    int fd;
    apr_off_t max_bytes, written;
    int too_large;
    int io_errno;
} xfer_t;

static size_t xfer_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    xfer_t *x = userdata;
    size_t n = size * nmemb, off = 0;
    long status = 0;

    if (x->fd < 0)
        return body_append(&x->body, ptr, n);
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299)
        return body_append(&x->body, ptr, n);
    if ((apr_off_t)n > x->max_bytes - x->written) {
        x->too_large = 1;
        return 0;
    }
    while (off < n) {
        ssize_t w = write(x->fd, ptr + off, n - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            x->io_errno = errno;
            return 0;
        }
        off += (size_t)w;
    }
    x->written += (apr_off_t)n;
    return n;
}

/* String member of a JSON object (NULL when absent or null); numbers are rendered. */
static const char *json_str(apr_pool_t *p, json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v || json_object_is_type(v, json_type_null))
        return NULL;
    return apr_pstrdup(p, json_object_get_string(v));
}

/* The sid of the newest entry of a list page (messages or calls) with that body (NULL:
 * any), created at or after since, or NULL. */
static const char *find_created(apr_pool_t *p, json_object *page, const char *key,
                                const char *body, apr_time_t since)
{
    json_object *list, *m;
    size_t i, n;

    if (!json_object_object_get_ex(page, key, &list)
        || !json_object_is_type(list, json_type_array))
        return NULL;
    n = json_object_array_length(list);
    for (i = 0; i < n; i++) {
        const char *text, *created, *sid;

        m = json_object_array_get_idx(list, i);
        if (!json_object_is_type(m, json_type_object))
            continue;
        text = json_str(p, m, "body");
        created = json_str(p, m, "date_created");
        sid = json_str(p, m, "sid");
        /* Twilio's dates are RFC 2822 ("Mon, 07 Dec 2026 20:40:12 +0000"). */
        if (sid && (!body || (text && strcmp(text, body) == 0)) && created
            && apr_date_parse_rfc(created) >= since)
            return sid;
    }
    return NULL;
}

/* Fills res from the body: Twilio's error document on non-2xx; on 2xx the account summary
 * (REST_ACCOUNT), the new resource's SID (REST_CREATE) or the one found (REST_FIND). Returns 0 when a 2xx answer lacks what
 * the call needs. */
static int parse_body(apr_pool_t *p, const rest_call_t *rc, vt_rest_result_t *res)
{
    int ok = res->http_status >= 200 && res->http_status < 300;
    rest_kind_t kind = rc->kind;
    json_object *o;

    if (ok && kind == REST_DOWNLOAD)
        return 1;
    o = res->body ? json_tokener_parse(res->body) : NULL;
    if (!o || !json_object_is_type(o, json_type_object)) {
        if (ok)
            res->message = "the answer is not a JSON object";
        else
            res->message = "no Twilio error document in the answer";
        json_object_put(o);
        return !ok || kind == REST_ACCOUNT;
    }
    if (ok && kind == REST_FIND) {
        res->message = find_created(p, o, rc->list, rc->body, rc->since);
        json_object_put(o);
        return 1;
    }
    if (ok && kind == REST_ACCOUNT) {
        const char *name = json_str(p, o, "friendly_name");
        const char *status = json_str(p, o, "status");
        const char *type = json_str(p, o, "type");
        res->message = apr_psprintf(p, "%s (%s, %s)", name ? name : "(no name)",
                                    status ? status : "?", type ? type : "?");
    }
    else if (ok) {
        const char *sid = json_str(p, o, "sid");
        json_object_put(o);
        if (!sid || !*sid) {
            res->message = "the answer has no \"sid\"";
            return 0;
        }
        res->message = sid;
        return 1;
    }
    else {
        json_object *code;
        const char *msg = json_str(p, o, "message");
        if (json_object_object_get_ex(o, "code", &code) && code
            && (json_object_is_type(code, json_type_int)
                || json_object_is_type(code, json_type_string)))
            res->twilio_code = json_object_get_int(code);
        res->message = msg ? msg : "no message in Twilio's error document";
    }
    json_object_put(o);
    return 1;
}

/* Transport errors that a later attempt cannot fix. */
static int curl_error_permanent(CURLcode cc)
{
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_BAD_FUNCTION_ARGUMENT:
        return 1;
    default:
        return 0;
    }
}

/* Checks the credentials and normalizes the API base; NULL (res->message set) if invalid. */
static const char *rest_prepare(apr_pool_t *p, const char *api_base, const char *account_sid,
                                const char *auth_token, vt_rest_result_t *res)
{
    const char *base_err = NULL, *base;

    memset(res, 0, sizeof *res);
    if (!account_sid || !vt_sid_valid(account_sid, "AC")) {
        res->message = "invalid account SID (AC followed by 32 hex digits expected)";
        return NULL;
    }
    if (!auth_token || !*auth_token) {
        res->message = "empty auth token";
        return NULL;
    }
    base = api_base ? vt_base_url_normalize(p, api_base, &base_err) : NULL;
    if (!base)
        res->message = apr_psprintf(p, "invalid API base URL: %s",
                                    base_err ? base_err : "missing");
    return base;
}

/* The one request helper behind every call: basic auth, http(s) only, bounded time and
 * body, Twilio's error document parsed, res->retryable decided. */
static apr_status_t rest_perform(apr_pool_t *p, const rest_call_t *rc, vt_rest_result_t *res)
{
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    xfer_t x;
    CURL *h;
    CURLcode cc;
    long status = 0;
    int download = rc->kind == REST_DOWNLOAD;

    vt_rest_global_init();
    h = curl_easy_init();
    if (!h) {
        res->message = "cannot create a libcurl handle";
        res->retryable = 1;
        return APR_ENOMEM;
    }
    memset(&x, 0, sizeof x);
    x.h = h;
    x.fd = download ? rc->fd : -1;
    x.max_bytes = rc->max_bytes;
    errbuf[0] = '\0';
    /* A download takes what the media URL serves; the API calls want JSON. */
    if (!download)
        headers = curl_slist_append(headers, "Accept: application/json");
    if (rc->form)
        headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */

    curl_easy_setopt(h, CURLOPT_URL, rc->url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    /* An https download never follows a redirect to plain http. */
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
                     strncmp(rc->url, "https:", 6) == 0 ? "https" : "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS,
                     strncmp(rc->url, "https:", 6) == 0
                         ? (long)CURLPROTO_HTTPS : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (download) {
        /* Twilio answers media requests with a redirect to its storage; libcurl does not
         * send the credentials to another host (CURLOPT_UNRESTRICTED_AUTH stays 0). */
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, VT_REST_MAX_REDIRS);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)rc->max_bytes);
    }
    else
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rc->form) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rc->form);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(rc->form));
    }
    else
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, rc->account_sid);
    curl_easy_setopt(h, CURLOPT_PASSWORD, rc->auth_token);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rc->timeout_ms > 0 ? rc->timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, VT_REST_UA);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, xfer_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);

    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);

    res->http_status = status;
    res->bytes = x.written;
    if (x.body.data)
        res->body = apr_pstrmemdup(p, x.body.data, x.body.len);
    free(x.body.data);

    if (cc != CURLE_OK) {
        res->retryable = !curl_error_permanent(cc);
        if (x.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
            res->message = apr_psprintf(p, "the download is larger than %" APR_OFF_T_FMT
                                        " bytes", rc->max_bytes);
            res->retryable = 0;
        }
        else if (x.body.overflow) {
            res->message = apr_psprintf(p, "the answer is larger than %d bytes",
                                        VT_REST_BODY_MAX);
            res->retryable = 0;
        }
        else if (x.io_errno) {
            char buf[128];
            res->message = apr_psprintf(p, "cannot write the download: %s",
                                        apr_strerror(APR_FROM_OS_ERROR(x.io_errno), buf,
                                                     sizeof buf));
        }
        else if (errbuf[0]) {
            size_t n = strlen(errbuf);
            while (n > 0 && (errbuf[n - 1] == ' ' || errbuf[n - 1] == '\n'))
                n--;
            res->message = apr_pstrmemdup(p, errbuf, n);
        }
        else
            res->message = curl_easy_strerror(cc);
        res->body = NULL;
        return APR_EGENERAL;
    }
    if (status == 0) {
        res->message = "no HTTP answer";
        res->retryable = 1;
        return APR_EGENERAL;
    }
    res->retryable = status == 429 || status >= 500;
    return parse_body(p, rc, res) ? APR_SUCCESS : APR_EGENERAL;
}

apr_status_t vt_rest_account_fetch(apr_pool_t *p, const char *api_base, const char *account_sid,
                                   const char *auth_token, long timeout_ms, vt_rest_result_t *res)
{
    rest_call_t rc;
    const char *base = rest_prepare(p, api_base, account_sid, auth_token, res);

    if (!base)
        return APR_EINVAL;
    memset(&rc, 0, sizeof rc);
    rc.kind = REST_ACCOUNT;
    rc.url = apr_pstrcat(p, base, "/2010-04-01/Accounts/", account_sid, ".json", NULL);
    rc.account_sid = account_sid;
    rc.auth_token = auth_token;
    rc.timeout_ms = timeout_ms;
    rc.fd = -1;
    return rest_perform(p, &rc, res);
}

/* POSTs form to {base}/2010-04-01/Accounts/{sid}/{resource}.json: the new one's sid. */
static apr_status_t rest_create(apr_pool_t *p, const char *base, const char *account_sid,
                                const char *auth_token, const char *resource,
                                const apr_array_header_t *form, long timeout_ms,
                                vt_rest_result_t *res)
{
    rest_call_t rc;

    memset(&rc, 0, sizeof rc);
    rc.kind = REST_CREATE;
    rc.url = apr_pstrcat(p, base, "/2010-04-01/Accounts/", account_sid, "/", resource,
                         ".json", NULL);
    rc.form = vt_form_encode(p, form);
    rc.account_sid = account_sid;
    rc.auth_token = auth_token;
    rc.timeout_ms = timeout_ms;
    rc.fd = -1;
    return rest_perform(p, &rc, res);
}

/* GETs the newest 50 of {resource}.json?To=&From=: the sid of one with that body (NULL:
 * any) created since, or NULL. */
static apr_status_t rest_find(apr_pool_t *p, const char *base, const char *account_sid,
                              const char *auth_token, const char *resource, const char *list,
                              const char *to, const char *from, const char *body,
                              apr_time_t since, long timeout_ms, vt_rest_result_t *res)
{
    apr_array_header_t *query = apr_array_make(p, 3, sizeof(vt_param_t));
    rest_call_t rc;

    vt_params_add(query, "To", to);
    vt_params_add(query, "From", from);
    vt_params_add(query, "PageSize", "50");
    memset(&rc, 0, sizeof rc);
    rc.kind = REST_FIND;
    rc.url = apr_pstrcat(p, base, "/2010-04-01/Accounts/", account_sid, "/", resource,
                         ".json?", vt_form_encode(p, query), NULL);
    rc.account_sid = account_sid;
    rc.auth_token = auth_token;
    rc.timeout_ms = timeout_ms;
    rc.fd = -1;
    rc.list = list;
    rc.body = body;
    rc.since = since;
    return rest_perform(p, &rc, res);
}

apr_status_t vt_rest_message_send(apr_pool_t *p, const char *api_base, const char *account_sid,
                                  const char *auth_token, const char *to, const char *from,
                                  const char *body, const char *status_callback,
                                  long timeout_ms, vt_rest_result_t *res)
{
    apr_array_header_t *form;
    const char *base = rest_prepare(p, api_base, account_sid, auth_token, res);

    if (!base)
        return APR_EINVAL;
    if (!to || !*to || !from || !*from || !body || !*body) {
        res->message = "To, From and Body must not be empty";
        return APR_EINVAL;
    }
    form = apr_array_make(p, 4, sizeof(vt_param_t));
    vt_params_add(form, "To", to);
    vt_params_add(form, "From", from);
    vt_params_add(form, "Body", body);
    if (status_callback) {
        vt_params_add(form, "StatusCallback", status_callback);
    }
    return rest_create(p, base, account_sid, auth_token, "Messages", form, timeout_ms, res);
}

apr_status_t vt_rest_message_find(apr_pool_t *p, const char *api_base, const char *account_sid,
                                  const char *auth_token, const char *to, const char *from,
                                  const char *body, apr_time_t since, long timeout_ms,
                                  vt_rest_result_t *res)
{
    const char *base = rest_prepare(p, api_base, account_sid, auth_token, res);

    if (!base)
        return APR_EINVAL;
    return rest_find(p, base, account_sid, auth_token, "Messages", "messages", to, from, body,
                     since, timeout_ms, res);
}

apr_status_t vt_rest_call_create(apr_pool_t *p, const char *api_base, const char *account_sid,
                                 const char *auth_token, const vt_rest_call_t *call,
                                 long timeout_ms, vt_rest_result_t *res)
{
    static const char *const events[] = { "initiated", "ringing", "answered", "completed" };
    apr_array_header_t *form;
    const char *base = rest_prepare(p, api_base, account_sid, auth_token, res);
    apr_size_t i;

    if (!base)
        return APR_EINVAL;
    if (!call->to || !*call->to || !call->from || !*call->from || !call->url || !*call->url) {
        res->message = "To, From and Url must not be empty";
        return APR_EINVAL;
    }
    form = apr_array_make(p, 10, sizeof(vt_param_t));
    vt_params_add(form, "To", call->to);
    vt_params_add(form, "From", call->from);
    vt_params_add(form, "Url", call->url);
    if (call->status_callback) {
        vt_params_add(form, "StatusCallback", call->status_callback);
        /* Repeated, one per event (a space-separated value is the TwiML attribute's form). */
        for (i = 0; i < sizeof events / sizeof events[0]; i++)
            vt_params_add(form, "StatusCallbackEvent", events[i]);
    }
    if (call->machine_detection)
        vt_params_add(form, "MachineDetection", call->machine_detection);
    if (call->timeout_s > 0)
        vt_params_add(form, "Timeout", apr_itoa(p, call->timeout_s));
    return rest_create(p, base, account_sid, auth_token, "Calls", form, timeout_ms, res);
}

apr_status_t vt_rest_call_find(apr_pool_t *p, const char *api_base, const char *account_sid,
                               const char *auth_token, const char *to, const char *from,
                               apr_time_t since, long timeout_ms, vt_rest_result_t *res)
{
    const char *base = rest_prepare(p, api_base, account_sid, auth_token, res);

    if (!base)
        return APR_EINVAL;
    return rest_find(p, base, account_sid, auth_token, "Calls", "calls", to, from, NULL,
                     since, timeout_ms, res);
}

/* 1 when url may receive the tenant's credentials: under the API base or Twilio's API,
 * with no whitespace or control character that a URL parser might read differently. */
static int download_url_allowed(const char *base, const char *url)
{
    size_t n = strlen(base);
    const char *s;

    for (s = url; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f || *s == '\\')
            return 0;
    if (strncmp(url, VT_REST_TWILIO_API, sizeof(VT_REST_TWILIO_API) - 1) == 0)
        return 1;
    return strncmp(url, base, n) == 0 && url[n] == '/';
}

/* Local file errors that may clear by themselves (disk full, too many open files). */
static int errno_retryable(int e)
{
    return e == ENOSPC || e == EDQUOT || e == EIO || e == EMFILE || e == ENFILE || e == EINTR;
}

apr_status_t vt_rest_download(apr_pool_t *p, const char *api_base, const char *url,
                              const char *account_sid, const char *auth_token,
                              const char *dest_path, apr_off_t max_bytes, long timeout_ms,
                              vt_rest_result_t *res)
{
    char buf[128];
    rest_call_t rc;
    const char *tmp;
    apr_status_t rv;
    int ok;
    const char *base = rest_prepare(p, api_base, account_sid, auth_token, res);

    if (!base)
        return APR_EINVAL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        res->message = "the download URL is not an http(s) URL";
        return APR_EINVAL;
    }
    if (!download_url_allowed(base, url)) {
        res->message = "the download URL is neither under the API base nor under "
                       VT_REST_TWILIO_API;
        return APR_EINVAL;
    }
    if (!dest_path || !*dest_path || max_bytes <= 0) {
        res->message = "no destination file or no size limit";
        return APR_EINVAL;
    }
    memset(&rc, 0, sizeof rc);
    rc.kind = REST_DOWNLOAD;
    rc.url = url;
    rc.account_sid = account_sid;
    rc.auth_token = auth_token;
    rc.timeout_ms = timeout_ms;
    rc.max_bytes = max_bytes;
    tmp = apr_pstrcat(p, dest_path, ".tmp", NULL);
    /* O_NOFOLLOW: a planted symlink never redirects the write. */
    rc.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (rc.fd < 0) {
        int e = errno;
        res->message = apr_psprintf(p, "cannot create %s: %s", tmp,
                                    apr_strerror(APR_FROM_OS_ERROR(e), buf, sizeof buf));
        res->retryable = errno_retryable(e);
        return APR_FROM_OS_ERROR(e);
    }
    rv = rest_perform(p, &rc, res);
    ok = rv == APR_SUCCESS && res->http_status >= 200 && res->http_status < 300;
    if (ok && fsync(rc.fd) != 0) {
        int e = errno;
        res->message = apr_psprintf(p, "cannot write %s: %s", tmp,
                                    apr_strerror(APR_FROM_OS_ERROR(e), buf, sizeof buf));
        res->retryable = errno_retryable(e);
        rv = APR_FROM_OS_ERROR(e);
        ok = 0;
    }
    if (close(rc.fd) != 0 && ok) {
        int e = errno;
        res->message = apr_psprintf(p, "cannot write %s: %s", tmp,
                                    apr_strerror(APR_FROM_OS_ERROR(e), buf, sizeof buf));
        res->retryable = errno_retryable(e);
        rv = APR_FROM_OS_ERROR(e);
        ok = 0;
    }
    if (ok && rename(tmp, dest_path) != 0) {
        int e = errno;
        res->message = apr_psprintf(p, "cannot rename %s: %s", tmp,
                                    apr_strerror(APR_FROM_OS_ERROR(e), buf, sizeof buf));
        res->retryable = errno_retryable(e);
        rv = APR_FROM_OS_ERROR(e);
        ok = 0;
    }
    if (!ok)
        unlink(tmp);
    else
        res->message = apr_psprintf(p, "%" APR_OFF_T_FMT " bytes", res->bytes);
    return rv;
}
