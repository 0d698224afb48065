/* vt_stream_msg — Twilio Media Streams messages; see vt_stream_msg.h. The media paths
 * (parse of a media message, vt_sm_media_json) run 50 times a second per call: they
 * allocate nothing of their own and touch each byte a small constant number of times.
 */
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "vt_stream_msg.h"
#include "vt_util.h"

/* ---------------------------------------------------------------- base64 */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define X 0xFF /* not in the alphabet ('=' included: padding is handled apart) */
static const uint8_t b64_value[256] = {
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
    X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
    X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

size_t vt_sm_b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64_alphabet[v >> 18];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    return o;
}

/* The last quantum: 1 to 3 bytes; the bits the padding hides must be zero. */
static int b64_last(const unsigned char *s, uint8_t *out, size_t pad)
{
    unsigned a = b64_value[s[0]], b = b64_value[s[1]];
    unsigned c = pad < 2 ? b64_value[s[2]] : 0, d = pad < 1 ? b64_value[s[3]] : 0;

    if ((a | b | c | d) & 0x80 || (pad == 2 && (b & 0x0F)) || (pad == 1 && (c & 0x03)))
        return -1;
    out[0] = (uint8_t)(a << 2 | b >> 4);
    if (pad < 2)
        out[1] = (uint8_t)(b << 4 | c >> 2);
    if (pad < 1)
        out[2] = (uint8_t)(c << 6 | d);
    return 0;
}

int vt_sm_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i, o = 0, pad = 0, len;

    *outlen = 0;
    if (n % 4 != 0)
        return -1;
    if (n == 0)
        return 0;
    if (s[n - 1] == '=')
        pad = s[n - 2] == '=' ? 2 : 1;
    len = n / 4 * 3 - pad;
    if (len > cap)
        return -2;
    for (i = 0; i + 4 < n; i += 4) {
        unsigned a = b64_value[s[i]], b = b64_value[s[i + 1]];
        unsigned c = b64_value[s[i + 2]], d = b64_value[s[i + 3]];
        if ((a | b | c | d) & 0x80)
            return -1;
        out[o++] = (uint8_t)(a << 2 | b >> 4);
        out[o++] = (uint8_t)(b << 4 | c >> 2);
        out[o++] = (uint8_t)(c << 6 | d);
    }
    if (b64_last(s + i, out + o, pad) != 0)
        return -1;
    *outlen = len;
    return 0;
}

/* ---------------------------------------------------------------- JSON text */

int vt_sm_json_text_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0, n;

    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80) {
            i++;
        }
        else if (c == '\t' || c == '\n' || c == '\r') {
            i++;
        }
        else if (c >= 0x80 && (n = vt_utf8_decode(s + i, len - i, NULL)) != 0) {
            i += n;
        }
        else {
            return 0;
        }
    }
    return 1;
}

/* ---------------------------------------------------------------- writing
 * Every writer appends to an sm_out_t and counts what it would have written, so the end
 * result says whether everything fit. */

typedef struct sm_out {
    char *buf;
    size_t cap, len;
} sm_out_t;

static void put(sm_out_t *o, const char *s, size_t n)
{
    if (o->len <= o->cap && n <= o->cap - o->len)
        memcpy(o->buf + o->len, s, n);
    o->len += n;
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static void put_escape(sm_out_t *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

    switch (c) {
    case '"': PUT_LIT(o, "\\\""); break;
    case '\\': PUT_LIT(o, "\\\\"); break;
    case '\n': PUT_LIT(o, "\\n"); break;
    case '\r': PUT_LIT(o, "\\r"); break;
    case '\t': PUT_LIT(o, "\\t"); break;
    case '\b': PUT_LIT(o, "\\b"); break;
    case '\f': PUT_LIT(o, "\\f"); break;
    default: put(o, e, sizeof e); break;
    }
}

static void put_str(sm_out_t *o, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    const unsigned char *end = s + strlen((const char *)s);

    PUT_LIT(o, "\"");
    while (s < end) {
        const unsigned char *run = s;
        size_t n;
        while (s < end && *s >= 0x20 && *s < 0x80 && *s != '"' && *s != '\\')
            s++;
        put(o, (const char *)run, (size_t)(s - run));
        if (s == end)
            break;
        if (*s < 0x80) {
            put_escape(o, *s++);
        }
        else if ((n = vt_utf8_decode(s, (size_t)(end - s), NULL)) != 0) {
            put(o, (const char *)s, n);
            s += n;
        }
        else {
            PUT_LIT(o, "\xEF\xBF\xBD"); /* U+FFFD for a byte that starts no character */
            s++;
        }
    }
    PUT_LIT(o, "\"");
}

static void put_long(sm_out_t *o, long v)
{
    char d[24];
    size_t i = sizeof d;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;

    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        d[--i] = '-';
    put(o, d + i, sizeof d - i);
}

/* "key":"<decimal>" as Twilio writes its counters; nothing for a negative (absent) one. */
static void put_count(sm_out_t *o, const char *key_colon, size_t klen, long v)
{
    if (v < 0)
        return;
    put(o, key_colon, klen);
    PUT_LIT(o, "\"");
    put_long(o, v);
    PUT_LIT(o, "\"");
}

#define PUT_COUNT(o, lit, v) put_count((o), (lit), sizeof(lit) - 1, (v))

static void put_b64(sm_out_t *o, const uint8_t *in, size_t n)
{
    size_t need = 4 * ((n + 2) / 3);

    if (o->len <= o->cap && need <= o->cap - o->len)
        vt_sm_b64_encode(in, n, o->buf + o->len);
    o->len += need;
}

/* The length, with a NUL after it; or 0 (and an empty string) when it did not fit. */
static size_t finish(sm_out_t *o)
{
    if (o->len >= o->cap) {
        if (o->cap > 0)
            o->buf[0] = '\0';
        return 0;
    }
    o->buf[o->len] = '\0';
    return o->len;
}

size_t vt_sm_json_string(char *out, size_t cap, const char *s)
{
    sm_out_t o = { out, cap, 0 };

    put_str(&o, s);
    return o.len;
}

/* {"event":"<ev>"[,"sequenceNumber":"<seq>"],"streamSid":"<sid>" — the common head. */
static void put_head(sm_out_t *o, const char *event, long seq, const char *sid)
{
    PUT_LIT(o, "{\"event\":\"");
    put(o, event, strlen(event));
    PUT_LIT(o, "\"");
    PUT_COUNT(o, ",\"sequenceNumber\":", seq);
    PUT_LIT(o, ",\"streamSid\":");
    put_str(o, sid);
}

size_t vt_sm_media_json(char *out, size_t cap, const char *stream_sid, const uint8_t *ulaw,
                        size_t n)
{
    sm_out_t o = { out, cap, 0 };

    put_head(&o, "media", -1, stream_sid);
    PUT_LIT(&o, ",\"media\":{\"payload\":\"");
    put_b64(&o, ulaw, n);
    PUT_LIT(&o, "\"}}");
    return finish(&o);
}

size_t vt_sm_mark_json(char *out, size_t cap, const char *stream_sid, const char *name)
{
    return vt_sm_mark_echo_json(out, cap, -1, stream_sid, name);
}

size_t vt_sm_clear_json(char *out, size_t cap, const char *stream_sid)
{
    sm_out_t o = { out, cap, 0 };

    put_head(&o, "clear", -1, stream_sid);
    PUT_LIT(&o, "}");
    return finish(&o);
}

size_t vt_sm_connected_json(char *out, size_t cap)
{
    sm_out_t o = { out, cap, 0 };

    PUT_LIT(&o, "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}");
    return finish(&o);
}

static void put_params(sm_out_t *o, const vt_sm_param_t *params, int nparams)
{
    PUT_LIT(o, ",\"customParameters\":{");
    for (int i = 0; i < nparams; i++) {
        if (i > 0)
            PUT_LIT(o, ",");
        put_str(o, params[i].name);
        PUT_LIT(o, ":");
        put_str(o, params[i].value);
    }
    PUT_LIT(o, "}");
}

size_t vt_sm_start_json(char *out, size_t cap, long seq, const char *stream_sid,
                        const char *account_sid, const char *call_sid,
                        const vt_sm_param_t *params, int nparams)
{
    sm_out_t o = { out, cap, 0 };

    put_head(&o, "start", seq, stream_sid);
    PUT_LIT(&o, ",\"start\":{\"accountSid\":");
    put_str(&o, account_sid);
    PUT_LIT(&o, ",\"streamSid\":");
    put_str(&o, stream_sid);
    PUT_LIT(&o, ",\"callSid\":");
    put_str(&o, call_sid);
    PUT_LIT(&o, ",\"tracks\":[\"inbound\"]");
    put_params(&o, params, nparams);
    PUT_LIT(&o, ",\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,"
                "\"channels\":1}}}");
    return finish(&o);
}

size_t vt_sm_inbound_media_json(char *out, size_t cap, long seq, const char *stream_sid,
                                long chunk, long timestamp_ms, const uint8_t *ulaw, size_t n)
{
    sm_out_t o = { out, cap, 0 };

    put_head(&o, "media", seq, stream_sid);
    PUT_LIT(&o, ",\"media\":{\"track\":\"inbound\"");
    PUT_COUNT(&o, ",\"chunk\":", chunk);
    PUT_COUNT(&o, ",\"timestamp\":", timestamp_ms);
    PUT_LIT(&o, ",\"payload\":\"");
    put_b64(&o, ulaw, n);
    PUT_LIT(&o, "\"}}");
    return finish(&o);
}

size_t vt_sm_mark_echo_json(char *out, size_t cap, long seq, const char *stream_sid,
                            const char *name)
{
    sm_out_t o = { out, cap, 0 };

    put_head(&o, "mark", seq, stream_sid);
    PUT_LIT(&o, ",\"mark\":{\"name\":");
    put_str(&o, name);
    PUT_LIT(&o, "}}");
    return finish(&o);
}

static int dtmf_digit(char c)
{
    return (c >= '0' && c <= '9') || c == '*' || c == '#' || (c >= 'A' && c <= 'D');
}

size_t vt_sm_dtmf_json(char *out, size_t cap, long seq, const char *stream_sid, char digit)
{
    sm_out_t o = { out, cap, 0 };

    if (!dtmf_digit(digit)) {
        o.len = cap; /* a message Twilio never sends: refused like one that does not fit */
        return finish(&o);
    }
    put_head(&o, "dtmf", seq, stream_sid);
    PUT_LIT(&o, ",\"dtmf\":{\"track\":\"inbound_track\",\"digit\":\"");
    put(&o, &digit, 1);
    PUT_LIT(&o, "\"}}");
    return finish(&o);
}

size_t vt_sm_stop_json(char *out, size_t cap, long seq, const char *stream_sid,
                       const char *account_sid, const char *call_sid)
{
    sm_out_t o = { out, cap, 0 };

    put_head(&o, "stop", seq, stream_sid);
    PUT_LIT(&o, ",\"stop\":{\"accountSid\":");
    put_str(&o, account_sid);
    PUT_LIT(&o, ",\"callSid\":");
    put_str(&o, call_sid);
    PUT_LIT(&o, "}}");
    return finish(&o);
}

/* ---------------------------------------------------------------- parsing */

struct vt_sm_parser {
    json_tokener *tok;
    json_object *root;      /* the last message: the strings of its result point into it */
    uint8_t payload[VT_SM_PAYLOAD_MAX];
};

vt_sm_parser_t *vt_sm_parser_create(void)
{
    vt_sm_parser_t *ps = calloc(1, sizeof(*ps));

    if (!ps)
        return NULL;
    ps->tok = json_tokener_new();
    if (!ps->tok) {
        free(ps);
        return NULL;
    }
    /* Strict: no trailing bytes, comments, single quotes or trailing commas. */
    json_tokener_set_flags(ps->tok, JSON_TOKENER_STRICT);
    return ps;
}

void vt_sm_parser_destroy(vt_sm_parser_t *ps)
{
    if (!ps)
        return;
    json_object_put(ps->root);
    json_tokener_free(ps->tok);
    free(ps);
}

/* o[key] if it is there, else NULL. */
static json_object *member(json_object *o, const char *key)
{
    json_object *v;

    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A string with no NUL inside (from "\u0000"), else NULL. */
static const char *string_of(json_object *v, size_t *len)
{
    size_t n;
    const char *s;

    if (!v || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (memchr(s, '\0', n))
        return NULL;
    if (len)
        *len = n;
    return s;
}

/* Optional string member: 0 with *out (NULL when absent), -1 when not a string. */
static int opt_string(json_object *o, const char *key, const char **out)
{
    json_object *v = member(o, key);

    *out = v ? string_of(v, NULL) : NULL;
    return v && !*out ? -1 : 0;
}

/* Optional SID member with that prefix: 0 with *out (NULL when absent), -1 otherwise. */
static int opt_sid(json_object *o, const char *key, const char *prefix, const char **out)
{
    return opt_string(o, key, out) != 0 || (*out && !vt_sid_valid(*out, prefix)) ? -1 : 0;
}

#define COUNT_DIGITS_MAX 18 /* fits a long with room */

/* Optional counter: a decimal string as Twilio sends it, or a JSON integer; *out -1 when
 * absent. 0, or -1 when malformed or negative. */
static int opt_count(json_object *o, const char *key, long *out)
{
    json_object *v = member(o, key);
    const char *s;
    size_t n, i;
    long r = 0;

    *out = -1;
    if (!v)
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        int64_t x = json_object_get_int64(v);
        if (x < 0 || x > 999999999999999999LL)
            return -1;
        *out = (long)x;
        return 0;
    }
    if (!(s = string_of(v, &n)) || n == 0 || n > COUNT_DIGITS_MAX)
        return -1;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        r = r * 10 + (s[i] - '0');
    }
    *out = r;
    return 0;
}

/* An object member, required or not: NULL when absent or of another type. */
static json_object *object_member(json_object *o, const char *key)
{
    json_object *v = member(o, key);

    return v && json_object_is_type(v, json_type_object) ? v : NULL;
}

static const char *parse_connected(json_object *root, vt_stream_msg_t *m)
{
    if (opt_string(root, "protocol", &m->protocol) != 0)
        return "protocol: not a string";
    if (opt_string(root, "version", &m->version) != 0)
        return "version: not a string";
    return NULL;
}

static const char *parse_tracks(json_object *start, vt_stream_msg_t *m)
{
    json_object *t = member(start, "tracks");
    size_t i, n;

    if (!t)
        return NULL;
    if (!json_object_is_type(t, json_type_array))
        return "start.tracks: not an array of strings";
    n = json_object_array_length(t);
    for (i = 0; i < n; i++) {
        const char *s = string_of(json_object_array_get_idx(t, i), NULL);
        if (!s)
            return "start.tracks: not an array of strings";
        /* Other names (none today) are ignored like unknown fields. */
        m->track_inbound |= strcmp(s, "inbound") == 0;
        m->track_outbound |= strcmp(s, "outbound") == 0;
    }
    return NULL;
}

static int int_member_is(json_object *o, const char *key, int64_t want)
{
    json_object *v = member(o, key);

    return v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want;
}

static const char *parse_media_format(json_object *start)
{
    json_object *f = member(start, "mediaFormat");
    const char *enc;

    if (!f)
        return NULL;
    enc = json_object_is_type(f, json_type_object) ? string_of(member(f, "encoding"), NULL)
                                                   : NULL;
    if (!enc || strcmp(enc, "audio/x-mulaw") != 0 || !int_member_is(f, "sampleRate", 8000)
        || !int_member_is(f, "channels", 1))
        return "start.mediaFormat: not audio/x-mulaw, 8000 Hz, mono";
    return NULL;
}

static const char *parse_params(json_object *start, vt_stream_msg_t *m)
{
    json_object *cp = member(start, "customParameters");

    if (!cp)
        return NULL;
    if (!json_object_is_type(cp, json_type_object))
        return "start.customParameters: not an object of strings";
    json_object_object_foreach(cp, key, val) {
        size_t vlen;
        const char *s = string_of(val, &vlen);
        if (!s)
            return "start.customParameters: not an object of strings";
        if (m->nparams == VT_SM_PARAMS_MAX)
            return "start.customParameters: too many";
        if (strlen(key) > VT_SM_NAME_MAX || vlen > VT_SM_NAME_MAX)
            return "start.customParameters: a name or value is too long";
        m->params[m->nparams].name = key;
        m->params[m->nparams++].value = s;
    }
    return NULL;
}

static const char *parse_start(json_object *root, vt_stream_msg_t *m)
{
    json_object *start = object_member(root, "start");
    const char *sid, *err;

    if (!start)
        return "start: missing or not an object";
    if (opt_sid(start, "streamSid", "MZ", &sid) != 0)
        return "start.streamSid: not a stream SID";
    if (sid && m->stream_sid && strcmp(sid, m->stream_sid) != 0)
        return "start.streamSid: not the message's streamSid";
    if (sid)
        m->stream_sid = sid;
    if (!m->stream_sid)
        return "start.streamSid: missing";
    if (opt_sid(start, "accountSid", "AC", &m->account_sid) != 0 || !m->account_sid)
        return "start.accountSid: missing or not an account SID";
    if (opt_sid(start, "callSid", "CA", &m->call_sid) != 0 || !m->call_sid)
        return "start.callSid: missing or not a call SID";
    if ((err = parse_tracks(start, m)) || (err = parse_media_format(start)))
        return err;
    return parse_params(start, m);
}

#define B64_LEN(n) (4 * (((size_t)(n) + 2) / 3))

static const char *parse_media(vt_sm_parser_t *ps, json_object *root, vt_stream_msg_t *m)
{
    json_object *media = object_member(root, "media");
    const char *b64;
    size_t n;

    if (!media)
        return "media: missing or not an object";
    if (opt_string(media, "track", &m->track) != 0
        || (m->track && strcmp(m->track, "inbound") != 0 && strcmp(m->track, "outbound") != 0))
        return "media.track: not inbound or outbound";
    if (opt_count(media, "chunk", &m->chunk) != 0)
        return "media.chunk: not a decimal count";
    if (opt_count(media, "timestamp", &m->timestamp) != 0)
        return "media.timestamp: not a decimal count";
    if (!(b64 = string_of(member(media, "payload"), &n)))
        return "media.payload: missing or not a string";
    if (n > B64_LEN(VT_SM_PAYLOAD_MAX))
        return "media.payload: too large";
    switch (vt_sm_b64_decode(b64, n, ps->payload, sizeof ps->payload, &m->payload_len)) {
    case 0: break;
    case -2: return "media.payload: too large";
    default: return "media.payload: not base64";
    }
    m->payload = ps->payload;
    m->payload_b64 = b64;
    m->payload_b64_len = n;
    return NULL;
}

static const char *parse_mark(json_object *root, vt_stream_msg_t *m)
{
    json_object *mark = object_member(root, "mark");
    size_t n;

    if (!mark)
        return "mark: missing or not an object";
    if (!(m->mark_name = string_of(member(mark, "name"), &n)))
        return "mark.name: missing or not a string";
    if (n > VT_SM_NAME_MAX)
        return "mark.name: too long";
    return NULL;
}

static const char *parse_dtmf(json_object *root, vt_stream_msg_t *m)
{
    json_object *dtmf = object_member(root, "dtmf");
    const char *d;
    size_t n;

    if (!dtmf)
        return "dtmf: missing or not an object";
    d = string_of(member(dtmf, "digit"), &n);
    if (!d || n != 1 || !dtmf_digit(d[0]))
        return "dtmf.digit: not one of 0-9 * # A-D";
    m->digit = d[0];
    return NULL;
}

static const char *parse_stop(json_object *root, vt_stream_msg_t *m)
{
    json_object *stop = member(root, "stop");

    if (!stop)
        return NULL;
    if (!json_object_is_type(stop, json_type_object))
        return "stop: not an object";
    if (opt_sid(stop, "accountSid", "AC", &m->account_sid) != 0)
        return "stop.accountSid: not an account SID";
    if (opt_sid(stop, "callSid", "CA", &m->call_sid) != 0)
        return "stop.callSid: not a call SID";
    return NULL;
}

static const struct {
    const char *name;
    vt_sm_event_t event;
} sm_events[] = {
    { "media", VT_SM_MEDIA },   /* first: nearly every message */
    { "mark", VT_SM_MARK },
    { "start", VT_SM_START },
    { "connected", VT_SM_CONNECTED },
    { "dtmf", VT_SM_DTMF },
    { "stop", VT_SM_STOP },
    { "clear", VT_SM_CLEAR },
};

static vt_sm_event_t event_of(const char *name)
{
    for (size_t i = 0; i < sizeof sm_events / sizeof sm_events[0]; i++)
        if (strcmp(name, sm_events[i].name) == 0)
            return sm_events[i].event;
    return VT_SM_UNKNOWN;
}

/* The message as a JSON object (kept in ps->root), or NULL with *err. */
static json_object *parse_root(vt_sm_parser_t *ps, const char *buf, size_t len,
                               const char **err)
{
    json_object *o;

    if (len > VT_SM_MESSAGE_MAX) {
        *err = "message too large";
        return NULL;
    }
    if (!vt_sm_json_text_valid(buf, len)) {
        *err = "not UTF-8 JSON text";
        return NULL;
    }
    json_tokener_reset(ps->tok);
    o = json_tokener_parse_ex(ps->tok, buf, (int)len);
    ps->root = o;
    /* parse end short of len: a NUL byte, or a value that is not done yet ("1") */
    if (!o || json_tokener_get_parse_end(ps->tok) != len
        || !json_object_is_type(o, json_type_object)) {
        *err = "not a JSON object";
        return NULL;
    }
    return o;
}

static const char *parse_event(vt_sm_parser_t *ps, json_object *root, vt_stream_msg_t *m)
{
    switch (m->event) {
    case VT_SM_MEDIA: return parse_media(ps, root, m);
    case VT_SM_START: return parse_start(root, m);
    case VT_SM_MARK: return parse_mark(root, m);
    case VT_SM_DTMF: return parse_dtmf(root, m);
    case VT_SM_STOP: return parse_stop(root, m);
    case VT_SM_CONNECTED: return parse_connected(root, m);
    default: return NULL;
    }
}

/* The fields every message may have, then the event's own. */
static const char *parse_message(vt_sm_parser_t *ps, const char *buf, size_t len,
                                 vt_stream_msg_t *m)
{
    const char *e = NULL;
    json_object *root = parse_root(ps, buf, len, &e);

    if (!root)
        return e;
    if (!(m->event_name = string_of(member(root, "event"), NULL)))
        return "event: missing or not a string";
    if (opt_count(root, "sequenceNumber", &m->sequence) != 0)
        return "sequenceNumber: not a decimal count";
    if (opt_sid(root, "streamSid", "MZ", &m->stream_sid) != 0)
        return "streamSid: not a stream SID";
    m->event = event_of(m->event_name);
    return parse_event(ps, root, m);
}

int vt_sm_parse(vt_sm_parser_t *ps, const char *buf, size_t len, vt_stream_msg_t *m,
                const char **err)
{
    const char *e;

    memset(m, 0, sizeof(*m));
    m->sequence = m->chunk = m->timestamp = -1;
    json_object_put(ps->root);
    ps->root = NULL;
    if ((e = parse_message(ps, buf, len, m)) != NULL) {
        memset(m, 0, sizeof(*m));
        *err = e;
        return -1;
    }
    return 0;
}
