/* vtm_llm — the model's speech turn; see vtm_llm.h. */
#include <apr_reslist.h>
#include <apr_strings.h>
#include <ap_mpm.h>
#include "vt_conversation.h"
#include "vt_keyring.h"
#include "vtm_db.h"
#include "vtm_llm.h"
#include "vtm_module.h"
#include "vtm_status.h"

APLOG_USE_MODULE(voxtwilio);

/* Below this much time left there is no point in asking: fall back at once. */
#define VTM_LLM_MIN_BUDGET_MS 100
/* Idle clients (and their connections) are dropped after this long. */
#define VTM_LLM_CLIENT_TTL apr_time_from_sec(60)

typedef struct llm_client {
    apr_pool_t *pool;
    vt_llm_http_t *http;
} llm_client_t;

/* The child's clients: created in child_init before any thread serves, then only used
 * through the reslist's own locking. One per process, like mod_dbd's connection pool. */
static apr_reslist_t *clients;

/* Each client lives in an unmanaged pool that only client_free destroys: a subpool of the
 * reslist's pool would already be gone when the reslist's own cleanup frees the clients at
 * child exit (APR destroys subpools before it runs the parent's cleanups), a double
 * destroy that crashed children as httpd stopped. */
static apr_status_t client_make(void **res, void *params, apr_pool_t *pool)
{
    apr_pool_t *p;
    llm_client_t *c;
    apr_status_t rv = apr_pool_create_unmanaged(&p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->pool = p;
    c->http = vt_llm_http_create(p);
    if (!c->http) {
        apr_pool_destroy(p);
        return APR_EGENERAL;
    }
    *res = c;
    return APR_SUCCESS;
}

static apr_status_t client_free(void *res, void *params, apr_pool_t *pool)
{
    apr_pool_destroy(((llm_client_t *)res)->pool);
    return APR_SUCCESS;
}

void vtm_llm_child_init(apr_pool_t *pchild, server_rec *s)
{
    int threads = 1;
    apr_status_t rv;

    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    rv = apr_reslist_create(&clients, 0, threads < 4 ? 1 : 4, threads < 1 ? 1 : threads,
                            VTM_LLM_CLIENT_TTL, client_make, client_free, NULL, pchild);
    if (rv != APR_SUCCESS) {
        /* Turns still work, each with a client of its own (no connection reuse). */
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     VTLOGNO(10701) "cannot create the model client pool");
        clients = NULL;
    }
}

static int fail(vtm_webhook_t *w, const vt_tenant_t *t, vtm_stat_t counter, const char *why)
{
    vtm_status_count(counter);
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, w->r,
                  VTLOGNO(10702) "CallSid %s: the model of tenant %s gave no answer (%s); "
                  "the script assistant answers",
                  w->call_sid, t->slug, why);
    return 0;
}

/* The tenant's endpoint, with its API key decrypted into r->pool (wiped with it). */
static int endpoint_of(vtm_webhook_t *w, const vt_tenant_t *t, vt_llm_conf_t *conf)
{
    const char *err = NULL;

    conf->base_url = t->llm_base_url;
    conf->model = t->llm_model;
    conf->temperature = t->llm_temperature;
    conf->max_tokens = t->llm_max_tokens;
    conf->api_key = NULL;
    if (t->llm_key_blob_hex
        && (!w->conf->keyring
            || vt_secret_decrypt(w->r->pool, w->conf->keyring, t->company_id, t->llm_key_id,
                                 t->llm_key_blob_hex, &conf->api_key, &err) != APR_SUCCESS)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, w->r,
                      VTLOGNO(10703) "CallSid %s: cannot decrypt the model API key of tenant "
                      "%s: %s (is key %s in VoxTwilioKeyFile?)",
                      w->call_sid, t->slug, w->conf->keyring ? err : "no key file",
                      t->llm_key_id);
        return 0;
    }
    return 1;
}

/* A client from the child's pool (or a fresh one), asked once. */
static int ask(request_rec *r, const vt_tenant_t *t, const vt_assistant_t *a, const char *key,
               const vt_llm_turn_t *history, int nhistory, const char *said, long budget_ms,
               int *lang, vt_answer_t *ans, vt_llm_result_t *res, const char **why)
{
    llm_client_t *c = NULL;
    int ok;

    if (!clients || apr_reslist_acquire(clients, (void **)&c) != APR_SUCCESS) {
        if (client_make((void **)&c, NULL, r->pool) != APR_SUCCESS) {
            memset(res, 0, sizeof *res);
            *why = "cannot create an HTTP client";
            return 0;
        }
        ok = vt_conv_ask_model(c->http, r->pool, t, a, key, history, nhistory, said, budget_ms,
                               lang, ans, res, why);
        client_free(c, NULL, NULL);
        return ok;
    }
    ok = vt_conv_ask_model(c->http, r->pool, t, a, key, history, nhistory, said, budget_ms,
                           lang, ans, res, why);
    apr_reslist_release(clients, c);
    return ok;
}

int vtm_llm_answer(vtm_webhook_t *w, const vt_tenant_t *t, const vt_assistant_t *a,
                   const char *said, int *lang, vt_answer_t *ans)
{
    request_rec *r = w->r;
    vt_llm_conf_t conf;
    vt_llm_turn_t *history = NULL;
    vt_llm_result_t res = { 0 };
    const char *why = NULL;
    long budget_ms;
    int nhistory = 0, ok;

    if (!endpoint_of(w, t, &conf)) {
        return fail(w, t, VTM_STAT_LLM_ERRORS, "API key unavailable");
    }
    /* Without its history the model still answers the question asked (logged by vtm_db). */
    vtm_db_call_history(r, w->call_sid, &history, &nhistory);
    budget_ms = (long)(w->conf->assistant_timeout_ms
                       - apr_time_as_msec(apr_time_now() - r->request_time));
    vtm_status_count(VTM_STAT_LLM_TURNS);
    if (budget_ms < VTM_LLM_MIN_BUDGET_MS) {
        return fail(w, t, VTM_STAT_LLM_TIMEOUTS, "no time left in VoxTwilioAssistantTimeout");
    }
    ok = ask(r, t, a, conf.api_key, history, nhistory, said, budget_ms, lang, ans, &res, &why);
    apr_table_setn(r->notes, "VT-LLM-Wait-us",
                   apr_psprintf(r->pool, "%" APR_TIME_T_FMT, (apr_time_t)res.elapsed));
    if (!ok) {
        return fail(w, t, res.timed_out ? VTM_STAT_LLM_TIMEOUTS : VTM_STAT_LLM_ERRORS, why);
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  VTLOGNO(10704) "CallSid %s: model answered in %" APR_TIME_T_FMT " us (%s)",
                  w->call_sid, (apr_time_t)res.elapsed, vt_action_name(ans->action));
    return 1;
}
