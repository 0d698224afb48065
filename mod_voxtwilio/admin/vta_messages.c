/* vta_messages — voxtwilio-admin: the tenant's inbox and customers.
 *
 *   messages send SLUG --to +E164 [--whatsapp] --body TEXT
 *                                  queued for the helper (job message_send: the same sender
 *                                  as the rules'); refused at once for a customer who
 *                                  opted out of the channel
 *   messages list SLUG [--customer +E164] [--limit N]
 *   customers list SLUG [--limit N]
 *   customers show SLUG +E164      the customer, then one timeline of calls and messages
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vta.h"
#include "vta_rules.h"
#include "vt_rules.h"
#include "vt_util.h"

#define VTA_BODY_WIDTH 60

static int check_phone(const char *opt, const char *phone)
{
    if (phone && !vt_e164_valid(phone))
        return vta_err("%s '%s' is not an E.164 number (+ and 2 to 15 digits)", opt, phone);
    return VTA_OK;
}

/* The body on one line, at most VTA_BODY_WIDTH bytes (cut at a character boundary). */
static const char *one_line(apr_pool_t *p, const char *s)
{
    char *o = apr_pstrdup(p, s), *c;
    size_t n;

    for (c = o; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    if ((n = strlen(o)) <= VTA_BODY_WIDTH)
        return o;
    for (n = VTA_BODY_WIDTH - 3; n > 0 && ((unsigned char)o[n] & 0xC0) == 0x80; n--)
        ;
    o[n] = '\0';
    return apr_pstrcat(p, o, "...", NULL);
}

static int messages_send(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *to = NULL, *body = NULL, *id, *channel = "sms";
    const char *refusal;
    json_object *o;
    int i, m;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--to", &to)) != 0
            || (m = vta_opt(argc, argv, &i, "--body", &body)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (strcmp(argv[i], "--whatsapp") == 0)
            channel = "whatsapp";
        else if (argv[i][0] == '-' || slug)
            return vta_usage_err("unexpected argument '%s' for messages send",
                                 vta_arg_for_msg(argv[i]));
        else
            slug = argv[i];
    }
    if (!slug || !to || !body)
        return vta_usage_err("usage: messages send SLUG --to +E164 [--whatsapp] --body TEXT");
    if (check_phone("--to", to) != VTA_OK)
        return VTA_FAIL;
    if (!*body || strlen(body) > VT_RULE_BODY_MAX)
        return vta_err("--body must be 1 to %d bytes", VT_RULE_BODY_MAX);
    if (vta_check_slug(slug) != VTA_OK || vta_db_connect(c) != VTA_OK
        || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    if (vta_consent_refusal(c, id, to, channel, &refusal) != VTA_OK)
        return VTA_FAIL;
    if (refusal)
        return vta_err("%s: not sent", refusal);
    o = json_object_new_object();
    json_object_object_add(o, "to", json_object_new_string(to));
    json_object_object_add(o, "channel", json_object_new_string(channel));
    json_object_object_add(o, "body", json_object_new_string(body));
    return vta_queue_job(c, "message_send", id, o, "sends it");
}

static int messages_list(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *customer = NULL, *limit = NULL, *id, *params[3];
    vta_table_t *t;
    PGresult *res;
    int i;
    static const char *const names[] = { "--customer", "--limit" };
    const char *vals[2];
    int rc = vta_slug_opts(argc, argv, "messages list", "messages list SLUG [--customer +E164] [--limit N]",
                           names, vals, 2, &slug);

    if (rc != VTA_OK)
        return rc;
    customer = vals[0];
    limit = vals[1];
    if (check_phone("--customer", customer) != VTA_OK || vta_check_limit(limit) != VTA_OK
        || vta_check_slug(slug) != VTA_OK || vta_db_connect(c) != VTA_OK
        || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = customer;
    params[2] = limit ? limit : VTA_LIST_DEFAULT_LIMIT;
    res = vta_q(c, "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                   " direction, channel, coalesce(from_number, '-'), coalesce(to_number, '-'),"
                   " coalesce(status, '-'), coalesce(body, ''), coalesce(message_sid, '-')"
                   " FROM messages WHERE company_id = $1::bigint AND ($2::text IS NULL"
                   " OR (direction = 'inbound' AND from_number = $2)"
                   " OR (direction = 'outbound' AND to_number = $2))"
                   " ORDER BY created_at DESC, id DESC LIMIT $3::int", 3, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the messages");
    t = vta_table_make(c->pool, 8, "AT", "DIRECTION", "CHANNEL", "FROM", "TO", "STATUS",
                       "BODY", "SID");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5),
                      one_line(c->pool, PQgetvalue(res, i, 6)), PQgetvalue(res, i, 7));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

int vta_cmd_messages(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("messages needs a sub-command: send or list");
    if (strcmp(argv[1], "send") == 0)
        return messages_send(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return messages_list(c, argc - 1, argv + 1);
    return vta_usage_err("unknown messages sub-command '%s'", argv[1]);
}

/* ------------------------------------------------------------------ customers */

static int customers_list(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *limit = NULL, *id, *params[2];
    vta_table_t *t;
    PGresult *res;
    int i;
    static const char *const names[] = { "--limit" };
    const char *vals[1];
    int rc = vta_slug_opts(argc, argv, "customers list", "customers list SLUG [--limit N]",
                           names, vals, 1, &slug);

    if (rc != VTA_OK)
        return rc;
    limit = vals[0];
    if (vta_check_limit(limit) != VTA_OK || vta_check_slug(slug) != VTA_OK
        || vta_db_connect(c) != VTA_OK || vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = limit ? limit : VTA_LIST_DEFAULT_LIMIT;
    res = vta_q(c, "SELECT cu.phone, coalesce(cu.name, ''), array_to_string(cu.tags, ','),"
                   " (SELECT count(*) FROM messages m WHERE m.customer_id = cu.id),"
                   " to_char(cu.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                   " FROM customers cu WHERE cu.company_id = $1::bigint"
                   " ORDER BY cu.updated_at DESC, cu.id DESC LIMIT $2::int", 2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the customers");
    t = vta_table_make(c->pool, 5, "PHONE", "NAME", "TAGS", "MESSAGES", "LAST_SEEN");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

static int customers_show(vta_ctx_t *c, int argc, char **argv)
{
    const char *id, *params[2];
    vta_table_t *t;
    PGresult *res;
    int i;

    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
        return vta_usage_err("usage: customers show SLUG +E164");
    if (check_phone("the phone", argv[2]) != VTA_OK || vta_check_slug(argv[1]) != VTA_OK
        || vta_db_connect(c) != VTA_OK || vta_company_id(c, argv[1], &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = id;
    params[1] = argv[2];
    res = vta_q(c, "SELECT coalesce(name, '-'), array_to_string(tags, ','),"
                   " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                   " FROM customers WHERE company_id = $1::bigint AND phone = $2", 2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the customer");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no customer %s for %s", argv[2], argv[1]);
    }
    printf("phone       %s\nname        %s\ntags        %s\nsince       %s\n", argv[2],
           PQgetvalue(res, 0, 0), *PQgetvalue(res, 0, 1) ? PQgetvalue(res, 0, 1) : "-",
           PQgetvalue(res, 0, 2));
    PQclear(res);
    /* One timeline: the calls from (or to) them and their messages, oldest first. */
    res = vta_q(c, "SELECT at, what, channel, detail FROM ("
                   " SELECT started_at AS at, 'call ' || direction AS what, 'voice' AS channel,"
                   "  status || coalesce(', ' || duration_s || ' s', '')"
                   "  || CASE WHEN escalated THEN ', escalated' ELSE '' END"
                   "  || coalesce(' - ' || summary, '') || ' (' || call_sid || ')' AS detail"
                   "  FROM calls WHERE company_id = $1::bigint"
                   "  AND (from_number = $2 OR to_number = $2)"
                   " UNION ALL"
                   " SELECT created_at, 'message ' || direction, channel,"
                   "  coalesce(status, '-') || ': ' || coalesce(body, '')"
                   "  FROM messages WHERE company_id = $1::bigint"
                   "  AND ((direction = 'inbound' AND from_number = $2)"
                   "  OR (direction = 'outbound' AND to_number = $2))) x ORDER BY at",
                2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the customer's timeline");
    t = vta_table_make(c->pool, 4, "AT", "WHAT", "CHANNEL", "DETAIL");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, apr_pstrndup(c->pool, PQgetvalue(res, i, 0), 19), PQgetvalue(res, i, 1),
                      PQgetvalue(res, i, 2), one_line(c->pool, PQgetvalue(res, i, 3)));
    PQclear(res);
    putchar('\n');
    vta_table_print(t, stdout);
    return VTA_OK;
}

int vta_cmd_customers(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("customers needs a sub-command: list or show");
    if (strcmp(argv[1], "list") == 0)
        return customers_list(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return customers_show(c, argc - 1, argv + 1);
    return vta_usage_err("unknown customers sub-command '%s'", argv[1]);
}
