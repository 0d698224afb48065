/* voxtwilio-helper — the companion daemon of mod_voxtwilio: works through the PostgreSQL
 * job outbox (SMS alerts, recording downloads) and replays the outage spool. The module
 * spawns it and supervises it (as root, so it can read the root-only key file before it
 * becomes httpd's User); it also runs standalone (systemd, cron with --once). See
 * docs/helper.md.
 *
 * Exit status: 0 after a stop signal, a gone parent or --once; 1 on a runtime failure;
 * 254 (VTH_EXIT_CONFIG) on a start-up configuration error, so a supervisor does not
 * respawn it in a loop. A database that is down is not a configuration error.
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "vth.h"
#include "vth_media.h"
#include "vt_keyring.h"
#include "vt_log.h"
#include "vt_rest.h"
#include "vt_util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fputs(
"Usage: " VTH_PROG " [OPTIONS]\n"
"\n"
"Runs mod_voxtwilio's background jobs (SMS alerts, recording downloads) from the\n"
"database outbox, replays the webhooks it spooled while the database was down, and\n"
"(with --stream-socket) holds stream-mode calls over Twilio Media Streams.\n"
"Logs go to standard error.\n"
"\n"
"Options:\n"
"  --db CONNINFO          PostgreSQL connection string or URI (default:\n"
"                         $VOXTWILIO_DB, else libpq's environment, PGHOST, ...)\n"
"  --key-file PATH        credential key file (default: $VOXTWILIO_KEY_FILE)\n"
"  --api-base URL         Twilio REST API base (default: $VOXTWILIO_API_BASE, else\n"
"                         " VTH_DEFAULT_API_BASE ")\n"
"  --recordings-dir DIR   where recordings are downloaded (DIR/<company>/<RE...>.wav);\n"
"                         without it recording downloads are left to other helpers\n"
"  --spool-dir DIR        replay the webhooks mod_voxtwilio stored there while the\n"
"                         database was down (its VoxTwilioSpoolDir)\n"
"  --user USER            after loading the key file as root, run as USER (name or\n"
"                         #uid; the module passes httpd's User)\n"
"  --group GROUP          ... and GROUP (default: USER's primary group)\n"
"  --once                 replay the spool, run the jobs that are due, then exit\n"
"  --parent-pid PID       exit when process PID is gone (the module passes httpd's)\n"
"  --stale-after SECONDS  requeue jobs left running this long by a helper that\n"
"                         died (default " VTH_STR(VTH_DEFAULT_STALE_S) ")\n"
"  --stream-socket PATH   serve Twilio Media Streams (stream mode) on this unix\n"
"                         socket, for Apache's mod_proxy_wstunnel (its directory is\n"
"                         created 0750; the socket is 0660, owned by --user)\n"
"  --stream-listen [ADDRESS:]PORT  also serve streams directly on this TCP port,\n"
"                         behind a load balancer that ends TLS (docs/stream-mode.md)\n"
"  --stream-public-url URL  the wss:// base Twilio connects to for --stream-listen:\n"
"                         signatures are checked against it\n"
"  --stream-max N         streams served at once (default " VTH_STR(VTH_STREAM_MAX_DEFAULT) ")\n"
"  --stream-timeout SECONDS  close a stream Twilio sends nothing on for this long\n"
"                         (default " VTH_STR(VTH_STREAM_TIMEOUT_S) ")\n"
"  --realtime-timeout MS  a realtime model that owes an answer this long has failed:\n"
"                         the caller hears an apology (default "
                         VTH_STR(VTH_REALTIME_TIMEOUT_MS) ")\n"
"  --stream-loopback      benchmark only: every stream's audio comes straight back\n"
"                         through the per-frame pipeline (bench/, docs/performance.md)\n"
"  --log-level LEVEL      error, warn, notice, info (default) or debug\n"
"  -h, --help             show this help\n"
"  --version              show the version\n"
"\n"
"Signals: TERM, INT and HUP finish the current job, then exit 0; USR1 is ignored.\n"
"Exit status: 0 stopped, 1 runtime error, " VTH_STR(VTH_EXIT_CONFIG) " configuration error "
"(do not respawn).\n",
        out);
}

/* ------------------------------------------------------------------ logging */

static const char *const level_names[] = { "emerg", "alert", "crit", "error",
                                           "warn", "notice", "info", "debug" };

/* One line per message, in the Apache error-log format (the module's helper writes into
 * the ErrorLog), written with a single write() so concurrent writers do not interleave. */
static void log_sink(void *baton, vt_log_level_t level, const char *file, int line,
                     const char *msg)
{
    char stamp[64], buf[1400];
    struct timeval tv;
    struct tm tm;
    size_t n, i, start;
    ssize_t w;

    (void)baton;
    (void)file;
    (void)line;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%a %b %d %H:%M:%S", &tm);
    n = (size_t)snprintf(buf, sizeof buf, "[%s.%06ld %d] [" VTH_PROG ":%s] [pid %ld] ", stamp,
                         (long)tv.tv_usec, tm.tm_year + 1900, level_names[level & 7],
                         (long)getpid());
    if (n >= sizeof buf)
        n = sizeof buf - 1;
    start = n;
    for (i = 0; msg[i] && n < sizeof buf - 1; i++)
        buf[n++] = msg[i];
    /* A value from a payload or an error document cannot fake another log line. */
    for (i = start; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = ' ';
    buf[n++] = '\n';
    for (i = 0; i < n; i += (size_t)w) {
        w = write(STDERR_FILENO, buf + i, n - i);
        if (w <= 0 && errno != EINTR)
            break;
        if (w < 0)
            w = 0;
    }
}

static int parse_level(const char *s, vt_log_level_t *level)
{
    static const struct { const char *name; vt_log_level_t level; } names[] = {
        { "error", VT_LOG_ERR }, { "err", VT_LOG_ERR }, { "warn", VT_LOG_WARN },
        { "warning", VT_LOG_WARN }, { "notice", VT_LOG_NOTICE }, { "info", VT_LOG_INFO },
        { "debug", VT_LOG_DEBUG },
    };
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *level = names[i].level;
            return 1;
        }
    return 0;
}

/* ------------------------------------------------------------------ options */

/* Start-up errors: one line, exit status VTH_EXIT_CONFIG. */
static int config_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int config_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vt_log(VT_LOG_ERR, "%s (configuration error, exit status %d)", msg, VTH_EXIT_CONFIG);
    return VTH_EXIT_CONFIG;
}

/* "--name VALUE" or "--name=VALUE": 1 matched (*val set), 0 another argument, -1 when the
 * value is missing or the option was already given. */
static int opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return 0;
    if (*val) {
        config_error("%s given twice", name);
        return -1;
    }
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (*i + 1 >= argc) {
        config_error("%s needs a value", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static int parse_positive(const char *s, long max, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0 || v > max)
        return 0;
    *out = v;
    return 1;
}

/* The recordings directory exists (or is created) and is writable. */
static int check_recordings_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, VTH_RECORDINGS_DIR_MODE) != 0 && errno != EEXIST)
        return config_error("--recordings-dir %s cannot be created: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return config_error("--recordings-dir %s is not a directory", dir);
    if (access(dir, W_OK | X_OK) != 0)
        return config_error("--recordings-dir %s is not writable: %s", dir, strerror(errno));
    return 0;
}

/* A directory given to the helper: when it is missing and the helper is about to drop
 * root, it is created now and given to the user (the module passes directories below
 * root-owned ones). Existing directories are left as they are. */
static int make_dir_for(const char *opt, const char *dir, mode_t mode, int chown_to,
                        uid_t uid, gid_t gid)
{
    if (mkdir(dir, mode) != 0) {
        if (errno == EEXIST)
            return 0;
        return config_error("%s %s cannot be created: %s", opt, dir, strerror(errno));
    }
    if (chown_to && chown(dir, uid, gid) != 0)
        return config_error("%s %s: cannot give it to uid %ld: %s", opt, dir, (long)uid,
                            strerror(errno));
    return 0;
}

/* The spool directory exists and the helper can read, write and search it. */
static int check_spool_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, VTH_SPOOL_DIR_MODE) != 0 && errno != EEXIST)
        return config_error("--spool-dir %s cannot be created: %s", dir, strerror(errno));
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return config_error("--spool-dir %s is not a directory", dir);
    if (access(dir, R_OK | W_OK | X_OK) != 0)
        return config_error("--spool-dir %s is not readable and writable: %s", dir,
                            strerror(errno));
    return 0;
}

/* "#N" (httpd's User/Group syntax for a numeric id). */
static int parse_id(const char *s, long *out)
{
    char *end;
    long v;

    if (s[0] != '#')
        return 0;
    errno = 0;
    v = strtol(s + 1, &end, 10);
    if (errno || end == s + 1 || *end || v < 0 || v > INT_MAX)
        return 0;
    *out = v;
    return 1;
}

/* --user: a name or #uid. 0 when found; *gid is its primary group, or -1 for a uid with
 * no passwd entry. */
static int lookup_user(const char *user, uid_t *uid, gid_t *gid, const char **name)
{
    struct passwd *pw;
    long v;

    if (parse_id(user, &v)) {
        *uid = (uid_t)v;
        pw = getpwuid(*uid);
    }
    else if (user[0] == '#' || !(pw = getpwnam(user)))
        return -1;
    else
        *uid = pw->pw_uid;
    *gid = pw ? pw->pw_gid : (gid_t)-1;
    *name = pw ? strdup(pw->pw_name) : NULL;
    return 0;
}

static int lookup_group(const char *group, gid_t *gid)
{
    struct group *gr;
    long v;

    if (parse_id(group, &v)) {
        *gid = (gid_t)v;
        return 0;
    }
    if (group[0] == '#' || !(gr = getgrnam(group)))
        return -1;
    *gid = gr->gr_gid;
    return 0;
}

/* Root is needed only to read the root-only key file; everything after runs as the user
 * httpd's children run as, so the helper can do no more than they can. */
static int drop_privileges(const char *name, uid_t uid, gid_t gid)
{
    if ((name ? initgroups(name, gid) : setgroups(1, &gid)) != 0)
        return config_error("cannot set the supplementary groups: %s", strerror(errno));
    if (setgid(gid) != 0)
        return config_error("cannot change to gid %ld: %s", (long)gid, strerror(errno));
    if (setuid(uid) != 0)
        return config_error("cannot change to uid %ld: %s", (long)uid, strerror(errno));
    if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
        return config_error("dropping root privileges did not work");
    return 0;
}

/* The stream options, checked; defaults for those not given. */
static int media_options(apr_pool_t *p, vth_media_conf_t *c, const char *max,
                         const char *timeout, const char *rt_timeout, const char *listen,
                         const char *public_url)
{
    const char *err;
    long v;

    c->max_streams = VTH_STREAM_MAX_DEFAULT;
    c->stream_timeout_s = VTH_STREAM_TIMEOUT_S;
    c->realtime_timeout_ms = VTH_REALTIME_TIMEOUT_MS;
    if (c->socket_path && (!*c->socket_path || strlen(c->socket_path) >= 108))
        return config_error("--stream-socket must be a path of 1 to 107 characters");
    if ((listen || public_url) && !c->socket_path)
        return config_error("--stream-listen and --stream-public-url need --stream-socket");
    if ((listen || public_url)
        && !vt_stream_direct_parse(p, public_url, listen, &c->public_url, &c->listen_host,
                                   &c->listen_port, &err))
        return config_error("--stream-listen/--stream-public-url: %s", err);
    if (max) {
        if (!parse_positive(max, 100000, &v))
            return config_error("--stream-max must be a number from 1 to 100000");
        c->max_streams = (int)v;
    }
    if (timeout) {
        if (!parse_positive(timeout, 3600, &v))
            return config_error("--stream-timeout must be a number of seconds (1 to 3600)");
        c->stream_timeout_s = (int)v;
    }
    if (rt_timeout) {
        if (!parse_positive(rt_timeout, 60000, &v) || v < 200)
            return config_error("--realtime-timeout must be milliseconds (200 to 60000)");
        c->realtime_timeout_ms = (int)v;
    }
    return 0;
}

/* The socket's directory: made 0750 for the helper's user (Apache's), whose group may then
 * reach the socket; an existing one is left as it is. */
static int make_socket_dir(const char *path, int chown_to, uid_t uid, gid_t gid)
{
    char dir[PATH_MAX];
    char *slash;

    apr_cpystrn(dir, path, sizeof dir);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    return make_dir_for("--stream-socket", dir, 0750, chown_to, uid, gid);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    vth_config_t cfg;
    apr_pool_t *pool;
    const char *key_file = NULL, *api_base = NULL, *parent = NULL, *stale = NULL;
    const char *level_name = NULL, *err = NULL, *user = NULL, *group = NULL;
    const char *user_name = NULL, *stream_max = NULL, *stream_timeout = NULL;
    const char *realtime_timeout = NULL, *stream_listen = NULL, *stream_public_url = NULL;
    vth_media_conf_t media_conf;
    vth_media_t *media = NULL;
    uid_t uid = 0;
    gid_t gid = 0;
    int drop = 0;
    vth_spool_t *spool = NULL;
    vt_log_level_t level = VT_LOG_INFO;
    vth_outbox_t *ob;
    vth_source_t sources[2];
    apr_status_t rv;
    int i, rc = 0, why;

    memset(&cfg, 0, sizeof cfg);
    memset(&media_conf, 0, sizeof media_conf);
    cfg.stale_after_s = VTH_DEFAULT_STALE_S;
    vt_log_set_sink(log_sink, NULL, VT_LOG_INFO);
    if (apr_app_initialize(&argc, (const char *const **)&argv, NULL) != APR_SUCCESS) {
        fputs(VTH_PROG ": cannot initialize APR\n", stderr);
        return 1;
    }
    atexit(apr_terminate);
    if (apr_pool_create(&pool, NULL) != APR_SUCCESS) {
        fputs(VTH_PROG ": out of memory\n", stderr);
        return 1;
    }

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int m;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            printf(VTH_PROG " (mod_voxtwilio) %s\n", PACKAGE_VERSION);
            return 0;
        }
        if (strcmp(a, "--once") == 0) {
            cfg.once = 1;
            continue;
        }
        if (strcmp(a, "--stream-loopback") == 0) {
            media_conf.loopback = 1;
            continue;
        }
        if ((m = opt(argc, argv, &i, "--db", &cfg.conninfo)) != 0
            || (m = opt(argc, argv, &i, "--key-file", &key_file)) != 0
            || (m = opt(argc, argv, &i, "--api-base", &api_base)) != 0
            || (m = opt(argc, argv, &i, "--recordings-dir", &cfg.recordings_dir)) != 0
            || (m = opt(argc, argv, &i, "--spool-dir", &cfg.spool_dir)) != 0
            || (m = opt(argc, argv, &i, "--user", &user)) != 0
            || (m = opt(argc, argv, &i, "--group", &group)) != 0
            || (m = opt(argc, argv, &i, "--parent-pid", &parent)) != 0
            || (m = opt(argc, argv, &i, "--stale-after", &stale)) != 0
            || (m = opt(argc, argv, &i, "--log-level", &level_name)) != 0
            || (m = opt(argc, argv, &i, "--stream-socket", &media_conf.socket_path)) != 0
            || (m = opt(argc, argv, &i, "--stream-max", &stream_max)) != 0
            || (m = opt(argc, argv, &i, "--stream-listen", &stream_listen)) != 0
            || (m = opt(argc, argv, &i, "--stream-public-url", &stream_public_url)) != 0
            || (m = opt(argc, argv, &i, "--stream-timeout", &stream_timeout)) != 0
            || (m = opt(argc, argv, &i, "--realtime-timeout", &realtime_timeout)) != 0) {
            if (m < 0)
                return VTH_EXIT_CONFIG;
            continue;
        }
        /* Only the option's name: a stray argument could be a pasted secret. */
        if (a[0] == '-')
            return config_error("unknown option '%.*s' (see --help)", (int)strcspn(a, "="), a);
        return config_error("unexpected argument (see --help)");
    }

    if (level_name && !parse_level(level_name, &level))
        return config_error("--log-level must be error, warn, notice, info or debug");
    vt_log_set_sink(log_sink, NULL, level);
    if (stale) {
        long v;
        if (!parse_positive(stale, 86400, &v))
            return config_error("--stale-after must be a number of seconds (1 to 86400)");
        cfg.stale_after_s = (int)v;
    }
    if ((rc = media_options(pool, &media_conf, stream_max, stream_timeout, realtime_timeout,
                            stream_listen, stream_public_url)) != 0)
        return rc;
    if (parent) {
        long v;
        if (!parse_positive(parent, INT_MAX, &v))
            return config_error("--parent-pid must be a process id");
        cfg.parent_pid = (pid_t)v;
    }
    if (!key_file) {
        const char *e = getenv("VOXTWILIO_KEY_FILE");
        key_file = e && *e ? e : NULL;
    }
    if (!key_file)
        return config_error("no key file: give --key-file PATH or set VOXTWILIO_KEY_FILE");
    rv = vt_keyring_load(pool, key_file, &cfg.ring, &err);
    if (rv != APR_SUCCESS || !cfg.ring) {
        char buf[256];
        if (!err)
            err = apr_strerror(rv, buf, sizeof buf);
        if (strstr(err, key_file)) /* the keyring's messages usually name the file */
            return config_error("cannot load the key file: %s", err);
        return config_error("cannot load the key file %s: %s", key_file, err);
    }
    if (!api_base) {
        const char *e = getenv("VOXTWILIO_API_BASE");
        api_base = e && *e ? e : VTH_DEFAULT_API_BASE;
    }
    err = NULL;
    cfg.api_base = vt_base_url_normalize(pool, api_base, &err);
    if (!cfg.api_base)
        return config_error("invalid --api-base: %s", err ? err : "not an http(s) URL");
    if (user) {
        if (lookup_user(user, &uid, &gid, &user_name) != 0)
            return config_error("--user %s: no such user", user);
        if (group && lookup_group(group, &gid) != 0)
            return config_error("--group %s: no such group", group);
        if (gid == (gid_t)-1)
            return config_error("--user %s has no primary group: give --group", user);
        if (geteuid() == 0)
            drop = uid != 0 || gid != 0;
        else if (uid != geteuid())
            return config_error("--user %s needs the helper to start as root", user);
    }
    else if (group)
        return config_error("--group needs --user");
    if (cfg.recordings_dir && !*cfg.recordings_dir)
        return config_error("--recordings-dir is empty");
    if (cfg.spool_dir && !*cfg.spool_dir)
        return config_error("--spool-dir is empty");
    if (cfg.recordings_dir
        && (rc = make_dir_for("--recordings-dir", cfg.recordings_dir, VTH_RECORDINGS_DIR_MODE,
                              drop, uid, gid)))
        return rc;
    if (cfg.spool_dir
        && (rc = make_dir_for("--spool-dir", cfg.spool_dir, VTH_SPOOL_DIR_MODE, drop, uid, gid)))
        return rc;
    if (media_conf.socket_path && !cfg.once
        && (rc = make_socket_dir(media_conf.socket_path, drop, uid, gid)) != 0)
        return rc;
    if (drop && (rc = drop_privileges(user_name, uid, gid)) != 0)
        return rc;
    if (cfg.recordings_dir && (rc = check_recordings_dir(cfg.recordings_dir)) != 0)
        return rc;
    if (cfg.spool_dir && (rc = check_spool_dir(cfg.spool_dir)) != 0)
        return rc;
    if (!cfg.conninfo) {
        const char *e = getenv("VOXTWILIO_DB");
        cfg.conninfo = e && *e ? e : NULL;
    }
    if (cfg.conninfo) {
        /* Syntax only (never logged: it may hold a password). */
        char *perr = NULL;
        PQconninfoOption *o = PQconninfoParse(cfg.conninfo, &perr);
        if (!o) {
            rc = config_error("invalid --db connection string: %s",
                              perr ? strtok(perr, "\n") : "out of memory");
            PQfreemem(perr);
            return rc;
        }
        PQconninfoFree(o);
    }

    vth_signals_init();
    if (cfg.parent_pid > 0) {
        /* The kernel tells us when our parent dies; the pid check in the loop covers a
         * --parent-pid that is not our direct parent, and a parent that died already. */
        if (getppid() == cfg.parent_pid)
            prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (vth_stop_requested(&cfg) == -1) {
            vt_log(VT_LOG_NOTICE, "parent process %ld is gone; exiting", (long)cfg.parent_pid);
            return 0;
        }
    }
    vt_rest_global_init(); /* before any thread exists */

    ob = vth_outbox_create(pool, &cfg);
    if (cfg.spool_dir)
        spool = vth_spool_create(pool, &cfg, ob);
    vt_log(VT_LOG_INFO, VTH_PROG " %s starting%s: API %s, recordings %s, spool %s, key file %s"
           "%s%s", PACKAGE_VERSION, cfg.once ? " (--once)" : "", cfg.api_base,
           cfg.recordings_dir ? cfg.recordings_dir : "not downloaded by this helper",
           cfg.spool_dir ? cfg.spool_dir : "none", key_file, drop ? ", running as " : "",
           drop ? user : "");
    if (cfg.once) {
        /* The spool first: a replayed recording callback queues its download job. */
        rc = vth_outbox_connect_blocking(ob);
        if (rc == 0 && spool)
            rc = vth_spool_run_once(spool);
        if (rc == 0)
            rc = vth_outbox_run_once(ob);
    }
    else {
        int n = 0;
        /* Live audio in a thread of its own: a slow job never delays it. */
        if (media_conf.socket_path && vth_media_start(&media, pool, &cfg, &media_conf) != 0)
            return config_error("cannot serve streams on %s", media_conf.socket_path);
        /* The spool before the outbox: the outbox picks up NOTIFYs that arrived while
         * spool statements ran in the same turn of the loop. */
        if (spool)
            vth_spool_source(spool, &sources[n++]);
        vth_outbox_source(ob, &sources[n++]);
        rc = vth_loop_run(&cfg, sources, n) == 0 ? 0 : 1;
        vth_media_stop(media);
    }
    why = vth_stop_requested(&cfg);
    if (why > 0)
        vt_log(VT_LOG_INFO, "stopping on signal %s", strsignal(why));
    else if (why < 0)
        vt_log(VT_LOG_NOTICE, "parent process %ld is gone; stopping", (long)cfg.parent_pid);
    vth_outbox_close(ob);
    apr_pool_destroy(pool); /* wipes the keys */
    return rc;
}
