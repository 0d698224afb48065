/* vtm_cmds — the directive table and its handlers. Every value is validated here, when
 * the configuration is read, so `apachectl -t` reports mistakes with the directive's name.
 */
#include <apr_strings.h>
#include <http_core.h>
#include "vt_util.h"
#include "vt_keyring.h"
#include "vtm_module.h"
#include "vtm_db.h"

APLOG_USE_MODULE(voxtwilio);

static const char *cmd_enable(cmd_parms *cmd, void *dc, int on)
{
    vtm_srv_conf(cmd->server)->enabled = on;
    /* Fail here, not at the first call, when mod_dbd is missing. */
    return on ? vtm_db_register_statements(cmd) : NULL;
}

static const char *cmd_signature(cmd_parms *cmd, void *dc, int on)
{
    vtm_srv_conf(cmd->server)->signature = on;
    return NULL;
}

static const char *cmd_key_file(cmd_parms *cmd, void *dc, const char *arg)
{
    vtm_srv_conf_t *c = vtm_srv_conf(cmd->server);
    const char *path, *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    vt_keyring_t *ring;

    if (err) {
        return err;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    /* Loaded by the root parent at config time; children inherit the keys in memory,
     * so the file can stay readable by root only. The ring is wiped with pconf. */
    if (vt_keyring_load(cmd->pool, path, &ring, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    c->key_file = path;
    c->keyring = ring;
    return NULL;
}

/* VoxTwilioPublicURL and VoxTwilioAPIBase: absolute http(s) base URLs; cmd->info says which. */
#define URL_PUBLIC ((void *)1)
#define URL_API ((void *)2)

static const char *cmd_base_url(cmd_parms *cmd, void *dc, const char *arg)
{
    vtm_srv_conf_t *c = vtm_srv_conf(cmd->server);
    const char *err, *url = vt_base_url_normalize(cmd->pool, arg, &err);

    if (!url) {
        return apr_psprintf(cmd->pool, "%s: '%s' %s", cmd->cmd->name, arg, err);
    }
    if (cmd->info == URL_PUBLIC) {
        c->public_url = url;
    }
    else {
        c->api_base = url;
    }
    return NULL;
}

static const char *cmd_tenant(cmd_parms *cmd, void *dc, const char *arg)
{
    if (!vt_slug_valid(arg)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' is not a tenant slug (lower-case letters, digits and '-', "
                            "at most 63, starting with a letter or digit)",
                            cmd->cmd->name, arg);
    }
    vtm_srv_conf(cmd->server)->tenant = arg;
    return NULL;
}

static const char *cmd_max_body(cmd_parms *cmd, void *dc, const char *arg)
{
    char *end;
    apr_int64_t n = apr_strtoi64(arg, &end, 10);

    if (end == arg || *end || n < 1 || n > VTM_MAX_BODY_LIMIT) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a number of bytes from 1 to %d",
                            cmd->cmd->name, arg, VTM_MAX_BODY_LIMIT);
    }
    vtm_srv_conf(cmd->server)->max_body = n;
    return NULL;
}

const command_rec vtm_cmds[] = {
    AP_INIT_FLAG("VoxTwilio", cmd_enable, NULL, RSRC_CONF,
                 "On to answer Twilio webhooks in this virtual host (default Off)"),
    AP_INIT_TAKE1("VoxTwilioKeyFile", cmd_key_file, NULL, RSRC_CONF,
                  "File of credential keys (KEYID:64-hex per line, first is active); "
                  "must not be group- or world-readable"),
    AP_INIT_TAKE1("VoxTwilioPublicURL", cmd_base_url, URL_PUBLIC, RSRC_CONF,
                  "Scheme, host and optional port Twilio uses to reach this host, "
                  "e.g. https://calls.example.com (for signature checks behind TLS offload)"),
    AP_INIT_TAKE1("VoxTwilioTenant", cmd_tenant, NULL, RSRC_CONF,
                  "Serve only this tenant (company slug) in this virtual host"),
    AP_INIT_TAKE1("VoxTwilioAPIBase", cmd_base_url, URL_API, RSRC_CONF,
                  "Base URL of the Twilio REST API (default https://api.twilio.com)"),
    AP_INIT_TAKE1("VoxTwilioMaxBody", cmd_max_body, NULL, RSRC_CONF,
                  "Largest webhook body accepted, in bytes (default 65536)"),
    AP_INIT_FLAG("VoxTwilioSignature", cmd_signature, NULL, RSRC_CONF,
                 "Off disables X-Twilio-Signature checks (testing only; default On)"),
    { NULL }
};
