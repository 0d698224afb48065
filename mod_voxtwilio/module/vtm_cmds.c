/* vtm_cmds — the directive table and its handlers. Every value is validated here, when
 * the configuration is read, so `apachectl -t` reports mistakes with the directive's name.
 */
#include <strings.h>
#include <unistd.h>
#include <apr_file_info.h>
#include <apr_lib.h>
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

/* A whole number from min to max, or the directive's error ("... a number of WHAT"). */
static const char *int_arg(cmd_parms *cmd, const char *arg, apr_int64_t min, apr_int64_t max,
                           const char *what, apr_int64_t *n)
{
    char *end;

    *n = apr_strtoi64(arg, &end, 10);
    if (end == arg || *end || *n < min || *n > max) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a number of %s from %"
                            APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->cmd->name, arg, what, min, max);
    }
    return NULL;
}

static const char *cmd_max_body(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_int64_t n;
    const char *err = int_arg(cmd, arg, 1, VTM_MAX_BODY_LIMIT, "bytes", &n);

    if (!err) {
        vtm_srv_conf(cmd->server)->max_body = n;
    }
    return err;
}

/* VoxTwilioAssistantCache N: parsed tenant assistants kept per child (0: none). */
static const char *cmd_assistant_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_int64_t n;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err && !(err = int_arg(cmd, arg, 0, VT_ASSISTANT_CACHE_MAX, "tenants", &n))) {
        vtm_srv_conf(cmd->server)->assistant_cache = (int)n;
    }
    return err;
}

/* VoxTwilioTenantCache N: tenant rows kept per child (0: a lookup per webhook). */
static const char *cmd_tenant_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_int64_t n;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err && !(err = int_arg(cmd, arg, 0, VT_TENANT_CACHE_MAX, "tenants", &n))) {
        vtm_srv_conf(cmd->server)->tenant_cache = (int)n;
    }
    return err;
}

/* VoxTwilioGroupCommit N | Off: groups of writes a child commits at once (Off: each write
 * its own transaction). */
static const char *cmd_group_commit(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_int64_t n = 0;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (!err && strcasecmp(arg, "off") != 0) {
        err = int_arg(cmd, arg, 1, VT_GROUP_COMMIT_LEADERS_MAX, "groups", &n);
    }
    if (!err) {
        vtm_srv_conf(cmd->server)->group_commit = (int)n;
    }
    return err;
}

/* VoxTwilioAssistantTimeout 6 | 2500ms: the model's share of one speech turn. */
static const char *cmd_assistant_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_interval_time_t t;

    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < apr_time_from_msec(VTM_ASSISTANT_TIMEOUT_MIN_MS)
        || t > apr_time_from_msec(VTM_ASSISTANT_TIMEOUT_MAX_MS)) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a time from %dms to %ds (e.g. 6 or "
                            "2500ms), below Twilio's 15 s webhook limit",
                            cmd->cmd->name, arg, VTM_ASSISTANT_TIMEOUT_MIN_MS,
                            VTM_ASSISTANT_TIMEOUT_MAX_MS / 1000);
    }
    vtm_srv_conf(cmd->server)->assistant_timeout_ms = apr_time_as_msec(t);
    return NULL;
}

/* VoxTwilioHelper PATH|Off: an executable file, checked now so `apachectl -t` reports it. */
static const char *cmd_helper(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path, *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_finfo_t fi;

    if (err) {
        return err;
    }
    if (strcasecmp(arg, "Off") == 0) {
        vtm_srv_conf(cmd->server)->helper = VTM_HELPER_OFF;
        return NULL;
    }
    path = ap_server_root_relative(cmd->pool, arg);
    if (!path || !*arg) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    if (apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || fi.filetype != APR_REG || access(path, X_OK) != 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an executable file (give the path "
                            "of voxtwilio-helper, or Off when it runs under systemd)",
                            cmd->cmd->name, path);
    }
    vtm_srv_conf(cmd->server)->helper = path;
    return NULL;
}

/* libpq's keyword=value syntax (or a postgres:// URI), checked roughly here so a typo shows
 * at `apachectl -t`; the helper checks it exactly (and exits 254). Never echoes the value:
 * it may hold a password. */
static int conninfo_plausible(const char *s)
{
    if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) {
        return !strpbrk(s, " \t\r\n");
    }
    while (*s) {
        const char *kw;

        while (apr_isspace(*s)) {
            s++;
        }
        if (!*s) {
            break;
        }
        for (kw = s; apr_isalnum(*s) || *s == '_'; s++) {
        }
        if (s == kw) {
            return 0;
        }
        while (apr_isspace(*s)) {
            s++;
        }
        if (*s++ != '=') {
            return 0;
        }
        while (apr_isspace(*s)) {
            s++;
        }
        if (*s == '\'') {
            for (s++; *s && *s != '\''; s++) {
                if (*s == '\\' && s[1]) {
                    s++;
                }
            }
            if (*s++ != '\'') {
                return 0;
            }
        }
        else {
            for (; *s && !apr_isspace(*s); s++) {
                if (*s == '\\' && s[1]) {
                    s++;
                }
            }
        }
    }
    return 1;
}

static const char *cmd_helper_db(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *p;

    if (err) {
        return err;
    }
    for (p = arg; *p; p++) {
        if (apr_iscntrl(*p) && *p != '\t') {
            break;
        }
    }
    if (!*arg || *p || !conninfo_plausible(arg)) {
        return apr_psprintf(cmd->pool, "%s: not a libpq connection string (keyword=value "
                            "pairs, e.g. \"host=/run/postgresql dbname=voxtwilio\", or a "
                            "postgresql:// URI); normally the same string as DBDParams",
                            cmd->cmd->name);
    }
    vtm_srv_conf(cmd->server)->helper_db = arg;
    return NULL;
}

/* VoxTwilioSpoolDir (kept as given: resolved against DefaultRuntimeDir at start, which may
 * be set after it) and VoxTwilioRecordingsDir (ServerRoot-relative); cmd->info says which. */
#define DIR_SPOOL ((void *)1)
#define DIR_RECORDINGS ((void *)2)

static const char *cmd_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    vtm_srv_conf_t *c = vtm_srv_conf(cmd->server);
    const char *path, *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    path = *arg ? (cmd->info == DIR_SPOOL ? arg : ap_server_root_relative(cmd->pool, arg))
                : NULL;
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid directory '%s'", cmd->cmd->name, arg);
    }
    if (cmd->info == DIR_SPOOL) {
        c->spool_dir = path;
    }
    else {
        c->recordings_dir = path;
    }
    return NULL;
}

/* VoxTwilioStreamSocket PATH|Off (kept as given: resolved against DefaultRuntimeDir at
 * start, like VoxTwilioSpoolDir). */
static const char *cmd_stream_socket(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err) {
        return err;
    }
    if (strcasecmp(arg, "Off") == 0) {
        vtm_srv_conf(cmd->server)->stream_socket = VTM_STREAM_SOCKET_OFF;
        return NULL;
    }
    if (!*arg || strlen(arg) > 100) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a socket path of 1 to 100 "
                            "characters, or Off", cmd->cmd->name, arg);
    }
    vtm_srv_conf(cmd->server)->stream_socket = arg;
    return NULL;
}

/* VoxTwilioStreamDirect wss://HOST[:PORT] [ADDRESS:]PORT — the helper also serves streams
 * on that port, for a load balancer; <Stream url> then names the balancer. */
static const char *cmd_stream_direct(cmd_parms *cmd, void *dc, const char *url,
                                     const char *listen)
{
    vtm_srv_conf_t *c = vtm_srv_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY), *host;
    int port;

    if (err) {
        return err;
    }
    if (!vt_stream_direct_parse(cmd->pool, url, listen, &c->stream_direct_url, &host, &port,
                                &err)) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name, err);
    }
    c->stream_direct_listen = listen;
    return NULL;
}

/* VoxTwilioStreamMax N and VoxTwilioStreamTimeout SECONDS; cmd->info says which. */
#define STREAM_MAX ((void *)1)
#define STREAM_TIMEOUT ((void *)2)

static const char *cmd_stream_int(cmd_parms *cmd, void *dc, const char *arg)
{
    vtm_srv_conf_t *c = vtm_srv_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t n;

    if (err) {
        return err;
    }
    if (cmd->info == STREAM_MAX) {
        if (!(err = int_arg(cmd, arg, 1, 100000, "streams", &n))) {
            c->stream_max = (int)n;
        }
    }
    else if (!(err = int_arg(cmd, arg, 1, 3600, "seconds", &n))) {
        c->stream_timeout_s = (int)n;
    }
    return err;
}

/* VoxTwilioRealtimeTimeout 4 | 1500ms: a realtime model owing an answer this long failed. */
static const char *cmd_realtime_timeout(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t t;

    if (err) {
        return err;
    }
    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < apr_time_from_msec(200) || t > apr_time_from_sec(60)) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be a time from 200ms to 60s (e.g. 4 "
                            "or 2500ms)", cmd->cmd->name, arg);
    }
    vtm_srv_conf(cmd->server)->realtime_timeout_ms = apr_time_as_msec(t);
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
    AP_INIT_TAKE1("VoxTwilioAssistantTimeout", cmd_assistant_timeout, NULL, RSRC_CONF,
                  "Longest wait for a tenant's language model in one speech turn, in "
                  "seconds or with ms (default 6); then the script assistant or an apology "
                  "answers"),
    AP_INIT_TAKE1("VoxTwilioAssistantCache", cmd_assistant_cache, NULL, RSRC_CONF,
                  "Tenants whose parsed assistant (script, languages) each child keeps in "
                  "memory (default 256; 0 parses it at every turn)"),
    AP_INIT_TAKE1("VoxTwilioTenantCache", cmd_tenant_cache, NULL, RSRC_CONF,
                  "Tenant rows (numbers, slugs) each child keeps, checked by each webhook's "
                  "own statement (default 1024; 0 looks the tenant up at every webhook)"),
    AP_INIT_TAKE1("VoxTwilioGroupCommit", cmd_group_commit, NULL, RSRC_CONF,
                  "Off (default), or how many groups of webhook writes each child commits "
                  "at once: writes arriving together share one transaction"),
    AP_INIT_FLAG("VoxTwilioSignature", cmd_signature, NULL, RSRC_CONF,
                 "Off disables X-Twilio-Signature checks (testing only; default On)"),
    AP_INIT_TAKE1("VoxTwilioHelper", cmd_helper, NULL, RSRC_CONF,
                  "Path of voxtwilio-helper, started and supervised by httpd, or Off when "
                  "it runs on its own (default " VTM_DEFAULT_HELPER ")"),
    AP_INIT_TAKE1("VoxTwilioHelperDB", cmd_helper_db, NULL, RSRC_CONF,
                  "libpq connection string of the helper (normally the same as DBDParams); "
                  "the helper is started only when it is set"),
    AP_INIT_TAKE1("VoxTwilioSpoolDir", cmd_dir, DIR_SPOOL, RSRC_CONF,
                  "Where webhooks received during a database outage wait for the helper "
                  "(default voxtwilio-spool below DefaultRuntimeDir)"),
    AP_INIT_TAKE1("VoxTwilioRecordingsDir", cmd_dir, DIR_RECORDINGS, RSRC_CONF,
                  "Where the helper stores downloaded call recordings (default: it "
                  "downloads none)"),
    AP_INIT_TAKE1("VoxTwilioStreamSocket", cmd_stream_socket, NULL, RSRC_CONF,
                  "Unix socket the helper serves Media Streams on, for ProxyPass unix:... "
                  "(default voxtwilio/stream.sock below DefaultRuntimeDir), or Off"),
    AP_INIT_TAKE2("VoxTwilioStreamDirect", cmd_stream_direct, NULL, RSRC_CONF,
                  "wss://HOST[:PORT] of a load balancer and [ADDRESS:]PORT: the helper also "
                  "serves Media Streams there, without Apache's tunnel"),
    AP_INIT_TAKE1("VoxTwilioStreamMax", cmd_stream_int, STREAM_MAX, RSRC_CONF,
                  "Media Streams the helper serves at once (default 1000)"),
    AP_INIT_TAKE1("VoxTwilioStreamTimeout", cmd_stream_int, STREAM_TIMEOUT, RSRC_CONF,
                  "Seconds a stream may stay silent on Twilio's side before the helper "
                  "closes it (default 10)"),
    AP_INIT_TAKE1("VoxTwilioRealtimeTimeout", cmd_realtime_timeout, NULL, RSRC_CONF,
                  "How long a realtime model may owe an answer before the caller hears an "
                  "apology and the call goes on without it (default 4)"),
    { NULL }
};
