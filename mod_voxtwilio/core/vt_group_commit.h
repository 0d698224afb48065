/* vt_group_commit — the writes of webhooks arriving together in one process share one
 * database transaction, so that a flush to disk (synchronous_commit on) is paid once per
 * group, not once per webhook.
 *
 *   vt_group_commit_create(pchild, 2, 32, &gc);                 // once per process
 *   vt_gc_item_t it = { .data = my_write };
 *   vt_group_commit_run(gc, &it, run_group, baton);             // returns when it.rc is set
 *
 * Leader/follower, no timer: a write that finds fewer than `leaders` groups running runs
 * at once, with whatever writes are waiting (at most `max_items`), on its own thread; one
 * that finds them all busy waits for the next group. So a lone write is never delayed (the
 * group is just itself: run_group may run it without BEGIN/COMMIT), and under load the
 * writes that queued behind a group go in the next one. run_group(baton, items, n) runs
 * the n writes in one transaction and sets each item's rc (0: written and committed), or,
 * when the group cannot commit, each write alone; every item is answered only after the
 * commit that holds it. Items belong to their callers. A leader's group always holds its
 * own write (first), then the oldest waiting ones; a caller whose write is in another's
 * group only waits. So whatever run_group needs of an item (its request's pool, which is not
 * thread-safe) is used by one thread at a time. Thread-safe; NULL (or leaders 0): every write runs alone at once.
 */
#ifndef VT_GROUP_COMMIT_H
#define VT_GROUP_COMMIT_H

#include <apr_pools.h>

#define VT_GROUP_COMMIT_LEADERS 2     /* groups running at once, per process */
#define VT_GROUP_COMMIT_MAX_ITEMS 32  /* writes per group */
#define VT_GROUP_COMMIT_ITEMS_LIMIT 256
#define VT_GROUP_COMMIT_LEADERS_MAX 64

typedef struct vt_group_commit vt_group_commit_t;

typedef struct vt_gc_item {
    void *data;                /* the caller's write */
    int rc;                    /* set by run_group */
    /* private */
    int done, taken;
    struct vt_gc_item *next;
} vt_gc_item_t;

typedef void vt_gc_run_fn(void *baton, vt_gc_item_t **items, int n);

typedef struct vt_group_commit_stats {
    apr_uint64_t groups, items;  /* items / groups: the mean group */
    int largest;
} vt_group_commit_stats_t;

apr_status_t vt_group_commit_create(apr_pool_t *parent, int leaders, int max_items,
                                    vt_group_commit_t **gc);
/* Runs item (in a group, maybe led by another thread); returns item->rc. baton: this
 * call's, used if this thread leads. */
int vt_group_commit_run(vt_group_commit_t *gc, vt_gc_item_t *item, vt_gc_run_fn *run,
                        void *baton);
void vt_group_commit_stats(vt_group_commit_t *gc, vt_group_commit_stats_t *st);

#endif
