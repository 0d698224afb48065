/* vth_outbox — voxtwilio-helper: the job outbox as an event-loop source.
 *
 * One libpq connection, connected asynchronously (so a stop signal is never stuck behind
 * an unreachable server), LISTENing on voxtwilio_jobs. Jobs are claimed one at a time by
 * a single autocommit UPDATE ... FOR UPDATE SKIP LOCKED (several helpers may share the
 * database), run with no transaction open, and their result recorded by another single
 * UPDATE guarded by (status, attempts), so a job that was requeued meanwhile is never
 * overwritten. A result that cannot be recorded because the connection broke is kept
 * and written first thing after the reconnect.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "vth.h"
#include "vt_log.h"
#include "vt_util.h"

#define VTH_CONNECT_TIMEOUT_MS 10000LL
#define VTH_BACKOFF_FIRST_MS 250L
#define VTH_BACKOFF_MAX_MS 5000L      /* reconnect attempts: at least every 5 s */
#define VTH_SWEEP_MAX_MS 60000LL      /* orphaned-job check interval */
#define VTH_RETRY_CAP_S 600           /* job retry backoff: 2^attempts s up to 10 min */
#define VTH_DB_ERROR_QUIET_MS 60000LL /* the same query error is logged once a minute */
#define VTH_BUSY_RECHECK_MS 50LL      /* due jobs that other helpers are claiming */

typedef enum { OB_DOWN, OB_CONNECTING, OB_READY } ob_state_t;

/* A job result not yet written to the database. */
typedef struct ob_finish {
    const char *params[6]; /* id, attempts, status, delay_s, last_error, result */
} ob_finish_t;

struct vth_outbox {
    apr_pool_t *pool;
    const vth_config_t *cfg;
    const char *excluded;       /* kinds not to claim (text[] literal) or NULL */
    vth_jobs_t *jobs;           /* the job kinds' state across jobs (the LLM client) */
    PGconn *conn;
    ob_state_t state;
    PostgresPollingStatusType poll_st;
    long long connect_deadline;
    long long next_connect;
    long backoff_ms;
    long long outage_since;     /* 0: no outage being reported */
    int ever_connected;
    unsigned long generation;   /* (re)connects so far: other sources watch it */
    int work;                   /* a NOTIFY or a (re)connect: look for due jobs now */
    long long next_due;
    long long next_sweep;
    int query_failed;           /* last claim/finish hit a (non-connection) error */
    char last_db_error[160];
    long long last_db_error_at;
    uint64_t rng;
    apr_pool_t *finish_pool;    /* holds *pending; cleared once it is written */
    ob_finish_t *pending;
};

/* ------------------------------------------------------------------ small helpers */

/* xorshift64*: backoff jitter only, nothing secret. */
static double ob_random01(vth_outbox_t *ob)
{
    uint64_t x = ob->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ob->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

/* Seconds until attempt n+1: 2^n capped at 10 min, "equal jitter" (half fixed, half
 * random) so helpers that failed together do not retry together. */
static double retry_delay_s(vth_outbox_t *ob, int attempts)
{
    double base = attempts >= 10 ? VTH_RETRY_CAP_S : (double)(1 << (attempts > 0 ? attempts : 0));
    if (base > VTH_RETRY_CAP_S)
        base = VTH_RETRY_CAP_S;
    return base / 2 + ob_random01(ob) * base / 2;
}

/* At most VTH_LAST_ERROR_MAX characters, control characters replaced, never cutting a
 * UTF-8 sequence. */
static const char *short_error(apr_pool_t *p, const char *msg)
{
    char *s = apr_pstrdup(p, msg ? msg : "unknown error"), *q;
    size_t n = 0, chars = 0;

    for (q = s; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = ' ';
    while (s[n]) {
        if (((unsigned char)s[n] & 0xC0) != 0x80) {
            if (chars == VTH_LAST_ERROR_MAX) {
                s[n] = '\0';
                break;
            }
            chars++;
        }
        n++;
    }
    return s;
}

/* "job 42 (sms_alert, company acme, call CA...)" */
static const char *job_label(apr_pool_t *p, const vth_job_t *job)
{
    return apr_psprintf(p, "job %s (%s%s%s%s%s)", job->id, job->kind,
                        job->slug ? ", company " : "", job->slug ? job->slug : "",
                        job->call_sid ? ", call " : "", job->call_sid ? job->call_sid : "");
}

/* Server WARNINGs reach the log; NOTICEs do not. */
static void notice_receiver(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    (void)arg;
    if (sev && strcmp(sev, "WARNING") == 0 && msg)
        vt_log(VT_LOG_WARN, "database warning: %s", msg);
}

/* ------------------------------------------------------------------ connection */

static PGconn *ob_connect_start(vth_outbox_t *ob, int blocking)
{
    /* Our defaults come first so the conninfo (or the environment) overrides them;
     * keepalives notice a server that vanished without closing the connection. */
    const char *keys[9], *vals[9];
    int k = 0;

    if (blocking && !getenv("PGCONNECT_TIMEOUT")) {
        keys[k] = "connect_timeout";
        vals[k++] = "10";
    }
    keys[k] = "fallback_application_name";
    vals[k++] = VTH_PROG;
    keys[k] = "keepalives";
    vals[k++] = "1";
    keys[k] = "keepalives_idle";
    vals[k++] = "30";
    keys[k] = "keepalives_interval";
    vals[k++] = "10";
    keys[k] = "keepalives_count";
    vals[k++] = "3";
    keys[k] = "dbname";
    vals[k++] = ob->cfg->conninfo ? ob->cfg->conninfo : "";
    keys[k] = NULL;
    vals[k] = NULL;
    return blocking ? PQconnectdbParams(keys, vals, 1) : PQconnectStartParams(keys, vals, 1);
}

static void ob_drop(vth_outbox_t *ob)
{
    if (ob->conn)
        PQfinish(ob->conn);
    ob->conn = NULL;
    ob->state = OB_DOWN;
}

/* A connection attempt failed: reported once per outage, retried with backoff. */
static void ob_connect_failed(vth_outbox_t *ob, const char *why)
{
    long long now = vth_now_ms();
    apr_pool_t *p;

    apr_pool_create(&p, ob->pool);
    why = vt_first_line(p, why);
    if (!ob->outage_since) {
        ob->outage_since = now;
        vt_log(VT_LOG_ERR, "database unavailable: %s (retrying every %ld s at most; "
               "logged once per outage)", why, VTH_BACKOFF_MAX_MS / 1000);
    }
    else
        vt_log(VT_LOG_DEBUG, "database still unavailable: %s", why);
    apr_pool_destroy(p);
    ob_drop(ob);
    ob->next_connect = now + ob->backoff_ms;
    ob->backoff_ms *= 2;
    if (ob->backoff_ms > VTH_BACKOFF_MAX_MS)
        ob->backoff_ms = VTH_BACKOFF_MAX_MS;
}

/* An established connection broke: reconnect at once, then with backoff. */
static void ob_connection_lost(vth_outbox_t *ob, const char *why)
{
    apr_pool_t *p;

    apr_pool_create(&p, ob->pool);
    if (!ob->outage_since) {
        ob->outage_since = vth_now_ms();
        vt_log(VT_LOG_ERR, "database connection lost: %s (reconnecting; logged once per "
               "outage)", vt_first_line(p, why));
    }
    apr_pool_destroy(p);
    ob_drop(ob);
    ob->backoff_ms = VTH_BACKOFF_FIRST_MS;
    ob->next_connect = vth_now_ms();
}

/* Runs one autocommit statement (what: as vth_pq's). NULL on failure, after handling a
 * lost connection or logging the error (the same text at most once a minute). */
static PGresult *ob_exec(vth_outbox_t *ob, const char *sql, int n, const char *const *params,
                         const char *what)
{
    PGresult *res;
    apr_pool_t *p;
    const char *msg;
    long long now;

    if (!ob->conn || ob->state != OB_READY)
        return NULL;
    apr_pool_create(&p, ob->pool); /* the error text's, gone with the call */
    res = vth_pq(ob->conn, p, VTH_PQ_EITHER, what, sql, n, params, &msg);
    if (!res && PQstatus(ob->conn) == CONNECTION_BAD)
        ob_connection_lost(ob, msg);
    else if (!res) {
        now = vth_now_ms();
        if (strncmp(ob->last_db_error, msg, sizeof(ob->last_db_error) - 1) != 0
            || now - ob->last_db_error_at >= VTH_DB_ERROR_QUIET_MS) {
            vt_log(VT_LOG_ERR, "%s", msg);
            apr_cpystrn(ob->last_db_error, msg, sizeof ob->last_db_error);
            ob->last_db_error_at = now;
        }
    }
    apr_pool_destroy(p);
    return res;
}

static int ob_write_result(vth_outbox_t *ob);

/* A fresh connection: LISTEN first (so no NOTIFY is missed between the first look at
 * the table and the wait), then the result left from before, then look for work. */
static void ob_connected(vth_outbox_t *ob, int listen)
{
    long long now = vth_now_ms();
    PGresult *res;

    PQsetNoticeReceiver(ob->conn, notice_receiver, NULL);
    ob->state = OB_READY;
    if (listen) {
        res = ob_exec(ob, "LISTEN " VTH_JOBS_CHANNEL, 0, NULL,
                      "listening on " VTH_JOBS_CHANNEL);
        if (!res) {
            if (ob->state == OB_READY)
                ob_connect_failed(ob, "LISTEN failed");
            return;
        }
        PQclear(res);
    }
    if (ob->outage_since)
        vt_log(VT_LOG_NOTICE, "database connection restored after %.1f s",
               (double)(now - ob->outage_since) / 1000.0);
    else if (!ob->ever_connected)
        vt_log(VT_LOG_INFO, "connected to the database%s", listen ? ", listening on "
               VTH_JOBS_CHANNEL : "");
    ob->outage_since = 0;
    ob->ever_connected = 1;
    ob->generation++;
    ob->backoff_ms = VTH_BACKOFF_FIRST_MS;
    ob->work = 1;
    ob->next_sweep = now;
    if (ob->pending)
        ob_write_result(ob);
}

static void ob_connect_begin(vth_outbox_t *ob)
{
    ob->conn = ob_connect_start(ob, 0);
    if (!ob->conn) {
        ob_connect_failed(ob, "out of memory");
        return;
    }
    if (PQstatus(ob->conn) == CONNECTION_BAD) {
        ob_connect_failed(ob, PQerrorMessage(ob->conn));
        return;
    }
    ob->state = OB_CONNECTING;
    ob->poll_st = PGRES_POLLING_WRITING; /* what PQconnectStart implies */
    ob->connect_deadline = vth_now_ms() + VTH_CONNECT_TIMEOUT_MS;
}

static void ob_connect_step(vth_outbox_t *ob)
{
    ob->poll_st = PQconnectPoll(ob->conn);
    if (ob->poll_st == PGRES_POLLING_OK)
        ob_connected(ob, 1);
    else if (ob->poll_st == PGRES_POLLING_FAILED)
        ob_connect_failed(ob, PQerrorMessage(ob->conn));
}

/* ------------------------------------------------------------------ jobs */

/* Requeues jobs left 'running' by a helper that died (or fails them when no attempt is
 * left). attempts was counted when the job was claimed. */
static void ob_sweep(vth_outbox_t *ob)
{
    char secs[16];
    const char *params[1] = { secs };
    PGresult *res;
    int i, n;
    long long every = (long long)ob->cfg->stale_after_s * 500;

    if (every > VTH_SWEEP_MAX_MS)
        every = VTH_SWEEP_MAX_MS;
    if (every < 1000)
        every = 1000;
    ob->next_sweep = vth_now_ms() + every;
    snprintf(secs, sizeof secs, "%d", ob->cfg->stale_after_s);
    res = ob_exec(ob,
                  "UPDATE jobs SET status = CASE WHEN attempts >= max_attempts"
                  "                              THEN 'failed' ELSE 'pending' END,"
                  " run_after = now(), updated_at = now(),"
                  " last_error = 'interrupted: the helper running it stopped'"
                  " WHERE status = 'running'"
                  " AND updated_at < now() - make_interval(secs => $1::int)"
                  " RETURNING id, kind, status",
                  1, params, "requeueing interrupted jobs");
    if (!res)
        return;
    n = PQntuples(res);
    for (i = 0; i < n; i++)
        vt_log(VT_LOG_WARN, "job %s (%s) was left running by a helper that stopped: %s",
               PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
               strcmp(PQgetvalue(res, i, 2), "failed") == 0 ? "failed (no attempt left)"
                                                             : "requeued");
    PQclear(res);
    if (n > 0)
        ob->work = 1;
}

/* 1 with *job filled (in p), 0 when nothing is due, -1 on a database error. */
static int ob_claim(vth_outbox_t *ob, apr_pool_t *p, vth_job_t *job)
{
    const char *params[1] = { ob->excluded };
    PGresult *res;

    res = ob_exec(ob,
                  "UPDATE jobs SET status = 'running', attempts = attempts + 1,"
                  " updated_at = now()"
                  " WHERE id = (SELECT id FROM jobs WHERE status = 'pending'"
                  "             AND run_after <= now()"
                  "             AND ($1::text[] IS NULL OR kind <> ALL ($1::text[]))"
                  "             ORDER BY run_after, id FOR UPDATE SKIP LOCKED LIMIT 1)"
                  " RETURNING id, kind, company_id, call_sid, payload::text, attempts,"
                  "  max_attempts, (SELECT slug FROM companies c WHERE c.id = jobs.company_id)",
                  1, params, "claiming a job");
    if (!res) {
        ob->query_failed = 1;
        return -1;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
#define COL(i) (PQgetisnull(res, 0, (i)) ? NULL : apr_pstrdup(p, PQgetvalue(res, 0, (i))))
    job->id = COL(0);
    job->kind = COL(1);
    job->company_id = COL(2);
    job->call_sid = COL(3);
    job->payload = COL(4);
    job->attempts = atoi(PQgetvalue(res, 0, 5));
    job->max_attempts = atoi(PQgetvalue(res, 0, 6));
    job->slug = COL(7);
#undef COL
    PQclear(res);
    return 1;
}

/* Writes ob->pending. 1 when written (or overtaken), 0 when it must wait for a reconnect. */
static int ob_write_result(vth_outbox_t *ob)
{
    PGresult *res;
    const char *const *pr = ob->pending->params;

    res = ob_exec(ob,
                  "UPDATE jobs SET status = $3,"
                  " run_after = CASE WHEN $3 = 'pending'"
                  "                  THEN now() + make_interval(secs => $4::float8)"
                  "                  ELSE run_after END,"
                  " last_error = $5,"
                  " payload = CASE WHEN $6::jsonb IS NULL THEN payload"
                  "                ELSE payload || $6::jsonb END,"
                  " updated_at = now()"
                  " WHERE id = $1::bigint AND status = 'running' AND attempts = $2::int",
                  6, pr, "recording a job's result");
    if (!res) {
        if (ob->state == OB_READY) {
            /* Not a connection problem (a bad result document?): keep the outcome
             * without the result rather than retrying the job forever. */
            ob->query_failed = 1;
            ob->pending = NULL;
            apr_pool_clear(ob->finish_pool);
            return 1;
        }
        return 0;
    }
    if (strcmp(PQcmdTuples(res), "1") != 0)
        vt_log(VT_LOG_WARN, "job %s was requeued while it ran (it took longer than "
               "--stale-after); this result was not recorded", pr[0]);
    PQclear(res);
    ob->pending = NULL;
    apr_pool_clear(ob->finish_pool);
    return 1;
}

static void ob_record(vth_outbox_t *ob, apr_pool_t *p, const vth_job_t *job,
                      const vth_outcome_t *out, long long took_ms)
{
    const char *label = job_label(p, job), *status;
    double delay = 0;
    ob_finish_t *f;

    if (out->status == VTH_JOB_DONE) {
        status = "done";
        vt_log(VT_LOG_INFO, "%s: done in %lld ms%s%s", label, took_ms,
               out->note ? ": " : "", out->note ? out->note : "");
    }
    else if (out->status == VTH_JOB_RETRY && job->attempts < job->max_attempts) {
        status = "pending";
        delay = retry_delay_s(ob, job->attempts);
        vt_log(VT_LOG_WARN, "%s: attempt %d/%d failed: %s; retrying in %.1f s", label,
               job->attempts, job->max_attempts, out->error, delay);
    }
    else {
        status = "failed";
        vt_log(VT_LOG_ERR, "%s: failed%s (attempt %d/%d): %s", label,
               out->status == VTH_JOB_RETRY ? ", no attempt left" : "", job->attempts,
               job->max_attempts, out->error);
    }
    f = apr_pcalloc(ob->finish_pool, sizeof *f);
    f->params[0] = apr_pstrdup(ob->finish_pool, job->id);
    f->params[1] = apr_itoa(ob->finish_pool, job->attempts);
    f->params[2] = status;
    f->params[3] = apr_psprintf(ob->finish_pool, "%.3f", delay);
    f->params[4] = out->status == VTH_JOB_DONE ? NULL
                                               : short_error(ob->finish_pool, out->error);
    f->params[5] = out->status == VTH_JOB_DONE && out->result
                       ? apr_pstrdup(ob->finish_pool, out->result) : NULL;
    ob->pending = f;
    if (!ob_write_result(ob))
        vt_log(VT_LOG_WARN, "%s: result kept until the database is back", label);
}

/* When the next pending job falls due (ms from now), as the database sees it. */
static void ob_schedule(vth_outbox_t *ob, int found_nothing)
{
    const char *params[1] = { ob->excluded };
    long long now = vth_now_ms(), wait = VTH_MAX_WAIT_MS;
    PGresult *res;

    res = ob_exec(ob,
                  "SELECT greatest(0, ceil(extract(epoch FROM min(run_after) - now())"
                  " * 1000))::bigint FROM jobs WHERE status = 'pending'"
                  " AND ($1::text[] IS NULL OR kind <> ALL ($1::text[]))",
                  1, params, "looking for pending jobs");
    if (res) {
        if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            wait = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    /* Due but not claimable: other helpers are claiming them right now. */
    if (found_nothing && wait < VTH_BUSY_RECHECK_MS)
        wait = VTH_BUSY_RECHECK_MS;
    if (wait > VTH_MAX_WAIT_MS)
        wait = VTH_MAX_WAIT_MS;
    ob->next_due = now + wait;
}

/* Claims and runs due jobs until none is left, the connection breaks or a stop arrives. */
static void ob_run_due(vth_outbox_t *ob)
{
    int claimed = 0, r = 0;

    ob->work = 0;
    while (ob->state == OB_READY && !ob->pending && !vth_stop_requested(ob->cfg)) {
        apr_pool_t *p;
        vth_job_t job;
        vth_outcome_t out;
        long long t0;

        apr_pool_create(&p, ob->pool);
        memset(&job, 0, sizeof job);
        r = ob_claim(ob, p, &job);
        if (r <= 0) {
            apr_pool_destroy(p);
            break;
        }
        claimed++;
        vt_log(VT_LOG_DEBUG, "%s: claimed, attempt %d/%d", job_label(p, &job), job.attempts,
               job.max_attempts);
        memset(&out, 0, sizeof out);
        t0 = vth_now_ms();
        vth_job_run(p, ob->cfg, ob->jobs, ob->conn, &job, &out);
        /* A look-up inside the job may have found the connection broken. */
        if (ob->conn && PQstatus(ob->conn) == CONNECTION_BAD)
            ob_connection_lost(ob, PQerrorMessage(ob->conn));
        ob_record(ob, p, &job, &out, vth_now_ms() - t0);
        apr_pool_destroy(p); /* wipes the decrypted token */
    }
    if (ob->state != OB_READY)
        return;
    if (r < 0)
        ob->next_due = vth_now_ms() + VTH_MAX_WAIT_MS;
    else
        ob_schedule(ob, r == 0 && claimed == 0);
}

static void ob_drain_notifies(vth_outbox_t *ob)
{
    PGnotify *n;
    while ((n = PQnotifies(ob->conn)) != NULL) {
        ob->work = 1;
        PQfreemem(n);
    }
}

/* ------------------------------------------------------------------ event-loop source */

static void ob_prepare(void *baton, struct pollfd *pfd, long *timeout_ms)
{
    vth_outbox_t *ob = baton;
    long long now = vth_now_ms(), t;

    switch (ob->state) {
    case OB_DOWN:
        t = ob->next_connect - now;
        break;
    case OB_CONNECTING:
        pfd->fd = PQsocket(ob->conn);
        pfd->events = ob->poll_st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        t = ob->connect_deadline - now;
        break;
    default:
        pfd->fd = PQsocket(ob->conn);
        pfd->events = POLLIN;
        t = ob->work ? 0 : ob->next_due - now;
        if (ob->next_sweep - now < t)
            t = ob->next_sweep - now;
        break;
    }
    if (t < *timeout_ms)
        *timeout_ms = t < 0 ? 0 : (long)t;
}

static void ob_dispatch(void *baton, short revents)
{
    vth_outbox_t *ob = baton;
    long long now = vth_now_ms();

    switch (ob->state) {
    case OB_DOWN:
        if (now >= ob->next_connect)
            ob_connect_begin(ob);
        return;
    case OB_CONNECTING:
        if (revents)
            ob_connect_step(ob);
        else if (now >= ob->connect_deadline)
            ob_connect_failed(ob, "timed out connecting to the database");
        return;
    default:
        break;
    }
    if (revents) {
        if (!PQconsumeInput(ob->conn)) {
            ob_connection_lost(ob, PQerrorMessage(ob->conn));
            return;
        }
        ob_drain_notifies(ob);
    }
    if (ob->state == OB_READY && now >= ob->next_sweep)
        ob_sweep(ob);
    if (ob->state == OB_READY && (ob->work || now >= ob->next_due))
        ob_run_due(ob);
    if (ob->state == OB_READY)
        ob_drain_notifies(ob); /* those that arrived while jobs ran are covered */
}

/* ------------------------------------------------------------------ public */

vth_outbox_t *vth_outbox_create(apr_pool_t *p, const vth_config_t *cfg)
{
    vth_outbox_t *ob = apr_pcalloc(p, sizeof *ob);
    unsigned char seed[8];

    ob->pool = p;
    ob->cfg = cfg;
    ob->excluded = vth_jobs_excluded(p, cfg);
    ob->jobs = vth_jobs_create(p);
    ob->state = OB_DOWN;
    ob->backoff_ms = VTH_BACKOFF_FIRST_MS;
    ob->next_connect = vth_now_ms();
    apr_pool_create(&ob->finish_pool, p);
    if (apr_generate_random_bytes(seed, sizeof seed) == APR_SUCCESS)
        memcpy(&ob->rng, seed, sizeof ob->rng);
    ob->rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)vth_now_ms();
    if (!ob->rng)
        ob->rng = 0x9E3779B97F4A7C15ULL;
    return ob;
}

void vth_outbox_source(vth_outbox_t *ob, vth_source_t *src)
{
    src->name = "job outbox";
    src->prepare = ob_prepare;
    src->dispatch = ob_dispatch;
    src->baton = ob;
}

int vth_outbox_connect_blocking(vth_outbox_t *ob)
{
    if (ob->conn && ob->state == OB_READY)
        return 0;
    ob_drop(ob);
    ob->conn = ob_connect_start(ob, 1);
    if (!ob->conn || PQstatus(ob->conn) != CONNECTION_OK) {
        apr_pool_t *p;
        apr_pool_create(&p, ob->pool);
        vt_log(VT_LOG_ERR, "cannot connect to the database: %s",
               ob->conn ? vt_first_line(p, PQerrorMessage(ob->conn)) : "out of memory");
        apr_pool_destroy(p);
        ob_drop(ob);
        return 1;
    }
    ob_connected(ob, 0);
    return ob->state == OB_READY ? 0 : 1;
}

int vth_outbox_run_once(vth_outbox_t *ob)
{
    if (vth_outbox_connect_blocking(ob) != 0)
        return 1;
    if (ob->state == OB_READY)
        ob_sweep(ob);
    if (ob->state == OB_READY)
        ob_run_due(ob);
    return ob->state == OB_READY && !ob->query_failed && !ob->pending ? 0 : 1;
}

PGconn *vth_outbox_conn(vth_outbox_t *ob, unsigned long *generation)
{
    if (generation)
        *generation = ob->generation;
    return ob->state == OB_READY ? ob->conn : NULL;
}

void vth_outbox_conn_broken(vth_outbox_t *ob)
{
    if (ob->conn && ob->state == OB_READY)
        ob_connection_lost(ob, PQerrorMessage(ob->conn));
}

void vth_outbox_close(vth_outbox_t *ob)
{
    if (ob->pending)
        vt_log(VT_LOG_WARN, "job %s: its result could not be recorded; it will be run again "
               "once another helper finds it interrupted", ob->pending->params[0]);
    ob_drop(ob);
}
