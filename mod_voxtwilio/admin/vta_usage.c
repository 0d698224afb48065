/* vta_usage — voxtwilio-admin: `usage SLUG [--month YYYY-MM]`, per day of the tenant's time
 * zone: calls and minutes (each call rounded up to the minute, as Twilio bills), messages
 * in and out and their segments. Computed from the call log and the inbox, so it always
 * equals the sum of what they hold.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vt_events.h"

/* "YYYY-MM" with a month 01..12. */
static int month_valid(const char *m)
{
    int i;

    for (i = 0; i < 7; i++)
        if (i == 4 ? m[i] != '-' : (m[i] < '0' || m[i] > '9'))
            return 0;
    return m[7] == '\0' && ((m[5] == '0' && m[6] >= '1') || (m[5] == '1' && m[6] <= '2'));
}

/* The tenant's monthly minutes limit and this month's minutes, counted as the gateway
 * counts them when it turns callers away (VT_MONTH_MINUTES_SQL). */
static int print_limit(vta_ctx_t *c, const char *id)
{
    PGresult *res = vta_q(c, "SELECT co.monthly_minutes_limit, " VT_MONTH_MINUTES_SQL("co")
                             " FROM companies co WHERE co.id = $1::bigint", 1, &id);

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the minutes limit");
    if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
        printf("monthly limit: %s minutes, %s used this month%s\n", PQgetvalue(res, 0, 0),
               PQgetvalue(res, 0, 1),
               atol(PQgetvalue(res, 0, 1)) >= atol(PQgetvalue(res, 0, 0))
                   ? " (reached: new callers hear the limit message)" : "");
    PQclear(res);
    return VTA_OK;
}

int vta_cmd_usage(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *month = NULL, *id, *params[2];
    vta_table_t *t;
    PGresult *res;
    int i, n;
    static const char *const names[] = { "--month" };
    const char *vals[1];
    int rc = vta_slug_opts(argc, argv, "usage", "usage SLUG [--month YYYY-MM]",
                           names, vals, 1, &slug);

    if (rc != VTA_OK)
        return rc;
    month = vals[0];
    if (month && !month_valid(month))
        return vta_err("--month '%s' is not a month like 2026-12", month);
    if (vta_check_slug(slug) != VTA_OK || vta_db_connect(c) != VTA_OK
        || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = month;
    res = vta_q(c,
                "WITH co AS (SELECT time_zone FROM companies WHERE id = $1::bigint),"
                " mo AS (SELECT coalesce(to_date($2, 'YYYY-MM'),"
                "  date_trunc('month', now() AT TIME ZONE (SELECT time_zone FROM co))::date) AS d),"
                " ca AS (SELECT (k.started_at AT TIME ZONE co.time_zone)::date AS day, count(*) AS n,"
                "  sum(CASE WHEN coalesce(k.duration_s, 0) > 0"
                "   THEN (k.duration_s + 59) / 60 ELSE 0 END) AS minutes"
                "  FROM calls k, co WHERE k.company_id = $1::bigint GROUP BY 1),"
                " me AS (SELECT (m.created_at AT TIME ZONE co.time_zone)::date AS day,"
                "  count(*) FILTER (WHERE direction = 'inbound') AS inb,"
                "  count(*) FILTER (WHERE direction = 'outbound') AS outb,"
                "  sum(coalesce(num_segments, 1)) AS segments"
                "  FROM messages m, co WHERE m.company_id = $1::bigint GROUP BY 1)"
                " SELECT to_char(day, 'YYYY-MM-DD'), coalesce(ca.n, 0), coalesce(ca.minutes, 0),"
                "  coalesce(me.inb, 0), coalesce(me.outb, 0), coalesce(me.segments, 0)"
                " FROM ca FULL JOIN me USING (day), mo"
                " WHERE day >= mo.d AND day < (mo.d + interval '1 month')::date ORDER BY day",
                2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot compute the usage");
    t = vta_table_make(c->pool, 6, "DAY", "CALLS", "MINUTES", "MESSAGES_IN", "MESSAGES_OUT",
                       "SEGMENTS");
    n = PQntuples(res);
    {
        long sum[5] = { 0, 0, 0, 0, 0 };
        int k;
        for (i = 0; i < n; i++) {
            vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
                          PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
                          PQgetvalue(res, i, 5));
            for (k = 0; k < 5; k++)
                sum[k] += atol(PQgetvalue(res, i, k + 1));
        }
        vta_table_row(t, "total", apr_ltoa(c->pool, sum[0]), apr_ltoa(c->pool, sum[1]),
                      apr_ltoa(c->pool, sum[2]), apr_ltoa(c->pool, sum[3]),
                      apr_ltoa(c->pool, sum[4]));
    }
    PQclear(res);
    vta_table_print(t, stdout);
    return print_limit(c, id);
}
