/* vtm_llm — a speech turn answered by the tenant's language model.
 *
 * Each child keeps its model clients (libcurl handles, so connections to the endpoint are
 * reused) in an apr_reslist; a thread borrows one for its exchange. The call's history is
 * read over a pooled database connection that is given back before the model is asked, so
 * no connection waits on the model. The exchange ends when VoxTwilioAssistantTimeout,
 * counted from the request's arrival, runs out.
 */
#ifndef VTM_LLM_H
#define VTM_LLM_H

#include <httpd.h>
#include "vt_assistant.h"
#include "vt_llm.h"
#include "vt_assistant_cache.h"
#include "vt_tenant.h"
#include "vtm_request.h"

/* child_init: the child's client list. */
void vtm_llm_child_init(apr_pool_t *pchild, server_rec *s);

/* Asks the tenant's model about `said`. 1: it answered; *ans holds the spoken reply
 * (intent "llm") and the action (none, escalate, hangup; reply NULL when the model gave no
 * text with its tool call), and *lang the index into a's languages after a switch.
 * 0: no usable answer (timeout, HTTP or parse error, undecryptable key), already logged
 * with the CallSid and counted; the caller falls back. The time spent waiting on the model
 * goes to the request note "VT-LLM-Wait-us" (for LogFormat %{VT-LLM-Wait-us}n). */
int vtm_llm_answer(vtm_webhook_t *w, const vt_tenant_t *t, const vt_assistant_t *a,
                   const char *said, int *lang, vt_answer_t *ans);

#endif
