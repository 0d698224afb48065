/* The Realtime protocol: client events in both dialects, exact and parsed back with
 * json-c; server events under both name sets through the one table; refusals. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include "vt_suites.h"
#include "vt_realtime.h"
#include "vt_stream_msg.h"

static vt_rt_parser_t *ps;

static void parser_setup(void)
{
    vt_test_pool_setup();
    ps = vt_rt_parser_create();
    ck_assert_ptr_nonnull(ps);
}

static void parser_teardown(void)
{
    vt_rt_parser_destroy(ps);
    ps = NULL;
    vt_test_pool_teardown();
}

/* ---------------------------------------------------------------- json-c helpers */

static json_object *jparse(const char *text)
{
    json_tokener *tok = json_tokener_new();
    json_object *o;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, text, (int)strlen(text));
    ck_assert_msg(o && json_tokener_get_parse_end(tok) == strlen(text), "not JSON: %s", text);
    json_tokener_free(tok);
    return o;
}

/* The member at a dotted path ("session.audio.input.format.type"); "tools.1" indexes. */
static json_object *at(json_object *o, const char *path)
{
    char *copy = apr_pstrdup(vt_test_pool, path), *last, *key;

    for (key = apr_strtok(copy, ".", &last); key && o; key = apr_strtok(NULL, ".", &last)) {
        if (json_object_is_type(o, json_type_array))
            o = json_object_array_get_idx(o, (size_t)atoi(key));
        else if (!json_object_object_get_ex(o, key, &o))
            o = NULL;
    }
    return o;
}

static const char *str_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);

    ck_assert_msg(v && json_object_is_type(v, json_type_string), "%s: not a string", path);
    return json_object_get_string(v);
}

static int64_t int_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);

    ck_assert_msg(v && json_object_is_type(v, json_type_int), "%s: not an integer", path);
    return json_object_get_int64(v);
}

static int true_at(json_object *o, const char *path)
{
    json_object *v = at(o, path);

    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* ---------------------------------------------------------------- session.update */

static const vt_rt_tool_t tools[] = {
    { "transfer_call", "Hand the caller to a human.",
      "{\"type\":\"object\",\"properties\":{\"reason\":{\"type\":\"string\"}},"
      "\"required\":[\"reason\"]}" },
    { "end_call", NULL, NULL },
};

static vt_rt_session_t full_session(void)
{
    vt_rt_session_t s = { 0 };

    s.instructions = "You are \"Vox\".\nBe brief.";
    s.voice = "marin";
    s.audio = VT_RT_AUDIO_PCMU;
    s.transcription_model = "gpt-4o-mini-transcribe";
    s.language = "en";
    s.vad_threshold = 0.6;
    s.vad_prefix_ms = 200;
    s.vad_silence_ms = 400;
    s.tools = tools;
    s.ntools = 2;
    return s;
}

#define TOOLS_JSON \
    "\"tools\":[{\"type\":\"function\",\"name\":\"transfer_call\",\"description\":" \
    "\"Hand the caller to a human.\",\"parameters\":{\"type\":\"object\",\"properties\":" \
    "{\"reason\":{\"type\":\"string\"}},\"required\":[\"reason\"]}},{\"type\":\"function\"," \
    "\"name\":\"end_call\"}],\"tool_choice\":\"auto\""
#define TURN_JSON \
    "{\"type\":\"server_vad\",\"threshold\":0.6,\"prefix_padding_ms\":200," \
    "\"silence_duration_ms\":400,\"create_response\":true,\"interrupt_response\":true}"

static void check_turn_detection(json_object *td, double threshold, int prefix, int silence)
{
    ck_assert_ptr_nonnull(td);
    ck_assert_str_eq(str_at(td, "type"), "server_vad");
    ck_assert(json_object_is_type(at(td, "threshold"), json_type_double));
    ck_assert_double_eq_tol(json_object_get_double(at(td, "threshold")), threshold, 1e-9);
    ck_assert_int_eq(int_at(td, "prefix_padding_ms"), prefix);
    ck_assert_int_eq(int_at(td, "silence_duration_ms"), silence);
    ck_assert(true_at(td, "create_response"));
    ck_assert(true_at(td, "interrupt_response"));
    ck_assert_int_eq(json_object_object_length(td), 6);
}

static void check_tools(json_object *session)
{
    json_object *t = at(session, "tools");

    ck_assert(json_object_is_type(t, json_type_array));
    ck_assert_uint_eq(json_object_array_length(t), 2);
    ck_assert_str_eq(str_at(t, "0.type"), "function");
    ck_assert_str_eq(str_at(t, "0.name"), "transfer_call");
    ck_assert_str_eq(str_at(t, "0.description"), "Hand the caller to a human.");
    ck_assert_str_eq(str_at(t, "0.parameters.type"), "object");
    ck_assert_str_eq(str_at(t, "0.parameters.properties.reason.type"), "string");
    ck_assert_str_eq(str_at(t, "0.parameters.required.0"), "reason");
    ck_assert_str_eq(str_at(t, "1.name"), "end_call");
    ck_assert_ptr_null(at(t, "1.parameters"));
    ck_assert_ptr_null(at(t, "1.description"));
    ck_assert_str_eq(str_at(session, "tool_choice"), "auto");
}

START_TEST(test_session_update_ga)
{
    vt_rt_session_t s = full_session();
    const char *body = vt_rt_session_update(vt_test_pool, VT_RT_GA, &s);
    json_object *o, *ss;

    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body,
        "{\"type\":\"session.update\",\"session\":{\"type\":\"realtime\",\"instructions\":"
        "\"You are \\\"Vox\\\".\\nBe brief.\",\"output_modalities\":[\"audio\"],\"audio\":"
        "{\"input\":{\"format\":{\"type\":\"audio/pcmu\"},\"transcription\":{\"model\":"
        "\"gpt-4o-mini-transcribe\",\"language\":\"en\"},\"turn_detection\":" TURN_JSON "},"
        "\"output\":{\"format\":{\"type\":\"audio/pcmu\"},\"voice\":\"marin\"}}," TOOLS_JSON
        "}}");
    o = jparse(body);
    ss = at(o, "session");
    ck_assert_str_eq(str_at(o, "type"), "session.update");
    ck_assert_str_eq(str_at(ss, "type"), "realtime");
    ck_assert_str_eq(str_at(ss, "instructions"), s.instructions);
    ck_assert_uint_eq(json_object_array_length(at(ss, "output_modalities")), 1);
    ck_assert_str_eq(str_at(ss, "output_modalities.0"), "audio");
    ck_assert_str_eq(str_at(ss, "audio.input.format.type"), "audio/pcmu");
    ck_assert_str_eq(str_at(ss, "audio.output.format.type"), "audio/pcmu");
    ck_assert_str_eq(str_at(ss, "audio.input.transcription.model"), "gpt-4o-mini-transcribe");
    ck_assert_str_eq(str_at(ss, "audio.input.transcription.language"), "en");
    ck_assert_str_eq(str_at(ss, "audio.output.voice"), "marin");
    check_turn_detection(at(ss, "audio.input.turn_detection"), 0.6, 200, 400);
    check_tools(ss);
    /* No beta names in a GA body. */
    ck_assert_ptr_null(at(ss, "modalities"));
    ck_assert_ptr_null(at(ss, "input_audio_format"));
    ck_assert_ptr_null(at(ss, "voice"));
    json_object_put(o);
}
END_TEST

START_TEST(test_session_update_beta)
{
    vt_rt_session_t s = full_session();
    const char *body = vt_rt_session_update(vt_test_pool, VT_RT_BETA, &s);
    json_object *o, *ss;

    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body,
        "{\"type\":\"session.update\",\"session\":{\"modalities\":[\"audio\",\"text\"],"
        "\"instructions\":\"You are \\\"Vox\\\".\\nBe brief.\",\"voice\":\"marin\","
        "\"input_audio_format\":\"g711_ulaw\",\"output_audio_format\":\"g711_ulaw\","
        "\"input_audio_transcription\":{\"model\":\"gpt-4o-mini-transcribe\",\"language\":"
        "\"en\"},\"turn_detection\":" TURN_JSON "," TOOLS_JSON "}}");
    o = jparse(body);
    ss = at(o, "session");
    ck_assert_str_eq(str_at(o, "type"), "session.update");
    ck_assert_str_eq(str_at(ss, "modalities.0"), "audio");
    ck_assert_str_eq(str_at(ss, "modalities.1"), "text");
    ck_assert_str_eq(str_at(ss, "instructions"), s.instructions);
    ck_assert_str_eq(str_at(ss, "voice"), "marin");
    ck_assert_str_eq(str_at(ss, "input_audio_format"), "g711_ulaw");
    ck_assert_str_eq(str_at(ss, "output_audio_format"), "g711_ulaw");
    ck_assert_str_eq(str_at(ss, "input_audio_transcription.model"), "gpt-4o-mini-transcribe");
    ck_assert_str_eq(str_at(ss, "input_audio_transcription.language"), "en");
    check_turn_detection(at(ss, "turn_detection"), 0.6, 200, 400);
    check_tools(ss);
    ck_assert_ptr_null(at(ss, "type"));
    ck_assert_ptr_null(at(ss, "audio"));
    json_object_put(o);
}
END_TEST

START_TEST(test_session_update_defaults)
{
    vt_rt_session_t s = { 0 };
    const char *body;
    json_object *o;

    /* Nothing set: the defaults, no optional member, PCMU, an empty tool list. */
    body = vt_rt_session_update(vt_test_pool, VT_RT_GA, &s);
    o = jparse(body);
    check_turn_detection(at(o, "session.audio.input.turn_detection"), 0.5, 300, 500);
    ck_assert_ptr_null(at(o, "session.instructions"));
    ck_assert_ptr_null(at(o, "session.audio.output.voice"));
    ck_assert_ptr_null(at(o, "session.audio.input.transcription"));
    ck_assert_uint_eq(json_object_array_length(at(o, "session.tools")), 0);
    json_object_put(o);
    /* PCM16 at 24 kHz; a language without a model asks for no transcription. */
    s.audio = VT_RT_AUDIO_PCM16;
    s.language = "fr";
    s.vad_threshold = 0.655;
    o = jparse(vt_rt_session_update(vt_test_pool, VT_RT_GA, &s));
    ck_assert_str_eq(str_at(o, "session.audio.input.format.type"), "audio/pcm");
    ck_assert_int_eq(int_at(o, "session.audio.input.format.rate"), 24000);
    ck_assert_str_eq(str_at(o, "session.audio.output.format.type"), "audio/pcm");
    ck_assert_int_eq(int_at(o, "session.audio.output.format.rate"), 24000);
    ck_assert_ptr_null(at(o, "session.audio.input.transcription"));
    check_turn_detection(at(o, "session.audio.input.turn_detection"), 0.655, 300, 500);
    json_object_put(o);
    o = jparse(vt_rt_session_update(vt_test_pool, VT_RT_BETA, &s));
    ck_assert_str_eq(str_at(o, "session.input_audio_format"), "pcm16");
    ck_assert_str_eq(str_at(o, "session.output_audio_format"), "pcm16");
    ck_assert_ptr_null(at(o, "session.input_audio_transcription"));
    json_object_put(o);
    /* Thresholds: out of range clamped, written without locale. */
    s.vad_threshold = 1.7;
    ck_assert_ptr_nonnull(strstr(vt_rt_session_update(vt_test_pool, VT_RT_BETA, &s),
                                 "\"threshold\":1.0,"));
    s.vad_threshold = 0.05;
    ck_assert_ptr_nonnull(strstr(vt_rt_session_update(vt_test_pool, VT_RT_BETA, &s),
                                 "\"threshold\":0.05,"));
    s.vad_threshold = -1;
    ck_assert_ptr_nonnull(strstr(vt_rt_session_update(vt_test_pool, VT_RT_BETA, &s),
                                 "\"threshold\":0.5,"));
}
END_TEST

START_TEST(test_session_update_refusals)
{
    static const char *const bad_params[] = { "[1]", "{", "{} x", "not json", "\"s\"", "",
                                              "{\"a\":1}{}", "{\"a\":\"\xff\"}" };
    vt_rt_tool_t t = { "ok_name-1", NULL, NULL };
    vt_rt_session_t s = { 0 };

    s.tools = &t;
    s.ntools = 1;
    ck_assert_ptr_nonnull(vt_rt_session_update(vt_test_pool, VT_RT_GA, &s));
    for (size_t i = 0; i < sizeof bad_params / sizeof bad_params[0]; i++) {
        t.parameters = bad_params[i];
        ck_assert_msg(vt_rt_session_update(vt_test_pool, VT_RT_GA, &s) == NULL, "%s",
                      bad_params[i]);
    }
    t.parameters = " {\"type\":\"object\"}\n";
    ck_assert_ptr_nonnull(strstr(vt_rt_session_update(vt_test_pool, VT_RT_BETA, &s),
                                 "\"parameters\": {\"type\":\"object\"}\n}"));
    t.name = "bad name";
    ck_assert_ptr_null(vt_rt_session_update(vt_test_pool, VT_RT_GA, &s));
    t.name = "";
    ck_assert_ptr_null(vt_rt_session_update(vt_test_pool, VT_RT_GA, &s));
    t.name = NULL;
    ck_assert_ptr_null(vt_rt_session_update(vt_test_pool, VT_RT_GA, &s));
    t.name = "n";
    ck_assert_ptr_null(vt_rt_session_update(vt_test_pool, (vt_rt_dialect_t)7, &s));
}
END_TEST

/* ---------------------------------------------------------------- other client events */

START_TEST(test_append)
{
    static const uint8_t pcm[] = { 0x00, 0x01, 0xFE, 0xFF, 0x10 };
    const char *b64 = "/38A/38A";
    char out[256];
    size_t n, len;
    json_object *o;

    n = vt_rt_append_json(out, sizeof out, b64, strlen(b64));
    ck_assert_str_eq(out, "{\"type\":\"input_audio_buffer.append\",\"audio\":\"/38A/38A\"}");
    ck_assert_uint_eq(n, strlen(out));
    /* Fits exactly with its NUL, not one byte less. */
    len = n;
    ck_assert_uint_eq(vt_rt_append_json(out, len + 1, b64, strlen(b64)), len);
    ck_assert_uint_eq(vt_rt_append_json(out, len, b64, strlen(b64)), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(vt_rt_append_json(out, 0, b64, strlen(b64)), 0);
    /* A byte that would break the JSON is never copied. */
    ck_assert_uint_eq(vt_rt_append_json(out, sizeof out, "ab\"c", 4), 0);
    ck_assert_uint_eq(vt_rt_append_json(out, sizeof out, "ab\\c", 4), 0);
    n = vt_rt_append_raw_json(out, sizeof out, pcm, sizeof pcm);
    ck_assert_str_eq(out, "{\"type\":\"input_audio_buffer.append\",\"audio\":\"AAH+/xA=\"}");
    ck_assert_uint_eq(vt_rt_append_raw_json(out, n, pcm, sizeof pcm), 0);
    ck_assert_uint_eq(vt_rt_append_raw_json(out, n + 1, pcm, sizeof pcm), n);
    o = jparse(out);
    ck_assert_str_eq(str_at(o, "type"), "input_audio_buffer.append");
    ck_assert_str_eq(str_at(o, "audio"), "AAH+/xA=");
    json_object_put(o);
}
END_TEST

START_TEST(test_client_events)
{
    ck_assert_str_eq(vt_rt_response_create(vt_test_pool, NULL), "{\"type\":\"response.create\"}");
    ck_assert_str_eq(vt_rt_response_create(vt_test_pool, "Greet the caller: \"Hi\"."),
                     "{\"type\":\"response.create\",\"response\":{\"instructions\":"
                     "\"Greet the caller: \\\"Hi\\\".\"}}");
    ck_assert_str_eq(vt_rt_response_cancel(vt_test_pool, NULL), "{\"type\":\"response.cancel\"}");
    ck_assert_str_eq(vt_rt_response_cancel(vt_test_pool, "resp_1"),
                     "{\"type\":\"response.cancel\",\"response_id\":\"resp_1\"}");
    ck_assert_str_eq(vt_rt_item_truncate(vt_test_pool, "item_9", 0, 1500),
                     "{\"type\":\"conversation.item.truncate\",\"item_id\":\"item_9\","
                     "\"content_index\":0,\"audio_end_ms\":1500}");
    ck_assert_str_eq(vt_rt_function_output(vt_test_pool, "call_7", "{\"ok\":true}"),
                     "{\"type\":\"conversation.item.create\",\"item\":{\"type\":"
                     "\"function_call_output\",\"call_id\":\"call_7\",\"output\":"
                     "\"{\\\"ok\\\":true}\"}}");
}
END_TEST

START_TEST(test_dialect_names)
{
    vt_rt_dialect_t d = VT_RT_BETA;

    ck_assert_int_eq(vt_rt_dialect_parse("ga", &d), 0);
    ck_assert_int_eq(d, VT_RT_GA);
    ck_assert_int_eq(vt_rt_dialect_parse("beta", &d), 0);
    ck_assert_int_eq(d, VT_RT_BETA);
    ck_assert_int_eq(vt_rt_dialect_parse("GA", &d), -1);
    ck_assert_int_eq(vt_rt_dialect_parse("", &d), -1);
    ck_assert_int_eq(vt_rt_dialect_parse(NULL, &d), -1);
    ck_assert_str_eq(vt_rt_dialect_name(VT_RT_GA), "ga");
    ck_assert_str_eq(vt_rt_dialect_name(VT_RT_BETA), "beta");
}
END_TEST

/* ---------------------------------------------------------------- server events */

static vt_rt_event_t parse_ok(const char *text)
{
    vt_rt_event_t ev;
    const char *err = NULL;

    ck_assert_msg(vt_rt_parse(ps, text, strlen(text), &ev, &err) == 0, "%s: %s", text, err);
    return ev;
}

static const char *parse_len_err(const char *text, size_t len)
{
    vt_rt_event_t ev;
    const char *err = NULL;

    ck_assert_msg(vt_rt_parse(ps, text, len, &ev, &err) == -1, "accepted: %s", text);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(strstr(err, "ZZQ"));
    return err;
}

static const char *parse_err(const char *text)
{
    return parse_len_err(text, strlen(text));
}

/* Events under their GA and beta names (the same where the dialects agree), with the
 * fields the servers send. %s is the type. */
static const struct {
    const char *ga, *beta;
    vt_rt_event_type_t type;
    const char *body;
} events[] = {
    { "session.created", NULL, VT_RT_SESSION_CREATED,
      "{\"type\":\"%s\",\"event_id\":\"event_1\",\"session\":{\"id\":\"sess_1\"}}" },
    { "session.updated", NULL, VT_RT_SESSION_UPDATED,
      "{\"type\":\"%s\",\"event_id\":\"event_2\",\"session\":{\"id\":\"sess_1\"}}" },
    { "input_audio_buffer.speech_started", NULL, VT_RT_SPEECH_STARTED,
      "{\"type\":\"%s\",\"event_id\":\"event_1516\",\"audio_start_ms\":1000,"
      "\"item_id\":\"msg_003\"}" },
    { "input_audio_buffer.speech_stopped", NULL, VT_RT_SPEECH_STOPPED,
      "{\"type\":\"%s\",\"event_id\":\"event_1718\",\"audio_end_ms\":2000,"
      "\"item_id\":\"msg_003\"}" },
    { "response.created", NULL, VT_RT_RESPONSE_CREATED,
      "{\"type\":\"%s\",\"event_id\":\"event_2930\",\"response\":{\"id\":\"resp_001\","
      "\"object\":\"realtime.response\",\"status\":\"in_progress\",\"status_details\":null,"
      "\"output\":[],\"usage\":null}}" },
    { "response.output_audio.delta", "response.audio.delta", VT_RT_AUDIO_DELTA,
      "{\"type\":\"%s\",\"event_id\":\"event_4950\",\"response_id\":\"resp_001\","
      "\"item_id\":\"msg_008\",\"output_index\":0,\"content_index\":0,\"delta\":\"/38A\"}" },
    { "response.output_audio.done", "response.audio.done", VT_RT_AUDIO_DONE,
      "{\"type\":\"%s\",\"event_id\":\"event_5152\",\"response_id\":\"resp_001\","
      "\"item_id\":\"msg_008\",\"output_index\":0,\"content_index\":0}" },
    { "response.output_audio_transcript.delta", "response.audio_transcript.delta",
      VT_RT_TRANSCRIPT_DELTA,
      "{\"type\":\"%s\",\"event_id\":\"event_4546\",\"response_id\":\"resp_001\","
      "\"item_id\":\"msg_008\",\"output_index\":0,\"content_index\":0,"
      "\"delta\":\"Hello, how can I a\"}" },
    { "response.output_audio_transcript.done", "response.audio_transcript.done",
      VT_RT_TRANSCRIPT_DONE,
      "{\"type\":\"%s\",\"event_id\":\"event_4748\",\"response_id\":\"resp_001\","
      "\"item_id\":\"msg_008\",\"output_index\":0,\"content_index\":0,"
      "\"transcript\":\"Hello, how can I assist you today?\"}" },
    { "conversation.item.input_audio_transcription.completed", NULL, VT_RT_INPUT_TRANSCRIPT,
      "{\"type\":\"%s\",\"event_id\":\"event_2122\",\"item_id\":\"msg_003\","
      "\"content_index\":0,\"transcript\":\"Hello, how are you?\"}" },
    { "response.output_item.done", NULL, VT_RT_FUNCTION_CALL_DONE,
      "{\"type\":\"%s\",\"event_id\":\"event_x\",\"response_id\":\"resp_002\","
      "\"output_index\":0,\"item\":{\"id\":\"item_5\",\"type\":\"function_call\","
      "\"status\":\"completed\",\"name\":\"transfer_call\",\"call_id\":\"call_zk\","
      "\"arguments\":\"{\\\"reason\\\":\\\"billing\\\"}\"}}" },
    { "response.done", NULL, VT_RT_RESPONSE_DONE,
      "{\"type\":\"%s\",\"event_id\":\"event_3132\",\"response\":{\"id\":\"resp_001\","
      "\"object\":\"realtime.response\",\"status\":\"cancelled\",\"status_details\":"
      "{\"type\":\"cancelled\",\"reason\":\"turn_detected\"},\"output\":[],"
      "\"usage\":{\"total_tokens\":10}}}" },
    { "conversation.item.truncated", NULL, VT_RT_ITEM_TRUNCATED,
      "{\"type\":\"%s\",\"event_id\":\"event_2526\",\"item_id\":\"msg_004\","
      "\"content_index\":0,\"audio_end_ms\":1500}" },
    { "error", NULL, VT_RT_ERROR,
      "{\"type\":\"%s\",\"event_id\":\"event_890\",\"error\":{\"type\":"
      "\"invalid_request_error\",\"code\":\"invalid_event\",\"message\":"
      "\"The 'type' field is missing.\",\"param\":null,\"event_id\":\"event_567\"}}" },
};

static void check_fields(const vt_rt_event_t *ev)
{
    switch (ev->type) {
    case VT_RT_SPEECH_STARTED:
        ck_assert_int_eq(ev->audio_start_ms, 1000);
        ck_assert_int_eq(ev->audio_end_ms, -1);
        ck_assert_str_eq(ev->item_id, "msg_003");
        break;
    case VT_RT_SPEECH_STOPPED:
        ck_assert_int_eq(ev->audio_end_ms, 2000);
        break;
    case VT_RT_RESPONSE_CREATED:
        ck_assert_str_eq(ev->response_id, "resp_001");
        ck_assert_str_eq(ev->status, "in_progress");
        ck_assert_ptr_null(ev->reason);
        break;
    case VT_RT_AUDIO_DELTA:
        ck_assert_str_eq(ev->response_id, "resp_001");
        ck_assert_str_eq(ev->item_id, "msg_008");
        ck_assert_int_eq(ev->content_index, 0);
        ck_assert_uint_eq(ev->audio_len, 3);
        ck_assert(memcmp(ev->audio, "\xff\x7f\x00", 3) == 0);
        break;
    case VT_RT_AUDIO_DONE:
        ck_assert_str_eq(ev->item_id, "msg_008");
        break;
    case VT_RT_TRANSCRIPT_DELTA:
        ck_assert_str_eq(ev->text, "Hello, how can I a");
        break;
    case VT_RT_TRANSCRIPT_DONE:
        ck_assert_str_eq(ev->text, "Hello, how can I assist you today?");
        ck_assert_str_eq(ev->item_id, "msg_008");
        break;
    case VT_RT_INPUT_TRANSCRIPT:
        ck_assert_str_eq(ev->text, "Hello, how are you?");
        ck_assert_str_eq(ev->item_id, "msg_003");
        break;
    case VT_RT_FUNCTION_CALL_DONE:
        ck_assert_str_eq(ev->call_id, "call_zk");
        ck_assert_str_eq(ev->name, "transfer_call");
        ck_assert_str_eq(ev->arguments, "{\"reason\":\"billing\"}");
        ck_assert_str_eq(ev->item_status, "completed");
        ck_assert_str_eq(ev->item_id, "item_5");
        ck_assert_str_eq(ev->response_id, "resp_002");
        break;
    case VT_RT_RESPONSE_DONE:
        ck_assert_str_eq(ev->response_id, "resp_001");
        ck_assert_str_eq(ev->status, "cancelled");
        ck_assert_str_eq(ev->reason, "turn_detected");
        break;
    case VT_RT_ITEM_TRUNCATED:
        ck_assert_str_eq(ev->item_id, "msg_004");
        ck_assert_int_eq(ev->audio_end_ms, 1500);
        break;
    case VT_RT_ERROR:
        ck_assert_str_eq(ev->error_type, "invalid_request_error");
        ck_assert_str_eq(ev->error_code, "invalid_event");
        ck_assert_str_eq(ev->error_message, "The 'type' field is missing.");
        break;
    default:
        break;
    }
}

START_TEST(test_every_event_both_dialects)
{
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        const char *names[2] = { events[i].ga, events[i].beta ? events[i].beta : events[i].ga };
        for (int d = 0; d < 2; d++) {
            vt_rt_event_t ev = parse_ok(apr_psprintf(vt_test_pool, events[i].body, names[d]));
            ck_assert_msg(ev.type == events[i].type, "%s", names[d]);
            ck_assert_str_eq(ev.type_name, names[d]);
            check_fields(&ev);
        }
    }
}
END_TEST

START_TEST(test_other_events)
{
    static const char *const others[] = {
        "{\"type\":\"rate_limits.updated\",\"rate_limits\":[{\"name\":\"requests\","
        "\"limit\":1000,\"remaining\":999,\"reset_seconds\":60}]}",
        "{\"type\":\"conversation.item.created\",\"item\":{\"id\":\"msg_1\"}}",
        "{\"type\":\"conversation.item.added\",\"item\":{}}",
        "{\"type\":\"response.output_text.delta\",\"delta\":7}",
        "{\"type\":\"response.function_call_arguments.done\",\"call_id\":\"c\"}",
        "{\"type\":\"input_audio_buffer.committed\"}",
        "{\"type\":\"\"}",
        /* an output item that is not a function call */
        "{\"type\":\"response.output_item.done\",\"response_id\":\"r\",\"item\":{\"id\":\"i\","
        "\"type\":\"message\",\"status\":\"completed\",\"content\":[]}}",
    };

    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        ck_assert_msg(parse_ok(others[i]).type == VT_RT_OTHER, "%s", others[i]);
}
END_TEST

START_TEST(test_session_formats)
{
    vt_rt_event_t ev;

    /* GA's full session.created. */
    ev = parse_ok("{\"type\":\"session.created\",\"event_id\":\"event_C9G5\",\"session\":{"
                  "\"type\":\"realtime\",\"object\":\"realtime.session\",\"id\":\"sess_C9G\","
                  "\"model\":\"gpt-realtime-2025-08-28\",\"output_modalities\":[\"audio\"],"
                  "\"instructions\":\"Be nice.\",\"tools\":[],\"tool_choice\":\"auto\","
                  "\"max_output_tokens\":\"inf\",\"tracing\":null,\"prompt\":null,"
                  "\"expires_at\":1756324625,\"audio\":{\"input\":{\"format\":{\"type\":"
                  "\"audio/pcm\",\"rate\":24000},\"transcription\":null,\"noise_reduction\":null,"
                  "\"turn_detection\":{\"type\":\"server_vad\",\"threshold\":0.5,"
                  "\"prefix_padding_ms\":300,\"silence_duration_ms\":200,\"idle_timeout_ms\":null,"
                  "\"create_response\":true,\"interrupt_response\":true}},\"output\":{\"format\":"
                  "{\"type\":\"audio/pcmu\"},\"voice\":\"marin\",\"speed\":1}},\"include\":null}}");
    ck_assert_int_eq(ev.type, VT_RT_SESSION_CREATED);
    ck_assert_str_eq(ev.input_format, "pcm16");
    ck_assert_str_eq(ev.output_format, "pcmu");
    ev = parse_ok("{\"type\":\"session.updated\",\"session\":{\"audio\":{\"input\":{\"format\":"
                  "{\"type\":\"audio/pcm\",\"rate\":16000}},\"output\":{\"format\":{\"type\":"
                  "\"audio/pcma\"}}}}}");
    ck_assert_str_eq(ev.input_format, "audio/pcm");
    ck_assert_str_eq(ev.output_format, "audio/pcma");
    /* Beta's. */
    ev = parse_ok("{\"type\":\"session.created\",\"event_id\":\"event_1234\",\"session\":{"
                  "\"id\":\"sess_001\",\"object\":\"realtime.session\",\"model\":"
                  "\"gpt-4o-realtime-preview\",\"modalities\":[\"text\",\"audio\"],"
                  "\"voice\":\"alloy\",\"input_audio_format\":\"pcm16\","
                  "\"output_audio_format\":\"g711_ulaw\",\"input_audio_transcription\":null,"
                  "\"turn_detection\":{\"type\":\"server_vad\"},\"temperature\":0.8,"
                  "\"max_response_output_tokens\":\"inf\"}}");
    ck_assert_str_eq(ev.input_format, "pcm16");
    ck_assert_str_eq(ev.output_format, "pcmu");
    ev = parse_ok("{\"type\":\"session.updated\",\"session\":{\"input_audio_format\":"
                  "\"g711_alaw\"}}");
    ck_assert_str_eq(ev.input_format, "g711_alaw");
    ck_assert_ptr_null(ev.output_format);
    ev = parse_ok("{\"type\":\"session.created\"}");
    ck_assert_ptr_null(ev.input_format);
    ck_assert_str_eq(parse_err("{\"type\":\"session.updated\",\"session\":{\"audio\":{\"input\":"
                               "{\"format\":\"audio/pcmu\"}}}}"),
                     "session.audio: a format is not an object");
    ck_assert_str_eq(parse_err("{\"type\":\"session.updated\",\"session\":{"
                               "\"input_audio_format\":1}}"),
                     "session: an audio format is not a string");
    ck_assert_str_eq(parse_err("{\"type\":\"session.updated\",\"session\":[]}"),
                     "session: not an object");
}
END_TEST

START_TEST(test_function_call_and_response)
{
    vt_rt_event_t ev;

    /* A function call of a cancelled response: reported, with its status. */
    ev = parse_ok("{\"type\":\"response.output_item.done\",\"item\":{\"type\":\"function_call\","
                  "\"status\":\"incomplete\",\"name\":\"end_call\",\"call_id\":\"c1\"}}");
    ck_assert_int_eq(ev.type, VT_RT_FUNCTION_CALL_DONE);
    ck_assert_str_eq(ev.item_status, "incomplete");
    ck_assert_ptr_null(ev.arguments);
    ck_assert_ptr_null(ev.response_id);
    ck_assert_str_eq(parse_err("{\"type\":\"response.output_item.done\",\"item\":{\"type\":"
                               "\"function_call\",\"name\":\"end_call\"}}"),
                     "item.call_id: missing or not a string");
    ck_assert_str_eq(parse_err("{\"type\":\"response.output_item.done\",\"item\":{\"type\":"
                               "\"function_call\",\"call_id\":\"c\",\"name\":3}}"),
                     "item.name: missing or not a string");
    ck_assert_str_eq(parse_err("{\"type\":\"response.output_item.done\"}"),
                     "item: missing or not an object");
    ev = parse_ok("{\"type\":\"response.done\",\"response\":{\"id\":\"r\",\"status\":"
                  "\"completed\",\"status_details\":null}}");
    ck_assert_str_eq(ev.status, "completed");
    ck_assert_ptr_null(ev.reason);
    ck_assert_str_eq(parse_err("{\"type\":\"response.done\",\"response\":{\"status\":\"x\"}}"),
                     "response.id: missing or not a string");
    ck_assert_str_eq(parse_err("{\"type\":\"response.created\"}"),
                     "response: missing or not an object");
    ck_assert_str_eq(parse_err("{\"type\":\"response.done\",\"response\":{\"id\":\"r\","
                               "\"status_details\":{\"reason\":5}}}"),
                     "response.status_details.reason: not a string");
}
END_TEST

START_TEST(test_errors_and_nulls)
{
    vt_rt_event_t ev;

    ev = parse_ok("{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
                  "\"code\":\"beta_api_shape_disabled\",\"message\":\"Use GA.\",\"param\":null,"
                  "\"event_id\":null}}");
    ck_assert_str_eq(ev.error_code, "beta_api_shape_disabled");
    ev = parse_ok("{\"type\":\"error\",\"error\":{\"type\":\"server_error\",\"code\":null,"
                  "\"message\":\"Try again.\"}}");
    ck_assert_ptr_null(ev.error_code);
    ck_assert_str_eq(ev.error_message, "Try again.");
    ev = parse_ok("{\"type\":\"error\"}");
    ck_assert_int_eq(ev.type, VT_RT_ERROR);
    ck_assert_ptr_null(ev.error_type);
    ck_assert_str_eq(parse_err("{\"type\":\"error\",\"error\":\"boom\"}"), "error: not an object");
    ck_assert_str_eq(parse_err("{\"type\":\"error\",\"error\":{\"message\":[]}}"),
                     "error.message: not a string");
}
END_TEST

START_TEST(test_audio_delta_checks)
{
#define DELTA(fields) "{\"type\":\"response.output_audio.delta\"" fields "}"
    size_t max_b64 = 4 * ((VT_RT_AUDIO_MAX + 2) / 3);
    uint8_t *audio = apr_pcalloc(vt_test_pool, VT_RT_AUDIO_MAX + 3);
    char *text = apr_palloc(vt_test_pool, max_b64 + 200), *b64;
    vt_rt_event_t ev;
    size_t n;

    ck_assert_str_eq(parse_err(DELTA(",\"item_id\":\"i\",\"delta\":\"\"")),
                     "response_id: missing or not a string");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"delta\":\"\"")),
                     "item_id: missing or not a string");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\"")),
                     "delta: missing or not a string");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"abc\"")),
                     "delta: not base64");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"YR==\"")),
                     "delta: not base64");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"YW\\nJj\"")),
                     "delta: not base64");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"\","
                                     "\"content_index\":-1")),
                     "content_index: not a small count");
    ck_assert_str_eq(parse_err(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"\","
                                     "\"content_index\":\"0\"")),
                     "content_index: not a small count");
    ev = parse_ok(DELTA(",\"response_id\":\"r\",\"item_id\":\"i\",\"delta\":\"\",\"content_index\":2"));
    ck_assert_int_eq(ev.content_index, 2);
    ck_assert_uint_eq(ev.audio_len, 0);
    /* The largest delta, then one byte more. */
    for (int extra = 0; extra <= 1; extra++) {
        strcpy(text, "{\"type\":\"response.audio.delta\",\"response_id\":\"r\",\"item_id\":\"i\","
                     "\"delta\":\"");
        b64 = text + strlen(text);
        n = vt_sm_b64_encode(audio, VT_RT_AUDIO_MAX + (size_t)extra, b64);
        strcpy(b64 + n, "\"}");
        if (extra == 0)
            ck_assert_uint_eq(parse_ok(text).audio_len, VT_RT_AUDIO_MAX);
        else
            ck_assert_str_eq(parse_err(text), "delta: too large");
    }
    ck_assert_str_eq(parse_err("{\"type\":\"input_audio_buffer.speech_started\","
                               "\"audio_start_ms\":-5}"), "audio_start_ms: not a count of ms");
    ck_assert_str_eq(parse_err("{\"type\":\"conversation.item.truncated\","
                               "\"audio_end_ms\":1.5}"), "audio_end_ms: not a count of ms");
    ck_assert_str_eq(parse_err("{\"type\":\"response.output_audio_transcript.done\"}"),
                     "transcript: missing or not a string");
#undef DELTA
}
END_TEST

START_TEST(test_refusals)
{
    static const char with_nul[] = "{\"type\":\"error\"}\0";
    char *big = apr_palloc(vt_test_pool, VT_RT_MESSAGE_MAX + 2);

    ck_assert_str_eq(parse_err(""), "not a JSON object");
    ck_assert_str_eq(parse_err("ZZQ"), "not a JSON object");
    ck_assert_str_eq(parse_err("[{\"type\":\"error\"}]"), "not a JSON object");
    ck_assert_str_eq(parse_err("{\"type\":\"error\"} ZZQ"), "not a JSON object");
    ck_assert_str_eq(parse_err("{\"type\":\"error\"}{}"), "not a JSON object");
    ck_assert_str_eq(parse_len_err(with_nul, sizeof with_nul - 1), "not UTF-8 JSON text");
    ck_assert_str_eq(parse_err("{\"type\":\"err\xffor\"}"), "not UTF-8 JSON text");
    ck_assert_str_eq(parse_err("{}"), "type: missing or not a string");
    ck_assert_str_eq(parse_err("{\"type\":null}"), "type: missing or not a string");
    ck_assert_str_eq(parse_err("{\"type\":[\"error\"]}"), "type: missing or not a string");
    ck_assert_str_eq(parse_err("{\"type\":\"err\\u0000or\"}"), "type: missing or not a string");
    memset(big, ' ', VT_RT_MESSAGE_MAX + 1);
    memcpy(big, "{\"type\":\"error\"}", 16);
    ck_assert_int_eq(vt_rt_parse(ps, big, VT_RT_MESSAGE_MAX, &(vt_rt_event_t){ 0 },
                                 &(const char *){ NULL }), 0);
    ck_assert_str_eq(parse_len_err(big, VT_RT_MESSAGE_MAX + 1), "message too large");
}
END_TEST

Suite *vt_suite_realtime(void)
{
    Suite *s = suite_create("realtime");
    TCase *tc = tcase_create("realtime");

    tcase_add_checked_fixture(tc, parser_setup, parser_teardown);
    tcase_add_test(tc, test_session_update_ga);
    tcase_add_test(tc, test_session_update_beta);
    tcase_add_test(tc, test_session_update_defaults);
    tcase_add_test(tc, test_session_update_refusals);
    tcase_add_test(tc, test_append);
    tcase_add_test(tc, test_client_events);
    tcase_add_test(tc, test_dialect_names);
    tcase_add_test(tc, test_every_event_both_dialects);
    tcase_add_test(tc, test_other_events);
    tcase_add_test(tc, test_session_formats);
    tcase_add_test(tc, test_function_call_and_response);
    tcase_add_test(tc, test_errors_and_nulls);
    tcase_add_test(tc, test_audio_delta_checks);
    tcase_add_test(tc, test_refusals);
    suite_add_tcase(s, tc);
    return s;
}
