/* vth_pipeline — stream mode without a realtime model: the voice pipeline
 * (docs/voice-pipeline.md). The caller's audio goes through turn detection (vt_turn); an
 * utterance goes to the tenant's speech-to-text endpoint and then to the core's turn
 * rules (vt_conv_turn: script or the tenant's chat model) on the HTTP workers; the reply is
 * spoken (vth_speak: the tenant's text-to-speech endpoint or espeak-ng) and played. The
 * model's answer is streamed: each sentence plays as soon as it is complete, ahead of the
 * rest (the reply's item stays open until the answer is whole). Keys work as in the
 * offline menu at any time.
 *
 * Without a speech-to-text endpoint ("offline") the greeting carries a DTMF menu made from
 * the tenant's intents ("For opening hours, press 1."); in English the offline recognizer
 * (vt_sphinx, docs/offline-recognizer.md) also listens for the script's phrases, on its own
 * workers (decoding is CPU-bound) before the turn goes to the HTTP workers. Speech it does
 * not match well enough is a no-match. A menu left unanswered (no key, no speech) counts
 * as no input.
 *
 * Barge-in: the caller talking barge_in_ms over the assistant cuts it (clear, within the
 * frame that decided), and a reply still being prepared is dropped when it arrives (the
 * caller's words are kept). The assistant's turn is stored once it was heard or cut, with
 * what played (heard_ms) and the stages of its making (vth_turn_times_t).
 *
 * Never silent: a reply not playing reply_budget_ms after the caller stopped gets a short
 * filler first; a failed transcription is "nothing heard" (the rules reprompt), a failed
 * model is the rules' own fallback.
 */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "vth_media.h"
#include "vt_g711.h"
#include "vt_log.h"
#include "vt_sphinx.h"
#include "vt_stt.h"
#include "vt_turn.h"

#define PIPE_REPLY_BUDGET_MS 2500   /* the tenant's reply_budget_ms when unset */

typedef struct pipe {
    int item;              /* the prompt being synthesized or played */
    vt_conv_next_t next;   /* what follows it */
    vt_conv_state_t st;
    long long no_input_at; /* 0: not listening for keys */
    /* speech (NULL turn: offline, keys only) */
    vt_turn_t *turn;
    int recognize;         /* the offline recognizer listens, not speech-to-text */
    int dropped_logged;    /* phrases it cannot listen for were reported */
    int16_t frame[VT_VAD_FRAME];
    size_t frame_len;
    unsigned epoch;        /* bumped by each barge-in: an answer of an older one is dropped */
    int thinking;          /* utterances with the workers */
    long long heard_at;    /* when the utterance being answered ended */
    long long filler_at;   /* 0: no filler due */
    int item_open;         /* the current item takes more text: a filler played in it, or
                            * the sentences of a streamed answer */
    int streamed;          /* sentences of the answer being made already play */
    const vth_clip_t *filler_clip; /* espeak-ng's, when the endpoint's is not cached */
    /* the reply playing, stored once heard or cut */
    const char *speaking;
    int reply_item;        /* its item */
    vth_turn_times_t times;
    /* the dialogue so far, for the model */
    apr_array_header_t *history; /* vt_llm_turn_t, in the stream's pool */
} pipe_t;

/* ------------------------------------------------------------------ speaking */

static pipe_t *live_pipe(vth_stream_t *s)
{
    if (!s || s->state != VTH_S_LIVE || s->failed
        || (s->ops != &vth_offline_ops && s->ops != &vth_pipeline_ops)) {
        return NULL;
    }
    return s->backend;
}

/* The reply that played (or was cut) goes to the call log. */
static void store_spoken(vth_stream_t *s, pipe_t *o, int interrupted, long heard_ms)
{
    if (!o->speaking) {
        return;
    }
    vth_stream_turn_timed(s, "assistant", o->speaking, interrupted, heard_ms, &o->times);
    o->speaking = NULL;
}

/* vth_voice: the first audio of the reply is queued (its stages), or nothing could
 * speak a text. */
static void on_audio(vth_stream_t *s, int item, int ok)
{
    pipe_t *o = live_pipe(s);

    if (!o || item != o->item) {
        return;
    }
    if (!ok) {
        vth_stream_backend_failed(s, "speech synthesis failed");
        return;
    }
    if (o->speaking && item == o->reply_item && o->times.audio_ms < 0) {
        o->times.audio_ms = vth_now_ms() - o->heard_at;
        o->times.reply_ms = o->times.audio_ms; /* its first frame goes out now */
        o->filler_at = 0;
    }
}

/* Speaks text as the next item (or as the rest of the open filler item), then `next`
 * (pipe_played). */
static void say(vth_stream_t *s, const char *language, const char *text, vt_conv_next_t next,
                unsigned flags)
{
    pipe_t *o = s->backend;

    if (!o->item_open) {
        o->item++;
    }
    o->item_open = 0;
    o->next = next;
    o->no_input_at = 0;
    vth_voice_say(s->voice, o->item, language, text, flags);
}

static void remember(vth_stream_t *s, pipe_t *o, const char *role, const char *text)
{
    vt_llm_turn_t *h;

    if (!text || !*text) {
        return;
    }
    h = apr_array_push(o->history);
    h->role = role;
    h->text = apr_pstrdup(s->pool, text);
}

static vt_conv_ctx_t ctx_of(vth_stream_t *s)
{
    vt_conv_ctx_t c = { s->tenant, s->assistant, NULL, NULL, s->from, s->call_sid };

    return c;
}

/* A turn's result, on the media thread: the log, the SMS, the reply. After streamed
 * sentences only the rest of the reply is said, in the same item. */
static void answer(vth_stream_t *s, pipe_t *o, const vt_conv_result_t *res, unsigned flags)
{
    const char *text = res->reply, *said = res->reply;

    o->st = res->state;
    if (res->sms_to) {
        vth_stream_sms(s, res->sms_to, res->sms_body, res->sms_dedup_key);
    }
    if (o->streamed) {
        text = vt_llm_unspoken(s->pool, res->reply, o->speaking);
        said = o->speaking = *text ? apr_pstrcat(s->pool, o->speaking, " ", text, NULL)
                                   : o->speaking;
        o->streamed = 0;
        flags &= ~VTH_SAY_REPORT;
    }
    remember(s, o, "assistant", said);
    /* The script's texts come back call after call; the model's rarely do. */
    say(s, res->voice.language, text, res->next,
        (res->intent && strcmp(res->intent, "llm") == 0 ? 0 : VTH_SAY_FIXED) | flags);
}

/* ------------------------------------------------------------------ keys */

static void key_turn(vth_stream_t *s, char digit)
{
    pipe_t *o = s->backend;
    vt_conv_ctx_t c = ctx_of(s);
    vt_conv_input_t in = { NULL, NULL, digit, 1 };
    vt_conv_result_t res;
    apr_pool_t *p;

    apr_pool_create_unmanaged(&p);
    vt_conv_turn(p, &c, &o->st, &in, &res);
    vth_stream_turn(s, "caller", digit ? apr_psprintf(p, "[key %c]", digit) : "", 0, -1);
    vth_stream_turn(s, "assistant", res.reply, 0, -1);
    vth_stream_log(s, VT_LOG_DEBUG, "key %c: %s", digit ? digit : '-',
                   res.intent ? res.intent : "(none)");
    answer(s, o, &res, 0);
    apr_pool_destroy(p);
}

/* ------------------------------------------------------------------ an utterance */

typedef struct heard_task {
    vth_hold_t *hold;          /* keeps tenant, assistant and keys while the task runs */
    const vt_tenant_t *tenant;
    const vt_assistant_t *assistant;
    vth_keys_t keys;
    const char *from, *call_sid;
    int16_t *pcm;
    size_t n;
    int recognize;             /* vt_sphinx (recognize_run), not the endpoint */
    vt_conv_state_t st;
    vt_llm_turn_t *history;
    int nhistory;
    unsigned epoch;
    long long heard_at;
    /* results */
    const char *said;          /* NULL: nothing understood from the audio */
    int rejected;              /* the recognizer matched no phrase well enough */
    double confidence;         /* the recognizer's; -1: none */
    const char *dropped;       /* phrases it cannot listen for */
    vt_conv_result_t res;
    long transcript_ms, answer_ms, first_token_ms;
    const char *stt_why, *model_why;
    int model_sentences;       /* streamed ahead (sentence_done) */
    /* the model's exchange under way (ask_model) */
    const vt_llm_result_t *model_res;
    long long model_at;
} heard_task_t;

/* The utterance's words from the tenant's endpoint; NULL (h->stt_why) when it failed. */
static const char *transcribe(vth_task_t *t, heard_task_t *h)
{
    const vt_tenant_t *tn = h->tenant;
    vt_stt_conf_t conf = { tn->stt_url, tn->stt_model, h->keys.stt,
                           vt_stt_language(t->pool, vt_conv_voice(h->assistant, h->st.lang)
                                                        .language) };
    vt_stt_reply_t reply;
    vt_stt_result_t res;

    if (vt_stt_transcribe(vth_worker_http(), t->pool, &conf, h->pcm, h->n, VTH_STT_TIMEOUT_MS, &reply,
                          &res) != APR_SUCCESS) {
        h->stt_why = res.timed_out
                         ? apr_psprintf(t->pool, "no transcript within %d ms", VTH_STT_TIMEOUT_MS)
                         : apr_psprintf(t->pool, "HTTP %ld: %s", res.http_status,
                                        res.error ? res.error : "error");
        return NULL;
    }
    return reply.text;
}

/* A sentence of the model's answer, sent ahead to the media thread to be spoken. */
typedef struct sentence_task {
    unsigned epoch;
    long long heard_at;
    long transcript_ms, first_token_ms;
    const char *language, *text;
    const char *said;          /* with the first: the caller's words, stored before it */
    double confidence;
} sentence_task_t;

static void sentence_done(vth_task_t *t);

/* Worker thread: vt_llm_sentence_fn. */
static int on_sentence(void *baton, const char *text)
{
    vth_task_t *t = baton;
    heard_task_t *h = t->data;
    vth_task_t *piece = vth_task_progress(t, sentence_done, sizeof(sentence_task_t));
    sentence_task_t *st = piece->data;

    st->epoch = h->epoch;
    st->heard_at = h->heard_at;
    st->transcript_ms = h->transcript_ms;
    if (h->model_res->first_token_ms >= 0) {
        st->first_token_ms = h->first_token_ms =
            (long)(h->model_at - h->heard_at) + h->model_res->first_token_ms;
    }
    else {
        st->first_token_ms = -1;
    }
    st->language = apr_pstrdup(piece->pool, vt_conv_voice(h->assistant, h->st.lang).language);
    st->text = apr_pstrdup(piece->pool, text);
    st->said = h->model_sentences || !h->said ? NULL : apr_pstrdup(piece->pool, h->said);
    st->confidence = h->confidence;
    h->model_sentences++;
    vth_media_complete(t->media, piece);
    return 0;
}

static int ask_model(void *baton, const char *said, int *lang, vt_answer_t *ans)
{
    vth_task_t *t = baton;
    heard_task_t *h = t->data;
    vt_llm_result_t res;
    int ok;

    h->model_res = &res;
    h->model_at = vth_now_ms();
    ok = vt_conv_ask_model_stream(vth_worker_http(), t->pool, h->tenant, h->assistant,
                                  h->keys.llm, h->history, h->nhistory, said,
                                  VTH_MODEL_TIMEOUT_MS, VTH_MODEL_STREAM_MS, on_sentence, t,
                                  lang, ans, &res, &h->model_why);
    if (res.first_token_ms >= 0) {
        h->first_token_ms = (long)(h->model_at - h->heard_at) + res.first_token_ms;
    }
    h->model_res = NULL;
    return ok;
}

static void heard_run(vth_task_t *t, vth_db_t *db)
{
    heard_task_t *h = t->data;
    vt_conv_ctx_t c = { h->tenant, h->assistant, vth_worker_http() ? ask_model : NULL, t,
                        h->from, h->call_sid };
    vt_conv_input_t in = { 0 };

    (void)db;
    if (!h->recognize) {
        if (!vth_worker_http()) {
            h->stt_why = "cannot create an HTTP client";
        }
        else {
            h->said = transcribe(t, h);
        }
        h->transcript_ms = vth_now_ms() - h->heard_at;
    }
    in.said = h->said;
    in.unheard = h->stt_why != NULL;
    in.rejected = h->rejected;
    in.menu = h->recognize; /* offline: the caller answers the DTMF menu */
    vt_conv_turn(t->pool, &c, &h->st, &in, &h->res);
    h->answer_ms = vth_now_ms() - h->heard_at;
}

/* Recognizer thread: the utterance against the script's phrases; the turn itself goes on
 * to the HTTP workers (the tenant may have a model). */
static void recognize_run(vth_task_t *t, vth_db_t *db)
{
    heard_task_t *h = t->data;
    vt_sphinx_t *sx = vt_sphinx_thread();
    const char *const *phrases;
    int n = vt_script_phrases(h->assistant->script, t->pool, &phrases);
    double threshold = h->tenant->recognizer_confidence >= 0
                           ? h->tenant->recognizer_confidence : VT_SPHINX_THRESHOLD;
    vt_sphinx_result_t r;

    (void)db;
    if (!sx) {
        h->stt_why = "the offline recognizer's model cannot be loaded";
    }
    else if (vt_sphinx_recognize(sx, t->pool, phrases, n, h->pcm, h->n, threshold, &r)
             != 0) {
        h->stt_why = "the offline recognizer has no phrase to listen for";
        h->dropped = r.dropped;
    }
    else {
        h->said = r.phrase;
        h->rejected = !r.phrase;
        h->confidence = r.confidence;
        h->dropped = r.dropped;
    }
    h->transcript_ms = vth_now_ms() - h->heard_at;
    t->run = heard_run;
    t->then = t->media->httpq;
}

static void caller_said(vth_stream_t *s, pipe_t *o, const char *said, double confidence)
{
    vth_stream_caller_turn(s, said, confidence);
    remember(s, o, "caller", said);
}

/* The reply about to play: the last one is stored first, then this one's stages begin. */
static void reply_begins(vth_stream_t *s, pipe_t *o, const char *text, long long heard_at,
                         long transcript_ms)
{
    store_spoken(s, o, 0, -1);
    o->speaking = apr_pstrdup(s->pool, text);
    o->heard_at = heard_at;
    o->times = (vth_turn_times_t){ transcript_ms, -1, -1, -1, -1 };
    o->reply_item = o->item_open ? o->item : o->item + 1;
}

/* A sentence of the model's answer: the first opens the reply's item, the others join it
 * (stale ones, from before a barge-in, are dropped). */
static void sentence_done(vth_task_t *t)
{
    sentence_task_t *st = t->data;
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
    pipe_t *o = live_pipe(s);

    if (!o) {
        return;
    }
    if (st->said) {
        caller_said(s, o, st->said, st->confidence);
    }
    if (st->epoch != o->epoch) {
        return;
    }
    if (!o->streamed) {
        reply_begins(s, o, st->text, st->heard_at, st->transcript_ms);
        o->times.first_token_ms = st->first_token_ms;
        say(s, st->language, st->text, VT_CONV_LISTEN, VTH_SAY_MORE | VTH_SAY_REPORT);
        o->item_open = 1; /* the rest goes on in this item */
        o->streamed = 1;
        return;
    }
    o->speaking = apr_pstrcat(s->pool, o->speaking, " ", st->text, NULL);
    vth_voice_say(s->voice, o->item, st->language, st->text, VTH_SAY_MORE);
}

static void heard_done(vth_task_t *t)
{
    heard_task_t *h = t->data;
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
    pipe_t *o = live_pipe(s);

    if (o) {
        o->thinking--;
        if (h->stt_why) {
            vth_stream_log(s, VT_LOG_WARN, "speech-to-text failed (%s): heard as nothing",
                           h->stt_why);
        }
        if (h->model_why) {
            vth_stream_log(s, VT_LOG_WARN, h->model_sentences
                               ? "the model's answer broke off (%s): what was said stands"
                               : "the model gave no answer (%s): the script answers",
                           h->model_why);
        }
        if (h->dropped && !o->dropped_logged) {
            o->dropped_logged = 1;
            vth_stream_log(s, VT_LOG_WARN, "the offline recognizer cannot listen for these "
                                           "phrases (words not in its dictionary): %s",
                           h->dropped);
        }
        if (h->recognize) {
            vth_stream_log(s, VT_LOG_DEBUG, "recognized %s (confidence %.2f)",
                           h->said ? h->said : "nothing", h->confidence);
        }
        if (h->rejected) {
            vth_stream_caller_turn(s, VTH_NOT_UNDERSTOOD, h->confidence);
        }
        else if (h->said && !h->model_sentences) {
            caller_said(s, o, h->said, h->confidence);
        }
        if (h->epoch == o->epoch) {
            if (!o->streamed) {
                reply_begins(s, o, h->res.reply, h->heard_at, h->transcript_ms);
            }
            o->times.answer_ms = h->answer_ms;
            o->times.first_token_ms = h->first_token_ms;
            answer(s, o, &h->res, VTH_SAY_REPORT);
        }
    }
    vth_hold_release(h->hold);
}

/* A reply is owed and none of it is audible yet. */
static int reply_owed(const pipe_t *o)
{
    return o->thinking > 0 || (o->speaking && o->times.audio_ms < 0);
}

static int reply_budget(const vth_stream_t *s)
{
    return s->tenant->reply_budget_ms > 0 ? s->tenant->reply_budget_ms : PIPE_REPLY_BUDGET_MS;
}

/* The caller finished an utterance: to the workers with a copy of what they need. */
static void heard(vth_stream_t *s, pipe_t *o, const int16_t *pcm, size_t n)
{
    vth_task_t *t = vth_task_new(heard_run, heard_done, s->id, NULL);
    heard_task_t *h = apr_pcalloc(t->pool, sizeof *h);
    long long now = vth_now_ms();

    h->hold = vth_stream_hold(s);
    h->tenant = s->tenant;
    h->assistant = s->assistant;
    h->keys = s->keys;
    h->from = apr_pstrdup(t->pool, s->from);
    h->call_sid = apr_pstrdup(t->pool, s->call_sid);
    h->pcm = apr_pmemdup(t->pool, pcm, n * sizeof *pcm);
    h->n = n;
    h->st = o->st;
    h->nhistory = o->history->nelts;
    h->history = apr_pmemdup(t->pool, o->history->elts,
                             sizeof(vt_llm_turn_t) * (size_t)(h->nhistory ? h->nhistory : 1));
    for (int i = 0; i < h->nhistory; i++) {
        h->history[i].text = apr_pstrdup(t->pool, h->history[i].text);
    }
    h->epoch = o->epoch;
    h->heard_at = now;
    h->first_token_ms = -1;
    h->confidence = -1;
    h->recognize = o->recognize;
    t->data = h;
    o->filler_at = now + reply_budget(s);
    o->thinking++;
    o->no_input_at = 0;
    if (o->recognize) {
        t->run = recognize_run;
        vth_queue_push(s->media->recogq, t);
    }
    else {
        vth_queue_push(s->media->httpq, t);
    }
}

/* The caller talks over the assistant (or over a reply being made): cut it. */
static void barge_in(vth_stream_t *s, pipe_t *o)
{
    vth_item_t *it = vth_stream_item(s, o->item);

    if (vth_stream_playing(s)) {
        vth_stream_barge_in(s);
        store_spoken(s, o, 1, it ? it->played_ms : -1);
    }
    else if (o->streamed) {
        store_spoken(s, o, 1, it ? it->played_ms : -1); /* between two sentences */
    }
    o->epoch++;
    o->streamed = 0;
    /* A prompt still being synthesized is no longer wanted: the voice moves on to an
     * empty item. */
    o->item++;
    o->item_open = 0;
    o->filler_at = 0;
    vth_voice_say(s->voice, o->item, NULL, "", VTH_SAY_MORE);
    o->no_input_at = 0;
}

/* The reply is late: the filler plays at once (the endpoint's cached clip, else
 * espeak-ng's), ahead of the reply in the reply's item; again after another budget of
 * silence. */
static void filler(vth_stream_t *s, pipe_t *o, long long now)
{
    const vth_clip_t *c = vth_voice_ready(s->voice, vt_script_filler(s->assistant->script));

    if (!c && !(c = o->filler_clip)) {
        o->filler_at = now + VTH_SWEEP_MS; /* still being made */
        return;
    }
    if (!o->speaking && !o->item_open) {
        o->item++;
        vth_voice_say(s->voice, o->item, NULL, "", VTH_SAY_MORE);
        o->item_open = 1;
        o->next = VT_CONV_LISTEN;
    }
    vth_stream_play(s, o->item, c->ulaw, c->len, 0);
    o->filler_at = now + (long long)(c->len / 8) + reply_budget(s);
}

typedef struct filler_task {
    const char *language, *text;
    const vth_clip_t *clip;
} filler_task_t;

static void filler_run(vth_task_t *t, vth_db_t *db)
{
    filler_task_t *f = t->data;

    (void)db;
    f->clip = vth_tts_clip_in(t->pool, f->language, f->text);
}

static void filler_done(vth_task_t *t)
{
    filler_task_t *f = t->data;
    pipe_t *o = live_pipe(vth_stream_find(t->media, t->stream_id));

    if (o && f->clip) {
        vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
        vth_clip_t *c = apr_palloc(s->pool, sizeof *c);
        c->ulaw = apr_pmemdup(s->pool, f->clip->ulaw, f->clip->len ? f->clip->len : 1);
        c->len = f->clip->len;
        o->filler_clip = c;
    }
}

/* The filler and the apologies ready before they are needed. */
static void warm_up(vth_stream_t *s, const char *language)
{
    vth_task_t *t = vth_task_new(filler_run, filler_done, s->id, NULL);
    filler_task_t *f = apr_pcalloc(t->pool, sizeof *f);

    f->language = apr_pstrdup(t->pool, language);
    f->text = apr_pstrdup(t->pool, vt_script_filler(s->assistant->script));
    t->data = f;
    vth_queue_push(s->media->ttsq, t);
    vth_voice_warm(s->voice, language, f->text);
    vth_voice_warm(s->voice, language, VT_VOICE_RETRY_TEXT);
}

/* ------------------------------------------------------------------ backend hooks */

static void pipe_start(vth_stream_t *s)
{
    pipe_t *o = apr_pcalloc(s->pool, sizeof *o);
    vt_conv_ctx_t c;
    vt_voice_opts_t voice = vt_conv_voice(s->assistant, 0);
    const char *menu = "";

    s->backend = o;
    if (!vth_voice_create(s, on_audio)) {
        vth_stream_backend_failed(s, "out of memory");
        return;
    }
    o->st.turn = 1;
    o->history = apr_array_make(s->pool, 16, sizeof(vt_llm_turn_t));
    remember(s, o, "assistant", s->greeting);
    if (!vt_tenant_has_stt(s->tenant)) {
        c = ctx_of(s);
        menu = vt_conv_menu(s->pool, &c);
        /* The recognizer's model is English (docs/offline-recognizer.md). */
        o->recognize = strncasecmp(voice.language, "en", 2) == 0;
    }
    if (vt_tenant_has_stt(s->tenant) || o->recognize) {
        vt_turn_conf_t tc = { 0 };
        tc.end_silence_ms = s->tenant->end_silence_ms;
        tc.barge_in_ms = s->tenant->barge_in_ms;
        if (!(o->turn = vt_turn_create(&tc))) {
            vth_stream_backend_failed(s, "out of memory");
            return;
        }
        warm_up(s, voice.language);
    }
    /* The greeting turn is the call's first (written by inbound); the menu goes with it. */
    say(s, voice.language,
        *menu ? apr_pstrcat(s->pool, s->greeting, " ", menu, NULL) : s->greeting,
        VT_CONV_LISTEN, VTH_SAY_FIXED);
}

static void pipe_media(vth_stream_t *s, const vt_stream_msg_t *m)
{
    pipe_t *o = s->backend;

    if (!o->turn) {
        return;
    }
    for (size_t i = 0; i < m->payload_len && !s->failed;) {
        size_t k = m->payload_len - i, n = 0;
        const int16_t *utt;

        if (k > VT_VAD_FRAME - o->frame_len) {
            k = VT_VAD_FRAME - o->frame_len;
        }
        vt_ulaw_decode((const uint8_t *)m->payload + i, k, o->frame + o->frame_len);
        i += k;
        o->frame_len += k;
        if (o->frame_len < VT_VAD_FRAME) {
            continue;
        }
        o->frame_len = 0;
        switch (vt_turn_frame(o->turn, o->frame)) {
        case VT_TURN_BARGE_IN:
            if (vth_stream_playing(s) || reply_owed(o)) {
                barge_in(s, o);
            }
            break;
        case VT_TURN_END:
            utt = vt_turn_utterance(o->turn, &n);
            heard(s, o, utt, n);
            break;
        default:
            break;
        }
    }
}

static void pipe_dtmf(vth_stream_t *s, char digit)
{
    pipe_t *o = s->backend;

    if (vth_stream_playing(s)) {
        vth_stream_barge_in(s);
        store_spoken(s, o, 1, -1);
    }
    o->epoch++; /* a spoken turn still being answered gives way to the key */
    o->streamed = 0;
    key_turn(s, digit);
}

static void pipe_played(vth_stream_t *s, int item)
{
    pipe_t *o = s->backend;

    if (item != o->item) {
        return;
    }
    store_spoken(s, o, 0, -1);
    switch (o->next) {
    case VT_CONV_TRANSFER:
        vth_stream_finish(s, "transfer");
        break;
    case VT_CONV_HANGUP:
        vth_stream_finish(s, "hangup");
        break;
    default:
        /* Silence after the prompt (no key, no speech) is no input. */
        o->no_input_at = vth_now_ms() + VTH_OFFLINE_NO_INPUT_MS;
        break;
    }
}

static void pipe_tick(vth_stream_t *s, long long now)
{
    pipe_t *o = s->backend;

    if (o->no_input_at && now >= o->no_input_at && !reply_owed(o)
        && !(o->turn && vt_turn_in_utterance(o->turn))) {
        o->no_input_at = 0;
        key_turn(s, 0);
    }
    else if (o->filler_at && now >= o->filler_at && reply_owed(o)
             && !vth_stream_playing(s)) {
        filler(s, o, now);
    }
}

static void pipe_stop(vth_stream_t *s)
{
    pipe_t *o = s->backend;

    if (!o) {
        return;
    }
    store_spoken(s, o, vth_stream_playing(s), -1);
    vt_turn_destroy(o->turn);
    o->turn = NULL;
    vth_voice_destroy(s->voice);
}

const vth_backend_ops_t vth_offline_ops = {
    "offline", pipe_start, pipe_media, pipe_dtmf, pipe_played, pipe_tick, pipe_stop
};
const vth_backend_ops_t vth_pipeline_ops = {
    "pipeline", pipe_start, pipe_media, pipe_dtmf, pipe_played, pipe_tick, pipe_stop
};
