/* vta_rules — voxtwilio-admin: a tenant's automations and its consent ledger.
 *
 *   rules import SLUG FILE|-       check the whole document (vt_rules.h), then replace the
 *                                  tenant's rules with it; nothing is written on an error
 *   rules export SLUG              the document as imported (nothing: {"rules": []})
 *   rules runs SLUG [--limit N]    the log of rule runs, newest first
 *   consent list SLUG [--phone +E164]
 *   consent record SLUG --phone +E164 --channel sms|whatsapp|voice --granted|--refused
 *                  [--note TEXT]   e.g. the callee agreed to be called on a signed form
 */
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "vta.h"
#include "vta_rules.h"
#include "vt_messages.h"
#include "vt_rules.h"
#include "vt_util.h"

#define VTA_NOTE_MAX 500

/* Who ran the tool, for the ledger and the rules' imported_by. */
static const char *operator_name(apr_pool_t *p)
{
    struct passwd *pw = getpwuid(getuid());

    return pw ? apr_pstrdup(p, pw->pw_name) : apr_psprintf(p, "uid %ld", (long)getuid());
}

static int rules_import(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *file, *json, *err = NULL, *id, *params[3];
    apr_size_t len;
    vt_rules_t *rules;

    if (argc != 3 || argv[1][0] == '-' || (argv[2][0] == '-' && argv[2][1]))
        return vta_usage_err("usage: rules import SLUG FILE.json|-");
    slug = argv[1];
    file = argv[2];
    if (vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (!(json = vta_read_file(c->pool, file, VT_RULES_DOC_MAX, &len)))
        return VTA_FAIL;
    if (!(rules = vt_rules_parse(c->pool, json, len, &err)))
        return vta_err("%s: %s", file, err);
    if (vta_db_connect(c) != VTA_OK || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = json;
    params[2] = operator_name(c->pool);
    if (vta_exec_ok(c, "INSERT INTO rule_sets (company_id, document, imported_by)"
                       " VALUES ($1::bigint, $2::json, $3) ON CONFLICT (company_id) DO UPDATE"
                       " SET document = EXCLUDED.document, imported_by = EXCLUDED.imported_by,"
                       " updated_at = now()",
                    3, params, "cannot store the rules") != VTA_OK)
        return VTA_FAIL;
    printf("imported %d rules for %s\n", vt_rules_count(rules), slug);
    return VTA_OK;
}

static int rules_export(vta_ctx_t *c, int argc, char **argv)
{
    const char *id;
    PGresult *res;

    if (argc != 2 || argv[1][0] == '-')
        return vta_usage_err("usage: rules export SLUG");
    if (vta_check_slug(argv[1]) != VTA_OK || vta_db_connect(c) != VTA_OK
        || vta_company_id(c, argv[1], &id) != VTA_OK)
        return VTA_FAIL;
    res = vta_q(c, "SELECT document FROM rule_sets WHERE company_id = $1::bigint", 1, &id);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the rules");
    if (PQntuples(res) == 1) {
        const char *doc = PQgetvalue(res, 0, 0);
        size_t n = strlen(doc);
        fputs(doc, stdout);
        if (n == 0 || doc[n - 1] != '\n')
            putchar('\n');
    }
    else
        puts("{\"rules\": []}");
    PQclear(res);
    return VTA_OK;
}

static int rules_runs(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *limit = NULL, *id, *params[2];
    vta_table_t *t;
    PGresult *res;
    int i;
    static const char *const names[] = { "--limit" };
    const char *vals[1];
    int rc = vta_slug_opts(argc, argv, "rules runs", "rules runs SLUG [--limit N]",
                           names, vals, 1, &slug);

    if (rc != VTA_OK)
        return rc;
    limit = vals[0];
    if (vta_check_slug(slug) != VTA_OK || vta_check_limit(limit) != VTA_OK
        || vta_db_connect(c) != VTA_OK || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = limit ? limit : VTA_LIST_DEFAULT_LIMIT;
    res = vta_q(c, "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                   " rule_name, trigger, subject, coalesce(customer_phone, '-'), outcome, detail"
                   " FROM rule_runs WHERE company_id = $1::bigint ORDER BY id DESC"
                   " LIMIT $2::int", 2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the rule runs");
    t = vta_table_make(c->pool, 7, "AT", "RULE", "TRIGGER", "SUBJECT", "CUSTOMER", "OUTCOME",
                       "DETAIL");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
                      PQgetvalue(res, i, 6));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

int vta_cmd_rules(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("rules needs a sub-command: import, export or runs");
    if (strcmp(argv[1], "import") == 0)
        return rules_import(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0)
        return rules_export(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "runs") == 0)
        return rules_runs(c, argc - 1, argv + 1);
    return vta_usage_err("unknown rules sub-command '%s'", argv[1]);
}

/* ------------------------------------------------------------------ consent */

int vta_consent_refusal(vta_ctx_t *c, const char *company_id, const char *phone,
                        const char *channel, const char **refusal)
{
    const char *params[3] = { company_id, phone, channel };
    PGresult *res = vta_q(c, VT_CONSENT_STATE_SQL, 3, params);

    *refusal = NULL;
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the consent ledger");
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0)
        *refusal = apr_psprintf(c->pool, "%s opted out of %s (%s, %s)", phone, channel,
                                PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    return VTA_OK;
}

static int consent_list(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *phone = NULL, *id, *params[2];
    vta_table_t *t;
    PGresult *res;
    int i;
    static const char *const names[] = { "--phone" };
    const char *vals[1];
    int rc = vta_slug_opts(argc, argv, "consent list", "consent list SLUG [--phone +E164]",
                           names, vals, 1, &slug);

    if (rc != VTA_OK)
        return rc;
    phone = vals[0];
    if (phone && !vt_e164_valid(phone))
        return vta_err("--phone '%s' is not an E.164 number (+ and 2 to 15 digits)", phone);
    if (vta_check_slug(slug) != VTA_OK || vta_db_connect(c) != VTA_OK
        || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = phone;
    res = vta_q(c, "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                   " phone, channel, CASE WHEN granted THEN 'granted' ELSE 'refused' END,"
                   " method, coalesce(source_sid, recorded_by, '-'), coalesce(note, '')"
                   " FROM consent_events WHERE company_id = $1::bigint"
                   " AND ($2::text IS NULL OR phone = $2) ORDER BY id DESC", 2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the consent ledger");
    t = vta_table_make(c->pool, 7, "AT", "PHONE", "CHANNEL", "CONSENT", "METHOD", "SOURCE",
                       "NOTE");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
                      PQgetvalue(res, i, 6));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

static int consent_record(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *phone = NULL, *channel = NULL, *note = NULL, *id, *params[6];
    int i, m, granted = -1;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--phone", &phone)) != 0
            || (m = vta_opt(argc, argv, &i, "--channel", &channel)) != 0
            || (m = vta_opt(argc, argv, &i, "--note", &note)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (strcmp(argv[i], "--granted") == 0 || strcmp(argv[i], "--refused") == 0) {
            if (granted != -1)
                return vta_usage_err("give one of --granted and --refused, once");
            granted = argv[i][2] == 'g';
        }
        else if (argv[i][0] == '-' || slug)
            return vta_usage_err("unexpected argument '%s' for consent record",
                                 vta_arg_for_msg(argv[i]));
        else
            slug = argv[i];
    }
    if (!slug || !phone || !channel || granted == -1)
        return vta_usage_err("usage: consent record SLUG --phone +E164 "
                             "--channel sms|whatsapp|voice --granted|--refused [--note TEXT]");
    if (!vt_e164_valid(phone))
        return vta_err("--phone '%s' is not an E.164 number (+ and 2 to 15 digits)", phone);
    if (strcmp(channel, "sms") != 0 && strcmp(channel, "whatsapp") != 0
        && strcmp(channel, "voice") != 0)
        return vta_err("--channel '%s' must be sms, whatsapp or voice", channel);
    if (note && vt_utf8_chars(note) > VTA_NOTE_MAX)
        return vta_err("--note is longer than %d characters", VTA_NOTE_MAX);
    if (vta_check_slug(slug) != VTA_OK || vta_db_connect(c) != VTA_OK
        || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = phone;
    params[2] = channel;
    params[3] = granted ? "t" : "f";
    params[4] = note;
    params[5] = operator_name(c->pool);
    if (vta_exec_ok(c, "INSERT INTO consent_events (company_id, phone, channel, granted,"
                       " method, note, recorded_by) VALUES ($1::bigint, $2, $3, $4::boolean,"
                       " 'admin', $5, $6)", 6, params, "cannot record the consent") != VTA_OK)
        return VTA_FAIL;
    printf("%s %s consent for %s of %s\n", granted ? "granted" : "refused", channel, phone,
           slug);
    return VTA_OK;
}

int vta_cmd_consent(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("consent needs a sub-command: list or record");
    if (strcmp(argv[1], "list") == 0)
        return consent_list(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "record") == 0)
        return consent_record(c, argc - 1, argv + 1);
    return vta_usage_err("unknown consent sub-command '%s'", argv[1]);
}
