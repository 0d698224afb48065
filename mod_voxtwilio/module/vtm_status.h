/* vtm_status — the gateway's counters and its section of mod_status's page.
 *
 * Counters live in an anonymous shared-memory segment that the parent creates once per
 * httpd process (kept across graceful restarts in the process pool), so every child adds to
 * the same numbers and the parent can publish the helper's pid and restart count there.
 * Calls in progress and the job backlog come from the database when the page is drawn; the
 * helper's stream counters and its pipeline's reply latency by stage (count, p50/p95/p99 from
 * its histograms) from its stats file (vt_stream_stats.h).
 */
#ifndef VTM_STATUS_H
#define VTM_STATUS_H

#include <httpd.h>

typedef enum {
    VTM_STAT_WEBHOOKS,          /* webhooks answered by a route */
    VTM_STAT_SIGNATURE_FAILURES,
    VTM_STAT_DB_UNAVAILABLE,    /* webhooks that met an unreachable database */
    VTM_STAT_LLM_TURNS,         /* speech turns sent to a tenant's model */
    VTM_STAT_LLM_ERRORS,        /* of those, answered by the fallback: model error or bad answer */
    VTM_STAT_LLM_TIMEOUTS,      /* of those, answered by the fallback: time budget ran out */
    VTM_STAT_ASSISTANT_CACHE_HITS,   /* a tenant's parsed assistant found in the child's cache */
    VTM_STAT_ASSISTANT_CACHE_MISSES, /* ... built from its JSON (first use or after an edit) */
    VTM_STAT_STREAMS_LIVE,      /* Media Streams tunnelled now (a gauge; old generations too) */
    VTM_STAT_STREAMS,           /* stream upgrades let through to the helper */
    VTM_STAT_STREAMS_REFUSED,   /* stream upgrades refused (signature, tenant, database) */
    VTM_STAT_TENANT_CACHE_HITS,   /* webhooks whose tenant row was in the child's cache */
    VTM_STAT_TENANT_CACHE_MISSES, /* ... looked up in the database */
    VTM_STAT_TENANT_CACHE_STALE,  /* ... cached, but changed since: looked up again */
    VTM_STAT_GROUP_COMMITS,       /* transactions that held the writes of several webhooks */
    VTM_STAT_GROUPED_WRITES,      /* the writes they held */
    VTM_STAT_COUNT
} vtm_stat_t;

/* post_config: create (or find again after a graceful restart) the shared counters. */
apr_status_t vtm_status_init(server_rec *s);
/* Registers the mod_status hook. */
void vtm_status_register_hooks(apr_pool_t *p);

void vtm_status_count(vtm_stat_t which);
void vtm_status_add(vtm_stat_t which, int n);
/* For gauges: one less. */
void vtm_status_uncount(vtm_stat_t which);
/* Called by the supervisor in the parent whenever the helper (re)starts. */
void vtm_status_set_helper(long pid, unsigned restarts);

#endif
