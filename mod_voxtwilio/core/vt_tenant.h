/* vt_tenant — finding the tenant of a Twilio webhook, written once for the module (mod_dbd)
 * and the helper (libpq, replaying the outage spool). The caller supplies only the database
 * access, as a lookup callback running one of the statements below.
 *
 * Order: the path's slug if there is one; else, for callbacks about an existing call, the
 * call's own row; else the called number (To); else, for callbacks (outbound calls), the
 * calling number (From). The tenant must be enabled, have an enabled Twilio integration,
 * and the request's AccountSid must be its own: a tenant never answers another account's call.
 */
#ifndef VT_TENANT_H
#define VT_TENANT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vt_events.h"

typedef struct vt_tenant {
    const char *company_id;         /* decimal; also the credential's associated data */
    const char *slug;
    int enabled;
    const char *greeting, *voice, *language;
    int has_integration;            /* 0 when the company has no Twilio integration yet */
    int integration_enabled;
    const char *account_sid;
    const char *token_blob_hex;     /* the sealed auth token */
    const char *key_id;
    const char *escalation_phone;   /* E.164 or NULL: where a caller asking for a human goes */
    const char *notification_phone; /* E.164 or NULL: who gets an SMS when a call escalates */
    const char *assistant_script;   /* the script assistant's JSON, or NULL for the built-ins */
} vt_tenant_t;

/* Each selects VT_TENANT_NCOLS columns, in vt_tenant_from_row's order, by one key. */
#define VT_TENANT_NCOLS 14
extern const vt_event_stmt_t vt_tenant_by_number_stmt;
extern const vt_event_stmt_t vt_tenant_by_slug_stmt;
extern const vt_event_stmt_t vt_tenant_by_call_stmt;

/* Fills t from one result row (cols[i] NULL for SQL NULL; strings are referenced, not
 * copied: copy them into p first if the row does not outlive t). */
void vt_tenant_from_row(const char *const *cols, vt_tenant_t *t);

/* Runs stmt with key; 1 found (*t filled), 0 no row, -1 the database failed. */
typedef int vt_tenant_lookup_fn(void *baton, const vt_event_stmt_t *stmt, const char *key,
                                vt_tenant_t *t);

typedef enum {
    VT_TENANT_FOUND = 0,
    VT_TENANT_REFUSED,   /* unknown, disabled, no integration or a foreign AccountSid */
    VT_TENANT_DB_FAILED
} vt_tenant_rc;

/* Resolves and checks the tenant of a webhook. On VT_TENANT_REFUSED *why says why (it may
 * name the slug or number, never a secret). */
vt_tenant_rc vt_tenant_resolve(apr_pool_t *p, vt_tenant_lookup_fn *lookup, void *baton,
                               const char *slug, const apr_array_header_t *params,
                               int is_callback, vt_tenant_t *t, const char **why);

#endif
