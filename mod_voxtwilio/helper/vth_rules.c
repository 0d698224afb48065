/* vth_rules — voxtwilio-helper: the job call_rules, queued by a call's first final status
 * when its tenant has rules (vt_event_status_stmt): which call triggers the call meets,
 * the rules they set off (vt_rules) and what those do (vt_automation), written as the
 * module writes a message's: once per rule and call.
 *
 *   missed_call     no-answer, busy, failed or canceled; or completed without the caller
 *                   ever speaking, within the time the greeting takes to say
 *                   (VTH_GREETING_CHARS_PER_S, plus VTH_GREETING_SLACK_S): the caller hung
 *                   up on the greeting
 *   call_completed  completed, and not missed
 *   call_escalated  the caller asked for a person (whatever the status)
 *
 * The customer is the caller (the callee of an outbound call); a customer row is made for
 * them here, as a message does.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vth.h"
#include "vt_automation.h"
#include "vt_util.h"

#define VTH_GREETING_CHARS_PER_S 15
#define VTH_GREETING_SLACK_S 2

enum {
    CR_STATUS, CR_DURATION, CR_ESCALATED, CR_CALLER_SPOKE, CR_CUSTOMER, CR_OUR_NUMBER,
    CR_GREETING_LEN, CR_NAME, CR_NOTIFY, CR_WEEKDAY, CR_MINUTE, CR_KNOWN, CR_CONSENT,
    CR_RULES, CR_NCOLS
};

/* One round trip: the call, its tenant, the customer made or found, the rules. */
static const char *const call_rules_sql =
    "WITH k AS (SELECT c.*, CASE WHEN c.direction LIKE 'outbound%' THEN c.to_number"
    " ELSE c.from_number END AS customer, CASE WHEN c.direction LIKE 'outbound%'"
    " THEN c.from_number ELSE c.to_number END AS ours FROM calls c WHERE c.call_sid = $1),"
    " cu AS (INSERT INTO customers (company_id, phone, first_seen_sid)"
    " SELECT company_id, customer, call_sid FROM k WHERE customer ~ '^\\+[1-9][0-9]{1,14}$'"
    " ON CONFLICT (company_id, phone) DO UPDATE SET updated_at = now()"
    " RETURNING first_seen_sid)"
    " SELECT k.status, coalesce(k.duration_s, 0), k.escalated,"
    " EXISTS (SELECT 1 FROM call_turns t WHERE t.call_sid = k.call_sid AND t.role = 'caller'),"
    " k.customer, k.ours, length(co.greeting), co.name, co.notification_phone,"
    " CAST(extract(isodow FROM now() AT TIME ZONE co.time_zone) AS integer),"
    " CAST(extract(hour FROM now() AT TIME ZONE co.time_zone) * 60"
    " + extract(minute FROM now() AT TIME ZONE co.time_zone) AS integer),"
    " (SELECT first_seen_sid IS DISTINCT FROM k.call_sid FROM cu),"
    " (SELECT e.granted FROM consent_events e WHERE e.company_id = k.company_id"
    " AND e.phone = k.customer AND e.channel = 'sms' ORDER BY e.id DESC LIMIT 1),"
    " r.document"
    " FROM k JOIN companies co ON co.id = k.company_id"
    " LEFT JOIN rule_sets r ON r.company_id = k.company_id";

static int is_missed(char **row)
{
    const char *st = row[CR_STATUS];
    long duration = atol(row[CR_DURATION]);
    long greeting_s = atol(row[CR_GREETING_LEN]) / VTH_GREETING_CHARS_PER_S
                      + VTH_GREETING_SLACK_S;

    if (strcmp(st, "no-answer") == 0 || strcmp(st, "busy") == 0 || strcmp(st, "failed") == 0
        || strcmp(st, "canceled") == 0)
        return 1;
    return strcmp(st, "completed") == 0 && strcmp(row[CR_CALLER_SPOKE], "f") == 0
           && duration <= greeting_s;
}

/* Runs the rules of one trigger; 0 with *out set when their rows could not be written. */
static int run_trigger(apr_pool_t *p, PGconn *conn, const vth_job_t *job,
                       const vt_rules_t *rules, vt_rule_event_t *re,
                       vt_automation_event_t *ev, int *ran, vth_outcome_t *out)
{
    const vt_rule_t *matched[VT_RULES_MAX];
    vt_automation_t plan;
    const char **args, *err = NULL;
    PGresult *res;
    int n;

    ev->trigger = re->trigger;
    if ((n = vt_rules_match(rules, re, matched, VT_RULES_MAX)) == 0)
        return 1;
    vt_automation_plan(p, matched, n, ev, &plan);
    args = vt_automation_args(p, job->company_id, ev, &plan);
    res = vth_pq(conn, p, VTH_PQ_ROWS, "writing the rule runs",
                 vt_sql_to_libpq(p, vt_automation_stmt.sql), vt_automation_stmt.nargs, args,
                 &err);
    if (!res) {
        out->status = VTH_JOB_RETRY;
        out->error = err;
        return 0;
    }
    *ran += atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 1;
}

static void call_rules_run(apr_pool_t *p, PGconn *conn, const vth_job_t *job, char **row,
                           vth_outcome_t *out)
{
    const char *err = NULL;
    vt_rules_t *rules = vt_rules_parse(p, row[CR_RULES], strlen(row[CR_RULES]), &err);
    vt_rule_event_t re = { 0 };
    vt_automation_event_t ev = { 0 };
    int ran = 0, missed = is_missed(row);

    if (!rules) {
        out->status = VTH_JOB_FAIL;
        out->error = apr_pstrcat(p, "the tenant's rules are not valid: ", err, NULL);
        return;
    }
    re.body = "";
    re.known_customer = strcmp(row[CR_KNOWN], "t") == 0;
    re.weekday = atoi(row[CR_WEEKDAY]);
    re.minute = atoi(row[CR_MINUTE]);
    ev.subject = job->call_sid;
    ev.customer = row[CR_CUSTOMER];
    ev.our_number = vt_e164_valid(row[CR_OUR_NUMBER]) ? row[CR_OUR_NUMBER] : NULL;
    ev.channel = "sms";
    ev.opted_out = strcmp(row[CR_CONSENT], "f") == 0;
    ev.company = row[CR_NAME];
    ev.notification_phone = *row[CR_NOTIFY] ? row[CR_NOTIFY] : NULL;
    re.trigger = missed ? VT_TRIGGER_MISSED_CALL : VT_TRIGGER_CALL_COMPLETED;
    if ((missed || strcmp(row[CR_STATUS], "completed") == 0)
        && !run_trigger(p, conn, job, rules, &re, &ev, &ran, out))
        return;
    re.trigger = VT_TRIGGER_CALL_ESCALATED;
    if (strcmp(row[CR_ESCALATED], "t") == 0
        && !run_trigger(p, conn, job, rules, &re, &ev, &ran, out))
        return;
    out->status = VTH_JOB_DONE;
    out->note = apr_psprintf(p, "%d rules ran on call %s (%s%s)", ran, job->call_sid,
                             row[CR_STATUS], missed ? ", missed" : "");
}

void vth_job_call_rules(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn, vth_job_t *job,
                        vth_outcome_t *out)
{
    const char *params[1] = { job->call_sid }, *err = NULL;
    char *row[CR_NCOLS];
    PGresult *res;
    int c;

    (void)cfg;
    if (!job->call_sid || !job->company_id) {
        out->status = VTH_JOB_FAIL;
        out->error = "the job has no call or no company";
        return;
    }
    res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the call for its rules", call_rules_sql, 1,
                 params, &err);
    if (!res) {
        out->status = VTH_JOB_RETRY;
        out->error = err;
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, CR_RULES) || PQgetisnull(res, 0, CR_KNOWN)) {
        /* No rules any more, or a caller without a number: nothing to run. */
        PQclear(res);
        out->status = VTH_JOB_DONE;
        out->note = apr_pstrcat(p, "no rules to run on call ", job->call_sid, NULL);
        return;
    }
    for (c = 0; c < CR_NCOLS; c++)
        row[c] = apr_pstrdup(p, PQgetvalue(res, 0, c));
    PQclear(res);
    call_rules_run(p, conn, job, row, out);
}
