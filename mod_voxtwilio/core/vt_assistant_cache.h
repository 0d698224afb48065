/* vt_assistant_cache — a process's parsed assistants, shared by its threads, so that a
 * speech turn does not parse its tenant's script and languages JSON again.
 *
 *   vt_assistant_cache_create(pchild, 256, &cache);            // once per process
 *   const vt_assistant_t *a = vt_assistant_cache_get(cache, r->pool, tenant, NULL);
 *   ... a->script, a->languages stay valid until r->pool is cleared
 *
 * An entry is keyed by company id and used only while the texts it was built from (script,
 * languages, primary language and voice) are byte for byte the tenant row's: an edit is
 * seen at the next turn and there is nothing to invalidate. Entries are immutable; a
 * request holds a reference until its pool goes, so a replaced or evicted entry is freed
 * by its last user. At most `capacity` entries: the least recently used one nobody holds
 * makes room. With no cache (NULL, or capacity 0) the assistant is built in the caller's
 * pool each time, as vt_assistant_build does.
 */
#ifndef VT_ASSISTANT_CACHE_H
#define VT_ASSISTANT_CACHE_H

#include <apr_pools.h>
#include "vt_assistant.h"
#include "vt_llm.h"
#include "vt_tenant.h"

#define VT_ASSISTANT_CACHE_DEFAULT 256  /* entries per process */
#define VT_ASSISTANT_CACHE_MAX 100000

typedef struct vt_assistant {
    const vt_script_t *script;          /* the tenant's script, else the built-ins */
    const char *script_err;             /* why the stored script is unusable, else NULL */
    const vt_llm_language_t *languages; /* [0] the primary (vt_tenant_languages) */
    int nlanguages;                     /* >= 1 */
} vt_assistant_t;

typedef struct vt_assistant_cache vt_assistant_cache_t;

typedef struct vt_assistant_cache_stats {
    apr_uint64_t hits, misses, evictions;
    int entries;
} vt_assistant_cache_stats_t;

/* The tenant's assistant, built in p (no cache). Never NULL. */
const vt_assistant_t *vt_assistant_build(apr_pool_t *p, const vt_tenant_t *t);

/* A cache of at most `capacity` entries (0: none, every get builds), living until `parent`
 * is cleared (or, if requests still hold entries then, until the last of them ends);
 * thread-safe. */
apr_status_t vt_assistant_cache_create(apr_pool_t *parent, int capacity,
                                       vt_assistant_cache_t **cache);
/* The tenant's assistant, valid until p is cleared or destroyed; *hit (if not NULL) 1 when
 * it came from the cache. cache may be NULL. */
const vt_assistant_t *vt_assistant_cache_get(vt_assistant_cache_t *cache, apr_pool_t *p,
                                             const vt_tenant_t *t, int *hit);
void vt_assistant_cache_stats(vt_assistant_cache_t *cache, vt_assistant_cache_stats_t *st);

#endif
