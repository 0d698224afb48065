/* vth_db — the helper's statements: vth_pq, which every statement goes through (the job
 * outbox, the job kinds, the spool, the worker threads), and the worker threads' database
 * access: one connection each, made when first needed and made again after it broke. */
#include <string.h>

#include <apr_strings.h>

#include "vth.h"
#include "vth_media.h"
#include "vt_log.h"
#include "vt_util.h"

#define VTH_DB_RETRY_MS 1000LL /* after a failed connect, wait this long before the next */

struct vth_db {
    apr_pool_t *pool;
    const char *conninfo;
    const char *who;
    PGconn *conn;
    long long next_try;
    int reported;            /* the current outage is logged */
};

vth_db_t *vth_db_create(apr_pool_t *p, const char *conninfo, const char *who)
{
    vth_db_t *db = apr_pcalloc(p, sizeof *db);

    db->pool = p;
    db->conninfo = conninfo;
    db->who = who;
    return db;
}

void vth_db_close(vth_db_t *db)
{
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
}

static int db_connect(vth_db_t *db, apr_pool_t *p, const char **err)
{
    long long now = vth_now_ms();

    if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
        return 0;
    }
    vth_db_close(db);
    if (now < db->next_try) {
        *err = "database unavailable (retrying shortly)";
        return -1;
    }
    db->conn = PQconnectdb(db->conninfo ? db->conninfo : "");
    if (PQstatus(db->conn) != CONNECTION_OK) {
        *err = apr_psprintf(p, "cannot connect to the database: %s",
                            vt_first_line(p, PQerrorMessage(db->conn)));
        if (!db->reported) {
            vt_log(VT_LOG_ERR, "%s: %s", db->who, *err);
            db->reported = 1;
        }
        vth_db_close(db);
        db->next_try = now + VTH_DB_RETRY_MS;
        return -1;
    }
    if (db->reported) {
        vt_log(VT_LOG_NOTICE, "%s: connected to the database again", db->who);
        db->reported = 0;
    }
    return 0;
}

PGresult *vth_pq(PGconn *conn, apr_pool_t *p, vth_pq_want_t want, const char *what,
                 const char *sql, int n, const char *const *params, const char **err)
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    const char *m;

    if ((st == PGRES_TUPLES_OK && (want & VTH_PQ_ROWS))
        || (st == PGRES_COMMAND_OK && (want & VTH_PQ_COMMAND))) {
        return res;
    }
    if (err) {
        /* The primary message is the server's one line without "ERROR:"; with no result
         * (out of memory, a lost connection) only the connection's text says why. */
        m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        *err = apr_psprintf(p, "database error %s: %s", what,
                            vt_first_line(p, m ? m : PQerrorMessage(conn)));
    }
    PQclear(res);
    return NULL;
}

static PGresult *exec_once(vth_db_t *db, apr_pool_t *p, const vt_event_stmt_t *st,
                           const char *const *args, const char **err, int *broke)
{
    PGresult *res;

    if (db_connect(db, p, err) != 0) {
        return NULL;
    }
    /* Either status: the statement is the caller's, whose rows it reads or not. */
    res = vth_pq(db->conn, p, VTH_PQ_EITHER, apr_pstrcat(p, "running ", st->label, NULL),
                 vt_sql_to_libpq(p, st->sql), st->nargs, args, err);
    *broke = !res && PQstatus(db->conn) != CONNECTION_OK;
    if (*broke) {
        vth_db_close(db);
    }
    return res;
}

PGresult *vth_db_exec(vth_db_t *db, apr_pool_t *p, const vt_event_stmt_t *st,
                      const char *const *args, const char **err)
{
    int had = db->conn != NULL, broke = 0;
    PGresult *res = exec_once(db, p, st, args, err, &broke);

    /* A connection that broke since its last use (the server restarted): once more. */
    if (!res && broke && had) {
        res = exec_once(db, p, st, args, err, &broke);
    }
    return res;
}
