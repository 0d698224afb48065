/* vt_util — small helpers shared by every component: hex, constant-time compare,
 * validators for Twilio identifiers (E.164 numbers, SIDs, tenant slugs).
 */
#ifndef VT_UTIL_H
#define VT_UTIL_H

#include <apr_pools.h>

/* Value of one hex digit (either case), or -1. */
int vt_hex_value(unsigned char c);
/* Lower-case hex of len bytes. */
char *vt_hex_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len);
/* Decodes hex (either case). Returns 0 on success, -1 on odd length or a non-hex char. */
int vt_hex_decode(apr_pool_t *p, const char *hex, unsigned char **out, apr_size_t *outlen);
/* Decodes exactly outlen bytes of hex into out (no allocation). 0 on success, -1 otherwise. */
int vt_hex_decode_fixed(const char *hex, unsigned char *out, apr_size_t outlen);

/* 1 if equal. Time depends only on the lengths, never on the contents. */
int vt_const_time_eq(const void *a, apr_size_t alen, const void *b, apr_size_t blen);

/* Strict E.164: '+', first digit 1-9, 2..15 digits in all, nothing else. */
int vt_e164_valid(const char *s);
/* A messaging address as Twilio sends From/To: "+E164" (*channel "sms") or
 * "whatsapp:+E164" (*channel "whatsapp"). Its E.164 number, or NULL for anything else (a
 * prefix of another channel, a short code). */
const char *vt_message_address(const char *addr, const char **channel);
/* Twilio SID: two-letter prefix followed by 32 hex digits (34 chars). */
int vt_sid_valid(const char *s, const char *prefix);
/* Tenant slug: [a-z0-9][a-z0-9-]{0,62}. */
int vt_slug_valid(const char *s);
/* Splits s[0..len) into normalized words, as the assistants match and score them: ASCII
 * lower-cased, apostrophes (' and U+2019) dropped so "that's" is "thats", bytes >= 0x80
 * kept as they are; other characters separate words. clause_breaks: each of , ; : . ! ?
 * also yields an empty word "" (where a negation stops). Returns the count; *out in p. */
int vt_words(apr_pool_t *p, const char *s, apr_size_t len, int clause_breaks,
             const char ***out);
/* The UTF-8 sequence at s[0..len) (len >= 1): its length in bytes (1 to 4), with its code
 * point in *cp (cp may be NULL); 0 when it is invalid, overlong, a surrogate, beyond
 * U+10FFFF or cut short. */
apr_size_t vt_utf8_decode(const unsigned char *s, apr_size_t len, unsigned *cp);
/* Code points in a UTF-8 string (continuation bytes do not count), as PostgreSQL's length(). */
apr_size_t vt_utf8_chars(const char *s);
/* A <Say> voice name as Twilio takes it ("Polly.Joanna"): [A-Za-z0-9._-]{1,64}. */
int vt_voice_name_valid(const char *s);
/* A language tag as <Say>/<Gather> take it ("en-US"): [A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*. */
int vt_language_valid(const char *s);

/* The path of a stream-mode call's WebSocket ends in "/stream/{slug}/{CallSid}" (docs/
 * stream-mode.md). path: a path or a whole URL (a query or fragment is refused). 1 with
 * *slug and *call_sid (in p) when it has that shape, else 0. */
#define VT_STREAM_PATH_SEGMENT "stream"
int vt_stream_path_parse(apr_pool_t *p, const char *path, const char **slug,
                         const char **call_sid);

/* The direct stream listener (VoxTwilioStreamDirect, the helper's --stream-listen and
 * --stream-public-url): url is the wss://HOST[:PORT] Twilio connects to (a load balancer
 * that ends TLS and passes the path on; streams are at url/stream/{slug}/{CallSid}), listen "[ADDRESS:]PORT" where the helper listens (port 1024-65535: the helper
 * binds it after dropping root). 1 with *url_out (normalized, no trailing '/'), *host
 * (NULL: every address) and *port; else 0 with *err. */
int vt_stream_direct_parse(apr_pool_t *p, const char *url, const char *listen,
                           const char **url_out, const char **host, int *port,
                           const char **err);

/* The first line of a (possibly multi-line) message such as libpq's, trailing blanks
 * removed; "unknown error" for an empty one. */
const char *vt_first_line(apr_pool_t *p, const char *msg);

/* Validates and normalizes an absolute http(s) URL with no query or fragment, used by
 * VoxTwilioPublicURL / VoxTwilioAPIBase: returns the URL without a trailing '/',
 * or NULL with *err set. */
const char *vt_base_url_normalize(apr_pool_t *p, const char *url, const char **err);
/* The same for a WebSocket endpoint: ws:// or wss://. */
const char *vt_ws_url_normalize(apr_pool_t *p, const char *url, const char **err);

/* A tenant's JSON document (a script, rules) as json-c reads it, strictly: valid UTF-8,
 * nothing after the value, no NUL inside, at most max_len bytes and depth levels. NULL with
 * *err (in p): "empty document", "document too large: …", "JSON syntax error at line L,
 * column C (byte B): what", or not_a_value for the literal null. The caller puts the
 * value. */
struct json_object;
struct json_object *vt_json_document(apr_pool_t *p, const char *json, size_t len,
                                     size_t max_len, int depth, const char *not_a_value,
                                     const char **err);

/* A document's member name as an error message may show it: control characters as '?', at
 * most 64 bytes ("..." marks a cut). */
const char *vt_json_key_for_msg(apr_pool_t *p, const char *k);

#endif
