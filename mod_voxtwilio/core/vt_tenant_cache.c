/* vt_tenant_cache — tenant rows per process; see vt_tenant_cache.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include "vt_tenant_cache.h"

/* One row: malloc'd with its key and columns, so that an eviction frees it all. */
typedef struct entry {
    struct entry *prev, *next; /* most recently used first */
    char *key;
    char *cols[VT_TENANT_NCOLS];
    apr_size_t bytes;          /* of the key and columns */
} entry_t;

struct vt_tenant_cache {
    apr_thread_mutex_t *lock;
    apr_hash_t *by_key;        /* key -> entry_t (apr_hash recycles its nodes) */
    entry_t *head, *tail;
    int capacity, entries;
    apr_size_t bytes;
    apr_uint64_t hits, misses, stale;
};

static void entry_free(entry_t *e)
{
    int i;

    for (i = 0; i < VT_TENANT_NCOLS; i++)
        free(e->cols[i]);
    free(e->key);
    free(e);
}

static void unlink_entry(vt_tenant_cache_t *c, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(vt_tenant_cache_t *c, entry_t *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void remove_entry(vt_tenant_cache_t *c, entry_t *e)
{
    unlink_entry(c, e);
    apr_hash_set(c->by_key, e->key, APR_HASH_KEY_STRING, NULL);
    c->entries--;
    c->bytes -= e->bytes;
    entry_free(e);
}

static apr_status_t cache_cleanup(void *data)
{
    vt_tenant_cache_t *c = data;

    while (c->head)
        remove_entry(c, c->head);
    return APR_SUCCESS;
}

apr_status_t vt_tenant_cache_create(apr_pool_t *parent, int capacity, vt_tenant_cache_t **cache)
{
    vt_tenant_cache_t *c = apr_pcalloc(parent, sizeof(*c));
    apr_status_t rv;

    *cache = NULL;
    if (capacity <= 0)
        return APR_SUCCESS;
    rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, parent);
    if (rv != APR_SUCCESS)
        return rv;
    c->by_key = apr_hash_make(parent);
    c->capacity = capacity;
    apr_pool_cleanup_register(parent, c, cache_cleanup, apr_pool_cleanup_null);
    *cache = c;
    return APR_SUCCESS;
}

int vt_tenant_cache_get(vt_tenant_cache_t *c, apr_pool_t *p, const char *key, vt_tenant_t *t)
{
    const char **cols;
    entry_t *e;
    int i;

    if (!c)
        return 0;
    apr_thread_mutex_lock(c->lock);
    e = apr_hash_get(c->by_key, key, APR_HASH_KEY_STRING);
    if (!e) {
        c->misses++;
        apr_thread_mutex_unlock(c->lock);
        return 0;
    }
    c->hits++;
    unlink_entry(c, e);
    push_front(c, e);
    cols = apr_palloc(p, sizeof(*cols) * VT_TENANT_NCOLS);
    for (i = 0; i < VT_TENANT_NCOLS; i++)
        cols[i] = e->cols[i] ? apr_pstrdup(p, e->cols[i]) : NULL;
    apr_thread_mutex_unlock(c->lock);
    memset(t, 0, sizeof(*t));
    vt_tenant_from_row(cols, t);
    return 1;
}

void vt_tenant_cache_put(vt_tenant_cache_t *c, const char *key, const char *const *row)
{
    entry_t *e, *old;
    apr_size_t bytes = strlen(key) + 1;
    int i, ok = 1;

    if (!c || !row)
        return;
    for (i = 0; i < VT_TENANT_NCOLS; i++)
        bytes += row[i] ? strlen(row[i]) + 1 : 0;
    if (bytes > VT_TENANT_CACHE_ROW_MAX)
        return; /* a huge script or prompt: this tenant is looked up at every webhook */
    /* Copied before the lock: malloc is the slow part. */
    if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
        free(e);
        return;
    }
    for (i = 0; i < VT_TENANT_NCOLS; i++)
        if (row[i] && !(e->cols[i] = strdup(row[i])))
            ok = 0;
    if (!ok) {
        entry_free(e); /* out of memory: the next webhook looks its tenant up again */
        return;
    }
    e->bytes = bytes;
    apr_thread_mutex_lock(c->lock);
    if ((old = apr_hash_get(c->by_key, key, APR_HASH_KEY_STRING)))
        remove_entry(c, old);
    push_front(c, e);
    apr_hash_set(c->by_key, e->key, APR_HASH_KEY_STRING, e);
    c->entries++;
    c->bytes += bytes;
    while (c->tail != e && (c->entries > c->capacity || c->bytes > VT_TENANT_CACHE_BYTES))
        remove_entry(c, c->tail);
    apr_thread_mutex_unlock(c->lock);
}

void vt_tenant_cache_drop(vt_tenant_cache_t *c, const char *key)
{
    entry_t *e;

    if (!c)
        return;
    apr_thread_mutex_lock(c->lock);
    if ((e = apr_hash_get(c->by_key, key, APR_HASH_KEY_STRING))) {
        remove_entry(c, e);
        c->stale++;
    }
    apr_thread_mutex_unlock(c->lock);
}

void vt_tenant_cache_stats(vt_tenant_cache_t *c, vt_tenant_cache_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    if (!c)
        return;
    apr_thread_mutex_lock(c->lock);
    st->hits = c->hits;
    st->misses = c->misses;
    st->stale = c->stale;
    st->entries = c->entries;
    apr_thread_mutex_unlock(c->lock);
}
