/* Unit tests for vt_llm's streamed answers: the sentence splitter, the unspoken rest, and
 * the Server-Sent Events parser fed in every possible split. The transport
 * (vt_llm_chat_stream) is exercised through the helper in
 * tests/integration/test_pipeline_stream.py. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vt_suites.h"
#include "vt_llm.h"

/* ------------------------------------------------------------------ sentences */

static void expect_sentence(const char *text, int at_end, const char *first)
{
    apr_size_t n = vt_llm_sentence_len(text, strlen(text), at_end);

    if (!first) {
        ck_assert_msg(n == 0, "\"%s\": no sentence expected, got %zu bytes", text, (size_t)n);
        return;
    }
    ck_assert_msg(n == strlen(first) && strncmp(text, first, n) == 0,
                  "\"%s\": expected \"%s\", got \"%.*s\"", text, first, (int)n, text);
}

START_TEST(test_sentence_ends)
{
    expect_sentence("Hello there. How are", 0, "Hello there.");
    expect_sentence("  Hi! Yes", 0, "  Hi!");
    expect_sentence("Really? Yes", 0, "Really?");
    expect_sentence("He said \"stop.\" Then", 0, "He said \"stop.\"");
    expect_sentence("(Closed today.) Open", 0, "(Closed today.)");
    expect_sentence("Wait... what", 0, "Wait...");
    /* At the end of what arrived: an end, unless a number's point may follow. */
    expect_sentence("Hello there.", 0, "Hello there.");
    expect_sentence("Really?", 0, "Really?");
    expect_sentence("It costs 3.", 0, NULL);
    expect_sentence("It costs 3.", 1, "It costs 3.");
    expect_sentence("Ask Dr.", 0, NULL);
    expect_sentence("Hello there.", 1, "Hello there.");
    expect_sentence("No end yet", 0, NULL);
    expect_sentence("No end yet", 1, "No end yet");
    expect_sentence("   ", 1, NULL);
    expect_sentence("", 1, NULL);
    expect_sentence("Line one\n\nLine two", 0, "Line one\n\n");
}
END_TEST

START_TEST(test_sentence_not_ends)
{
    expect_sentence("It costs 3.50 dollars. Ok", 0, "It costs 3.50 dollars.");
    expect_sentence("Dr. Smith is in. Ok", 0, "Dr. Smith is in.");
    expect_sentence("Ask Mrs. Jones. Ok", 0, "Ask Mrs. Jones.");
    expect_sentence("Bring e.g. a card. Ok", 0, "Bring e.g. a card.");
    expect_sentence("We open at 9 a.m. on Monday. Ok", 0, "We open at 9 a.m. on Monday.");
    expect_sentence("J. Smith called. Ok", 0, "J. Smith called.");
    expect_sentence("1. Call us. Ok", 0, "1. Call us.");
    expect_sentence("Call 555. Ok", 0, "Call 555.");
    expect_sentence("Visit example.com today. Ok", 0, "Visit example.com today.");
}
END_TEST

START_TEST(test_sentence_cjk_and_long)
{
    char long_text[400];
    apr_size_t n;

    /* U+3002 ends a sentence with no space after it. */
    expect_sentence("\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82\xe6\x98\xaf", 0,
                    "\xe4\xbd\xa0\xe5\xa5\xbd\xe3\x80\x82");
    /* Long without an end: cut after the last comma within VT_LLM_SENTENCE_LONG bytes. */
    strcpy(long_text, "We have many options for you today, including cleaning and whitening, "
                      "and also the full check up with x rays which takes about an hour and "
                      "then we can talk about it");
    n = vt_llm_sentence_len(long_text, strlen(long_text), 0);
    ck_assert_uint_gt(n, 40);
    ck_assert_uint_le(n, VT_LLM_SENTENCE_LONG + 1);
    ck_assert_int_eq(long_text[n - 1], ',');
    /* Short of the limit: wait. */
    expect_sentence("We have many options for you today, including cleaning", 0, NULL);
}
END_TEST

START_TEST(test_unspoken)
{
    apr_pool_t *p;

    apr_pool_create(&p, NULL);
    ck_assert_str_eq(vt_llm_unspoken(p, "Hello there. We are open.", "Hello there."),
                     "We are open.");
    ck_assert_str_eq(vt_llm_unspoken(p, "Hello  there.\nWe are open.", "Hello there. "),
                     "We are open.");
    ck_assert_str_eq(vt_llm_unspoken(p, "Hello there.", "Hello there."), "");
    ck_assert_str_eq(vt_llm_unspoken(p, "Hello.", "Hello. And more said."), "");
    ck_assert_str_eq(vt_llm_unspoken(p, " Goodbye. ", "Let me connect you."), "Goodbye.");
    ck_assert_str_eq(vt_llm_unspoken(p, "All of it.", ""), "All of it.");
    ck_assert_str_eq(vt_llm_unspoken(p, "All of it.", NULL), "All of it.");
    ck_assert_str_eq(vt_llm_unspoken(p, NULL, "x"), "");
    apr_pool_destroy(p);
}
END_TEST

/* ------------------------------------------------------------------ the parser */

typedef struct got {
    apr_pool_t *p;
    const char *all;     /* sentences joined by '|' */
    int n, stop_at;      /* stop_at > 0: return nonzero at that sentence */
} got_t;

static int on_sentence(void *baton, const char *s)
{
    got_t *g = baton;

    g->all = g->n ? apr_pstrcat(g->p, g->all, "|", s, NULL) : apr_pstrdup(g->p, s);
    g->n++;
    return g->stop_at && g->n >= g->stop_at;
}

typedef struct run {
    int rc;              /* the last feed's */
    apr_status_t rv;     /* finish's */
    vt_llm_reply_t reply;
    const char *err, *sentences;
} run_t;

/* Feeds body in pieces of `piece` bytes (0: whole) after a first cut at `cut`. */
static run_t feed(apr_pool_t *p, const char *body, apr_size_t cut, apr_size_t piece,
                  int stop_at)
{
    got_t g = { p, "", 0, stop_at };
    vt_llm_stream_t *st = vt_llm_stream_create(p, on_sentence, &g);
    apr_size_t len = strlen(body), i = 0, k;
    run_t r = { 0 };

    if (cut && cut < len) {
        r.rc = vt_llm_stream_feed(st, body, cut);
        i = cut;
    }
    while (i < len && r.rc == 0) {
        k = piece && piece < len - i ? piece : len - i;
        r.rc = vt_llm_stream_feed(st, body + i, k);
        i += k;
    }
    r.rv = vt_llm_stream_finish(st, &r.reply, &r.err);
    r.sentences = g.all;
    return r;
}

#define CHUNK(c) "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0," \
                 "\"delta\":{\"content\":\"" c "\"},\"finish_reason\":null}]}\n\n"

static const char *const openai_body =
    "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
    "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    CHUNK("We are ") CHUNK("open until 6 p.m") CHUNK(". On Saturday") CHUNK(" we close at 1.")
    CHUNK(" Anything else?")
    "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: [DONE]\n\n";

static const char *const openai_sentences =
    "We are open until 6 p.m. On Saturday we close at 1.|Anything else?";
static const char *const openai_text =
    "We are open until 6 p.m. On Saturday we close at 1. Anything else?";

START_TEST(test_stream_openai)
{
    apr_pool_t *p;
    run_t r;

    apr_pool_create(&p, NULL);
    r = feed(p, openai_body, 0, 0, 0);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_int_eq(r.rv, APR_SUCCESS);
    ck_assert_str_eq(r.reply.content, openai_text);
    ck_assert_int_eq(r.reply.action, VT_LLM_ACT_SAY);
    ck_assert_str_eq(r.reply.finish_reason, "stop");
    /* "6 p.m." does not end the first sentence, "at 1." waits for what follows. */
    ck_assert_str_eq(r.sentences, openai_sentences);
    apr_pool_destroy(p);
}
END_TEST

/* openai_body with its line ends as `eol`. */
static const char *with_eol(apr_pool_t *p, const char *eol)
{
    const char *s = openai_body, *nl, *out = "";

    while ((nl = strchr(s, '\n')) != NULL) {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, s, (apr_size_t)(nl - s)), eol, NULL);
        s = nl + 1;
    }
    return apr_pstrcat(p, out, s, NULL);
}

/* The same result whatever the pieces: cut at every byte, and one byte at a time; with
 * LF, CRLF and CR line ends (a CRLF may be split between pieces). */
START_TEST(test_stream_every_split)
{
    static const char *const eols[] = { "\n", "\r\n", "\r", "mixed" };
    apr_pool_t *p, *q;
    run_t r;

    apr_pool_create(&p, NULL);
    apr_pool_create(&q, NULL);
    for (size_t e = 0; e < 4; e++) {
        /* mixed: a CR line, then LF lines (the CR must not swallow a later LF) */
        const char *body = e < 3 ? with_eol(p, eols[e])
                                 : apr_pstrcat(p, ": hi\r", openai_body, NULL);
        apr_size_t len = strlen(body);
        for (apr_size_t cut = 1; cut < len; cut++) {
            r = feed(q, body, cut, 0, 0);
            ck_assert_msg(r.rv == APR_SUCCESS && strcmp(r.reply.content, openai_text) == 0
                              && strcmp(r.sentences, openai_sentences) == 0,
                          "eol %zu, cut at %zu: %s / %s", e, (size_t)cut, r.reply.content,
                          r.sentences);
            apr_pool_clear(q);
        }
        r = feed(q, body, 0, 1, 0);
        ck_assert_str_eq(r.reply.content, openai_text);
        ck_assert_str_eq(r.sentences, openai_sentences);
    }
    apr_pool_destroy(q);
    apr_pool_destroy(p);
}
END_TEST

/* CRLF and CR line ends, comments, other fields, a data field on two lines, no [DONE],
 * no blank line at the very end. */
START_TEST(test_stream_framing)
{
    apr_pool_t *p;
    run_t r;

    apr_pool_create(&p, NULL);
    r = feed(p, ": keep-alive\r\n\r\nevent: message\r\nid: 1\r\n"
                "data: {\"choices\":[{\"delta\":{\"content\":\"One. \"}}]}\r\n\r\n"
                "data: {\"choices\":[{\"delta\":\r\ndata: {\"content\":\"Two. \"}}]}\r\r"
                "data:{\"choices\":[{\"delta\":{\"content\":\"Three\"}}]}", 0, 7, 0);
    ck_assert_int_eq(r.rv, APR_SUCCESS);
    ck_assert_str_eq(r.reply.content, "One. Two. Three");
    ck_assert_str_eq(r.sentences, "One.|Two.");
    /* Nothing after [DONE] counts. */
    r = feed(p, CHUNK("Yes.") "data: [DONE]\n\n" CHUNK(" Extra."), 0, 0, 0);
    ck_assert_str_eq(r.reply.content, "Yes.");
    /* A usage chunk without choices is no content. */
    r = feed(p, CHUNK("Ok.") "data: {\"choices\":[],\"usage\":{\"total_tokens\":3}}\n\n", 0, 0,
             0);
    ck_assert_int_eq(r.rv, APR_SUCCESS);
    ck_assert_str_eq(r.reply.content, "Ok.");
    apr_pool_destroy(p);
}
END_TEST

/* OpenAI: a tool call in deltas (index, id and name first, arguments in pieces), after
 * text that is spoken. */
START_TEST(test_stream_tool_calls)
{
    apr_pool_t *p;
    run_t r;
    const char *body =
        CHUNK("Let me connect you. ")
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\","
        "\"type\":\"function\",\"function\":{\"name\":\"escalate_to_human\","
        "\"arguments\":\"\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"{\\\"reason\\\":\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"\\\"asked\\\"}\"}}]}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
        "data: [DONE]\n\n";

    apr_pool_create(&p, NULL);
    for (apr_size_t piece = 0; piece <= 13; piece += 13) {
        r = feed(p, body, 0, piece, 0);
        ck_assert_int_eq(r.rv, APR_SUCCESS);
        ck_assert_int_eq(r.reply.action, VT_LLM_ACT_ESCALATE);
        ck_assert_str_eq(r.reply.content, "Let me connect you.");
        ck_assert_str_eq(r.sentences, "Let me connect you.");
        ck_assert_str_eq(r.reply.finish_reason, "tool_calls");
    }
    /* Ollama: no index, the arguments an object, whole. */
    r = feed(p, "data: {\"choices\":[{\"delta\":{\"content\":\"\",\"tool_calls\":[{\"id\":"
                "\"c1\",\"function\":{\"name\":\"switch_language\",\"arguments\":"
                "{\"language\":\"es-ES\"}}}]}}]}\n\ndata: [DONE]\n\n", 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_SUCCESS);
    ck_assert_int_eq(r.reply.action, VT_LLM_ACT_LANGUAGE);
    ck_assert_str_eq(r.reply.language, "es-ES");
    ck_assert_ptr_null(r.reply.content);
    /* An unknown tool first, ours second: ours decides, as when not streamed. */
    r = feed(p, "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\","
                "\"function\":{\"name\":\"lookup\",\"arguments\":\"{}\"}},{\"index\":1,"
                "\"id\":\"b\",\"function\":{\"name\":\"end_call\",\"arguments\":\"{}\"}}]}}]}"
                "\n\n", 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_SUCCESS);
    ck_assert_int_eq(r.reply.action, VT_LLM_ACT_END_CALL);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_stream_errors)
{
    apr_pool_t *p;
    run_t r;
    char *big;

    apr_pool_create(&p, NULL);
    /* The server's error inside the stream, after a sentence. */
    r = feed(p, CHUNK("Sure. ") "data: {\"error\":{\"message\":\"model overloaded\"}}\n\n"
                CHUNK("More."), 0, 0, 0);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_int_eq(r.rv, APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(r.err, "model overloaded"));
    ck_assert_str_eq(r.sentences, "Sure.");
    /* Not JSON. */
    r = feed(p, "data: {\"choices\":[\n\n", 0, 0, 0);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_int_eq(r.rv, APR_EINVAL);
    r = feed(p, "data: [1,2]\n\n", 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_EINVAL);
    r = feed(p, "data: {} {}\n\n", 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_EINVAL);
    /* Nothing at all, or only [DONE]: an empty answer. */
    r = feed(p, "", 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_EINVAL);
    r = feed(p, "data: [DONE]\n\n", 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_EINVAL);
    ck_assert_str_eq(r.err, "empty answer");
    /* Too much. */
    big = malloc(VT_LLM_RESPONSE_MAX + 2);
    memset(big, ':', VT_LLM_RESPONSE_MAX + 1);
    big[VT_LLM_RESPONSE_MAX + 1] = '\0';
    r = feed(p, big, 0, 4096, 0);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_ptr_nonnull(strstr(r.err, "larger"));
    free(big);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_stream_think_and_markup)
{
    apr_pool_t *p;
    run_t r;

    apr_pool_create(&p, NULL);
    r = feed(p, CHUNK("<thi") CHUNK("nk>The caller wants hours. I will answer.</th")
                CHUNK("ink>\\n**Hours:** We open at 9. ") CHUNK("Bye."), 0, 0, 0);
    ck_assert_int_eq(r.rv, APR_SUCCESS);
    ck_assert_str_eq(r.sentences, "Hours: We open at 9.|Bye.");
    ck_assert_ptr_null(strstr(r.reply.content, "think"));
    ck_assert_ptr_nonnull(strstr(r.reply.content, "We open at 9. Bye."));
    /* Still thinking at the end (cut by max_tokens): nothing spoken, no answer. */
    r = feed(p, CHUNK("<think>Hmm. Let me see. ") CHUNK("Maybe. "), 0, 0, 0);
    ck_assert_str_eq(r.sentences, "");
    ck_assert_int_eq(r.rv, APR_EINVAL);
    apr_pool_destroy(p);
}
END_TEST

START_TEST(test_stream_stop_and_limit)
{
    apr_pool_t *p;
    run_t r;
    const char *body = "";
    const char *spoken;
    vt_llm_stream_t *st;
    vt_llm_reply_t reply;
    const char *err;

    apr_pool_create(&p, NULL);
    /* The receiver stops at the second sentence: nothing more is read. */
    r = feed(p, CHUNK("One. Two. Three. Four. "), 0, 0, 2);
    ck_assert_int_eq(r.rc, 1);
    ck_assert_str_eq(r.sentences, "One.|Two.");
    /* No more than VT_LLM_SPOKEN_MAX characters are handed over in all. */
    for (int i = 0; i < 40; i++)
        body = apr_pstrcat(p, body, CHUNK("This is sentence number something. "), NULL);
    st = vt_llm_stream_create(p, NULL, NULL);
    ck_assert_int_eq(vt_llm_stream_feed(st, body, strlen(body)), 0);
    ck_assert_int_gt(vt_llm_stream_sentences(st, &spoken), 10);
    ck_assert_uint_le(strlen(spoken), VT_LLM_SPOKEN_MAX);
    ck_assert_uint_gt(strlen(spoken), VT_LLM_SPOKEN_MAX - 40);
    ck_assert_int_eq(vt_llm_stream_finish(st, &reply, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(vt_llm_stream_first_token(st) ? "t" : NULL);
    ck_assert_ptr_nonnull(vt_llm_stream_first_sentence(st) ? "t" : NULL);
    apr_pool_destroy(p);
}
END_TEST

Suite *vt_suite_llm_stream(void)
{
    Suite *s = suite_create("llm_stream");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_sentence_ends);
    tcase_add_test(tc, test_sentence_not_ends);
    tcase_add_test(tc, test_sentence_cjk_and_long);
    tcase_add_test(tc, test_unspoken);
    tcase_add_test(tc, test_stream_openai);
    tcase_add_test(tc, test_stream_every_split);
    tcase_add_test(tc, test_stream_framing);
    tcase_add_test(tc, test_stream_tool_calls);
    tcase_add_test(tc, test_stream_errors);
    tcase_add_test(tc, test_stream_think_and_markup);
    tcase_add_test(tc, test_stream_stop_and_limit);
    suite_add_tcase(s, tc);
    return s;
}
