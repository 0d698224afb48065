/* vtm_config — the module's per-server configuration: one table of members, each
 * with its UNSET sentinel, its default and its merge rule (the vhost's value wins
 * when set). The table is the single source: the struct, create, merge and
 * defaults are all generated from it, and check_config.c tests every member.
 *
 * APR types only (no httpd headers), so the unit tests link it without stubs.
 */
#ifndef VTM_CONFIG_H
#define VTM_CONFIG_H

#include <apr_pools.h>
#include "vt_assistant_cache.h"
#include "vt_tenant_cache.h"
#include "vt_group_commit.h"
#include "vt_keyring.h"

#define VTM_UNSET_INT (-1)

/* X(type, member, unset, default) — directive in the comment. */
#define VTM_SRV_CONF_FIELDS(X)                                                                \
    X(int, enabled, VTM_UNSET_INT, 0)                   /* VoxTwilio On|Off */                \
    X(int, signature, VTM_UNSET_INT, 1)                 /* VoxTwilioSignature On|Off */       \
    X(apr_int64_t, max_body, VTM_UNSET_INT, 65536)      /* VoxTwilioMaxBody bytes */          \
    X(const char *, public_url, NULL, NULL)             /* VoxTwilioPublicURL url */          \
    X(const char *, tenant, NULL, NULL)                 /* VoxTwilioTenant slug */            \
    X(const char *, api_base, NULL, VTM_DEFAULT_API_BASE) /* VoxTwilioAPIBase url */          \
    X(const char *, key_file, NULL, NULL)               /* VoxTwilioKeyFile path (global) */  \
    X(const vt_keyring_t *, keyring, NULL, NULL)        /* loaded from key_file */       \
    X(const char *, helper, NULL, VTM_DEFAULT_HELPER)   /* VoxTwilioHelper path|Off (global) */ \
    X(const char *, helper_db, NULL, NULL)              /* VoxTwilioHelperDB conninfo (gl.) */ \
    X(const char *, spool_dir, NULL, VTM_DEFAULT_SPOOL_DIR) /* VoxTwilioSpoolDir (global) */ \
    X(const char *, recordings_dir, NULL, NULL)         /* VoxTwilioRecordingsDir (global) */ \
    X(apr_int64_t, assistant_timeout_ms, VTM_UNSET_INT, 6000) /* VoxTwilioAssistantTimeout */ \
    X(int, assistant_cache, VTM_UNSET_INT, VT_ASSISTANT_CACHE_DEFAULT) /* VoxTwilioAssistantCache (gl.) */ \
    X(int, tenant_cache, VTM_UNSET_INT, VT_TENANT_CACHE_DEFAULT) /* VoxTwilioTenantCache (gl.) */ \
    X(int, group_commit, VTM_UNSET_INT, 0)              /* VoxTwilioGroupCommit (global) */  \
    X(const char *, stream_socket, NULL, VTM_DEFAULT_STREAM_SOCKET) /* VoxTwilioStreamSocket (gl.) */ \
    X(int, stream_max, VTM_UNSET_INT, 1000)             /* VoxTwilioStreamMax (global) */     \
    X(int, stream_timeout_s, VTM_UNSET_INT, 10)         /* VoxTwilioStreamTimeout (global) */ \
    X(const char *, stream_direct_url, NULL, NULL)      /* VoxTwilioStreamDirect url (gl.) */ \
    X(const char *, stream_direct_listen, NULL, NULL)   /* ... [address:]port */          \
    X(apr_int64_t, realtime_timeout_ms, VTM_UNSET_INT, 4000) /* VoxTwilioRealtimeTimeout (gl.) */

#define VTM_DEFAULT_API_BASE "https://api.twilio.com"
/* The installed helper, next to voxtwilio-admin: $(bindir), from the build. */
#ifndef VT_HELPER_PATH
#error "VT_HELPER_PATH must be defined by the build (see Makefile.am)"
#endif
#define VTM_DEFAULT_HELPER VT_HELPER_PATH
/* Relative to DefaultRuntimeDir (resolved at start); "" after VoxTwilioStreamSocket Off. */
#define VTM_DEFAULT_STREAM_SOCKET "voxtwilio/stream.sock"
#define VTM_STREAM_SOCKET_OFF ""
/* VoxTwilioHelper Off: no path can be empty once made absolute. */
#define VTM_HELPER_OFF ""
/* Relative to DefaultRuntimeDir (resolved at start). */
#define VTM_DEFAULT_SPOOL_DIR "voxtwilio-spool"
#define VTM_MAX_BODY_LIMIT (16 * 1024 * 1024)
/* VoxTwilioAssistantTimeout bounds: Twilio gives up on a webhook after 15 s, and the answer
 * still has to be written and travel back. */
#define VTM_ASSISTANT_TIMEOUT_MIN_MS 500
#define VTM_ASSISTANT_TIMEOUT_MAX_MS 13000

typedef struct vtm_srv_conf {
#define VTM_X_MEMBER(type, name, unset, dflt) type name;
    VTM_SRV_CONF_FIELDS(VTM_X_MEMBER)
#undef VTM_X_MEMBER
} vtm_srv_conf_t;

/* Every member UNSET. */
vtm_srv_conf_t *vtm_srv_conf_create(apr_pool_t *p);
/* add's members where set, else base's. */
vtm_srv_conf_t *vtm_srv_conf_merge(apr_pool_t *p, const vtm_srv_conf_t *base,
                                   const vtm_srv_conf_t *add);
/* Replace every still-UNSET member by its default (done once per server at start). */
void vtm_srv_conf_apply_defaults(vtm_srv_conf_t *c);

#endif
