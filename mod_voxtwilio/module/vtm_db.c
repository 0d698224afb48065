/* vtm_db — statements run through mod_dbd, one pooled connection per statement. */
#include <stdlib.h>
#include <apr_dbd.h>
#include <apr_hash.h>
#include <apr_optional.h>
#include <apr_strings.h>
#include <mod_dbd.h>
#include "vtm_module.h"
#include "vtm_db.h"
#include "vtm_status.h"
#include "vt_events.h"
#include "vt_tenant.h"
#include "vt_automation.h"
#include "vt_group_commit.h"
#include "vt_messages.h"

APLOG_USE_MODULE(voxtwilio);

/* Labels become PostgreSQL statement names, so they must be SQL identifiers.
 * apr_dbd placeholders: %s is bound as varchar, hence the explicit casts. */
static const vt_event_stmt_t status_counts = {
    "voxtwilio_status_counts",
    "SELECT (SELECT count(*) FROM calls WHERE status_rank BETWEEN 1 AND 3 "
    "AND started_at > now() - interval '4 hours'), "
    "(SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')), "
    "(SELECT count(*) FROM jobs WHERE status = 'failed')",
    0
};

/* Every statement the module runs; mod_dbd prepares them on each new connection. */
static const vt_event_stmt_t *const stmts[] = {
    &vt_tenant_by_number_stmt, &vt_tenant_by_slug_stmt, &vt_tenant_by_call_stmt, &status_counts,
    &vt_event_inbound_stmt, &vt_event_status_stmt, &vt_event_recording_stmt,
    &vt_event_turn_stmt, &vt_event_sms_job_stmt, &vt_event_escalation_stmt,
    &vt_call_history_stmt, &vt_call_stream_stmt, &vt_message_inbound_stmt,
    &vt_automation_stmt, &vt_message_status_stmt,
};
#define STMT_COUNT ((int)(sizeof(stmts) / sizeof(stmts[0])))

/* mod_dbd's optional functions: process-wide by nature, resolved once at config time. */
static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;

const char *vtm_db_register_statements(cmd_parms *cmd)
{
    APR_OPTIONAL_FN_TYPE(ap_dbd_prepare) *prepare = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_prepare);
    int i;

    dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    if (!prepare || !dbd_open_fn || !dbd_close_fn) {
        return apr_psprintf(cmd->pool,
                            "%s On requires mod_dbd: load mod_dbd before it "
                            "(LoadModule dbd_module ...; on Debian: a2enmod dbd) and set "
                            "DBDriver pgsql and DBDParams",
                            cmd->cmd->name);
    }
    for (i = 0; i < STMT_COUNT; i++) {
        prepare(cmd->server, stmts[i]->sql, stmts[i]->label);
    }
    return NULL;
}

/* Runs stmt once on dbd; a select fills *res (random access: the whole result is
 * fetched, so the connection is free afterwards), anything else *nrows. 0 on success. */
static int run_once(request_rec *r, ap_dbd_t *dbd, apr_dbd_prepared_t *stmt, int select,
                    int nargs, const char **args, apr_dbd_results_t **res, int *nrows)
{
    if (select) {
        *res = NULL;
        return apr_dbd_pselect(dbd->driver, r->pool, dbd->handle, res, stmt, 1, nargs,
                               args);
    }
    return apr_dbd_pquery(dbd->driver, r->pool, dbd->handle, nrows, stmt, nargs, args);
}

static int run_stmt(request_rec *r, ap_dbd_t *dbd, const vt_event_stmt_t *st, int select,
                    const char **args, apr_dbd_results_t **res, int *nrows)
{
    apr_dbd_prepared_t *stmt = apr_hash_get(dbd->prepared, st->label,
                                            APR_HASH_KEY_STRING);
    int rv = stmt ? run_once(r, dbd, stmt, select, st->nargs, args, res, nrows) : -1;

    if (rv != 0) {
        /* The connection may have died (apr_dbd_check_conn resets it) or been reset
         * earlier, which drops server-side PREPAREs: prepare again on this handle and
         * retry once. For a genuine SQL error the PREPARE fails (name in use) and the
         * first error stands. */
        const char *first = stmt ? apr_dbd_error(dbd->driver, dbd->handle, rv) : NULL;
        /* libpq reuses its message buffer: keep a copy. */
        first = apr_pstrdup(r->pool, first ? first : "not prepared on this connection");
        apr_dbd_prepared_t *again = NULL;

        if (apr_dbd_check_conn(dbd->driver, r->pool, dbd->handle) == APR_SUCCESS
            && apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, st->sql,
                               st->label, &again) == 0) {
            apr_hash_set(dbd->prepared, st->label, APR_HASH_KEY_STRING, again);
            rv = run_once(r, dbd, again, select, st->nargs, args, res, nrows);
            if (rv == 0) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              VTLOGNO(10101) "statement %s re-prepared after: %s",
                              st->label, first);
                return 0;
            }
        }
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, VTLOGNO(10102) "statement %s failed: %s",
                      st->label, first);
    }
    return rv;
}

/* A pooled connection (logged when there is none); dbd_close_fn gives it back. */
static ap_dbd_t *open_db(request_rec *r)
{
    ap_dbd_t *dbd = dbd_open_fn ? dbd_open_fn(r->pool, r->server) : NULL;

    if (!dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      VTLOGNO(10103) "no database connection (check DBDriver/DBDParams and "
                      "that PostgreSQL is up)");
    }
    return dbd;
}

/* Open a pooled connection, run one statement, give the connection back. */
static vtm_db_rc exec_stmt(request_rec *r, const vt_event_stmt_t *st, int select,
                           const char **args, apr_array_header_t **rows, int *nrows)
{
    ap_dbd_t *dbd = open_db(r);
    apr_dbd_results_t *res = NULL;
    vtm_db_rc rc = VTM_DB_OK;

    if (!dbd) {
        return VTM_DB_UNAVAILABLE;
    }
    if (run_stmt(r, dbd, st, select, args, &res, nrows) != 0) {
        rc = VTM_DB_UNAVAILABLE;
    }
    else if (select) {
        /* Copy every row out: the result belongs to this connection and it goes back
         * to the pool below. */
        int ncols = apr_dbd_num_cols(dbd->driver, res);
        apr_dbd_row_t *row = NULL;

        *rows = apr_array_make(r->pool, 1, sizeof(const char **));
        while (apr_dbd_get_row(dbd->driver, r->pool, res, &row, -1) == 0) {
            const char **cols = apr_pcalloc(r->pool, sizeof(*cols) * (ncols + 1));
            int c;
            for (c = 0; c < ncols; c++) {
                const char *v = apr_dbd_get_entry(dbd->driver, row, c);
                cols[c] = v ? apr_pstrdup(r->pool, v) : NULL;
            }
            APR_ARRAY_PUSH(*rows, const char **) = cols;
        }
    }
    dbd_close_fn(r->server, dbd);
    return rc;
}

/* ------------------------------------------------------------------ group commit */

/* This child's grouping of writes (VoxTwilioGroupCommit), made in child_init; NULL: off. */
static vt_group_commit_t *groups;

void vtm_db_child_init(apr_pool_t *pchild, server_rec *s)
{
    int leaders = vtm_srv_conf(s)->group_commit;
    apr_status_t rv = vt_group_commit_create(pchild, leaders, VT_GROUP_COMMIT_MAX_ITEMS,
                                             &groups);

    if (rv != APR_SUCCESS) {
        /* Every write then commits alone: slower under load, still correct. */
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     VTLOGNO(10104) "could not create the group commit; writes commit alone");
        groups = NULL;
    }
}

/* One webhook's write, as a group carries it. */
typedef struct write {
    request_rec *r;
    const vt_event_stmt_t *st;
    const char **args;
    int select;
    const char **row; /* select: the first row's columns (NULL: none), in r's pool */
    int ncols;
} write_t;

/* Runs w on dbd (in the group's transaction, or alone): VTM_DB_OK or VTM_DB_UNAVAILABLE. */
static int run_write(ap_dbd_t *dbd, write_t *w)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int nrows = 0;

    w->row = NULL;
    w->ncols = 0;
    if (run_stmt(w->r, dbd, w->st, w->select, w->args, &res, &nrows) != 0) {
        return VTM_DB_UNAVAILABLE;
    }
    if (w->select && apr_dbd_get_row(dbd->driver, w->r->pool, res, &row, 1) == 0) {
        int c, n = apr_dbd_num_cols(dbd->driver, res);

        w->row = apr_pcalloc(w->r->pool, sizeof(*w->row) * (n + 1));
        for (c = 0; c < n; c++) {
            const char *v = apr_dbd_get_entry(dbd->driver, row, c);
            w->row[c] = v ? apr_pstrdup(w->r->pool, v) : NULL;
        }
        w->ncols = n;
    }
    return VTM_DB_OK;
}

static void run_alone(ap_dbd_t *dbd, vt_gc_item_t **items, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        items[i]->rc = run_write(dbd, items[i]->data);
    }
}

/* vt_gc_run_fn: the group's writes in one transaction on one connection of the leader's;
 * when it cannot commit, each write again alone (they are idempotent), so one bad write
 * costs the others nothing and each is answered (or spooled) on its own result. */
static void run_group(void *baton, vt_gc_item_t **items, int n)
{
    request_rec *leader = baton;
    ap_dbd_t *dbd = open_db(leader);
    apr_dbd_transaction_t *tx = NULL;
    int i, failed;

    if (!dbd) {
        for (i = 0; i < n; i++) {
            items[i]->rc = VTM_DB_UNAVAILABLE;
        }
        return;
    }
    if (n == 1) {
        run_alone(dbd, items, 1); /* no BEGIN/COMMIT of its own: one round trip */
        dbd_close_fn(leader->server, dbd);
        return;
    }
    failed = apr_dbd_transaction_start(dbd->driver, leader->pool, dbd->handle, &tx) != 0;
    for (i = 0; i < n && !failed; i++) {
        failed = run_write(dbd, items[i]->data) != VTM_DB_OK;
    }
    if (failed && tx) {
        apr_dbd_transaction_mode_set(dbd->driver, tx, APR_DBD_TRANSACTION_ROLLBACK);
    }
    /* apr_dbd answers 0 for a successful ROLLBACK too: only an unfailed group committed. */
    if (tx && apr_dbd_transaction_end(dbd->driver, leader->pool, tx) != 0) {
        failed = 1;
    }
    if (failed) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, leader,
                      VTLOGNO(10105) "a group of %d writes did not commit: each again alone", n);
        run_alone(dbd, items, n);
    }
    else {
        for (i = 0; i < n; i++) {
            items[i]->rc = VTM_DB_OK;
        }
        vtm_status_count(VTM_STAT_GROUP_COMMITS);
        vtm_status_add(VTM_STAT_GROUPED_WRITES, n);
    }
    dbd_close_fn(leader->server, dbd);
}

/* A webhook's write: through this child's group commit when it is on. */
static vtm_db_rc write_event(request_rec *r, const vt_event_stmt_t *st, int select,
                             const char **args, const char ***row, int *ncols)
{
    write_t w = { r, st, args, select, NULL, 0 };
    vt_gc_item_t it = { .data = &w };
    vtm_db_rc rc = (vtm_db_rc)vt_group_commit_run(groups, &it, run_group, r);

    if (row) {
        *row = rc == VTM_DB_OK ? w.row : NULL;
        *ncols = rc == VTM_DB_OK ? w.ncols : 0;
    }
    return rc;
}

int vtm_db_tenant_lookup(void *baton, const vt_event_stmt_t *st, const char *key,
                         vt_tenant_t *t)
{
    request_rec *r = baton;
    const char *args[] = { key };
    apr_array_header_t *rows = NULL;

    switch (exec_stmt(r, st, 1, args, &rows, NULL)) {
    case VTM_DB_OK:
        break;
    default:
        return -1;
    }
    if (rows->nelts == 0) {
        return 0;
    }
    vt_tenant_from_row(APR_ARRAY_IDX(rows, 0, const char **), t);
    return 1;
}

vtm_db_rc vtm_db_event(request_rec *r, const vt_event_stmt_t *st, const char **args)
{
    return write_event(r, st, 0, args, NULL, NULL);
}

vtm_db_rc vtm_db_event_value(request_rec *r, const vt_event_stmt_t *st, const char **args,
                             const char **value)
{
    const char **row = NULL;
    int ncols = 0;
    vtm_db_rc rc = write_event(r, st, 1, args, &row, &ncols);

    *value = row && ncols > 0 ? row[0] : NULL;
    return rc;
}

vtm_db_rc vtm_db_event_row(request_rec *r, const vt_event_stmt_t *st, const char **args,
                           const char ***row, int *ncols)
{
    return write_event(r, st, 1, args, row, ncols);
}

void vtm_db_status_counts(request_rec *r, long *in_progress, long *backlog, long *failed)
{
    apr_array_header_t *rows = NULL;

    if (exec_stmt(r, &status_counts, 1, NULL, &rows, NULL) == VTM_DB_OK && rows->nelts == 1) {
        const char **c = APR_ARRAY_IDX(rows, 0, const char **);
        *in_progress = c[0] ? atol(c[0]) : -1;
        *backlog = c[1] ? atol(c[1]) : -1;
        *failed = c[2] ? atol(c[2]) : -1;
    }
}

vtm_db_rc vtm_db_call_history(request_rec *r, const char *call_sid, vt_llm_turn_t **turns,
                              int *n)
{
    const char *args[] = { call_sid };
    apr_array_header_t *rows = NULL;
    vtm_db_rc rc = exec_stmt(r, &vt_call_history_stmt, 1, args, &rows, NULL);
    int i;

    *n = 0;
    *turns = NULL;
    if (rc != VTM_DB_OK) {
        return rc;
    }
    *turns = apr_pcalloc(r->pool, sizeof(**turns) * (rows->nelts + 1));
    for (i = 0; i < rows->nelts; i++) {
        const char **c = APR_ARRAY_IDX(rows, i, const char **);
        (*turns)[i].role = c[0];
        (*turns)[i].text = c[1];
    }
    *n = rows->nelts;
    return VTM_DB_OK;
}

vtm_db_rc vtm_db_call_stream(request_rec *r, const char *call_sid, const char **outcome,
                             int *last_seq)
{
    const char *args[] = { call_sid };
    apr_array_header_t *rows = NULL;
    vtm_db_rc rc = exec_stmt(r, &vt_call_stream_stmt, 1, args, &rows, NULL);
    const char **c;

    *outcome = NULL;
    *last_seq = 1;
    if (rc != VTM_DB_OK) {
        return rc;
    }
    if (rows->nelts == 0) {
        return VTM_DB_NOT_FOUND;
    }
    c = APR_ARRAY_IDX(rows, 0, const char **);
    *outcome = c[0] && *c[0] ? c[0] : NULL;
    *last_seq = c[1] ? atoi(c[1]) : 1;
    return VTM_DB_OK;
}
