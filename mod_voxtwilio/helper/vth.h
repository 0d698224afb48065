/* vth — voxtwilio-helper internals.
 *
 * The helper is one event loop (vth_loop.c) over "sources": each source says which fd it
 * waits on and when it next needs attention, and is dispatched after every wake-up. The
 * job outbox (vth_outbox.c, jobs in vth_jobs.c) is the first source; the Media Streams
 * WebSocket server will be another. A job runs to completion inside its dispatch (network
 * calls have hard timeouts), so when streams arrive the outbox gets a loop of its own in a
 * second thread and the stream loop never waits for a job.
 *
 * Signals are blocked everywhere except inside the loop's ppoll() and vth_stop_requested(),
 * so a SIGTERM during a job is acted on once the job is finished and recorded.
 */
#ifndef VTH_H
#define VTH_H

#include <poll.h>
#include <sys/types.h>

#include <apr_pools.h>
#include <libpq-fe.h>

#include "vt_keyring.h"
#include "vt_llm.h"

#define VTH_PROG "voxtwilio-helper"
#define VTH_EXIT_CONFIG 254 /* start-up configuration error: a supervisor must not respawn */
/* A number macro as a string literal, for --help (the macro must be a plain decimal). */
#define VTH_STR(x) VTH_STR_(x)
#define VTH_STR_(x) #x

#define VTH_JOBS_CHANNEL "voxtwilio_jobs" /* LISTENed on; NOTIFYed when a job becomes due */
#define VTH_RECORDINGS_DIR_MODE 0750      /* --recordings-dir and its per-company folders */
#define VTH_SPOOL_DIR_MODE 0700           /* --spool-dir and its rejected/: webhooks, secrets */

#define VTH_DEFAULT_API_BASE "https://api.twilio.com"
#define VTH_MAX_WAIT_MS 5000L         /* longest sleep: a safety net for a lost NOTIFY */
#define VTH_REST_TIMEOUT_MS 30000L    /* one Messages.json call */
#define VTH_DOWNLOAD_TIMEOUT_MS 240000L /* one recording; below the stale-job limit */
#define VTH_DOWNLOAD_MAX_BYTES ((apr_off_t)1 << 30)
#define VTH_DEFAULT_STALE_S 300       /* a 'running' job older than this was orphaned */
#define VTH_LAST_ERROR_MAX 200        /* characters of jobs.last_error */
#define VTH_LLM_TIMEOUT_MS 30000L     /* one post-call analysis request to a tenant's model */
/* recording_transcribe: the whole job, well below the stale-job limit (a longer recording
 * gets a 'partial' transcript), and one utterance's request within it. */
#define VTH_TRANSCRIBE_BUDGET_MS 150000L
#define VTH_TRANSCRIBE_REQUEST_MS 30000L

typedef struct vth_config {
    const char *conninfo;       /* --db; NULL: libpq's environment */
    const char *api_base;       /* normalized */
    const char *recordings_dir; /* NULL: recording downloads are left to other helpers */
    const char *spool_dir;      /* NULL: no outage spool to replay */
    vt_keyring_t *ring;
    pid_t parent_pid;           /* 0: none */
    int once;
    int stale_after_s;
} vth_config_t;

/* ---- statements (vth_db.c): every statement of the helper goes through vth_pq, so each
 * failure is told the same way. */
/* What a statement must give back: rows (PGRES_TUPLES_OK), a command's OK
 * (PGRES_COMMAND_OK), or either (a statement the caller only passes on). */
typedef enum { VTH_PQ_ROWS = 1, VTH_PQ_COMMAND = 2, VTH_PQ_EITHER = 3 } vth_pq_want_t;
/* Runs sql (libpq's $1.. placeholders) with n text params on conn. The result when it is
 * what want asks for, else NULL (nothing left to clear) with *err, unless err is NULL (best
 * effort), = "database error <what>: <the server's message, else libpq's; one line>" in p,
 * never a parameter. A broken connection shows in PQstatus(conn); reconnecting is the
 * caller's. */
PGresult *vth_pq(PGconn *conn, apr_pool_t *p, vth_pq_want_t want, const char *what,
                 const char *sql, int n, const char *const *params, const char **err);

/* ---- time and signals (vth_loop.c) */
/* Monotonic milliseconds. */
long long vth_now_ms(void);
/* Blocks SIGTERM/SIGINT/SIGHUP (and ignores SIGPIPE); they are only let in by the loop's
 * wait and by vth_stop_requested(). */
void vth_signals_init(void);
/* Lets pending signals in, then says whether the helper should stop: 0 no, the signal
 * number when a SIGTERM/SIGINT/SIGHUP arrived, -1 when the --parent-pid process is gone. */
int vth_stop_requested(const vth_config_t *cfg);

/* ---- the event loop (vth_loop.c) */
typedef struct vth_source {
    const char *name;
    /* Sets pfd->fd/events (fd -1: nothing to watch) and lowers *timeout_ms to when the
     * source next needs a dispatch without I/O. */
    void (*prepare)(void *baton, struct pollfd *pfd, long *timeout_ms);
    /* Called after every wake-up with the events of its fd (0 when none). */
    void (*dispatch)(void *baton, short revents);
    void *baton;
} vth_source_t;

/* Runs until vth_stop_requested(). Returns 0, or -1 if waiting itself failed. */
int vth_loop_run(const vth_config_t *cfg, vth_source_t *sources, int nsources);

/* ---- the job outbox (vth_outbox.c) */
typedef struct vth_outbox vth_outbox_t;
vth_outbox_t *vth_outbox_create(apr_pool_t *p, const vth_config_t *cfg);
/* The outbox as an event-loop source (connects, LISTENs, runs due jobs, reconnects). */
void vth_outbox_source(vth_outbox_t *ob, vth_source_t *src);
/* --once: connect (blocking), requeue orphans, run every due job, disconnect.
 * Returns 0, or 1 if the database could not be used. */
int vth_outbox_run_once(vth_outbox_t *ob);
void vth_outbox_close(vth_outbox_t *ob);
/* --once: a blocking connect. 0 when connected. */
int vth_outbox_connect_blocking(vth_outbox_t *ob);
/* The outbox's connection while it is up, for other sources' short autocommit statements
 * (never left inside a transaction or with a pending result), else NULL. *generation (if
 * not NULL) grows by one at every (re)connect. */
PGconn *vth_outbox_conn(vth_outbox_t *ob, unsigned long *generation);
/* A statement on that connection found it broken: reconnect. */
void vth_outbox_conn_broken(vth_outbox_t *ob);

/* ---- the outage spool (vth_spool.c): webhooks the module stored while the database was
 * down, replayed over the outbox's connection once it is up. */
#define VTH_SPOOL_REJECTED "rejected"
typedef struct vth_spool vth_spool_t;
vth_spool_t *vth_spool_create(apr_pool_t *p, const vth_config_t *cfg, vth_outbox_t *ob);
/* The spool as an event-loop source: a pass right after every (re)connect, then every
 * second. */
void vth_spool_source(vth_spool_t *sp, vth_source_t *src);
/* --once: one pass over every file. 0, or 1 if files are left for lack of a database. */
int vth_spool_run_once(vth_spool_t *sp);

/* ---- job kinds (vth_jobs.c) */
typedef struct vth_job {
    const char *id;
    const char *kind;
    const char *company_id; /* NULL when the job has none */
    const char *call_sid;   /* NULL when the job has none */
    const char *payload;    /* jsonb as text */
    int attempts;           /* including this one */
    int max_attempts;
    const char *slug;       /* the company's, for the log; NULL until looked up */
} vth_job_t;

typedef enum { VTH_JOB_DONE, VTH_JOB_RETRY, VTH_JOB_FAIL } vth_job_status_t;

typedef struct vth_outcome {
    vth_job_status_t status;
    const char *error;  /* RETRY/FAIL: short text for jobs.last_error, never a secret */
    const char *result; /* DONE: a JSON object merged into jobs.payload, or NULL */
    const char *note;   /* DONE: for the log ("message SM...", "1234 bytes to ...") */
} vth_outcome_t;

/* What the job kinds keep from one job to the next, for the life of the process. */
typedef struct vth_jobs {
    apr_pool_t *pool;
    vt_llm_http_t *llm_http;    /* made at the first model request; keeps its connections */
} vth_jobs_t;
vth_jobs_t *vth_jobs_create(apr_pool_t *p);

/* The kinds this helper must not claim, as a PostgreSQL text[] literal, or NULL for none
 * (recording_download and recording_transcribe without --recordings-dir: left to a helper
 * that has one). */
const char *vth_jobs_excluded(apr_pool_t *p, const vth_config_t *cfg);
/* Runs one claimed job. conn is used for short autocommit look-ups only (no transaction
 * is open during network I/O). Secrets live in p only; the caller destroys it. */
void vth_job_run(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs, PGconn *conn,
                 vth_job_t *job, vth_outcome_t *out);

/* ---- what the job kinds share (vth_jobs.c) */
struct json_object;
struct vt_rest_result;

/* The job's tenant, ready to call Twilio with. */
typedef struct vth_integration {
    const char *slug;
    const char *account_sid;
    const char *auth_token;  /* decrypted, in the job's pool */
    const char *from;        /* first number, NULL when it has none */
    const char *webhook_url; /* companies.webhook_url (sql/012), NULL when not set */
} vth_integration_t;

void vth_job_outcome(vth_outcome_t *out, vth_job_status_t st, const char *error);
/* A string member of the payload, NULL when absent or not a string. */
const char *vth_payload_str(struct json_object *o, const char *key);
/* Looks up the job's tenant and decrypts its token. 1 when ready; 0 with *out set. */
int vth_job_integration(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                        const vth_job_t *job, vth_integration_t *in, vth_outcome_t *out);
/* The REST failure as a short text, and whether it is worth retrying. */
void vth_job_rest_failure(apr_pool_t *p, const struct vt_rest_result *r, vth_outcome_t *out);
/* o (consumed) as compact JSON text in p: an outcome's result. */
const char *vth_job_result(apr_pool_t *p, struct json_object *o);
/* The consent ledger's refusal of (job's company, to, channel: sms, whatsapp, voice) in
 * *refusal, NULL when the customer has not opted out; 0 (with *out) when the ledger cannot
 * be read. */
int vth_job_consent_refusal(apr_pool_t *p, PGconn *conn, const vth_job_t *job, const char *to,
                            const char *channel, const char **refusal, vth_outcome_t *out);

/* Once only: the job's mark that what it sends (a message, a call) may have gone, set
 * (committed) before the POST, so a later attempt, after the helper died or the answer was
 * lost, asks Twilio first (docs/helper.md, "A message is sent once"). */
#define VTH_SEND_STARTED "send_started_us"
int vth_job_mark_started(apr_pool_t *p, PGconn *conn, const vth_job_t *job,
                         vth_outcome_t *out);
/* The mark's time less a minute of slack for a clock that differs from Twilio's; 0 when the
 * job was never marked. */
apr_time_t vth_job_started_since(struct json_object *payload);
/* What a look-up at Twilio after the mark found (rv, r from vt_rest_*_find): 1 it exists
 * (*sid), 0 it does not, -1 it cannot be told now (*out: retry, "cannot tell whether an
 * earlier attempt <done> it"; never send or dial blind). */
int vth_job_found_earlier(apr_pool_t *p, apr_status_t rv, const struct vt_rest_result *r,
                          const char *done, const char **sid, vth_outcome_t *out);

/* ---- call_place (vth_calls.c): an outbound call the tenant's assistant makes. */
void vth_job_call_place(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn, vth_job_t *job,
                        struct json_object *payload, vth_outcome_t *out);

/* ---- call_analysis (vth_analysis.c): the summary, sentiment and to-dos of a completed
 * call, by the tenant's model when it has one, else (or when the model fails) offline. */
void vth_job_call_analysis(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs,
                           PGconn *conn, vth_job_t *job, vth_outcome_t *out);

/* ---- call_rules (vth_rules.c): the call triggers of a call that ended (missed_call,
 * call_completed, call_escalated) and the tenant's rules they set off. */
void vth_job_call_rules(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn, vth_job_t *job,
                        vth_outcome_t *out);

#endif
