/* vtm_handler — webhook routing and the voice routes.
 *
 * Every route: POST only (405), body limited (413), form parsed (400), tenant resolved
 * (by slug or the called number), the request's AccountSid checked against the tenant's,
 * X-Twilio-Signature verified with the tenant's decrypted auth token (403). Callers always
 * hear valid TwiML: an unknown tenant gets "not in service", a database outage an apology.
 */
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_core.h>
#include "vt_events.h"
#include "vt_form.h"
#include "vt_keyring.h"
#include "vt_messages.h"
#include "vt_twiml.h"
#include "vt_util.h"
#include "vt_voice.h"
#include "vtm_db.h"
#include "vtm_conversation.h"
#include "vtm_handler.h"
#include "vtm_module.h"
#include "vtm_request.h"
#include "vtm_spool.h"
#include "vtm_status.h"

APLOG_USE_MODULE(voxtwilio);

int vtm_send_apology(request_rec *r)
{
    apr_size_t len;
    const char *doc = vt_voice_apology(r->pool, &len);

    return vtm_send_twiml(r, doc, len);
}

int vtm_send_not_in_service(request_rec *r)
{
    apr_size_t len;
    const char *doc = vt_voice_not_in_service(r->pool, &len);

    return vtm_send_twiml(r, doc, len);
}

/* This child's tenant rows (VoxTwilioTenantCache), made in child_init. */
static vt_tenant_cache_t *tenants;

void vtm_handler_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv = vt_tenant_cache_create(pchild, vtm_srv_conf(s)->tenant_cache, &tenants);

    if (rv != APR_SUCCESS) {
        /* Every webhook then looks its tenant up: slower, still correct. */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     VTLOGNO(10309) "could not create the tenant cache");
        tenants = NULL;
    }
}

/* The number of the tenant a callback is about: the called one, or for a call the tenant
 * placed, the caller ID. */
static const char *own_number(const apr_array_header_t *params)
{
    const char *direction = vt_params_get(params, "Direction");

    return vt_params_get(params, direction && strncmp(direction, "outbound", 8) == 0 ? "From"
                                                                                     : "To");
}

/* The slug's or the number's row, from the cache or (then kept) the database. */
static int cached_row(vtm_webhook_t *w, const vt_event_stmt_t *st, const char *key,
                      vt_tenant_t *t)
{
    int rc;

    w->tenant_key = apr_pstrcat(w->r->pool, st == &vt_tenant_by_slug_stmt ? "s:" : "n:", key,
                                NULL);
    if (!w->tenant_uncached && vt_tenant_cache_get(tenants, w->r->pool, w->tenant_key, t)) {
        w->tenant_cached = 1;
        vtm_status_count(VTM_STAT_TENANT_CACHE_HITS);
        return 1;
    }
    w->tenant_cached = 0;
    vtm_status_count(VTM_STAT_TENANT_CACHE_MISSES);
    rc = vtm_db_tenant_lookup(w->r, st, key, t);
    if (rc == 1 && t->version) {
        vt_tenant_cache_put(tenants, w->tenant_key, t->row);
    }
    return rc;
}

/* vt_tenant_lookup_fn through the cache, for the routes whose statement checks the
 * tenant's version (vt_route_t.tenant_cached). A callback's call is first looked for as
 * the row of its own number, which the cache holds (a hint: the statement checks that the
 * call is that company's, and a row that refuses is checked again); once such a hint
 * failed, or when the number is no tenant's, by the call's row in the database. */
static int cached_lookup(void *baton, const vt_event_stmt_t *st, const char *key,
                         vt_tenant_t *t)
{
    vtm_webhook_t *w = baton;
    const char *own;
    int rc;

    if (st != &vt_tenant_by_call_stmt) {
        return cached_row(w, st, key, t);
    }
    own = own_number(w->params);
    if (!w->tenant_uncached && own && vt_e164_valid(own)) {
        rc = cached_row(w, &vt_tenant_by_number_stmt, own, t);
        if (rc != 0) {
            w->tenant_cached = 1; /* from the database too: only a hint for this call */
            return rc;
        }
    }
    w->tenant_cached = 0;
    return vtm_db_tenant_lookup(w->r, st, key, t);
}

void vtm_tenant_stale(vtm_webhook_t *w)
{
    if (w->tenant_cached) {
        vt_tenant_cache_drop(tenants, w->tenant_key);
        vtm_status_count(VTM_STAT_TENANT_CACHE_STALE);
    }
    w->tenant_cached = 0;
    w->tenant_uncached = 1;
}

/* Finds the tenant of a webhook and checks it may take this call (vt_tenant.h). */
vtm_tenant_rc vtm_resolve_tenant(vtm_webhook_t *w, vt_tenant_t **out)
{
    request_rec *r = w->r;
    vt_tenant_t *t = apr_pcalloc(r->pool, sizeof(*t));
    const char *why = NULL;
    int cache = tenants && w->route->tenant_cached;
    vt_tenant_rc rc = vt_tenant_resolve(r->pool, cache ? cached_lookup : vtm_db_tenant_lookup,
                                        cache ? (void *)w : (void *)r, w->slug, w->params,
                                        w->route->is_callback, t, &why);

    if (rc == VT_TENANT_REFUSED && w->tenant_cached) {
        /* A cached row that refuses the call may be an old one (the tenant enabled since):
         * only the database's refusal counts. */
        vtm_tenant_stale(w);
        return vtm_resolve_tenant(w, out);
    }
    switch (rc) {
    case VT_TENANT_DB_FAILED:
        vtm_status_count(VTM_STAT_DB_UNAVAILABLE);
        return VTM_TENANT_DB_DOWN;
    case VT_TENANT_REFUSED:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, VTLOGNO(10301) "%s: %s",
                      w->subject, ap_escape_logitem(r->pool, why));
        return VTM_TENANT_NONE;
    case VT_TENANT_FOUND:
        break;
    }
    *out = t;
    return VTM_TENANT_OK;
}

/* Decrypts the tenant's auth token and verifies the request with it; a mismatch is counted
 * when count is set (once per request, however many rows it was checked against). */
static int authenticate(vtm_webhook_t *w, const vt_tenant_t *t, int count)
{
    request_rec *r = w->r;
    const char *token, *err;

    if (!w->conf->signature) {
        return OK;
    }
    if (!w->conf->keyring
        || vt_secret_decrypt(r->pool, w->conf->keyring, t->company_id, t->key_id,
                             t->token_blob_hex, &token, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      VTLOGNO(10303) "%s: cannot decrypt the auth token of tenant %s: "
                      "%s (is key %s in VoxTwilioKeyFile?)",
                      w->subject, t->slug, w->conf->keyring ? err : "no key file", t->key_id);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (vtm_request_verify(w, token) != OK) {
        if (count) {
            vtm_status_count(VTM_STAT_SIGNATURE_FAILURES);
        }
        return HTTP_FORBIDDEN;
    }
    return OK;
}

int vtm_authenticate(vtm_webhook_t *w, const vt_tenant_t *t)
{
    return authenticate(w, t, 1);
}

int vtm_authenticate_tenant(vtm_webhook_t *w, vt_tenant_t **t)
{
    int status = authenticate(w, *t, !w->tenant_cached);

    if (status != OK && w->tenant_cached) {
        /* The token may have changed since the row was cached: the database's row
         * decides. */
        vtm_tenant_stale(w);
        switch (vtm_resolve_tenant(w, t)) {
        case VTM_TENANT_DB_DOWN:
            if (status == HTTP_FORBIDDEN) {
                vtm_status_count(VTM_STAT_SIGNATURE_FAILURES);
            }
            return -1;
        case VTM_TENANT_NONE:
            return HTTP_NOT_FOUND;
        case VTM_TENANT_OK:
            break;
        }
        status = vtm_authenticate(w, *t);
    }
    return status;
}

/* Builds the event's arguments and writes it. VTM_DB_NOT_FOUND: the parameters were
 * unusable (logged). */
vtm_db_rc vtm_record_event_row(vtm_webhook_t *w, const vt_tenant_t *t, vt_event_args_fn *args_fn,
                               const vt_event_stmt_t *stmt, const char ***row, int *ncols)
{
    const char *err = NULL;
    const char **args = args_fn(w->r->pool, w->params, t->company_id, t->version,
                                apr_table_get(w->r->headers_in, "I-Twilio-Idempotency-Token"),
                                &err);

    if (row) {
        *row = NULL;
        *ncols = 0;
    }
    if (!args) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, w->r, VTLOGNO(10308) "%s: %s: %s",
                      w->subject, w->route->name, err);
        return VTM_DB_NOT_FOUND;
    }
    return row ? vtm_db_event_row(w->r, stmt, args, row, ncols)
               : vtm_db_event(w->r, stmt, args);
}

vtm_db_rc vtm_record_event(vtm_webhook_t *w, const vt_tenant_t *t, vt_event_args_fn *args_fn,
                           const vt_event_stmt_t *stmt, int *checked)
{
    const char **row = NULL;
    int ncols = 0;
    vtm_db_rc rc;

    if (!checked) {
        return vtm_record_event_row(w, t, args_fn, stmt, NULL, NULL);
    }
    rc = vtm_record_event_row(w, t, args_fn, stmt, &row, &ncols);
    *checked = row && ncols > 0 && row[0] && strcmp(row[0], "1") == 0;
    return rc;
}

/* Keeps a webhook the database could not take; voxtwilio-helper replays it later. */
int vtm_spool(vtm_webhook_t *w)
{
    return vtm_spool_write(w->r, w->route->name, w->slug, vtm_request_signed_url(w), w->body,
                           w->body_len) == APR_SUCCESS;
}

/* Resolves and authenticates a callback: OK, or the status to answer; -1: the database is
 * down (the request is not authenticated yet). */
static int callback_tenant(vtm_webhook_t *w, vt_tenant_t **t)
{
    int status;

    switch (vtm_resolve_tenant(w, t)) {
    case VTM_TENANT_DB_DOWN:
        return -1;
    case VTM_TENANT_NONE:
        return HTTP_NOT_FOUND;
    case VTM_TENANT_OK:
        break;
    }
    status = vtm_authenticate_tenant(w, t);
    return status == HTTP_INTERNAL_SERVER_ERROR ? HTTP_SERVICE_UNAVAILABLE : status;
}

int vtm_store_webhook(vtm_webhook_t *w, vt_event_args_fn *args_fn,
                      const vt_event_stmt_t *stmt, const vt_tenant_t **tenant,
                      const char ***row)
{
    request_rec *r = w->r;
    vt_tenant_t *t = NULL;
    vtm_db_rc rc = VTM_DB_UNAVAILABLE;
    const char **cols = NULL;
    int status, attempt, current = 0, ncols = 0;

    if (tenant) {
        *tenant = NULL;
        *row = NULL;
    }
    for (attempt = 0; attempt < 3 && !current; attempt++) {
        if (attempt > 0) {
            vtm_tenant_stale(w);
        }
        status = callback_tenant(w, &t);
        if (status == -1) {
            /* The helper verifies the signature before it writes. */
            rc = VTM_DB_UNAVAILABLE;
            break;
        }
        if (status != OK) {
            return status;
        }
        if (!w->route->tenant_cached) {
            rc = vtm_record_event_row(w, t, args_fn, stmt, NULL, NULL);
            break;
        }
        rc = vtm_record_event_row(w, t, args_fn, stmt, &cols, &ncols);
        if (rc != VTM_DB_OK) {
            break;
        }
        current = cols && ncols > 0 && cols[0] && strcmp(cols[0], "1") == 0;
    }
    if (rc == VTM_DB_OK && w->route->tenant_cached && !current) {
        rc = VTM_DB_UNAVAILABLE; /* changed three times under this request: replayed later */
    }
    switch (rc) {
    case VTM_DB_OK:
        if (tenant) {
            *tenant = t;
            *row = cols;
        }
        break;
    case VTM_DB_NOT_FOUND:
        return HTTP_BAD_REQUEST;
    case VTM_DB_UNAVAILABLE:
        if (!vtm_spool(w)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          VTLOGNO(10307) "%s: %s not stored (database unavailable)",
                          w->subject, w->route->name);
            return HTTP_SERVICE_UNAVAILABLE;
        }
        break;
    }
    return OK;
}

/* Callbacks (status, recording) answer 204 once stored (or spooled); they carry no TwiML. */
static int route_callback(vtm_webhook_t *w, vt_event_args_fn *args_fn,
                          const vt_event_stmt_t *stmt)
{
    int status = vtm_store_webhook(w, args_fn, stmt, NULL, NULL);

    if (status == OK) {
        w->r->status = HTTP_NO_CONTENT;
    }
    return status;
}

/* POST status-callback — call progress: stored once, the call row only moves forward. */
static int route_status_callback(vtm_webhook_t *w)
{
    return route_callback(w, vt_event_status_args, &vt_event_status_stmt);
}

/* POST recording — a recording is ready: stored on the call, its download queued. */
static int route_recording(vtm_webhook_t *w)
{
    return route_callback(w, vt_event_recording_args, &vt_event_recording_stmt);
}

/* POST message-status — an outbound message's progress: the row only moves forward. */
static int route_message_status(vtm_webhook_t *w)
{
    return route_callback(w, vt_message_status_args, &vt_message_status_stmt);
}

/* Each route of vt_routes[] and the function that answers it. */
static int (*const handlers[VT_ROUTE_COUNT])(vtm_webhook_t *w) = {
    [VT_ROUTE_INBOUND] = vtm_route_inbound,
    [VT_ROUTE_SPEECH] = vtm_route_speech,
    [VT_ROUTE_ESCALATE] = vtm_route_escalate,
    [VT_ROUTE_STATUS_CALLBACK] = route_status_callback,
    [VT_ROUTE_RECORDING] = route_recording,
    [VT_ROUTE_STREAM_END] = vtm_route_stream_end,
    [VT_ROUTE_SMS] = vtm_route_message,
    [VT_ROUTE_WHATSAPP] = vtm_route_message,
    [VT_ROUTE_MESSAGE_STATUS] = route_message_status,
};

/* The path of the <Location> that set our handler, or NULL for a regex section. Core's
 * per-directory config always exists there (SetHandler is a core directive) and records
 * the innermost matching section's path; a module of our own would get a per-directory
 * config only in sections holding one of its directives. */
const char *vtm_handler_location(request_rec *r)
{
    const core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);

    return (cd && cd->d && !cd->r && !cd->d_is_fnmatch) ? cd->d : NULL;
}

/* Splits the URI below the handler's Location into [slug/]route. 0 if it has another shape. */
static int parse_path(request_rec *r, const char **slug, const char **route)
{
    const char *loc = vtm_handler_location(r), *rest = r->uri, *slash;
    apr_size_t n = loc ? strlen(loc) : 0;

    while (n > 0 && loc[n - 1] == '/') {
        n--; /* "/voice/" and "/voice" mount the same place */
    }
    if (n > 0 && strncmp(rest, loc, n) == 0 && (rest[n] == '/' || rest[n] == '\0')) {
        rest += n;
    }
    while (*rest == '/') {
        rest++;
    }
    slash = strchr(rest, '/');
    if (!slash) {
        *slug = NULL;
        *route = rest;
        return *rest != '\0';
    }
    if (strchr(slash + 1, '/')) {
        return 0;
    }
    *slug = apr_pstrmemdup(r->pool, rest, slash - rest);
    *route = slash + 1;
    return vt_slug_valid(*slug) && **route;
}

int vtm_handler(request_rec *r)
{
    vtm_webhook_t w = { .r = r, .conf = vtm_srv_conf(r->server) };
    const char *path_slug, *route;
    const vt_route_t *rt;
    int status;

    if (!r->handler || strcmp(r->handler, "voxtwilio") != 0) {
        return DECLINED;
    }
    if (!w.conf->enabled || !parse_path(r, &path_slug, &route)) {
        return HTTP_NOT_FOUND;
    }
    rt = vt_route_find(route);
    if (!rt || !handlers[rt->id]) {
        return HTTP_NOT_FOUND;
    }
    /* A vhost fixed to one tenant serves no other tenant's path. */
    if (w.conf->tenant && path_slug && strcmp(w.conf->tenant, path_slug) != 0) {
        return HTTP_NOT_FOUND;
    }
    w.slug = w.conf->tenant ? w.conf->tenant : path_slug;
    w.route = rt;
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_POST, -1);
    if (r->method_number != M_POST) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    status = vtm_request_read(&w);
    if (status != OK) {
        return status;
    }
    w.call_sid = vt_params_get(w.params, "CallSid");
    if (rt->needs_call_sid && !vt_sid_valid(w.call_sid, "CA")) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      VTLOGNO(10306) "%s: missing or malformed CallSid", route);
        return HTTP_BAD_REQUEST;
    }
    if (w.call_sid) {
        apr_table_setn(r->notes, "VT-CallSid", w.call_sid); /* LogFormat %{VT-CallSid}n */
        w.subject = apr_pstrcat(r->pool, "CallSid ", w.call_sid, NULL);
    }
    if (rt->is_message) {
        const char *sid = vt_message_sid(w.params);
        if (!sid) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          VTLOGNO(10310) "%s: missing or malformed MessageSid", route);
            return HTTP_BAD_REQUEST;
        }
        apr_table_setn(r->notes, "VT-MessageSid", sid);
        w.subject = apr_pstrcat(r->pool, "MessageSid ", sid, NULL);
    }
    if (!w.subject) {
        w.subject = "(no CallSid)";
    }
    vtm_status_count(VTM_STAT_WEBHOOKS);
    return handlers[rt->id](&w);
}
