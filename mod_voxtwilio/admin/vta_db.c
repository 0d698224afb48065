/* vta_db — voxtwilio-admin: messages, option parsing, libpq helpers, table output and
 * the `migrate` verb. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vta.h"
#include "vt_keyring.h"
#include "vt_util.h"

/* ------------------------------------------------------------------ messages */

int vta_err(const char *fmt, ...)
{
    va_list ap;
    fputs(VTA_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return VTA_FAIL;
}

const char *vta_arg_for_msg(const char *arg)
{
    static char name[64];
    size_t n;

    if (strncmp(arg, "--", 2) != 0) {
        return "(value not shown)";
    }
    n = strcspn(arg, "=");
    if (n >= sizeof(name)) {
        n = sizeof(name) - 1;
    }
    memcpy(name, arg, n);
    name[n] = '\0';
    return name;
}

int vta_usage_err(const char *fmt, ...)
{
    va_list ap;
    fputs(VTA_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see " VTA_PROG " --help)\n", stderr);
    return VTA_USAGE;
}

/* ------------------------------------------------------------------ options */

int vta_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        if (*val) {
            vta_usage_err("%s given twice", name);
            return -1;
        }
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        vta_usage_err("%s needs a value", name);
        return -1;
    }
    if (*val) {
        vta_usage_err("%s given twice", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

/* ------------------------------------------------------------------ database */

/* Server warnings are shown, NOTICEs ("relation already exists, skipping") are not. */
static void notice_receiver(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    (void)arg;
    if (sev && strcmp(sev, "WARNING") == 0 && msg)
        fprintf(stderr, VTA_PROG ": database warning: %s\n", msg);
}

int vta_db_connect(vta_ctx_t *c)
{
    /* connect_timeout first so that a value in the conninfo (or $PGCONNECT_TIMEOUT)
     * wins; dbname is expanded as a full conninfo string / URI. */
    const char *keys[4], *vals[4];
    int k = 0;

    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[k] = "connect_timeout";
        vals[k++] = "10";
    }
    keys[k] = "fallback_application_name";
    vals[k++] = VTA_PROG;
    keys[k] = "dbname";
    vals[k++] = c->conninfo ? c->conninfo : "";
    keys[k] = NULL;
    vals[k] = NULL;

    c->conn = PQconnectdbParams(keys, vals, 1);
    if (!c->conn)
        return vta_err("cannot connect to the database: out of memory");
    if (PQstatus(c->conn) != CONNECTION_OK) {
        int rc = vta_err("cannot connect to the database: %s",
                         vt_first_line(c->pool, PQerrorMessage(c->conn)));
        PQfinish(c->conn);
        c->conn = NULL;
        return rc;
    }
    PQsetNoticeReceiver(c->conn, notice_receiver, NULL);
    return VTA_OK;
}

void vta_db_close(vta_ctx_t *c)
{
    if (c->conn) {
        PQfinish(c->conn);
        c->conn = NULL;
    }
}

PGresult *vta_q(vta_ctx_t *c, const char *sql, int nparams, const char *const *params)
{
    return PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

int vta_res_ok(const PGresult *res)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

const char *vta_sqlstate(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

const char *vta_constraint(const PGresult *res)
{
    const char *s = res ? PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME) : NULL;
    return s ? s : "";
}

int vta_db_fail(vta_ctx_t *c, PGresult *res, const char *what)
{
    const char *state = vta_sqlstate(res);
    const char *msg;

    if (res && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY))
        msg = vt_first_line(c->pool, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    else
        msg = vt_first_line(c->pool, PQerrorMessage(c->conn));
    PQclear(res);
    if (strcmp(state, "42P01") == 0)
        return vta_err("%s: %s (has the schema been created? run '" VTA_PROG " migrate')",
                       what, msg);
    return vta_err("%s: %s", what, msg);
}

int vta_exec_ok(vta_ctx_t *c, const char *sql, int nparams, const char *const *params,
                const char *what)
{
    PGresult *res = vta_q(c, sql, nparams, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, what);
    PQclear(res);
    return VTA_OK;
}

int vta_begin(vta_ctx_t *c)
{
    return vta_exec_ok(c, "BEGIN", 0, NULL, "database error");
}

int vta_commit(vta_ctx_t *c)
{
    PGresult *res = vta_q(c, "COMMIT", 0, NULL);
    /* COMMIT of an aborted transaction "succeeds" as ROLLBACK: check the tag. */
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot commit");
    if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
        PQclear(res);
        return vta_err("cannot commit: the transaction was rolled back");
    }
    PQclear(res);
    return VTA_OK;
}

void vta_rollback(vta_ctx_t *c)
{
    if (c->conn && PQtransactionStatus(c->conn) != PQTRANS_IDLE)
        PQclear(vta_q(c, "ROLLBACK", 0, NULL));
}

int vta_queue_job(vta_ctx_t *c, const char *kind, const char *company_id,
                  json_object *payload, const char *what)
{
    const char *params[3] = { kind, company_id, NULL };
    PGresult *res;

    params[2] = apr_pstrdup(c->pool,
                            json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
    json_object_put(payload);
    res = vta_q(c, "INSERT INTO jobs (kind, company_id, payload) VALUES ($1, $2::bigint,"
                   " $3::jsonb) RETURNING id", 3, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, apr_psprintf(c->pool, "cannot queue the %s job", kind));
    printf("queued as job %s (voxtwilio-helper %s)\n", PQgetvalue(res, 0, 0), what);
    PQclear(res);
    return VTA_OK;
}

int vta_has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

int vta_check_slug(const char *slug)
{
    if (!vt_slug_valid(slug))
        return vta_err("'%s' is not a valid company slug (lower-case letters, digits and '-', "
                       "1 to 63 characters, not starting with '-')", slug);
    return VTA_OK;
}

int vta_company_id(vta_ctx_t *c, const char *slug, const char **id)
{
    const char *params[1] = { slug };
    PGresult *res = vta_q(c, "SELECT id FROM companies WHERE slug = $1", 1, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot look up the company");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no company with slug '%s'", slug);
    }
    *id = apr_pstrdup(c->pool, PQgetvalue(res, 0, 0));
    PQclear(res);
    return VTA_OK;
}

int vta_load_keyring(vta_ctx_t *c, struct vt_keyring **ring)
{
    const char *err = NULL;
    apr_status_t rv;

    if (!c->key_file || !*c->key_file)
        return vta_err("no key file: give --key-file PATH or set VOXTWILIO_KEY_FILE");
    rv = vt_keyring_load(c->pool, c->key_file, ring, &err);
    if (rv != APR_SUCCESS || !*ring) {
        char buf[256];
        if (!err)
            err = apr_strerror(rv, buf, sizeof buf);
        if (strstr(err, c->key_file))
            return vta_err("cannot load the key file: %s", err);
        return vta_err("cannot load the key file %s: %s", c->key_file, err);
    }
    return VTA_OK;
}

/* ------------------------------------------------------------------ tables */

struct vta_table {
    apr_pool_t *pool;
    int ncols;
    apr_array_header_t *rows; /* of const char ** */
};

vta_table_t *vta_table_make(apr_pool_t *p, int ncols, ...)
{
    vta_table_t *t = apr_pcalloc(p, sizeof *t);
    const char **row = apr_pcalloc(p, ncols * sizeof *row);
    va_list ap;
    int i;

    t->pool = p;
    t->ncols = ncols;
    t->rows = apr_array_make(p, 16, sizeof(const char **));
    va_start(ap, ncols);
    for (i = 0; i < ncols; i++)
        row[i] = va_arg(ap, const char *);
    va_end(ap);
    APR_ARRAY_PUSH(t->rows, const char **) = row;
    return t;
}

/* Control characters (which could move the cursor or fake lines) become '?'. */
static const char *printable(apr_pool_t *p, const char *s)
{
    char *r, *q;
    if (!s)
        return "";
    r = apr_pstrdup(p, s);
    for (q = r; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    return r;
}

void vta_table_row(vta_table_t *t, ...)
{
    const char **row = apr_pcalloc(t->pool, t->ncols * sizeof *row);
    va_list ap;
    int i;

    va_start(ap, t);
    for (i = 0; i < t->ncols; i++)
        row[i] = printable(t->pool, va_arg(ap, const char *));
    va_end(ap);
    APR_ARRAY_PUSH(t->rows, const char **) = row;
}

/* Display width: code points. */
static int width(const char *s)
{
    return (int)vt_utf8_chars(s);
}

void vta_table_print(vta_table_t *t, FILE *out)
{
    int *w = apr_pcalloc(t->pool, t->ncols * sizeof *w);
    int r, i;

    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (i = 0; i < t->ncols; i++)
            if (width(row[i]) > w[i])
                w[i] = width(row[i]);
    }
    for (r = 0; r < t->rows->nelts; r++) {
        const char **row = APR_ARRAY_IDX(t->rows, r, const char **);
        for (i = 0; i < t->ncols; i++) {
            fputs(row[i], out);
            if (i + 1 < t->ncols)
                fprintf(out, "%*s", w[i] - width(row[i]) + 2, "");
        }
        fputc('\n', out);
    }
}

/* ------------------------------------------------------------------ migrate */

/* Serializes concurrent `migrate` runs (any constant; "vtmigr" in ASCII). */
#define VTA_MIGRATE_LOCK "129471683553138"

static int migrate_lock(vta_ctx_t *c)
{
    const char *params[1] = { VTA_MIGRATE_LOCK };
    return vta_exec_ok(c, "SELECT pg_advisory_xact_lock($1::bigint)", 1, params,
                       "cannot take the migration lock");
}

int vta_cmd_migrate(vta_ctx_t *c, int argc, char **argv)
{
    const vta_migration_t *m;
    PGresult *res;
    int applied = 0, latest_known = 0, current;

    if (argc > 1)
        return vta_usage_err("migrate takes no arguments");
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;

    if (vta_begin(c) != VTA_OK || migrate_lock(c) != VTA_OK
        || vta_exec_ok(c,
                       "CREATE TABLE IF NOT EXISTS schema_version ("
                       " version integer PRIMARY KEY,"
                       " name text NOT NULL,"
                       " applied_at timestamptz NOT NULL DEFAULT now())",
                       0, NULL, "cannot create schema_version") != VTA_OK
        || vta_commit(c) != VTA_OK) {
        vta_rollback(c);
        return VTA_FAIL;
    }

    for (m = vta_migrations; m->sql; m++) {
        char ver[16];
        const char *params[2];
        int present;

        if (m->version > latest_known)
            latest_known = m->version;
        apr_snprintf(ver, sizeof ver, "%d", m->version);
        params[0] = ver;
        params[1] = m->name;

        if (vta_begin(c) != VTA_OK || migrate_lock(c) != VTA_OK)
            goto fail;
        res = vta_q(c, "SELECT 1 FROM schema_version WHERE version = $1::integer", 1, params);
        if (!vta_res_ok(res)) {
            vta_db_fail(c, res, "cannot read schema_version");
            goto fail;
        }
        present = PQntuples(res) > 0;
        PQclear(res);
        if (present) {
            vta_rollback(c);
            continue;
        }
        /* The migration is a fixed, compiled-in script of several statements. */
        res = PQexec(c->conn, m->sql);
        if (!vta_res_ok(res)) {
            char what[128];
            apr_snprintf(what, sizeof what, "migration %d (%s) failed", m->version, m->name);
            vta_db_fail(c, res, what);
            goto fail;
        }
        PQclear(res);
        if (vta_exec_ok(c, "INSERT INTO schema_version (version, name) VALUES ($1::integer, $2)",
                        2, params, "cannot record the migration") != VTA_OK
            || vta_commit(c) != VTA_OK)
            goto fail;
        printf("applied migration %d (%s)\n", m->version, m->name);
        applied++;
    }

    res = vta_q(c, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read schema_version");
    current = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    printf("schema at version %d (applied %d migration(s))\n", current, applied);
    if (current > latest_known)
        fprintf(stderr, VTA_PROG ": note: the database schema (version %d) is newer than this "
                "tool knows (version %d)\n", current, latest_known);
    return VTA_OK;

fail:
    vta_rollback(c);
    return VTA_FAIL;
}

const char *vta_read_file(apr_pool_t *p, const char *path, long max, apr_size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    apr_size_t cap = 64 * 1024 < max ? 64 * 1024 : (apr_size_t)max, n = 0;
    const char *problem = NULL;
    char *buf, *out = NULL;

    if (!f) {
        vta_err("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(cap);
    while (buf && !problem) {
        char *bigger;

        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f))
            problem = strerror(errno);
        else if (n < cap)
            break;
        else if (cap >= (apr_size_t)max)
            problem = apr_psprintf(p, "larger than %ld bytes", max);
        else if (!(bigger = realloc(buf, cap * 2)))
            problem = "out of memory";
        else {
            buf = bigger;
            cap *= 2;
        }
    }
    if (!buf)
        problem = "out of memory";
    if (!problem) {
        out = apr_pstrmemdup(p, buf, n);
        *len = n;
    }
    free(buf);
    if (f != stdin)
        fclose(f);
    if (problem)
        vta_err("%s: cannot read: %s", path, problem);
    return out;
}

int vta_check_limit(const char *limit)
{
    char *end;
    long v;

    if (!limit)
        return VTA_OK;
    errno = 0;
    v = strtol(limit, &end, 10);
    if (errno || end == limit || *end || v < 1 || v > VTA_LIST_MAX_LIMIT)
        return vta_err("--limit must be a number from 1 to %ld", VTA_LIST_MAX_LIMIT);
    return VTA_OK;
}

int vta_slug_opts(int argc, char **argv, const char *verb, const char *usage,
                  const char *const *names, const char **vals, int n, const char **slug)
{
    int i, k, m;

    *slug = NULL;
    for (k = 0; k < n; k++)
        vals[k] = NULL;
    for (i = 1; i < argc; i++) {
        for (k = 0, m = 0; k < n && m == 0; k++)
            m = vta_opt(argc, argv, &i, names[k], &vals[k]);
        if (m < 0)
            return VTA_USAGE;
        if (m > 0)
            continue;
        if (argv[i][0] == '-' || *slug)
            return vta_usage_err("unexpected argument '%s' for %s", vta_arg_for_msg(argv[i]),
                                 verb);
        *slug = argv[i];
    }
    return *slug ? VTA_OK : vta_usage_err("usage: %s", usage);
}
