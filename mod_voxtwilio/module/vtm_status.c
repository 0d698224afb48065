/* vtm_status — shared counters and the mod_status section; see vtm_status.h. */
#include <apr_atomic.h>
#include <apr_shm.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <mod_status.h>
#include "vt_stream_stats.h"
#include "vtm_db.h"
#include "vtm_module.h"
#include "vtm_status.h"

APLOG_USE_MODULE(voxtwilio);

typedef struct vtm_stats {
    volatile apr_uint32_t counters[VTM_STAT_COUNT];
    volatile apr_uint32_t helper_pid;
    volatile apr_uint32_t helper_restarts;
} vtm_stats_t;

#define VTM_STATS_KEY "voxtwilio-stats"

/* The segment's address: set in the parent before the children fork, then only read. */
static vtm_stats_t *stats;

apr_status_t vtm_status_init(server_rec *s)
{
    apr_pool_t *proc = s->process->pool;
    apr_shm_t *shm = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&shm, VTM_STATS_KEY, proc);
    /* A graceful restart into a newer module may find a smaller segment: make a new one. */
    if (shm && apr_shm_size_get(shm) < sizeof(vtm_stats_t)) {
        shm = NULL;
    }
    if (!shm) {
        rv = apr_shm_create(&shm, sizeof(vtm_stats_t), NULL, proc);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                         VTLOGNO(10601) "cannot create the shared counters; mod_status "
                         "will show none");
            return rv;
        }
        memset(apr_shm_baseaddr_get(shm), 0, sizeof(vtm_stats_t));
        apr_pool_userdata_set(shm, VTM_STATS_KEY, apr_pool_cleanup_null, proc);
    }
    stats = apr_shm_baseaddr_get(shm);
    return APR_SUCCESS;
}

void vtm_status_count(vtm_stat_t which)
{
    if (stats) {
        apr_atomic_inc32(&stats->counters[which]);
    }
}

void vtm_status_add(vtm_stat_t which, int n)
{
    if (stats) {
        apr_atomic_add32(&stats->counters[which], (apr_uint32_t)n);
    }
}

void vtm_status_uncount(vtm_stat_t which)
{
    if (stats) {
        apr_atomic_dec32(&stats->counters[which]);
    }
}

void vtm_status_set_helper(long pid, unsigned restarts)
{
    if (stats) {
        apr_atomic_set32(&stats->helper_pid, (apr_uint32_t)pid);
        apr_atomic_set32(&stats->helper_restarts, restarts);
    }
}

/* The helper's stream counters (vt_stream_stats.h), next to its socket; 0 when there are
 * none to read (no stream socket, no helper yet). */
static int helper_streams(request_rec *r, vt_stream_stats_t *out)
{
    const char *sock = vtm_srv_conf(r->server)->stream_socket, *slash;
    apr_file_t *f;
    apr_size_t n = sizeof *out;
    int ok;

    if (!sock || !*sock || !(slash = strrchr(sock, '/'))) {
        return 0;
    }
    if (apr_file_open(&f, apr_pstrcat(r->pool, apr_pstrmemdup(r->pool, sock, slash - sock + 1),
                                      VT_STREAM_STATS_FILE, NULL),
                      APR_FOPEN_READ, 0, r->pool) != APR_SUCCESS) {
        return 0;
    }
    ok = apr_file_read_full(f, out, n, &n) == APR_SUCCESS && n == sizeof *out
         && out->magic == VT_STREAM_STATS_MAGIC;
    apr_file_close(f);
    return ok;
}

/* The counters of vtm_stat_t, in its order. */
static const char *const names[VTM_STAT_COUNT] = { "Webhooks", "SignatureFailures",
                                                   "DBUnavailable", "LLMTurns", "LLMErrors",
                                                   "LLMTimeouts", "AssistantCacheHits",
                                                   "AssistantCacheMisses", "StreamsLive",
                                                   "Streams", "StreamsRefused",
                                                   "TenantCacheHits", "TenantCacheMisses",
                                                   "TenantCacheStale", "GroupCommits",
                                                   "GroupedWrites" };

/* The pipeline's reply stages (vt_stage_t order), as mod_status names them. */
static const char *const stage_keys[VT_STAGE_COUNT] = { "Transcript", "FirstToken", "Answer",
                                                         "FirstAudio", "FirstFrame" };
static const char *const stage_names[VT_STAGE_COUNT] = {
    "transcript", "first model token", "answer (script or model)", "first audio",
    "first frame sent" };

static void stages_auto(request_rec *r, const vt_stream_stats_t *hs)
{
    int i;

    for (i = 0; i < VT_STAGE_COUNT; i++) {
        const vt_stage_hist_t *h = &hs->stages[i];

        ap_rprintf(r, "VoxTwilioStage%sCount: %" APR_UINT64_T_FMT "\n"
                      "VoxTwilioStage%sP50: %ld\nVoxTwilioStage%sP95: %ld\n"
                      "VoxTwilioStage%sP99: %ld\n",
                   stage_keys[i], (apr_uint64_t)h->count, stage_keys[i],
                   vt_stage_percentile(h, 50), stage_keys[i], vt_stage_percentile(h, 95),
                   stage_keys[i], vt_stage_percentile(h, 99));
    }
}

static void stages_html(request_rec *r, const vt_stream_stats_t *hs)
{
    int i;

    ap_rputs("<table border=\"1\"><tr><th>Pipeline reply stage (ms after the caller "
             "stopped)</th><th>Replies</th><th>p50</th><th>p95</th><th>p99</th>"
             "<th>max</th></tr>\n", r);
    for (i = 0; i < VT_STAGE_COUNT; i++) {
        const vt_stage_hist_t *h = &hs->stages[i];

        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td><td>%ld</td><td>%ld</td>"
                      "<td>%ld</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   stage_names[i], (apr_uint64_t)h->count, vt_stage_percentile(h, 50),
                   vt_stage_percentile(h, 95), vt_stage_percentile(h, 99),
                   (apr_uint64_t)h->max_ms);
    }
    ap_rputs("</table>\n", r);
}

static void gateway_auto(request_rec *r, long in_progress, long backlog, long failed)
{
    int i;

    for (i = 0; i < VTM_STAT_COUNT; i++) {
        ap_rprintf(r, "VoxTwilio%s: %u\n", names[i], apr_atomic_read32(&stats->counters[i]));
    }
    ap_rprintf(r, "VoxTwilioCallsInProgress: %ld\nVoxTwilioJobBacklog: %ld\n"
                  "VoxTwilioJobsFailed: %ld\nVoxTwilioHelperPid: %u\n"
                  "VoxTwilioHelperRestarts: %u\n",
               in_progress, backlog, failed, apr_atomic_read32(&stats->helper_pid),
               apr_atomic_read32(&stats->helper_restarts));
}

static void gateway_html(request_rec *r, long in_progress, long backlog, long failed)
{
    int i;

    ap_rputs("<hr />\n<h2>mod_voxtwilio</h2>\n<dl>\n", r);
    ap_rprintf(r, "<dt>Calls in progress: %ld</dt>\n", in_progress);
    for (i = 0; i < VTM_STAT_COUNT; i++) {
        ap_rprintf(r, "<dt>%s: %u</dt>\n", names[i], apr_atomic_read32(&stats->counters[i]));
    }
    ap_rprintf(r, "<dt>Job backlog: %ld pending, %ld failed</dt>\n", backlog, failed);
    ap_rprintf(r, "<dt>Helper: pid %u, %u restart(s)</dt>\n",
               apr_atomic_read32(&stats->helper_pid), apr_atomic_read32(&stats->helper_restarts));
}

static int status_hook(request_rec *r, int flags)
{
    long in_progress = -1, backlog = -1, failed = -1;
    vt_stream_stats_t *hs;

    if (!stats) {
        return OK;
    }
    vtm_db_status_counts(r, &in_progress, &backlog, &failed);
    hs = apr_palloc(r->pool, sizeof *hs); /* the histograms: too big for the stack */
    if (!helper_streams(r, hs)) {
        memset(hs, 0, sizeof *hs);
    }
    if (flags & AP_STATUS_SHORT) {
        gateway_auto(r, in_progress, backlog, failed);
        ap_rprintf(r, "VoxTwilioHelperStreamsLive: %" APR_UINT64_T_FMT "\n"
                      "VoxTwilioHelperStreams: %" APR_UINT64_T_FMT "\n"
                      "VoxTwilioHelperStreamsRefused: %" APR_UINT64_T_FMT "\n"
                      "VoxTwilioBargeIns: %" APR_UINT64_T_FMT "\n"
                      "VoxTwilioBackendFailures: %" APR_UINT64_T_FMT "\n",
                   (apr_uint64_t)hs->live, (apr_uint64_t)hs->total, (apr_uint64_t)hs->refused,
                   (apr_uint64_t)hs->barge_ins, (apr_uint64_t)hs->backend_failures);
        stages_auto(r, hs);
        return OK;
    }
    gateway_html(r, in_progress, backlog, failed);
    ap_rprintf(r, "<dt>Helper streams: %" APR_UINT64_T_FMT " live, %" APR_UINT64_T_FMT
                  " since it started, %" APR_UINT64_T_FMT " refused, %" APR_UINT64_T_FMT
                  " barge-ins, %" APR_UINT64_T_FMT " backend failures</dt>\n</dl>\n",
               (apr_uint64_t)hs->live, (apr_uint64_t)hs->total, (apr_uint64_t)hs->refused,
               (apr_uint64_t)hs->barge_ins, (apr_uint64_t)hs->backend_failures);
    stages_html(r, hs);
    return OK;
}

void vtm_status_register_hooks(apr_pool_t *p)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL, APR_HOOK_MIDDLE);
}
