/* vt_tenant_cache — a process's tenant rows, shared by its threads, so that a webhook does
 * not spend a database round trip of its own looking its tenant up.
 *
 *   vt_tenant_cache_create(pchild, 1024, &cache);                 // once per process
 *   vt_tenant_t t;
 *   if (vt_tenant_cache_get(cache, r->pool, key, &t)) ... t as vt_tenant_from_row fills it
 *   vt_tenant_cache_put(cache, key, t.row);                       // after a lookup
 *   vt_tenant_cache_drop(cache, key);                             // the entry was stale
 *
 * An entry is only a hint. It carries the company's tenant_version (sql/009: every change
 * of the company, its integration or its numbers bumps it), and the webhook's own statement
 * writes nothing unless the company still has that version; the caller then drops the
 * entry, looks the tenant up and runs the statement again. So a change made with
 * voxtwilio-admin is honoured by the next webhook. The auth token stays sealed in the
 * entry, as in the row: it is decrypted per request. Keys are the caller's ("n:+1555..."
 * for a number, "s:acme" for a slug). At most `capacity` entries and VT_TENANT_CACHE_BYTES
 * of rows (a row is mostly its script and prompt: a few KiB, but they may be large), the
 * least recently used one replaced first; a row over VT_TENANT_CACHE_ROW_MAX is not kept; a get copies the row into the caller's pool, so nothing is shared
 * after the lock is released. NULL or capacity 0: no cache (get never hits).
 */
#ifndef VT_TENANT_CACHE_H
#define VT_TENANT_CACHE_H

#include <apr_pools.h>
#include "vt_tenant.h"

#define VT_TENANT_CACHE_DEFAULT 1024    /* entries per process */
#define VT_TENANT_CACHE_MAX 1000000
#define VT_TENANT_CACHE_BYTES (16 * 1024 * 1024)  /* of rows, per process */
#define VT_TENANT_CACHE_ROW_MAX (256 * 1024)

typedef struct vt_tenant_cache vt_tenant_cache_t;

typedef struct vt_tenant_cache_stats {
    apr_uint64_t hits, misses, stale;   /* stale: entries dropped by vt_tenant_cache_drop */
    int entries;
} vt_tenant_cache_stats_t;

/* A cache of at most `capacity` entries (0: none), freed with `parent`; thread-safe. */
apr_status_t vt_tenant_cache_create(apr_pool_t *parent, int capacity, vt_tenant_cache_t **cache);
/* 1: t filled from the entry for key, its strings in p; 0: no entry. */
int vt_tenant_cache_get(vt_tenant_cache_t *cache, apr_pool_t *p, const char *key,
                        vt_tenant_t *t);
/* Stores a copy of row (VT_TENANT_NCOLS columns, NULL for SQL NULL) under key. */
void vt_tenant_cache_put(vt_tenant_cache_t *cache, const char *key, const char *const *row);
void vt_tenant_cache_drop(vt_tenant_cache_t *cache, const char *key);
void vt_tenant_cache_stats(vt_tenant_cache_t *cache, vt_tenant_cache_stats_t *st);

#endif
