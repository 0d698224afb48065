/* vt_events — how a call webhook becomes rows, written once for every writer: the module
 * (mod_dbd, live) and the helper (libpq, replaying events spooled during a database
 * outage). Each kind has one SQL statement (apr_dbd placeholders: %s; the helper maps them
 * to $1..$n with vt_sql_to_libpq) and an argument builder over the webhook's parameters.
 *
 * Status callbacks are stored once per delivery (dedup key: I-Twilio-Idempotency-Token, else
 * CallSid:SequenceNumber:CallStatus) and move the call row forward only: a status of lower
 * rank than the stored one (a late `ringing` after `completed`) changes nothing.
 */
#ifndef VT_EVENTS_H
#define VT_EVENTS_H

#include <apr_pools.h>
#include <apr_tables.h>

/* queued/initiated 1, ringing 2, in-progress/answered 3, final statuses 4; unknown 0. */
int vt_call_status_rank(const char *status);
/* 1 for completed, busy, no-answer, failed, canceled. */
int vt_call_status_is_final(const char *status);

/* The webhook's parameters as a JSON object (repeated names become arrays). */
const char *vt_params_to_json(apr_pool_t *p, const apr_array_header_t *params);

/* An argument builder: the statement's arguments, or NULL with *err. version: the
 * tenant's tenant_version as the caller knows it (the statements that check it say so). */
typedef const char **vt_event_args_fn(apr_pool_t *p, const apr_array_header_t *params,
                                      const char *company_id, const char *version,
                                      const char *idempotency_token, const char **err);

/* The CTE `ok` every cached route's statement starts with: the company's row (COLUMNS)
 * while it still has the tenant version the caller read (sql/009), and EXTRA holds; its
 * first two arguments are the company's id and that version. */
#define VT_TENANT_GUARD_SQL(columns, extra)                                                 \
    "ok AS (SELECT " columns " FROM companies WHERE id = CAST(%s AS bigint) "              \
    "AND tenant_version = CAST(%s AS bigint)" extra ")"
/* The error of an argument builder called without that version. */
#define VT_TENANT_VERSION_UNKNOWN "the tenant's version is unknown (is the schema migrated?)"

/* The minutes of calls company row C (an alias with id and time_zone) had in this calendar
 * month of its zone, rounded up per call as Twilio bills them: what monthly_minutes_limit
 * (sql/012) is checked against, by the module, the helper and voxtwilio-admin usage. */
#define VT_MONTH_MINUTES_SQL(c)                                                             \
    "(SELECT coalesce(sum((k.duration_s + 59) / 60), 0) FROM calls k WHERE k.company_id = " \
    c ".id AND k.duration_s > 0 AND k.started_at >= (date_trunc('month', now() AT TIME "    \
    "ZONE " c ".time_zone) AT TIME ZONE " c ".time_zone))"
/* Whether company row C is at or past its monthly minutes limit (false without one). */
#define VT_OVER_LIMIT_SQL(c)                                                                \
    "(CASE WHEN " c ".monthly_minutes_limit IS NULL THEN false ELSE "                       \
    VT_MONTH_MINUTES_SQL(c) " >= " c ".monthly_minutes_limit END)"
/* What a caller over the limit hears when the tenant set no limit_message. */
#define VT_LIMIT_TEXT_DEFAULT                                                               \
    "We are sorry, we cannot take your call right now. Please try again later. Goodbye."

typedef struct vt_event_stmt {
    const char *label; /* a SQL identifier: mod_dbd prepares it under this name */
    const char *sql;
    int nargs;
} vt_event_stmt_t;

/* A call's dialogue for its model, oldest first: role ("caller"/"assistant"), text. Only
 * the last VT_HISTORY_TURNS_MAX turns: enough context for a phone call, a bounded prompt. */
#define VT_HISTORY_TURNS_MAX 40
extern const vt_event_stmt_t vt_call_history_stmt;

/* How a call's stream ended (stream_outcome: transfer, hangup, failed; NULL when it did not
 * say) and the seq of its last turn (1 when none), for the <Connect action> route. */
extern const vt_event_stmt_t vt_call_stream_stmt;

/* Stream mode (voxtwilio-helper). Claim: the call's one stream, only for a call of that
 * company that has not ended and has no stream yet (%s: stream_sid, backend, call_sid,
 * company_id); returns the seq of the call's last turn and the text of its first (what
 * inbound said to say first), no row when refused. Turn: one
 * turn at a seq (%s: call_sid, seq, role, text, interrupted "t"/"f", heard_ms, then the
 * pipeline's stages transcript_ms, answer_ms, audio_ms, reply_ms, first_token_ms; each NULL
 * when none).
 * End: how the stream ended (%s: outcome or NULL, barge-ins, call_sid). */
extern const vt_event_stmt_t vt_stream_claim_stmt;
extern const vt_event_stmt_t vt_stream_turn_stmt;
extern const vt_event_stmt_t vt_stream_end_stmt;

/* Who picked up, from the inbound webhook's Direction and AnsweredBy: someone calling the
 * tenant (any direction but outbound-api), the person an outbound call reached (AnsweredBy
 * human, unknown or absent: better a greeting than silence), their answering machine
 * (machine_*), a fax. */
typedef enum {
    VT_ANSWER_CALLER = 0,
    VT_ANSWER_CALLEE,
    VT_ANSWER_MACHINE,
    VT_ANSWER_FAX
} vt_call_answer_t;
vt_call_answer_t vt_call_answer(const apr_array_header_t *params);

/* "A call comes in" (or an outbound call was answered): the event (deduplicated), the call
 * row (with AnsweredBy) and what the assistant says first as the call's first turn (seq 1),
 * once per CallSid, in one statement, and only while the company still has the
 * tenant_version given (sql/009). What is said first: the greeting to a caller; to a
 * callee, the greeting of the call_place job that placed the call, else the tenant's
 * outbound greeting, else its greeting; to a machine the voicemail message; to a fax
 * nothing (sql/012). A caller of a tenant past its monthly minutes limit hears its limit
 * message instead (and is hung up on: third column "t"). Returns one row: "1" written (or
 * already there) or "0" nothing written (the tenant changed since it was read: look it up
 * again and repeat), then that text (NULL: nothing to say), then "t" when over the limit. */
extern const vt_event_stmt_t vt_event_inbound_stmt;
vt_event_args_fn vt_event_inbound_args;

/* INSERT the event (deduplicated) and, only when it was new, upsert the call row
 * monotonically; only while the company has the version given and the call is not another
 * company's. Returns "1" written (or already there), "0" nothing written (look the tenant up
 * again and repeat). */
extern const vt_event_stmt_t vt_event_status_stmt;
/* NULL (with *err) when CallSid, CallStatus or the version is missing. */
vt_event_args_fn vt_event_status_args;

/* Recording status callback: INSERT the event (deduplicated); when new, store the
 * recording on the call and queue its download job (completed recordings only). */
extern const vt_event_stmt_t vt_event_recording_stmt;
vt_event_args_fn vt_event_recording_args;

/* A Gather result that met a database outage: kept as a `speech` event (the caller was asked
 * to repeat, so it is a record, not a turn). Replayed from the spool by the helper. */
extern const vt_event_stmt_t vt_event_speech_stmt;
vt_event_args_fn vt_event_speech_args;

/* One conversation turn: the caller's words (NULL for none: only the assistant's row) at
 * seq 2*turn and the assistant's reply at 2*turn+1, once per (CallSid, seq) so a repeated
 * Gather delivery adds nothing. Creates the call row if it is missing. (Turn 0, the
 * greeting, is written by the inbound statement.) Guarded and answered as the status
 * statement: "0" when the tenant changed since it was read. */
extern const vt_event_stmt_t vt_event_turn_stmt;
const char **vt_event_turn_args(apr_pool_t *p, const apr_array_header_t *params,
                                const char *company_id, const char *version, int turn,
                                const char *caller_text, const char *confidence,
                                const char *reply);

/* Queue an SMS through the helper (job sms_alert {to, body}), once per dedup key. */
extern const vt_event_stmt_t vt_event_sms_job_stmt;
const char **vt_event_sms_job_args(apr_pool_t *p, const char *company_id, const char *call_sid,
                                   const char *to, const char *body, const char *dedup_key);

/* Mark a call escalated with a status (dialing, completed, busy, no-answer, ...). */
extern const vt_event_stmt_t vt_event_escalation_stmt;

/* "... %s ... %s" -> "... $1 ... $2" (and "%%" -> "%"), for libpq. */
char *vt_sql_to_libpq(apr_pool_t *p, const char *sql);

#endif
