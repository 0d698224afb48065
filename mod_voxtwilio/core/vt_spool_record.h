/* vt_spool_record — one webhook kept in the outage spool: the document the module writes
 * (vtm_spool.c) while the database is down and the helper reads back to replay it
 * (vth_spool.c). One file per webhook, JSON:
 *
 *   {"version": 1, "route": "status-callback", "url": <the URL Twilio signed>,
 *    "signature": <X-Twilio-Signature or null>, "idempotency_token": <... or null>,
 *    "content_type": "...", "body": <standard base64 of the raw body>,
 *    "received_at": <ISO-8601 UTC, µs>, "tenant": <slug from the path or VoxTwilioTenant,
 *    or absent>}
 *
 * The values come from the request as received (untrusted); decoding is strict and fuzzed
 * (tests/fuzz/fuzz_spool_record.c).
 */
#ifndef VT_SPOOL_RECORD_H
#define VT_SPOOL_RECORD_H

#include <apr_pools.h>
#include <apr_time.h>

#define VT_SPOOL_VERSION 1
#define VT_SPOOL_MAX_BODY (16 * 1024 * 1024) /* the module's VoxTwilioMaxBody limit */

typedef struct vt_spool_record {
    const char *route;             /* "inbound", "status-callback", ... (the helper checks) */
    const char *url;               /* the URL Twilio signed */
    const char *signature;         /* X-Twilio-Signature, or NULL */
    const char *idempotency_token; /* I-Twilio-Idempotency-Token, or NULL */
    const char *content_type;      /* or NULL */
    const char *tenant;            /* a slug, or NULL: the helper resolves by numbers */
    const char *received_at;       /* set by decode (NULL if absent); encode writes its own */
    const char *body;              /* the raw body, NUL-terminated for convenience */
    apr_size_t body_len;
} vt_spool_record_t;

/* The document for rec, received at `received` (rec->received_at is ignored). */
const char *vt_spool_record_encode(apr_pool_t *p, const vt_spool_record_t *rec,
                                   apr_time_t received);
/* Parses buf[0..len). APR_SUCCESS with *rec (allocated in p), or APR_EINVAL with *why
 * saying what is wrong (no value from the document in it). */
apr_status_t vt_spool_record_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                                    vt_spool_record_t *rec, const char **why);

#endif
