/* vtm_spool — webhooks that arrive while the database is down, kept on disk for
 * voxtwilio-helper, which replays them once the database is back (verifying each signature
 * again before it writes anything). See docs/helper.md, "The outage spool".
 *
 * One file per request in VoxTwilioSpoolDir, named <received-at µs, 16 digits>-<random>.json
 * (so name order is arrival order), mode 0600, written to a dot-file, fsynced and renamed
 * (the helper never sees half a file), the directory fsynced after the rename. The
 * document is vt_spool_record's.
 */
#ifndef VTM_SPOOL_H
#define VTM_SPOOL_H

#include <httpd.h>

/* Durably stores one webhook. route: "inbound", "status-callback", ...; slug: the tenant from
 * the path or VoxTwilioTenant (NULL: the helper resolves by numbers); signed_url: what
 * vtm_request_signed_url() returns. APR_SUCCESS once the file is on disk; otherwise logged
 * (error) and the caller must answer as if nothing was stored. */
apr_status_t vtm_spool_write(request_rec *r, const char *route, const char *slug,
                             const char *signed_url, const char *body, apr_size_t len);

/* post_config (parent, as root): creates VoxTwilioSpoolDir, mode 0700, owned by httpd's User,
 * when a host has VoxTwilio On. OK, or an error status after logging. */
int vtm_spool_post_config(apr_pool_t *pconf, server_rec *s);

#endif
