/* vtm_stream — the stream URL and the check of stream upgrades; see vtm_stream.h. */
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include "vt_keyring.h"
#include "vt_signature.h"
#include "vt_tenant.h"
#include "vt_util.h"
#include "vtm_db.h"
#include "vtm_handler.h"
#include "vtm_module.h"
#include "vtm_request.h"
#include "vtm_status.h"
#include "vtm_stream.h"

APLOG_USE_MODULE(voxtwilio);

/* The request's URI minus its last segment ("/voice/acme/inbound" -> "/voice/acme"), and
 * minus the slug segment when the path named the tenant: where the handler is mounted, for a
 * handler in a regex section (no Location path to read). */
static const char *mount_of(request_rec *r, const char *slug)
{
    char *prefix = apr_pstrdup(r->pool, r->uri), *slash = strrchr(prefix, '/');
    apr_size_t n;

    if (slash) {
        *slash = '\0';
    }
    n = strlen(prefix);
    if (slug && n > strlen(slug) && strcmp(prefix + n - strlen(slug), slug) == 0
        && prefix[n - strlen(slug) - 1] == '/') {
        prefix[n - strlen(slug) - 1] = '\0';
    }
    return prefix;
}

const char *vtm_stream_url(request_rec *r, const vtm_srv_conf_t *conf, const char *slug,
                           const char *call_sid)
{
    const char *origin = vtm_request_origin(r, conf), *host = strstr(origin, "://");
    const char *loc = vtm_handler_location(r);
    apr_size_t n;

    if (conf->stream_direct_url) {
        /* The helper's direct listener, behind the balancer: no Apache path in it. */
        return apr_psprintf(r->pool, "%s/" VTM_STREAM_SEGMENT "/%s/%s", conf->stream_direct_url,
                            slug, call_sid);
    }
    loc = loc ? loc : mount_of(r, slug);
    n = strlen(loc);
    while (n > 0 && loc[n - 1] == '/') {
        n--;
    }
    /* Twilio only opens wss:// streams, whatever the webhooks' scheme. */
    return apr_psprintf(r->pool, "wss://%s%.*s/" VTM_STREAM_SEGMENT "/%s/%s",
                        host ? host + 3 : origin, (int)n, loc, slug, call_sid);
}

static int is_websocket_upgrade(request_rec *r)
{
    const char *up = apr_table_get(r->headers_in, "Upgrade");

    return up && ap_find_token(r->pool, up, "websocket");
}

static apr_status_t stream_ended(void *data)
{
    vtm_status_uncount(VTM_STAT_STREAMS_LIVE);
    return APR_SUCCESS;
}

/* The tenant of the stream and its signature: OK, or the HTTP status that refuses it. */
static int stream_check(request_rec *r, const vtm_srv_conf_t *conf, const char *slug,
                        const char *url)
{
    vt_tenant_t t;
    const char *token = NULL, *err = NULL;
    vt_sig_rc sig;

    memset(&t, 0, sizeof t);
    if (conf->tenant && strcmp(conf->tenant, slug) != 0) {
        return HTTP_NOT_FOUND;
    }
    switch (vtm_db_tenant_lookup(r, &vt_tenant_by_slug_stmt, slug, &t)) {
    case -1:
        vtm_status_count(VTM_STAT_DB_UNAVAILABLE);
        return HTTP_SERVICE_UNAVAILABLE;
    case 0:
        return HTTP_NOT_FOUND;
    default:
        break;
    }
    if (!t.enabled || !t.has_integration || !t.integration_enabled) {
        return HTTP_NOT_FOUND;
    }
    if (!conf->signature) {
        return OK;
    }
    if (!conf->keyring
        || vt_secret_decrypt(r->pool, conf->keyring, t.company_id, t.key_id, t.token_blob_hex,
                             &token, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      VTLOGNO(10801) "stream of tenant %s: cannot decrypt its auth token: %s "
                      "(is key %s in VoxTwilioKeyFile?)",
                      slug, conf->keyring ? err : "no key file", t.key_id);
        return HTTP_SERVICE_UNAVAILABLE;
    }
    sig = vt_signature_verify(r->pool, token, url, NULL, NULL, 0,
                              apr_table_get(r->headers_in, "X-Twilio-Signature"));
    if (sig != VT_SIG_OK) {
        vtm_status_count(VTM_STAT_SIGNATURE_FAILURES);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VTLOGNO(10802) "stream upgrade refused: %s for %s",
                      sig == VT_SIG_MISSING ? "no X-Twilio-Signature header"
                                            : "signature does not match",
                      ap_escape_logitem(r->pool, url));
        return HTTP_FORBIDDEN;
    }
    return OK;
}

int vtm_stream_fixups(request_rec *r)
{
    const vtm_srv_conf_t *conf = vtm_srv_conf(r->server);
    const char *slug, *call_sid, *origin, *host, *url;
    int status;

    if (!conf->enabled || !ap_is_initial_req(r) || !is_websocket_upgrade(r)
        || !vt_stream_path_parse(r->pool, r->uri, &slug, &call_sid)) {
        return DECLINED;
    }
    /* Only this module says which URL was checked. */
    apr_table_unset(r->headers_in, VTM_STREAM_URL_HEADER);
    origin = vtm_request_origin(r, conf);
    host = strstr(origin, "://");
    url = apr_pstrcat(r->pool, "wss://", host ? host + 3 : origin, r->unparsed_uri, NULL);
    apr_table_setn(r->notes, "VT-CallSid", call_sid);
    status = r->method_number == M_GET ? stream_check(r, conf, slug, url) : HTTP_BAD_REQUEST;
    if (status != OK) {
        vtm_status_count(VTM_STAT_STREAMS_REFUSED);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VTLOGNO(10803) "CallSid %s: stream of tenant %s refused (%d)", call_sid,
                      slug, status);
        return status;
    }
    apr_table_setn(r->headers_in, VTM_STREAM_URL_HEADER, url);
    vtm_status_count(VTM_STAT_STREAMS);
    vtm_status_count(VTM_STAT_STREAMS_LIVE);
    apr_pool_cleanup_register(r->pool, NULL, stream_ended, apr_pool_cleanup_null);
    return DECLINED;
}
