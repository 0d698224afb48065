/* vt_form — strict application/x-www-form-urlencoded parsing and encoding.
 *
 * The input is untrusted and not NUL-terminated: every read is bounded by the length.
 */
#include "vt_form.h"
#include "vt_util.h"

#include <string.h>
#include <apr_strings.h>

/* Decodes s[0..len) into a fresh NUL-terminated string (*out). */
static vt_form_rc vt_form_decode_rc(apr_pool_t *p, const char *s, apr_size_t len, char **out)
{
    char *buf = apr_palloc(p, len + 1); /* decoding never grows the text */
    apr_size_t o = 0;
    for (apr_size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        }
        else if (c == '%') {
            if (len - i < 3)
                return VT_FORM_EBADESCAPE;
            int hi = vt_hex_value((unsigned char)s[i + 1]);
            int lo = vt_hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return VT_FORM_EBADESCAPE;
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        /* A NUL would silently truncate the C string that callers see. */
        if (c == '\0')
            return VT_FORM_ENUL;
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    /* Twilio sends UTF-8; anything else would only fail later, in the database (a text
     * column refuses it), after the caller was answered. */
    for (apr_size_t i = 0; i < o;) {
        apr_size_t n = (unsigned char)buf[i] < 0x80
                           ? 1 : vt_utf8_decode((const unsigned char *)buf + i, o - i, NULL);
        if (n == 0)
            return VT_FORM_EUTF8;
        i += n;
    }
    *out = buf;
    return VT_FORM_OK;
}

char *vt_form_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = NULL;
    if (s == NULL && len > 0)
        return NULL;
    if (vt_form_decode_rc(p, s, len, &out) != VT_FORM_OK)
        return NULL;
    return out;
}

vt_form_rc vt_form_parse(apr_pool_t *p, const char *body, apr_size_t len, int max_params,
                         apr_array_header_t **params)
{
    apr_array_header_t *arr = apr_array_make(p, 16, sizeof(vt_param_t));
    *params = NULL;
    if (body == NULL)
        len = 0;

    apr_size_t pos = 0;
    int count = 0;
    while (pos < len) {
        const char *seg = body + pos;
        const char *amp = memchr(seg, '&', len - pos);
        apr_size_t seglen = amp ? (apr_size_t)(amp - seg) : len - pos;
        pos += seglen + 1; /* may step one past len at the end: the loop then stops */
        if (seglen == 0)
            continue;

        if (max_params < 0 || count >= max_params)
            return VT_FORM_ETOOMANY;
        count++;

        const char *eq = memchr(seg, '=', seglen);
        apr_size_t namelen = eq ? (apr_size_t)(eq - seg) : seglen;
        if (namelen == 0)
            return VT_FORM_EEMPTYNAME;

        char *name, *value;
        vt_form_rc rc = vt_form_decode_rc(p, seg, namelen, &name);
        if (rc != VT_FORM_OK)
            return rc;
        if (eq) {
            rc = vt_form_decode_rc(p, eq + 1, seglen - namelen - 1, &value);
            if (rc != VT_FORM_OK)
                return rc;
        }
        else {
            value = "";
        }
        vt_param_t *pr = apr_array_push(arr);
        pr->name = name;
        pr->value = value;
    }
    *params = arr;
    return VT_FORM_OK;
}

const char *vt_form_strerror(vt_form_rc rc)
{
    switch (rc) {
    case VT_FORM_OK:
        return "ok";
    case VT_FORM_EBADESCAPE:
        return "invalid percent escape (must be % followed by two hex digits)";
    case VT_FORM_ENUL:
        return "NUL byte in a parameter";
    case VT_FORM_ETOOMANY:
        return "too many parameters";
    case VT_FORM_EEMPTYNAME:
        return "parameter with an empty name";
    case VT_FORM_EUTF8:
        return "parameter that is not UTF-8";
    }
    return "unknown form error";
}

const char *vt_params_get(const apr_array_header_t *params, const char *name)
{
    if (params == NULL || name == NULL)
        return NULL;
    const vt_param_t *pr = (const vt_param_t *)params->elts;
    for (int i = 0; i < params->nelts; i++) {
        if (pr[i].name != NULL && strcmp(pr[i].name, name) == 0)
            return pr[i].value;
    }
    return NULL;
}

void vt_params_add(apr_array_header_t *params, const char *name, const char *value)
{
    vt_param_t *pr = apr_array_push(params);
    pr->name = apr_pstrdup(params->pool, name ? name : "");
    pr->value = apr_pstrdup(params->pool, value ? value : "");
}

/* Characters left as they are, as in the WHATWG application/x-www-form-urlencoded
 * serializer; space becomes '+', everything else %XX. */
static int vt_form_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '*';
}

static apr_size_t vt_form_encoded_len(const char *s)
{
    apr_size_t n = 0;
    if (s == NULL)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        n += (vt_form_unreserved(*c) || *c == ' ') ? 1 : 3;
    return n;
}

static char *vt_form_encode_into(char *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL)
        return o;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (vt_form_unreserved(*c)) {
            *o++ = (char)*c;
        }
        else if (*c == ' ') {
            *o++ = '+';
        }
        else {
            *o++ = '%';
            *o++ = hex[*c >> 4];
            *o++ = hex[*c & 0x0f];
        }
    }
    return o;
}

char *vt_form_encode(apr_pool_t *p, const apr_array_header_t *params)
{
    if (params == NULL || params->nelts == 0)
        return apr_pstrdup(p, "");
    const vt_param_t *pr = (const vt_param_t *)params->elts;
    apr_size_t total = 0;
    for (int i = 0; i < params->nelts; i++)
        total += vt_form_encoded_len(pr[i].name) + 1 + vt_form_encoded_len(pr[i].value) + 1;

    char *out = apr_palloc(p, total + 1);
    char *o = out;
    for (int i = 0; i < params->nelts; i++) {
        if (i > 0)
            *o++ = '&';
        o = vt_form_encode_into(o, pr[i].name);
        *o++ = '=';
        o = vt_form_encode_into(o, pr[i].value);
    }
    *o = '\0';
    return out;
}
