/* vt_group_commit — leader/follower grouping of writes; see vt_group_commit.h. */
#include <apr_thread_cond.h>
#include <apr_thread_mutex.h>
#include "vt_group_commit.h"

struct vt_group_commit {
    apr_thread_mutex_t *lock;
    apr_thread_cond_t *changed;   /* a group finished */
    int leaders, max_items;
    int running;                  /* groups running now */
    vt_gc_item_t *head, *tail;    /* waiting, in arrival order */
    vt_group_commit_stats_t stats;
};

apr_status_t vt_group_commit_create(apr_pool_t *parent, int leaders, int max_items,
                                    vt_group_commit_t **out)
{
    vt_group_commit_t *gc;
    apr_status_t rv;

    *out = NULL;
    if (leaders <= 0) {
        return APR_SUCCESS;
    }
    gc = apr_pcalloc(parent, sizeof(*gc));
    gc->leaders = leaders;
    gc->max_items = max_items < 1 ? 1
                    : max_items > VT_GROUP_COMMIT_ITEMS_LIMIT ? VT_GROUP_COMMIT_ITEMS_LIMIT
                                                              : max_items;
    rv = apr_thread_mutex_create(&gc->lock, APR_THREAD_MUTEX_DEFAULT, parent);
    if (rv == APR_SUCCESS) {
        rv = apr_thread_cond_create(&gc->changed, parent);
    }
    if (rv == APR_SUCCESS) {
        *out = gc;
    }
    return rv;
}

/* Unlinks item from the waiting writes. Under the lock. */
static void unlink_item(vt_group_commit_t *gc, vt_gc_item_t *item)
{
    vt_gc_item_t **at = &gc->head, *prev = NULL;

    while (*at != item) {
        prev = *at;
        at = &(*at)->next;
    }
    *at = item->next;
    if (gc->tail == item) {
        gc->tail = prev;
    }
}

/* The group a new leader takes: its own write first, then the oldest waiting ones. Its own
 * write in its own group: no other thread works on this caller's write (and its request's
 * pool, which is not thread-safe) while this thread leads. Under the lock. */
static int take_group(vt_group_commit_t *gc, vt_gc_item_t *own, vt_gc_item_t **items)
{
    int n = 1;

    unlink_item(gc, own);
    own->taken = 1;
    items[0] = own;
    while (gc->head && n < gc->max_items) {
        gc->head->taken = 1;
        items[n++] = gc->head;
        gc->head = gc->head->next;
    }
    if (!gc->head) {
        gc->tail = NULL;
    }
    return n;
}

int vt_group_commit_run(vt_group_commit_t *gc, vt_gc_item_t *item, vt_gc_run_fn *run,
                        void *baton)
{
    vt_gc_item_t *items[VT_GROUP_COMMIT_ITEMS_LIMIT];
    int i, n;

    item->done = item->taken = 0;
    item->next = NULL;
    if (!gc) {
        items[0] = item;
        run(baton, items, 1);
        return item->rc;
    }
    apr_thread_mutex_lock(gc->lock);
    if (gc->tail) {
        gc->tail->next = item;
    }
    else {
        gc->head = item;
    }
    gc->tail = item;
    while (!item->done) {
        if (item->taken || gc->running >= gc->leaders) {
            /* This write is in another thread's group (which may be using this caller's
             * request: never lead then), or all groups are busy: until a group ends. */
            apr_thread_cond_wait(gc->changed, gc->lock);
            continue;
        }
        n = take_group(gc, item, items);
        gc->running++;
        gc->stats.groups++;
        gc->stats.items += (apr_uint64_t)n;
        if (n > gc->stats.largest) {
            gc->stats.largest = n;
        }
        apr_thread_mutex_unlock(gc->lock);
        run(baton, items, n);
        apr_thread_mutex_lock(gc->lock);
        for (i = 0; i < n; i++) {
            items[i]->done = 1;
        }
        gc->running--;
        apr_thread_cond_broadcast(gc->changed);
    }
    apr_thread_mutex_unlock(gc->lock);
    return item->rc;
}

void vt_group_commit_stats(vt_group_commit_t *gc, vt_group_commit_stats_t *st)
{
    if (!gc) {
        st->groups = st->items = 0;
        st->largest = 0;
        return;
    }
    apr_thread_mutex_lock(gc->lock);
    *st = gc->stats;
    apr_thread_mutex_unlock(gc->lock);
}
