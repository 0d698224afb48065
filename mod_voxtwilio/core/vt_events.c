/* vt_events — call webhooks as rows; see vt_events.h. */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include <apr_strings.h>
#include <apr_general.h>
#include "vt_events.h"
#include "vt_form.h"
#include "vt_signature.h"
#include "vt_util.h"

static const struct {
    const char *status;
    int rank;
} status_ranks[] = {
    { "queued", 1 },    { "initiated", 1 }, { "ringing", 2 },   { "in-progress", 3 },
    { "answered", 3 },  { "completed", 4 }, { "busy", 4 },      { "no-answer", 4 },
    { "failed", 4 },    { "canceled", 4 },
};

int vt_call_status_rank(const char *status)
{
    apr_size_t i;

    for (i = 0; status && i < sizeof(status_ranks) / sizeof(status_ranks[0]); i++) {
        if (strcmp(status, status_ranks[i].status) == 0) {
            return status_ranks[i].rank;
        }
    }
    return 0;
}

int vt_call_status_is_final(const char *status)
{
    return vt_call_status_rank(status) == 4;
}

const char *vt_params_to_json(apr_pool_t *p, const apr_array_header_t *params)
{
    json_object *obj = json_object_new_object();
    const char *out;
    int i;

    for (i = 0; params && i < params->nelts; i++) {
        const vt_param_t *kv = &APR_ARRAY_IDX(params, i, vt_param_t);
        json_object *prev = NULL, *val = json_object_new_string(kv->value);

        if (!json_object_object_get_ex(obj, kv->name, &prev)) {
            json_object_object_add(obj, kv->name, val);
        }
        else if (json_object_is_type(prev, json_type_array)) {
            json_object_array_add(prev, val);
        }
        else {
            json_object *arr = json_object_new_array();
            json_object_array_add(arr, json_object_get(prev));
            json_object_array_add(arr, val);
            json_object_object_add(obj, kv->name, arr);
        }
    }
    out = apr_pstrdup(p, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
    json_object_put(obj);
    return out;
}

/* The event's identity when Twilio sent no idempotency token. */
static const char *dedup_key(apr_pool_t *p, const char *token, const char *kind,
                             const char *a, const char *b, const char *c)
{
    if (token && *token) {
        return apr_pstrcat(p, "tok:", token, NULL);
    }
    return apr_pstrcat(p, kind, ":", a, ":", b ? b : "", ":", c ? c : "", NULL);
}

/* An optional integer parameter: its digits, or NULL (SQL NULL). */
static const char *int_or_null(const char *v)
{
    const char *s = v;

    if (!s || !*s || strlen(s) > 9) {
        return NULL;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return NULL;
        }
    }
    return v;
}

vt_call_answer_t vt_call_answer(const apr_array_header_t *params)
{
    const char *direction = vt_params_get(params, "Direction");
    const char *by = vt_params_get(params, "AnsweredBy");

    if (!direction || strcmp(direction, "outbound-api") != 0) {
        return VT_ANSWER_CALLER;
    }
    if (by && strncmp(by, "machine_", 8) == 0) {
        return VT_ANSWER_MACHINE;
    }
    return by && strcmp(by, "fax") == 0 ? VT_ANSWER_FAX : VT_ANSWER_CALLEE;
}

static const char *const answer_names[] = { "caller", "callee", "machine", "fax" };

const vt_event_stmt_t vt_event_inbound_stmt = {
    "voxtwilio_event_inbound",
    /* The tenant as the caller read it (a child's cache, or its own lookup): every write
     * below happens only while the company still has that version. */
    "WITH " VT_TENANT_GUARD_SQL("id, greeting, outbound_greeting, voicemail_message, "
                                "time_zone, monthly_minutes_limit, limit_message", "") ", "
    /* Only a caller is turned away at the limit (a callee answers a call placed before
     * it), and a redelivered inbound is answered as the first delivery was. */
    "lim AS (SELECT text, %s = 'caller' AND coalesce((SELECT t.text = lt.text FROM "
    "call_turns t WHERE t.call_sid = %s AND t.seq = 1), " VT_OVER_LIMIT_SQL("ok") ") AS over "
    "FROM ok, LATERAL (SELECT coalesce(limit_message, '" VT_LIMIT_TEXT_DEFAULT "') AS text) "
    "lt), "
    /* What the assistant says first, by who answered (vt_call_answer_t): the job that
     * placed an outbound call may carry its own greeting (sql/012). */
    "sp AS (SELECT CASE WHEN lim.over THEN lim.text "
    "ELSE CASE %s WHEN 'caller' THEN greeting WHEN 'callee' THEN coalesce("
    "(SELECT j.payload->>'greeting' FROM jobs j WHERE j.call_sid = %s AND j.kind = "
    "'call_place' AND j.company_id = ok.id ORDER BY j.id DESC LIMIT 1), outbound_greeting, "
    "greeting) WHEN 'machine' THEN voicemail_message END END AS text FROM ok, lim), "
    "ev AS (INSERT INTO call_events (call_sid, company_id, kind, dedup_key, call_status, "
    "params) SELECT %s, id, 'inbound', %s, %s, CAST(%s AS jsonb) FROM ok "
    "ON CONFLICT (dedup_key) DO NOTHING), "
    /* The first turn in the same round trip (its call row is checked at the statement's
     * end); from the company row, so a replay from the spool writes it too. */
    "gr AS (INSERT INTO call_turns (call_sid, seq, role, text) "
    "SELECT %s, 1, 'assistant', text FROM sp WHERE text IS NOT NULL "
    "ON CONFLICT (call_sid, seq) DO NOTHING), "
    /* The helper made an outbound call's row when Twilio took it: it gets the verdict. */
    "ca AS (INSERT INTO calls (call_sid, company_id, direction, from_number, to_number, "
    "status, status_rank, answered_by) SELECT %s, id, %s, %s, %s, %s, CAST(%s AS smallint), "
    "%s FROM ok ON CONFLICT (call_sid) DO UPDATE SET answered_by = "
    "coalesce(calls.answered_by, EXCLUDED.answered_by) WHERE calls.company_id = "
    "EXCLUDED.company_id AND EXCLUDED.answered_by IS NOT NULL) "
    "SELECT count(*), (SELECT text FROM sp), (SELECT over FROM lim) FROM ok",
    18
};

const char **vt_event_inbound_args(apr_pool_t *p, const apr_array_header_t *params,
                                   const char *company_id, const char *version,
                                   const char *idempotency_token, const char **err)
{
    const char *sid = vt_params_get(params, "CallSid");
    const char *status = vt_params_get(params, "CallStatus");
    const char *direction = vt_params_get(params, "Direction");
    const char *by = vt_params_get(params, "AnsweredBy");
    const char **a;

    if (!vt_sid_valid(sid, "CA")) {
        *err = "webhook without a valid CallSid";
        return NULL;
    }
    if (!status || !*status) {
        status = "ringing";
    }
    if (!version) {
        *err = VT_TENANT_VERSION_UNKNOWN;
        return NULL;
    }
    a = apr_pcalloc(p, sizeof(*a) * vt_event_inbound_stmt.nargs);
    a[0] = company_id;
    a[1] = version;
    a[2] = answer_names[vt_call_answer(params)];
    a[3] = sid;
    a[4] = a[2];
    a[5] = sid;
    a[6] = sid;
    a[7] = dedup_key(p, idempotency_token, "inbound", sid, NULL, NULL);
    a[8] = status;
    a[9] = vt_params_to_json(p, params);
    a[10] = sid;
    a[11] = sid;
    a[12] = direction ? direction : "inbound";
    a[13] = vt_params_get(params, "From");
    a[14] = vt_params_get(params, "To");
    a[15] = status;
    a[16] = apr_itoa(p, vt_call_status_rank(status));
    a[17] = by && *by && strlen(by) <= 40 ? by : NULL;
    return a;
}

/* The guard of a callback's writes (status, a turn), the arguments company, version,
 * CallSid, company: one row while the company still has the version the tenant was read
 * with (sql/009) and the call is not another company's (a cached row is found by the call's
 * number, the database's lookup by the call's row). */
#define VT_CALL_GUARD_SQL                                                                   \
    VT_TENANT_GUARD_SQL("id", " AND NOT EXISTS (SELECT 1 FROM calls WHERE call_sid = %s "   \
                        "AND company_id <> CAST(%s AS bigint))")
#define VT_CALL_GUARD_NARGS 4

static void call_guard_args(const char **a, const char *company_id, const char *version,
                            const char *sid)
{
    a[0] = company_id;
    a[1] = version;
    a[2] = sid;
    a[3] = company_id;
}

const vt_event_stmt_t vt_event_status_stmt = {
    "voxtwilio_event_status",
    "WITH " VT_CALL_GUARD_SQL ", "
    "ev AS (INSERT INTO call_events (call_sid, company_id, kind, dedup_key, call_status, "
    "sequence_number, params) SELECT %s, id, 'status', %s, %s, CAST(%s AS integer), "
    "CAST(%s AS jsonb) FROM ok ON CONFLICT (dedup_key) DO NOTHING RETURNING company_id), "
    "ca AS (INSERT INTO calls AS c (call_sid, company_id, direction, from_number, to_number, "
    "status, status_rank, duration_s, answered_at, ended_at) "
    "SELECT %s, ev.company_id, %s, %s, %s, %s, CAST(%s AS smallint), CAST(%s AS integer), "
    "CASE WHEN CAST(%s AS smallint) = 3 THEN now() END, "
    "CASE WHEN CAST(%s AS smallint) = 4 THEN now() END FROM ev "
    "ON CONFLICT (call_sid) DO UPDATE SET status = EXCLUDED.status, "
    "status_rank = EXCLUDED.status_rank, duration_s = coalesce(EXCLUDED.duration_s, c.duration_s), "
    "answered_at = coalesce(c.answered_at, EXCLUDED.answered_at), "
    "ended_at = coalesce(c.ended_at, EXCLUDED.ended_at), updated_at = now() "
    "WHERE c.status_rank < EXCLUDED.status_rank), "
    /* A call that ended, of a tenant with rules: the helper runs its call triggers (once:
     * the first final status queues it). */
    "rj AS (INSERT INTO jobs (kind, company_id, call_sid, dedup_key) "
    "SELECT 'call_rules', ev.company_id, %s, %s FROM ev WHERE CAST(%s AS smallint) = 4 "
    "AND EXISTS (SELECT 1 FROM rule_sets r WHERE r.company_id = ev.company_id) "
    "ON CONFLICT (dedup_key) DO NOTHING) "
    "SELECT count(*) FROM ok",
    VT_CALL_GUARD_NARGS + 17
};

const char **vt_event_status_args(apr_pool_t *p, const apr_array_header_t *params,
                                  const char *company_id, const char *version,
                                  const char *idempotency_token, const char **err)
{
    const char *sid = vt_params_get(params, "CallSid");
    const char *status = vt_params_get(params, "CallStatus");
    const char *seq = int_or_null(vt_params_get(params, "SequenceNumber"));
    const char *direction = vt_params_get(params, "Direction");
    const char *rank, **a, **e;

    if (!vt_sid_valid(sid, "CA") || !status || !*status) {
        *err = "status callback without a valid CallSid and CallStatus";
        return NULL;
    }
    if (!version) {
        *err = VT_TENANT_VERSION_UNKNOWN;
        return NULL;
    }
    rank = apr_itoa(p, vt_call_status_rank(status));
    a = apr_pcalloc(p, sizeof(*a) * vt_event_status_stmt.nargs);
    call_guard_args(a, company_id, version, sid);
    e = a + VT_CALL_GUARD_NARGS;
    e[0] = sid;
    e[1] = dedup_key(p, idempotency_token, "status", sid, seq, status);
    e[2] = status;
    e[3] = seq;
    e[4] = vt_params_to_json(p, params);
    e[5] = sid;
    e[6] = direction ? direction : "inbound";
    e[7] = vt_params_get(params, "From");
    e[8] = vt_params_get(params, "To");
    e[9] = status;
    e[10] = rank;
    e[11] = int_or_null(vt_params_get(params, "CallDuration"));
    e[12] = rank;
    e[13] = rank;
    e[14] = sid;
    e[15] = apr_pstrcat(p, "call_rules:", sid, NULL);
    e[16] = rank;
    return a;
}

const vt_event_stmt_t vt_event_recording_stmt = {
    "voxtwilio_event_recording",
    "WITH ev AS (INSERT INTO call_events (call_sid, company_id, kind, dedup_key, call_status, "
    "params) VALUES (%s, CAST(%s AS bigint), 'recording', %s, %s, CAST(%s AS jsonb)) "
    "ON CONFLICT (dedup_key) DO NOTHING RETURNING call_status), "
    "upd AS (UPDATE calls SET recording_sid = %s, recording_url = %s, "
    "recording_duration_s = CAST(%s AS integer), updated_at = now() WHERE call_sid = %s "
    "AND EXISTS (SELECT 1 FROM ev WHERE call_status = 'completed')) "
    "INSERT INTO jobs (kind, company_id, call_sid, payload, dedup_key) "
    "SELECT 'recording_download', CAST(%s AS bigint), %s, CAST(%s AS jsonb), %s FROM ev "
    "WHERE ev.call_status = 'completed' ON CONFLICT (dedup_key) DO NOTHING",
    13
};

const char **vt_event_recording_args(apr_pool_t *p, const apr_array_header_t *params,
                                     const char *company_id, const char *version,
                                     const char *idempotency_token, const char **err)
{
    const char *sid = vt_params_get(params, "CallSid");
    const char *rec = vt_params_get(params, "RecordingSid");
    const char *url = vt_params_get(params, "RecordingUrl");
    const char *status = vt_params_get(params, "RecordingStatus");
    const char **a;
    json_object *payload;

    (void)version; /* not checked by this statement */

    if (!status) {
        status = "completed"; /* <Record action> requests carry no RecordingStatus */
    }
    if (!vt_sid_valid(sid, "CA") || !vt_sid_valid(rec, "RE") || !url
        || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)) {
        *err = "recording callback without a valid CallSid, RecordingSid and RecordingUrl";
        return NULL;
    }
    payload = json_object_new_object();
    json_object_object_add(payload, "recording_sid", json_object_new_string(rec));
    json_object_object_add(payload, "url", json_object_new_string(url));
    a = apr_pcalloc(p, sizeof(*a) * vt_event_recording_stmt.nargs);
    a[0] = sid;
    a[1] = company_id;
    a[2] = dedup_key(p, idempotency_token, "recording", sid, rec, status);
    a[3] = status;
    a[4] = vt_params_to_json(p, params);
    a[5] = rec;
    a[6] = url;
    a[7] = int_or_null(vt_params_get(params, "RecordingDuration"));
    a[8] = sid;
    a[9] = company_id;
    a[10] = sid;
    a[11] = apr_pstrdup(p, json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
    a[12] = apr_pstrcat(p, "recording_download:", rec, NULL);
    json_object_put(payload);
    return a;
}

const vt_event_stmt_t vt_event_speech_stmt = {
    "voxtwilio_event_speech",
    "INSERT INTO call_events (call_sid, company_id, kind, dedup_key, params) "
    "VALUES (%s, CAST(%s AS bigint), 'speech', %s, CAST(%s AS jsonb)) "
    "ON CONFLICT (dedup_key) DO NOTHING",
    4
};

const char **vt_event_speech_args(apr_pool_t *p, const apr_array_header_t *params,
                                  const char *company_id, const char *version,
                                  const char *idempotency_token, const char **err)
{
    const char *sid = vt_params_get(params, "CallSid");
    const char *json, **a;

    (void)version; /* not checked by this statement */

    if (!vt_sid_valid(sid, "CA")) {
        *err = "Gather result without a valid CallSid";
        return NULL;
    }
    json = vt_params_to_json(p, params);
    a = apr_pcalloc(p, sizeof(*a) * vt_event_speech_stmt.nargs);
    a[0] = sid;
    a[1] = company_id;
    /* Without a token the delivery is identified by its content. */
    a[2] = dedup_key(p, idempotency_token, "speech", sid, vt_sha256_hex(p, json, strlen(json)),
                     NULL);
    a[3] = json;
    return a;
}

const vt_event_stmt_t vt_event_turn_stmt = {
    "voxtwilio_event_turn",
    "WITH " VT_CALL_GUARD_SQL ", "
    "c AS (INSERT INTO calls (call_sid, company_id, direction, from_number, to_number, "
    "status, status_rank) SELECT %s, id, 'inbound', %s, %s, 'in-progress', 3 FROM ok "
    "ON CONFLICT (call_sid) DO NOTHING), "
    "t AS (INSERT INTO call_turns (call_sid, seq, role, text, confidence) "
    "SELECT v.call_sid, v.seq, v.role, v.text, v.confidence FROM (VALUES "
    "(%s, CAST(%s AS integer), 'caller', %s, CAST(%s AS real)), "
    "(%s, CAST(%s AS integer), 'assistant', %s, CAST(NULL AS real))) "
    "AS v (call_sid, seq, role, text, confidence) "
    "WHERE v.text IS NOT NULL AND EXISTS (SELECT 1 FROM ok) "
    "ON CONFLICT (call_sid, seq) DO NOTHING) "
    "SELECT count(*) FROM ok",
    VT_CALL_GUARD_NARGS + 10
};

const vt_event_stmt_t vt_call_history_stmt = {
    "voxtwilio_call_history",
    "SELECT role, text FROM (SELECT seq, role, text FROM call_turns WHERE call_sid = %s "
    "ORDER BY seq DESC LIMIT " APR_STRINGIFY(VT_HISTORY_TURNS_MAX) ") h ORDER BY seq",
    1
};

const vt_event_stmt_t vt_stream_claim_stmt = {
    "voxtwilio_stream_claim",
    "UPDATE calls k SET stream_sid = %s, stream_backend = %s, stream_started_at = now(), "
    "updated_at = now() WHERE k.call_sid = %s AND k.company_id = CAST(%s AS bigint) "
    "AND k.stream_sid IS NULL AND k.status_rank < 4 "
    "RETURNING (SELECT coalesce(max(seq), 1) FROM call_turns t WHERE t.call_sid = k.call_sid), "
    "(SELECT text FROM call_turns t WHERE t.call_sid = k.call_sid AND t.seq = 1)",
    4
};

const vt_event_stmt_t vt_stream_turn_stmt = {
    "voxtwilio_stream_turn",
    "INSERT INTO call_turns (call_sid, seq, role, text, interrupted, heard_ms, "
    "transcript_ms, answer_ms, audio_ms, reply_ms, first_token_ms, confidence) "
    "VALUES (%s, CAST(%s AS integer), %s, %s, CAST(%s AS boolean), CAST(%s AS integer), "
    "CAST(%s AS integer), CAST(%s AS integer), CAST(%s AS integer), CAST(%s AS integer), "
    "CAST(%s AS integer), CAST(%s AS real)) "
    "ON CONFLICT (call_sid, seq) DO NOTHING",
    12
};

const vt_event_stmt_t vt_stream_end_stmt = {
    "voxtwilio_stream_end",
    "UPDATE calls SET stream_outcome = %s, stream_ended_at = now(), "
    "barge_ins = CAST(%s AS integer), updated_at = now() WHERE call_sid = %s",
    3
};

const vt_event_stmt_t vt_call_stream_stmt = {
    "voxtwilio_call_stream",
    "SELECT k.stream_outcome, (SELECT coalesce(max(seq), 1) FROM call_turns t "
    "WHERE t.call_sid = k.call_sid) FROM calls k WHERE k.call_sid = %s",
    1
};

const char **vt_event_turn_args(apr_pool_t *p, const apr_array_header_t *params,
                                const char *company_id, const char *version, int turn,
                                const char *caller_text, const char *confidence,
                                const char *reply)
{
    const char *sid = vt_params_get(params, "CallSid");
    const char **a = apr_pcalloc(p, sizeof(*a) * vt_event_turn_stmt.nargs);
    const char **e = a + VT_CALL_GUARD_NARGS;

    call_guard_args(a, company_id, version, sid);
    e[0] = sid;
    e[1] = vt_params_get(params, "From");
    e[2] = vt_params_get(params, "To");
    e[3] = sid;
    e[4] = apr_itoa(p, 2 * turn);
    e[5] = caller_text;
    e[6] = caller_text ? confidence : NULL;
    e[7] = sid;
    e[8] = apr_itoa(p, 2 * turn + 1);
    e[9] = reply;
    return a;
}

const vt_event_stmt_t vt_event_sms_job_stmt = {
    "voxtwilio_event_sms_job",
    "INSERT INTO jobs (kind, company_id, call_sid, payload, dedup_key) "
    "VALUES ('sms_alert', CAST(%s AS bigint), %s, CAST(%s AS jsonb), %s) "
    "ON CONFLICT (dedup_key) DO NOTHING",
    4
};

const char **vt_event_sms_job_args(apr_pool_t *p, const char *company_id, const char *call_sid,
                                   const char *to, const char *body, const char *dedup)
{
    const char **a = apr_pcalloc(p, sizeof(*a) * vt_event_sms_job_stmt.nargs);
    json_object *payload = json_object_new_object();

    json_object_object_add(payload, "to", json_object_new_string(to));
    json_object_object_add(payload, "body", json_object_new_string(body));
    a[0] = company_id;
    a[1] = call_sid;
    a[2] = apr_pstrdup(p, json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN));
    a[3] = dedup;
    json_object_put(payload);
    return a;
}

const vt_event_stmt_t vt_event_escalation_stmt = {
    "voxtwilio_event_escalation",
    "UPDATE calls SET escalated = true, escalation_status = %s, updated_at = now() "
    "WHERE call_sid = %s",
    2
};

char *vt_sql_to_libpq(apr_pool_t *p, const char *sql)
{
    /* Each "%s" (2 chars) becomes "$N" (at most 4 chars for N < 1000). */
    char *out = apr_palloc(p, strlen(sql) * 2 + 1), *o = out;
    int n = 0;

    while (*sql) {
        if (sql[0] == '%' && sql[1] == 's') {
            o += sprintf(o, "$%d", ++n);
            sql += 2;
        }
        else if (sql[0] == '%' && sql[1] == '%') {
            *o++ = '%';
            sql += 2;
        }
        else {
            *o++ = *sql++;
        }
    }
    *o = '\0';
    return out;
}
