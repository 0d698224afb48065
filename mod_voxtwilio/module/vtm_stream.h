/* vtm_stream — stream mode's part inside Apache (docs/stream-mode.md).
 *
 * A stream-mode call's `inbound` TwiML names the stream by a URL under the handler's
 * Location: wss://{VoxTwilioPublicURL host}{Location}/stream/{slug}/{CallSid} (no query:
 * Twilio refuses one). Twilio opens it with an X-Twilio-Signature over that exact URL; the
 * sysadmin's `<Location {Location}/stream>` proxies it with mod_proxy_wstunnel to the
 * helper's socket.
 *
 * Before mod_proxy runs (fixups hook), every WebSocket upgrade to such a path in a vhost
 * with `VoxTwilio On` is checked: the tenant of the slug exists, is enabled and has its
 * Twilio integration enabled (else 404), and the signature verifies with its auth token
 * (else 403, no upgrade, nothing said about why). A request that passes goes on to the
 * helper with the URL it was checked against in X-VoxTwilio-Stream-URL (any such header
 * from the client is dropped first), so the helper verifies the same URL again, and is
 * counted as a live stream until its tunnel ends (mod_status).
 */
#ifndef VTM_STREAM_H
#define VTM_STREAM_H

#include <httpd.h>
#include "vtm_config.h"

#define VTM_STREAM_SEGMENT "stream"
/* The header the helper reads the checked URL from (vth_media.c). */
#define VTM_STREAM_URL_HEADER "X-VoxTwilio-Stream-URL"

/* The stream URL of a call, for the inbound request r. */
const char *vtm_stream_url(request_rec *r, const vtm_srv_conf_t *conf, const char *slug,
                           const char *call_sid);

/* The fixups hook: DECLINED to let the request go on, or the HTTP status that refuses it. */
int vtm_stream_fixups(request_rec *r);

#endif
