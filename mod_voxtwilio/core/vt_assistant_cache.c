/* vt_assistant_cache — parsed assistants shared by a process's threads; see the header. */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "vt_assistant_cache.h"

typedef struct entry {
    apr_pool_t *pool;        /* everything below lives here */
    const char *company_id;
    /* What it was built from (NULL-aware byte comparison). */
    const char *script_text, *languages_text, *language, *voice;
    vt_assistant_t assistant;
    int refs;                /* requests holding it */
    int dropped;             /* out of the map: the last release frees it */
    apr_uint64_t used;       /* the cache's clock at the last get */
} entry_t;

struct vt_assistant_cache {
    apr_pool_t *pool;        /* its own allocator: every use is under `lock` */
    apr_thread_mutex_t *lock;
    apr_hash_t *by_company;  /* company_id -> entry_t */
    int capacity;
    int held;                /* references out, all entries together */
    int closing;             /* the parent went while references were out */
    apr_uint64_t clock;
    vt_assistant_cache_stats_t stats;
};

typedef struct hold {
    vt_assistant_cache_t *cache;
    entry_t *entry;
} hold_t;

/* A stored value that stands for "none": NULL, or "" from drivers that give NULL so. */
static const char *text_or_null(const char *s)
{
    return s && *s ? s : NULL;
}

static int same_text(const char *a, const char *b)
{
    a = text_or_null(a);
    b = text_or_null(b);
    return a == b || (a && b && strcmp(a, b) == 0);
}

const vt_assistant_t *vt_assistant_build(apr_pool_t *p, const vt_tenant_t *t)
{
    vt_assistant_t *a = apr_pcalloc(p, sizeof(*a));
    const char *json = text_or_null(t->assistant_script);
    vt_script_t *s = NULL;
    const char *err = NULL;

    if (json && vt_script_parse(p, json, strlen(json), &s, &err) != APR_SUCCESS) {
        /* Only a hand-edited database gets here (import validates); the caller says so. */
        a->script_err = err;
        s = NULL;
    }
    a->script = s ? s : vt_script_default(p);
    a->languages = vt_tenant_languages(p, t, &a->nlanguages);
    return a;
}

static void entry_free(entry_t *e)
{
    apr_pool_destroy(e->pool);
}

/* Takes e out of the map; frees it now if nobody holds it, else at its last release. */
static void entry_drop(vt_assistant_cache_t *c, entry_t *e)
{
    apr_hash_set(c->by_company, e->company_id, APR_HASH_KEY_STRING, NULL);
    if (e->refs == 0) {
        entry_free(e);
    }
    else {
        e->dropped = 1;
    }
}

static apr_status_t release(void *data)
{
    hold_t *h = data;
    vt_assistant_cache_t *c = h->cache;
    int last;

    apr_thread_mutex_lock(c->lock);
    c->held--;
    if (--h->entry->refs == 0 && h->entry->dropped) {
        entry_free(h->entry);
    }
    last = c->closing && c->held == 0;
    apr_thread_mutex_unlock(c->lock);
    if (last) {
        apr_pool_destroy(c->pool);   /* the lock lives there: released above */
    }
    return APR_SUCCESS;
}

/* Makes room for one more entry: drops the least recently used unheld one. 0: all held. */
static int make_room(vt_assistant_cache_t *c)
{
    apr_hash_index_t *hi;
    entry_t *lru = NULL;

    if ((int)apr_hash_count(c->by_company) < c->capacity) {
        return 1;
    }
    for (hi = apr_hash_first(NULL, c->by_company); hi; hi = apr_hash_next(hi)) {
        entry_t *e = apr_hash_this_val(hi);
        if (e->refs == 0 && (!lru || e->used < lru->used)) {
            lru = e;
        }
    }
    if (!lru) {
        return 0;
    }
    entry_drop(c, lru);
    c->stats.evictions++;
    return 1;
}

static entry_t *entry_build(vt_assistant_cache_t *c, const vt_tenant_t *t)
{
    apr_pool_t *ep;
    entry_t *e;

    if (apr_pool_create(&ep, c->pool) != APR_SUCCESS) {
        return NULL;
    }
    e = apr_pcalloc(ep, sizeof(*e));
    e->pool = ep;
    e->company_id = apr_pstrdup(ep, t->company_id);
    e->script_text = apr_pstrdup(ep, text_or_null(t->assistant_script));
    e->languages_text = apr_pstrdup(ep, text_or_null(t->languages_json));
    e->language = apr_pstrdup(ep, t->language);
    e->voice = apr_pstrdup(ep, t->voice);
    /* Built from the copies, so nothing in it points into the caller's row. */
    {
        vt_tenant_t copy = *t;
        copy.assistant_script = e->script_text;
        copy.languages_json = e->languages_text;
        copy.language = e->language;
        copy.voice = e->voice;
        e->assistant = *vt_assistant_build(ep, &copy);
    }
    return e;
}

const vt_assistant_t *vt_assistant_cache_get(vt_assistant_cache_t *c, apr_pool_t *p,
                                             const vt_tenant_t *t, int *hit)
{
    entry_t *e;
    hold_t *h;

    if (hit) {
        *hit = 0;
    }
    if (!c || c->capacity == 0 || !t->company_id) {
        return vt_assistant_build(p, t);
    }
    apr_thread_mutex_lock(c->lock);
    e = apr_hash_get(c->by_company, t->company_id, APR_HASH_KEY_STRING);
    if (e && (!same_text(e->script_text, t->assistant_script)
              || !same_text(e->languages_text, t->languages_json)
              || !same_text(e->language, t->language) || !same_text(e->voice, t->voice))) {
        /* The tenant was edited: the row wins. */
        entry_drop(c, e);
        e = NULL;
    }
    if (e) {
        c->stats.hits++;
        if (hit) {
            *hit = 1;
        }
    }
    else {
        c->stats.misses++;
        /* Built under the lock: a miss happens once per tenant and edit, and the cache's
         * pool must not be used by two threads at once. */
        if (!make_room(c) || !(e = entry_build(c, t))) {
            apr_thread_mutex_unlock(c->lock);
            return vt_assistant_build(p, t);
        }
        apr_hash_set(c->by_company, e->company_id, APR_HASH_KEY_STRING, e);
    }
    e->refs++;
    c->held++;
    e->used = ++c->clock;
    apr_thread_mutex_unlock(c->lock);
    h = apr_palloc(p, sizeof(*h));
    h->cache = c;
    h->entry = e;
    apr_pool_cleanup_register(p, h, release, apr_pool_cleanup_null);
    return &e->assistant;
}

static apr_status_t cache_destroy(void *data)
{
    vt_assistant_cache_t *c = data;
    int held;

    apr_thread_mutex_lock(c->lock);
    held = c->held;
    /* A process stopping with requests still running (a graceful stop that timed out):
     * the last of them frees the cache, so their releases still find the lock. */
    c->closing = held > 0;
    apr_thread_mutex_unlock(c->lock);
    if (!held) {
        apr_pool_destroy(c->pool);
    }
    return APR_SUCCESS;
}

apr_status_t vt_assistant_cache_create(apr_pool_t *parent, int capacity,
                                       vt_assistant_cache_t **cache)
{
    vt_assistant_cache_t *c;
    apr_pool_t *own;
    apr_status_t rv;

    if (capacity < 0 || capacity > VT_ASSISTANT_CACHE_MAX) {
        return APR_EINVAL;
    }
    /* Unmanaged, with an allocator of its own: the parent (a process pool) may be used by
     * other threads, and this pool is only ever touched under the cache's lock. */
    rv = apr_pool_create_unmanaged_ex(&own, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c = apr_pcalloc(own, sizeof(*c));
    c->pool = own;
    c->capacity = capacity;
    c->by_company = apr_hash_make(own);
    rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, own);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(own);
        return rv;
    }
    apr_pool_cleanup_register(parent, c, cache_destroy, apr_pool_cleanup_null);
    *cache = c;
    return APR_SUCCESS;
}

void vt_assistant_cache_stats(vt_assistant_cache_t *c, vt_assistant_cache_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    if (!c) {
        return;
    }
    apr_thread_mutex_lock(c->lock);
    *st = c->stats;
    st->entries = (int)apr_hash_count(c->by_company);
    apr_thread_mutex_unlock(c->lock);
}
