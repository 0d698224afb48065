/* mod_voxtwilio — AI voice assistant gateway for Twilio.
 *
 * This file only wires things together: the module record, the configuration
 * create/merge callbacks and the hooks. The work is done in vtm_*.c (httpd glue) over
 * the core library vt_*.c (no httpd headers), which the helper, the admin tool and the
 * simulator share.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <http_core.h>
#include <http_request.h>
#include <mpm_common.h>
#include "vt_log.h"
#include "vt_rest.h"
#include "vtm_conversation.h"
#include "vtm_handler.h"
#include "vtm_db.h"
#include "vtm_helper_proc.h"
#include "vtm_llm.h"
#include "vtm_status.h"
#include "vtm_module.h"
#include "vtm_spool.h"
#include "vtm_stream.h"


static void *create_srv_conf(apr_pool_t *p, server_rec *s)
{
    return vtm_srv_conf_create(p);
}

static void *merge_srv_conf(apr_pool_t *p, void *base, void *add)
{
    return vtm_srv_conf_merge(p, base, add);
}

/* The core library logs through this sink into the main server's error log. */
static void core_log_sink(void *baton, vt_log_level_t level, const char *file, int line,
                          const char *msg)
{
    ap_log_error(file, line, APLOG_MODULE_INDEX, (int)level, 0, (server_rec *)baton, "%s", msg);
}

/* Runs after the configuration is read and merged, also for `apachectl -t`: the checks
 * that need the whole configuration. */
static int check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *v;
    int ok = 1;

    for (v = s; v; v = v->next) {
        vtm_srv_conf_t *c = vtm_srv_conf(v);

        vtm_srv_conf_apply_defaults(c);
        /* Known only now: DefaultRuntimeDir may come after VoxTwilioSpoolDir. */
        c->spool_dir = ap_runtime_dir_relative(pconf, c->spool_dir);
        if (!c->spool_dir) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, v,
                         VTLOGNO(10426) "VoxTwilioSpoolDir: invalid path");
            ok = 0;
        }
        if (*c->stream_socket) {
            c->stream_socket = ap_runtime_dir_relative(pconf, c->stream_socket);
            if (!c->stream_socket || strlen(c->stream_socket) > 107) {
                ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, v,
                             VTLOGNO(10427) "VoxTwilioStreamSocket: the path must be at most "
                             "107 characters once below DefaultRuntimeDir");
                ok = 0;
            }
        }
        else if (c->stream_direct_url) {
            /* The direct listener is a second door to the same streams. */
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, v,
                         VTLOGNO(10428) "VoxTwilioStreamDirect needs stream mode: "
                         "VoxTwilioStreamSocket is Off");
            ok = 0;
        }
        if (c->enabled && c->signature && !c->keyring) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, v,
                         VTLOGNO(10001) "VoxTwilio On in %s:%u needs VoxTwilioKeyFile (at "
                         "server level) to decrypt the tenants' Twilio credentials",
                         v->server_hostname ? v->server_hostname : "(main server)",
                         (unsigned)v->port);
            ok = 0;
        }
    }
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    server_rec *v;

    vt_log_set_sink(core_log_sink, s, VT_LOG_DEBUG);
    /* Before any child or thread exists (libcurl's global init is not thread-safe). */
    vt_rest_global_init();
    /* httpd runs post_config twice at start; warn once. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    for (v = s; v; v = v->next) {
        vtm_srv_conf_t *c = vtm_srv_conf(v);
        if (c->enabled && !c->signature) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, v,
                         VTLOGNO(10002) "VoxTwilioSignature Off in %s:%u: webhooks are NOT "
                         "authenticated; anyone can impersonate Twilio (use for testing only)",
                         v->server_hostname ? v->server_hostname : "(main server)",
                         (unsigned)v->port);
        }
    }
    /* Before the helper starts: the supervisor publishes its pid in these counters. */
    vtm_status_init(s);
    if (vtm_spool_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return vtm_helper_post_config(pconf, s);
}

static void child_init(apr_pool_t *pchild, server_rec *s)
{
    vtm_helper_child_init(pchild, s);
    vtm_llm_child_init(pchild, s);
    vtm_conversation_child_init(pchild, s);
    vtm_handler_child_init(pchild, s);
    vtm_db_child_init(pchild, s);
}

static void register_hooks(apr_pool_t *p)
{
    ap_hook_check_config(check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(vtm_helper_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(vtm_handler, NULL, NULL, APR_HOOK_MIDDLE);
    /* Stream upgrades are checked before mod_proxy tunnels them (its handler runs first). */
    ap_hook_fixups(vtm_stream_fixups, NULL, NULL, APR_HOOK_FIRST);
    vtm_status_register_hooks(p);
}

AP_DECLARE_MODULE(voxtwilio) = {
    STANDARD20_MODULE_STUFF,
    NULL, /* no per-directory configuration */
    NULL,
    create_srv_conf,
    merge_srv_conf,
    vtm_cmds,
    register_hooks,
    AP_MODULE_FLAG_ALWAYS_MERGE
};
