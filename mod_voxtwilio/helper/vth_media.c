/* vth_media — the media thread: one libwebsockets context serving Twilio's streams on a
 * unix socket and the backends' client connections; see vth_media.h. */
#include <errno.h>
#include <stdlib.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <ev.h>
#include <fcntl.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "vth_media.h"
#include "vt_log.h"
#include "vt_voice.h"

static const struct lws_protocols protocols[] = {
    /* First: upgrades without Sec-WebSocket-Protocol (Twilio's) bind to index 0. */
    { "twilio-media", vth_stream_callback, VTH_STREAM_PSS_SIZE, 4096, 0, NULL, 0 },
    { "vt-realtime", vth_realtime_callback, 0, 16384, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ')) {
        n--;
    }
    vt_log(level == LLL_ERR ? VT_LOG_ERR : VT_LOG_WARN, "libwebsockets: %.*s", (int)n, line);
}

/* ------------------------------------------------------------------ outbound frames */

typedef struct vth_out {
    struct vth_out *next;
    size_t len;
    unsigned char buf[];   /* LWS_PRE bytes of headroom, then the frame */
} vth_out_t;

int vth_outq_push(vth_outq_t *q, const char *data, size_t len)
{
    vth_out_t *o = malloc(sizeof *o + LWS_PRE + len);

    if (!o) {
        return -1;
    }
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, data, len);
    if (q->tail) {
        q->tail->next = o;
    }
    else {
        q->head = o;
    }
    q->tail = o;
    q->count++;
    return 0;
}

int vth_outq_write(vth_outq_t *q, struct lws *wsi)
{
    vth_out_t *o = q->head;
    int rc;

    if (!o) {
        return 0;
    }
    q->head = o->next;
    if (!q->head) {
        q->tail = NULL;
    }
    q->count--;
    rc = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len ? -1 : 0;
    free(o);
    return rc < 0 ? -1 : q->head != NULL;
}

void vth_outq_clear(vth_outq_t *q)
{
    while (q->head) {
        vth_out_t *o = q->head;
        q->head = o->next;
        free(o);
    }
    q->tail = NULL;
    q->count = 0;
}

/* ------------------------------------------------------------------ inbound pieces */

int vth_rxbuf_add(vth_rxbuf_t *b, struct lws *wsi, const void *in, size_t n, size_t max)
{
    if (b->len + n > max) {
        return -1;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        char *more;
        while (cap < b->len + n) {
            cap *= 2;
        }
        if (!(more = realloc(b->data, cap))) {
            return -1;
        }
        b->data = more;
        b->cap = cap;
    }
    memcpy(b->data + b->len, in, n);
    b->len += n;
    return lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
}

void vth_rxbuf_free(vth_rxbuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ the media thread */

static void sweep(lws_sorted_usec_list_t *sul)
{
    vth_media_t *m = lws_container_of(sul, vth_media_t, sweep);
    long long now = vth_now_ms();
    vth_stream_t *s, *next;

    for (s = m->streams; s; s = next) {
        next = s->next;
        vth_stream_tick(s, now);
    }
    lws_sul_schedule(m->ctx, 0, &m->sweep, sweep, VTH_SWEEP_MS * LWS_US_PER_MS);
}

void vth_media_wakeup(vth_media_t *m)
{
    vth_media_completions(m);
    if (m->stop) {
        ev_break(m->loop, EVBREAK_ALL);
    }
}

static void *media_main(void *arg)
{
    vth_media_t *m = arg;
    struct lws_context *ctx;

    lws_sul_schedule(m->ctx, 0, &m->sweep, sweep, VTH_SWEEP_MS * LWS_US_PER_MS);
    /* Until vth_media_wakeup sees the stop request. */
    ev_run(m->loop, 0);
    lws_sul_cancel(&m->sweep);
    pthread_mutex_lock(&m->lock); /* workers wake the loop under it */
    ctx = m->ctx;
    m->ctx = NULL;
    pthread_mutex_unlock(&m->lock);
    /* Closes every stream: Twilio goes on with the <Connect action> of each call. */
    lws_context_destroy(ctx);
    ev_loop_destroy(m->loop);
    return NULL;
}

/* ------------------------------------------------------------------ start and stop */

static void apology_run(vth_task_t *t, vth_db_t *db)
{
    t->data = (void *)vth_tts_clip_in(t->pool, "en-US", VT_VOICE_BACKEND_FAILED_TEXT);
}

static void apology_done(vth_task_t *t)
{
    vth_media_t *m = t->media;

    m->apology = t->data; /* cached: lives as long as the process */
    if (!m->apology) {
        vt_log(VT_LOG_WARN, "cannot synthesize the apology clip: a failing backend ends "
                            "its stream without it");
    }
}

/* The counters mod_status shows, in a file next to the socket that the module reads. A
 * helper that cannot make it keeps them to itself. */
static vt_stream_stats_t *stats_map(apr_pool_t *p, const char *socket_path)
{
    const char *slash = strrchr(socket_path, '/');
    const char *path = apr_pstrcat(p, slash ? apr_pstrmemdup(p, socket_path,
                                                             (size_t)(slash - socket_path + 1))
                                            : "",
                                   VT_STREAM_STATS_FILE, NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    vt_stream_stats_t *st = MAP_FAILED;

    if (fd >= 0 && ftruncate(fd, sizeof *st) == 0) {
        st = mmap(NULL, sizeof *st, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    }
    if (fd >= 0) {
        close(fd);
    }
    if (st == MAP_FAILED) {
        vt_log(VT_LOG_WARN, "cannot map %s: mod_status will not show the helper's streams",
               path);
        return apr_pcalloc(p, sizeof *st);
    }
    memset((void *)st, 0, sizeof *st);
    st->pid = (uint32_t)getpid();
    st->magic = VT_STREAM_STATS_MAGIC;
    return st;
}

/* Every stream takes a descriptor here (two with a realtime model): ask for the hard limit's
 * worth when the soft one is lower. */
static void raise_fd_limit(int want)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)want) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t)want) {
            vt_log(VT_LOG_WARN, "at most %ld open files: fewer than %d streams fit (raise "
                   "the limit: LimitNOFILE, ulimit -n)", (long)rl.rlim_cur, want / 3);
        }
    }
}

/* "user:group" of this process, for the socket's owner (lws chowns it and makes it 0660:
 * Apache's children, running as the same user, connect to it). */
static const char *owner_of_process(apr_pool_t *p)
{
    struct passwd *pw = getpwuid(getuid());
    struct group *gr = getgrgid(getgid());

    if (!pw || !gr) {
        return NULL;
    }
    return apr_pstrcat(p, pw->pw_name, ":", gr->gr_name, NULL);
}

/* The vhost of the unix socket Apache proxies to. */
static int listen_unix(vth_media_t *m, apr_pool_t *p)
{
    struct lws_context_creation_info info;
    struct stat st;

    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_UNIX_SOCK;
    info.vhost_name = "apache";
    info.iface = m->conf.socket_path;
    info.port = 0; /* with UNIX_SOCK: no TCP port, the socket only */
    info.protocols = protocols;
    info.unix_socket_perms = owner_of_process(p);
    info.timeout_secs = 10;
    /* lws reports a failed bind only in its log: the socket must be there now. */
    if (!lws_create_vhost(m->ctx, &info) || stat(m->conf.socket_path, &st) != 0) {
        vt_log(VT_LOG_ERR, "cannot listen on the stream socket %s (see the libwebsockets "
                           "line above)", m->conf.socket_path);
        return -1;
    }
    return 0;
}

/* The direct listener's vhost: Twilio's streams from a load balancer. */
static int listen_direct(vth_media_t *m)
{
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof info);
    info.vhost_name = "direct";
    info.iface = m->conf.listen_host;
    info.port = m->conf.listen_port;
    info.protocols = protocols;
    info.timeout_secs = 10;
    if (!(m->direct = lws_create_vhost(m->ctx, &info))) {
        vt_log(VT_LOG_ERR, "cannot listen for streams on %s:%d (see the libwebsockets line "
                           "above)", m->conf.listen_host ? m->conf.listen_host : "*",
               m->conf.listen_port);
        return -1;
    }
    vt_log(VT_LOG_INFO, "streams: listening directly on %s:%d for %s",
           m->conf.listen_host ? m->conf.listen_host : "*", m->conf.listen_port,
           m->conf.public_url);
    return 0;
}

static int http_workers(int max_streams)
{
    int n = max_streams / VTH_HTTP_STREAMS_PER_WORKER;

    return n < VTH_HTTP_WORKERS_MIN ? VTH_HTTP_WORKERS_MIN
           : n > VTH_HTTP_WORKERS_MAX ? VTH_HTTP_WORKERS_MAX : n;
}

/* Decoding is CPU-bound: more threads than cores only add decoders (memory). */
static int recognizer_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > VTH_RECOGNIZER_THREADS_MAX ? VTH_RECOGNIZER_THREADS_MAX : (int)n;
}

int vth_media_start(vth_media_t **out, apr_pool_t *p, const vth_config_t *cfg,
                    const vth_media_conf_t *conf)
{
    struct lws_context_creation_info info;
    vth_media_t *m = apr_pcalloc(p, sizeof *m);
    void *loops[1];

    m->pool = p;
    m->cfg = cfg;
    m->conf = *conf;
    m->by_id = apr_hash_make(p);
    m->stats = stats_map(p, conf->socket_path);
    pthread_mutex_init(&m->lock, NULL);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
    if (vth_tts_init() != 0) {
        return -1;
    }
    /* lws's own loop poll()s every socket at every wake-up, which at hundreds of streams
     * costs more than their frames; on libev with epoll a wake-up costs the sockets that
     * are ready. */
    m->loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!m->loop) {
        vt_log(VT_LOG_ERR, "cannot create the media thread's event loop");
        return -1;
    }
    loops[0] = m->loop;
    raise_fd_limit(conf->max_streams * 3 + 64);
    memset(&info, 0, sizeof info);
    /* Explicit vhosts: the unix socket (first, so the backends' client connections use
     * it as before) and the direct listener's TCP port. */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBEV
                   | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    info.user = m;
    /* No fd_limit_per_thread: below the process's limit, lws 4.1 finds a socket's wsi by a
     * linear search at every event instead of its table. */
    info.count_threads = 1;
    info.max_http_header_data = 4096;
    info.timeout_secs = 10;
    if (!(m->ctx = lws_create_context(&info)) || listen_unix(m, p) != 0
        || (conf->public_url && listen_direct(m) != 0)) {
        if (m->ctx) {
            lws_context_destroy(m->ctx);
            m->ctx = NULL;
        }
        return -1;
    }
    m->dbq = vth_queue_start(p, m, "stream database", 1);
    m->ttsq = vth_queue_start(p, m, "speech", 0);
    m->dnsq = vth_queue_start(p, m, "name lookup", 0);
    m->httpq = vth_queue_start_pool(p, m, "speech endpoints", http_workers(conf->max_streams));
    m->recogq = vth_queue_start_pool(p, m, "offline recognizer", recognizer_threads());
    if (!m->dbq || !m->ttsq || !m->dnsq || !m->httpq || !m->recogq) {
        return -1;
    }
    vth_queue_push(m->ttsq, vth_task_new(apology_run, apology_done, 0, NULL));
    if (pthread_create(&m->thread, NULL, media_main, m) != 0) {
        vt_log(VT_LOG_ERR, "cannot start the media thread");
        return -1;
    }
    vt_log(VT_LOG_INFO, "streams: listening on %s (at most %d)", conf->socket_path,
           conf->max_streams);
    *out = m;
    return 0;
}

void vth_media_stop(vth_media_t *m)
{
    if (!m) {
        return;
    }
    m->stop = 1;
    lws_cancel_service(m->ctx);
    pthread_join(m->thread, NULL);
    /* The workers finish what is queued (the last turns and outcomes) before they go. */
    vth_queue_stop(m->recogq); /* before httpq: its tasks go on there */
    vth_queue_stop(m->httpq);
    vth_queue_stop(m->ttsq);
    vth_queue_stop(m->dnsq);
    vth_queue_stop(m->dbq);
    vth_media_completions(m);
}
