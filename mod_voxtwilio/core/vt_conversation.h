/* vt_conversation — the rules of a conversation turn, written once for every channel:
 * gather mode (the module's `speech` route), stream mode (the helper's sessions) and
 * later text messages. A channel supplies what the caller said or pressed and, for a tenant
 * with a model, a function that asks it; it gets back what to say and what happens next,
 * and only translates that (TwiML, audio).
 *
 *   vt_conv_ctx_t ctx = { tenant, assistant, ask_model, baton, from, call_sid };
 *   vt_conv_input_t in = { .said = speech_result, .confidence = conf };
 *   vt_conv_turn(p, &ctx, &state, &in, &res);
 *   switch (res.next) { case VT_CONV_LISTEN: say res.reply, listen with res.state ... }
 *
 * The rules (docs/assistant.md, docs/assistant-script.md):
 * - Nothing heard: the script's reprompt, counted against no_input_limit. Speech the
 *   recognizer failed on: an apology that asks to repeat, counted against nothing.
 * - Heard below VT_CONV_MIN_CONFIDENCE, or rejected by the offline recognizer: the
 *   fallback, not sent to the assistant.
 * - Otherwise the tenant's model when it has one; when the model gives no usable answer,
 *   the script's intents, else an apology that asks to repeat (a model failure is not the
 *   caller's miss). Tenants without a model: the script.
 * - Not understood: the fallback, counted against no_match_limit.
 * - At a limit, and for an escalate action: the hand-over — to the tenant's escalation
 *   phone when it has one (the script's escalation text, or the model's own words), else
 *   the goodbye and the end of the call.
 * - An SMS action texts the caller (a job, once per call and turn) and the call goes on.
 * - A DTMF key (offline stream mode): 1-9 choose the tenant's intents in order, 0 the
 *   built-in "human", * repeats the menu; other keys are not understood.
 */
#ifndef VT_CONVERSATION_H
#define VT_CONVERSATION_H

#include <apr_pools.h>
#include "vt_assistant.h"
#include "vt_assistant_cache.h"
#include "vt_tenant.h"
#include "vt_voice.h"

/* Below this recognizer confidence an utterance counts as not understood (0: unknown). */
#define VT_CONV_MIN_CONFIDENCE 0.3
/* How long <Dial> rings the human before giving up. */
#define VT_CONV_DIAL_TIMEOUT_S 25
/* Intents a DTMF menu offers (keys 1-9). */
#define VT_CONV_MENU_MAX 9

/* Where a conversation is; carried between turns (gather mode: in the Gather action URL). */
typedef struct vt_conv_state {
    int turn;        /* the result being answered (1 = the first after the greeting) */
    int no_input;    /* consecutive turns without input */
    int no_match;    /* consecutive turns the assistant did not understand */
    int lang;        /* index into the tenant's languages (0: the primary) */
    int unheard;     /* consecutive turns the recognizer failed on */
} vt_conv_state_t;

/* The recognizer failing turn after turn (a speech-to-text outage): from the second
 * failure the apology offers the keypad menu, at the third the caller is handed over. */
#define VT_CONV_UNHEARD_MENU 2
#define VT_CONV_UNHEARD_LIMIT 3

typedef enum {
    VT_CONV_LISTEN = 0, /* say the reply, then listen for the next turn (res.state) */
    VT_CONV_TRANSFER,   /* say the reply, then put the caller through to the human */
    VT_CONV_HANGUP      /* say the reply, then end the call */
} vt_conv_next_t;

typedef struct vt_conv_input {
    const char *said;       /* the caller's words; NULL or blank: nothing heard */
    const char *confidence; /* the recognizer's, as text ("0.87"); NULL: unknown */
    char digit;             /* a DTMF key instead of words; 0: none */
    int menu;               /* 1: the caller answers the DTMF menu (a reprompt repeats it) */
    int unheard;            /* 1: the caller spoke but the recognizer failed (not the
                             * caller's miss: an apology that asks to repeat, no limit
                             * moves) */
    int rejected;           /* 1: the caller spoke but the recognizer matched nothing
                             * well enough (the offline grammar): the fallback, a no-match,
                             * whatever `said` holds */
} vt_conv_input_t;

/* Asks the tenant's model about `said` with the call's language *lang. 1: it answered,
 * *ans filled (intent "llm"; reply NULL when it only called a tool) and *lang possibly
 * switched; 0: no usable answer (already logged), the rules fall back. */
typedef int vt_conv_model_fn(void *baton, const char *said, int *lang, vt_answer_t *ans);

typedef struct vt_conv_ctx {
    const vt_tenant_t *tenant;
    const vt_assistant_t *assistant;
    vt_conv_model_fn *model;  /* used when vt_tenant_is_llm(tenant); NULL: never */
    void *model_baton;
    const char *from;         /* the caller's number (From), for SMS actions; may be NULL */
    const char *call_sid;
} vt_conv_ctx_t;

typedef struct vt_conv_result {
    const char *reply;        /* what to say (may be ""); never NULL */
    vt_conv_next_t next;
    vt_conv_state_t state;    /* LISTEN: the state of the next turn */
    vt_voice_opts_t voice;    /* the voice and language of the reply */
    const char *intent;       /* what was understood; NULL: nothing */
    const char *sms_to;       /* an SMS to queue for the caller, else NULL */
    const char *sms_body;
    const char *sms_dedup_key;
} vt_conv_result_t;

/* One turn: what the caller said (or pressed) in state *st -> *res (allocated in p). */
void vt_conv_turn(apr_pool_t *p, const vt_conv_ctx_t *ctx, const vt_conv_state_t *st,
                  const vt_conv_input_t *in, vt_conv_result_t *res);

/* The rules applied to an answer the assistant already gave elsewhere (a realtime model's
 * tool call: intent "llm", action escalate or hangup, reply NULL): the same hand-over and
 * goodbye as vt_conv_turn. */
void vt_conv_answer(apr_pool_t *p, const vt_conv_ctx_t *ctx, const vt_conv_state_t *st,
                    const vt_answer_t *ans, vt_conv_result_t *res);

/* A model's reply as the assistant's answer (intent "llm"): escalate_to_human escalates,
 * end_call hangs up, switch_language moves *lang to that language when it is one of langs;
 * the text is trimmed to be spoken (VT_LLM_SPOKEN_MAX). 0 with *why when it is unusable:
 * neither text nor an action. */
int vt_conv_model_answer(apr_pool_t *p, const vt_llm_reply_t *reply,
                         const vt_llm_language_t *langs, int nlangs, int *lang,
                         vt_answer_t *ans, const char **why);

/* Asks the tenant's chat model (vt_tenant_is_llm) about `said`, with the call's history
 * and its language *lang (of a's languages), in at most budget_ms: the request of vt_llm_phone_messages, the
 * exchange (vt_llm_chat on http), the answer by vt_conv_model_answer. 1 with *ans (and
 * *lang possibly switched); 0 with *why (in p, for the log: never the key) and res filled
 * (res->timed_out for a late answer). Shared by the module's speech route and the
 * helper's voice pipeline: a vt_conv_model_fn only adds its history and its client. */
int vt_conv_ask_model(vt_llm_http_t *http, apr_pool_t *p, const vt_tenant_t *t,
                      const vt_assistant_t *a, const char *api_key, const vt_llm_turn_t *history, int nhistory,
                      const char *said, long budget_ms, int *lang, vt_answer_t *ans,
                      vt_llm_result_t *res, const char **why);

/* vt_conv_ask_model with the answer streamed (vt_llm_chat_stream): fn gets each complete
 * sentence while the model still writes, to be spoken at once; first_byte_ms bounds the
 * wait for the answer to begin, budget_ms the whole answer. The final *ans is the whole
 * reply as vt_conv_ask_model would give it: speak only vt_llm_unspoken(p, ans->reply,
 * res->spoken) after the sentences. Stopped by fn (barge-in), late or broken after some
 * sentences: 1 with *why set (log it) and *ans the sentences spoken (what the caller
 * heard stands as the answer: no apology over half an answer); before any: 0 with *why,
 * the rules fall back as for vt_conv_ask_model. */
int vt_conv_ask_model_stream(vt_llm_http_t *http, apr_pool_t *p, const vt_tenant_t *t,
                             const vt_assistant_t *a, const char *api_key,
                             const vt_llm_turn_t *history, int nhistory, const char *said,
                             long first_byte_ms, long budget_ms, vt_llm_sentence_fn *fn,
                             void *baton, int *lang, vt_answer_t *ans, vt_llm_result_t *res,
                             const char **why);

/* The voice of language `lang` (the primary when out of range). */
vt_voice_opts_t vt_conv_voice(const vt_assistant_t *a, int lang);
/* 1 when the tenant has a valid escalation phone to transfer to. */
int vt_conv_can_transfer(const vt_tenant_t *t);
/* The DTMF menu of the tenant's script: "For opening hours, press 1. ... To speak with a
 * person, press 0." (the person only when it can transfer). */
const char *vt_conv_menu(apr_pool_t *p, const vt_conv_ctx_t *ctx);

/* A realtime model's instructions: the phone rules and tools of vt_llm's system message
 * (company, the tenant's prompt, the call's language), then the tenant's intents as what
 * it knows ("When asked about opening hours: We are open ..."). */
const char *vt_conv_instructions(apr_pool_t *p, const vt_tenant_t *t, const vt_assistant_t *a);

/* The SMS alert of a transfer, for the tenant's notification phone. */
const char *vt_conv_transfer_alert(apr_pool_t *p, const char *from, const char *call_sid,
                                   const char *escalation_phone);
const char *vt_conv_transfer_alert_key(apr_pool_t *p, const char *call_sid);
/* 1 when the <Dial> to the human was answered (DialCallStatus completed/answered): the call
 * simply ends; otherwise the caller hears VT_VOICE_DIAL_FAILED_TEXT. */
int vt_conv_dial_answered(const char *dial_status);

#endif
