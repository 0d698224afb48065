/* vta_outbound — voxtwilio-admin: calls the tenant's assistant makes.
 *
 *   calls place SLUG --to +E164 [--greeting TEXT] [--machine-detection on|off]
 *       queued for the helper (job call_place, vth_calls.c); refused at once when the
 *       number opted out of calls, or the tenant cannot place one (disabled, no number, no
 *       webhook URL for Twilio to ask what to say)
 */
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vta.h"
#include "vta_calls.h"
#include "vta_rules.h"
#include "vt_events.h"
#include "vt_util.h"

/* The tenant can place a call: VTA_OK with *id, else VTA_FAIL after saying why. */
static int check_tenant(vta_ctx_t *c, const char *slug, const char **id)
{
    PGresult *res = vta_q(c, "SELECT c.id, c.enabled, c.webhook_url IS NOT NULL,"
                             " EXISTS (SELECT 1 FROM client_integrations ci"
                             "  JOIN integration_numbers n ON n.integration_id = ci.id"
                             "  WHERE ci.company_id = c.id AND ci.provider = 'TWILIO'"
                             "  AND ci.enabled), " VT_OVER_LIMIT_SQL("c") ","
                             " c.monthly_minutes_limit"
                             " FROM companies c WHERE c.slug = $1", 1, &slug);
    const char *why = NULL;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the company");
    if (PQntuples(res) != 1)
        why = apr_psprintf(c->pool, "no company with slug '%s'", slug);
    else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
        why = apr_psprintf(c->pool, "company %s is disabled", slug);
    else if (strcmp(PQgetvalue(res, 0, 3), "t") != 0)
        why = apr_psprintf(c->pool, "company %s has no enabled Twilio integration with a "
                                    "number to call from", slug);
    else if (strcmp(PQgetvalue(res, 0, 2), "t") != 0)
        why = apr_psprintf(c->pool, "company %s has no webhook URL, so Twilio could not ask "
                                    "what to say: company set %s --webhook-url "
                                    "https://HOST/LOCATION/%s", slug, slug, slug);
    else if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
        why = apr_psprintf(c->pool, "company %s is past its monthly limit of %s minutes: "
                                    "not called", slug, PQgetvalue(res, 0, 5));
    else
        *id = apr_pstrdup(c->pool, PQgetvalue(res, 0, 0));
    PQclear(res);
    return why ? vta_err("%s", why) : VTA_OK;
}

int vta_calls_place(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug = NULL, *to = NULL, *greeting = NULL, *amd = NULL, *id = NULL;
    const char *refusal;
    json_object *o;
    int i, m;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--to", &to)) != 0
            || (m = vta_opt(argc, argv, &i, "--greeting", &greeting)) != 0
            || (m = vta_opt(argc, argv, &i, "--machine-detection", &amd)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (argv[i][0] == '-' || slug)
            return vta_usage_err("unexpected argument '%s' for calls place",
                                 vta_arg_for_msg(argv[i]));
        else
            slug = argv[i];
    }
    if (!slug || !to)
        return vta_usage_err("usage: calls place SLUG --to +E164 [--greeting TEXT] "
                             "[--machine-detection on|off]");
    if (!vt_e164_valid(to))
        return vta_err("--to '%s' is not an E.164 number (+ and 2 to 15 digits)",
                       vta_arg_for_msg(to));
    if (greeting && (!*greeting || vt_utf8_chars(greeting) > 3000 || vta_has_control(greeting)))
        return vta_err("--greeting must be 1 to 3000 characters without control characters");
    if (amd && strcmp(amd, "on") != 0 && strcmp(amd, "off") != 0)
        return vta_err("--machine-detection '%s' must be on or off", vta_arg_for_msg(amd));
    if (vta_check_slug(slug) != VTA_OK || vta_db_connect(c) != VTA_OK
        || check_tenant(c, slug, &id) != VTA_OK
        || vta_consent_refusal(c, id, to, "voice", &refusal) != VTA_OK)
        return VTA_FAIL;
    if (refusal)
        return vta_err("%s: not called", refusal);
    o = json_object_new_object();
    json_object_object_add(o, "to", json_object_new_string(to));
    if (greeting)
        json_object_object_add(o, "greeting", json_object_new_string(greeting));
    json_object_object_add(o, "machine_detection",
                           json_object_new_boolean(amd && strcmp(amd, "on") == 0));
    return vta_queue_job(c, "call_place", id, o, "places the call");
}
