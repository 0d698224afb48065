/* vt_messages — how an inbound SMS or WhatsApp webhook becomes rows, for the module (live)
 * and the helper (replaying a spooled one), as vt_events does for calls.
 *
 * A message is stored once per MessageSid however often Twilio delivers it, under the
 * customer who sent it (one per tenant and phone, created by the first message; WhatsApp's
 * `whatsapp:+E164` is kept as +E164 with the channel on the message). Its media stay at
 * Twilio's URLs, listed with their content types. The statement writes only while the
 * company still has the tenant version the caller read (as every cached route's).
 */
#ifndef VT_MESSAGES_H
#define VT_MESSAGES_H

#include "vt_events.h"

#define VT_MESSAGE_MEDIA_MAX 10 /* Twilio's NumMedia limit */

/* The MessageSid of a webhook (SM… or MM…), or NULL. */
const char *vt_message_sid(const apr_array_header_t *params);

/* The media of a webhook (NumMedia, MediaUrl{N}, MediaContentType{N}) as a JSON array of
 * {"url", "content_type"}, or NULL with *err (NumMedia not 0..10, a URL missing or not
 * https). */
const char *vt_message_media_json(apr_pool_t *p, const apr_array_header_t *params,
                                  const char **err);

/* The consent ledger's last word on ($1 company id, $2 phone, $3 channel): one row
 * (granted "t"/"f", method, when as "YYYY-MM-DD HH:MM:SSZ") or none. libpq placeholders:
 * for the helper and voxtwilio-admin, which both refuse to send to (or call) a refusal. */
#define VT_CONSENT_STATE_SQL                                                                \
    "SELECT granted, method, to_char(created_at AT TIME ZONE 'UTC', "                        \
    "'YYYY-MM-DD HH24:MI:SS\"Z\"') FROM consent_events WHERE company_id = $1::bigint "         \
    "AND phone = $2 AND channel = $3 ORDER BY id DESC LIMIT 1"

/* sms and whatsapp: the message, its customer, and a STOP or START in the consent ledger.
 * Returns one row: VT_MESSAGE_COL_CURRENT is 1 while the tenant's version is current (else
 * 0: nothing written), then what the tenant's rules need. */
enum {
    VT_MESSAGE_COL_CURRENT = 0,
    VT_MESSAGE_COL_KNOWN,     /* "t": the customer was seen before this message */
    VT_MESSAGE_COL_CONSENT,   /* the ledger's last word for this channel: "t", "f" or NULL */
    VT_MESSAGE_COL_WEEKDAY,   /* now in the tenant's time zone: 1 Monday .. 7 Sunday */
    VT_MESSAGE_COL_MINUTE,    /* .. and the minute of that day */
    VT_MESSAGE_COL_RULES,     /* the tenant's rules document, or NULL */
    VT_MESSAGE_NCOLS
};
extern const vt_event_stmt_t vt_message_inbound_stmt;
vt_event_args_fn vt_message_inbound_args;

/* queued 2 < sending 3 < sent 4 < delivered, undelivered, failed, canceled 5 < read 6
 * (accepted, scheduled 1); unknown 0. */
int vt_message_status_rank(const char *status);

/* message-status: an outbound message's progress; the row only moves forward (made when
 * the callback comes before the helper recorded it). Returns one row: 1 while the tenant's
 * version is current. */
extern const vt_event_stmt_t vt_message_status_stmt;
vt_event_args_fn vt_message_status_args;

#endif
