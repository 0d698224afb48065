/* vtm_helper_proc — voxtwilio-helper started and supervised by the httpd parent; see
 * vtm_helper_proc.h for the design.
 *
 * Everything here runs in the single-threaded root parent, except vtm_helper_child_init()
 * and vtm_helper_status() (MPM children). The module's DSO is unloaded and loaded again at
 * every restart, so nothing in the process pool may point into it (no function pointers, no
 * string literals): only plain data lives there.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_shm.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_main.h>
#include <mpm_common.h>
#include <unixd.h>

#include "vt_crypto.h"
#include "vt_signature.h"
#include "vtm_helper_proc.h"
#include "vtm_module.h"
#include "vtm_status.h"

APLOG_USE_MODULE(voxtwilio);

extern char **environ;

/* The layout is versioned: a graceful restart onto a rebuilt module must not read an older
 * struct left in the process pool. */
#define STATE_KEY "voxtwilio-helper-state-v1"
#define STOP_WAIT_MS 5000          /* SIGTERM, then SIGKILL: the helper finishes its job */
#define QUICK_DEATH_S 10           /* a helper that dies younger than this "died quickly" */
#define QUICK_DEATHS_MAX 5         /* then starts wait for the monitor hook (~10 s) */
#define RESPAWN_DELAY_S 10
#define VTH_EXIT_CONFIG 254        /* voxtwilio-helper: configuration error, do not respawn */

/* What this configuration generation starts (in pconf; NULL between generations). */
typedef struct helper_spec {
    server_rec *s;
    apr_pool_t *pconf;
    const char *path;
    const char **argv;
    const char **env;
    char fingerprint[65]; /* SHA-256 of the command line and the database string */
} helper_spec_t;

/* Survives restarts (process pool). */
typedef struct helper_state {
    apr_pool_t *pool;
    apr_proc_t *proc;          /* the running helper, NULL when none */
    int registered;            /* with apr_proc_other_child_* in this generation */
    char fingerprint[65];      /* what proc was started with (or what failed with 254) */
    int failed;                /* exited 254 with that fingerprint */
    int quick_deaths;
    apr_time_t respawn_at;     /* a deferred start, 0 when none */
    int chld_waker;            /* our SIGCHLD handler is installed */
    struct sigaction old_chld;
    vtm_helper_status_t *status;
    helper_spec_t *spec;
} helper_state_t;

static void helper_maint(int reason, void *data, int status);

/* ------------------------------------------------------------------ state */

static helper_state_t *state_get(apr_pool_t *ppool, int create)
{
    helper_state_t *st = NULL;
    apr_shm_t *shm;

    apr_pool_userdata_get((void **)&st, STATE_KEY, ppool);
    if (st || !create) {
        return st;
    }
    st = apr_pcalloc(ppool, sizeof(*st));
    st->pool = ppool;
    /* Anonymous shared memory, inherited by every child forked later. */
    if (apr_shm_create(&shm, sizeof(*st->status), NULL, ppool) == APR_SUCCESS) {
        st->status = apr_shm_baseaddr_get(shm);
    }
    else {
        st->status = apr_pcalloc(ppool, sizeof(*st->status)); /* children see a snapshot */
    }
    memset((void *)st->status, 0, sizeof(*st->status));
    apr_pool_userdata_set(st, STATE_KEY, apr_pool_cleanup_null, ppool);
    return st;
}

const vtm_helper_status_t *vtm_helper_status(server_rec *s)
{
    helper_state_t *st = state_get(s->process->pool, 0);

    return st ? st->status : NULL;
}

/* Tells mod_status's counters (vtm_status.c) after every change of pid or restarts. */
static void publish(helper_state_t *st)
{
    vtm_status_set_helper((long)st->status->pid, st->status->restarts);
}

/* ------------------------------------------------------------------ SIGCHLD waker */

/* The MPM's parent loop reaps children between 1-second sleeps, so a dead helper would be
 * noticed up to 1 s late. A handler (any handler) makes SIGCHLD interrupt that sleep. */
static void chld_wake(int sig)
{
    (void)sig;
}

static void chld_waker_install(helper_state_t *st)
{
    struct sigaction sa;

    if (st->chld_waker) {
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = chld_wake;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    if (sigaction(SIGCHLD, &sa, &st->old_chld) == 0) {
        st->chld_waker = 1;
    }
}

/* Before the DSO goes away (end of a generation), and in every MPM child. */
static void chld_waker_remove(helper_state_t *st)
{
    if (st->chld_waker) {
        sigaction(SIGCHLD, &st->old_chld, NULL);
        st->chld_waker = 0;
    }
}

void vtm_helper_child_init(apr_pool_t *pchild, server_rec *s)
{
    helper_state_t *st = state_get(s->process->pool, 0);

    if (st) {
        chld_waker_remove(st);
    }
}

/* ------------------------------------------------------------------ the command line */

static const char *level_name(int level)
{
    return level >= APLOG_DEBUG ? "debug" : level >= APLOG_INFO ? "info"
           : level >= APLOG_NOTICE ? "notice" : level >= APLOG_WARNING ? "warn" : "error";
}

/* The key file's SHA-256 (its contents wiped from memory after), or "" if unreadable: the
 * helper then fails to start and says why. */
static const char *key_file_digest(apr_pool_t *p, const char *path)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;
    const char *digest = "";

    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
        return digest;
    }
    if (apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS && fi.size > 0
        && fi.size < 1024 * 1024) {
        n = (apr_size_t)fi.size;
        buf = apr_palloc(p, n);
        if (apr_file_read_full(f, buf, n, &n) == APR_SUCCESS) {
            digest = vt_sha256_hex(p, buf, n);
        }
        vt_memzero(buf, (apr_size_t)fi.size);
    }
    apr_file_close(f);
    return digest;
}

/* Logs at warning level (once per generation) why there is nothing to supervise. */
static helper_spec_t *spec_build(apr_pool_t *pconf, server_rec *s)
{
    vtm_srv_conf_t *mc = vtm_srv_conf(s);
    apr_array_header_t *args, *env;
    const char *api_base = NULL, *key;
    helper_spec_t *sp;
    server_rec *v, *first = NULL;
    char **e;
    int i;

    for (v = s; v; v = v->next) {
        vtm_srv_conf_t *c = vtm_srv_conf(v);
        if (!c->enabled) {
            continue;
        }
        if (!first) {
            first = v;
            api_base = c->api_base;
        }
        else if (strcmp(api_base, c->api_base) != 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                         VTLOGNO(10409) "VoxTwilioAPIBase %s differs from %s of the first "
                         "host with VoxTwilio On; voxtwilio-helper uses the latter",
                         c->api_base, api_base);
        }
    }
    if (!first) {
        return NULL; /* the module serves nothing: nothing to run */
    }
    if (!mc->helper[0]) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     VTLOGNO(10410) "VoxTwilioHelper Off: voxtwilio-helper is expected to "
                     "run on its own (systemd)");
        return NULL;
    }
    if (!mc->helper_db) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     VTLOGNO(10411) "VoxTwilioHelperDB is not set, so httpd does not start "
                     "voxtwilio-helper: queued jobs and spooled webhooks wait for a helper "
                     "run elsewhere (set it to the DBDParams string, or VoxTwilioHelper Off)");
        return NULL;
    }
    if (access(mc->helper, X_OK) != 0) { /* only the default can get here (vtm_cmds checks) */
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s,
                     VTLOGNO(10412) "voxtwilio-helper is not installed at %s: not started "
                     "(set VoxTwilioHelper PATH, or Off)", mc->helper);
        return NULL;
    }
    if (!mc->key_file) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     VTLOGNO(10413) "voxtwilio-helper needs VoxTwilioKeyFile: not started");
        return NULL;
    }

    sp = apr_pcalloc(pconf, sizeof(*sp));
    sp->s = s;
    sp->pconf = pconf;
    sp->path = mc->helper;
    args = apr_array_make(pconf, 24, sizeof(const char *));
#define ARG(x) (*(const char **)apr_array_push(args) = (x))
    ARG(mc->helper);
    ARG("--parent-pid");
    ARG(apr_psprintf(pconf, "%ld", (long)getpid()));
    ARG("--key-file");
    ARG(mc->key_file);
    ARG("--api-base");
    ARG(api_base);
    ARG("--spool-dir");
    ARG(mc->spool_dir);
    if (mc->recordings_dir) {
        ARG("--recordings-dir");
        ARG(mc->recordings_dir);
    }
    /* It loads the key file as root (the file stays root-only), then becomes httpd's User. */
    if (geteuid() == 0 && ap_unixd_config.user_name) {
        ARG("--user");
        ARG(ap_unixd_config.user_name);
        if (ap_unixd_config.group_name) {
            ARG("--group");
            ARG(ap_unixd_config.group_name);
        }
    }
    if (*mc->stream_socket) {
        ARG("--stream-socket");
        ARG(mc->stream_socket);
        ARG("--stream-max");
        ARG(apr_itoa(pconf, mc->stream_max));
        ARG("--stream-timeout");
        ARG(apr_itoa(pconf, mc->stream_timeout_s));
        ARG("--realtime-timeout");
        ARG(apr_psprintf(pconf, "%" APR_INT64_T_FMT, mc->realtime_timeout_ms));
        if (mc->stream_direct_url) {
            ARG("--stream-listen");
            ARG(mc->stream_direct_listen);
            ARG("--stream-public-url");
            ARG(mc->stream_direct_url);
        }
    }
    ARG("--log-level");
    ARG(level_name(ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX)));
    ARG(NULL);
#undef ARG
    sp->argv = (const char **)args->elts;

    /* The database string goes in the environment, not argv: /proc/PID/environ is readable
     * by the process's owner only. */
    env = apr_array_make(pconf, 32, sizeof(const char *));
    for (e = environ; e && *e; e++) {
        if (strncmp(*e, "VOXTWILIO_DB=", 13) != 0) {
            *(const char **)apr_array_push(env) = *e;
        }
    }
    *(const char **)apr_array_push(env) = apr_pstrcat(pconf, "VOXTWILIO_DB=", mc->helper_db,
                                                       NULL);
    *(const char **)apr_array_push(env) = NULL;
    sp->env = (const char **)env->elts;

    /* A restart keeps the running helper only if it would be started the same way, with
     * the same keys: it reads the key file once, so a rotated one needs a new helper. */
    key = apr_pstrcat(pconf, mc->helper_db, "\n", key_file_digest(pconf, mc->key_file), NULL);
    for (i = 1; sp->argv[i]; i++) {
        if (strcmp(sp->argv[i - 1], "--parent-pid") != 0) {
            key = apr_pstrcat(pconf, key, "\n", sp->argv[i], NULL);
        }
    }
    apr_cpystrn(sp->fingerprint, vt_sha256_hex(pconf, key, strlen(key)),
                sizeof(sp->fingerprint));
    return sp;
}

/* ------------------------------------------------------------------ start and stop */

/* Runs in the forked child when exec fails; its stderr is the main error log. */
static void child_errfn(apr_pool_t *p, apr_status_t err, const char *desc)
{
    ap_log_error(APLOG_MARK, APLOG_CRIT, err, NULL,
                 VTLOGNO(10414) "cannot run voxtwilio-helper: %s", desc);
}

static void helper_register(helper_state_t *st)
{
    if (!st->registered && st->proc && st->spec) {
        apr_proc_other_child_register(st->proc, helper_maint, st, NULL, st->spec->pconf);
        st->registered = 1;
    }
}

static void helper_unregister(helper_state_t *st)
{
    if (st->registered) {
        st->registered = 0; /* first: the call below re-enters helper_maint */
        apr_proc_other_child_unregister(st);
    }
}

static void helper_spawn(helper_state_t *st)
{
    helper_spec_t *sp = st->spec;
    apr_pool_t *tmp;
    apr_procattr_t *attr;
    apr_proc_t proc;
    apr_status_t rv;
    int first = st->status->restarts == 0 && st->status->started_at == 0;

    st->respawn_at = 0;
    if (!sp) {
        return;
    }
    apr_pool_create(&tmp, st->pool);
    memset(&proc, 0, sizeof(proc));
    rv = apr_procattr_create(&attr, tmp);
    if (rv == APR_SUCCESS) {
        rv = apr_procattr_cmdtype_set(attr, APR_PROGRAM);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_procattr_error_check_set(attr, 1);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_procattr_child_errfn_set(attr, child_errfn);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_proc_create(&proc, sp->path, sp->argv, sp->env, attr, tmp);
    }
    apr_pool_destroy(tmp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, sp->s,
                     VTLOGNO(10401) "cannot start voxtwilio-helper %s; next attempt in "
                     "about %d s", sp->path, RESPAWN_DELAY_S);
        st->respawn_at = apr_time_now() + apr_time_from_sec(RESPAWN_DELAY_S);
        st->status->state = VTM_HELPER_RESTARTING;
        return;
    }
    /* A small allocation per start (bounded by the quick-death throttle). */
    st->proc = apr_pmemdup(st->pool, &proc, sizeof(proc));
    /* The process pool does not own it: restarts must not kill it (APR_KILL_NEVER), and
     * only our stop at exit does. */
    apr_pool_note_subprocess(st->pool, st->proc, APR_KILL_NEVER);
    apr_cpystrn(st->fingerprint, sp->fingerprint, sizeof(st->fingerprint));
    st->failed = 0;
    if (!first) {
        st->status->restarts++;
    }
    st->status->pid = proc.pid;
    st->status->started_at = apr_time_now();
    st->status->state = VTM_HELPER_RUNNING;
    publish(st);
    helper_register(st);
    if (first) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sp->s,
                     VTLOGNO(10402) "voxtwilio-helper started, pid %ld", (long)proc.pid);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, sp->s,
                     VTLOGNO(10403) "voxtwilio-helper restarted, pid %ld (restart %u)",
                     (long)proc.pid, st->status->restarts);
    }
}

/* "exit status 1", "signal 9", from a raw wait status. */
static const char *describe_status(apr_pool_t *p, int status)
{
    if (WIFEXITED(status)) {
        return apr_psprintf(p, "exit status %d", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return apr_psprintf(p, "killed by signal %d", WTERMSIG(status));
    }
    return "stopped";
}

/* SIGTERM, up to STOP_WAIT_MS for it to finish its job, then SIGKILL. */
static void helper_stop(helper_state_t *st, server_rec *s, const char *why)
{
    pid_t pid;
    int status = 0, waited = 0, gone = 0;

    if (!st->proc) {
        return;
    }
    pid = st->proc->pid;
    helper_unregister(st);
    st->proc = NULL;
    st->status->pid = 0;
    st->status->state = VTM_HELPER_NOT_SUPERVISED;
    publish(st);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 VTLOGNO(10404) "stopping voxtwilio-helper pid %ld (%s)", (long)pid, why);
    if (kill(pid, SIGTERM) != 0) {
        waitpid(pid, &status, WNOHANG); /* already gone: reap it if it is a zombie */
        return;
    }
    while (!gone && waited < STOP_WAIT_MS) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            gone = 1;
            break;
        }
        apr_sleep(apr_time_from_msec(20));
        waited += 20;
    }
    if (!gone) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     VTLOGNO(10405) "voxtwilio-helper pid %ld still running %d s after "
                     "SIGTERM: killing it", (long)pid, STOP_WAIT_MS / 1000);
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
    }
}

/* The helper is gone. status: the MPM passes the exit code or signal number (not a raw
 * wait status: raw 0); -1 when unknown. watched: seen by the running generation, which
 * restarts it at once (post_config, which found it dead after a restart, decides itself). */
static void helper_died(helper_state_t *st, int status, int raw, int watched)
{
    server_rec *s = st->spec ? st->spec->s : ap_server_conf;
    pid_t pid = st->proc ? st->proc->pid : 0;
    apr_time_t age = apr_time_now() - st->status->started_at;
    int mpm_state = AP_MPMQ_RUNNING, code;
    apr_pool_t *p = st->spec ? st->spec->pconf : st->pool;
    const char *how;

    st->proc = NULL;
    st->status->pid = 0;
    publish(st);
    if (!raw && status > 255) {
        raw = 1; /* apr_proc_other_child_refresh() passes waitpid's raw status */
    }
    ap_mpm_query(AP_MPMQ_MPM_STATE, &mpm_state);
    if (watched && (mpm_state == AP_MPMQ_STOPPING
                    || ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING)) {
        st->status->state = VTM_HELPER_NOT_SUPERVISED;
        return; /* httpd is stopping: it would be stopped anyway */
    }
    code = raw ? (WIFEXITED(status) ? WEXITSTATUS(status) : -1) : status;
    how = raw ? describe_status(p, status)
              : status < 0 ? "status unknown" : apr_psprintf(p, "exit status or signal %d",
                                                              status);
    if (code == VTH_EXIT_CONFIG) {
        /* Respawning cannot help; the helper logged the reason just before. */
        st->failed = 1;
        st->status->state = VTM_HELPER_FAILED;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     VTLOGNO(10406) "voxtwilio-helper pid %ld exited with status %d: its "
                     "configuration is wrong (its message is above); it is not restarted "
                     "until the configuration changes", (long)pid, VTH_EXIT_CONFIG);
        return;
    }
    st->quick_deaths = age < apr_time_from_sec(QUICK_DEATH_S) ? st->quick_deaths + 1 : 0;
    if (!watched) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     VTLOGNO(10417) "voxtwilio-helper pid %ld exited during the restart (%s)",
                     (long)pid, how);
        return;
    }
    if (st->quick_deaths > QUICK_DEATHS_MAX) {
        st->respawn_at = apr_time_now() + apr_time_from_sec(RESPAWN_DELAY_S);
        st->status->state = VTM_HELPER_RESTARTING;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     VTLOGNO(10407) "voxtwilio-helper pid %ld is gone (%s), the %d. time in a "
                     "row within %d s of its start; next start in about %d s",
                     (long)pid, how, st->quick_deaths, QUICK_DEATH_S, RESPAWN_DELAY_S);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 VTLOGNO(10408) "voxtwilio-helper pid %ld is gone (%s); restarting it",
                 (long)pid, how);
    helper_spawn(st);
}

/* apr's other-child callback. */
static void helper_maint(int reason, void *data, int status)
{
    helper_state_t *st = data;

    switch (reason) {
    case APR_OC_REASON_DEATH:
    case APR_OC_REASON_LOST:
        helper_unregister(st);
        helper_died(st, reason == APR_OC_REASON_DEATH ? status : -1, 0, 1);
        break;
    case APR_OC_REASON_UNREGISTER:
        /* pconf is being cleared (a restart or the exit): the registration ends, the
         * helper does not; generation_end() decides. */
        st->registered = 0;
        break;
    case APR_OC_REASON_RESTART: /* httpd reclaims its children: not ours to stop here */
    default:
        break;
    }
}

/* pconf cleanup: the end of a configuration generation. */
static apr_status_t generation_end(void *data)
{
    helper_state_t *st = data;

    chld_waker_remove(st); /* its handler lives in the DSO that is about to be unloaded */
    st->registered = 0;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_EXITING) {
        helper_stop(st, st->spec ? st->spec->s : ap_server_conf, "httpd is stopping");
    }
    st->spec = NULL;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ hooks */

int vtm_helper_post_config(apr_pool_t *pconf, server_rec *s)
{
    helper_state_t *st = state_get(s->process->pool, 1);
    helper_spec_t *sp = spec_build(pconf, s);

    st->spec = sp;
    st->registered = 0;
    apr_pool_cleanup_register(pconf, st, generation_end, apr_pool_cleanup_null);

    if (st->proc) {
        /* It may have died while no generation watched it (during the restart). */
        int status = 0;
        pid_t r = waitpid(st->proc->pid, &status, WNOHANG);

        if (r == st->proc->pid) {
            helper_died(st, status, 1, 0);
        }
        else if (r < 0 && errno == ECHILD) {
            helper_died(st, -1, 0, 0);
        }
    }
    if (!sp) {
        helper_stop(st, s, "no longer started by httpd with this configuration");
        st->failed = 0;
        st->respawn_at = 0;
        st->status->state = VTM_HELPER_NOT_SUPERVISED;
        return OK;
    }
    chld_waker_install(st);
    if (st->proc && strcmp(st->fingerprint, sp->fingerprint) != 0) {
        helper_stop(st, s, "its configuration or key file changed");
    }
    if (st->proc) {
        helper_register(st);
        publish(st);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     VTLOGNO(10415) "voxtwilio-helper pid %ld kept across the restart",
                     (long)st->proc->pid);
        return OK;
    }
    if (st->failed && strcmp(st->fingerprint, sp->fingerprint) == 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     VTLOGNO(10416) "voxtwilio-helper not started: it exited with status %d "
                     "with this configuration (see its message in this log)", VTH_EXIT_CONFIG);
        return OK;
    }
    if (st->respawn_at && st->status->state == VTM_HELPER_RESTARTING) {
        return OK; /* a deferred start is pending: the monitor hook does it */
    }
    st->quick_deaths = 0;
    helper_spawn(st);
    return OK;
}

int vtm_helper_monitor(apr_pool_t *p, server_rec *s)
{
    helper_state_t *st = state_get(s->process->pool, 0);

    if (st && st->spec && !st->proc && st->respawn_at && apr_time_now() >= st->respawn_at) {
        helper_spawn(st);
    }
    return DECLINED;
}
