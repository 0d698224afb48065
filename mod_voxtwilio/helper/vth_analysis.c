/* vth_analysis — voxtwilio-helper: the call_analysis job.
 *
 * A trigger queues one per call when the call becomes 'completed' (sql/003_llm.sql). The
 * job reads the call and its turns, asks the tenant's model (assistant_kind 'llm') for
 * {"summary", "sentiment", "todos"}, and uses the offline analysis (vt_analysis.h) when
 * the tenant has no model or the model fails. The analysis is best effort: a model outage
 * neither fails nor retries the job (a retry would only wait on the same outage); only a
 * database error does.
 *
 * The material: the recording's transcript when one is complete (transcript_status
 * 'done', vth_jobs.c's recording_transcribe: both sides as heard on the recording), else
 * the turns stored during the call. A stream call whose transcript is coming has its job
 * due later (sql/006: at most 5 minutes after the call ended), and the transcription wakes
 * it; so there is one analysis, on the transcript when it came in time, on the turns when
 * it did not or failed. A transcript that arrives after the analysis is stored and shown
 * but does not redo it. Retries (a database error) read the same material again.
 *
 * The API key is decrypted into the job's pool and only handed to vt_llm_chat, which puts
 * it in the Authorization header. The failure reasons logged come from vt_llm's result
 * (masked there) and from our parser, which names fields only.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vth.h"
#include "vt_analysis.h"
#include "vt_keyring.h"
#include "vt_log.h"
#include "vt_util.h"

typedef struct call_info {
    const char *company_id;
    const char *transcript; /* the recording's, complete (jsonb text), or NULL */
    const char *company_name;
    int escalated;
    int llm;                /* assistant_kind 'llm' with a base URL and a model */
    vt_llm_conf_t conf;
    const char *key_id;     /* NULL: the endpoint takes no key */
    const char *key_hex;
} call_info_t;

#define COL(res, i) (PQgetisnull((res), 0, (i)) ? NULL : apr_pstrdup(p, PQgetvalue((res), 0, (i))))

/* 1 with *ci filled, 0 when the call is gone, -1 on a database error (*out set). */
static int load_call(apr_pool_t *p, PGconn *conn, const char *sid, call_info_t *ci,
                     vth_outcome_t *out)
{
    const char *params[1] = { sid };
    PGresult *res;

    res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the call",
                 "SELECT c.company_id, c.escalated, co.name, co.assistant_kind,"
                 " co.llm_base_url, co.llm_model, encode(co.llm_api_key_enc, 'hex'),"
                 " co.llm_key_id, co.llm_temperature, co.llm_max_tokens,"
                 " CASE WHEN c.transcript_status = 'done'"
                 "  AND jsonb_array_length(c.recording_transcript) > 0"
                 "  THEN c.recording_transcript::text END"
                 " FROM calls c JOIN companies co ON co.id = c.company_id"
                 " WHERE c.call_sid = $1",
                 1, params, &out->error);
    if (!res) {
        out->status = VTH_JOB_RETRY; /* only a database error retries an analysis */
        return -1;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return 0;
    }
    memset(ci, 0, sizeof *ci);
    ci->company_id = COL(res, 0);
    ci->escalated = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
    ci->company_name = COL(res, 2);
    ci->conf.base_url = COL(res, 4);
    ci->conf.model = COL(res, 5);
    ci->key_hex = COL(res, 6);
    ci->key_id = COL(res, 7);
    ci->conf.temperature = strtod(PQgetvalue(res, 0, 8), NULL);
    ci->conf.max_tokens = atoi(PQgetvalue(res, 0, 9));
    ci->transcript = COL(res, 10);
    ci->llm = strcmp(PQgetvalue(res, 0, 3), "llm") == 0 && ci->conf.base_url
              && *ci->conf.base_url && ci->conf.model && *ci->conf.model;
    PQclear(res);
    return 1;
}
#undef COL

/* 1 with the turns in order, -1 on a database error (*out set). */
static int load_turns(apr_pool_t *p, PGconn *conn, const char *sid, vt_llm_turn_t **turns,
                      int *n, vth_outcome_t *out)
{
    const char *params[1] = { sid };
    PGresult *res;
    int i;

    res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the call's turns",
                 "SELECT role, text FROM call_turns WHERE call_sid = $1 ORDER BY seq", 1,
                 params, &out->error);
    if (!res) {
        out->status = VTH_JOB_RETRY;
        return -1;
    }
    *n = PQntuples(res);
    *turns = apr_pcalloc(p, (apr_size_t)(*n + 1) * sizeof **turns);
    for (i = 0; i < *n; i++) {
        (*turns)[i].role = apr_pstrdup(p, PQgetvalue(res, i, 0));
        (*turns)[i].text = apr_pstrdup(p, PQgetvalue(res, i, 1));
    }
    PQclear(res);
    return 1;
}

/* The recording's transcript as turns: [{"speaker", "start_ms", "text"}, ...] (our own
 * writing, checked anyway). 1 with at least one turn, else 0 (then the stored turns). */
static int transcript_turns(apr_pool_t *p, const char *json, vt_llm_turn_t **turns, int *n)
{
    json_object *a = json_tokener_parse(json), *v, *sp, *tx;
    size_t i, len;

    *n = 0;
    if (!a || !json_object_is_type(a, json_type_array)) {
        json_object_put(a);
        return 0;
    }
    len = json_object_array_length(a);
    *turns = apr_pcalloc(p, (len + 1) * sizeof **turns);
    for (i = 0; i < len; i++) {
        v = json_object_array_get_idx(a, i);
        if (!json_object_object_get_ex(v, "speaker", &sp)
            || !json_object_object_get_ex(v, "text", &tx)
            || !json_object_is_type(tx, json_type_string))
            continue;
        (*turns)[*n].role = strcmp(json_object_get_string(sp), "assistant") == 0 ? "assistant"
                                                                                 : "caller";
        (*turns)[*n].text = apr_pstrdup(p, json_object_get_string(tx));
        (*n)++;
    }
    json_object_put(a);
    return *n > 0;
}

/* The model's analysis into *a: NULL, or why there is none (for the log; no secret). */
static const char *model_analysis(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs,
                                  call_info_t *ci, const vt_llm_turn_t *turns, int nturns,
                                  vt_analysis_t *a)
{
    const vt_llm_msg_t *msgs;
    const char *body, *err = NULL;
    vt_llm_reply_t reply;
    vt_llm_result_t res;
    int nmsgs;

    if (ci->key_hex) {
        /* The company id is the associated data: a key copied from another tenant's row
         * does not open. */
        if (vt_secret_decrypt(p, cfg->ring, ci->company_id, ci->key_id, ci->key_hex,
                              &ci->conf.api_key, &err) != APR_SUCCESS)
            return apr_psprintf(p, "cannot decrypt the API key: %s", err ? err : "unknown error");
    }
    /* One client per process: its connections to the model are reused from job to job. */
    if (!jobs->llm_http && !(jobs->llm_http = vt_llm_http_create(jobs->pool)))
        return "cannot create an HTTP client";
    msgs = vt_analysis_messages(p, ci->company_name, turns, nturns, &nmsgs);
    body = vt_llm_request_json(p, &ci->conf, msgs, nmsgs, NULL, 1 /* JSON mode */);
    if (!body)
        return "cannot build the request";
    memset(&reply, 0, sizeof reply);
    memset(&res, 0, sizeof res);
    if (vt_llm_chat(jobs->llm_http, p, &ci->conf, body, VTH_LLM_TIMEOUT_MS, &reply, &res)
        != APR_SUCCESS)
        return res.error ? res.error : "the request failed";
    if (!reply.content || !*reply.content)
        return "the model answered without text";
    if (vt_analysis_parse(p, reply.content, a, &err) != APR_SUCCESS)
        return apr_pstrcat(p, "unusable answer: ", err, NULL);
    return NULL;
}

void vth_job_call_analysis(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs,
                           PGconn *conn, vth_job_t *job, vth_outcome_t *out)
{
    const char *sid = job->call_sid, *why = NULL, *params[6], *input = "recording";
    vt_llm_turn_t *turns = NULL;
    vt_analysis_t a;
    call_info_t ci;
    json_object *o;
    PGresult *res;
    int nturns = 0, r;

    if (!sid || !vt_sid_valid(sid, "CA")) {
        out->status = VTH_JOB_FAIL;
        out->error = "the job has no CallSid";
        return;
    }
    r = load_call(p, conn, sid, &ci, out);
    if (r < 0)
        return;
    if (r == 0) { /* deleted since it completed (its company was removed, say) */
        out->status = VTH_JOB_DONE;
        out->note = "the call no longer exists: nothing to analyse";
        return;
    }
    if (!ci.transcript || !transcript_turns(p, ci.transcript, &turns, &nturns)) {
        input = "turns";
        if (load_turns(p, conn, sid, &turns, &nturns, out) < 0)
            return;
    }

    memset(&a, 0, sizeof a);
    if (ci.llm) {
        why = model_analysis(p, cfg, jobs, &ci, turns, nturns, &a);
        if (why)
            vt_log(VT_LOG_WARN, "call %s%s%s: the model's analysis failed: %s; using the "
                   "offline analysis", sid, job->slug ? ", company " : "",
                   job->slug ? job->slug : "", why);
    }
    if (!ci.llm || why)
        vt_analysis_offline(p, turns, nturns, ci.escalated, &a);

    params[0] = sid;
    params[1] = a.summary;
    params[2] = a.sentiment;
    params[3] = vt_analysis_todos_json(p, &a);
    params[4] = a.source;
    params[5] = input;
    res = vth_pq(conn, p, VTH_PQ_COMMAND, "storing the analysis",
                 "UPDATE calls SET summary = $2, sentiment = $3, todos = $4::jsonb,"
                 " analysis_source = $5, analysis_input = $6, analyzed_at = now(),"
                 " updated_at = now() WHERE call_sid = $1",
                 6, params, &out->error);
    if (!res) {
        out->status = VTH_JOB_RETRY;
        return;
    }
    r = strcmp(PQcmdTuples(res), "0") != 0;
    PQclear(res);

    o = json_object_new_object();
    json_object_object_add(o, "source", json_object_new_string(a.source));
    if (strcmp(input, "recording") == 0) /* absent: the turns, as before */
        json_object_object_add(o, "input", json_object_new_string(input));
    if (why)
        json_object_object_add(o, "model_error", json_object_new_string(why));
    out->result = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    out->status = VTH_JOB_DONE;
    out->note = apr_psprintf(p, "%s analysis%s: %s, %d to-do%s%s%s%s", a.source,
                             strcmp(input, "recording") == 0 ? " of the recording's transcript"
                                                             : "",
                             a.sentiment, a.todos->nelts, a.todos->nelts == 1 ? "" : "s",
                             why ? " (the model failed: " : "", why ? why : "", why ? ")" : "");
    if (!r)
        out->note = apr_pstrcat(p, out->note, "; the call was deleted meanwhile", NULL);
}
