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
} fake_db_t;

static void run_group(void *baton, vt_gc_item_t **items, int n)
{
    fake_db_t *db = baton;
    apr_uint32_t now = apr_atomic_inc32(&db->inside) + 1, seen;
    int i;

    while ((seen = apr_atomic_read32(&db->most_inside)) < now
           && apr_atomic_cas32(&db->most_inside, now, seen) != seen) {
    }
    usleep(2000);
    for (i = 0; i < n; i++) {
        items[i]->rc = *(int *)items[i]->data;
    }
    apr_atomic_inc32(&db->groups);
    apr_atomic_dec32(&db->inside);
}

START_TEST(test_a_lone_write_runs_at_once_in_a_group_of_one)
{
    vt_group_commit_t *gc = NULL;
    vt_group_commit_stats_t st;
    fake_db_t db = { 0 };
    int v = 7;
    vt_gc_item_t it = { .data = &v };

    ck_assert_int_eq(vt_group_commit_create(vt_test_pool, 2, 32, &gc), APR_SUCCESS);
    ck_assert_int_eq(vt_group_commit_run(gc, &it, run_group, &db), 7);
    vt_group_commit_stats(gc, &st);
    ck_assert_int_eq((int)st.groups, 1);
    ck_assert_int_eq(st.largest, 1);
}
END_TEST

START_TEST(test_off_runs_each_write_alone)
{
    vt_group_commit_t *gc = (void *)1;
    fake_db_t db = { 0 };
    int v = 3;
    vt_gc_item_t it = { .data = &v };

    ck_assert_int_eq(vt_group_commit_create(vt_test_pool, 0, 32, &gc), APR_SUCCESS);
    ck_assert_ptr_null(gc);
    ck_assert_int_eq(vt_group_commit_run(NULL, &it, run_group, &db), 3);
    ck_assert_int_eq((int)db.groups, 1);
}
END_TEST

#define WRITERS 24
#define ROUNDS 20

typedef struct writer {
    vt_group_commit_t *gc;
    fake_db_t *db;
    int id, wrong;
} writer_t;

static void *APR_THREAD_FUNC write_many(apr_thread_t *th, void *data)
{
    writer_t *w = data;
    int i;

    for (i = 0; i < ROUNDS; i++) {
        int v = w->id * 1000 + i;
        vt_gc_item_t it = { .data = &v };
        if (vt_group_commit_run(w->gc, &it, run_group, w->db) != v) {
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
    for (i = 0; i < WRITERS; i++) {
        w[i] = (writer_t){ gc, &db, i + 1, 0 };
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
