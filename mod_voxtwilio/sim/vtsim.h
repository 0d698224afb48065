/* vtsim — voxtwilio-sim internals: the call's state, the Twilio-like HTTP client
 * (vtsim_http.c), the call driver that plays TwiML (vtsim_call.c), the caller's script
 * (vtsim_script.c), Twilio's side of a Media Stream (vtsim_stream.c, --stream) and its audio
 * (vtsim_audio.c: the caller's espeak-ng voice, WAV files).
 *
 * Output: the transcript on stdout ("assistant: ...", "caller: ...", "[dial ...]",
 * "[call ended ...]"); errors on stderr as one "voxtwilio-sim: error: ..." line naming the
 * Twilio error code Twilio itself would have logged.
 */
#ifndef VTSIM_H
#define VTSIM_H

#include <stdint.h>
#include <stdio.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include "vt_twiml_doc.h"

#define VTSIM_PROG "voxtwilio-sim"
#define VTSIM_TIMEOUT_S 15L          /* Twilio's limit for a whole webhook request */
#define VTSIM_CONNECT_TIMEOUT_S 5L   /* Twilio's TCP connect timeout */
#define VTSIM_DEFAULT_CONFIDENCE "0.9"
#define VTSIM_DEFAULT_DIAL_DURATION 30
#define VTSIM_DEFAULT_MAX_REQUESTS 100
#define VTSIM_FRAME_MS 20            /* a Media Stream frame: 20 ms of 8 kHz µ-law */
#define VTSIM_FRAME_BYTES 160

typedef enum {
    VTSIM_DIAL_ANSWERED = 0,
    VTSIM_DIAL_NO_ANSWER,
    VTSIM_DIAL_BUSY,
    VTSIM_DIAL_FAILED
} vtsim_dial_t;

typedef struct vtsim_resp {
    long status;
    const char *content_type; /* NULL: none */
    int chunked;
    char *body;               /* NUL-terminated; at most VT_TWIML_DOC_MAX + 1 bytes kept */
    apr_size_t len;
    int too_large;            /* the body went past VT_TWIML_DOC_MAX */
} vtsim_resp_t;

typedef struct vtsim {
    apr_pool_t *pool;
    void *curl;               /* CURL *, reused so the connection is kept alive */
    /* what the call is */
    const char *url;          /* the inbound webhook */
    const char *from, *to, *account_sid, *call_sid;
    const char *token;        /* the tenant's auth token: signs, never printed */
    const char *status_url;   /* NULL: --no-status */
    const char *confidence;   /* sent as Confidence with each utterance */
    vtsim_dial_t dial;
    int dial_duration;        /* DialCallDuration of an answered <Dial> */
    FILE *script;             /* caller lines; NULL with interactive: the keyboard */
    const char *script_name;
    int interactive;
    int max_requests;         /* guards against Redirect loops */
    int verbose;              /* print each request and its HTTP status */
    int script_line;          /* lines read so far, for messages */
    /* stream mode (--stream) */
    int stream;               /* play <Connect><Stream> (else only reported) */
    const char *stream_connect; /* --stream-connect: ws[s]://host:port to open streams at;
                                 * NULL: the webhook's host and port */
    int barge_in;             /* speak while the assistant talks */
    const char *caller_wav_name; /* --caller-wav: said at the caller's first turn */
    const uint8_t *caller_wav;
    size_t caller_wav_len;
    FILE *wav;                /* --wav: both sides, stereo 8 kHz 16-bit */
    const char *wav_name;
    unsigned long wav_frames; /* sample frames written */
    int warnings;             /* Twilio errors logged while the call went on: exit 1 */
    /* where the call is */
    const char *call_status;  /* CallStatus sent with the next webhook */
    int seq;                  /* next status callback's SequenceNumber */
    int turns;                /* Gathers answered */
    int requests;             /* webhooks sent (status callbacks not counted) */
    int answered;
    apr_time_t answered_at;
    int extra_seconds;        /* time spent in simulated <Dial> legs */
} vtsim_t;

/* ---- vtsim_http.c */
/* "voxtwilio-sim: error: ...\n" on stderr (stdout flushed first); returns -1. */
int vtsim_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vtsim_http_init(vtsim_t *s);
void vtsim_http_cleanup(vtsim_t *s);
/* Sends one request the way Twilio does: POST form-encoded (GET: parameters appended to
 * the query), X-Twilio-Signature over the exact URL (+ the sorted POST parameters),
 * a fresh I-Twilio-Idempotency-Token, 15 s timeout. 0 with *resp filled (any HTTP status),
 * -1 after printing a transport error with its Twilio error code. */
int vtsim_request(vtsim_t *s, apr_pool_t *p, const char *method, const char *url,
                  const apr_array_header_t *params, vtsim_resp_t *resp);
/* A random SID: prefix + 32 lower-case hex digits (NULL when no randomness). */
const char *vtsim_random_sid(apr_pool_t *p, const char *prefix);

/* ---- vtsim_script.c */
typedef enum {
    VTSIM_LINE_SAY,           /* text: words to say */
    VTSIM_LINE_SILENCE,       /* <silence> (or an empty line typed) */
    VTSIM_LINE_HANGUP,        /* <hangup> */
    VTSIM_LINE_END,           /* no more lines (no script, its end, Ctrl-D) */
    VTSIM_LINE_DTMF,          /* "dtmf 12#": text holds the keys */
    VTSIM_LINE_WAIT,          /* "wait 1.5": seconds */
    VTSIM_LINE_BAD            /* not a line the simulator takes (printed) */
} vtsim_line_kind_t;

typedef struct vtsim_line {
    vtsim_line_kind_t kind;
    const char *text;
    double seconds;
} vtsim_line_t;

/* The caller's next line from the script or the keyboard (blank and '#' lines skipped);
 * line->kind is returned too. */
vtsim_line_kind_t vtsim_next_line(vtsim_t *s, apr_pool_t *p, vtsim_line_t *line);
/* 1 when keys is one or more of 0-9 * #. */
int vtsim_keys_valid(const char *keys);

/* ---- vtsim_audio.c */
typedef struct vtsim_tts vtsim_tts_t;
/* Starts saying text with espeak-ng in a thread (one at a time); NULL when it cannot. */
vtsim_tts_t *vtsim_tts_start(const char *text);
int vtsim_tts_done(vtsim_tts_t *t);
/* Joins the thread: the speech as malloc'd 8 kHz µ-law, NULL when synthesis failed. */
uint8_t *vtsim_tts_finish(vtsim_tts_t *t, size_t *len);
const char *vtsim_tts_error(void);
/* espeak-ng's state, at the end (no synthesis running). */
void vtsim_tts_cleanup(void);
/* A WAV file (mono or stereo, 16-bit PCM or µ-law, any rate) as 8 kHz µ-law in p. */
int vtsim_wav_read(apr_pool_t *p, const char *path, uint8_t **ulaw, size_t *len);
/* --wav: a stereo 8 kHz 16-bit file; one frame of each side at a time; sizes at the end. */
int vtsim_wav_create(vtsim_t *s, const char *path);
void vtsim_wav_frame(vtsim_t *s, const uint8_t *left, const uint8_t *right);
int vtsim_wav_finish(vtsim_t *s);

/* ---- vtsim_stream.c */
typedef enum {
    VTSIM_STREAM_CLOSED,      /* the gateway closed it: Twilio goes on (<Connect action>) */
    VTSIM_STREAM_FAILED,      /* it never opened or broke (Twilio error printed): goes on */
    VTSIM_STREAM_HANGUP,      /* the caller hung up: the call is over */
    VTSIM_STREAM_ERROR        /* the simulator failed (printed) */
} vtsim_stream_end_t;

/* Plays Twilio's side of <Connect><Stream> (the <Stream> noun) until it ends. */
vtsim_stream_end_t vtsim_stream(vtsim_t *s, const vt_twiml_verb_t *stream);

/* ---- vtsim_call.c */
/* Places the call and plays it to its end. 0: the call ended normally; 1: an error
 * (printed). */
int vtsim_call(vtsim_t *s);

#endif
