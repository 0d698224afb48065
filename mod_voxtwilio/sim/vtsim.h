/* vtsim — voxtwilio-sim internals: the call's state, the Twilio-like HTTP client
 * (vtsim_http.c) and the call driver that plays TwiML (vtsim_call.c).
 *
 * Output: the transcript on stdout ("assistant: ...", "caller: ...", "[dial ...]",
 * "[call ended ...]"); errors on stderr as one "voxtwilio-sim: error: ..." line naming the
 * Twilio error code Twilio itself would have logged.
 */
#ifndef VTSIM_H
#define VTSIM_H

#include <stdio.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#define VTSIM_PROG "voxtwilio-sim"
#define VTSIM_TIMEOUT_S 15L          /* Twilio's limit for a whole webhook request */
#define VTSIM_CONNECT_TIMEOUT_S 5L   /* Twilio's TCP connect timeout */
#define VTSIM_DEFAULT_CONFIDENCE "0.9"
#define VTSIM_DEFAULT_DIAL_DURATION 30
#define VTSIM_DEFAULT_MAX_REQUESTS 100

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

/* ---- vtsim_call.c */
/* Places the call and plays it to its end. 0: the call ended normally; 1: an error
 * (printed). */
int vtsim_call(vtsim_t *s);

#endif
