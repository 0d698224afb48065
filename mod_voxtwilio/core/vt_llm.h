/* vt_llm — a client for any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM,
 * Ollama, llama.cpp server): the request JSON of a phone turn, the response parser, the
 * spoken-length trim, and the HTTP exchange (libcurl + json-c).
 *
 *   vt_llm_turn_t hist[] = { {"assistant", "Hello, how can I help?"}, {"caller", "..."} };
 *   msgs = vt_llm_phone_messages(p, &phone, hist, 2, "Are you open on Saturday?", &n);
 *   body = vt_llm_request_json(p, &conf, msgs, n, &phone, 0);
 *   rv = vt_llm_chat(http, p, &conf, body, 6000, &reply, &res);   // one bounded exchange
 *   if (rv == APR_SUCCESS) say(vt_llm_spoken(p, reply.content, VT_LLM_SPOKEN_MAX));
 *
 * The API key goes only into the "Authorization: Bearer" header: never into the body, an
 * error text or a log line. The caller's words travel as the content of a "user" message
 * (data, never spliced into the system prompt). The response is untrusted (fuzzed).
 */
#ifndef VT_LLM_H
#define VT_LLM_H

#include <stddef.h>

#include <apr_pools.h>
#include <apr_time.h>

#define VT_LLM_TOOL_ESCALATE "escalate_to_human"
#define VT_LLM_TOOL_END_CALL "end_call"
#define VT_LLM_TOOL_LANGUAGE "switch_language"

#define VT_LLM_SPOKEN_MAX 600            /* characters a phone reply is trimmed to */
#define VT_LLM_RESPONSE_MAX (256 * 1024) /* bytes of a response body; more is an error */
#define VT_LLM_LANGUAGES_MAX 8           /* a tenant's languages, the primary included */

/* A tenant's endpoint. */
typedef struct vt_llm_conf {
    const char *base_url;  /* "https://api.openai.com/v1": POST {base_url}/chat/completions */
    const char *model;
    const char *api_key;   /* NULL or "": no Authorization header (local servers) */
    double temperature;    /* 0..2 */
    int max_tokens;        /* 16..4096 */
} vt_llm_conf_t;

/* One language the tenant speaks, with the <Say> voice for it. */
typedef struct vt_llm_language {
    const char *language;  /* BCP-47 as Twilio takes it: "en-US", "es-ES" */
    const char *voice;     /* "Polly.Joanna" */
} vt_llm_language_t;

/* What a phone turn's request says besides the dialogue. */
typedef struct vt_llm_phone {
    const char *company_name;
    const char *system_prompt;           /* the tenant's; may be NULL */
    const vt_llm_language_t *languages;  /* [0] is the primary; at least one */
    int nlanguages;                      /* 1..VT_LLM_LANGUAGES_MAX */
    const char *current_language;        /* the call's language now (one of languages) */
} vt_llm_phone_t;

/* A stored turn of the call (call_turns.role and .text). */
typedef struct vt_llm_turn {
    const char *role;      /* "caller" or "assistant" */
    const char *text;
} vt_llm_turn_t;

typedef struct vt_llm_msg {
    const char *role;      /* "system", "user", "assistant" */
    const char *content;
} vt_llm_msg_t;

typedef enum {
    VT_LLM_ACT_SAY = 0,    /* speak content, keep listening */
    VT_LLM_ACT_ESCALATE,   /* escalate_to_human was called */
    VT_LLM_ACT_END_CALL,   /* end_call was called */
    VT_LLM_ACT_LANGUAGE    /* switch_language was called: speak on in reply->language */
} vt_llm_action_t;

typedef struct vt_llm_reply {
    const char *content;   /* the assistant's text (trimmed of surrounding space); may be
                            * NULL when a tool was called without text */
    vt_llm_action_t action;
    const char *language;  /* VT_LLM_ACT_LANGUAGE: the requested language code (syntax
                            * checked; the caller checks it is one of the tenant's) */
    const char *finish_reason; /* may be NULL */
} vt_llm_reply_t;

typedef struct vt_llm_result {
    long http_status;      /* 0 when no HTTP answer arrived */
    int timed_out;         /* 1 when the time budget ran out */
    const char *error;     /* on failure: a short text for the log (no key, no body dump) */
    apr_interval_time_t elapsed; /* time spent in the exchange */
    /* streamed answers (vt_llm_chat_stream) only */
    long first_token_ms;    /* from the start to the first content or tool-call token; -1 */
    long first_sentence_ms; /* to the first sentence handed over; -1 none */
    int sentences;          /* sentences handed over */
    const char *spoken;     /* their spoken texts, joined by spaces ("" none) */
} vt_llm_result_t;

/* The messages of a phone turn: one system message (our phone rules: short spoken
 * sentences, no lists or markup, answer in the caller's language, when to call each tool;
 * then the company name, the tenant's prompt and the languages), the history in order
 * (caller -> "user", assistant -> "assistant"; blank texts and other roles skipped), and
 * the new utterance as the last "user" message (left out when blank). *n is set to the
 * count. */
const vt_llm_msg_t *vt_llm_phone_messages(apr_pool_t *p, const vt_llm_phone_t *phone,
                                          const vt_llm_turn_t *history, int nhistory,
                                          const char *utterance, int *n);

/* The Chat Completions request body. phone non-NULL: the tools escalate_to_human (optional
 * "reason"), end_call, and switch_language (its "language" an enum of the phone's
 * languages; only offered when there are two or more). json_mode: "response_format":
 * {"type": "json_object"} (the post-call analysis). Never contains conf->api_key. */
const char *vt_llm_request_json(apr_pool_t *p, const vt_llm_conf_t *conf,
                                const vt_llm_msg_t *msgs, int nmsgs,
                                const vt_llm_phone_t *phone, int json_mode);
/* The same request with "stream": true, for vt_llm_chat_stream. */
const char *vt_llm_request_stream_json(apr_pool_t *p, const vt_llm_conf_t *conf,
                                       const vt_llm_msg_t *msgs, int nmsgs,
                                       const vt_llm_phone_t *phone);

/* Parses a response body (choices[0].message: content and/or tool_calls). The first known
 * tool call decides the action; unknown tools are ignored, and so are malformed calls of
 * ours (arguments that are not a JSON object, a language that is no language code): a
 * garbled call must not hang up on the caller. A leading <think>...</think> block
 * (reasoning models) is dropped from content. APR_SUCCESS with *reply, or APR_EINVAL with
 * *err: not JSON, no choices, an "error" object, or an empty answer (no content and no
 * known tool). Input bounded by VT_LLM_RESPONSE_MAX. */
apr_status_t vt_llm_response_parse(apr_pool_t *p, const char *body, apr_size_t len,
                                   vt_llm_reply_t *reply, const char **err);

/* Text fit to be spoken: markup characters (* _ ` #) dropped, whitespace collapsed,
 * invalid UTF-8 replaced; longer than max_chars code points: cut after the last sentence
 * end (. ! ?) that fits, else at the last space, else hard. NULL or blank gives "". */
const char *vt_llm_spoken(apr_pool_t *p, const char *text, apr_size_t max_chars);

/* 1 when url is an absolute http(s) URL fit to be a base URL (no spaces, no userinfo,
 * no query or fragment). */
int vt_llm_base_url_valid(const char *url);

/* The server's own words in an error body ({"error": {"message": ...}} as OpenAI sends,
 * {"error": "..."}, or older vLLM's {"object": "error", "message": ...}): at most 100
 * printable ASCII characters, for a log line; NULL when there are none. */
const char *vt_llm_error_text(apr_pool_t *p, const char *body, apr_size_t len);

/* An HTTP client: one libcurl easy handle, so its connections are reused across calls.
 * Not thread-safe: one caller at a time (the module keeps them in an apr_reslist per
 * child). Cleaned up with p. vt_rest_global_init() must have run. NULL when libcurl cannot
 * make a handle. */
typedef struct vt_llm_http vt_llm_http_t;
vt_llm_http_t *vt_llm_http_create(apr_pool_t *p);

/* One POST exchange on an HTTP client, for vt_llm_chat and the speech endpoints (vt_stt):
 * a JSON body, or multipart/form-data of parts; "Authorization: Bearer api_key" when one is
 * given (printable ASCII only); TLS verified, no redirects; timeout_ms bounds the whole
 * exchange; the response at most max_response bytes (0: VT_LLM_RESPONSE_MAX). APR_SUCCESS:
 * a 2xx answer, its body (in p, NUL-terminated) in body/len. Otherwise error says why
 * (the server's own error message at most, any copy of the key masked): APR_TIMEUP
 * (timed_out), APR_EGENERAL (transport, non-2xx, oversized), APR_EINVAL (nothing sent).
 * Streaming (vt_tts): with a sink, a 2xx answer's body goes to it piece by piece as it
 * arrives instead of into body (max_response still bounds it; a JSON or text/ answer is
 * an error, its message in error, except text/event-stream with event_stream); the sink returns nonzero to stop the transfer
 * (APR_EINTR, aborted). first_byte_ms > 0: no byte of the body by then (from the start,
 * connect included) is APR_TIMEUP too, to the millisecond. */
typedef int vt_http_sink_fn(void *baton, const char *data, size_t len);

typedef struct vt_http_part {
    const char *name;
    const char *data;
    size_t len;
    const char *filename, *type;    /* NULL: a plain field */
} vt_http_part_t;

typedef struct vt_http_post {
    const char *url, *api_key;
    const char *json;               /* the body, or */
    const vt_http_part_t *parts;    /* the form's parts */
    int nparts;
    long timeout_ms;
    size_t max_response;
    vt_http_sink_fn *sink;          /* NULL: the body into body/len */
    void *baton;
    long first_byte_ms;             /* 0: only timeout_ms */
    int event_stream;               /* the sink takes a text/event-stream answer too */
    /* results */
    long http_status;
    int timed_out;
    int aborted;                    /* the sink stopped the transfer */
    const char *error;
    const char *body;
    size_t len;
    apr_interval_time_t elapsed;
} vt_http_post_t;

apr_status_t vt_http_post(vt_llm_http_t *h, apr_pool_t *p, vt_http_post_t *x);

/* {base_url}{path} ("/chat/completions") with the base normalized as VoxTwilioAPIBase
 * is, or NULL with *error ("invalid base URL: ..."). */
const char *vt_http_endpoint(apr_pool_t *p, const char *base_url, const char *path,
                             const char **error);

/* POST {conf->base_url}/chat/completions with request_json; TLS verified, no redirects;
 * timeout_ms bounds the whole exchange, connect included (at least 1). APR_SUCCESS: a 2xx
 * answer parsed into *reply. Otherwise res says why: APR_TIMEUP (res->timed_out),
 * APR_EGENERAL (transport error, non-2xx, oversized or unparsable body), or APR_EINVAL
 * (nothing sent: no handle, an invalid base URL, an API key with characters a header
 * cannot carry). res is always filled. */
apr_status_t vt_llm_chat(vt_llm_http_t *h, apr_pool_t *p, const vt_llm_conf_t *conf,
                         const char *request_json, long timeout_ms, vt_llm_reply_t *reply,
                         vt_llm_result_t *res);

/* ------------------------------------------------------------------ streamed answers
 * (vt_llm_stream.c). A phone reply should start playing at the model's first sentence,
 * not after its last token: the answer streamed as Server-Sent Events (OpenAI's
 * chat.completion.chunk; vLLM, Ollama, llama.cpp server speak the same), each complete
 * sentence of its content handed over as soon as its end arrived.
 *
 *   rv = vt_llm_chat_stream(http, p, &conf, vt_llm_request_stream_json(...), 20000, 6000,
 *                           speak_sentence, baton, &reply, &res);
 *   // speak_sentence got "We are open until six." while the model was still writing;
 *   // afterwards, speak only vt_llm_unspoken(p, final_text, res.spoken).
 *
 * Sentences: content cut after . ! ? (and closing quotes or brackets) followed by white
 * space or at the end of what arrived so far (but "3." waits: it may become "3.5"), after
 * a blank line, or after a CJK full stop; a '.' after a number alone ("1.")
 * or a single letter or a common abbreviation ("Dr.", "e.g.", "a.m.") does not end one; a
 * sentence longer than VT_LLM_SENTENCE_LONG bytes is cut at its last comma, else its last
 * space. Each is handed over as vt_llm_spoken makes it (markup dropped), blank ones
 * skipped, and none past VT_LLM_SPOKEN_MAX characters in all. A leading <think> block is
 * never spoken. Text that comes with a tool call is spoken too ("Let me connect you.")
 * and in the call's current language: a language switch takes effect after it.
 * The end of the content (its last sentence without an end) is not handed over: the
 * caller speaks the unspoken rest of the final answer (vt_llm_unspoken). */
#define VT_LLM_SENTENCE_LONG 150

/* A sentence of the answer, ready to speak. Nonzero stops the exchange (barge-in). */
typedef int vt_llm_sentence_fn(void *baton, const char *sentence);

/* Bytes of the first complete sentence in s[0..len) (its end punctuation and closers
 * included), or 0 when none is complete yet; at_end: the text is all there is (its rest
 * is a sentence). */
apr_size_t vt_llm_sentence_len(const char *s, apr_size_t len, int at_end);

/* The part of `full` (the final reply) not already in `spoken` (what was handed over),
 * white space ignored in the comparison: the rest when spoken is a prefix of full; ""
 * when full is a prefix of spoken (nothing new); otherwise full whole (the rules replaced
 * the model's words: it all must be said). Trimmed; never NULL. */
const char *vt_llm_unspoken(apr_pool_t *p, const char *full, const char *spoken);

/* The incremental parser (untrusted input, fuzzed): pieces of the body as they arrive,
 * split anywhere; LF, CRLF or CR lines; ':' comments and fields other than data ignored;
 * one event per blank line; data: [DONE] ends it. Bounded by VT_LLM_RESPONSE_MAX. */
typedef struct vt_llm_stream vt_llm_stream_t;
vt_llm_stream_t *vt_llm_stream_create(apr_pool_t *p, vt_llm_sentence_fn *fn, void *baton);
/* 0: go on; 1: the sentence callback stopped it; -1: an error (vt_llm_stream_error): a
 * chunk that is not JSON, an "error" object in the stream, too much. Nothing is done
 * after a nonzero result. */
int vt_llm_stream_feed(vt_llm_stream_t *st, const char *data, apr_size_t len);
const char *vt_llm_stream_error(const vt_llm_stream_t *st);
/* The end of the body: a last event without its blank line counts; then the reply as
 * vt_llm_response_parse gives it for the same answer not streamed (content, the first
 * known tool call, finish_reason). APR_EINVAL with *err: an error was fed, or the answer
 * is empty. */
apr_status_t vt_llm_stream_finish(vt_llm_stream_t *st, vt_llm_reply_t *reply,
                                  const char **err);
/* What was handed over so far: count and texts joined by spaces; the time of the first
 * token (content or tool call) and of the first sentence (0: none yet). */
int vt_llm_stream_sentences(const vt_llm_stream_t *st, const char **spoken);
apr_time_t vt_llm_stream_first_token(const vt_llm_stream_t *st);
apr_time_t vt_llm_stream_first_sentence(const vt_llm_stream_t *st);
/* 1 once data: [DONE] was read. */
int vt_llm_stream_done(const vt_llm_stream_t *st);

/* vt_llm_chat with the answer streamed (request_json from vt_llm_request_stream_json):
 * fn gets each sentence as it completes, on this thread. timeout_ms bounds the whole
 * exchange, first_byte_ms (0: none) the wait for the answer to begin. A server that
 * ignores "stream" and answers one whole JSON body works too (no sentence is handed
 * over: the reply is spoken whole); events sent as another text/ type are read too. res->first_token_ms is set as soon as the first token arrived (fn may read it).
 * Results as vt_llm_chat, and: APR_EINTR when fn stopped it; on any failure
 * after sentences were handed over, res->sentences and res->spoken say what was (reply
 * then holds the content so far, when any). */
apr_status_t vt_llm_chat_stream(vt_llm_http_t *h, apr_pool_t *p, const vt_llm_conf_t *conf,
                                const char *request_json, long timeout_ms,
                                long first_byte_ms, vt_llm_sentence_fn *fn, void *baton,
                                vt_llm_reply_t *reply, vt_llm_result_t *res);

#endif
