/* vt_util — hex, constant-time compare, identifier validators, base URL normalization. */
#include "vt_util.h"

#include <limits.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_network_io.h>
#include <openssl/crypto.h>
#include <json-c/json.h>

static const char vt_hexdigits[] = "0123456789abcdef";

/* Locale-independent on purpose (no isxdigit). */
int vt_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int vt_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int vt_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char vt_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

char *vt_hex_encode(apr_pool_t *p, const unsigned char *buf, apr_size_t len)
{
    char *out = apr_palloc(p, len * 2 + 1);
    for (apr_size_t i = 0; i < len; i++) {
        out[2 * i] = vt_hexdigits[buf[i] >> 4];
        out[2 * i + 1] = vt_hexdigits[buf[i] & 0x0f];
    }
    out[len * 2] = '\0';
    return out;
}

/* Decodes n bytes from hex (which must hold at least 2n chars) into out. */
static int vt_hex_decode_n(const char *hex, unsigned char *out, apr_size_t n)
{
    for (apr_size_t i = 0; i < n; i++) {
        int hi = vt_hex_value((unsigned char)hex[2 * i]);
        int lo = hi < 0 ? -1 : vt_hex_value((unsigned char)hex[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int vt_hex_decode(apr_pool_t *p, const char *hex, unsigned char **out, apr_size_t *outlen)
{
    if (hex == NULL)
        return -1;
    apr_size_t len = strlen(hex);
    if (len % 2 != 0)
        return -1;
    unsigned char *buf = apr_palloc(p, len / 2 + 1); /* +1: never a zero-size allocation */
    if (vt_hex_decode_n(hex, buf, len / 2) != 0)
        return -1;
    *out = buf;
    if (outlen)
        *outlen = len / 2;
    return 0;
}

int vt_hex_decode_fixed(const char *hex, unsigned char *out, apr_size_t outlen)
{
    if (hex == NULL || strlen(hex) != outlen * 2)
        return -1;
    return vt_hex_decode_n(hex, out, outlen);
}

int vt_const_time_eq(const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    /* Lengths are public (a base64 signature, a hex digest): only the contents are secret. */
    if (alen != blen)
        return 0;
    if (alen == 0)
        return 1;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

int vt_e164_valid(const char *s)
{
    if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return 0;
    apr_size_t n = 1;
    while (vt_is_digit((unsigned char)s[n]))
        n++;
    apr_size_t digits = n - 1;
    return s[n] == '\0' && digits >= 2 && digits <= 15;
}

const char *vt_message_address(const char *addr, const char **channel)
{
    static const char wa[] = "whatsapp:";

    if (addr && strncmp(addr, wa, sizeof(wa) - 1) == 0) {
        *channel = "whatsapp";
        addr += sizeof(wa) - 1;
    }
    else {
        *channel = "sms";
    }
    return vt_e164_valid(addr) ? addr : NULL;
}

int vt_sid_valid(const char *s, const char *prefix)
{
    if (s == NULL)
        return 0;
    apr_size_t plen;
    if (prefix != NULL) {
        plen = strlen(prefix);
        if (strncmp(s, prefix, plen) != 0)
            return 0;
    }
    else {
        /* Any prefix: two upper-case letters, as in every Twilio SID. */
        if (!(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'))
            return 0;
        plen = 2;
    }
    for (apr_size_t i = 0; i < 32; i++) {
        if (vt_hex_value((unsigned char)s[plen + i]) < 0)
            return 0;
    }
    return s[plen + 32] == '\0';
}

static int vt_slug_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || vt_is_digit(c);
}

int vt_slug_valid(const char *s)
{
    if (s == NULL || !vt_slug_char((unsigned char)s[0]))
        return 0;
    apr_size_t n = 1;
    while (s[n] != '\0') {
        if (n >= 63 || !(vt_slug_char((unsigned char)s[n]) || s[n] == '-'))
            return 0;
        n++;
    }
    return 1;
}

/* ^[A-Za-z0-9._-]{1,64}$ */
int vt_words(apr_pool_t *p, const char *s, apr_size_t len, int clause_breaks,
             const char ***out)
{
    char *buf = apr_palloc(p, len + 1);
    const char **words = apr_palloc(p, (len + 1) * sizeof *words);
    apr_size_t i, o = 0, start = 0;
    int n = 0;

    for (i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)s[i] : ' ';

        if (c == '\'')
            continue;
        if (c == 0xE2 && i + 2 < len && (unsigned char)s[i + 1] == 0x80
            && (unsigned char)s[i + 2] == 0x99) { /* U+2019, the typographic apostrophe */
            i += 2;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            buf[o++] = (char)c;
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            buf[o++] = (char)(c - 'A' + 'a');
            continue;
        }
        if (o > start) { /* a separator ends the current word */
            buf[o++] = '\0';
            words[n++] = buf + start;
            start = o;
        }
        if (clause_breaks && c && strchr(",;:.!?", c))
            words[n++] = "";
    }
    *out = words;
    return n;
}

apr_size_t vt_utf8_decode(const unsigned char *s, apr_size_t len, unsigned *cp)
{
    unsigned c = s[0], min, v;
    apr_size_t n, i;

    if (c < 0x80) {
        n = 1, v = c;
    }
    else {
        if (c >= 0xC2 && c <= 0xDF)
            n = 2, min = 0x80, v = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 3, min = 0x800, v = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 4, min = 0x10000, v = c & 0x07;
        else
            return 0;
        if (n > len)
            return 0;
        for (i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            v = (v << 6) | (s[i] & 0x3F);
        }
        if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            return 0;
    }
    if (cp)
        *cp = v;
    return n;
}

apr_size_t vt_utf8_chars(const char *s)
{
    apr_size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

int vt_voice_name_valid(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* ^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$ */
int vt_language_valid(const char *s)
{
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = s ? strspn(s, alpha) : 0;

    if (n < 2 || n > 3)
        return 0;
    s += n;
    while (*s) {
        if (*s++ != '-')
            return 0;
        n = strspn(s, alnum);
        if (n < 2 || n > 8)
            return 0;
        s += n;
    }
    return 1;
}

/* Host name characters (RFC 3986 reg-name without percent-encoding or sub-delims). */
static int vt_host_char(unsigned char c)
{
    return vt_is_alpha(c) || vt_is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* Checks ":port" text [s, end): 1-5 digits, no leading zero, 1..65535. */
static int vt_port_valid(const char *s, const char *end)
{
    apr_size_t n = (apr_size_t)(end - s);
    if (n == 0 || n > 5 || s[0] == '0')
        return 0;
    long v = 0;
    for (const char *c = s; c < end; c++) {
        if (!vt_is_digit((unsigned char)*c))
            return 0;
        v = v * 10 + (*c - '0');
    }
    return v >= 1 && v <= 65535;
}

const char *vt_base_url_normalize(apr_pool_t *p, const char *url, const char **err)
{
    const char *dummy;
    if (err == NULL)
        err = &dummy;
    *err = NULL;
    if (url == NULL || *url == '\0') {
        *err = "must not be empty";
        return NULL;
    }
    for (const unsigned char *c = (const unsigned char *)url; *c; c++) {
        if (*c <= 0x20 || *c == 0x7f) {
            *err = "must not contain whitespace or control characters";
            return NULL;
        }
        if (*c >= 0x80) {
            *err = "must contain only ASCII characters (percent-encode the others)";
            return NULL;
        }
    }

    apr_size_t skip;
    if (strncasecmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncasecmp(url, "https://", 8) == 0)
        skip = 8;
    else {
        *err = "must start with http:// or https://";
        return NULL;
    }
    if (strchr(url, '?')) {
        *err = "must not contain a query string";
        return NULL;
    }
    if (strchr(url, '#')) {
        *err = "must not contain a fragment";
        return NULL;
    }

    const char *auth = url + skip;
    const char *auth_end = auth + strcspn(auth, "/");
    if (memchr(auth, '@', (apr_size_t)(auth_end - auth))) {
        *err = "must not contain user info (user@ or user:password@)";
        return NULL;
    }

    /* host[:port], host being a name, an IPv4 address or a bracketed IPv6 literal. */
    const char *host_end;
    if (*auth == '[') {
        const char *rb = memchr(auth, ']', (apr_size_t)(auth_end - auth));
        if (rb == NULL || rb == auth + 1) {
            *err = "invalid IPv6 host";
            return NULL;
        }
        for (const char *c = auth + 1; c < rb; c++) {
            if (!(vt_hex_value((unsigned char)*c) >= 0 || *c == ':' || *c == '.')) {
                *err = "invalid IPv6 host";
                return NULL;
            }
        }
        host_end = rb + 1;
        if (host_end != auth_end && *host_end != ':') {
            *err = "invalid host";
            return NULL;
        }
    }
    else {
        host_end = auth;
        while (host_end < auth_end && *host_end != ':') {
            if (!vt_host_char((unsigned char)*host_end)) {
                *err = "invalid host";
                return NULL;
            }
            host_end++;
        }
    }
    if (host_end == auth) {
        *err = "must contain a host";
        return NULL;
    }
    if (host_end < auth_end && !vt_port_valid(host_end + 1, auth_end)) {
        *err = "invalid port";
        return NULL;
    }

    /* Trailing slashes go: callers append "/path" to the base. */
    apr_size_t len = strlen(url);
    while (len > (apr_size_t)(auth_end - url) && url[len - 1] == '/')
        len--;

    char *out = apr_pstrmemdup(p, url, len);
    for (char *c = out; c < out + (host_end - url); c++)
        *c = (char)vt_lower((unsigned char)*c);
    return out;
}

const char *vt_first_line(apr_pool_t *p, const char *msg)
{
    size_t n;

    if (!msg || !*msg) {
        return "unknown error";
    }
    n = strcspn(msg, "\r\n");
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == '\t')) {
        n--;
    }
    return n ? apr_pstrmemdup(p, msg, n) : "unknown error";
}

const char *vt_ws_url_normalize(apr_pool_t *p, const char *url, const char **err)
{
    const char *as_http, *norm;
    int tls;

    if (url && strncasecmp(url, "ws://", 5) == 0) {
        tls = 0;
    }
    else if (url && strncasecmp(url, "wss://", 6) == 0) {
        tls = 1;
    }
    else {
        *err = "must start with ws:// or wss://";
        return NULL;
    }
    as_http = apr_pstrcat(p, tls ? "https://" : "http://", url + (tls ? 6 : 5), NULL);
    norm = vt_base_url_normalize(p, as_http, err);
    return norm ? apr_pstrcat(p, tls ? "wss://" : "ws://", norm + (tls ? 8 : 7), NULL) : NULL;
}

int vt_stream_path_parse(apr_pool_t *p, const char *path, const char **slug,
                         const char **call_sid)
{
    const char *end, *sid, *sl, *seg;
    static const char stream_seg[] = "/" VT_STREAM_PATH_SEGMENT "/";

    if (!path || strpbrk(path, "?#")) {
        return 0;
    }
    end = path + strlen(path);
    for (sid = end; sid > path && sid[-1] != '/'; sid--) {
    }
    if (sid == path || end - sid != 34) {
        return 0;
    }
    for (sl = sid - 1; sl > path && sl[-1] != '/'; sl--) {
    }
    seg = sl - (sizeof stream_seg - 1);
    if (sl == path || seg < path || strncmp(seg, stream_seg, sizeof stream_seg - 1) != 0) {
        return 0;
    }
    *slug = apr_pstrmemdup(p, sl, (apr_size_t)(sid - 1 - sl));
    *call_sid = apr_pstrmemdup(p, sid, 34);
    return vt_slug_valid(*slug) && vt_sid_valid(*call_sid, "CA");
}

int vt_stream_direct_parse(apr_pool_t *p, const char *url, const char *listen,
                           const char **url_out, const char **host, int *port,
                           const char **err)
{
    const char *norm;
    char *h = NULL, *scope = NULL;
    apr_port_t n = 0;

    if (!url || strncasecmp(url, "wss://", 6) != 0) {
        *err = "the public URL must be wss://... (Twilio only opens wss:// streams)";
        return 0;
    }
    /* The https:// rules of VoxTwilioPublicURL, for the host and path. */
    if (!(norm = vt_base_url_normalize(p, apr_pstrcat(p, "https://", url + 6, NULL), err)))
        return 0;
    /* The balancer passes the path on as Twilio sent it: the URL checked is this origin
     * and the request's path, so a path here could never match. */
    if (strchr(norm + 8, '/')) {
        *err = "the public URL must be wss://HOST[:PORT], without a path";
        return 0;
    }
    if (!listen || apr_parse_addr_port(&h, &scope, &n, listen, p) != APR_SUCCESS || scope
        || n < 1024) {
        *err = "the listen address must be [ADDRESS:]PORT with a port from 1024 to 65535";
        return 0;
    }
    *url_out = apr_pstrcat(p, "wss://", norm + 8, NULL);
    *host = h;
    *port = n;
    return 1;
}

/* ------------------------------------------------------------------ JSON documents */

static int json_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "JSON syntax error at line L, column C (byte B): what", counting from 1 (column in bytes). */
static const char *json_syntax_error(apr_pool_t *p, const char *json, size_t off,
                                     const char *what)
{
    size_t i, line = 1, col = 1;

    for (i = 0; i < off; i++) {
        if (json[i] == '\n') {
            line++;
            col = 1;
        }
        else {
            col++;
        }
    }
    return apr_psprintf(p,
                        "JSON syntax error at line %" APR_SIZE_T_FMT ", column %" APR_SIZE_T_FMT
                        " (byte %" APR_SIZE_T_FMT "): %s",
                        line, col, off, what);
}

struct json_object *vt_json_document(apr_pool_t *p, const char *json, size_t len,
                                     size_t max_len, int depth, const char *not_a_value,
                                     const char **err)
{
    json_tokener *tok;
    json_object *v;
    const char *nul;
    size_t i, end;

    for (i = 0; json && i < len && json_space(json[i]); i++)
        ;
    if (!json || i == len) {
        *err = "empty document";
        return NULL;
    }
    if (len > max_len || len > INT_MAX - 1) {
        *err = apr_psprintf(p, "document too large: %" APR_SIZE_T_FMT " bytes (at most %"
                            APR_SIZE_T_FMT ")", len, max_len);
        return NULL;
    }
    /* json-c reads a NUL as the end of the text: refuse it rather than ignore the rest. */
    if ((nul = memchr(json, '\0', len)) != NULL) {
        *err = json_syntax_error(p, json, (size_t)(nul - json), "NUL byte");
        return NULL;
    }
    if (!(tok = json_tokener_new_ex(depth))) {
        *err = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* The terminating NUL lets the tokener finish a value that ends the text ("5"). */
    v = json_tokener_parse_ex(tok, apr_pstrmemdup(p, json, len), (int)len + 1);
    end = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        enum json_tokener_error te = json_tokener_get_error(tok);

        *err = json_syntax_error(p, json, end < len ? end : len,
                            te == json_tokener_continue ? "unexpected end of the document"
                                                        : json_tokener_error_desc(te));
        json_object_put(v);
        v = NULL;
    }
    else if (!v) {
        *err = not_a_value; /* the literal null */
    }
    else {
        /* Strict mode refuses what follows the value; make sure of it. */
        for (i = end < len ? end : len; i < len && json_space(json[i]); i++)
            ;
        if (i < len) {
            *err = json_syntax_error(p, json, i, "unexpected character");
            json_object_put(v);
            v = NULL;
        }
    }
    json_tokener_free(tok);
    return v;
}

const char *vt_json_key_for_msg(apr_pool_t *p, const char *k)
{
    apr_size_t n = strlen(k), i;
    char *r;

    if (n > 64)
        n = 64;
    r = apr_pstrmemdup(p, k, n);
    for (i = 0; i < n; i++)
        if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
            r[i] = '?';
    return n < strlen(k) ? apr_pstrcat(p, r, "...", NULL) : r;
}
