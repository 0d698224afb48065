/* vth_spool — voxtwilio-helper: replays the outage spool, the webhooks the module stored
 * (vtm_spool.c; format in vtm_spool.h) while it could not reach the database.
 *
 * Each file is handled as the module would have handled the request: the tenant resolved
 * the same way (the path's slug; else, for callbacks, the call's row; else the called
 * number; else, for callbacks, the calling number), its AccountSid checked, the signature
 * verified with the tenant's decrypted token over the stored URL, parameters and body, then
 * the same vt_events statement and argument builder run. The events' dedup keys make a
 * replay that already landed change nothing, so a crash between the write and the unlink
 * only costs a second, harmless, write.
 *
 * Outcome per file: written → deleted; unusable for good (malformed, no such tenant, bad
 * signature, rejected by the database) → moved to DIR/rejected/ and logged, for a human;
 * database unavailable → left in place, and the pass stops until the next one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "vth.h"
#include "vt_events.h"
#include "vt_form.h"
#include "vt_keyring.h"
#include "vt_log.h"
#include "vt_signature.h"
#include "vt_messages.h"
#include "vt_routes.h"
#include "vt_spool_record.h"
#include "vt_tenant.h"
#include "vt_util.h"

#define SP_PASS_EVERY_MS 1000LL           /* rescan while the database is up */
#define SP_BATCH 200                      /* files per dispatch: other sources get a turn */
#define SP_MAX_FILE (32L * 1024 * 1024)   /* a 16 MiB body in base64 plus the rest */
#define SP_MAX_PARAMS 256                 /* the module's VTM_MAX_PARAMS */
#define SP_STALE_TMP_S 3600               /* a writer that died mid-file left this behind */
#define SP_ERROR_QUIET_MS 60000LL         /* the same lookup error at most once a minute */

struct vth_spool {
    apr_pool_t *pool;
    const vth_config_t *cfg;
    vth_outbox_t *ob;
    const char *dir;
    const char *rejected;
    unsigned long seen_generation; /* of the outbox connection at the last pass */
    long long next_pass;
    int more;                      /* the last pass stopped at SP_BATCH */
    apr_hash_t *stuck;             /* names that could not be moved to rejected/ */
    char last_error[160];
    long long last_error_at;
};

typedef enum { SP_DONE, SP_REJECT, SP_RETRY } sp_rc;

/* One file being replayed. */
typedef struct sp_item {
    const char *name;
    const char *route, *url, *signature, *idempotency_token, *content_type, *slug;
    const char *body;
    apr_size_t body_len;
    apr_array_header_t *params;
    const char *subject; /* "CallSid CA…", "MessageSid SM…": for the log */
    const char *why;  /* SP_REJECT / SP_RETRY: for the log */
    const char *note; /* SP_DONE: for the log */
} sp_item_t;

/* ------------------------------------------------------------------ the file */

/* Reads and decodes the file. SP_DONE when *it is filled (route NULL: the file is gone). */
static sp_rc sp_load(apr_pool_t *p, const char *path, sp_item_t *it)
{
    struct stat st;
    vt_spool_record_t rec;
    char *buf;
    ssize_t n;
    size_t got = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        it->why = apr_psprintf(p, "cannot open: %s", strerror(errno));
        return errno == ENOENT ? SP_DONE : SP_REJECT; /* ENOENT: another helper took it */
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SP_MAX_FILE) {
        close(fd);
        it->why = "not a regular file of at most 32 MiB";
        return SP_REJECT;
    }
    buf = apr_palloc(p, (apr_size_t)st.st_size + 1);
    while (got < (size_t)st.st_size) {
        n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    if (vt_spool_record_decode(p, buf, got, &rec, &it->why) != APR_SUCCESS) {
        return SP_REJECT;
    }
    it->route = rec.route;
    it->url = rec.url;
    it->signature = rec.signature;
    it->idempotency_token = rec.idempotency_token;
    it->content_type = rec.content_type;
    it->slug = rec.tenant;
    it->body = rec.body;
    it->body_len = rec.body_len;
    if (it->content_type
        && strncasecmp(it->content_type, "application/x-www-form-urlencoded", 33) == 0) {
        vt_form_rc frc = vt_form_parse(p, it->body, it->body_len, SP_MAX_PARAMS, &it->params);
        if (frc != VT_FORM_OK) {
            it->why = apr_psprintf(p, "malformed form: %s", vt_form_strerror(frc));
            return SP_REJECT;
        }
    }
    else {
        it->params = apr_array_make(p, 1, sizeof(vt_param_t)); /* JSON (bodySHA256) */
    }
    return SP_DONE;
}

/* ------------------------------------------------------------------ the database */

/* A failed statement (err: vth_pq's text): SP_RETRY (kept for later; a broken connection is
 * handed back to the outbox) with *why, logged here at most once a minute for the same
 * message. */
static sp_rc sp_db_failed(vth_spool_t *sp, PGconn *conn, const char *err, const char **why)
{
    long long now = vth_now_ms();

    *why = err;
    if (PQstatus(conn) == CONNECTION_BAD) {
        vth_outbox_conn_broken(sp->ob);
        return SP_RETRY;
    }
    if (strncmp(sp->last_error, *why, sizeof(sp->last_error) - 1) != 0
        || now - sp->last_error_at >= SP_ERROR_QUIET_MS) {
        vt_log(VT_LOG_ERR, "spool: %s (files stay in the spool)", *why);
        apr_cpystrn(sp->last_error, *why, sizeof(sp->last_error));
        sp->last_error_at = now;
    }
    return SP_RETRY;
}

/* vt_tenant_lookup_fn over the spool's libpq connection. */
typedef struct sp_lookup {
    vth_spool_t *sp;
    apr_pool_t *p;
    PGconn *conn;
    const char **why;
} sp_lookup_t;

static int sp_tenant_lookup(void *baton, const vt_event_stmt_t *st, const char *key,
                            vt_tenant_t *t)
{
    sp_lookup_t *l = baton;
    const char *params[1] = { key }, *what = "looking up the tenant", *err;
    const char *cols[VT_TENANT_NCOLS];
    PGresult *res = vth_pq(l->conn, l->p, VTH_PQ_ROWS, what, vt_sql_to_libpq(l->p, st->sql),
                           1, params, &err);
    int i;

    if (res && PQnfields(res) != VT_TENANT_NCOLS) { /* a schema this helper does not know */
        err = apr_psprintf(l->p, "database error %s: %d columns, not %d", what,
                           PQnfields(res), VT_TENANT_NCOLS);
        PQclear(res);
        res = NULL;
    }
    if (!res) {
        sp_db_failed(l->sp, l->conn, err, l->why);
        return -1;
    }
    if (PQntuples(res) < 1) {
        PQclear(res);
        return 0;
    }
    for (i = 0; i < VT_TENANT_NCOLS; i++)
        cols[i] = PQgetisnull(res, 0, i) ? NULL : apr_pstrdup(l->p, PQgetvalue(res, 0, i));
    PQclear(res);
    vt_tenant_from_row(cols, t);
    return 1;
}

/* The module's tenant resolution (vt_tenant_resolve), over libpq. */
static sp_rc sp_resolve(vth_spool_t *sp, apr_pool_t *p, PGconn *conn, sp_item_t *it,
                        int is_callback, vt_tenant_t *t)
{
    sp_lookup_t l = { sp, p, conn, &it->why };

    switch (vt_tenant_resolve(p, sp_tenant_lookup, &l, it->slug, it->params, is_callback, t,
                              &it->why)) {
    case VT_TENANT_DB_FAILED:
        return SP_RETRY;
    case VT_TENANT_REFUSED:
        return SP_REJECT;
    case VT_TENANT_FOUND:
        break;
    }
    return SP_DONE;
}

/* ------------------------------------------------------------------ one file */

static sp_rc sp_replay(vth_spool_t *sp, apr_pool_t *p, PGconn *conn, const char *path,
                       sp_item_t *it)
{
    const char *token = NULL, *err = NULL, **args;
    vt_tenant_t t;
    PGresult *res;
    vt_sig_rc sig;
    const vt_route_t *route;
    sp_rc rc;

    rc = sp_load(p, path, it);
    if (rc != SP_DONE || !it->route)
        return rc;
    route = vt_route_find(it->route);
    if (!route || !route->event_stmt) {
        it->why = apr_psprintf(p, "route '%s' is not replayed", it->route);
        return SP_REJECT;
    }
    /* The checks the module made before it spooled (vtm_handler). */
    if (route->is_message) {
        const char *sid = vt_message_sid(it->params);
        if (!sid) {
            it->why = "missing or malformed MessageSid";
            return SP_REJECT;
        }
        it->subject = apr_pstrcat(p, "MessageSid ", sid, NULL);
    }
    else {
        const char *sid = vt_params_get(it->params, "CallSid");
        if (!vt_sid_valid(sid, "CA")) {
            it->why = "missing or malformed CallSid";
            return SP_REJECT;
        }
        it->subject = apr_pstrcat(p, "CallSid ", sid, NULL);
    }
    rc = sp_resolve(sp, p, conn, it, route->is_callback, &t);
    if (rc != SP_DONE)
        return rc;
    if (!t.token_blob_hex || !t.key_id
        || vt_secret_decrypt(p, sp->cfg->ring, t.company_id, t.key_id, t.token_blob_hex, &token,
                             &err) != APR_SUCCESS) {
        it->why = apr_psprintf(p, "cannot decrypt the auth token of tenant %s: %s (is key %s "
                               "in the key file?)", t.slug, err ? err : "no token",
                               t.key_id ? t.key_id : "-");
        return SP_REJECT;
    }
    /* Anyone who could write into the spool could otherwise forge events. */
    sig = it->signature ? vt_signature_verify(p, token, it->url, it->params, it->body,
                                              it->body_len, it->signature)
                        : VT_SIG_MISSING;
    if (sig != VT_SIG_OK) {
        it->why = apr_psprintf(p, "tenant %s: %s", t.slug,
                               sig == VT_SIG_MISSING ? "no signature"
                               : sig == VT_SIG_BODY_HASH ? "body does not match bodySHA256"
                               : "signature does not match");
        return SP_REJECT;
    }
    args = route->event_args(p, it->params, t.company_id, t.version, it->idempotency_token,
                             &err);
    if (!args) {
        it->why = apr_psprintf(p, "tenant %s: %s", t.slug, err);
        return SP_REJECT;
    }
    res = vth_pq(conn, p, VTH_PQ_EITHER, "writing the event",
                 vt_sql_to_libpq(p, route->event_stmt->sql), route->event_stmt->nargs, args,
                 &err);
    if (!res && PQstatus(conn) == CONNECTION_BAD)
        return sp_db_failed(sp, conn, err, &it->why);
    if (!res) {
        /* The statement itself is refused (a constraint, a changed schema): retrying
         * cannot help. */
        it->why = apr_psprintf(p, "tenant %s: the database refused the event (%s)", t.slug,
                               err);
        return SP_REJECT;
    }
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
        && strcmp(PQgetvalue(res, 0, 0), "0") == 0) {
        /* A statement that checks the tenant's version (inbound) found it changed since
         * the lookup above: nothing was written; the next pass looks it up again. */
        PQclear(res);
        it->why = apr_psprintf(p, "tenant %s changed while it was replayed", t.slug);
        return SP_RETRY;
    }
    /* Whether it was new is not visible here (the event's INSERT is a CTE); the dedup
     * keys are what make a second replay change nothing. */
    it->note = apr_psprintf(p, "%s, %s, tenant %s", it->route, it->subject, t.slug);
    PQclear(res);
    return SP_DONE;
}

/* ------------------------------------------------------------------ the directory */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The spool files in arrival (name) order; removes temporary files a dead writer left. */
static apr_array_header_t *sp_list(vth_spool_t *sp, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 16, sizeof(const char *));
    DIR *d = opendir(sp->dir);
    struct dirent *de;
    time_t now = time(NULL);

    if (!d) {
        vt_log(VT_LOG_ERR, "spool: cannot read %s: %s", sp->dir, strerror(errno));
        return names;
    }
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        struct stat st;

        if (strncmp(de->d_name, ".tmp-", 5) == 0) {
            const char *tmp = apr_pstrcat(p, sp->dir, "/", de->d_name, NULL);
            if (lstat(tmp, &st) == 0 && now - st.st_mtime > SP_STALE_TMP_S && unlink(tmp) == 0)
                vt_log(VT_LOG_WARN, "spool: removed %s, left half-written by a process "
                       "that died", de->d_name);
            continue;
        }
        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0
            || apr_hash_get(sp->stuck, de->d_name, APR_HASH_KEY_STRING))
            continue;
        *(const char **)apr_array_push(names) = apr_pstrdup(p, de->d_name);
    }
    closedir(d);
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), name_cmp);
    return names;
}

static void sp_reject(vth_spool_t *sp, apr_pool_t *p, const char *name, const char *why)
{
    const char *from = apr_pstrcat(p, sp->dir, "/", name, NULL);
    const char *to = apr_pstrcat(p, sp->rejected, "/", name, NULL);

    if ((mkdir(sp->rejected, VTH_SPOOL_DIR_MODE) != 0 && errno != EEXIST)
        || rename(from, to) != 0) {
        vt_log(VT_LOG_ERR, "spool: %s rejected (%s) but cannot be moved to %s: %s; it is "
               "skipped until the helper restarts", name, why, sp->rejected, strerror(errno));
        apr_hash_set(sp->stuck, apr_pstrdup(sp->pool, name), APR_HASH_KEY_STRING, "");
        return;
    }
    vt_log(VT_LOG_WARN, "spool: %s rejected and moved to %s/: %s", name, VTH_SPOOL_REJECTED,
           why);
}

/* One pass of at most limit files. Returns 1 when files are left beyond the limit, 0 when
 * the spool was worked through, -1 when the database failed (the rest waits). */
static int sp_pass(vth_spool_t *sp, PGconn *conn, int limit)
{
    apr_pool_t *p, *fp;
    apr_array_header_t *names;
    int i, done = 0, rejected = 0, rc = 0;
    long long t0 = vth_now_ms();

    apr_pool_create(&p, sp->pool);
    names = sp_list(sp, p);
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        const char *path = apr_pstrcat(p, sp->dir, "/", name, NULL);
        sp_item_t it;
        sp_rc r;

        if (i >= limit) {
            rc = 1;
            break;
        }
        if (vth_stop_requested(sp->cfg)) {
            rc = 1;
            break;
        }
        memset(&it, 0, sizeof(it));
        it.name = name;
        apr_pool_create(&fp, p);
        r = sp_replay(sp, fp, conn, path, &it);
        if (r == SP_DONE) {
            if (unlink(path) != 0 && errno != ENOENT) {
                /* It would be replayed again: harmless (dedup keys), but say so. */
                vt_log(VT_LOG_WARN, "spool: %s replayed but not removed: %s", name,
                       strerror(errno));
            }
            if (it.note)
                vt_log(VT_LOG_INFO, "spool: replayed %s (%s)", name, it.note);
            done++;
        }
        else if (r == SP_REJECT) {
            sp_reject(sp, fp, name, it.why ? it.why : "unusable");
            rejected++;
        }
        apr_pool_destroy(fp); /* wipes the decrypted token */
        if (r == SP_RETRY) {
            rc = -1;
            break;
        }
    }
    if (done || rejected)
        vt_log(VT_LOG_NOTICE, "spool: %d webhook(s) replayed, %d rejected in %lld ms; %d left",
               done, rejected, vth_now_ms() - t0, names->nelts - done - rejected);
    apr_pool_destroy(p);
    return rc;
}

/* ------------------------------------------------------------------ event-loop source */

static void sp_prepare(void *baton, struct pollfd *pfd, long *timeout_ms)
{
    vth_spool_t *sp = baton;
    unsigned long gen;
    long long t;

    (void)pfd;
    if (!vth_outbox_conn(sp->ob, &gen))
        return; /* nothing to do before the database is up; the outbox wakes the loop */
    t = (gen != sp->seen_generation || sp->more) ? 0 : sp->next_pass - vth_now_ms();
    if (t < *timeout_ms)
        *timeout_ms = t < 0 ? 0 : (long)t;
}

static void sp_dispatch(void *baton, short revents)
{
    vth_spool_t *sp = baton;
    unsigned long gen;
    PGconn *conn = vth_outbox_conn(sp->ob, &gen);
    long long now = vth_now_ms();

    (void)revents;
    if (!conn || (gen == sp->seen_generation && !sp->more && now < sp->next_pass))
        return;
    sp->seen_generation = gen;
    sp->more = sp_pass(sp, conn, SP_BATCH) > 0;
    sp->next_pass = vth_now_ms() + SP_PASS_EVERY_MS;
}

vth_spool_t *vth_spool_create(apr_pool_t *p, const vth_config_t *cfg, vth_outbox_t *ob)
{
    vth_spool_t *sp = apr_pcalloc(p, sizeof(*sp));

    sp->pool = p;
    sp->cfg = cfg;
    sp->ob = ob;
    sp->dir = cfg->spool_dir;
    sp->rejected = apr_pstrcat(p, cfg->spool_dir, "/" VTH_SPOOL_REJECTED, NULL);
    sp->stuck = apr_hash_make(p);
    return sp;
}

void vth_spool_source(vth_spool_t *sp, vth_source_t *src)
{
    src->name = "outage spool";
    src->prepare = sp_prepare;
    src->dispatch = sp_dispatch;
    src->baton = sp;
}

int vth_spool_run_once(vth_spool_t *sp)
{
    PGconn *conn = vth_outbox_conn(sp->ob, NULL);
    int rc;

    if (!conn)
        return 1;
    while ((rc = sp_pass(sp, conn, SP_BATCH)) > 0 && !vth_stop_requested(sp->cfg)) {
    }
    return rc < 0 ? 1 : 0;
}
