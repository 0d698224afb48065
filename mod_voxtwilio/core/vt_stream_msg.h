/* vt_stream_msg — the JSON text messages of a bidirectional Twilio Media Stream
 * (twilio-protocol.md §12), both directions: the parser the helper runs on what Twilio
 * sends (untrusted, fuzzed), the writers of what the helper sends back, and the writers of
 * what Twilio sends, for the simulator, the benchmark and the tests.
 *
 *   vt_sm_parser_t *ps = vt_sm_parser_create();           // one per stream (not shared)
 *   vt_stream_msg_t m;  const char *err;
 *   if (vt_sm_parse(ps, text, len, &m, &err) != 0)  ... log err once, close the stream
 *   else if (m.event == VT_SM_MEDIA)  ... m.payload[0..m.payload_len) is µ-law audio
 *
 *   char out[VT_SM_MEDIA_JSON_MAX(160)];
 *   n = vt_sm_media_json(out, sizeof out, stream_sid, ulaw, 160);   // 0: did not fit
 *
 * Parsing uses json-c with one tokener per parser, reused; every string the result points
 * to (and the decoded payload) lives in the parser until its next vt_sm_parse or its
 * destruction. Rules: a JSON object with a string "event"; sequenceNumber, media.chunk and
 * media.timestamp are decimal strings as Twilio sends them (JSON integers are accepted
 * too); unknown fields are ignored; an unknown event is VT_SM_UNKNOWN, not an error. Per
 * event the fields the helper needs are required and checked: start — start.streamSid (or
 * the top-level streamSid) an MZ SID, start.callSid a CA SID, start.accountSid an AC SID,
 * start.mediaFormat (when present) audio/x-mulaw, 8000 Hz, 1 channel, customParameters an
 * object of strings (at most VT_SM_PARAMS_MAX); media — media.payload standard base64 of
 * at most VT_SM_PAYLOAD_MAX bytes; mark — mark.name a string of at most VT_SM_NAME_MAX
 * bytes; dtmf — dtmf.digit one of 0-9 * # A-D. Messages over VT_SM_MESSAGE_MAX bytes, not
 * UTF-8 JSON, or with trailing bytes after the object are errors.
 *
 * The text is first checked to be UTF-8 with no control byte but whitespace (json-c alone
 * lets overlong forms and raw control bytes through), then parsed with JSON_TOKENER_STRICT;
 * a JSON null is not a string. The top-level streamSid, when present, must be an MZ SID
 * whatever the event; "clear" parses as VT_SM_CLEAR (the simulator reads the helper's side).
 *
 * Writers produce compact JSON into a caller's buffer (no allocation; names and SIDs are
 * JSON-escaped, invalid UTF-8 bytes written as U+FFFD) and return its length without the
 * NUL that follows it, or 0 when it does not fit (the buffer is then left NUL-terminated
 * but unspecified). A negative seq, chunk or timestamp leaves that field out (parsed back
 * as -1), as on the helper's own messages.
 */
#ifndef VT_STREAM_MSG_H
#define VT_STREAM_MSG_H

#include <stddef.h>
#include <stdint.h>

#define VT_SM_MESSAGE_MAX (64 * 1024) /* bytes of one message */
#define VT_SM_PAYLOAD_MAX 16000       /* decoded audio bytes in one media message: 2 s */
#define VT_SM_PARAMS_MAX 16           /* start.customParameters */
#define VT_SM_NAME_MAX 128            /* mark names, parameter names and values */
#define VT_SM_SID_LEN 34

/* Room for a media message carrying n audio bytes, with any stream SID. */
#define VT_SM_MEDIA_JSON_MAX(n) (160 + 4 * (((n) + 2) / 3))

typedef enum {
    VT_SM_UNKNOWN = 0,  /* well-formed, with an event this code does not know: ignore it */
    VT_SM_CONNECTED,
    VT_SM_START,
    VT_SM_MEDIA,
    VT_SM_MARK,
    VT_SM_DTMF,
    VT_SM_STOP,
    VT_SM_CLEAR         /* only ever sent to Twilio */
} vt_sm_event_t;

typedef struct vt_sm_param {
    const char *name;
    const char *value;
} vt_sm_param_t;

typedef struct vt_stream_msg {
    vt_sm_event_t event;
    const char *event_name;     /* as received */
    long sequence;              /* sequenceNumber; -1 when absent */
    const char *stream_sid;     /* NULL when absent */
    /* connected */
    const char *protocol, *version;
    /* start (account_sid and call_sid also from stop, when present) */
    const char *account_sid, *call_sid;
    int track_inbound, track_outbound; /* from start.tracks */
    vt_sm_param_t params[VT_SM_PARAMS_MAX];
    int nparams;
    /* media */
    const char *track;          /* "inbound" / "outbound"; NULL when absent */
    long chunk;                 /* -1 when absent */
    long timestamp;             /* ms since the stream started; -1 when absent */
    const uint8_t *payload;     /* decoded µ-law bytes */
    size_t payload_len;
    const char *payload_b64;    /* media.payload as received (checked standard base64): */
    size_t payload_b64_len;     /* ... what vt_rt_append_json forwards as it is */
    /* mark */
    const char *mark_name;
    /* dtmf */
    char digit;
} vt_stream_msg_t;

typedef struct vt_sm_parser vt_sm_parser_t;

/* NULL when out of memory. */
vt_sm_parser_t *vt_sm_parser_create(void);
void vt_sm_parser_destroy(vt_sm_parser_t *ps);
/* Parses one whole text message. 0 with *m filled; -1 with *err, a static text naming the
 * problem ("media.payload: not base64"), never containing input bytes. */
int vt_sm_parse(vt_sm_parser_t *ps, const char *buf, size_t len, vt_stream_msg_t *m,
                const char **err);

/* ---- what the helper sends to Twilio */
size_t vt_sm_media_json(char *out, size_t cap, const char *stream_sid, const uint8_t *ulaw,
                        size_t n);
size_t vt_sm_mark_json(char *out, size_t cap, const char *stream_sid, const char *name);
size_t vt_sm_clear_json(char *out, size_t cap, const char *stream_sid);

/* ---- what Twilio sends (simulator, benchmark, tests) */
size_t vt_sm_connected_json(char *out, size_t cap);
/* tracks ["inbound"], mediaFormat audio/x-mulaw 8000 Hz mono. */
size_t vt_sm_start_json(char *out, size_t cap, long seq, const char *stream_sid,
                        const char *account_sid, const char *call_sid,
                        const vt_sm_param_t *params, int nparams);
/* track "inbound". */
size_t vt_sm_inbound_media_json(char *out, size_t cap, long seq, const char *stream_sid,
                                long chunk, long timestamp_ms, const uint8_t *ulaw, size_t n);
/* The echo of a mark whose audio has played (or was cleared). */
size_t vt_sm_mark_echo_json(char *out, size_t cap, long seq, const char *stream_sid,
                            const char *name);
/* dtmf.track "inbound_track"; 0 also when digit is not one of 0-9 * # A-D. */
size_t vt_sm_dtmf_json(char *out, size_t cap, long seq, const char *stream_sid, char digit);
size_t vt_sm_stop_json(char *out, size_t cap, long seq, const char *stream_sid,
                       const char *account_sid, const char *call_sid);

/* ---- shared with vt_realtime.c (the same wire rules on the model's side) */
/* Strict standard base64 (RFC 4648 §4): padded, no whitespace, pad bits zero, so each
 * byte string has exactly one text. Decodes in[0..n) into out[0..cap): 0 with *outlen;
 * -1 when in is not such base64; -2 when it holds more than cap bytes (checked first). */
int vt_sm_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen);
/* Writes the 4 * ((n + 2) / 3) characters of in[0..n) to out (no NUL); returns that. */
size_t vt_sm_b64_encode(const uint8_t *in, size_t n, char *out);
/* 1 when buf[0..len) may be JSON text: valid UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF) and no control character but tab, LF and CR (json-c lets
 * these through). */
int vt_sm_json_text_valid(const char *buf, size_t len);
/* s (NULL: "") as a JSON string with its quotes, invalid UTF-8 bytes as U+FFFD: returns
 * the length it takes and writes it to out (no NUL) only when that is at most cap. */
size_t vt_sm_json_string(char *out, size_t cap, const char *s);

#endif
