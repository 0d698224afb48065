/* vt_tenant — tenant resolution shared by the module and the helper; see vt_tenant.h. */
#include <string.h>
#include <apr_strings.h>
#include "vt_form.h"
#include "vt_tenant.h"
#include "vt_util.h"

/* apr_dbd placeholders (%s); libpq users convert with vt_sql_to_libpq. */
#define TENANT_COLUMNS                                                                      \
    "SELECT c.id, c.slug, c.enabled, c.greeting, c.voice, c.language, i.id IS NOT NULL, "     \
    "coalesce(i.enabled, false), i.account_sid, encode(i.auth_token_enc, 'hex'), i.key_id, "  \
    "c.escalation_phone, c.notification_phone, c.assistant_script::text "

const vt_event_stmt_t vt_tenant_by_number_stmt = {
    "voxtwilio_tenant_by_number",
    TENANT_COLUMNS
    "FROM integration_numbers n JOIN client_integrations i ON i.id = n.integration_id "
    "JOIN companies c ON c.id = i.company_id WHERE n.number = %s",
    1
};
const vt_event_stmt_t vt_tenant_by_slug_stmt = {
    "voxtwilio_tenant_by_slug",
    TENANT_COLUMNS
    "FROM companies c LEFT JOIN client_integrations i "
    "ON i.company_id = c.id AND i.provider = 'TWILIO' WHERE c.slug = %s",
    1
};
const vt_event_stmt_t vt_tenant_by_call_stmt = {
    "voxtwilio_tenant_by_call",
    TENANT_COLUMNS
    "FROM calls k JOIN companies c ON c.id = k.company_id LEFT JOIN client_integrations i "
    "ON i.company_id = c.id AND i.provider = 'TWILIO' WHERE k.call_sid = %s",
    1
};

static int pg_bool(const char *v)
{
    return v && v[0] == 't';
}

void vt_tenant_from_row(const char *const *c, vt_tenant_t *t)
{
    t->company_id = c[0];
    t->slug = c[1];
    t->enabled = pg_bool(c[2]);
    t->greeting = c[3];
    t->voice = c[4];
    t->language = c[5];
    t->has_integration = pg_bool(c[6]);
    t->integration_enabled = pg_bool(c[7]);
    t->account_sid = c[8];
    t->token_blob_hex = c[9];
    t->key_id = c[10];
    t->escalation_phone = c[11];
    t->notification_phone = c[12];
    t->assistant_script = c[13];
}

vt_tenant_rc vt_tenant_resolve(apr_pool_t *p, vt_tenant_lookup_fn *lookup, void *baton,
                               const char *slug, const apr_array_header_t *params,
                               int is_callback, vt_tenant_t *t, const char **why)
{
    const char *to = vt_params_get(params, "To");
    const char *from = vt_params_get(params, "From");
    const char *call_sid = vt_params_get(params, "CallSid");
    const char *account_sid = vt_params_get(params, "AccountSid");
    int rc = 0;

    memset(t, 0, sizeof(*t));
    if (slug) {
        rc = lookup(baton, &vt_tenant_by_slug_stmt, slug, t);
    }
    else {
        if (is_callback && vt_sid_valid(call_sid, "CA")) {
            rc = lookup(baton, &vt_tenant_by_call_stmt, call_sid, t);
        }
        if (rc == 0 && to && vt_e164_valid(to)) {
            rc = lookup(baton, &vt_tenant_by_number_stmt, to, t);
        }
        if (rc == 0 && is_callback && from && vt_e164_valid(from)) {
            rc = lookup(baton, &vt_tenant_by_number_stmt, from, t);
        }
    }
    if (rc < 0) {
        return VT_TENANT_DB_FAILED;
    }
    if (rc == 0 || !t->enabled || !t->has_integration || !t->integration_enabled) {
        *why = apr_psprintf(p, "no enabled tenant for %s %s", slug ? "slug" : "number",
                            slug ? slug : to ? to : "(none)");
        return VT_TENANT_REFUSED;
    }
    if (!account_sid || !t->account_sid || strcmp(account_sid, t->account_sid) != 0) {
        *why = apr_psprintf(p, "AccountSid does not belong to tenant %s", t->slug);
        return VT_TENANT_REFUSED;
    }
    return VT_TENANT_FOUND;
}
