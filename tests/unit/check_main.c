/* Runs every unit-test suite. `CK_FORK=no` for debugging under gdb/valgrind. */
#include <stdlib.h>
#include <apr_general.h>
#include <string.h>
#include "vt_suites.h"
#include "vt_form.h"

apr_pool_t *vt_test_pool;

void vt_test_pool_setup(void)
{
    apr_pool_create(&vt_test_pool, NULL);
}

apr_array_header_t *vt_test_params(const char *body)
{
    apr_array_header_t *params = NULL;

    ck_assert_int_eq(vt_form_parse(vt_test_pool, body, strlen(body), 64, &params), VT_FORM_OK);
    return params;
}

void vt_test_pool_teardown(void)
{
    apr_pool_destroy(vt_test_pool);
    vt_test_pool = NULL;
}

int main(void)
{
    apr_app_initialize(NULL, NULL, NULL);
    SRunner *sr = srunner_create(vt_suite_util());
    srunner_add_suite(sr, vt_suite_crypto());
    srunner_add_suite(sr, vt_suite_keyring());
    srunner_add_suite(sr, vt_suite_form());
    srunner_add_suite(sr, vt_suite_signature());
    srunner_add_suite(sr, vt_suite_twiml());
    srunner_add_suite(sr, vt_suite_twiml_doc());
    srunner_add_suite(sr, vt_suite_config());
    srunner_add_suite(sr, vt_suite_assistant());
    srunner_add_suite(sr, vt_suite_assistant_cache());
    srunner_add_suite(sr, vt_suite_spool_record());
    srunner_add_suite(sr, vt_suite_events());
    srunner_add_suite(sr, vt_suite_tenant());
    srunner_add_suite(sr, vt_suite_llm());
    srunner_add_suite(sr, vt_suite_llm_stream());
    srunner_add_suite(sr, vt_suite_analysis());
    srunner_add_suite(sr, vt_suite_conversation());
    srunner_add_suite(sr, vt_suite_g711());
    srunner_add_suite(sr, vt_suite_stream_msg());
    srunner_add_suite(sr, vt_suite_realtime());
    srunner_add_suite(sr, vt_suite_audio());
    srunner_add_suite(sr, vt_suite_turn());
    srunner_add_suite(sr, vt_suite_wav());
    srunner_add_suite(sr, vt_suite_stt());
    srunner_add_suite(sr, vt_suite_tts());
    srunner_add_suite(sr, vt_suite_sphinx());
    srunner_add_suite(sr, vt_suite_group_commit());
    srunner_add_suite(sr, vt_suite_messages());
    srunner_add_suite(sr, vt_suite_rules());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    apr_terminate();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
