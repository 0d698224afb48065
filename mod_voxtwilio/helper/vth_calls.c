/* vth_calls — voxtwilio-helper: outbound calls.
 *
 *   call_place  {"to": "+E164", "greeting": "..." (optional), "machine_detection": bool
 *               (optional, default false), "from": "+E164" (optional)}: Calls.json from the
 *               tenant's number, Url its inbound route and every status event to its
 *               status-callback route, both under companies.webhook_url (sql/012); never to
 *               a number whose last word in the consent ledger for voice is a refusal. The
 *               call's sid goes on the job (jobs.call_sid: the inbound statement finds the
 *               job's greeting by it when the callee answers) and a row in calls, direction
 *               outbound-api, status queued. Not while the tenant is past its monthly
 *               minutes limit (the job fails saying so).
 *
 * Placed once however the helper is interrupted, as messages are sent once: the job is
 * marked before the POST and an attempt after the mark asks Twilio (Calls.json?To&From)
 * whether the call exists before placing it (docs/helper.md).
 */
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vth.h"
#include "vt_events.h"
#include "vt_log.h"
#include "vt_rest.h"
#include "vt_util.h"

/* The sid on the job and the call in the call log. A failure loses only the row (and the
 * job's greeting, for a callee who answers before a retry): logged, not retried, since the
 * call exists. */
static void record_call(apr_pool_t *p, PGconn *conn, const vth_job_t *job, const char *sid,
                        const char *from, const char *to)
{
    const char *params[5] = { job->id, sid, job->company_id, from, to }, *err = NULL;
    PGresult *res = vth_pq(conn, p, VTH_PQ_COMMAND, "recording the outbound call",
                           "WITH j AS (UPDATE jobs SET call_sid = $2 WHERE id = $1::bigint) "
                           "INSERT INTO calls (call_sid, company_id, direction, from_number,"
                           " to_number, status, status_rank) SELECT $2, $3::bigint,"
                           " 'outbound-api', $4, $5, 'queued', 1"
                           " WHERE $2 ~ '^CA[0-9a-fA-F]{32}$'"
                           " ON CONFLICT (call_sid) DO NOTHING",
                           5, params, &err);

    if (res)
        PQclear(res);
    else
        vt_log(VT_LOG_WARN, "job %s: call %s placed but not recorded: %s", job->id, sid, err);
}

/* An earlier attempt may have placed it: 1 when Twilio has it (*sid set), 0 when not, -1
 * when that cannot be told now (*out set: retry; never dial blind). */
static int already_placed(apr_pool_t *p, const vth_config_t *cfg, const vth_integration_t *in,
                          json_object *payload, const char *to, const char *from,
                          const char **sid, vth_outcome_t *out)
{
    apr_time_t since = vth_job_started_since(payload);
    vt_rest_result_t r;
    apr_status_t rv;

    *sid = NULL;
    if (!since)
        return 0;
    rv = vt_rest_call_find(p, cfg->api_base, in->account_sid, in->auth_token, to, from, since,
                           VTH_REST_TIMEOUT_MS, &r);
    return vth_job_found_earlier(p, rv, &r, "placed", sid, out);
}

/* 1 when the tenant may place a call now: not past its monthly minutes limit (sql/012);
 * 0 with *out. */
static int within_limit(apr_pool_t *p, PGconn *conn, const vth_job_t *job, vth_outcome_t *out)
{
    const char *err = NULL;
    PGresult *res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the minutes limit",
                           "SELECT " VT_OVER_LIMIT_SQL("c") ", c.monthly_minutes_limit"
                           " FROM companies c WHERE c.id = $1::bigint",
                           1, &job->company_id, &err);
    int over;

    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return 0;
    }
    over = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    if (over)
        vth_job_outcome(out, VTH_JOB_FAIL,
                        apr_psprintf(p, "the company is past its monthly limit of %s "
                                        "minutes: not called", PQgetvalue(res, 0, 1)));
    PQclear(res);
    return !over;
}

/* The payload's checks that need no database: 1, or 0 with *out. */
static int check_payload(json_object *payload, const char *to, const char *from,
                         vth_outcome_t *out)
{
    json_object *v;

    if (!to || !vt_e164_valid(to) || (from && !vt_e164_valid(from))) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"to\" or \"from\" is not an E.164 number");
        return 0;
    }
    if (json_object_object_get_ex(payload, "greeting", &v)
        && !json_object_is_type(v, json_type_string)) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"greeting\" is not a string");
        return 0;
    }
    if (json_object_object_get_ex(payload, "machine_detection", &v)
        && !json_object_is_type(v, json_type_boolean)) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"machine_detection\" is not true or false");
        return 0;
    }
    return 1;
}

static int machine_detection(json_object *payload)
{
    json_object *v;

    return json_object_object_get_ex(payload, "machine_detection", &v)
           && json_object_get_boolean(v);
}

/* Dials: the call's sid in *sid, or 0 with *out. */
static int dial(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn, vth_job_t *job,
                json_object *payload, const vth_integration_t *in, const char *to,
                const char *from, const char **sid, vth_outcome_t *out)
{
    vt_rest_call_t call;
    vt_rest_result_t r;
    apr_status_t rv;

    if (!vth_job_mark_started(p, conn, job, out))
        return 0;
    memset(&call, 0, sizeof call);
    call.to = to;
    call.from = from;
    call.url = apr_pstrcat(p, in->webhook_url, "/inbound", NULL);
    call.status_callback = apr_pstrcat(p, in->webhook_url, "/status-callback", NULL);
    /* DetectMessageEnd: the verdict on a machine comes after its beep, so a voicemail
     * message is left whole; a person is told apart as fast as with Enable. */
    call.machine_detection = machine_detection(payload) ? "DetectMessageEnd" : NULL;
    rv = vt_rest_call_create(p, cfg->api_base, in->account_sid, in->auth_token, &call,
                             VTH_REST_TIMEOUT_MS, &r);
    if (rv != APR_SUCCESS || r.http_status < 200 || r.http_status > 299) {
        vth_job_rest_failure(p, &r, out);
        return 0;
    }
    *sid = r.message;
    return 1;
}

void vth_job_call_place(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn, vth_job_t *job,
                        json_object *payload, vth_outcome_t *out)
{
    const char *to = vth_payload_str(payload, "to"), *from = vth_payload_str(payload, "from");
    const char *refusal = NULL, *sid = NULL;
    vth_integration_t in;
    json_object *o;
    int placed;

    if (!check_payload(payload, to, from, out))
        return;
    if (!job->company_id) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the job has no company");
        return;
    }
    if (!vth_job_consent_refusal(p, conn, job, to, "voice", &refusal, out))
        return;
    if (refusal) {
        vth_job_outcome(out, VTH_JOB_FAIL, apr_pstrcat(p, refusal, ": not called", NULL));
        return;
    }
    if (!vth_job_integration(p, cfg, conn, job, &in, out))
        return;
    if (!vth_job_started_since(payload) && !within_limit(p, conn, job, out))
        return; /* (a call that may have been placed is looked for first, whatever) */
    if (!in.webhook_url) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the company has no webhook URL, so Twilio could "
                        "not ask what to say (voxtwilio-admin company set SLUG --webhook-url "
                        "URL)");
        return;
    }
    if (!from)
        from = in.from;
    if (!from || !vt_e164_valid(from)) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the integration has no E.164 number to call from");
        return;
    }
    if ((placed = already_placed(p, cfg, &in, payload, to, from, &sid, out)) < 0)
        return;
    if (!placed && !dial(p, cfg, conn, job, payload, &in, to, from, &sid, out))
        return;
    record_call(p, conn, job, sid, from, to);
    o = json_object_new_object();
    json_object_object_add(o, "call_sid", json_object_new_string(sid));
    out->status = VTH_JOB_DONE;
    out->result = vth_job_result(p, o);
    out->note = placed ? apr_psprintf(p, "call %s to %s was placed by an earlier attempt: "
                                         "not placed again", sid, to)
                       : apr_psprintf(p, "call %s to %s", sid, to);
}
