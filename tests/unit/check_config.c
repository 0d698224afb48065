/* The module's configuration table: every member has an UNSET sentinel, a default and a
 * merge rule. The checks iterate VTM_SRV_CONF_FIELDS, so a member added to the table is
 * tested without touching this file. */
#include <stdint.h>
#include <string.h>
#include "vt_suites.h"
#include "vtm_config.h"

/* A value for each member that differs from its UNSET sentinel; salt 0 and 1 differ too.
 * Every branch is a uintptr_t so each _Generic arm type-checks for every member type. */
static const char *str_value(int salt) { return salt ? "add" : "base"; }
static const vt_keyring_t rings[2];

#define TEST_VALUE(c, name, salt)                                                         \
    _Generic(((c)->name),                                                                 \
        int: (uintptr_t)(100 + (salt)),                                                   \
        apr_int64_t: (uintptr_t)(100 + (salt)),                                           \
        const char *: (uintptr_t)str_value(salt),                                         \
        const vt_keyring_t *: (uintptr_t)&rings[salt])
#define SET_VALUE(c, type, name, salt) ((c)->name = (type)TEST_VALUE(c, name, salt))

/* Strings compare by content (a default literal lives in another translation unit). */
static int str_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}
#define SAME(a, b)                                                                       \
    _Generic((a),                                                                        \
        const char *: str_same((const char *)(uintptr_t)(a), (const char *)(uintptr_t)(b)), \
        default: (a) == (b))

START_TEST(test_create_leaves_every_member_unset)
{
    vtm_srv_conf_t *c = vtm_srv_conf_create(vt_test_pool);

#define CHECK_UNSET(type, name, unset, dflt) ck_assert_msg(SAME(c->name, (type)(unset)), #name " set");
    VTM_SRV_CONF_FIELDS(CHECK_UNSET)
#undef CHECK_UNSET
}
END_TEST

START_TEST(test_merge_keeps_base_when_add_unset)
{
    vtm_srv_conf_t *base = vtm_srv_conf_create(vt_test_pool);
    vtm_srv_conf_t *add = vtm_srv_conf_create(vt_test_pool);
    vtm_srv_conf_t *m;

#define SET_BASE(type, name, unset, dflt) SET_VALUE(base, type, name, 0);
    VTM_SRV_CONF_FIELDS(SET_BASE)
#undef SET_BASE
    m = vtm_srv_conf_merge(vt_test_pool, base, add);
#define CHECK_BASE(type, name, unset, dflt) ck_assert_msg(m->name == base->name, #name " lost");
    VTM_SRV_CONF_FIELDS(CHECK_BASE)
#undef CHECK_BASE
}
END_TEST

START_TEST(test_merge_prefers_add_when_set)
{
    vtm_srv_conf_t *base = vtm_srv_conf_create(vt_test_pool);
    vtm_srv_conf_t *add = vtm_srv_conf_create(vt_test_pool);
    vtm_srv_conf_t *m;

#define SET_BOTH(type, name, unset, dflt) SET_VALUE(base, type, name, 0); SET_VALUE(add, type, name, 1);
    VTM_SRV_CONF_FIELDS(SET_BOTH)
#undef SET_BOTH
    m = vtm_srv_conf_merge(vt_test_pool, base, add);
#define CHECK_ADD(type, name, unset, dflt) ck_assert_msg(m->name == add->name, #name " not overridden");
    VTM_SRV_CONF_FIELDS(CHECK_ADD)
#undef CHECK_ADD
}
END_TEST

START_TEST(test_defaults_fill_only_unset_members)
{
    vtm_srv_conf_t *c = vtm_srv_conf_create(vt_test_pool);
    vtm_srv_conf_t *set = vtm_srv_conf_create(vt_test_pool);

    vtm_srv_conf_apply_defaults(c);
#define CHECK_DEFAULT(type, name, unset, dflt) ck_assert_msg(SAME(c->name, (type)(dflt)), #name " default");
    VTM_SRV_CONF_FIELDS(CHECK_DEFAULT)
#undef CHECK_DEFAULT
#define SET_ONE(type, name, unset, dflt) SET_VALUE(set, type, name, 1);
    VTM_SRV_CONF_FIELDS(SET_ONE)
#undef SET_ONE
    vtm_srv_conf_apply_defaults(set);
#define CHECK_KEPT(type, name, unset, dflt) \
    { vtm_srv_conf_t *e = vtm_srv_conf_create(vt_test_pool); SET_VALUE(e, type, name, 1); \
      ck_assert_msg(set->name == e->name, #name " overwritten by default"); }
    VTM_SRV_CONF_FIELDS(CHECK_KEPT)
#undef CHECK_KEPT
}
END_TEST

START_TEST(test_documented_defaults)
{
    vtm_srv_conf_t *c = vtm_srv_conf_create(vt_test_pool);

    vtm_srv_conf_apply_defaults(c);
    ck_assert_int_eq(c->enabled, 0);         /* VoxTwilio Off */
    ck_assert_int_eq(c->signature, 1);       /* VoxTwilioSignature On */
    ck_assert_int_eq(c->max_body, 65536);    /* VoxTwilioMaxBody 64 KiB */
    ck_assert_str_eq(c->api_base, "https://api.twilio.com");
    ck_assert_ptr_null(c->public_url);
    ck_assert_ptr_null(c->tenant);
    /* VoxTwilioHelper: the installed helper; VoxTwilioSpoolDir: below DefaultRuntimeDir */
    ck_assert_str_eq(c->helper, VT_HELPER_PATH);
    ck_assert(strlen(c->helper) > 17
              && strcmp(c->helper + strlen(c->helper) - 17, "/voxtwilio-helper") == 0);
    ck_assert_ptr_null(c->helper_db);
    ck_assert_str_eq(c->spool_dir, "voxtwilio-spool");
    ck_assert_ptr_null(c->recordings_dir);
    ck_assert_int_eq(c->assistant_timeout_ms, 6000); /* VoxTwilioAssistantTimeout 6 */
    ck_assert_int_eq(c->assistant_cache, 256);       /* VoxTwilioAssistantCache 256 */
    ck_assert_str_eq(c->stream_socket, "voxtwilio/stream.sock"); /* below DefaultRuntimeDir */
    ck_assert_int_eq(c->stream_max, 1000);           /* VoxTwilioStreamMax 1000 */
    ck_assert_int_eq(c->stream_timeout_s, 10);       /* VoxTwilioStreamTimeout 10 */
    ck_assert_int_eq(c->realtime_timeout_ms, 4000);  /* VoxTwilioRealtimeTimeout 4 */
}
END_TEST

Suite *vt_suite_config(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_create_leaves_every_member_unset);
    tcase_add_test(tc, test_merge_keeps_base_when_add_unset);
    tcase_add_test(tc, test_merge_prefers_add_when_set);
    tcase_add_test(tc, test_defaults_fill_only_unset_members);
    tcase_add_test(tc, test_documented_defaults);
    suite_add_tcase(s, tc);
    return s;
}
