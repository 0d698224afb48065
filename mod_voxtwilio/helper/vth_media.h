/* vth_media — voxtwilio-helper's live audio: the Media Streams server (Twilio's calls,
 * through Apache's mod_proxy_wstunnel on a unix socket), its per-call sessions and their
 * backends (a realtime model, or the offline DTMF menu). docs/stream-mode.md.
 *
 * Threads. The media thread runs one libwebsockets event loop for every stream and every
 * backend connection and never blocks: whatever could wait (a database statement, a name
 * lookup, speech synthesis) is a task handed to a worker thread (vth_work), whose result
 * comes back through a completion queue that wakes the loop (lws_cancel_service). The job
 * and spool loop runs in the main thread, which also owns the signals; it starts the media
 * thread and stops it on the way out.
 *
 * Files:
 *   vth_media.c    the lws context, listener, protocols, the sweep timer, the thread
 *   vth_stream.c   a call's stream: Twilio's messages, verification, playback and marks,
 *                  barge-in (clear), the outcome and the close
 *   vth_realtime.c the realtime backend (OpenAI-Realtime-compatible WebSocket client)
 *   vth_pipeline.c the voice pipeline (turn detection, speech-to-text, the turn rules)
 *                  and, without speech-to-text, the offline DTMF menu
 *   vth_speak.c    the pipeline's voice: phrase cache, text-to-speech endpoint, espeak-ng
 *   vth_work.c     worker threads and their queues
 *   vth_db.c       the helper's database layer (connection, reconnect, error text)
 *   vth_tts.c      espeak-ng synthesis to µ-law 8 kHz, cached per text
 */
#ifndef VTH_MEDIA_H
#define VTH_MEDIA_H

#include <stdint.h>
#include <pthread.h>

#include <apr_pools.h>
#include <libpq-fe.h>
#include <libwebsockets.h>

#include "vth.h"
#include "vt_assistant_cache.h"
#include "vt_conversation.h"
#include "vt_events.h"
#include "vt_log.h"
#include "vt_stream_msg.h"
#include "vt_stream_stats.h"
#include "vt_tenant.h"

#define VTH_STREAM_MAX_DEFAULT 1000     /* concurrent streams */
#define VTH_STREAM_TIMEOUT_S 10         /* Twilio silent this long: the stream is dead */
#define VTH_REALTIME_TIMEOUT_MS 4000    /* a backend that owes an answer this long failed */
#define VTH_CHUNK_MS 200                /* outbound audio per media message, a mark after */
#define VTH_CHUNK_BYTES (VTH_CHUNK_MS * 8)
#define VTH_SWEEP_MS 100                /* timers of every stream are checked this often */
#define VTH_CLOSE_WAIT_MS 3000          /* the outcome's write, before closing anyway */
#define VTH_OFFLINE_NO_INPUT_MS 8000    /* after a prompt, no key or speech this long is
                                         * "no input" */
#define VTH_NOT_UNDERSTOOD "[not understood]" /* the caller's turn the recognizer rejected */
/* Pipeline exchanges (STT, model, TTS) at once: each holds its worker for the endpoint's
 * whole answer (0.5-1 s), so the pool follows the calls, not the cores (200 callers
 * speaking every 7 s keep about 20 busy): --stream-max / VTH_HTTP_STREAMS_PER_WORKER,
 * within the bounds. */
#define VTH_HTTP_WORKERS_MIN 16
#define VTH_HTTP_WORKERS_MAX 128
#define VTH_HTTP_STREAMS_PER_WORKER 8
#define VTH_STT_TIMEOUT_MS 4000         /* a transcript later than this is nothing heard */
#define VTH_MODEL_TIMEOUT_MS 6000       /* the model's answer beginning, before the script
                                         * answers */
#define VTH_RECOGNIZER_THREADS_MAX 4    /* offline recognizers (a decoder each, on use) */
#define VTH_MODEL_STREAM_MS 20000       /* a streamed answer in all (it plays meanwhile) */

/* ---------------------------------------------------------------- workers (vth_work.c) */

typedef struct vth_task vth_task_t;
typedef struct vth_queue vth_queue_t;
typedef struct vth_media vth_media_t;
typedef struct vth_db vth_db_t;

/* run: in the worker thread (may block; db is the worker's own connection, NULL for
 * queues without one). done: back on the media thread, then the task's pool is
 * destroyed unless done took it (task->pool = NULL). */
struct vth_task {
    void (*run)(vth_task_t *t, vth_db_t *db);
    void (*done)(vth_task_t *t);
    apr_pool_t *pool;       /* the task's own; the worker allocates results in it */
    unsigned long stream_id; /* 0: none; done looks the stream up again (it may be gone) */
    void *data;
    int rc;                 /* set by run */
    vth_queue_t *then;      /* set by run: the task goes on there (with the run it set)
                             * instead of coming back: a second stage on other workers */
    vth_media_t *media;     /* set when pushed */
    vth_task_t *next;
};

/* A worker thread with its FIFO queue; with_db: it keeps a database connection. */
vth_queue_t *vth_queue_start(apr_pool_t *p, vth_media_t *m, const char *name, int with_db);
/* Several threads on one FIFO queue (no database): blocking HTTP exchanges of many calls
 * at once. */
vth_queue_t *vth_queue_start_pool(apr_pool_t *p, vth_media_t *m, const char *name,
                                  int threads);
/* Hands a task over (any thread). */
void vth_queue_push(vth_queue_t *q, vth_task_t *t);
/* A new task with its own pool (media thread). */
vth_task_t *vth_task_new(void (*run)(vth_task_t *, vth_db_t *), void (*done)(vth_task_t *),
                         unsigned long stream_id, void *data);
/* Worker thread: a piece of a task's result sent ahead to the media thread (streamed
 * speech): a task without run, of the parent's stream, with size zeroed bytes as data;
 * hand it over with vth_media_complete(parent->media, t). Pieces and the parent's own
 * done arrive in the order they were completed. */
vth_task_t *vth_task_progress(vth_task_t *parent, void (*done)(vth_task_t *), size_t size);
/* HTTP worker thread: its own client (speech-to-text, the model, text-to-speech), made on
 * first use and kept; NULL when libcurl cannot make one. */
vt_llm_http_t *vth_worker_http(void);
/* Stops the worker after its queue is empty and joins it. */
void vth_queue_stop(vth_queue_t *q);
/* Media thread: runs the done() of every finished task. */
void vth_media_completions(vth_media_t *m);
/* Worker thread: a finished task goes back to the media thread. */
void vth_media_complete(vth_media_t *m, vth_task_t *t);

/* ---------------------------------------------------------------- database (vth_db.c) */

vth_db_t *vth_db_create(apr_pool_t *p, const char *conninfo, const char *who);
void vth_db_close(vth_db_t *db);
/* Runs one vt_events-style statement (apr_dbd %s placeholders) with text arguments,
 * connecting first if needed. The result (tuples or command OK), or NULL with *err (in p,
 * one line, never a secret); a broken connection is dropped and retried at the next call. */
PGresult *vth_db_exec(vth_db_t *db, apr_pool_t *p, const vt_event_stmt_t *st,
                      const char *const *args, const char **err);

/* ---------------------------------------------------------------- speech (vth_tts.c) */

typedef struct vth_clip {
    const uint8_t *ulaw;    /* µ-law 8 kHz; immutable, lives as long as the cache */
    size_t len;
} vth_clip_t;

/* espeak-ng for the process (the TTS worker calls it, one synthesis at a time). */
int vth_tts_init(void);
/* The clip of text in language (a BCP-47 tag, "en-US"), from the cache or synthesized
 * now (TTS worker only): cached clips live as long as the process, others as long as p.
 * NULL when espeak-ng fails. */
const vth_clip_t *vth_tts_clip_in(apr_pool_t *p, const char *language, const char *text);

/* ---------------------------------------------------------------- outbound frames */

/* Text frames waiting for a connection's WRITEABLE callback (vth_media.c). */
typedef struct vth_outq {
    struct vth_out *head, *tail;
    int count;
} vth_outq_t;

/* Copies data in (with lws's LWS_PRE headroom). 0, or -1 out of memory. */
int vth_outq_push(vth_outq_t *q, const char *data, size_t len);
/* Writes the first frame as text: 1 when more wait (ask for WRITEABLE again), 0 when the
 * queue is empty, -1 when the write failed (close the connection). */
int vth_outq_write(vth_outq_t *q, struct lws *wsi);
void vth_outq_clear(vth_outq_t *q);

/* A message arriving in pieces (lws hands over at most rx_buffer_size at a time). */
typedef struct vth_rxbuf {
    char *data;
    size_t len, cap;
} vth_rxbuf_t;

/* Adds a piece of wsi's current message: 1 when the message is now whole (data[0..len);
 * set len to 0 once used), 0 when more is to come, -1 when it would grow past max (or
 * memory ran out). */
int vth_rxbuf_add(vth_rxbuf_t *b, struct lws *wsi, const void *in, size_t n, size_t max);
void vth_rxbuf_free(vth_rxbuf_t *b);

/* ---------------------------------------------------------------- the media server */

typedef struct vth_stream vth_stream_t;

typedef struct vth_media_conf {
    const char *socket_path;   /* the unix socket Apache proxies to */
    const char *socket_owner;  /* "user:group" for the socket (the helper's own) */
    /* the direct listener (NULL public_url: none): Twilio's streams through a load
     * balancer, not Apache; the URL checked is public_url + the request's path */
    const char *public_url;
    const char *listen_host;   /* NULL: every address */
    int listen_port;
    int max_streams;
    int stream_timeout_s;
    int realtime_timeout_ms;
    int loopback;              /* the benchmark's echo backend for every stream */
} vth_media_conf_t;

struct vth_media {
    apr_pool_t *pool;
    const vth_config_t *cfg;
    vth_media_conf_t conf;
    struct lws_context *ctx;
    struct lws_vhost *direct;  /* the direct listener's vhost, or NULL */
    struct ev_loop *loop;      /* libev (epoll) under lws */
    pthread_t thread;
    volatile int stop;
    /* finished tasks, from the workers */
    pthread_mutex_t lock;
    vth_task_t *done_head, *done_tail;
    vth_queue_t *dbq, *ttsq, *dnsq;
    vth_queue_t *httpq;        /* speech-to-text and the model, for the pipeline */
    vth_queue_t *recogq;       /* the offline recognizer (CPU-bound: one per core) */
    /* the live streams */
    vth_stream_t *streams;
    struct apr_hash_t *by_id;
    int nstreams;
    unsigned long next_id;
    lws_sorted_usec_list_t sweep;
    const vth_clip_t *apology; /* the backend-failure clip, synthesized at start */
    /* counters, mapped from the stats file for mod_status (else private) */
    vt_stream_stats_t *stats;
};

/* Starts the media thread (socket bound before this returns). 0, or -1 after logging. */
int vth_media_start(vth_media_t **out, apr_pool_t *p, const vth_config_t *cfg,
                    const vth_media_conf_t *conf);
/* Asks the media thread to close every stream and stop, and joins it. */
void vth_media_stop(vth_media_t *m);
/* Media thread, woken by lws_cancel_service: finished tasks, then the stop request. */
void vth_media_wakeup(vth_media_t *m);

/* ---------------------------------------------------------------- streams (vth_stream.c) */

typedef enum {
    VTH_S_VERIFYING = 0,   /* upgrade accepted, signature being checked */
    VTH_S_CONNECTED,       /* waiting for start */
    VTH_S_CLAIMING,        /* start received, the call being claimed */
    VTH_S_LIVE,
    VTH_S_CLOSING          /* outcome written (or being written); close when sent */
} vth_stream_state_t;

typedef struct vth_backend vth_backend_t;

/* The stream's tenant_pool (the tenant, its assistant, its keys), kept while tasks on
 * the workers still read it after the stream has gone. Media thread only. */
typedef struct vth_hold {
    apr_pool_t *pool;
    int refs;
} vth_hold_t;

/* The tenant's API keys, decrypted into the stream's tenant_pool (wiped with it); NULL:
 * none. */
typedef struct vth_keys {
    const char *realtime, *stt, *tts, *llm;
} vth_keys_t;

/* What a backend does with the call. Every hook runs on the media thread. */
typedef struct vth_backend_ops {
    const char *name;                    /* "realtime", "offline" */
    void (*start)(vth_stream_t *s);
    /* One inbound frame: µ-law bytes and Twilio's base64 of them. */
    void (*media)(vth_stream_t *s, const vt_stream_msg_t *m);
    void (*dtmf)(vth_stream_t *s, char digit);
    /* Playback reached the end of `item` (its last mark came back). */
    void (*played)(vth_stream_t *s, int item);
    /* Every VTH_SWEEP_MS: deadlines. */
    void (*tick)(vth_stream_t *s, long long now);
    /* The stream goes: let go of everything. */
    void (*stop)(vth_stream_t *s);
} vth_backend_ops_t;

/* Per-item playback: what was sent and what Twilio says was played. */
typedef struct vth_item {
    int id;
    long sent_ms, played_ms;
    int done;               /* its end mark went out */
} vth_item_t;

#define VTH_ITEMS 8         /* items tracked at once (older ones are finished) */

struct vth_stream {
    unsigned long id;
    vth_media_t *media;
    struct lws *wsi;
    apr_pool_t *pool;
    vth_stream_t *prev, *next;
    vth_stream_state_t state;
    const char *slug, *call_sid, *url, *signature;
    /* after verification */
    apr_pool_t *tenant_pool;
    vth_hold_t *hold;          /* owns tenant_pool */
    vt_tenant_t *tenant;
    const vt_assistant_t *assistant;
    vth_keys_t keys;
    /* after start */
    const char *stream_sid, *from, *to;
    int next_seq;              /* of call_turns */
    /* what the assistant says first: the call's first turn (inbound wrote it: an outbound
     * call's greeting is not the tenant's), else the tenant's greeting */
    const char *greeting;
    /* Twilio side */
    vt_sm_parser_t *parser;
    vth_rxbuf_t rx;
    long long last_rx_ms;
    vth_outq_t out;
    int rx_write_ok;           /* inside a RECEIVE that may write once (out_push) */
    unsigned gen;              /* bumped by every clear */
    int pending_marks;         /* of this generation, not echoed yet */
    vth_item_t items[VTH_ITEMS];
    int barge_ins;
    /* the backend */
    const vth_backend_ops_t *ops;
    void *backend;
    struct vth_voice *voice;   /* the pipeline's speech (vth_speak.c); NULL: none */
    /* the end */
    int failed;                /* the backend failed: the apology plays */
    long long fail_deadline;
    const char *outcome;       /* NULL: none told */
    int close_code;
    long long close_deadline;
    int outcome_written;
    int close_started;         /* lws has our close frame: the rest is its handshake */
};

/* The media server's lws callbacks for Twilio's side; per-session data of this size. */
#define VTH_STREAM_PSS_SIZE sizeof(void *)
int vth_stream_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                        void *in, size_t len);
/* A reference to the stream's tenant for a task (release it in the task's done). */
vth_hold_t *vth_stream_hold(vth_stream_t *s);
/* NULL is fine. */
void vth_hold_release(vth_hold_t *h);
/* The stream with that id, or NULL when it is gone. */
vth_stream_t *vth_stream_find(vth_media_t *m, unsigned long id);
void vth_stream_tick(vth_stream_t *s, long long now);

/* For the backends: */
/* Queues audio to play as item `item` (chunks of VTH_CHUNK_MS with a mark after each);
 * last: the item is complete (an end mark follows). */
void vth_stream_play(vth_stream_t *s, int item, const uint8_t *ulaw, size_t n, int last);
/* The caller talks over the assistant: vth_stream_clear, counted as a barge-in. */
void vth_stream_barge_in(vth_stream_t *s);
/* One media message, no mark (the benchmark's loopback: at most VTH_CHUNK_BYTES). */
void vth_stream_send_media(vth_stream_t *s, const uint8_t *ulaw, size_t n);
/* Barge-in: Twilio's buffer emptied (`clear` before anything else queued), unsent audio
 * dropped, marks of earlier generations ignored from now on. */
void vth_stream_clear(vth_stream_t *s);
/* The playback state of item (NULL when it is not tracked). */
vth_item_t *vth_stream_item(vth_stream_t *s, int item);
/* 1 while audio sent to Twilio has not all been played. */
int vth_stream_playing(const vth_stream_t *s);
/* Stores a turn (caller or assistant) of the call, in order. */
void vth_stream_turn(vth_stream_t *s, const char *role, const char *text, int interrupted,
                     long heard_ms);
/* The caller's words with the recognizer's confidence ([0,1]; < 0: none). */
void vth_stream_caller_turn(vth_stream_t *s, const char *text, double confidence);
/* The pipeline's stages of an assistant turn, in ms from the end of the caller's speech;
 * -1 when the stage did not happen. answer_ms is the whole answer: streamed, its first
 * token (first_token_ms) and first audio come before it. */
typedef struct vth_turn_times {
    long transcript_ms, answer_ms, audio_ms, reply_ms;
    long first_token_ms;
} vth_turn_times_t;
void vth_stream_turn_timed(vth_stream_t *s, const char *role, const char *text,
                           int interrupted, long heard_ms, const vth_turn_times_t *times);
/* Adds a reply's stages to the latency histograms of mod_status (vth_stage_stats.c). */
void vth_stage_stats_add(vt_stream_stats_t *st, const vth_turn_times_t *t);
/* Queues an SMS job (vt_conv_result_t's). */
void vth_stream_sms(vth_stream_t *s, const char *to, const char *body, const char *dedup);
/* Ends the conversation: writes the outcome ("transfer", "hangup", "failed"), then closes
 * the stream so Twilio goes on with the <Connect action>. */
void vth_stream_finish(vth_stream_t *s, const char *outcome);
/* The backend failed: the apology clip, then finish "failed". */
void vth_stream_backend_failed(vth_stream_t *s, const char *why);
/* One log line about the stream (CallSid first). */
void vth_stream_log(vth_stream_t *s, vt_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- speech (vth_speak.c) */

/* The stream's voice: texts played as items, from the tenant's phrase cache, its
 * text-to-speech endpoint (streamed) or espeak-ng. Media thread only. */
typedef struct vth_voice vth_voice_t;
/* The first audio of a VTH_SAY_REPORT text of item is queued (ok 1), or a text could not
 * be spoken by any means (ok 0, any text). */
typedef void vth_voice_fn(vth_stream_t *s, int item, int ok);
#define VTH_SAY_FIXED 1u    /* a fixed text (not the model's): kept in the phrase cache */
#define VTH_SAY_MORE 2u     /* more texts of this item follow: no end mark yet */
#define VTH_SAY_REPORT 4u   /* on_audio when its first audio is queued */
/* NULL out of memory. s->voice is set. */
vth_voice_t *vth_voice_create(vth_stream_t *s, vth_voice_fn *on_audio);
/* Adds text (blank: none) to item, played after the item's texts before it; an item
 * other than the current one starts afresh and drops what the old one had pending (its
 * audio already sent plays on unless cleared). Without VTH_SAY_MORE the item ends (its
 * end mark, then the backend's played hook) after this text. */
void vth_voice_say(vth_voice_t *v, int item, const char *language, const char *text,
                   unsigned flags);
/* A fixed text's clip when the phrase cache has it (tenants with an endpoint), else NULL. */
const vth_clip_t *vth_voice_ready(vth_voice_t *v, const char *text);
/* Synthesizes a fixed text into the phrase cache ahead of need (an endpoint tenant's
 * filler and apologies), unless it is there. */
void vth_voice_warm(vth_voice_t *v, const char *language, const char *text);
/* The stream goes: requests in flight stop at their next piece. */
void vth_voice_destroy(vth_voice_t *v);

extern const vth_backend_ops_t vth_realtime_ops;
extern const vth_backend_ops_t vth_offline_ops;
extern const vth_backend_ops_t vth_pipeline_ops;
extern const vth_backend_ops_t vth_loopback_ops;

/* The realtime backend's client protocol (vth_realtime.c). */
int vth_realtime_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len);

#endif
