/* vt_twiml — a small TwiML writer. Every text and attribute value is XML-escaped
 * (& < > " ' ), invalid UTF-8 is replaced by U+FFFD and characters XML 1.0 forbids
 * are dropped, so no caller-supplied value can break out of the document.
 *
 *   vt_twiml_t *t = vt_twiml_create(p);
 *   vt_twiml_open(t, "Gather", "input", "speech", "action", "speech", NULL);
 *   vt_twiml_leaf(t, "Say", greeting, "voice", voice, NULL);   // NULL-valued attrs are skipped
 *   vt_twiml_close(t);
 *   body = vt_twiml_finish(t, &len);                            // closes </Response>
 */
#ifndef VT_TWIML_H
#define VT_TWIML_H

#include <apr_pools.h>

typedef struct vt_twiml vt_twiml_t;

vt_twiml_t *vt_twiml_create(apr_pool_t *p);
/* Attributes are name, value pairs ending with a single NULL name. A pair whose value
 * is NULL is left out. */
void vt_twiml_open(vt_twiml_t *t, const char *verb, ...) __attribute__((sentinel));
void vt_twiml_leaf(vt_twiml_t *t, const char *verb, const char *text, ...)
    __attribute__((sentinel));
void vt_twiml_close(vt_twiml_t *t);
/* Closes every open element and </Response>; returns the document. */
const char *vt_twiml_finish(vt_twiml_t *t, apr_size_t *len);

/* Escape s for XML text or a double- or single-quoted attribute. */
char *vt_xml_escape(apr_pool_t *p, const char *s);

#endif
