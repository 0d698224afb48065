/* The per-process assistant cache: hits, edits seen at once, eviction of unheld entries
 * only, and many threads sharing it (run under ASan in CI: a freed entry still in use
 * would be reported). */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include "vt_suites.h"
#include "vt_assistant_cache.h"

static vt_tenant_t tenant(const char *id, const char *fallback)
{
    vt_tenant_t t;

    memset(&t, 0, sizeof(t));
    t.company_id = id;
    t.slug = "acme";
    t.language = "en-US";
    t.voice = "Polly.Joanna";
    t.assistant_script = fallback ? apr_psprintf(vt_test_pool, "{\"fallback\": \"%s\"}", fallback)
                                  : NULL;
    return t;
}

static vt_assistant_cache_t *cache_of(int capacity)
{
    vt_assistant_cache_t *c = NULL;

    ck_assert_int_eq(vt_assistant_cache_create(vt_test_pool, capacity, &c), APR_SUCCESS);
    return c;
}

static apr_pool_t *request_pool(void)
{
    apr_pool_t *p;

    apr_pool_create(&p, vt_test_pool);
    return p;
}

START_TEST(test_build_without_cache)
{
    vt_tenant_t t = tenant("1", "Say again?");
    const vt_assistant_t *a = vt_assistant_cache_get(NULL, vt_test_pool, &t, NULL);

    ck_assert_str_eq(vt_script_fallback(a->script), "Say again?");
    ck_assert_ptr_null(a->script_err);
    ck_assert_int_eq(a->nlanguages, 1);
    ck_assert_str_eq(a->languages[0].voice, "Polly.Joanna");
    /* No script (NULL or the "" some drivers give for NULL): the built-ins. */
    t.assistant_script = "";
    a = vt_assistant_build(vt_test_pool, &t);
    ck_assert_str_eq(vt_script_fallback(a->script), VT_SCRIPT_DEFAULT_FALLBACK);
    ck_assert_ptr_null(a->script_err);
}
END_TEST

START_TEST(test_hit_then_edit_seen_at_once)
{
    vt_assistant_cache_t *c = cache_of(8);
    vt_tenant_t t = tenant("1", "one");
    apr_pool_t *r1 = request_pool(), *r2 = request_pool(), *r3 = request_pool();
    vt_assistant_cache_stats_t st;
    const vt_assistant_t *a, *b, *e;
    int hit = -1;

    a = vt_assistant_cache_get(c, r1, &t, &hit);
    ck_assert_int_eq(hit, 0);
    /* Same texts in another row copy: the same entry. */
    t.assistant_script = apr_pstrdup(vt_test_pool, t.assistant_script);
    b = vt_assistant_cache_get(c, r2, &t, &hit);
    ck_assert_int_eq(hit, 1);
    ck_assert_ptr_eq(a, b);
    /* The row changed: rebuilt now; the old entry stays valid for its holders. */
    t.assistant_script = "{\"fallback\": \"two\"}";
    e = vt_assistant_cache_get(c, r3, &t, &hit);
    ck_assert_int_eq(hit, 0);
    ck_assert_str_eq(vt_script_fallback(e->script), "two");
    ck_assert_str_eq(vt_script_fallback(a->script), "one");
    apr_pool_destroy(r1);
    ck_assert_str_eq(vt_script_fallback(b->script), "one");
    apr_pool_destroy(r2);     /* the last holder frees the old entry */
    vt_assistant_cache_stats(c, &st);
    ck_assert_int_eq(st.entries, 1);
    ck_assert_int_eq((int)st.hits, 1);
    ck_assert_int_eq((int)st.misses, 2);
    /* Each text of the key counts: languages, primary voice. */
    t.voice = "Polly.Lupe";
    e = vt_assistant_cache_get(c, r3, &t, &hit);
    ck_assert_int_eq(hit, 0);
    ck_assert_str_eq(e->languages[0].voice, "Polly.Lupe");
    t.languages_json = "[{\"language\": \"es-ES\", \"voice\": \"Polly.Lucia\"}]";
    e = vt_assistant_cache_get(c, r3, &t, &hit);
    ck_assert_int_eq(hit, 0);
    ck_assert_int_eq(e->nlanguages, 2);
    ck_assert_str_eq(e->languages[1].voice, "Polly.Lucia");
}
END_TEST

START_TEST(test_entries_do_not_point_into_the_row)
{
    vt_assistant_cache_t *c = cache_of(8);
    char script[] = "{\"fallback\": \"kept\"}";
    char voice[] = "Polly.Joanna";
    vt_tenant_t t = tenant("1", NULL);
    apr_pool_t *r1 = request_pool();
    const vt_assistant_t *a;

    t.assistant_script = script;
    t.voice = voice;
    a = vt_assistant_cache_get(c, r1, &t, NULL);
    memset(voice, 'x', sizeof(voice) - 1);
    memset(script, ' ', sizeof(script) - 1);
    ck_assert_str_eq(a->languages[0].voice, "Polly.Joanna");
    ck_assert_str_eq(vt_script_fallback(a->script), "kept");
}
END_TEST

START_TEST(test_invalid_script_cached_with_its_error)
{
    vt_assistant_cache_t *c = cache_of(8);
    vt_tenant_t t = tenant("1", NULL);
    const vt_assistant_t *a;
    int hit;

    t.assistant_script = "{\"fallback\": 3}";
    a = vt_assistant_cache_get(c, vt_test_pool, &t, &hit);
    ck_assert_ptr_nonnull(a->script_err);
    ck_assert_ptr_nonnull(strstr(a->script_err, "fallback"));
    ck_assert_str_eq(vt_script_fallback(a->script), VT_SCRIPT_DEFAULT_FALLBACK);
    a = vt_assistant_cache_get(c, vt_test_pool, &t, &hit);
    ck_assert_int_eq(hit, 1);
    ck_assert_ptr_nonnull(a->script_err);   /* still reported at every turn */
}
END_TEST

START_TEST(test_lru_eviction_spares_held_entries)
{
    vt_assistant_cache_t *c = cache_of(2);
    vt_tenant_t t1 = tenant("1", "one"), t2 = tenant("2", "two"), t3 = tenant("3", "three");
    apr_pool_t *held = request_pool(), *r = request_pool();
    vt_assistant_cache_stats_t st;
    const vt_assistant_t *a1, *a2;
    int hit;

    a1 = vt_assistant_cache_get(c, held, &t1, NULL);   /* held until `held` goes */
    vt_assistant_cache_get(c, r, &t2, NULL);
    apr_pool_clear(r);
    vt_assistant_cache_get(c, r, &t3, NULL);           /* full: t2, unheld, makes room */
    vt_assistant_cache_stats(c, &st);
    ck_assert_int_eq(st.entries, 2);
    ck_assert_int_eq((int)st.evictions, 1);
    vt_assistant_cache_get(c, r, &t1, &hit);
    ck_assert_int_eq(hit, 1);
    /* Both entries held now (t1 by both pools, t3 by r): t2 is served uncached. */
    a2 = vt_assistant_cache_get(c, r, &t2, &hit);
    ck_assert_int_eq(hit, 0);
    ck_assert_str_eq(vt_script_fallback(a2->script), "two");
    vt_assistant_cache_stats(c, &st);
    ck_assert_int_eq(st.entries, 2);
    ck_assert_int_eq((int)st.evictions, 1);
    ck_assert_str_eq(vt_script_fallback(a1->script), "one");
    /* Released: the least recently used (t3: t1 was used after it) makes room. */
    apr_pool_clear(r);
    vt_assistant_cache_get(c, r, &t2, &hit);
    vt_assistant_cache_get(c, r, &t1, &hit);
    ck_assert_int_eq(hit, 1);
    vt_assistant_cache_get(c, r, &t3, &hit);
    ck_assert_int_eq(hit, 0);
    apr_pool_destroy(r);
    apr_pool_destroy(held);
}
END_TEST

START_TEST(test_capacity_zero_and_limits)
{
    vt_assistant_cache_t *c = cache_of(0);
    vt_tenant_t t = tenant("1", "one");
    int hit = -1;

    vt_assistant_cache_get(c, vt_test_pool, &t, &hit);
    vt_assistant_cache_get(c, vt_test_pool, &t, &hit);
    ck_assert_int_eq(hit, 0);
    ck_assert_int_eq(vt_assistant_cache_create(vt_test_pool, -1, &c), APR_EINVAL);
    ck_assert_int_eq(vt_assistant_cache_create(vt_test_pool, VT_ASSISTANT_CACHE_MAX + 1, &c),
                     APR_EINVAL);
}
END_TEST

/* The process pool goes while a request still holds an entry (a graceful stop that timed
 * out): the late release must find the cache's lock and memory. */
START_TEST(test_release_after_the_parent_is_gone)
{
    apr_pool_t *parent, *req;
    vt_assistant_cache_t *c = NULL;
    vt_tenant_t t = tenant("1", "one");
    const vt_assistant_t *a;

    apr_pool_create(&parent, vt_test_pool);
    apr_pool_create_unmanaged_ex(&req, NULL, NULL);
    ck_assert_int_eq(vt_assistant_cache_create(parent, 4, &c), APR_SUCCESS);
    a = vt_assistant_cache_get(c, req, &t, NULL);
    apr_pool_destroy(parent);
    ck_assert_str_eq(vt_script_fallback(a->script), "one");
    apr_pool_destroy(req);
}
END_TEST

/* Threads: 12 tenants over 4 slots (constant eviction), each tenant's script edited now
 * and then; every answer must be the script of the row the thread asked with. */
#define THREADS 8
#define ROUNDS 3000
#define TENANTS 12

typedef struct worker {
    vt_assistant_cache_t *cache;
    int seed;
    int bad;
} worker_t;

static void *APR_THREAD_FUNC worker_main(apr_thread_t *th, void *data)
{
    worker_t *w = data;
    apr_pool_t *p;
    unsigned x = (unsigned)w->seed * 2654435761u + 1;
    int i;

    apr_pool_create_unmanaged_ex(&p, NULL, NULL);
    for (i = 0; i < ROUNDS; i++) {
        char id[8], fb[32], script[64];
        vt_tenant_t t;
        const vt_assistant_t *a;

        x = x * 1103515245u + 12345u;
        snprintf(id, sizeof(id), "%u", (x >> 8) % TENANTS);
        snprintf(fb, sizeof(fb), "t%s-v%u", id, (x >> 20) % 3);   /* three versions each */
        snprintf(script, sizeof(script), "{\"fallback\": \"%s\"}", fb);
        memset(&t, 0, sizeof(t));
        t.company_id = id;
        t.language = "en-US";
        t.voice = "Polly.Joanna";
        t.assistant_script = script;
        a = vt_assistant_cache_get(w->cache, p, &t, NULL);
        if (strcmp(vt_script_fallback(a->script), fb) != 0) {
            w->bad++;
        }
        if (i % 7 == 0) {
            apr_pool_clear(p);   /* a request ends; others hold theirs a little longer */
        }
    }
    apr_pool_destroy(p);
    /* Returns rather than apr_thread_exit(): pthread_exit's unwinding leaves ASan's
     * stack shadow poisoned and it then reports its own thread teardown. */
    (void)th;
    return NULL;
}

START_TEST(test_threads_share_the_cache)
{
    vt_assistant_cache_t *c = cache_of(4);
    apr_thread_t *th[THREADS];
    worker_t w[THREADS];
    vt_assistant_cache_stats_t st;
    int i;

    for (i = 0; i < THREADS; i++) {
        w[i].cache = c;
        w[i].seed = i + 1;
        w[i].bad = 0;
        ck_assert_int_eq(apr_thread_create(&th[i], NULL, worker_main, &w[i], vt_test_pool),
                         APR_SUCCESS);
    }
    for (i = 0; i < THREADS; i++) {
        apr_status_t rv;
        apr_thread_join(&rv, th[i]);
        ck_assert_int_eq(w[i].bad, 0);
    }
    vt_assistant_cache_stats(c, &st);
    ck_assert_int_eq((int)(st.hits + st.misses), THREADS * ROUNDS);
    ck_assert(st.entries <= 4);
    ck_assert(st.hits > 0 && st.evictions > 0);
}
END_TEST

Suite *vt_suite_assistant_cache(void)
{
    Suite *s = suite_create("assistant_cache");
    TCase *tc = tcase_create("assistant_cache");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_build_without_cache);
    tcase_add_test(tc, test_hit_then_edit_seen_at_once);
    tcase_add_test(tc, test_entries_do_not_point_into_the_row);
    tcase_add_test(tc, test_invalid_script_cached_with_its_error);
    tcase_add_test(tc, test_lru_eviction_spares_held_entries);
    tcase_add_test(tc, test_capacity_zero_and_limits);
    tcase_add_test(tc, test_release_after_the_parent_is_gone);
    tcase_add_test(tc, test_threads_share_the_cache);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
