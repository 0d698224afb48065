/* vtm_request — reading, authenticating and answering one webhook. */
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include <util_filter.h>
#include "vt_form.h"
#include "vt_signature.h"
#include "vt_util.h"
#include "vtm_module.h"
#include "vtm_request.h"

APLOG_USE_MODULE(voxtwilio);

static int has_media_type(const char *ct, const char *type)
{
    apr_size_t n = strlen(type);

    if (!ct || strncasecmp(ct, type, n) != 0) {
        return 0;
    }
    ct += n;
    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    return *ct == '\0' || *ct == ';';
}

/* Reads the whole body, at most max bytes. Works for Content-Length and chunked bodies
 * alike (ap_get_client_block would see nothing of a chunked body). */
static int read_body(request_rec *r, apr_int64_t max, char **out, apr_size_t *outlen)
{
    const char *cl = apr_table_get(r->headers_in, "Content-Length");
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    apr_size_t len = 0;
    char *buf;
    int seen_eos = 0;

    if (cl && apr_atoi64(cl) > max) {
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    buf = apr_palloc(r->pool, (apr_size_t)max + 1);
    do {
        apr_bucket *b;
        apr_status_t rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                                         APR_BLOCK_READ, HUGE_STRING_LEN);
        if (rv != APR_SUCCESS) {
            /* Includes LimitRequestBody and client aborts. */
            return ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;

            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (apr_bucket_read(b, &data, &n, APR_BLOCK_READ) != APR_SUCCESS) {
                return HTTP_BAD_REQUEST;
            }
            if ((apr_int64_t)(len + n) > max) {
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            memcpy(buf + len, data, n);
            len += n;
        }
        apr_brigade_cleanup(bb);
    } while (!seen_eos);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return OK;
}

int vtm_request_read(vtm_webhook_t *w)
{
    request_rec *r = w->r;
    const char *ct = apr_table_get(r->headers_in, "Content-Type");
    int is_form = has_media_type(ct, "application/x-www-form-urlencoded");
    char *body = NULL;
    apr_size_t len = 0;
    int status;

    /* JSON bodies are only meaningful when Twilio signed them with bodySHA256. */
    if (!is_form && !(has_media_type(ct, "application/json") && r->args
                      && ap_strstr_c(r->args, "bodySHA256="))) {
        return HTTP_UNSUPPORTED_MEDIA_TYPE;
    }
    status = read_body(r, w->conf->max_body, &body, &len);
    if (status != OK) {
        return status;
    }
    w->body = body;
    w->body_len = len;
    if (!is_form) {
        w->params = apr_array_make(r->pool, 1, sizeof(vt_param_t));
        return OK;
    }
    vt_form_rc rc = vt_form_parse(r->pool, body, len, VTM_MAX_PARAMS, &w->params);
    if (rc != VT_FORM_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VTLOGNO(10201) "malformed form body: %s",
                      vt_form_strerror(rc));
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

const char *vtm_request_origin(request_rec *r, const vtm_srv_conf_t *conf)
{
    const char *host;

    if (conf->public_url) {
        return conf->public_url;
    }
    /* The Host header is what Twilio put in the URL it signed, port included. */
    host = apr_table_get(r->headers_in, "Host");
    if (!host || !*host) {
        host = apr_psprintf(r->pool, "%s:%u", r->server->server_hostname,
                            (unsigned)ap_get_server_port(r));
    }
    return apr_pstrcat(r->pool, ap_http_scheme(r), "://", host, NULL);
}

const char *vtm_request_signed_url(const vtm_webhook_t *w)
{
    return apr_pstrcat(w->r->pool, vtm_request_origin(w->r, w->conf), w->r->unparsed_uri,
                       NULL);
}

int vtm_request_verify(const vtm_webhook_t *w, const char *auth_token)
{
    request_rec *r = w->r;
    const char *sig;
    vt_sig_rc rc;

    if (!w->conf->signature) {
        return OK;
    }
    sig = apr_table_get(r->headers_in, "X-Twilio-Signature");
    rc = vt_signature_verify(r->pool, auth_token, vtm_request_signed_url(w), w->params, w->body,
                             w->body_len, sig);
    if (rc == VT_SIG_OK) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  VTLOGNO(10202) "CallSid %s: signature rejected (%s) for %s",
                  w->call_sid ? w->call_sid : "-",
                  rc == VT_SIG_MISSING     ? "no X-Twilio-Signature header"
                  : rc == VT_SIG_BODY_HASH ? "body does not match bodySHA256"
                                           : "no URL variant matches",
                  ap_escape_logitem(r->pool, vtm_request_signed_url(w)));
    return HTTP_FORBIDDEN;
}

int vtm_send_twiml(request_rec *r, const char *doc, apr_size_t len)
{
    ap_set_content_type(r, "text/xml; charset=utf-8");
    ap_set_content_length(r, len);
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    /* mod_deflate would drop Content-Length and chunk the answer. */
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    if (!r->header_only) {
        ap_rwrite(doc, (int)len, r);
    }
    return OK;
}
