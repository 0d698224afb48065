/* vth_offline — the offline backend of stream mode: no cloud at all. The greeting and the
 * replies are spoken by espeak-ng (synthesized once per text, vth_tts), and the caller
 * answers a DTMF menu made from the tenant's intents ("For opening hours, press 1."). The
 * rules are the core's (vt_conv_turn with the key); a key pressed while a prompt plays cuts
 * it (barge-in), and a menu left unanswered counts as no input. */
#include <string.h>

#include <apr_strings.h>

#include "vth_media.h"
#include "vt_log.h"

typedef struct offline {
    int item;              /* the prompt being synthesized or played */
    vt_conv_next_t next;   /* what follows it */
    vt_conv_state_t st;
    long long no_input_at; /* 0: not listening */
} offline_t;

typedef struct say_task {
    const char *language, *text;
    const vth_clip_t *clip;
    int item;
} say_task_t;

static void say_run(vth_task_t *t, vth_db_t *db)
{
    say_task_t *st = t->data;

    st->clip = vth_tts_clip_in(t->pool, st->language, st->text);
}

static void say_done(vth_task_t *t)
{
    vth_stream_t *s = vth_stream_find(t->media, t->stream_id);
    say_task_t *st = t->data;
    offline_t *o;

    if (!s || s->state != VTH_S_LIVE || s->ops != &vth_offline_ops || s->failed) {
        return;
    }
    o = s->backend;
    if (st->item != o->item) {
        return; /* a key came first: this prompt is no longer wanted */
    }
    if (!st->clip) {
        vth_stream_backend_failed(s, "speech synthesis failed");
        return;
    }
    vth_stream_play(s, st->item, st->clip->ulaw, st->clip->len, 1);
}

/* Speaks text, then `next` (vth_offline_played). */
static void say(vth_stream_t *s, const char *language, const char *text, vt_conv_next_t next)
{
    offline_t *o = s->backend;
    vth_task_t *t = vth_task_new(say_run, say_done, s->id, NULL);
    say_task_t *st = apr_pcalloc(t->pool, sizeof *st);

    o->item++;
    o->next = next;
    o->no_input_at = 0;
    st->language = apr_pstrdup(t->pool, language);
    st->text = apr_pstrdup(t->pool, text);
    st->item = o->item;
    t->data = st;
    vth_queue_push(s->media->ttsq, t);
}

static vt_conv_ctx_t ctx_of(vth_stream_t *s)
{
    vt_conv_ctx_t c = { s->tenant, s->assistant, NULL, NULL, s->from, s->call_sid };

    return c;
}

/* One turn of the menu: the rules, the call log, the reply. */
static void turn(vth_stream_t *s, char digit)
{
    offline_t *o = s->backend;
    vt_conv_ctx_t c = ctx_of(s);
    vt_conv_input_t in = { NULL, NULL, digit, 1 };
    vt_conv_result_t res;
    apr_pool_t *p;

    apr_pool_create_unmanaged(&p);
    vt_conv_turn(p, &c, &o->st, &in, &res);
    o->st = res.state;
    vth_stream_turn(s, "caller", digit ? apr_psprintf(p, "[key %c]", digit) : "", 0, -1);
    vth_stream_turn(s, "assistant", res.reply, 0, -1);
    if (res.sms_to) {
        vth_stream_sms(s, res.sms_to, res.sms_body, res.sms_dedup_key);
    }
    vth_stream_log(s, VT_LOG_DEBUG, "key %c: %s", digit ? digit : '-',
                   res.intent ? res.intent : "(none)");
    say(s, res.voice.language, res.reply, res.next);
    apr_pool_destroy(p);
}

static void offline_start(vth_stream_t *s)
{
    offline_t *o = apr_pcalloc(s->pool, sizeof *o);
    vt_conv_ctx_t c;
    vt_voice_opts_t voice = vt_conv_voice(s->assistant, 0);
    const char *menu;

    s->backend = o;
    o->st.turn = 1;
    c = ctx_of(s);
    menu = vt_conv_menu(s->pool, &c);
    /* The greeting turn is the call's first (written by inbound); the menu goes with it. */
    say(s, voice.language,
        *menu ? apr_pstrcat(s->pool, s->tenant->greeting, " ", menu, NULL) : s->tenant->greeting,
        VT_CONV_LISTEN);
}

static void offline_dtmf(vth_stream_t *s, char digit)
{
    if (vth_stream_playing(s)) {
        vth_stream_barge_in(s);
    }
    turn(s, digit);
}

static void offline_played(vth_stream_t *s, int item)
{
    offline_t *o = s->backend;

    if (item != o->item) {
        return;
    }
    switch (o->next) {
    case VT_CONV_TRANSFER:
        vth_stream_finish(s, "transfer");
        break;
    case VT_CONV_HANGUP:
        vth_stream_finish(s, "hangup");
        break;
    default:
        o->no_input_at = vth_now_ms() + VTH_OFFLINE_NO_INPUT_MS;
        break;
    }
}

static void offline_tick(vth_stream_t *s, long long now)
{
    offline_t *o = s->backend;

    if (o->no_input_at && now >= o->no_input_at) {
        o->no_input_at = 0;
        turn(s, 0);
    }
}

const vth_backend_ops_t vth_offline_ops = {
    "offline", offline_start, NULL, offline_dtmf, offline_played, offline_tick, NULL
};
