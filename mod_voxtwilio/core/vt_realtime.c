/* vt_realtime — the OpenAI-Realtime-compatible protocol, client side; see vt_realtime.h.
 * Client events are rare but for input_audio_buffer.append, which has its own
 * allocation-free writers; server events go through one table of names (GA and beta) and
 * one field reader per event type.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vt_realtime.h"
#include "vt_stream_msg.h"

int vt_rt_dialect_parse(const char *s, vt_rt_dialect_t *d)
{
    if (s && strcmp(s, "ga") == 0)
        *d = VT_RT_GA;
    else if (s && strcmp(s, "beta") == 0)
        *d = VT_RT_BETA;
    else
        return -1;
    return 0;
}

const char *vt_rt_dialect_name(vt_rt_dialect_t d)
{
    return d == VT_RT_BETA ? "beta" : "ga";
}

/* ---------------------------------------------------------------- append (per frame) */

#define APPEND_HEAD "{\"type\":\"input_audio_buffer.append\",\"audio\":\""
#define APPEND_TAIL "\"}"
#define APPEND_FIXED (sizeof(APPEND_HEAD) - 1 + sizeof(APPEND_TAIL) - 1)

/* The message around b64_len characters of base64 at out + strlen(APPEND_HEAD), or 0. */
static size_t append_frame(char *out, size_t cap, size_t b64_len)
{
    if (cap <= APPEND_FIXED || b64_len >= cap - APPEND_FIXED) {
        if (cap > 0)
            out[0] = '\0';
        return 0;
    }
    memcpy(out, APPEND_HEAD, sizeof(APPEND_HEAD) - 1);
    memcpy(out + sizeof(APPEND_HEAD) - 1 + b64_len, APPEND_TAIL, sizeof(APPEND_TAIL));
    return APPEND_FIXED + b64_len;
}

static int b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '+' || c == '/' || c == '=';
}

size_t vt_rt_append_json(char *out, size_t cap, const char *b64, size_t b64_len)
{
    size_t n = append_frame(out, cap, b64_len);
    char *dst = out + sizeof(APPEND_HEAD) - 1;

    if (n == 0)
        return 0;
    /* Copied as it is, but never a byte that would break the JSON string. */
    for (size_t i = 0; i < b64_len; i++) {
        if (!b64_char((unsigned char)b64[i])) {
            out[0] = '\0';
            return 0;
        }
        dst[i] = b64[i];
    }
    return n;
}

size_t vt_rt_append_raw_json(char *out, size_t cap, const uint8_t *audio, size_t n)
{
    size_t len = append_frame(out, cap, 4 * ((n + 2) / 3));

    if (len > 0)
        vt_sm_b64_encode(audio, n, out + sizeof(APPEND_HEAD) - 1);
    return len;
}

/* ---------------------------------------------------------------- other client events */

/* s as a JSON string, quotes included. */
static const char *jstr(apr_pool_t *p, const char *s)
{
    size_t n = vt_sm_json_string(NULL, 0, s);
    char *r = apr_palloc(p, n + 1);

    vt_sm_json_string(r, n, s);
    r[n] = '\0';
    return r;
}

/* ,"key":<s as JSON> — or "" when s is NULL. */
static const char *opt_field(apr_pool_t *p, const char *key, const char *s)
{
    return s ? apr_pstrcat(p, ",\"", key, "\":", jstr(p, s), NULL) : "";
}

const char *vt_rt_response_create(apr_pool_t *p, const char *instructions)
{
    if (!instructions)
        return "{\"type\":\"response.create\"}";
    return apr_pstrcat(p, "{\"type\":\"response.create\",\"response\":{\"instructions\":",
                       jstr(p, instructions), "}}", NULL);
}

const char *vt_rt_response_cancel(apr_pool_t *p, const char *response_id)
{
    return apr_pstrcat(p, "{\"type\":\"response.cancel\"",
                       opt_field(p, "response_id", response_id), "}", NULL);
}

const char *vt_rt_item_truncate(apr_pool_t *p, const char *item_id, int content_index,
                                long audio_end_ms)
{
    return apr_psprintf(p, "{\"type\":\"conversation.item.truncate\",\"item_id\":%s,"
                        "\"content_index\":%d,\"audio_end_ms\":%ld}",
                        jstr(p, item_id), content_index < 0 ? 0 : content_index,
                        audio_end_ms < 0 ? 0 : audio_end_ms);
}

const char *vt_rt_function_output(apr_pool_t *p, const char *call_id, const char *output)
{
    return apr_pstrcat(p, "{\"type\":\"conversation.item.create\",\"item\":"
                       "{\"type\":\"function_call_output\",\"call_id\":", jstr(p, call_id),
                       ",\"output\":", jstr(p, output), "}}", NULL);
}

/* ---------------------------------------------------------------- session.update */

/* The threshold in [0, 1] to at most three decimals, written by hand: printf's "%g"
 * follows LC_NUMERIC, and some locales write "0,5". 0 (or below, or NaN) means 0.5. */
static const char *threshold_text(apr_pool_t *p, double t)
{
    char *d = apr_pstrdup(p, "0.000");
    long k = t > 0.0 ? (long)((t < 1.0 ? t : 1.0) * 1000.0 + 0.5) : 500;
    int n = 5;

    if (k >= 1000)
        return "1.0";
    d[2] = (char)('0' + k / 100);
    d[3] = (char)('0' + k / 10 % 10);
    d[4] = (char)('0' + k % 10);
    while (n > 3 && d[n - 1] == '0')
        d[--n] = '\0';
    return d;
}

static const char *turn_detection(apr_pool_t *p, const vt_rt_session_t *s)
{
    return apr_psprintf(p, "{\"type\":\"server_vad\",\"threshold\":%s,\"prefix_padding_ms\":%d,"
                        "\"silence_duration_ms\":%d,\"create_response\":true,"
                        "\"interrupt_response\":true}",
                        threshold_text(p, s->vad_threshold),
                        s->vad_prefix_ms > 0 ? s->vad_prefix_ms : 300,
                        s->vad_silence_ms > 0 ? s->vad_silence_ms : 500);
}

static int tool_name_valid(const char *s)
{
    size_t n = s ? strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789_-") : 0;

    return n >= 1 && n <= 64 && s[n] == '\0';
}

/* 1 when text is one JSON object and nothing else. */
static int json_object_text(const char *text)
{
    size_t len = strlen(text);
    json_tokener *tok;
    json_object *o;
    int ok;

    if (len > INT_MAX || !vt_sm_json_text_valid(text, len) || !(tok = json_tokener_new()))
        return 0;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, text, (int)len);
    ok = o && json_object_is_type(o, json_type_object)
         && json_tokener_get_parse_end(tok) == len;
    json_object_put(o);
    json_tokener_free(tok);
    return ok;
}

/* "tools":[...],"tool_choice":"auto" — or NULL when a tool is not well formed. */
static const char *tools_json(apr_pool_t *p, const vt_rt_session_t *s)
{
    const char *out = "\"tools\":[";

    for (int i = 0; i < s->ntools; i++) {
        const vt_rt_tool_t *t = &s->tools[i];
        if (!tool_name_valid(t->name) || (t->parameters && !json_object_text(t->parameters)))
            return NULL;
        out = apr_pstrcat(p, out, i ? "," : "", "{\"type\":\"function\",\"name\":",
                          jstr(p, t->name), opt_field(p, "description", t->description),
                          t->parameters ? ",\"parameters\":" : "",
                          t->parameters ? t->parameters : "", "}", NULL);
    }
    return apr_pstrcat(p, out, "],\"tool_choice\":\"auto\"", NULL);
}

/* {"model":...[,"language":...]} or NULL when no transcription is asked for. */
static const char *transcription(apr_pool_t *p, const vt_rt_session_t *s)
{
    if (!s->transcription_model)
        return NULL;
    return apr_pstrcat(p, "{\"model\":", jstr(p, s->transcription_model),
                       opt_field(p, "language", s->language), "}", NULL);
}

static const char *session_ga(apr_pool_t *p, const vt_rt_session_t *s, const char *tools)
{
    const char *fmt = s->audio == VT_RT_AUDIO_PCM16 ? "{\"type\":\"audio/pcm\",\"rate\":24000}"
                                                     : "{\"type\":\"audio/pcmu\"}";
    const char *tr = transcription(p, s);

    return apr_pstrcat(p, "{\"type\":\"session.update\",\"session\":{\"type\":\"realtime\"",
                       opt_field(p, "instructions", s->instructions),
                       ",\"output_modalities\":[\"audio\"],\"audio\":{\"input\":{\"format\":",
                       fmt, tr ? ",\"transcription\":" : "", tr ? tr : "",
                       ",\"turn_detection\":", turn_detection(p, s), "},\"output\":{\"format\":",
                       fmt, opt_field(p, "voice", s->voice), "}},", tools, "}}", NULL);
}

static const char *session_beta(apr_pool_t *p, const vt_rt_session_t *s, const char *tools)
{
    const char *fmt = s->audio == VT_RT_AUDIO_PCM16 ? "\"pcm16\"" : "\"g711_ulaw\"";
    const char *tr = transcription(p, s);

    return apr_pstrcat(p, "{\"type\":\"session.update\",\"session\":{"
                       "\"modalities\":[\"audio\",\"text\"]",
                       opt_field(p, "instructions", s->instructions),
                       opt_field(p, "voice", s->voice), ",\"input_audio_format\":", fmt,
                       ",\"output_audio_format\":", fmt,
                       tr ? ",\"input_audio_transcription\":" : "", tr ? tr : "",
                       ",\"turn_detection\":", turn_detection(p, s), ",", tools, "}}", NULL);
}

const char *vt_rt_session_update(apr_pool_t *p, vt_rt_dialect_t d, const vt_rt_session_t *s)
{
    const char *tools;

    if ((d != VT_RT_GA && d != VT_RT_BETA)
        || (s->audio != VT_RT_AUDIO_PCMU && s->audio != VT_RT_AUDIO_PCM16)
        || s->ntools < 0 || (s->ntools > 0 && !s->tools) || !(tools = tools_json(p, s)))
        return NULL;
    return d == VT_RT_GA ? session_ga(p, s, tools) : session_beta(p, s, tools);
}

/* ---------------------------------------------------------------- server events */

struct vt_rt_parser {
    json_tokener *tok;
    json_object *root;  /* the last event: the strings of its result point into it */
    uint8_t *audio;     /* VT_RT_AUDIO_MAX bytes; pages are touched only as deltas need */
};

vt_rt_parser_t *vt_rt_parser_create(void)
{
    vt_rt_parser_t *ps = calloc(1, sizeof(*ps));

    if (!ps)
        return NULL;
    ps->tok = json_tokener_new();
    ps->audio = malloc(VT_RT_AUDIO_MAX);
    if (!ps->tok || !ps->audio) {
        vt_rt_parser_destroy(ps);
        return NULL;
    }
    json_tokener_set_flags(ps->tok, JSON_TOKENER_STRICT);
    return ps;
}

void vt_rt_parser_destroy(vt_rt_parser_t *ps)
{
    if (!ps)
        return;
    json_object_put(ps->root);
    if (ps->tok)
        json_tokener_free(ps->tok);
    free(ps->audio);
    free(ps);
}

/* Every member is optional unless said otherwise, and a JSON null counts as absent
 * (servers write "code": null); another type than expected is an error. */

static json_object *member(json_object *o, const char *key)
{
    json_object *v;

    if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
        return NULL;
    return v;
}

/* 0 with *out (NULL when absent); -1 when not a string or with a NUL inside. */
static int get_str(json_object *o, const char *key, const char **out, size_t *len)
{
    json_object *v = member(o, key);
    size_t n;

    *out = NULL;
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    n = (size_t)json_object_get_string_len(v);
    if (memchr(json_object_get_string(v), '\0', n))
        return -1;
    *out = json_object_get_string(v);
    if (len)
        *len = n;
    return 0;
}

/* 0 with *out (dflt when absent); -1 when not an integer in [0, max]. */
static int get_int(json_object *o, const char *key, long dflt, long max, long *out)
{
    json_object *v = member(o, key);
    int64_t x;

    *out = dflt;
    if (!v)
        return 0;
    if (!json_object_is_type(v, json_type_int))
        return -1;
    x = json_object_get_int64(v);
    if (x < 0 || x > max)
        return -1;
    *out = (long)x;
    return 0;
}

/* 0 with *out (NULL when absent); -1 when not an object. */
static int get_obj(json_object *o, const char *key, json_object **out)
{
    *out = member(o, key);
    return *out && !json_object_is_type(*out, json_type_object) ? -1 : 0;
}

/* The field readers give the static error text naming the field (name: its path in the
 * event), or NULL. */
#define OPT_STR(o, k, name, out) (get_str((o), k, (out), NULL) ? name ": not a string" : NULL)
#define REQ_STR(o, k, name, out) \
    (get_str((o), k, (out), NULL) || !*(out) ? name ": missing or not a string" : NULL)
#define OPT_MS(o, k, out) (get_int((o), k, -1, LONG_MAX, (out)) ? k ": not a count of ms" : NULL)
#define OPT_OBJ(o, k, name, out) (get_obj((o), k, (out)) ? name ": not an object" : NULL)
#define REQ_OBJ(o, k, name, out) \
    (get_obj((o), k, (out)) || !*(out) ? name ": missing or not an object" : NULL)

static const char *content_index(json_object *o, vt_rt_event_t *ev)
{
    long ci;

    if (get_int(o, "content_index", 0, INT_MAX, &ci) != 0)
        return "content_index: not a small count";
    ev->content_index = (int)ci;
    return NULL;
}

/* response_id, item_id, content_index: the address of a piece of output. */
static const char *output_address(json_object *o, vt_rt_event_t *ev, int required)
{
    const char *e;

    if (required && ((e = REQ_STR(o, "response_id", "response_id", &ev->response_id))
                     || (e = REQ_STR(o, "item_id", "item_id", &ev->item_id))))
        return e;
    if ((e = OPT_STR(o, "response_id", "response_id", &ev->response_id))
        || (e = OPT_STR(o, "item_id", "item_id", &ev->item_id)))
        return e;
    return content_index(o, ev);
}

/* The helper's names for what it can ask for; anything else is the server's own name. */
static const char *format_name(const char *type, long rate)
{
    if (strcmp(type, "audio/pcmu") == 0 || strcmp(type, "g711_ulaw") == 0)
        return "pcmu";
    if ((strcmp(type, "audio/pcm") == 0 && (rate < 0 || rate == 24000))
        || strcmp(type, "pcm16") == 0)
        return "pcm16";
    return type;
}

/* GA: session.audio.<dir>.format {type, rate}; beta: session.<dir>_audio_format. */
static const char *session_format(json_object *session, const char *dir, const char *beta_key,
                                  const char **out)
{
    json_object *audio, *io, *fmt;
    const char *type = NULL;
    long rate = -1;

    *out = NULL;
    if (get_obj(session, "audio", &audio) || get_obj(audio, dir, &io)
        || get_obj(io, "format", &fmt))
        return "session.audio: a format is not an object";
    if (get_str(fmt, "type", &type, NULL) || get_int(fmt, "rate", -1, INT_MAX, &rate))
        return "session.audio: a format's type or rate is malformed";
    if (!type && get_str(session, beta_key, &type, NULL))
        return "session: an audio format is not a string";
    *out = type ? format_name(type, rate) : NULL;
    return NULL;
}

static const char *parse_session(json_object *root, vt_rt_event_t *ev)
{
    json_object *session;
    const char *e;

    if ((e = OPT_OBJ(root, "session", "session", &session))
        || (e = session_format(session, "input", "input_audio_format", &ev->input_format))
        || (e = session_format(session, "output", "output_audio_format", &ev->output_format)))
        return e;
    return NULL;
}

/* speech_started, speech_stopped, conversation.item.truncated. */
static const char *parse_item_times(json_object *root, vt_rt_event_t *ev)
{
    const char *e;

    if ((e = OPT_STR(root, "item_id", "item_id", &ev->item_id))
        || (e = OPT_MS(root, "audio_start_ms", &ev->audio_start_ms))
        || (e = OPT_MS(root, "audio_end_ms", &ev->audio_end_ms)))
        return e;
    return content_index(root, ev);
}

/* response.created, response.done. */
static const char *parse_response(json_object *root, vt_rt_event_t *ev)
{
    json_object *r, *details;
    const char *e;

    if ((e = REQ_OBJ(root, "response", "response", &r))
        || (e = REQ_STR(r, "id", "response.id", &ev->response_id))
        || (e = OPT_STR(r, "status", "response.status", &ev->status))
        || (e = OPT_OBJ(r, "status_details", "response.status_details", &details))
        || (e = OPT_STR(details, "reason", "response.status_details.reason", &ev->reason)))
        return e;
    return NULL;
}

static const char *parse_audio_delta(vt_rt_parser_t *ps, json_object *root, vt_rt_event_t *ev)
{
    const char *e, *b64;
    size_t n = 0;

    if ((e = output_address(root, ev, 1)))
        return e;
    if (get_str(root, "delta", &b64, &n) || !b64)
        return "delta: missing or not a string";
    switch (vt_sm_b64_decode(b64, n, ps->audio, VT_RT_AUDIO_MAX, &ev->audio_len)) {
    case 0: ev->audio = ps->audio; return NULL;
    case -2: return "delta: too large";
    default: return "delta: not base64";
    }
}

/* Transcripts: the piece is in "delta", the whole in "transcript". */
static const char *parse_transcript(json_object *root, vt_rt_event_t *ev, int delta)
{
    const char *e;

    if ((e = output_address(root, ev, 0)))
        return e;
    if (delta)
        return REQ_STR(root, "delta", "delta", &ev->text);
    return REQ_STR(root, "transcript", "transcript", &ev->text);
}

/* response.output_item.done: a function call, or any other item (VT_RT_OTHER). */
static const char *parse_output_item(json_object *root, vt_rt_event_t *ev)
{
    json_object *item;
    const char *e, *type;

    if ((e = REQ_OBJ(root, "item", "item", &item))
        || (e = OPT_STR(root, "response_id", "response_id", &ev->response_id))
        || (e = OPT_STR(item, "type", "item.type", &type)))
        return e;
    if (!type || strcmp(type, "function_call") != 0) {
        ev->type = VT_RT_OTHER;
        return NULL;
    }
    if ((e = OPT_STR(item, "id", "item.id", &ev->item_id))
        || (e = REQ_STR(item, "call_id", "item.call_id", &ev->call_id))
        || (e = REQ_STR(item, "name", "item.name", &ev->name))
        || (e = OPT_STR(item, "arguments", "item.arguments", &ev->arguments))
        || (e = OPT_STR(item, "status", "item.status", &ev->item_status)))
        return e;
    return NULL;
}

static const char *parse_error(json_object *root, vt_rt_event_t *ev)
{
    json_object *err;
    const char *e;

    if ((e = OPT_OBJ(root, "error", "error", &err))
        || (e = OPT_STR(err, "type", "error.type", &ev->error_type))
        || (e = OPT_STR(err, "code", "error.code", &ev->error_code))
        || (e = OPT_STR(err, "message", "error.message", &ev->error_message)))
        return e;
    return NULL;
}

/* The one table of server event names: GA and beta map to the same type. */
static const struct {
    const char *name;
    vt_rt_event_type_t type;
} rt_events[] = {
    { "response.output_audio.delta", VT_RT_AUDIO_DELTA },                  /* GA */
    { "response.audio.delta", VT_RT_AUDIO_DELTA },                         /* beta */
    { "response.output_audio_transcript.delta", VT_RT_TRANSCRIPT_DELTA },  /* GA */
    { "response.audio_transcript.delta", VT_RT_TRANSCRIPT_DELTA },         /* beta */
    { "input_audio_buffer.speech_started", VT_RT_SPEECH_STARTED },
    { "input_audio_buffer.speech_stopped", VT_RT_SPEECH_STOPPED },
    { "response.created", VT_RT_RESPONSE_CREATED },
    { "response.output_audio.done", VT_RT_AUDIO_DONE },                    /* GA */
    { "response.audio.done", VT_RT_AUDIO_DONE },                           /* beta */
    { "response.output_audio_transcript.done", VT_RT_TRANSCRIPT_DONE },    /* GA */
    { "response.audio_transcript.done", VT_RT_TRANSCRIPT_DONE },           /* beta */
    { "conversation.item.input_audio_transcription.completed", VT_RT_INPUT_TRANSCRIPT },
    { "response.output_item.done", VT_RT_FUNCTION_CALL_DONE }, /* when item.type says so */
    { "response.done", VT_RT_RESPONSE_DONE },
    { "conversation.item.truncated", VT_RT_ITEM_TRUNCATED },
    { "session.created", VT_RT_SESSION_CREATED },
    { "session.updated", VT_RT_SESSION_UPDATED },
    { "error", VT_RT_ERROR },
};

static vt_rt_event_type_t type_of(const char *name)
{
    for (size_t i = 0; i < sizeof rt_events / sizeof rt_events[0]; i++)
        if (strcmp(name, rt_events[i].name) == 0)
            return rt_events[i].type;
    return VT_RT_OTHER;
}

static const char *parse_fields(vt_rt_parser_t *ps, json_object *root, vt_rt_event_t *ev)
{
    switch (ev->type) {
    case VT_RT_AUDIO_DELTA: return parse_audio_delta(ps, root, ev);
    case VT_RT_AUDIO_DONE: return output_address(root, ev, 0);
    case VT_RT_TRANSCRIPT_DELTA: return parse_transcript(root, ev, 1);
    case VT_RT_TRANSCRIPT_DONE:
    case VT_RT_INPUT_TRANSCRIPT: return parse_transcript(root, ev, 0);
    case VT_RT_SPEECH_STARTED:
    case VT_RT_SPEECH_STOPPED:
    case VT_RT_ITEM_TRUNCATED: return parse_item_times(root, ev);
    case VT_RT_RESPONSE_CREATED:
    case VT_RT_RESPONSE_DONE: return parse_response(root, ev);
    case VT_RT_FUNCTION_CALL_DONE: return parse_output_item(root, ev);
    case VT_RT_SESSION_CREATED:
    case VT_RT_SESSION_UPDATED: return parse_session(root, ev);
    case VT_RT_ERROR: return parse_error(root, ev);
    default: return NULL;
    }
}

static const char *parse_event(vt_rt_parser_t *ps, const char *buf, size_t len,
                               vt_rt_event_t *ev)
{
    json_object *o;

    if (len > VT_RT_MESSAGE_MAX)
        return "message too large";
    if (!vt_sm_json_text_valid(buf, len))
        return "not UTF-8 JSON text";
    json_tokener_reset(ps->tok);
    o = ps->root = json_tokener_parse_ex(ps->tok, buf, (int)len);
    /* parse end short of len: a NUL byte, or a value that is not done yet ("1") */
    if (!o || json_tokener_get_parse_end(ps->tok) != len
        || !json_object_is_type(o, json_type_object))
        return "not a JSON object";
    if (get_str(o, "type", &ev->type_name, NULL) || !ev->type_name)
        return "type: missing or not a string";
    ev->type = type_of(ev->type_name);
    return parse_fields(ps, o, ev);
}

int vt_rt_parse(vt_rt_parser_t *ps, const char *buf, size_t len, vt_rt_event_t *ev,
                const char **err)
{
    const char *e;

    memset(ev, 0, sizeof(*ev));
    ev->audio_start_ms = ev->audio_end_ms = -1;
    json_object_put(ps->root);
    ps->root = NULL;
    if ((e = parse_event(ps, buf, len, ev)) != NULL) {
        memset(ev, 0, sizeof(*ev));
        *err = e;
        return -1;
    }
    return 0;
}
