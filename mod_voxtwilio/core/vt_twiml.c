/* vt_twiml — TwiML writer with escaping that no caller-supplied value can escape. */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include "vt_twiml.h"

#define VT_TWIML_MAX_DEPTH 8

struct vt_twiml {
    apr_pool_t *pool;
    struct {
        char *data;
        apr_size_t len, cap;
    } buf;
    const char *open[VT_TWIML_MAX_DEPTH];
    int depth;
};

static void buf_put(vt_twiml_t *t, const char *s, apr_size_t n)
{
    if (t->buf.len + n + 1 > t->buf.cap) {
        apr_size_t cap = t->buf.cap * 2;
        while (cap < t->buf.len + n + 1) {
            cap *= 2;
        }
        char *d = apr_palloc(t->pool, cap);
        memcpy(d, t->buf.data, t->buf.len);
        t->buf.data = d;
        t->buf.cap = cap;
    }
    memcpy(t->buf.data + t->buf.len, s, n);
    t->buf.len += n;
    t->buf.data[t->buf.len] = '\0';
}

static void buf_puts(vt_twiml_t *t, const char *s)
{
    buf_put(t, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0 if invalid.
 * Rejects overlongs, surrogates and code points above U+10FFFF. */
static apr_size_t utf8_seq_len(const unsigned char *s, apr_size_t n, unsigned long *cp)
{
    unsigned char c = s[0];
    apr_size_t len, i;
    unsigned long v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    }
    else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    }
    else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    }
    else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        return 0;
    }
    *cp = v;
    return len;
}

static void escape_into(vt_twiml_t *t, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    apr_size_t n = strlen(s);

    while (n > 0) {
        unsigned long cp;
        apr_size_t len = utf8_seq_len(p, n, &cp);

        if (len == 0) {
            buf_puts(t, "\xEF\xBF\xBD"); /* U+FFFD for each invalid byte */
            p++, n--;
            continue;
        }
        switch (cp) {
        case '&': buf_puts(t, "&amp;"); break;
        case '<': buf_puts(t, "&lt;"); break;
        case '>': buf_puts(t, "&gt;"); break;
        case '"': buf_puts(t, "&quot;"); break;
        case '\'': buf_puts(t, "&apos;"); break;
        default:
            /* XML 1.0 allows only TAB, LF, CR below 0x20, and not U+FFFE/U+FFFF. */
            if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE
                || cp == 0xFFFF) {
                break;
            }
            buf_put(t, (const char *)p, len);
        }
        p += len, n -= len;
    }
}

char *vt_xml_escape(apr_pool_t *p, const char *s)
{
    vt_twiml_t t = { .pool = p };

    t.buf.cap = strlen(s) + 16;
    t.buf.data = apr_palloc(p, t.buf.cap);
    t.buf.data[0] = '\0';
    escape_into(&t, s);
    return t.buf.data;
}

vt_twiml_t *vt_twiml_create(apr_pool_t *p)
{
    vt_twiml_t *t = apr_pcalloc(p, sizeof(*t));

    t->pool = p;
    t->buf.cap = 512;
    t->buf.data = apr_palloc(p, t->buf.cap);
    buf_puts(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
    return t;
}

static void start_tag(vt_twiml_t *t, const char *verb, va_list ap)
{
    const char *name;

    buf_puts(t, "<");
    buf_puts(t, verb);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        if (value == NULL) {
            continue;
        }
        buf_puts(t, " ");
        buf_puts(t, name);
        buf_puts(t, "=\"");
        escape_into(t, value);
        buf_puts(t, "\"");
    }
}

void vt_twiml_open(vt_twiml_t *t, const char *verb, ...)
{
    va_list ap;

    va_start(ap, verb);
    start_tag(t, verb, ap);
    va_end(ap);
    buf_puts(t, ">");
    if (t->depth < VT_TWIML_MAX_DEPTH) {
        t->open[t->depth++] = verb;
    }
}

void vt_twiml_leaf(vt_twiml_t *t, const char *verb, const char *text, ...)
{
    va_list ap;

    va_start(ap, text);
    start_tag(t, verb, ap);
    va_end(ap);
    if (text == NULL) {
        buf_puts(t, "/>");
        return;
    }
    buf_puts(t, ">");
    escape_into(t, text);
    buf_puts(t, "</");
    buf_puts(t, verb);
    buf_puts(t, ">");
}

void vt_twiml_close(vt_twiml_t *t)
{
    if (t->depth > 0) {
        const char *verb = t->open[--t->depth];
        buf_puts(t, "</");
        buf_puts(t, verb);
        buf_puts(t, ">");
    }
}

const char *vt_twiml_finish(vt_twiml_t *t, apr_size_t *len)
{
    while (t->depth > 0) {
        vt_twiml_close(t);
    }
    buf_puts(t, "</Response>");
    if (len) {
        *len = t->buf.len;
    }
    return t->buf.data;
}
