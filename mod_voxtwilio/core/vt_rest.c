/* vt_rest — the Twilio REST API client (libcurl + json-c). See vt_rest.h.
 *
 * Credentials are handed to libcurl with CURLOPT_USERNAME/CURLOPT_PASSWORD, so they
 * travel only in the Authorization header: never in the URL, never in an error text
 * (curl's error buffer names the host, never the password), never logged.
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "vt_rest.h"
#include "vt_util.h"

#define VT_REST_BODY_MAX (1024 * 1024)

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

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    body_buf_t *b = userdata;
    size_t n = size * nmemb;

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

/* String member of a JSON object (NULL when absent or null); numbers are rendered. */
static const char *json_str(apr_pool_t *p, json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !v || json_object_is_type(v, json_type_null))
        return NULL;
    return apr_pstrdup(p, json_object_get_string(v));
}

/* Fills res from the body: Twilio's error document on non-2xx, the account summary on
 * 2xx. */
static void parse_body(apr_pool_t *p, vt_rest_result_t *res)
{
    json_object *o = res->body ? json_tokener_parse(res->body) : NULL;
    int ok = res->http_status >= 200 && res->http_status < 300;

    if (!o || !json_object_is_type(o, json_type_object)) {
        if (ok)
            res->message = "the answer is not a JSON object";
        else
            res->message = "no Twilio error document in the answer";
        json_object_put(o);
        return;
    }
    if (ok) {
        const char *name = json_str(p, o, "friendly_name");
        const char *status = json_str(p, o, "status");
        const char *type = json_str(p, o, "type");
        res->message = apr_psprintf(p, "%s (%s, %s)", name ? name : "(no name)",
                                    status ? status : "?", type ? type : "?");
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
}

apr_status_t vt_rest_account_fetch(apr_pool_t *p, const char *api_base, const char *account_sid,
                                   const char *auth_token, long timeout_ms, vt_rest_result_t *res)
{
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = NULL;
    body_buf_t body = { NULL, 0, 0, 0 };
    const char *base_err = NULL, *base, *url;
    CURL *h;
    CURLcode cc;
    long status = 0;

    memset(res, 0, sizeof *res);
    if (!account_sid || !vt_sid_valid(account_sid, "AC")) {
        res->message = "invalid account SID (AC followed by 32 hex digits expected)";
        return APR_EINVAL;
    }
    if (!auth_token || !*auth_token) {
        res->message = "empty auth token";
        return APR_EINVAL;
    }
    base = api_base ? vt_base_url_normalize(p, api_base, &base_err) : NULL;
    if (!base) {
        res->message = apr_psprintf(p, "invalid API base URL: %s",
                                    base_err ? base_err : "missing");
        return APR_EINVAL;
    }
    url = apr_pstrcat(p, base, "/2010-04-01/Accounts/", account_sid, ".json", NULL);

    vt_rest_global_init();
    h = curl_easy_init();
    if (!h) {
        res->message = "cannot create a libcurl handle";
        return APR_ENOMEM;
    }
    errbuf[0] = '\0';
    headers = curl_slist_append(headers, "Accept: application/json");

    curl_easy_setopt(h, CURLOPT_URL, url);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, account_sid);
    curl_easy_setopt(h, CURLOPT_PASSWORD, auth_token);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, VT_REST_UA);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);

    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);

    res->http_status = status;
    if (body.data)
        res->body = apr_pstrmemdup(p, body.data, body.len);
    free(body.data);

    if (cc != CURLE_OK) {
        if (body.overflow)
            res->message = apr_psprintf(p, "the answer is larger than %d bytes",
                                        VT_REST_BODY_MAX);
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
        return APR_EGENERAL;
    }
    parse_body(p, res);
    return APR_SUCCESS;
}
