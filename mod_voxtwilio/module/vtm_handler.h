/* vtm_handler — the `voxtwilio` handler: maps {Location}/[slug/]route to a route function,
 * and the steps every route shares (tenant, authentication, event write, stock answers). */
#ifndef VTM_HANDLER_H
#define VTM_HANDLER_H

#include <httpd.h>
#include "vt_events.h"
#include "vt_tenant_cache.h"
#include "vtm_db.h"
#include "vtm_request.h"

int vtm_handler(request_rec *r);
/* The path of the <Location> that set our handler ("/voice"), or NULL for a regex section. */
const char *vtm_handler_location(request_rec *r);

typedef enum { VTM_TENANT_OK, VTM_TENANT_NONE, VTM_TENANT_DB_DOWN } vtm_tenant_rc;

/* The webhook's tenant, checked (enabled, has an integration, the request's AccountSid is
 * its); for callback routes also by the call's own row and the calling number. Routes
 * that are not callbacks (inbound: by slug or called number) take it from the child's
 * tenant cache when it is there (VoxTwilioTenantCache): their statement must then check
 * the version (vt_event_inbound_stmt), and the route call vtm_tenant_stale() when it did
 * not match. */
vtm_tenant_rc vtm_resolve_tenant(vtm_webhook_t *w, vt_tenant_t **out);
/* The tenant of w came from the cache and was not current: drops the entry; the next
 * vtm_resolve_tenant(w) looks it up in the database. */
void vtm_tenant_stale(vtm_webhook_t *w);
void vtm_handler_child_init(apr_pool_t *pchild, server_rec *s);
/* OK, HTTP_FORBIDDEN (bad signature) or HTTP_INTERNAL_SERVER_ERROR (token undecryptable). */
int vtm_authenticate(vtm_webhook_t *w, const vt_tenant_t *t);
/* vtm_authenticate, and when a tenant from the cache fails it, the same again with the
 * database's row (*t replaced); HTTP_NOT_FOUND when the database has no such tenant any
 * more, -1 when the database was needed and is down. */
int vtm_authenticate_tenant(vtm_webhook_t *w, vt_tenant_t **t);
/* Builds an event's arguments from the webhook and writes it; VTM_DB_NOT_FOUND when the
 * parameters are unusable. With checked (not NULL), the statement returns one value and
 * *checked is 1 when it is "1" (written: the tenant's version matched), else 0. */
vtm_db_rc vtm_record_event(vtm_webhook_t *w, const vt_tenant_t *t, vt_event_args_fn *args_fn,
                           const vt_event_stmt_t *stmt, int *checked);
/* The same, returning the statement's first row (*row NULL when none). */
vtm_db_rc vtm_record_event_row(vtm_webhook_t *w, const vt_tenant_t *t, vt_event_args_fn *args_fn,
                               const vt_event_stmt_t *stmt, const char ***row, int *ncols);
/* Stores a webhook that is answered without a conversation (a callback, a message): OK
 * once stored or spooled, else the status to answer. A statement that checks the tenant's
 * version writes nothing for a row no longer current: the tenant is then looked up again
 * and the write repeated (as inbound's). With tenant (not NULL): once stored (not
 * spooled), the tenant and the statement's first row (a tenant-cached route's); both NULL
 * when spooled. */
int vtm_store_webhook(vtm_webhook_t *w, vt_event_args_fn *args_fn,
                      const vt_event_stmt_t *stmt, const vt_tenant_t **tenant,
                      const char ***row);
/* POST sms, POST whatsapp (vtm_messages.c). */
int vtm_route_message(vtm_webhook_t *w);
/* Writes the webhook to the outage spool; 1 when it is safely on disk. */
int vtm_spool(vtm_webhook_t *w);
int vtm_send_apology(request_rec *r);
int vtm_send_not_in_service(request_rec *r);

#endif
