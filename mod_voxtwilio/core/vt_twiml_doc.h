/* vt_twiml_doc — a TwiML reader that accepts what Twilio accepts (untrusted input; fuzzed).
 *
 * Used by voxtwilio-sim to play Twilio, so it applies Twilio's own rules, checked in this
 * order:
 *   12300  Content-Type is not text/xml or application/xml (parameters such as charset ok)
 *   12100  chunked transfer encoding (Twilio's client truncates it)
 *   11750  body larger than 64 KB
 *   12100  a byte-order mark, or XML that is not well-formed
 *   12200  root not <Response>, an unknown verb, a noun where its parent does not take it
 *          (<Gather> nests only <Say> <Play> <Pause>; <Dial> only <Number> <Client> <Sip>
 *          <Conference> <Queue>), text between verbs, an element in a namespace, nesting
 *          deeper than 16 levels
 *   13223  <Number> (or <Dial>'s number shortcut text) not an E.164 number
 * and, for Media Streams (twilio-protocol.md §10, §12), in <Connect> and <Start>:
 *   12200  <Connect> without exactly one noun; a <Stream> without url; a <Parameter>
 *          without name
 *   31922  <Stream url> not wss:// (Twilio opens only TLS WebSockets)
 *   31923  <Stream url> not an absolute URL with a host, or with white space, control
 *          characters or a fragment
 *   31920  <Stream url> with a query string (Twilio's handshake fails: use <Parameter>)
 *   31941  <Stream track> other than inbound_track in <Connect> (bidirectional), or than
 *          inbound_track, outbound_track, both_tracks in <Start>
 * <Connect> blocks until its session ends, then goes to its action (method POST or GET);
 * <Start> is not blocking: the next verb runs at once. <Stop><Stream name> needs no url.
 * Voice documents take Say Play Pause Gather Redirect Hangup Reject Dial Record Enqueue
 * Connect Start Stop Leave Refer and the legacy Sms; messaging documents Message Redirect
 * (and the legacy Sms). Attribute names are not checked (Twilio only warns about them).
 *
 *   apr_array_header_t *verbs;  const char *err;
 *   rc = vt_twiml_doc_parse(p, VT_TWIML_VOICE, "text/xml", 0, body, len, &verbs, &err);
 *   if (rc != VT_TWIML_DOC_OK) ... err: "Twilio error 12200 (schema validation): ..."
 */
#ifndef VT_TWIML_DOC_H
#define VT_TWIML_DOC_H

#include <apr_pools.h>
#include <apr_tables.h>

#define VT_TWIML_DOC_MAX (64 * 1024) /* bytes: Twilio's limit for one TwiML answer */

typedef enum { VT_TWIML_VOICE = 0, VT_TWIML_MESSAGING } vt_twiml_kind_t;

/* The values are Twilio's error codes. */
typedef enum {
    VT_TWIML_DOC_OK = 0,
    VT_TWIML_DOC_ETOO_LARGE = 11750,
    VT_TWIML_DOC_EPARSE = 12100,
    VT_TWIML_DOC_ESCHEMA = 12200,
    VT_TWIML_DOC_ECONTENT_TYPE = 12300,
    VT_TWIML_DOC_ENUMBER = 13223,
    VT_TWIML_DOC_ESTREAM_HANDSHAKE = 31920,
    VT_TWIML_DOC_ESTREAM_SCHEME = 31922,
    VT_TWIML_DOC_ESTREAM_URL = 31923,
    VT_TWIML_DOC_ESTREAM_TRACK = 31941
} vt_twiml_doc_rc;

typedef struct vt_twiml_attr {
    const char *name;
    const char *value;
} vt_twiml_attr_t;

typedef struct vt_twiml_verb vt_twiml_verb_t;
struct vt_twiml_verb {
    const char *name;                /* "Say", "Number", ... (SSML elements keep theirs) */
    apr_array_header_t *attrs;       /* of vt_twiml_attr_t, in document order */
    const char *text;                /* text content, leading/trailing white space removed;
                                      * for <Say> with SSML it includes the elements' text */
    apr_array_header_t *children;    /* of vt_twiml_verb_t *: nouns (and SSML under <Say>) */
};

/* Checks the HTTP facts of an answer and parses its body. On success *verbs holds the
 * <Response>'s verbs (vt_twiml_verb_t *, possibly none). On failure *verbs is NULL and *err
 * is a one-line message naming the Twilio error code. content_type NULL: header missing. */
vt_twiml_doc_rc vt_twiml_doc_parse(apr_pool_t *p, vt_twiml_kind_t kind, const char *content_type,
                                   int chunked, const char *body, apr_size_t len,
                                   apr_array_header_t **verbs, const char **err);

/* Twilio's name for the error ("document parse failure", ...). */
const char *vt_twiml_doc_strerror(vt_twiml_doc_rc rc);

/* The attribute's value, or NULL. */
const char *vt_twiml_verb_attr(const vt_twiml_verb_t *v, const char *name);
/* The first child named name, or NULL. */
const vt_twiml_verb_t *vt_twiml_verb_child(const vt_twiml_verb_t *v, const char *name);

/* Resolves ref (an action or Redirect URL, possibly relative) against base, the URL of the
 * current document, as RFC 3986 §5.2 says: "speech?t=2" against
 * "http://h/voice/inbound" gives "http://h/voice/speech?t=2". A fragment of ref is kept.
 * NULL when base has no scheme. */
char *vt_twiml_doc_resolve(apr_pool_t *p, const char *base, const char *ref);

#endif
