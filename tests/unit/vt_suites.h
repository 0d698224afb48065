/* One Check suite per core area; check_main.c runs them all. */
#ifndef VT_SUITES_H
#define VT_SUITES_H

#include <check.h>
#include <apr_pools.h>

Suite *vt_suite_util(void);
Suite *vt_suite_crypto(void);
Suite *vt_suite_keyring(void);
Suite *vt_suite_form(void);
Suite *vt_suite_signature(void);
Suite *vt_suite_twiml(void);
Suite *vt_suite_twiml_doc(void);
Suite *vt_suite_config(void);
Suite *vt_suite_assistant(void);
Suite *vt_suite_assistant_cache(void);
Suite *vt_suite_spool_record(void);
Suite *vt_suite_events(void);
Suite *vt_suite_tenant(void);
Suite *vt_suite_llm(void);
Suite *vt_suite_llm_stream(void);
Suite *vt_suite_analysis(void);
Suite *vt_suite_conversation(void);
Suite *vt_suite_g711(void);
Suite *vt_suite_stream_msg(void);
Suite *vt_suite_realtime(void);
Suite *vt_suite_audio(void);
Suite *vt_suite_turn(void);
Suite *vt_suite_wav(void);
Suite *vt_suite_stt(void);
Suite *vt_suite_tts(void);
Suite *vt_suite_sphinx(void);
Suite *vt_suite_group_commit(void);
Suite *vt_suite_messages(void);
Suite *vt_suite_rules(void);

/* A fresh pool per test (created in a checked fixture by each suite that needs one). */
extern apr_pool_t *vt_test_pool;
void vt_test_pool_setup(void);
void vt_test_pool_teardown(void);

/* A webhook body as parameters (from vt_test_pool), asserting it parses. */
#include <apr_tables.h>
apr_array_header_t *vt_test_params(const char *body);

#endif
