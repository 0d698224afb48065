/* vt_stt — the language helper and the answer parser of speech-to-text; the exchange is
 * in vt_stt_http.c (so the parser builds without libcurl, for the fuzzer). See vt_stt.h. */
#include <math.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vt_stt.h"
#include "vt_util.h"

static int ascii_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

const char *vt_stt_language(apr_pool_t *p, const char *bcp47)
{
    char lang[4];
    size_t n = 0;

    for (; bcp47 && n < sizeof lang && ascii_alpha(bcp47[n]); n++)
        lang[n] = (char)(bcp47[n] | 0x20); /* ASCII lower case */
    if (n < 2 || n > 3 || (bcp47[n] && bcp47[n] != '-' && bcp47[n] != '_'))
        return NULL;
    lang[n] = '\0';
    /* Whisper names a few languages differently from BCP-47, and knows only two
     * three-letter codes. */
    if (strcmp(lang, "nb") == 0)
        return "no";
    if (strcmp(lang, "fil") == 0)
        return "tl";
    if (n == 3 && strcmp(lang, "haw") != 0 && strcmp(lang, "yue") != 0)
        return NULL;
    return apr_pstrdup(p, lang);
}

/* Code points that end up as a blank: controls (C0, DEL, C1), no-break and line/paragraph
 * separators, the byte-order mark, and the bidirectional overrides (a transcript is shown
 * in logs and the call log: it must not reorder what is around it). */
static int blank_cp(unsigned cp)
{
    return cp <= 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0x2028 || cp == 0x2029
           || (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069)
           || cp == 0xFEFF;
}

/* text[0..len) as one line (see vt_stt_reply_t.text). */
static const char *clean_text(apr_pool_t *p, const char *text, size_t len)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    char *out = apr_palloc(p, VT_STT_TEXT_MAX + 1);
    size_t i = 0, o = 0;
    int space = 0;

    while (i < len) {
        const unsigned char *c = (const unsigned char *)text + i;
        unsigned cp = 0;
        size_t k = vt_utf8_decode(c, len - i, &cp), sl = k;
        const char *seq = (const char *)c;
        if (k == 0) {
            seq = replacement;
            sl = 3;
            k = 1;
        }
        else if (blank_cp(cp)) {
            space = o > 0;
            i += k;
            continue;
        }
        if (o + (size_t)space + sl > VT_STT_TEXT_MAX)
            break;
        if (space)
            out[o++] = ' ';
        space = 0;
        memcpy(out + o, seq, sl);
        o += sl;
        i += k;
    }
    out[o] = '\0';
    return out;
}

/* "" for a transcript of nothing but annotations: Whisper writes "[BLANK_AUDIO]",
 * "[Music]" or "(silence)" for what is no speech, and those are not the caller's words. */
static const char *heard(const char *text)
{
    const char *s = text;

    while (*s == '[' || *s == '(') {
        const char *close = strchr(s, *s == '[' ? ']' : ')');
        if (!close)
            return text;
        s = close + 1;
        while (*s == ' ')
            s++;
    }
    return *s ? text : "";
}

/* A number member of o, or 0 when it has none (or an infinite one). */
static int number_member(json_object *o, const char *key, double *v)
{
    json_object *m;

    if (!json_object_object_get_ex(o, key, &m)
        || !(json_object_is_type(m, json_type_double) || json_object_is_type(m, json_type_int)))
        return 0;
    *v = json_object_get_double(m);
    return isfinite(*v);
}

/* verbose_json: exp(mean avg_logprob) x (1 - the largest no_speech_prob), either factor
 * alone when the other is missing; -1 when the segments say nothing. */
static double segments_confidence(json_object *root)
{
    json_object *segs;
    double logprob = 0, no_speech = -1, v, c = 1;
    size_t n, counted = 0;

    if (!json_object_object_get_ex(root, "segments", &segs)
        || !json_object_is_type(segs, json_type_array))
        return -1;
    n = json_object_array_length(segs);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(segs, i);
        if (!json_object_is_type(s, json_type_object))
            continue;
        if (number_member(s, "avg_logprob", &v)) {
            logprob += v > 0 ? 0 : v; /* a log probability is never positive */
            counted++;
        }
        if (number_member(s, "no_speech_prob", &v) && v > no_speech)
            no_speech = v > 1 ? 1 : v;
    }
    if (!counted && no_speech < 0)
        return -1;
    if (counted)
        c = exp(logprob / (double)counted);
    if (no_speech > 0)
        c *= 1 - no_speech;
    return c < 0 ? 0 : c > 1 ? 1 : c;
}

/* The server's name of the language when it is a plain word or code, else NULL. */
static const char *clean_language(apr_pool_t *p, json_object *root)
{
    json_object *v;
    const char *s;
    size_t n;

    if (!json_object_object_get_ex(root, "language", &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    s = json_object_get_string(v);
    n = (size_t)json_object_get_string_len(v);
    if (n == 0 || n > 32)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!ascii_alpha(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != ' ')
            return NULL;
    return apr_pstrmemdup(p, s, n);
}

/* A whole JSON object of body[0..len) (blanks may follow it); NULL with *why. */
static json_object *json_body(const char *body, size_t len, const char **why)
{
    json_tokener *tok;
    json_object *o;
    size_t end;

    /* json-c reads a NUL as the end of the text: refuse it rather than ignore the rest. */
    if (memchr(body, '\0', len)) {
        *why = "not JSON: a NUL byte";
        return NULL;
    }
    if (!(tok = json_tokener_new())) {
        *why = "out of memory";
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, body, (int)len);
    end = o ? json_tokener_get_parse_end(tok) : 0;
    json_tokener_free(tok);
    while (o && end < len && body[end] && strchr(" \t\r\n", body[end]))
        end++;
    if (!o || end != len || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        *why = "not a JSON object";
        return NULL;
    }
    return o;
}

apr_status_t vt_stt_response_parse(apr_pool_t *p, const char *body, size_t len,
                                   vt_stt_reply_t *reply, const char **why)
{
    json_object *root, *v;
    size_t i = 0;

    memset(reply, 0, sizeof *reply);
    reply->confidence = -1;
    if (len > VT_STT_RESPONSE_MAX) {
        *why = "the answer is too large";
        return APR_EINVAL;
    }
    while (i < len && body[i] && strchr(" \t\r\n", body[i]))
        i++;
    if (i < len && body[i] == '<') {
        *why = "an HTML page instead of a transcript";
        return APR_EINVAL;
    }
    if (i == len || body[i] != '{') {
        /* response_format=text: the transcript itself */
        reply->text = heard(clean_text(p, body, len));
        return APR_SUCCESS;
    }
    if (!(root = json_body(body, len, why)))
        return APR_EINVAL;
    if (!json_object_object_get_ex(root, "text", &v) || !json_object_is_type(v, json_type_string)) {
        *why = json_object_object_get_ex(root, "error", NULL) ? "an error instead of a transcript"
                                                              : "the answer has no text";
        json_object_put(root);
        return APR_EINVAL;
    }
    reply->text = heard(clean_text(p, json_object_get_string(v),
                                   (size_t)json_object_get_string_len(v)));
    reply->language = clean_language(p, root);
    reply->confidence = segments_confidence(root);
    json_object_put(root);
    return APR_SUCCESS;
}
