/* vt_realtime — the OpenAI-Realtime-compatible WebSocket protocol, client side
 * (realtime-and-streams.md §1): the client events the helper sends and the parser of the
 * server's events (untrusted, fuzzed).
 *
 * Two dialects, chosen per tenant: GA (api.openai.com today, Azure /openai/v1) and beta
 * (speaches, older Azure preview deployments, other "compatible" servers). The parser
 * accepts both sets of event names (one table maps them: response.output_audio.delta and
 * response.audio.delta are both VT_RT_AUDIO_DELTA, and so on); the writers produce the
 * shape of the dialect they are given.
 *
 *   vt_rt_parser_t *ps = vt_rt_parser_create();            // one per backend connection
 *   vt_rt_event_t ev;  const char *err;
 *   if (vt_rt_parse(ps, text, len, &ev, &err) == 0 && ev.type == VT_RT_AUDIO_DELTA)
 *       ... ev.audio[0..ev.audio_len) in the session's output format
 *
 *   body = vt_rt_session_update(p, VT_RT_GA, &session);    // after session.created
 *   n = vt_rt_append_json(buf, cap, twilio_payload_b64, b64len); // per 20 ms frame
 *
 * Parsing: one reused json-c tokener; what the event points to lives in the parser until
 * the next vt_rt_parse or its destruction. An object with a string "type" is required;
 * unknown types are VT_RT_OTHER (not an error); unknown fields are ignored. Fields a type
 * needs are checked: AUDIO_DELTA must carry standard base64 "delta" (at most
 * VT_RT_AUDIO_MAX decoded bytes) and a response_id and item_id; FUNCTION_CALL_DONE needs the
 * item's call_id and name; RESPONSE_CREATED/DONE the response.id; transcripts their text.
 * Any other field the event gives is optional, and a JSON null counts as absent (servers
 * write "code": null), but a field of the wrong type is an error. Messages over
 * VT_RT_MESSAGE_MAX, not UTF-8, or with trailing bytes are errors. The decoding buffer
 * (VT_RT_AUDIO_MAX) is allocated with the parser; only the pages deltas use get touched.
 *
 * Writers never put a key or a header in a body (the key goes in the Authorization
 * header, set by the connection code); every string is JSON-escaped.
 */
#ifndef VT_REALTIME_H
#define VT_REALTIME_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>

#define VT_RT_MESSAGE_MAX (1024 * 1024) /* bytes of one server event */
#define VT_RT_AUDIO_MAX (512 * 1024)    /* decoded bytes of one audio delta */

typedef enum { VT_RT_GA = 0, VT_RT_BETA } vt_rt_dialect_t;

/* Audio format, both directions. PCMU is Twilio's own (no conversion at all); PCM16 is
 * 16-bit little-endian mono at 24 kHz, the one rate every compatible server takes. */
typedef enum { VT_RT_AUDIO_PCMU = 0, VT_RT_AUDIO_PCM16 } vt_rt_audio_t;

/* "ga" / "beta" -> 0 with *d; -1 for anything else. */
int vt_rt_dialect_parse(const char *s, vt_rt_dialect_t *d);
const char *vt_rt_dialect_name(vt_rt_dialect_t d);

/* ---------------------------------------------------------------- client events */

typedef struct vt_rt_tool {
    const char *name;          /* [A-Za-z0-9_-]{1,64} */
    const char *description;
    const char *parameters;    /* a JSON Schema object, as JSON text (inserted verbatim
                                * after it parsed as a JSON object); NULL: no parameters */
} vt_rt_tool_t;

typedef struct vt_rt_session {
    const char *instructions;  /* the system prompt; NULL: left as the server has it */
    const char *voice;         /* NULL: the server's default */
    vt_rt_audio_t audio;
    const char *transcription_model; /* caller transcripts; NULL: not asked for */
    const char *language;      /* transcription language hint ("en"); NULL: none */
    double vad_threshold;      /* server_vad; 0: 0.5 */
    int vad_prefix_ms;         /* 0: 300 */
    int vad_silence_ms;        /* 0: 500 */
    const vt_rt_tool_t *tools;
    int ntools;
} vt_rt_session_t;

/* session.update with every turn_detection field set (server_vad, create_response and
 * interrupt_response true), output audio only, tool_choice auto. GA: session.type
 * "realtime", audio.input/output.format {type audio/pcmu | audio/pcm rate 24000};
 * beta: input_audio_format/output_audio_format g711_ulaw | pcm16, modalities
 * ["audio","text"]. The threshold is clamped to [0, 1] and written with at most three
 * decimals, whatever the locale; a negative one, like 0, means 0.5. NULL when a tool's
 * parameters are not a JSON object, a tool's name is not [A-Za-z0-9_-]{1,64}, or d or
 * s->audio is not one of the enum's values. */
const char *vt_rt_session_update(apr_pool_t *p, vt_rt_dialect_t d, const vt_rt_session_t *s);
/* input_audio_buffer.append with audio already in standard base64 (Twilio's payload, as
 * it came, for PCMU: vt_stream_msg_t.payload_b64), into a caller buffer: the per-frame
 * path allocates nothing. Returns the length (a NUL follows), or 0 when it does not fit
 * or b64 holds a byte outside the base64 alphabet (never a broken JSON string). */
size_t vt_rt_append_json(char *out, size_t cap, const char *b64, size_t b64_len);
/* ... and from raw bytes (PCM16 after resampling), base64-encoded here. */
size_t vt_rt_append_raw_json(char *out, size_t cap, const uint8_t *audio, size_t n);
/* response.create; instructions non-NULL: for this response only (the greeting). */
const char *vt_rt_response_create(apr_pool_t *p, const char *instructions);
/* response.cancel; response_id may be NULL (the active one). */
const char *vt_rt_response_cancel(apr_pool_t *p, const char *response_id);
/* conversation.item.truncate of an assistant audio item at audio_end_ms. */
const char *vt_rt_item_truncate(apr_pool_t *p, const char *item_id, int content_index,
                                long audio_end_ms);
/* conversation.item.create of a function_call_output (output: a string, typically JSON). */
const char *vt_rt_function_output(apr_pool_t *p, const char *call_id, const char *output);

/* ---------------------------------------------------------------- server events */

typedef enum {
    VT_RT_OTHER = 0,          /* any other well-formed event: ignore */
    VT_RT_SESSION_CREATED,
    VT_RT_SESSION_UPDATED,    /* input_format/output_format tell what the server uses */
    VT_RT_SPEECH_STARTED,     /* input_audio_buffer.speech_started: audio_start_ms, item_id */
    VT_RT_SPEECH_STOPPED,     /* audio_end_ms */
    VT_RT_RESPONSE_CREATED,   /* response_id */
    VT_RT_AUDIO_DELTA,        /* response_id, item_id, content_index, audio */
    VT_RT_AUDIO_DONE,         /* response_id, item_id */
    VT_RT_TRANSCRIPT_DELTA,   /* the assistant's words so far: text (a piece) */
    VT_RT_TRANSCRIPT_DONE,    /* the assistant's whole transcript of item_id: text */
    VT_RT_INPUT_TRANSCRIPT,   /* the caller's words (input transcription completed): text */
    VT_RT_FUNCTION_CALL_DONE, /* response.output_item.done of a function_call: call_id,
                               * name, arguments, item_status ("completed" or not) */
    VT_RT_RESPONSE_DONE,      /* response_id, status, reason */
    VT_RT_ITEM_TRUNCATED,     /* item_id, audio_end_ms */
    VT_RT_ERROR               /* error_type, error_code, error_message (each may be NULL) */
} vt_rt_event_type_t;

typedef struct vt_rt_event {
    vt_rt_event_type_t type;
    const char *type_name;      /* as received */
    const char *response_id, *item_id; /* NULL when absent */
    int content_index;
    const uint8_t *audio;       /* AUDIO_DELTA, decoded */
    size_t audio_len;
    const char *text;           /* transcripts; NULL when absent */
    const char *call_id, *name, *arguments, *item_status; /* FUNCTION_CALL_DONE */
    const char *status, *reason; /* RESPONSE_DONE: status; status_details.reason */
    long audio_start_ms, audio_end_ms; /* -1 when absent */
    /* SESSION_CREATED/UPDATED: "pcmu", "pcm16" or the server's own name; NULL: not said */
    const char *input_format, *output_format;
    const char *error_type, *error_code, *error_message;
} vt_rt_event_t;

typedef struct vt_rt_parser vt_rt_parser_t;

vt_rt_parser_t *vt_rt_parser_create(void);
void vt_rt_parser_destroy(vt_rt_parser_t *ps);
/* 0 with *ev filled; -1 with *err (static text, never input bytes). */
int vt_rt_parse(vt_rt_parser_t *ps, const char *buf, size_t len, vt_rt_event_t *ev,
                const char **err);

#endif
