/* vtm_db — the module's database access through mod_dbd's pooled connections.
 *
 * Each call takes a pooled connection for its statement only (ap_dbd_open/close), so no
 * connection is held while the request does other work. Statements are prepared by
 * mod_dbd on every new connection; when PostgreSQL restarted under a pooled connection,
 * mod_dbd resets it and the server-side PREPAREs are gone, so a failed statement is
 * re-prepared on that connection and run once more before the database counts as down.
 */
#ifndef VTM_DB_H
#define VTM_DB_H

#include <httpd.h>
#include <http_config.h>
#include "vt_events.h"
#include "vt_group_commit.h"
#include "vt_llm.h"
#include "vt_tenant.h"

typedef enum {
    VTM_DB_OK = 0,
    VTM_DB_NOT_FOUND,
    VTM_DB_UNAVAILABLE /* no connection, or the statement failed */
} vtm_db_rc;


/* Config time (from `VoxTwilio On`): registers our statements with mod_dbd for this server.
 * Returns an error message when mod_dbd is not loaded. */
const char *vtm_db_register_statements(cmd_parms *cmd);

/* This child's group commit (VoxTwilioGroupCommit): webhook writes (vtm_db_event,
 * vtm_db_event_value) arriving together share a transaction (vt_group_commit.h). */
void vtm_db_child_init(apr_pool_t *pchild, server_rec *s);

/* vt_tenant_lookup_fn over mod_dbd; baton is the request_rec. */
int vtm_db_tenant_lookup(void *baton, const vt_event_stmt_t *st, const char *key,
                         vt_tenant_t *t);

/* For mod_status: calls in progress (last 4 hours), jobs pending or running, jobs failed;
 * each -1 when the database cannot say. */
void vtm_db_status_counts(request_rec *r, long *in_progress, long *backlog, long *failed);

/* Runs one of vt_events' write statements with args from its argument builder. */
vtm_db_rc vtm_db_event(request_rec *r, const vt_event_stmt_t *st, const char **args);
/* The same for a write statement that returns one value: *value is its first column of its
 * first row (NULL when none). */
vtm_db_rc vtm_db_event_value(request_rec *r, const vt_event_stmt_t *st, const char **args,
                             const char **value);
/* ... or its whole first row: *row NULL when it returned none. */
vtm_db_rc vtm_db_event_row(request_rec *r, const vt_event_stmt_t *st, const char **args,
                           const char ***row, int *ncols);

/* The call's recent turns (vt_call_history_stmt), oldest first, allocated in r->pool. The
 * pooled connection is given back before this returns. */
vtm_db_rc vtm_db_call_history(request_rec *r, const char *call_sid, vt_llm_turn_t **turns,
                              int *n);

/* How the call's stream ended (vt_call_stream_stmt): *outcome NULL when it did not say;
 * VTM_DB_NOT_FOUND when there is no such call. */
vtm_db_rc vtm_db_call_stream(request_rec *r, const char *call_sid, const char **outcome,
                             int *last_seq);

#endif
