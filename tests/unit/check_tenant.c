/* Tenant resolution order and checks, with a lookup callback playing the database. */
#include <string.h>
#include "vt_suites.h"
#include "vt_form.h"
#include "vt_tenant.h"
#include "vt_tenant_cache.h"
#include <apr_strings.h>

#define ACME_SID "AC0123456789abcdef0123456789abcdef"
#define OTHER_SID "ACffffffffffffffffffffffffffffffff"
#define CALL_SID "CA0123456789abcdef0123456789abcdef"

typedef struct fake_db {
    const char *known_key;          /* the one key that finds acme */
    int fail;                       /* every lookup fails */
    int enabled;
    char trail[256];                /* "label:key;" per lookup */
} fake_db_t;

static int fake_lookup(void *baton, const vt_event_stmt_t *st, const char *key, vt_tenant_t *t)
{
    fake_db_t *db = baton;
    const char *row[VT_TENANT_NCOLS] = { "7", "acme", db->enabled ? "t" : "f", "Hi", "Polly.Joanna",
                                         "en-US", "t", "t", ACME_SID, "00", "k1" };

    strcat(db->trail, st->label + strlen("voxtwilio_tenant_by_"));
    strcat(db->trail, ";");
    if (db->fail) {
        return -1;
    }
    if (strcmp(key, db->known_key) != 0) {
        return 0;
    }
    vt_tenant_from_row(row, t);
    return 1;
}

#define VOICE(account) \
    "AccountSid=" account "&CallSid=" CALL_SID "&From=%2B14155550100&To=%2B15005550006"

START_TEST(test_inbound_by_called_number)
{
    fake_db_t db = { .known_key = "+15005550006", .enabled = 1 };
    vt_tenant_t t;
    const char *why = NULL;

    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, NULL,
                                       vt_test_params(VOICE(ACME_SID)), 0, &t, &why),
                     VT_TENANT_FOUND);
    ck_assert_str_eq(db.trail, "number;"); /* no call-row or From lookup for inbound */
    ck_assert_str_eq(t.slug, "acme");
    ck_assert_str_eq(t.company_id, "7");
}
END_TEST

START_TEST(test_callback_order_call_then_to_then_from)
{
    fake_db_t db = { .known_key = "+14155550100", .enabled = 1 };
    vt_tenant_t t;
    const char *why = NULL;

    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, NULL,
                                       vt_test_params(VOICE(ACME_SID)), 1, &t, &why),
                     VT_TENANT_FOUND);
    ck_assert_str_eq(db.trail, "call;number;number;");
}
END_TEST

START_TEST(test_slug_wins)
{
    fake_db_t db = { .known_key = "acme", .enabled = 1 };
    vt_tenant_t t;
    const char *why = NULL;

    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, "acme",
                                       vt_test_params(VOICE(ACME_SID)), 1, &t, &why),
                     VT_TENANT_FOUND);
    ck_assert_str_eq(db.trail, "slug;");
}
END_TEST

START_TEST(test_refusals)
{
    fake_db_t db = { .known_key = "+15005550006", .enabled = 1 };
    vt_tenant_t t;
    const char *why = NULL;

    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, NULL,
                                       vt_test_params(VOICE(OTHER_SID)), 0, &t, &why),
                     VT_TENANT_REFUSED);
    ck_assert_str_eq(why, "AccountSid does not belong to tenant acme");
    db.enabled = 0;
    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, NULL,
                                       vt_test_params(VOICE(ACME_SID)), 0, &t, &why),
                     VT_TENANT_REFUSED);
    ck_assert_str_eq(why, "no enabled tenant for number +15005550006");
    db.known_key = "nothing";
    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, NULL,
                                       vt_test_params("AccountSid=" ACME_SID "&To=client%3Aalice"), 0,
                                       &t, &why),
                     VT_TENANT_REFUSED);
    ck_assert_str_eq(db.trail, "number;number;"); /* a non-E.164 To is never looked up */
}
END_TEST

START_TEST(test_database_failure)
{
    fake_db_t db = { .known_key = "+15005550006", .fail = 1 };
    vt_tenant_t t;
    const char *why = NULL;

    ck_assert_int_eq(vt_tenant_resolve(vt_test_pool, fake_lookup, &db, NULL,
                                       vt_test_params(VOICE(ACME_SID)), 1, &t, &why),
                     VT_TENANT_DB_FAILED);
    ck_assert_str_eq(db.trail, "call;"); /* stops at the first failure */
}
END_TEST

/* The model columns and the languages list (sql/003_llm.sql), as the module reads them. */
START_TEST(test_model_settings_and_languages)
{
    const char *row[VT_TENANT_NCOLS] = {
        "7", "acme", "t", "Hi", "Polly.Amy", "en-GB", "t", "t", ACME_SID, "00", "k1",
        NULL, NULL, NULL, "Acme", "llm", "http://127.0.0.1:8080/v1", "m1", "", "", "0.5",
        "300",
        "[{\"language\": \"es-ES\", \"voice\": \"Polly.Lucia\"}, {\"language\": \"bad lang\","
        " \"voice\": \"x\"}, {\"voice\": \"Polly.Lea\"}, {\"language\": \"fr-FR\","
        " \"voice\": \"Polly.Lea\"}]",
        "Be brief." };
    vt_tenant_t t;
    const vt_llm_language_t *langs;
    int n = 0;

    vt_tenant_from_row(row, &t);
    ck_assert(vt_tenant_is_llm(&t));
    ck_assert_ptr_null(t.llm_key_blob_hex);     /* "" is no key */
    ck_assert_ptr_null(t.llm_key_id);
    ck_assert_int_eq(t.llm_max_tokens, 300);
    ck_assert(t.llm_temperature > 0.49 && t.llm_temperature < 0.51);
    ck_assert_str_eq(t.system_prompt, "Be brief.");
    langs = vt_tenant_languages(vt_test_pool, &t, &n);
    ck_assert_int_eq(n, 3);                      /* the invalid entries are skipped */
    ck_assert_str_eq(langs[0].language, "en-GB");
    ck_assert_str_eq(langs[0].voice, "Polly.Amy");
    ck_assert_str_eq(langs[1].language, "es-ES");
    ck_assert_str_eq(langs[2].voice, "Polly.Lea");

    row[15] = "script";
    vt_tenant_from_row(row, &t);
    ck_assert(!vt_tenant_is_llm(&t));
    row[15] = "llm";
    row[17] = NULL;                              /* no model: not usable */
    vt_tenant_from_row(row, &t);
    ck_assert(!vt_tenant_is_llm(&t));
    row[22] = "not json";
    vt_tenant_from_row(row, &t);
    vt_tenant_languages(vt_test_pool, &t, &n);
    ck_assert_int_eq(n, 1);
}
END_TEST

/* The stream-mode columns (sql/004_streams.sql). */
START_TEST(test_stream_settings)
{
    const char *row[VT_TENANT_NCOLS] = {
        "7", "acme", "t", "Hi", "Polly.Amy", "en-GB", "t", "t", ACME_SID, "00", "k1",
        NULL, NULL, NULL, "Acme", "script", NULL, NULL, NULL, NULL, "0.3", "200", "[]", NULL,
        "stream", "t", "wss://rt.example.com/v1/realtime", "gpt-realtime", "marin", "beta",
        "pcm16", "", "abcd", "k2" };
    vt_tenant_t t;

    vt_tenant_from_row(row, &t);
    ck_assert(vt_tenant_is_stream(&t));
    ck_assert(vt_tenant_has_realtime(&t));
    ck_assert_int_eq(t.recording, 1);
    ck_assert_str_eq(t.realtime_voice, "marin");
    ck_assert_str_eq(t.realtime_dialect, "beta");
    ck_assert_str_eq(t.realtime_audio, "pcm16");
    ck_assert_ptr_null(t.realtime_transcription); /* "" is none */
    ck_assert_str_eq(t.realtime_key_blob_hex, "abcd");
    ck_assert_str_eq(t.realtime_key_id, "k2");
    row[24] = "gather";
    row[25] = "f";
    row[27] = NULL;
    vt_tenant_from_row(row, &t);
    ck_assert(!vt_tenant_is_stream(&t));
    ck_assert(!vt_tenant_has_realtime(&t));
    ck_assert_int_eq(t.recording, 0);
}
END_TEST

/* The voice pipeline's columns (sql/005_pipeline.sql, 008_recognizer_confidence.sql). */
START_TEST(test_pipeline_settings)
{
    const char *row[VT_TENANT_NCOLS] = {
        "7", "acme", "t", "Hi", "Polly.Amy", "en-GB", "t", "t", ACME_SID, "00", "k1",
        NULL, NULL, NULL, "Acme", "script", NULL, NULL, NULL, NULL, "0.3", "200", "[]", NULL,
        "stream", "f", NULL, NULL, NULL, "ga", "pcmu", NULL, NULL, NULL,
        "http://127.0.0.1:9000/v1", "whisper-1", "beef", "k3",
        "http://127.0.0.1:9001/v1", "tts-1", "alloy", "wav", NULL, NULL, "700", "300", "2000" };
    vt_tenant_t t;

    vt_tenant_from_row(row, &t);
    ck_assert(vt_tenant_is_stream(&t) && !vt_tenant_has_realtime(&t));
    ck_assert(vt_tenant_has_stt(&t) && vt_tenant_has_tts(&t));
    ck_assert_str_eq(t.stt_model, "whisper-1");
    ck_assert_str_eq(t.stt_key_blob_hex, "beef");
    ck_assert_str_eq(t.stt_key_id, "k3");
    ck_assert_str_eq(t.tts_voice, "alloy");
    ck_assert_str_eq(t.tts_format, "wav");
    ck_assert_ptr_null(t.tts_key_blob_hex);
    ck_assert_int_eq(t.end_silence_ms, 700);
    ck_assert_int_eq(t.barge_in_ms, 300);
    ck_assert_int_eq(t.reply_budget_ms, 2000);
    ck_assert(t.recognizer_confidence < 0); /* unset: vt_sphinx's default */
    row[47] = "0.25";
    vt_tenant_from_row(row, &t);
    ck_assert(t.recognizer_confidence > 0.249 && t.recognizer_confidence < 0.251);
    row[34] = NULL;
    row[38] = "";
    row[41] = NULL;
    vt_tenant_from_row(row, &t);
    ck_assert(!vt_tenant_has_stt(&t) && !vt_tenant_has_tts(&t));
    ck_assert_str_eq(t.tts_format, "pcm");
}
END_TEST

/* ------------------------------------------------------------------ the tenant cache */
static const char **cache_row(const char *slug, const char *version)
{
    const char **row = apr_pcalloc(vt_test_pool, sizeof(*row) * VT_TENANT_NCOLS);

    row[0] = "7";
    row[1] = slug;
    row[2] = "t";
    row[9] = "0011";
    row[48] = version;
    return row;
}

START_TEST(test_cache_gets_a_copy_of_what_was_put)
{
    vt_tenant_cache_t *c = NULL;
    vt_tenant_cache_stats_t st;
    apr_pool_t *p;
    vt_tenant_t t;
    const char **row = cache_row("acme", "12");

    apr_pool_create(&p, vt_test_pool);
    ck_assert_int_eq(vt_tenant_cache_create(p, 2, &c), APR_SUCCESS);
    ck_assert(!vt_tenant_cache_get(c, vt_test_pool, "n:+15005550006", &t));
    vt_tenant_cache_put(c, "n:+15005550006", row);
    row[1] = "changed";  /* the cache holds its own copy */
    ck_assert(vt_tenant_cache_get(c, vt_test_pool, "n:+15005550006", &t));
    ck_assert_str_eq(t.slug, "acme");
    ck_assert_str_eq(t.version, "12");
    ck_assert_str_eq(t.token_blob_hex, "0011"); /* sealed, as in the row */
    ck_assert_ptr_null(t.greeting);
    vt_tenant_cache_put(c, "n:+15005550006", cache_row("acme", "13")); /* replaced */
    ck_assert(vt_tenant_cache_get(c, vt_test_pool, "n:+15005550006", &t));
    ck_assert_str_eq(t.version, "13");
    vt_tenant_cache_drop(c, "n:+15005550006");
    ck_assert(!vt_tenant_cache_get(c, vt_test_pool, "n:+15005550006", &t));
    vt_tenant_cache_stats(c, &st);
    ck_assert_int_eq(st.hits, 2);
    ck_assert_int_eq(st.misses, 2);
    ck_assert_int_eq(st.stale, 1);
    ck_assert_int_eq(st.entries, 0);
    apr_pool_destroy(p); /* frees what is left (LeakSanitizer checks) */
}
END_TEST

START_TEST(test_cache_replaces_the_least_recently_used)
{
    vt_tenant_cache_t *c = NULL;
    vt_tenant_cache_stats_t st;
    apr_pool_t *p;
    vt_tenant_t t;

    apr_pool_create(&p, vt_test_pool);
    ck_assert_int_eq(vt_tenant_cache_create(p, 2, &c), APR_SUCCESS);
    vt_tenant_cache_put(c, "s:a", cache_row("a", "1"));
    vt_tenant_cache_put(c, "s:b", cache_row("b", "2"));
    ck_assert(vt_tenant_cache_get(c, vt_test_pool, "s:a", &t)); /* a is now the newest */
    vt_tenant_cache_put(c, "s:c", cache_row("c", "3"));         /* b goes */
    ck_assert(!vt_tenant_cache_get(c, vt_test_pool, "s:b", &t));
    ck_assert(vt_tenant_cache_get(c, vt_test_pool, "s:a", &t));
    ck_assert(vt_tenant_cache_get(c, vt_test_pool, "s:c", &t));
    vt_tenant_cache_stats(c, &st);
    ck_assert_int_eq(st.entries, 2);
    apr_pool_destroy(p);
    /* a row too big to keep is not kept (the tenant is looked up every time) */
    apr_pool_create(&p, vt_test_pool);
    ck_assert_int_eq(vt_tenant_cache_create(p, 2, &c), APR_SUCCESS);
    {
        const char **big = cache_row("big", "1");
        char *script = apr_palloc(vt_test_pool, VT_TENANT_CACHE_ROW_MAX + 1);

        memset(script, 'x', VT_TENANT_CACHE_ROW_MAX);
        script[VT_TENANT_CACHE_ROW_MAX] = '\0';
        big[13] = script;
        vt_tenant_cache_put(c, "s:big", big);
        ck_assert(!vt_tenant_cache_get(c, vt_test_pool, "s:big", &t));
    }
    apr_pool_destroy(p);
    /* rows that fit one by one but not all together: the oldest go */
    apr_pool_create(&p, vt_test_pool);
    ck_assert_int_eq(vt_tenant_cache_create(p, 1000, &c), APR_SUCCESS);
    {
        const char **row = cache_row("r", "1");
        char *script = apr_palloc(vt_test_pool, 200 * 1024 + 1);
        int i;

        memset(script, 'x', 200 * 1024);
        script[200 * 1024] = '\0';
        row[13] = script;
        for (i = 0; i < 100; i++)
            vt_tenant_cache_put(c, apr_psprintf(vt_test_pool, "s:r%d", i), row);
        vt_tenant_cache_stats(c, &st);
        ck_assert_int_lt(st.entries, 100);
        ck_assert_int_ge(st.entries, 70);
        ck_assert(vt_tenant_cache_get(c, vt_test_pool, "s:r99", &t));
        ck_assert(!vt_tenant_cache_get(c, vt_test_pool, "s:r0", &t));
    }
    apr_pool_destroy(p);
    /* capacity 0 and NULL: no cache */
    ck_assert_int_eq(vt_tenant_cache_create(vt_test_pool, 0, &c), APR_SUCCESS);
    ck_assert_ptr_null(c);
    vt_tenant_cache_put(c, "s:a", cache_row("a", "1"));
    ck_assert(!vt_tenant_cache_get(c, vt_test_pool, "s:a", &t));
    vt_tenant_cache_drop(c, "s:a");
}
END_TEST

Suite *vt_suite_tenant(void)
{
    Suite *s = suite_create("tenant");
    TCase *tc = tcase_create("tenant");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_inbound_by_called_number);
    tcase_add_test(tc, test_callback_order_call_then_to_then_from);
    tcase_add_test(tc, test_slug_wins);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_database_failure);
    tcase_add_test(tc, test_model_settings_and_languages);
    tcase_add_test(tc, test_stream_settings);
    tcase_add_test(tc, test_pipeline_settings);
    tcase_add_test(tc, test_cache_gets_a_copy_of_what_was_put);
    tcase_add_test(tc, test_cache_replaces_the_least_recently_used);
    suite_add_tcase(s, tc);
    return s;
}
