/* vth_speak — the stream's voice (vth_voice_*, vth_media.h): texts become µ-law played as
 * items of the stream, in order, from
 *   1. the phrase cache, for fixed texts (greeting, menu, script replies, fillers,
 *      apologies) of a tenant with a text-to-speech endpoint: played at once;
 *   2. the tenant's endpoint (vt_tts, OpenAI-compatible /audio/speech) on the HTTP
 *      workers, streamed: each piece goes to the media thread and plays as it arrives;
 *   3. espeak-ng (vth_tts, on the TTS thread): without an endpoint, and when the endpoint
 *      failed before any audio (the caller hears the other voice rather than silence).
 * One text of an item is synthesized at a time, so its pieces stay in order. A new item
 * drops what is pending of the old one: a request still streaming sees the token move
 * and stops (barge-in costs no more synthesis than the piece in flight).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "vth_media.h"
#include "vt_log.h"
#include "vt_tts.h"

#define SPEAK_TIMEOUT_MS 20000   /* one text's whole exchange with the endpoint */
#define SPEAK_FIRST_BYTE_MS 2000 /* its first audio; later, espeak-ng speaks it */
#define SPEAK_FIRST_PIECE 320    /* µ-law bytes (40 ms) sent ahead as soon as they exist */
#define PHRASE_CACHE_MAX (32L * 1024 * 1024) /* µ-law bytes kept for all tenants */
#define PHRASE_MAX (8 * 1000 * 60)           /* a phrase of at most a minute is kept */
#define SAY_WARM 0x100u          /* only into the cache: nothing played */

/* The item the stream wants now, shared with the workers (freed by the last owner). */
typedef struct voice_token {
    int refs;
    int want;
} voice_token_t;

typedef struct say_req {
    struct say_req *next;
    const char *language, *text;
    unsigned flags;
} say_req_t;

struct vth_voice {
    vth_stream_t *s;
    vth_voice_fn *on_audio;
    voice_token_t *tok;
    int item;                 /* the item being spoken; 0: none yet */
    say_req_t *head, *tail;   /* its texts still to synthesize */
    int busy;                 /* one of them is being synthesized */
    int open;                 /* more texts may follow (VTH_SAY_MORE) */
    int ended;                /* its end mark went out */
};

/* ------------------------------------------------------------------ the phrase cache */

static struct {
    pthread_mutex_t lock;
    apr_pool_t *pool;
    apr_hash_t *clips;
    size_t bytes;
} phrases = { PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0 };

static const char *phrase_key(apr_pool_t *p, const vt_tenant_t *t, const char *text)
{
    /* The endpoint's settings are in the key: a new voice is a new phrase. */
    return apr_pstrcat(p, t->company_id, "\n", t->tts_url, "\n", t->tts_model, "\n",
                       t->tts_voice ? t->tts_voice : "", "\n",
                       t->tts_format ? t->tts_format : "", "\n", text, NULL);
}

static const vth_clip_t *phrase_get(const char *key)
{
    const vth_clip_t *c;

    pthread_mutex_lock(&phrases.lock);
    c = phrases.clips ? apr_hash_get(phrases.clips, key, APR_HASH_KEY_STRING) : NULL;
    pthread_mutex_unlock(&phrases.lock);
    return c;
}

static void phrase_put(const char *key, const uint8_t *ulaw, size_t len)
{
    pthread_mutex_lock(&phrases.lock);
    if (!phrases.pool && apr_pool_create_unmanaged(&phrases.pool) == APR_SUCCESS) {
        phrases.clips = apr_hash_make(phrases.pool);
    }
    if (phrases.clips && phrases.bytes + len <= PHRASE_CACHE_MAX
        && !apr_hash_get(phrases.clips, key, APR_HASH_KEY_STRING)) {
        vth_clip_t *c = apr_palloc(phrases.pool, sizeof *c);
        c->ulaw = apr_pmemdup(phrases.pool, ulaw, len);
        c->len = len;
        apr_hash_set(phrases.clips, apr_pstrdup(phrases.pool, key), APR_HASH_KEY_STRING, c);
        phrases.bytes += len;
    }
    pthread_mutex_unlock(&phrases.lock);
}

/* ------------------------------------------------------------------ tokens */

static voice_token_t *token_ref(voice_token_t *k)
{
    __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
    return k;
}

static void token_unref(voice_token_t *k)
{
    if (k && __atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        free(k);
    }
}

static int token_wants(voice_token_t *k, int item)
{
    return __atomic_load_n(&k->want, __ATOMIC_ACQUIRE) == item;
}

/* ------------------------------------------------------------------ one text */

typedef struct speak_task {
    int item;
    unsigned flags;
    const char *language, *text;
    voice_token_t *tok;
    vth_hold_t *hold;         /* the tenant and its key, while the endpoint speaks */
    const vt_tenant_t *tenant;
    const char *key;
    const char *cache_key;    /* fixed text: the whole audio goes to the cache */
    vth_task_t *task;
    /* worker side */
    uint8_t *pend;            /* audio not yet sent ahead */
    size_t npend, cap;
    uint8_t *all;             /* everything, for the cache */
    size_t nall, capall;
    size_t sent;              /* bytes sent ahead */
    int too_long;
    /* results */
    apr_status_t rv;
    vt_tts_result_t res;
    const vth_clip_t *clip;   /* espeak-ng */
} speak_task_t;

typedef struct piece {
    int item;
    unsigned flags;
    size_t len;
    uint8_t *ulaw;
} piece_t;

static void pump(vth_voice_t *v);

static vth_voice_t *voice_of(vth_task_t *t, int item)
{
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);

    if (!s || !s->voice || s->voice->item != item || s->state != VTH_S_LIVE) {
        return NULL; /* gone, or the caller moved on */
    }
    return s->voice;
}

/* First audio of a text the backend asked to hear about. */
static void report(vth_voice_t *v, unsigned flags, int ok)
{
    if ((flags & VTH_SAY_REPORT) || !ok) {
        v->on_audio(v->s, v->item, ok);
    }
}

static void piece_done(vth_task_t *t)
{
    piece_t *pc = t->data;
    vth_voice_t *v = voice_of(t, pc->item);

    if (v) {
        vth_stream_play(v->s, pc->item, pc->ulaw, pc->len, 0);
        if (pc->flags & VTH_SAY_REPORT) {
            report(v, pc->flags, 1);
        }
    }
}

static int grow(uint8_t **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 4096;
    uint8_t *b;

    while (n < need) {
        n *= 2;
    }
    if (n == *cap) {
        return 0;
    }
    if (!(b = realloc(*buf, n))) {
        return -1;
    }
    *buf = b;
    *cap = n;
    return 0;
}

/* Worker: the pending audio goes ahead to the media thread. */
static void send_ahead(speak_task_t *st)
{
    vth_task_t *t = vth_task_progress(st->task, piece_done, sizeof(piece_t));
    piece_t *pc = t->data;

    pc->item = st->item;
    pc->flags = st->sent ? 0 : st->flags; /* the first piece reports */
    pc->len = st->npend;
    pc->ulaw = apr_pmemdup(t->pool, st->pend, st->npend);
    st->sent += st->npend;
    st->npend = 0;
    vth_media_complete(st->task->media, t);
}

static int on_piece(void *baton, const uint8_t *ulaw, size_t len)
{
    speak_task_t *st = baton;

    int warm = (st->flags & SAY_WARM) != 0;

    if (!warm && !token_wants(st->tok, st->item)) {
        return 1; /* barge-in: stop the transfer */
    }
    if (st->cache_key && !st->too_long) {
        if (st->nall + len > PHRASE_MAX || grow(&st->all, &st->capall, st->nall + len) < 0) {
            st->too_long = 1;
        }
        else {
            memcpy(st->all + st->nall, ulaw, len);
            st->nall += len;
        }
    }
    if (warm) {
        return st->too_long;
    }
    if (grow(&st->pend, &st->cap, st->npend + len) < 0) {
        return 1;
    }
    memcpy(st->pend + st->npend, ulaw, len);
    st->npend += len;
    if (st->npend >= (st->sent ? (size_t)VTH_CHUNK_BYTES : (size_t)SPEAK_FIRST_PIECE)) {
        send_ahead(st);
    }
    return 0;
}

static void endpoint_run(vth_task_t *t, vth_db_t *db)
{
    speak_task_t *st = t->data;
    const vt_tenant_t *tn = st->tenant;
    vt_tts_conf_t conf = { tn->tts_url, tn->tts_model, tn->tts_voice, st->key,
                           tn->tts_format, 0 };

    (void)db;
    st->task = t;
    st->rv = vt_tts_speak(vth_worker_http(), t->pool, &conf, st->text, SPEAK_TIMEOUT_MS,
                          SPEAK_FIRST_BYTE_MS, on_piece, st, &st->res);
    if (st->npend && token_wants(st->tok, st->item)) {
        send_ahead(st);
    }
    if (st->rv == APR_SUCCESS && !st->res.aborted && st->cache_key && !st->too_long
        && st->nall) {
        phrase_put(st->cache_key, st->all, st->nall);
    }
    free(st->pend);
    free(st->all);
}

static void espeak_run(vth_task_t *t, vth_db_t *db)
{
    speak_task_t *st = t->data;

    (void)db;
    st->clip = vth_tts_clip_in(t->pool, st->language, st->text);
}

static void text_finished(vth_voice_t *v)
{
    v->busy = 0;
    pump(v);
}

static void espeak_done(vth_task_t *t)
{
    speak_task_t *st = t->data;
    vth_voice_t *v = voice_of(t, st->item);

    token_unref(st->tok);
    if (!v) {
        return;
    }
    if (!st->clip) {
        report(v, st->flags, 0);
        return;
    }
    vth_stream_play(v->s, st->item, st->clip->ulaw, st->clip->len, 0);
    report(v, st->flags, 1);
    text_finished(v);
}

static void start_espeak(vth_stream_t *s, speak_task_t *src)
{
    vth_task_t *t = vth_task_new(espeak_run, espeak_done, s->id, NULL);
    speak_task_t *st = apr_pcalloc(t->pool, sizeof *st);

    st->item = src->item;
    st->flags = src->flags;
    st->language = apr_pstrdup(t->pool, src->language);
    st->text = apr_pstrdup(t->pool, src->text);
    st->tok = token_ref(src->tok);
    t->data = st;
    vth_queue_push(s->media->ttsq, t);
}

static void endpoint_done(vth_task_t *t)
{
    speak_task_t *st = t->data;
    vth_voice_t *v = voice_of(t, st->item);

    vth_hold_release(st->hold);
    if (v && st->rv != APR_SUCCESS) {
        vth_stream_log(v->s, VT_LOG_WARN, "text-to-speech failed (%s)%s",
                       st->res.error ? st->res.error : "error",
                       st->sent ? ": the rest of the sentence is lost"
                                : ": espeak-ng speaks it");
        if (!st->sent) {
            start_espeak(v->s, st); /* in order: this text is still the one in progress */
            token_unref(st->tok);
            return;
        }
    }
    token_unref(st->tok);
    if (v) {
        text_finished(v);
    }
}

static void start_endpoint(vth_voice_t *v, const say_req_t *r, const char *cache_key)
{
    vth_stream_t *s = v->s;
    vth_task_t *t = vth_task_new(endpoint_run, endpoint_done, s->id, NULL);
    speak_task_t *st = apr_pcalloc(t->pool, sizeof *st);

    st->item = v->item;
    st->flags = r->flags;
    st->language = apr_pstrdup(t->pool, r->language);
    st->text = apr_pstrdup(t->pool, r->text);
    st->tok = token_ref(v->tok);
    st->hold = vth_stream_hold(s);
    st->tenant = s->tenant;
    st->key = s->keys.tts;
    st->cache_key = cache_key ? apr_pstrdup(t->pool, cache_key) : NULL;
    t->data = st;
    vth_queue_push(s->media->httpq, t);
}

/* ------------------------------------------------------------------ the item's texts */

/* The next text of the item, or its end mark once the last one played. */
static void pump(vth_voice_t *v)
{
    while (!v->busy && v->head) {
        say_req_t *r = v->head;
        const char *key = NULL;
        const vth_clip_t *c = NULL;
        apr_pool_t *p;

        v->head = r->next;
        if (!v->head) {
            v->tail = NULL;
        }
        apr_pool_create_unmanaged(&p);
        if (vt_tenant_has_tts(v->s->tenant)) {
            key = (r->flags & VTH_SAY_FIXED) ? phrase_key(p, v->s->tenant, r->text) : NULL;
            if (key && (c = phrase_get(key)) != NULL) {
                vth_stream_play(v->s, v->item, c->ulaw, c->len, 0);
                report(v, r->flags, 1);
            }
            else {
                v->busy = 1;
                start_endpoint(v, r, key);
            }
        }
        else {
            speak_task_t src = { .item = v->item, .flags = r->flags, .language = r->language,
                                 .text = r->text, .tok = v->tok };
            v->busy = 1;
            start_espeak(v->s, &src);
        }
        apr_pool_destroy(p);
    }
    if (!v->busy && !v->head && !v->open && !v->ended && v->item) {
        v->ended = 1;
        vth_stream_play(v->s, v->item, NULL, 0, 1);
    }
}

vth_voice_t *vth_voice_create(vth_stream_t *s, vth_voice_fn *on_audio)
{
    vth_voice_t *v = apr_pcalloc(s->pool, sizeof *v);

    if (!(v->tok = calloc(1, sizeof *v->tok))) {
        return NULL;
    }
    v->tok->refs = 1;
    v->s = s;
    v->on_audio = on_audio;
    s->voice = v;
    return v;
}

void vth_voice_say(vth_voice_t *v, int item, const char *language, const char *text,
                   unsigned flags)
{
    say_req_t *r;

    if (item != v->item) {
        v->item = item;
        v->head = v->tail = NULL;
        v->busy = v->ended = 0;
        __atomic_store_n(&v->tok->want, item, __ATOMIC_RELEASE);
    }
    v->open = (flags & VTH_SAY_MORE) != 0;
    if (text && *text) {
        r = apr_pcalloc(v->s->pool, sizeof *r);
        r->language = apr_pstrdup(v->s->pool, language);
        r->text = apr_pstrdup(v->s->pool, text);
        r->flags = flags;
        if (v->tail) {
            v->tail->next = r;
        }
        else {
            v->head = r;
        }
        v->tail = r;
    }
    pump(v);
}

const vth_clip_t *vth_voice_ready(vth_voice_t *v, const char *text)
{
    const vth_clip_t *c = NULL;
    apr_pool_t *p;

    if (vt_tenant_has_tts(v->s->tenant) && text && *text) {
        apr_pool_create_unmanaged(&p);
        c = phrase_get(phrase_key(p, v->s->tenant, text));
        apr_pool_destroy(p);
    }
    return c;
}

void vth_voice_warm(vth_voice_t *v, const char *language, const char *text)
{
    say_req_t r = { NULL, language, text, VTH_SAY_FIXED | SAY_WARM };
    apr_pool_t *p;
    const char *key;

    if (!vt_tenant_has_tts(v->s->tenant) || !text || !*text) {
        return;
    }
    apr_pool_create_unmanaged(&p);
    key = phrase_key(p, v->s->tenant, text);
    if (!phrase_get(key)) {
        int item = v->item;
        v->item = -2; /* never a stream's: its end is nobody's business */
        start_endpoint(v, &r, key);
        v->item = item;
    }
    apr_pool_destroy(p);
}

void vth_voice_destroy(vth_voice_t *v)
{
    if (!v) {
        return;
    }
    __atomic_store_n(&v->tok->want, -1, __ATOMIC_RELEASE);
    v->s->voice = NULL;
    token_unref(v->tok);
    v->tok = NULL;
}
