/* vta_integration — `integration add|set-token|list|test|enable|disable|remove`.
 *
 * The auth token is read from standard input (first line) or --auth-token-file, never
 * from the command line (argv is visible to every user through ps and /proc).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vta.h"
#include "vt_crypto.h"
#include "vt_keyring.h"
#include "vt_rest.h"
#include "vt_util.h"

/* ------------------------------------------------------------------ helpers */

static int check_sid(const char *sid)
{
    if (!vt_sid_valid(sid, "AC"))
        return vta_err("--account-sid '%s' is not an account SID (AC followed by 32 hex digits)",
                       sid);
    return VTA_OK;
}

/* Reports a missing integration: "no company" or "has no integration". */
static int no_integration(vta_ctx_t *c, const char *slug)
{
    const char *id;
    if (vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    return vta_err("company '%s' has no integration", slug);
}

/* One positional SLUG and nothing else. */
static int slug_only(int argc, char **argv, const char *verb, const char **slug)
{
    if (argc != 2 || argv[1][0] == '-')
        return vta_usage_err("usage: integration %s SLUG", verb);
    *slug = argv[1];
    return vta_check_slug(*slug);
}

/* ------------------------------------------------------------------ add */

static int integration_add(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *sid = NULL, *mode = NULL, *token_file = NULL;
    const char *token = NULL, *company_id, *key_id = NULL, *blob = NULL, *err = NULL;
    const char *integration_id, *params[5];
    apr_array_header_t *numbers = apr_array_make(c->pool, 4, sizeof(const char *));
    vt_keyring_t *ring = NULL;
    PGresult *res;
    int i, j, m;

    for (i = 1; i < argc; i++) {
        const char *num = NULL;
        if ((m = vta_opt(argc, argv, &i, "--number", &num)) != 0) {
            if (m < 0)
                return VTA_USAGE;
            APR_ARRAY_PUSH(numbers, const char *) = num;
        }
        else if ((m = vta_opt(argc, argv, &i, "--account-sid", &sid)) != 0
                 || (m = vta_opt(argc, argv, &i, "--mode", &mode)) != 0
                 || (m = vta_opt(argc, argv, &i, "--auth-token-file", &token_file)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (strncmp(argv[i], "--auth-token", 12) == 0 || strncmp(argv[i], "--token", 7) == 0)
            return vta_usage_err("the auth token is never accepted on the command line: "
                                 "give it on standard input or with --auth-token-file FILE");
        else if (argv[i][0] == '-')
            return vta_usage_err("unknown option '%s' for integration add",
                                 vta_arg_for_msg(argv[i]));
        else if (slug)
            return vta_usage_err("unexpected argument '%s' for integration add",
                                 vta_arg_for_msg(argv[i]));
        else
            slug = argv[i];
    }
    if (!slug)
        return vta_usage_err("integration add needs a SLUG");
    if (!sid)
        return vta_usage_err("integration add needs --account-sid AC...");
    if (numbers->nelts == 0)
        return vta_usage_err("integration add needs at least one --number +E164");

    if (vta_check_slug(slug) != VTA_OK || check_sid(sid) != VTA_OK)
        return VTA_FAIL;
    for (i = 0; i < numbers->nelts; i++) {
        const char *num = APR_ARRAY_IDX(numbers, i, const char *);
        if (!vt_e164_valid(num))
            return vta_err("--number '%s' is not an E.164 number (+ and 2 to 15 digits)", num);
        for (j = 0; j < i; j++)
            if (strcmp(num, APR_ARRAY_IDX(numbers, j, const char *)) == 0)
                return vta_err("--number %s is given twice", num);
    }
    if (!mode)
        mode = "OWN";
    else if (strcasecmp(mode, "own") == 0)
        mode = "OWN";
    else if (strcasecmp(mode, "platform") == 0)
        mode = "PLATFORM";
    else
        return vta_err("--mode '%s' is not own or platform", mode);

    if (vta_load_keyring(c, &ring) != VTA_OK)
        return VTA_FAIL;
    if (vta_read_secret(c, token_file, "auth token", "Twilio auth token", slug, VTA_TOKEN_MAX, &token) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK || vta_begin(c) != VTA_OK)
        return VTA_FAIL;
    if (vta_company_id(c, slug, &company_id) != VTA_OK)
        goto fail;

    params[0] = company_id;
    res = vta_q(c, "SELECT 1 FROM client_integrations WHERE company_id = $1::bigint", 1, params);
    if (!vta_res_ok(res)) {
        vta_db_fail(c, res, "cannot look up the integration");
        goto fail;
    }
    m = PQntuples(res);
    PQclear(res);
    if (m > 0) {
        vta_err("company '%s' already has an integration (remove it first with "
                "'integration remove %s')", slug, slug);
        goto fail;
    }

    if (vt_secret_encrypt(c->pool, ring, company_id, token, &key_id, &blob, &err)
        != APR_SUCCESS) {
        vta_err("cannot encrypt the auth token: %s", err ? err : "unknown error");
        goto fail;
    }

    params[0] = company_id;
    params[1] = mode;
    params[2] = sid;
    params[3] = blob;
    params[4] = key_id;
    res = vta_q(c,
                "INSERT INTO client_integrations"
                " (company_id, provider, mode, account_sid, auth_token_enc, key_id)"
                " VALUES ($1::bigint, 'TWILIO', $2, $3, decode($4, 'hex'), $5) RETURNING id",
                5, params);
    if (!vta_res_ok(res)) {
        if (strcmp(vta_sqlstate(res), "23505") == 0) {
            PQclear(res);
            vta_err("company '%s' already has an integration (remove it first with "
                    "'integration remove %s')", slug, slug);
        }
        else
            vta_db_fail(c, res, "cannot add the integration");
        goto fail;
    }
    integration_id = apr_pstrdup(c->pool, PQgetvalue(res, 0, 0));
    PQclear(res);

    for (i = 0; i < numbers->nelts; i++) {
        params[0] = APR_ARRAY_IDX(numbers, i, const char *);
        params[1] = integration_id;
        res = vta_q(c,
                    "INSERT INTO integration_numbers (number, integration_id)"
                    " VALUES ($1, $2::bigint)",
                    2, params);
        if (!vta_res_ok(res)) {
            if (strcmp(vta_sqlstate(res), "23505") == 0
                && strcmp(vta_constraint(res), "integration_numbers_pkey") == 0) {
                PQclear(res);
                vta_err("number %s already belongs to another integration", params[0]);
            }
            else
                vta_db_fail(c, res, "cannot add the number");
            goto fail;
        }
        PQclear(res);
    }
    if (vta_commit(c) != VTA_OK)
        goto fail;
    printf("integration %s added for %s: account %s, mode %s, %d number(s), key %s\n",
           integration_id, slug, sid, mode[0] == 'O' ? "own" : "platform", numbers->nelts,
           key_id);
    return VTA_OK;

fail:
    vta_rollback(c);
    return VTA_FAIL;
}

/* ------------------------------------------------------------------ set-token */

static int integration_set_token(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *token_file = NULL, *token = NULL;
    const char *key_id = NULL, *blob = NULL, *err = NULL, *params[3];
    vt_keyring_t *ring = NULL;
    PGresult *res;
    int i, m;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--auth-token-file", &token_file)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (argv[i][0] == '-')
            return vta_usage_err("unknown option '%s' for integration set-token",
                                 vta_arg_for_msg(argv[i]));
        else if (slug)
            return vta_usage_err("unexpected argument '%s' for integration set-token",
                                 vta_arg_for_msg(argv[i]));
        else
            slug = argv[i];
    }
    if (!slug)
        return vta_usage_err("integration set-token needs a SLUG");
    if (vta_check_slug(slug) != VTA_OK || vta_load_keyring(c, &ring) != VTA_OK)
        return VTA_FAIL;
    if (vta_read_secret(c, token_file, "auth token", "Twilio auth token", slug, VTA_TOKEN_MAX, &token) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK || vta_begin(c) != VTA_OK)
        return VTA_FAIL;

    params[0] = slug;
    res = vta_q(c,
                "SELECT ci.id, c.id FROM companies c"
                " JOIN client_integrations ci ON ci.company_id = c.id"
                " WHERE c.slug = $1 FOR UPDATE OF ci",
                1, params);
    if (!vta_res_ok(res)) {
        vta_db_fail(c, res, "cannot look up the integration");
        goto fail;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        no_integration(c, slug);
        goto fail;
    }
    params[0] = apr_pstrdup(c->pool, PQgetvalue(res, 0, 0));
    {
        const char *company_id = apr_pstrdup(c->pool, PQgetvalue(res, 0, 1));
        PQclear(res);
        if (vt_secret_encrypt(c->pool, ring, company_id, token, &key_id, &blob, &err)
            != APR_SUCCESS) {
            vta_err("cannot encrypt the auth token: %s", err ? err : "unknown error");
            goto fail;
        }
    }
    params[1] = blob;
    params[2] = key_id;
    if (vta_exec_ok(c,
                    "UPDATE client_integrations SET auth_token_enc = decode($2, 'hex'),"
                    " key_id = $3, updated_at = now() WHERE id = $1::bigint",
                    3, params, "cannot update the integration") != VTA_OK
        || vta_commit(c) != VTA_OK)
        goto fail;
    printf("auth token of %s updated (key %s)\n", slug, key_id);
    return VTA_OK;

fail:
    vta_rollback(c);
    return VTA_FAIL;
}

/* ------------------------------------------------------------------ list */

static int integration_list(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *id, *params[1];
    vta_table_t *t;
    PGresult *res;
    int i;

    if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
        return vta_usage_err("usage: integration list [SLUG]");
    if (argc == 2) {
        slug = argv[1];
        if (vta_check_slug(slug) != VTA_OK)
            return VTA_FAIL;
    }
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    if (slug && vta_company_id(c, slug, &id) != VTA_OK)
        return VTA_FAIL;
    params[0] = slug;
    res = vta_q(c,
                "SELECT c.slug, ci.account_sid, lower(ci.mode),"
                " CASE WHEN ci.enabled THEN 'yes' ELSE 'no' END, ci.key_id,"
                " coalesce((SELECT string_agg(n.number, ',' ORDER BY n.number)"
                "           FROM integration_numbers n WHERE n.integration_id = ci.id), '')"
                " FROM client_integrations ci JOIN companies c ON c.id = ci.company_id"
                " WHERE $1::text IS NULL OR c.slug = $1::text"
                " ORDER BY c.slug, ci.id",
                1, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the integrations");
    t = vta_table_make(c->pool, 6, "COMPANY", "ACCOUNT_SID", "MODE", "ENABLED", "KEY_ID",
                       "NUMBERS");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4), PQgetvalue(res, i, 5));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

/* ------------------------------------------------------------------ test */

/* 1 when body is a JSON object (a 200 that is not JSON is not Twilio). */
static int is_json_object(const char *body)
{
    json_object *o;
    int ok;
    if (!body)
        return 0;
    o = json_tokener_parse(body);
    ok = o && json_object_is_type(o, json_type_object);
    json_object_put(o);
    return ok;
}

static int integration_test(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *base, *err = NULL, *params[1], *sid, *key_id, *hex, *company_id;
    const char *token = NULL;
    vt_keyring_t *ring = NULL;
    vt_rest_result_t r;
    PGresult *res;
    apr_status_t rv;
    int rc;

    if ((rc = slug_only(argc, argv, "test", &slug)) != VTA_OK)
        return rc;
    base = vt_base_url_normalize(c->pool, c->api_base, &err);
    if (!base)
        return vta_err("invalid API base URL '%s': %s", c->api_base,
                       err ? err : "not an http(s) URL");
    if (vta_load_keyring(c, &ring) != VTA_OK || vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;

    params[0] = slug;
    res = vta_q(c,
                "SELECT ci.account_sid, ci.key_id, encode(ci.auth_token_enc, 'hex'), c.id"
                " FROM companies c JOIN client_integrations ci ON ci.company_id = c.id"
                " WHERE c.slug = $1",
                1, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot look up the integration");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return no_integration(c, slug);
    }
    sid = apr_pstrdup(c->pool, PQgetvalue(res, 0, 0));
    key_id = apr_pstrdup(c->pool, PQgetvalue(res, 0, 1));
    hex = apr_pstrdup(c->pool, PQgetvalue(res, 0, 2));
    company_id = apr_pstrdup(c->pool, PQgetvalue(res, 0, 3));
    PQclear(res);
    vta_db_close(c); /* not needed during the HTTP call */

    err = NULL;
    if (vt_secret_decrypt(c->pool, ring, company_id, key_id, hex, &token, &err) != APR_SUCCESS)
        return vta_err("cannot decrypt the auth token of %s: %s", slug,
                       err ? err : "unknown error");

    vt_rest_global_init();
    memset(&r, 0, sizeof r);
    rv = vt_rest_account_fetch(c->pool, base, sid, token, VTA_REST_TIMEOUT_MS, &r);
    if (rv != APR_SUCCESS) {
        printf("FAILED: %s\n", r.message ? r.message : "no answer from the Twilio API");
        return VTA_FAIL;
    }
    if (r.http_status == 200 && is_json_object(r.body)) {
        printf("OK: %s\n", r.message ? r.message : sid);
        return VTA_OK;
    }
    if (r.twilio_code)
        printf("FAILED: Twilio error %d: %s (HTTP %ld)\n", r.twilio_code,
               r.message ? r.message : "(no message)", r.http_status);
    else if (r.http_status == 200)
        printf("FAILED: HTTP 200 but the answer is not a JSON object (is --api-base right?)\n");
    else
        printf("FAILED: HTTP %ld%s%s\n", r.http_status, r.message ? ": " : "",
               r.message ? r.message : "");
    return VTA_FAIL;
}

/* ------------------------------------------------------------------ enable, disable, remove */

static int integration_enable(vta_ctx_t *c, int argc, char **argv, int enable)
{
    const char *verb = enable ? "enable" : "disable";
    const char *slug = NULL, *params[2];
    PGresult *res;
    int rc, n;

    if ((rc = slug_only(argc, argv, verb, &slug)) != VTA_OK)
        return rc;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    params[0] = slug;
    params[1] = enable ? "true" : "false";
    res = vta_q(c,
                "UPDATE client_integrations ci SET enabled = $2::boolean, updated_at = now()"
                " FROM companies c WHERE c.id = ci.company_id AND c.slug = $1",
                2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot update the integration");
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0)
        return no_integration(c, slug);
    printf("integration of %s %sd\n", slug, verb);
    return VTA_OK;
}

static int integration_remove(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *params[1];
    PGresult *res;
    int rc;

    if ((rc = slug_only(argc, argv, "remove", &slug)) != VTA_OK)
        return rc;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    params[0] = slug;
    res = vta_q(c,
                "DELETE FROM client_integrations ci USING companies c"
                " WHERE c.id = ci.company_id AND c.slug = $1"
                " RETURNING ci.id, (SELECT count(*) FROM integration_numbers n"
                "                   WHERE n.integration_id = ci.id)",
                1, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot remove the integration");
    if (PQntuples(res) == 0) {
        PQclear(res);
        return no_integration(c, slug);
    }
    printf("integration %s of %s removed (with %s number(s))\n", PQgetvalue(res, 0, 0), slug,
           PQgetvalue(res, 0, 1));
    PQclear(res);
    return VTA_OK;
}

int vta_cmd_integration(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("integration needs a sub-command: add, set-token, list, test, "
                             "enable, disable or remove");
    argc--;
    argv++;
    if (strcmp(argv[0], "add") == 0)
        return integration_add(c, argc, argv);
    if (strcmp(argv[0], "set-token") == 0)
        return integration_set_token(c, argc, argv);
    if (strcmp(argv[0], "list") == 0)
        return integration_list(c, argc, argv);
    if (strcmp(argv[0], "test") == 0)
        return integration_test(c, argc, argv);
    if (strcmp(argv[0], "enable") == 0)
        return integration_enable(c, argc, argv, 1);
    if (strcmp(argv[0], "disable") == 0)
        return integration_enable(c, argc, argv, 0);
    if (strcmp(argv[0], "remove") == 0)
        return integration_remove(c, argc, argv);
    return vta_usage_err("unknown integration sub-command '%s'", argv[0]);
}
