/* vt_group_commit: writes that arrive together share a group; a lone write runs at once. */
#include <apr_thread_proc.h>
#include <apr_atomic.h>
#include <unistd.h>
#include "vt_group_commit.h"
#include "vt_suites.h"

/* A stand-in for the database: each group takes 2 ms (a commit), records its size, and
 * answers every item with its own number. */
typedef struct fake_db {
    volatile apr_uint32_t inside;    /* groups running now */
    volatile apr_uint32_t most_inside;
    volatile apr_uint32_t groups;
    volatile apr_uint32_t shared;    /* a caller's request worked on by two threads at once */
} fake_db_t;

/* A caller: its request (as the module's, not thread-safe) and its writes. */
typedef struct writer {
    fake_db_t *db;
    volatile apr_uint32_t in_use; /* threads working on this caller's request now */
    int id, wrong;
} writer_t;

typedef struct write {
    int v;
    writer_t *owner;
} write_t;

static void use(writer_t *w, int on)
{
    if (on && apr_atomic_inc32(&w->in_use) != 0) {
        apr_atomic_inc32(&w->db->shared);
    }
    if (!on) {
        apr_atomic_dec32(&w->in_use);
    }
}

/* baton: the leader (whose request a group's transaction uses); each item's caller's
 * request is used for its write (as vtm_db.c's run_write does). */
static void run_group(void *baton, vt_gc_item_t **items, int n)
{
    writer_t *leader = baton;
    fake_db_t *db = leader->db;
    apr_uint32_t now = apr_atomic_inc32(&db->inside) + 1, seen;
    int i;

    while ((seen = apr_atomic_read32(&db->most_inside)) < now
           && apr_atomic_cas32(&db->most_inside, now, seen) != seen) {
    }
    use(leader, 1);
    for (i = 0; i < n; i++) {
        write_t *w = items[i]->data;
        if (w->owner != leader) {
            use(w->owner, 1);
        }
    }
    usleep(2000);
    for (i = 0; i < n; i++) {
        write_t *w = items[i]->data;
        items[i]->rc = w->v;
        if (w->owner != leader) {
            use(w->owner, 0);
        }
    }
    use(leader, 0);
    apr_atomic_inc32(&db->groups);
    apr_atomic_dec32(&db->inside);
}

START_TEST(test_a_lone_write_runs_at_once_in_a_group_of_one)
{
    vt_group_commit_t *gc = NULL;
    vt_group_commit_stats_t st;
    fake_db_t db = { 0 };
    writer_t me = { .db = &db };
    write_t w = { 7, &me };
    vt_gc_item_t it = { .data = &w };

    ck_assert_int_eq(vt_group_commit_create(vt_test_pool, 2, 32, &gc), APR_SUCCESS);
    ck_assert_int_eq(vt_group_commit_run(gc, &it, run_group, &me), 7);
    vt_group_commit_stats(gc, &st);
    ck_assert_int_eq((int)st.groups, 1);
    ck_assert_int_eq(st.largest, 1);
}
END_TEST

START_TEST(test_off_runs_each_write_alone)
{
    vt_group_commit_t *gc = (void *)1;
    fake_db_t db = { 0 };
    writer_t me = { .db = &db };
    write_t w = { 3, &me };
    vt_gc_item_t it = { .data = &w };

    ck_assert_int_eq(vt_group_commit_create(vt_test_pool, 0, 32, &gc), APR_SUCCESS);
    ck_assert_ptr_null(gc);
    ck_assert_int_eq(vt_group_commit_run(NULL, &it, run_group, &me), 3);
    ck_assert_int_eq((int)db.groups, 1);
}
END_TEST

#define WRITERS 24
#define ROUNDS 20

static vt_group_commit_t *shared_gc;

static void *APR_THREAD_FUNC write_many(apr_thread_t *th, void *data)
{
    writer_t *w = data;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        write_t one = { w->id * 1000 + i, w };
        vt_gc_item_t it = { .data = &one };
        if (vt_group_commit_run(shared_gc, &it, run_group, w) != one.v) {
            w->wrong++;
        }
    }
    /* Returns rather than apr_thread_exit(): pthread_exit's unwinding leaves ASan's
     * stack poisoning behind (stack-buffer-underflow in sigaltstack at thread exit). */
    (void)th;
    return NULL;
}

START_TEST(test_writes_together_share_groups_each_answered_with_its_own)
{
    vt_group_commit_t *gc = NULL;
    vt_group_commit_stats_t st;
    fake_db_t db = { 0 };
    apr_thread_t *th[WRITERS];
    writer_t w[WRITERS];
    apr_status_t rv;
    int i;

    ck_assert_int_eq(vt_group_commit_create(vt_test_pool, 2, 8, &gc), APR_SUCCESS);
    shared_gc = gc;
    for (i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){ .db = &db, .id = i + 1 };
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, write_many, &w[i], vt_test_pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < WRITERS; i++) {
        apr_thread_join(&rv, th[i]);
        ck_assert_int_eq(w[i].wrong, 0);
    }
    vt_group_commit_stats(gc, &st);
    ck_assert_int_eq((int)st.items, WRITERS * ROUNDS);
    /* 24 writers on 2 leaders: groups form (far fewer groups than writes), none over 8 */
    ck_assert_int_lt((int)st.groups, WRITERS * ROUNDS / 2);
    ck_assert_int_le(st.largest, 8);
    ck_assert_int_ge(st.largest, 2);
    ck_assert_int_le((int)db.most_inside, 2);
    ck_assert_int_eq((int)db.groups, (int)st.groups);
    /* No caller's request was worked on by two threads at once (a caller whose write is in
     * another's group must not lead a group of its own meanwhile). */
    ck_assert_int_eq((int)db.shared, 0);
}
END_TEST

Suite *vt_suite_group_commit(void)
{
    Suite *s = suite_create("group_commit");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_a_lone_write_runs_at_once_in_a_group_of_one);
    tcase_add_test(tc, test_off_runs_each_write_alone);
    tcase_add_test(tc, test_writes_together_share_groups_each_answered_with_its_own);
    suite_add_tcase(s, tc);
    return s;
}
