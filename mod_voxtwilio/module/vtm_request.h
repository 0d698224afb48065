/* vtm_request — one Twilio webhook request: body read under the size limit, form parsed,
 * signature verified against the URL Twilio signed, TwiML sent back.
 */
#ifndef VTM_REQUEST_H
#define VTM_REQUEST_H

#include <httpd.h>
#include <apr_tables.h>
#include "vt_routes.h"
#include "vtm_config.h"

#define VTM_MAX_PARAMS 256

typedef struct vtm_webhook {
    request_rec *r;
    const vtm_srv_conf_t *conf;
    const vt_route_t *route;
    const char *slug;            /* tenant from the path or VoxTwilioTenant, or NULL */
    const char *body;            /* raw body (NUL-terminated copy) */
    apr_size_t body_len;
    apr_array_header_t *params;  /* vt_param_t, decoded form (empty for JSON bodies) */
    const char *call_sid;        /* validated CallSid, or NULL */
    const char *subject;         /* what log lines name: "CallSid CA…", "MessageSid SM…" */
    /* The tenant cache (vtm_handler.c): the entry's key, whether the tenant came from it,
     * and whether it must not (it was stale: looked up again). */
    const char *tenant_key;
    int tenant_cached, tenant_uncached;
} vtm_webhook_t;

/* Reads and parses the body. Returns OK, or the HTTP status to answer with:
 * 413 over VoxTwilioMaxBody, 415 for a content type other than a form (or JSON signed with
 * bodySHA256), 400 for a malformed form. */
int vtm_request_read(vtm_webhook_t *w);

/* Where Twilio reaches this server: VoxTwilioPublicURL, else this request's scheme and Host
 * ("https://calls.example.com"). */
const char *vtm_request_origin(request_rec *r, const vtm_srv_conf_t *conf);

/* The URL Twilio signed: VoxTwilioPublicURL (or this request's scheme and Host) followed by
 * the request-URI exactly as received. Never derived from X-Forwarded-* headers. */
const char *vtm_request_signed_url(const vtm_webhook_t *w);

/* OK when X-Twilio-Signature is valid for auth_token (or VoxTwilioSignature Off), else
 * HTTP_FORBIDDEN. Logs why at info level, never the token or the signature. */
int vtm_request_verify(const vtm_webhook_t *w, const char *auth_token);

/* Sends a TwiML document: 200, text/xml; charset=utf-8, explicit Content-Length, not
 * compressed or chunked (Twilio mishandles chunked bodies), not cached. */
int vtm_send_twiml(request_rec *r, const char *doc, apr_size_t len);

#endif
