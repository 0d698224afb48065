/* vta_jobs — voxtwilio-admin: the `jobs` verb (the helper's outbox).
 *
 *   jobs list [--failed] [--limit N]    newest first
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vta_jobs.h"

#define VTA_JOBS_ERROR_WIDTH 60 /* characters of last_error shown */

/* At most width code points, "..." marking a cut. */
static const char *truncated(apr_pool_t *p, const char *s, int width)
{
    size_t n = 0;
    int chars = 0;

    for (; s[n]; n++)
        if (((unsigned char)s[n] & 0xC0) != 0x80 && ++chars > width)
            break;
    if (!s[n])
        return s;
    /* back off three code points for the "..." */
    for (chars = 0; n > 0 && chars < 3; chars++)
        do
            n--;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80);
    return apr_pstrcat(p, apr_pstrmemdup(p, s, n), "...", NULL);
}

static int jobs_list(vta_ctx_t *c, int argc, char **argv)
{
    const char *limit = NULL, *params[2];
    vta_table_t *t;
    PGresult *res;
    int i, m, failed = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--failed") == 0) {
            if (failed)
                return vta_usage_err("--failed given twice");
            failed = 1;
        }
        else if ((m = vta_opt(argc, argv, &i, "--limit", &limit)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (argv[i][0] == '-')
            return vta_usage_err("unknown option '%s' for jobs list", vta_arg_for_msg(argv[i]));
        else
            return vta_usage_err("unexpected argument '%s' for jobs list",
                                 vta_arg_for_msg(argv[i]));
    }
    if (vta_check_limit(limit) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    params[0] = failed ? "true" : "false";
    params[1] = limit ? limit : VTA_LIST_DEFAULT_LIMIT;
    res = vta_q(c,
                "SELECT j.id, j.kind, j.status, j.attempts || '/' || j.max_attempts,"
                " to_char(j.run_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                " coalesce(c.slug, '-'), coalesce(j.call_sid, '-'), coalesce(j.last_error, '')"
                " FROM jobs j LEFT JOIN companies c ON c.id = j.company_id"
                " WHERE NOT $1::boolean OR j.status = 'failed'"
                " ORDER BY j.id DESC LIMIT $2::int",
                2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the jobs");
    t = vta_table_make(c->pool, 8, "ID", "KIND", "STATUS", "ATTEMPTS", "RUN_AFTER", "COMPANY",
                       "CALL_SID", "LAST_ERROR");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
                      PQgetvalue(res, i, 6),
                      truncated(c->pool, PQgetvalue(res, i, 7), VTA_JOBS_ERROR_WIDTH));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

int vta_cmd_jobs(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("jobs needs a sub-command: list");
    if (strcmp(argv[1], "list") == 0)
        return jobs_list(c, argc - 1, argv + 1);
    return vta_usage_err("unknown jobs sub-command '%s'", argv[1]);
}
