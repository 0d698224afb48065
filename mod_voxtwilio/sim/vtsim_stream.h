/* vtsim_stream.h — one Media Stream being played (vtsim_stream.c: the socket, Twilio's
 * messages and playback; vtsim_caller.c: the caller's turns). Private to those two files.
 *
 * Time is the stream's own clock, t->ms: 20 ms per frame since the stream opened, driven by
 * a monotonic timer. A frame plays 20 ms of the gateway's audio and sends 20 ms of the
 * caller's.
 */
#ifndef VTSIM_STREAM_H
#define VTSIM_STREAM_H

#include <libwebsockets.h>
#include "vt_stream_msg.h"
#include "vtsim.h"

#define VTSIM_TURN_PAUSE_MS 600     /* a polite caller's pause once the assistant stops */
#define VTSIM_TURN_WAIT_MS 5000     /* no answer this long after a line: the caller goes on */
#define VTSIM_HANGUP_GRACE_MS 1500  /* out of lines: quiet this long, then the caller hangs up */
#define VTSIM_STRETCH_GAP_MS 300    /* a gap this long in playback ends a stretch of audio */
#define VTSIM_DTMF_GAP_MS 300       /* between the keys of one dtmf line */

typedef enum {
    VTSIM_CALLER_LISTENS = 0,       /* waiting for its turn */
    VTSIM_CALLER_THINKS,            /* espeak-ng is making the line's audio */
    VTSIM_CALLER_SPEAKS,
    VTSIM_CALLER_PRESSES,           /* dtmf keys, one every VTSIM_DTMF_GAP_MS */
    VTSIM_CALLER_WAITS,             /* a "wait" line */
    VTSIM_CALLER_GONE               /* hung up */
} vtsim_caller_state_t;

typedef struct vtsim_caller {
    vtsim_caller_state_t state;
    int in_turn;            /* a wait ended: the next line follows without a new turn */
    int out_of_lines;       /* hang up once the assistant is quiet */
    int wav_said;           /* --caller-wav: said at the first turn */
    long stretch_mark;      /* the assistant's stretches when this line began */
    long long ended_ms;     /* when the last line ended (or the stream opened) */
    long long due_ms;       /* the next key, or the end of a wait */
    const char *keys;       /* what is left to press */
    const char *text;       /* the line being synthesized */
    vtsim_tts_t *tts;
    uint8_t *audio;         /* what is being said; malloc'd when own_audio */
    size_t audio_len, audio_off;
    int own_audio;
} vtsim_caller_t;

typedef struct vtsim_out vtsim_out_t;
typedef struct vtsim_pb vtsim_pb_t;

typedef struct vtss {
    vtsim_t *s;
    apr_pool_t *pool;
    struct lws_context *ctx;
    struct lws *wsi;
    int tfd;                /* the frame clock (timerfd) */
    const char *url;        /* as the TwiML wrote it: what is signed */
    const char *signature;
    char stream_sid[VT_SM_SID_LEN + 1];
    vt_sm_param_t params[VT_SM_PARAMS_MAX];
    int nparams;
    vt_sm_parser_t *ps;
    int open, done, hanging_up, failed, closed_by_peer, close_code;
    int oversize;           /* messages that did not fit (a simulator bug) */
    vtsim_stream_end_t end;
    long seq, chunk;        /* Twilio's sequenceNumber and media.chunk */
    long long ms;
    /* messages to Twilio's peer, one write per WRITEABLE */
    vtsim_out_t *out_head, *out_tail;
    /* a message arriving in pieces */
    char *rx;
    size_t rx_len;
    int rx_more, rx_binary, rx_too_large;
    int warned_31950, warned_31951;
    /* Twilio's playback buffer */
    vtsim_pb_t *pb_head, *pb_tail;
    size_t pb_audio;        /* audio bytes in it */
    int in_stretch;         /* audio is playing (gaps under VTSIM_STRETCH_GAP_MS included) */
    long stretches;         /* stretches of the assistant's audio so far */
    long long idle_since;   /* when the last audio played ended */
    size_t seg_bytes;       /* played since the last "assistant: [audio]" line */
    vtsim_caller_t c;
} vtss_t;

/* ---- vtsim_stream.c, for the caller */
void vtss_send_dtmf(vtss_t *t, char key);
/* The caller hangs up: stop, then the socket closes. */
void vtss_hangup(vtss_t *t);
/* Prints the assistant's audio played since the last such line, if at least min_bytes. */
void vtss_flush_assistant(vtss_t *t, size_t min_bytes);
/* Nothing is playing or queued to play. */
int vtss_quiet(const vtss_t *t);

/* ---- vtsim_caller.c */
/* The caller's next 20 ms (VTSIM_FRAME_BYTES of µ-law); takes its turns meanwhile. */
void vtsim_caller_frame(vtss_t *t, uint8_t *frame);
/* The stream is over: waits for a synthesis still running, frees the audio. */
void vtsim_caller_stop(vtss_t *t);

#endif
