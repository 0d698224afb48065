/* vta_calls — voxtwilio-admin: the `calls` verb (the call log).
 *
 *   calls list [SLUG] [--since TIME] [--limit N]   newest first
 *   calls place SLUG --to +E164 ...                vta_outbound.c
 *   calls show CALLSID                             the call, its analysis, status history,
 *                                                  transcript (the turns), and the
 *                                                  recording's transcript when one was made
 *
 * TIME is an ISO 8601 date or timestamp (UTC unless it carries an offset) or a relative
 * age: N followed by s, m, h, d or w ("1h", "2d"). Times are printed in UTC.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vta_calls.h"
#include "vt_util.h"

#define VTA_CALLS_DEFAULT_LIMIT "50"
#define VTA_CALLS_MAX_LIMIT 100000L
#define VTA_CALLS_MAX_AGE_S (100LL * 366 * 86400) /* a relative --since beyond is a typo */

#define VTA_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Control characters (which could move the cursor or fake lines) become '?'. */
static const char *printable(apr_pool_t *p, const char *s)
{
    char *r = apr_pstrdup(p, s ? s : ""), *q;

    for (q = r; *q; q++)
        if ((unsigned char)*q < 0x20 || *q == 0x7f)
            *q = '?';
    return r;
}

/* n digits at s. */
static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|(+|-)HH[[:]MM]]: the shapes accepted, so that
 * PostgreSQL's other spellings ("now", "epoch", "yesterday") are not. */
static int iso_shape(const char *s, int *has_zone)
{
    *has_zone = 0;
    if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return 0;
    s += 10;
    if (*s == 'T' || *s == ' ') {
        if (!digits(s + 1, 2) || s[3] != ':' || !digits(s + 4, 2))
            return 0;
        s += 6;
        if (*s == ':') {
            if (!digits(s + 1, 2))
                return 0;
            s += 3;
            if (*s == '.') {
                s++;
                if (!isdigit((unsigned char)*s))
                    return 0;
                while (isdigit((unsigned char)*s))
                    s++;
            }
        }
    }
    if (*s == 'Z') {
        *has_zone = 1;
        s++;
    }
    else if (*s == '+' || *s == '-') {
        if (!digits(s + 1, 2))
            return 0;
        s += 3;
        if (*s == ':')
            s++;
        if (isdigit((unsigned char)*s)) {
            if (!digits(s, 2))
                return 0;
            s += 2;
        }
        *has_zone = 1;
    }
    return *s == '\0';
}

/* "90m" -> 5400 seconds. -1 if s is not a relative age. */
static long long relative_age(const char *s)
{
    char *end;
    long long n, unit;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || end[0] == '\0' || end[1] != '\0')
        return -1;
    switch (end[0]) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    case 'w': unit = 7 * 86400; break;
    default: return -1;
    }
    if (n > VTA_CALLS_MAX_AGE_S / unit)
        return -1;
    return n * unit;
}

static int calls_list(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *since = NULL, *limit = NULL, *company_id = NULL;
    const char *params[5] = { NULL, NULL, NULL, NULL, NULL };
    vta_table_t *t;
    PGresult *res;
    int i, m, has_zone = 0;
    long long age = -1;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--since", &since)) != 0
            || (m = vta_opt(argc, argv, &i, "--limit", &limit)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (argv[i][0] == '-')
            return vta_usage_err("unknown option '%s' for calls list", vta_arg_for_msg(argv[i]));
        else if (slug)
            return vta_usage_err("unexpected argument '%s' for calls list",
                                 vta_arg_for_msg(argv[i]));
        else
            slug = argv[i];
    }
    if (slug && vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (limit) {
        char *end;
        long v;
        errno = 0;
        v = strtol(limit, &end, 10);
        if (errno || end == limit || *end || v < 1 || v > VTA_CALLS_MAX_LIMIT)
            return vta_err("--limit must be a number from 1 to %ld", VTA_CALLS_MAX_LIMIT);
    }
    if (since && (age = relative_age(since)) < 0 && !iso_shape(since, &has_zone))
        return vta_err("--since must be an ISO 8601 time (2024-05-01, 2024-05-01T09:30:00Z) "
                       "or an age such as 30m, 1h, 2d, 1w");
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    if (slug && vta_company_id(c, slug, &company_id) != VTA_OK)
        return VTA_FAIL;
    /* A time without an offset is UTC, like every time this tool prints. */
    if (since && age < 0 && !has_zone
        && vta_exec_ok(c, "SET TIME ZONE 'UTC'", 0, NULL, "cannot set the time zone") != VTA_OK)
        return VTA_FAIL;
    params[0] = company_id;
    params[1] = since && age < 0 ? since : NULL;
    /* apr_psprintf knows no %lld */
    params[2] = age >= 0 ? apr_psprintf(c->pool, "%" APR_INT64_T_FMT, (apr_int64_t)age)
                         : NULL;
    params[3] = limit ? limit : VTA_CALLS_DEFAULT_LIMIT;
    res = vta_q(c,
                "SELECT c.call_sid, co.slug, c.direction, coalesce(c.from_number, '-'),"
                " coalesce(c.to_number, '-'), c.status, " VTA_UTC("c.started_at") ","
                " coalesce(c.duration_s::text, '-'),"
                " CASE WHEN c.escalated THEN 'yes' ELSE 'no' END"
                " FROM calls c JOIN companies co ON co.id = c.company_id"
                " WHERE ($1::bigint IS NULL OR c.company_id = $1::bigint)"
                " AND ($2::timestamptz IS NULL OR c.started_at >= $2::timestamptz)"
                " AND ($3::bigint IS NULL OR c.started_at >= now() - $3::bigint * interval '1 s')"
                " ORDER BY c.started_at DESC, c.id DESC LIMIT $4::int",
                4, params);
    if (!vta_res_ok(res)) {
        /* 22007/22008: a date of the right shape that does not exist (2024-02-30). */
        if (strncmp(vta_sqlstate(res), "2200", 4) == 0) {
            PQclear(res);
            return vta_err("--since is not a valid date or time");
        }
        return vta_db_fail(c, res, "cannot list the calls");
    }
    t = vta_table_make(c->pool, 9, "CALL_SID", "COMPANY", "DIRECTION", "FROM", "TO", "STATUS",
                       "STARTED", "DURATION", "ESCALATED");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
                      PQgetvalue(res, i, 6), PQgetvalue(res, i, 7), PQgetvalue(res, i, 8));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

/* "name        value" lines of calls show. */
static void field(apr_pool_t *p, const char *name, const char *value)
{
    printf("%-12s%s\n", name, printable(p, value));
}

static int show_call(vta_ctx_t *c, const char *sid)
{
    const char *params[1] = { sid };
    PGresult *res = vta_q(c,
                          "SELECT c.call_sid, co.slug, co.name, c.direction,"
                          " coalesce(c.from_number, '-'), coalesce(c.to_number, '-'), c.status,"
                          " " VTA_UTC("c.started_at") ","
                          " coalesce(" VTA_UTC("c.answered_at") ", '-'),"
                          " coalesce(" VTA_UTC("c.ended_at") ", '-'),"
                          " coalesce(c.duration_s::text || ' s', '-'),"
                          " c.escalated, coalesce(c.escalation_status, ''),"
                          " coalesce(c.recording_sid, ''), coalesce(c.recording_url, ''),"
                          " coalesce(c.recording_duration_s::text || ' s', ''),"
                          " coalesce(c.summary, ''), coalesce(c.sentiment, ''),"
                          " c.no_input_count, c.no_match_count,"
                          " coalesce(c.analysis_source, ''),"
                          " coalesce(" VTA_UTC("c.analyzed_at") ", '-'),"
                          " coalesce(c.analysis_input, ''), coalesce(c.answered_by, '')"
                          " FROM calls c JOIN companies co ON co.id = c.company_id"
                          " WHERE c.call_sid = $1",
                          1, params);
    apr_pool_t *p = c->pool;
    const char *v;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the call");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no call with CallSid %s", sid);
    }
    field(p, "call", PQgetvalue(res, 0, 0));
    field(p, "company", apr_psprintf(p, "%s (%s)", PQgetvalue(res, 0, 1),
                                     PQgetvalue(res, 0, 2)));
    field(p, "direction", PQgetvalue(res, 0, 3));
    field(p, "from", PQgetvalue(res, 0, 4));
    field(p, "to", PQgetvalue(res, 0, 5));
    field(p, "status", PQgetvalue(res, 0, 6));
    field(p, "started", PQgetvalue(res, 0, 7));
    field(p, "answered", *PQgetvalue(res, 0, 23)
                             ? apr_pstrcat(p, PQgetvalue(res, 0, 8), " by ",
                                           PQgetvalue(res, 0, 23), NULL)
                             : PQgetvalue(res, 0, 8));
    field(p, "ended", PQgetvalue(res, 0, 9));
    field(p, "duration", PQgetvalue(res, 0, 10));
    v = PQgetvalue(res, 0, 12);
    if (strcmp(PQgetvalue(res, 0, 11), "t") == 0)
        field(p, "escalated", *v ? apr_pstrcat(p, "yes (", v, ")", NULL) : "yes");
    else
        field(p, "escalated", *v ? apr_pstrcat(p, "no (", v, ")", NULL) : "no");
    if (*PQgetvalue(res, 0, 13) || *PQgetvalue(res, 0, 14))
        field(p, "recording", apr_pstrcat(p, PQgetvalue(res, 0, 13),
                                          *PQgetvalue(res, 0, 15) ? " " : "",
                                          PQgetvalue(res, 0, 15), " ",
                                          PQgetvalue(res, 0, 14), NULL));
    else
        field(p, "recording", "none");
    field(p, "misses", apr_psprintf(p, "no input %s, no match %s", PQgetvalue(res, 0, 18),
                                    PQgetvalue(res, 0, 19)));
    if (*PQgetvalue(res, 0, 16))
        field(p, "summary", PQgetvalue(res, 0, 16));
    if (*PQgetvalue(res, 0, 17))
        field(p, "sentiment", PQgetvalue(res, 0, 17));
    if (*PQgetvalue(res, 0, 20))
        field(p, "analysis", apr_pstrcat(p, PQgetvalue(res, 0, 20), " at ",
                                         PQgetvalue(res, 0, 21),
                                         strcmp(PQgetvalue(res, 0, 22), "recording") == 0
                                             ? ", of the recording's transcript" : "",
                                         NULL));
    PQclear(res);
    return VTA_OK;
}

/* The analysis's follow-up to-dos, one per line; nothing for a call not analysed. */
static int show_todos(vta_ctx_t *c, const char *sid)
{
    const char *params[1] = { sid };
    /* One row per to-do; one NULL row when the analysis found none; no row without one. */
    PGresult *res = vta_q(c,
                          "SELECT t.value FROM calls c"
                          " LEFT JOIN LATERAL jsonb_array_elements_text("
                          "  CASE WHEN jsonb_typeof(c.todos) = 'array' THEN c.todos"
                          "  ELSE '[]'::jsonb END) WITH ORDINALITY AS t(value, n) ON true"
                          " WHERE c.call_sid = $1 AND c.analysis_source IS NOT NULL"
                          " ORDER BY t.n",
                          1, params);
    int i;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the call's to-dos");
    if (PQntuples(res) == 1 && PQgetisnull(res, 0, 0))
        puts("\nto-dos: none");
    else if (PQntuples(res) > 0) {
        puts("\nto-dos:");
        for (i = 0; i < PQntuples(res); i++)
            printf("- %s\n", printable(c->pool, PQgetvalue(res, i, 0)));
    }
    PQclear(res);
    return VTA_OK;
}

static int show_events(vta_ctx_t *c, const char *sid)
{
    const char *params[1] = { sid };
    PGresult *res = vta_q(c,
                          "SELECT to_char(received_at AT TIME ZONE 'UTC',"
                          " 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), kind,"
                          " coalesce(call_status, '-'), coalesce(sequence_number::text, '-')"
                          " FROM call_events WHERE call_sid = $1 ORDER BY received_at, id",
                          1, params);
    vta_table_t *t;
    int i;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the call's events");
    if (PQntuples(res) == 0) {
        PQclear(res);
        puts("\nstatus history: none");
        return VTA_OK;
    }
    puts("\nstatus history:");
    t = vta_table_make(c->pool, 4, "RECEIVED", "KIND", "STATUS", "SEQUENCE");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

static int show_turns(vta_ctx_t *c, const char *sid)
{
    const char *params[1] = { sid };
    PGresult *res = vta_q(c,
                          "SELECT role, text, coalesce(to_char(confidence::numeric, 'FM0.00'), ''),"
                          " CASE WHEN interrupted THEN coalesce(heard_ms::text, '?') END,"
                          " CASE WHEN reply_ms IS NOT NULL THEN concat_ws(', ',"
                          "   'transcript ' || transcript_ms || ' ms', 'first token '"
                          "   || first_token_ms || ' ms', 'answer ' || answer_ms"
                          "   || ' ms', 'audio ' || audio_ms || ' ms', 'first frame '"
                          "   || reply_ms || ' ms') END"
                          " FROM call_turns WHERE call_sid = $1 ORDER BY seq",
                          1, params);
    int i;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the call's transcript");
    if (PQntuples(res) == 0) {
        PQclear(res);
        puts("\ntranscript: none");
        return VTA_OK;
    }
    puts("\ntranscript:");
    for (i = 0; i < PQntuples(res); i++) {
        const char *conf = PQgetvalue(res, i, 2);
        printf("%s: %s", PQgetvalue(res, i, 0), printable(c->pool, PQgetvalue(res, i, 1)));
        if (*conf)
            printf(" (confidence %s)", conf);
        if (!PQgetisnull(res, i, 3))
            printf(" (interrupted after %s ms)", PQgetvalue(res, i, 3));
        /* the voice pipeline's stages, from the end of the caller's speech */
        if (!PQgetisnull(res, i, 4))
            printf(" [%s]", PQgetvalue(res, i, 4));
        putchar('\n');
    }
    PQclear(res);
    return VTA_OK;
}

/* The recording's transcript (sql/006), one line per utterance with where it starts:
 *   recording transcript (done at 2026-...Z):
 *   [0:01.2] caller: ...
 * or its status alone ("failed at ...: HTTP 500: ..."); nothing when none was made. */
static int show_recording_transcript(vta_ctx_t *c, const char *sid)
{
    const char *params[1] = { sid };
    PGresult *res = vta_q(c,
                          "SELECT c.transcript_status, coalesce(" VTA_UTC("c.transcribed_at")
                          ", '-'), coalesce(c.transcript_error, ''), l.v->>'speaker',"
                          " to_char(coalesce((l.v->>'start_ms')::bigint, 0) / 60000, 'FM0')"
                          "  || ':' || to_char(coalesce((l.v->>'start_ms')::bigint, 0) % 60000"
                          "  / 1000.0, 'FM00.0'), l.v->>'text'"
                          " FROM calls c LEFT JOIN LATERAL jsonb_array_elements("
                          "  CASE WHEN jsonb_typeof(c.recording_transcript) = 'array'"
                          "  THEN c.recording_transcript ELSE '[]'::jsonb END)"
                          "  WITH ORDINALITY AS l(v, n) ON true"
                          " WHERE c.call_sid = $1 AND c.transcript_status IS NOT NULL"
                          " ORDER BY l.n",
                          1, params);
    apr_pool_t *p = c->pool;
    int i;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the recording's transcript");
    if (PQntuples(res) > 0) {
        const char *err = PQgetvalue(res, 0, 2);
        printf("\nrecording transcript (%s at %s%s%s)%s\n", PQgetvalue(res, 0, 0),
               PQgetvalue(res, 0, 1), *err ? ": " : "", printable(p, err),
               PQgetisnull(res, 0, 3) ? "" : ":");
    }
    for (i = 0; i < PQntuples(res); i++)
        if (!PQgetisnull(res, i, 3))
            printf("[%s] %s: %s\n", PQgetvalue(res, i, 4), printable(p, PQgetvalue(res, i, 3)),
                   printable(p, PQgetvalue(res, i, 5)));
    PQclear(res);
    return VTA_OK;
}

static int calls_show(vta_ctx_t *c, int argc, char **argv)
{
    const char *sid;

    if (argc < 2)
        return vta_usage_err("calls show needs a CallSid");
    if (argc > 2)
        return vta_usage_err("unexpected argument '%s' for calls show",
                             vta_arg_for_msg(argv[2]));
    sid = argv[1];
    if (!vt_sid_valid(sid, "CA"))
        return vta_err("not a CallSid (CA followed by 32 hex digits)");
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    /* One snapshot: the history and the transcript belong to the call row printed. */
    if (vta_exec_ok(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL,
                    "cannot start a transaction") != VTA_OK)
        return VTA_FAIL;
    if (show_call(c, sid) != VTA_OK || show_todos(c, sid) != VTA_OK
        || show_events(c, sid) != VTA_OK || show_turns(c, sid) != VTA_OK
        || show_recording_transcript(c, sid) != VTA_OK)
        return VTA_FAIL;
    return VTA_OK;
}

int vta_cmd_calls(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("calls needs a sub-command: list, show, place");
    if (strcmp(argv[1], "place") == 0)
        return vta_calls_place(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return calls_list(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return calls_show(c, argc - 1, argv + 1);
    return vta_usage_err("unknown calls sub-command '%s'", vta_arg_for_msg(argv[1]));
}
