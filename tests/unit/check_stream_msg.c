/* Twilio Media Streams messages: Twilio's own examples parse, anything off is refused
 * with a static reason, the writers' exact output, and parse(write(x)) == x. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_stream_msg.h"
#include "vt_g711.h"

#define MZ "MZ18ad3ab5a668481ce02b83e7395059f0"
#define AC "AC25ea5a0bd2f9c5b2e5d3f4a1b2c3d4e5"
#define CA "CA5ed1f0b8b7ab4c9e1d2c3b4a59687766"

static vt_sm_parser_t *ps;

static void parser_setup(void)
{
    vt_test_pool_setup();
    ps = vt_sm_parser_create();
    ck_assert_ptr_nonnull(ps);
}

static void parser_teardown(void)
{
    vt_sm_parser_destroy(ps);
    ps = NULL;
    vt_test_pool_teardown();
}

static vt_stream_msg_t parse_len_ok(const char *text, size_t len)
{
    vt_stream_msg_t m;
    const char *err = NULL;

    ck_assert_msg(vt_sm_parse(ps, text, len, &m, &err) == 0, "%s: %s", text, err);
    return m;
}

static vt_stream_msg_t parse_ok(const char *text)
{
    return parse_len_ok(text, strlen(text));
}

static const char *parse_len_err(const char *text, size_t len)
{
    vt_stream_msg_t m;
    const char *err = NULL;

    ck_assert_msg(vt_sm_parse(ps, text, len, &m, &err) == -1, "accepted: %s", text);
    ck_assert_ptr_nonnull(err);
    /* The reason is a static text: never the input's bytes. */
    ck_assert_ptr_null(strstr(err, "ZZQ"));
    return err;
}

static const char *parse_err(const char *text)
{
    return parse_len_err(text, strlen(text));
}

/* 20 ms of a 1 kHz tone as Twilio would send it. */
static void tone_frame(uint8_t *ulaw, size_t n)
{
    static const int16_t q[8] = { 0, 2836, 4000, 2836, 0, -2836, -4000, -2836 };

    for (size_t i = 0; i < n; i++)
        ulaw[i] = vt_ulaw_from_pcm(q[i % 8]);
}

/* n copies of c, NUL-terminated, in the test pool. */
static const char *repeat(char c, size_t n)
{
    char *s = apr_palloc(vt_test_pool, n + 1);

    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* ---------------------------------------------------------------- Twilio's messages */

START_TEST(test_connected)
{
    vt_stream_msg_t m = parse_ok("{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}");

    ck_assert_int_eq(m.event, VT_SM_CONNECTED);
    ck_assert_str_eq(m.event_name, "connected");
    ck_assert_str_eq(m.protocol, "Call");
    ck_assert_str_eq(m.version, "1.0.0");
    ck_assert_int_eq(m.sequence, -1);
    ck_assert_ptr_null(m.stream_sid);
}
END_TEST

START_TEST(test_start)
{
    /* Twilio's documented example: member order as Twilio writes it, with spaces. */
    vt_stream_msg_t m = parse_ok(
        "{\n  \"event\": \"start\",\n  \"sequenceNumber\": \"1\",\n  \"start\": {\n"
        "    \"accountSid\": \"" AC "\",\n    \"streamSid\": \"" MZ "\",\n"
        "    \"callSid\": \"" CA "\",\n    \"tracks\": [ \"inbound\" ],\n"
        "    \"mediaFormat\": { \"encoding\": \"audio/x-mulaw\", \"sampleRate\": 8000, "
        "\"channels\": 1 },\n    \"customParameters\": {\n      \"FirstName\": \"Jane\",\n"
        "      \"LastName\": \"Doe\",\n      \"RemoteParty\": \"Bob\"\n    }\n  },\n"
        "  \"streamSid\": \"" MZ "\"\n}\n");

    ck_assert_int_eq(m.event, VT_SM_START);
    ck_assert_int_eq(m.sequence, 1);
    ck_assert_str_eq(m.stream_sid, MZ);
    ck_assert_str_eq(m.account_sid, AC);
    ck_assert_str_eq(m.call_sid, CA);
    ck_assert_int_eq(m.track_inbound, 1);
    ck_assert_int_eq(m.track_outbound, 0);
    ck_assert_int_eq(m.nparams, 3);
    ck_assert_str_eq(m.params[0].name, "FirstName");
    ck_assert_str_eq(m.params[0].value, "Jane");
    ck_assert_str_eq(m.params[1].name, "LastName");
    ck_assert_str_eq(m.params[1].value, "Doe");
    ck_assert_str_eq(m.params[2].name, "RemoteParty");
    ck_assert_str_eq(m.params[2].value, "Bob");
    /* Only the top-level streamSid, no mediaFormat, both tracks, no parameters. */
    m = parse_ok("{\"event\":\"start\",\"sequenceNumber\":1,\"streamSid\":\"" MZ "\","
                 "\"start\":{\"accountSid\":\"" AC "\",\"callSid\":\"" CA "\","
                 "\"tracks\":[\"inbound\",\"outbound\"]}}");
    ck_assert_str_eq(m.stream_sid, MZ);
    ck_assert_int_eq(m.sequence, 1);
    ck_assert_int_eq(m.track_inbound + m.track_outbound, 2);
    ck_assert_int_eq(m.nparams, 0);
}
END_TEST

START_TEST(test_media)
{
    uint8_t ulaw[160];
    char b64[217];
    const char *text;
    vt_stream_msg_t m;

    tone_frame(ulaw, sizeof ulaw);
    ck_assert_uint_eq(vt_sm_b64_encode(ulaw, sizeof ulaw, b64), 216);
    b64[216] = '\0';
    text = apr_psprintf(vt_test_pool, "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"media\":"
                        "{\"track\":\"inbound\",\"chunk\":\"1\",\"timestamp\":\"5\","
                        "\"payload\":\"%s\"},\"streamSid\":\"" MZ "\"}", b64);
    m = parse_ok(text);
    ck_assert_int_eq(m.event, VT_SM_MEDIA);
    ck_assert_int_eq(m.sequence, 3);
    ck_assert_str_eq(m.stream_sid, MZ);
    ck_assert_str_eq(m.track, "inbound");
    ck_assert_int_eq(m.chunk, 1);
    ck_assert_int_eq(m.timestamp, 5);
    ck_assert_uint_eq(m.payload_len, 160);
    ck_assert(memcmp(m.payload, ulaw, 160) == 0);
    ck_assert_uint_eq(m.payload_b64_len, 216);
    ck_assert(memcmp(m.payload_b64, b64, 216) == 0);
    /* Twilio's doc example payload (short) and the helper's own shape (no counters). */
    m = parse_ok("{\"event\":\"media\",\"streamSid\":\"" MZ "\",\"media\":{\"payload\":"
                 "\"no+JhoaJjpzSHxAKBgYJDhtEopGKh4aIjZm7JhQMCAYIDBUsr5iNiIaHio+q\"}}");
    ck_assert_uint_eq(m.payload_len, 45);
    ck_assert_int_eq(m.payload[0], 0x9E);
    ck_assert_ptr_null(m.track);
    ck_assert_int_eq(m.chunk, -1);
    ck_assert_int_eq(m.timestamp, -1);
    ck_assert_int_eq(m.sequence, -1);
    /* Large counters, JSON integers, an empty payload. */
    m = parse_ok("{\"event\":\"media\",\"sequenceNumber\":\"999999999999999999\",\"media\":"
                 "{\"track\":\"outbound\",\"chunk\":7,\"timestamp\":0,\"payload\":\"\"}}");
    ck_assert_int_eq(m.sequence, 999999999999999999L);
    ck_assert_int_eq(m.chunk, 7);
    ck_assert_int_eq(m.timestamp, 0);
    ck_assert_uint_eq(m.payload_len, 0);
}
END_TEST

START_TEST(test_mark_dtmf_stop)
{
    vt_stream_msg_t m;
    const char digits[] = "0123456789*#ABCD";

    m = parse_ok("{\"event\":\"mark\",\"sequenceNumber\":\"4\",\"streamSid\":\"" MZ "\","
                 "\"mark\":{\"name\":\"my label\"}}");
    ck_assert_int_eq(m.event, VT_SM_MARK);
    ck_assert_int_eq(m.sequence, 4);
    ck_assert_str_eq(m.mark_name, "my label");
    m = parse_ok("{\"event\":\"dtmf\",\"streamSid\":\"" MZ "\",\"sequenceNumber\":\"5\","
                 "\"dtmf\":{\"track\":\"inbound_track\",\"digit\":\"1\"}}");
    ck_assert_int_eq(m.event, VT_SM_DTMF);
    ck_assert_int_eq(m.digit, '1');
    for (size_t i = 0; i < sizeof digits - 1; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"%c\"}}",
                 digits[i]);
        ck_assert_int_eq(parse_ok(text).digit, digits[i]);
    }
    m = parse_ok("{\"event\":\"stop\",\"sequenceNumber\":\"5\",\"streamSid\":\"" MZ "\","
                 "\"stop\":{\"accountSid\":\"" AC "\",\"callSid\":\"" CA "\"}}");
    ck_assert_int_eq(m.event, VT_SM_STOP);
    ck_assert_str_eq(m.account_sid, AC);
    ck_assert_str_eq(m.call_sid, CA);
    m = parse_ok("{\"event\":\"stop\",\"streamSid\":\"" MZ "\"}");
    ck_assert_int_eq(m.event, VT_SM_STOP);
    ck_assert_ptr_null(m.call_sid);
    m = parse_ok("{\"event\":\"clear\",\"streamSid\":\"" MZ "\"}");
    ck_assert_int_eq(m.event, VT_SM_CLEAR);
    /* An unknown event with unknown fields: well formed, to be ignored. */
    m = parse_ok("{\"event\":\"transcription\",\"x\":{\"y\":[1,2,null]},\"streamSid\":\"" MZ "\"}");
    ck_assert_int_eq(m.event, VT_SM_UNKNOWN);
    ck_assert_str_eq(m.event_name, "transcription");
}
END_TEST

/* ---------------------------------------------------------------- refusals */

START_TEST(test_refuse_not_json)
{
    static const char with_nul[] = "{\"event\":\"stop\"}\0";

    ck_assert_str_eq(parse_err(""), "not a JSON object");
    ck_assert_str_eq(parse_err("ZZQ"), "not a JSON object");
    ck_assert_str_eq(parse_err("[1,2]"), "not a JSON object");
    ck_assert_str_eq(parse_err("\"media\""), "not a JSON object");
    ck_assert_str_eq(parse_err("42"), "not a JSON object");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\""), "not a JSON object");
    ck_assert_str_eq(parse_err("{'event':'stop'}"), "not a JSON object");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",}"), "not a JSON object");
    /* Trailing garbage, a second object, a NUL after the object. */
    ck_assert_str_eq(parse_err("{\"event\":\"stop\"}ZZQ"), "not a JSON object");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\"}{}"), "not a JSON object");
    ck_assert_str_eq(parse_len_err(with_nul, sizeof with_nul - 1), "not UTF-8 JSON text");
    parse_ok("{\"event\":\"stop\"}\r\n"); /* trailing whitespace is JSON */
    /* Not UTF-8, or control bytes JSON does not allow. */
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":{\"name\":\"\xff\"}}"),
                     "not UTF-8 JSON text");
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":{\"name\":\"\xc0\x80\"}}"),
                     "not UTF-8 JSON text");
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":{\"name\":\"\xed\xa0\x80\"}}"),
                     "not UTF-8 JSON text");
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":{\"name\":\"a\x01\"}}"),
                     "not UTF-8 JSON text");
}
END_TEST

START_TEST(test_refuse_oversize)
{
    char *big = apr_palloc(vt_test_pool, VT_SM_MESSAGE_MAX + 2);
    size_t head = strlen("{\"event\":\"stop\",\"x\":\"");

    memcpy(big, "{\"event\":\"stop\",\"x\":\"", head);
    memset(big + head, 'a', VT_SM_MESSAGE_MAX - head - 2);
    memcpy(big + VT_SM_MESSAGE_MAX - 2, "\"}", 2);
    big[VT_SM_MESSAGE_MAX] = '\0';
    ck_assert_int_eq(parse_len_ok(big, VT_SM_MESSAGE_MAX).event, VT_SM_STOP);
    big[VT_SM_MESSAGE_MAX - 2] = 'a';
    memcpy(big + VT_SM_MESSAGE_MAX - 1, "\"}", 2);
    ck_assert_str_eq(parse_len_err(big, VT_SM_MESSAGE_MAX + 1), "message too large");
}
END_TEST

START_TEST(test_refuse_event_and_counters)
{
    ck_assert_str_eq(parse_err("{\"streamSid\":\"" MZ "\"}"), "event: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":1}"), "event: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":null}"), "event: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":\"st\\u0000op\"}"), "event: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"sequenceNumber\":\"-1\"}"),
                     "sequenceNumber: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"sequenceNumber\":\"1a\"}"),
                     "sequenceNumber: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"sequenceNumber\":\"\"}"),
                     "sequenceNumber: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"sequenceNumber\":1.5}"),
                     "sequenceNumber: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"sequenceNumber\":-3}"),
                     "sequenceNumber: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"sequenceNumber\":\"1000000000000000000\"}"),
                     "sequenceNumber: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"media\",\"media\":{\"chunk\":\"x\",\"payload\":\"\"}}"),
                     "media.chunk: not a decimal count");
    ck_assert_str_eq(parse_err("{\"event\":\"media\",\"media\":{\"timestamp\":[],\"payload\":\"\"}}"),
                     "media.timestamp: not a decimal count");
}
END_TEST

START_TEST(test_refuse_sids)
{
#define START_WITH(acc, call, sid) \
    "{\"event\":\"start\",\"start\":{\"accountSid\":\"" acc "\",\"callSid\":\"" call \
    "\",\"streamSid\":\"" sid "\"}}"
    parse_ok(START_WITH(AC, CA, MZ));
    ck_assert_str_eq(parse_err("{\"event\":\"media\",\"streamSid\":\"MZ123\",\"media\":"
                               "{\"payload\":\"\"}}"), "streamSid: not a stream SID");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"streamSid\":\"" CA "\"}"),
                     "streamSid: not a stream SID");
    ck_assert_str_eq(parse_err(START_WITH(CA, CA, MZ)),
                     "start.accountSid: missing or not an account SID");
    ck_assert_str_eq(parse_err(START_WITH(AC, "CAzz", MZ)),
                     "start.callSid: missing or not a call SID");
    ck_assert_str_eq(parse_err(START_WITH(AC, CA, "MZ18ad3ab5a668481ce02b83e7395059fg")),
                     "start.streamSid: not a stream SID");
    ck_assert_str_eq(parse_err("{\"event\":\"start\",\"start\":{\"accountSid\":\"" AC "\","
                               "\"callSid\":\"" CA "\"}}"), "start.streamSid: missing");
    ck_assert_str_eq(parse_err("{\"event\":\"start\",\"streamSid\":"
                               "\"MZ00000000000000000000000000000000\",\"start\":"
                               "{\"accountSid\":\"" AC "\",\"callSid\":\"" CA "\","
                               "\"streamSid\":\"" MZ "\"}}"),
                     "start.streamSid: not the message's streamSid");
    ck_assert_str_eq(parse_err("{\"event\":\"start\",\"streamSid\":\"" MZ "\",\"start\":"
                               "{\"callSid\":\"" CA "\"}}"),
                     "start.accountSid: missing or not an account SID");
    ck_assert_str_eq(parse_err("{\"event\":\"start\",\"streamSid\":\"" MZ "\"}"),
                     "start: missing or not an object");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"stop\":{\"callSid\":\"" AC "\"}}"),
                     "stop.callSid: not a call SID");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"stop\":{\"accountSid\":1}}"),
                     "stop.accountSid: not an account SID");
    ck_assert_str_eq(parse_err("{\"event\":\"stop\",\"stop\":[]}"), "stop: not an object");
#undef START_WITH
}
END_TEST

START_TEST(test_refuse_start_fields)
{
#define START_EXTRA(extra) \
    "{\"event\":\"start\",\"streamSid\":\"" MZ "\",\"start\":{\"accountSid\":\"" AC \
    "\",\"callSid\":\"" CA "\"," extra "}}"
    static const char *const bad_formats[] = {
        START_EXTRA("\"mediaFormat\":{\"encoding\":\"audio/x-alaw\",\"sampleRate\":8000,\"channels\":1}"),
        START_EXTRA("\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":16000,\"channels\":1}"),
        START_EXTRA("\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":2}"),
        START_EXTRA("\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":\"8000\",\"channels\":1}"),
        START_EXTRA("\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000}"),
        START_EXTRA("\"mediaFormat\":\"audio/x-mulaw\""),
    };
    const char *many = "";

    for (size_t i = 0; i < sizeof bad_formats / sizeof bad_formats[0]; i++)
        ck_assert_str_eq(parse_err(bad_formats[i]),
                         "start.mediaFormat: not audio/x-mulaw, 8000 Hz, mono");
    ck_assert_str_eq(parse_err(START_EXTRA("\"tracks\":\"inbound\"")),
                     "start.tracks: not an array of strings");
    ck_assert_str_eq(parse_err(START_EXTRA("\"tracks\":[1]")),
                     "start.tracks: not an array of strings");
    ck_assert_str_eq(parse_err(START_EXTRA("\"customParameters\":[]")),
                     "start.customParameters: not an object of strings");
    ck_assert_str_eq(parse_err(START_EXTRA("\"customParameters\":{\"a\":1}")),
                     "start.customParameters: not an object of strings");
    ck_assert_str_eq(parse_err(START_EXTRA("\"customParameters\":{\"a\":\"\\u0000\"}")),
                     "start.customParameters: not an object of strings");
    for (int i = 0; i < VT_SM_PARAMS_MAX; i++)
        many = apr_psprintf(vt_test_pool, "%s%s\"p%d\":\"v\"", many, i ? "," : "", i);
    ck_assert_int_eq(parse_ok(apr_psprintf(vt_test_pool, START_EXTRA("\"customParameters\":{%s}"),
                                           many)).nparams, VT_SM_PARAMS_MAX);
    ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool,
                                            START_EXTRA("\"customParameters\":{%s,\"one\":\"more\"}"),
                                            many)),
                     "start.customParameters: too many");
    ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool,
                                            START_EXTRA("\"customParameters\":{\"k\":\"%s\"}"),
                                            repeat('k', 129))),
                     "start.customParameters: a name or value is too long");
    ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool,
                                            START_EXTRA("\"customParameters\":{\"%s\":\"v\"}"),
                                            repeat('k', 129))),
                     "start.customParameters: a name or value is too long");
    parse_ok(apr_psprintf(vt_test_pool, START_EXTRA("\"customParameters\":{\"%s\":\"%s\"}"),
                          repeat('k', 128),
                          repeat('k', 128)));
#undef START_EXTRA
}
END_TEST

START_TEST(test_refuse_payload)
{
#define MEDIA(payload) "{\"event\":\"media\",\"media\":{\"payload\":" payload "}}"
    static const char *const not_b64[] = {
        MEDIA("\"abc\""), MEDIA("\"YQ\""), MEDIA("\"ab=c\""), MEDIA("\"a===\""),
        MEDIA("\"====\""), MEDIA("\"YR==\""), MEDIA("\"YWI=YWI=\""), MEDIA("\"YWJ=\""),
        MEDIA("\"YW Jj\""), MEDIA("\"YWJj\\n\""), MEDIA("\"YWJj\\r\\nYWJj\""),
        MEDIA("\"YW-j\""), MEDIA("\"YW_j\""), MEDIA("\"\\u00c3\\u00a9AA\""),
    };
    uint8_t *audio = apr_pcalloc(vt_test_pool, VT_SM_PAYLOAD_MAX + 3);
    char *b64 = apr_palloc(vt_test_pool, 4 * (VT_SM_PAYLOAD_MAX + 3) / 3 + 8);
    size_t n;

    for (size_t i = 0; i < sizeof not_b64 / sizeof not_b64[0]; i++)
        ck_assert_msg(strcmp(parse_err(not_b64[i]), "media.payload: not base64") == 0, "%s",
                      not_b64[i]);
    ck_assert_uint_eq(parse_ok(MEDIA("\"YWJj\"")).payload_len, 3);
    ck_assert_uint_eq(parse_ok(MEDIA("\"YWI=\"")).payload_len, 2);
    ck_assert_uint_eq(parse_ok(MEDIA("\"YQ==\"")).payload_len, 1);
    ck_assert_str_eq(parse_err(MEDIA("1")), "media.payload: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":\"media\",\"media\":{}}"),
                     "media.payload: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":\"media\"}"), "media: missing or not an object");
    ck_assert_str_eq(parse_err("{\"event\":\"media\",\"media\":{\"track\":\"both\",\"payload\":\"\"}}"),
                     "media.track: not inbound or outbound");
    /* Exactly the limit, then one byte over (and the longest text of that size). */
    n = vt_sm_b64_encode(audio, VT_SM_PAYLOAD_MAX, b64);
    b64[n] = '\0';
    ck_assert_uint_eq(parse_ok(apr_psprintf(vt_test_pool, MEDIA("\"%s\""), b64)).payload_len,
                      VT_SM_PAYLOAD_MAX);
    for (int extra = 1; extra <= 3; extra++) {
        n = vt_sm_b64_encode(audio, VT_SM_PAYLOAD_MAX + (size_t)extra, b64);
        b64[n] = '\0';
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, MEDIA("\"%s\""), b64)),
                         "media.payload: too large");
    }
#undef MEDIA
}
END_TEST

START_TEST(test_refuse_mark_dtmf)
{
    static const char *const bad_digits[] = { "\"E\"", "\"12\"", "\"\"", "1", "\"a\"", "\" \"",
                                              "null" };
    char name[VT_SM_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof bad_digits / sizeof bad_digits[0]; i++)
        ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"event\":\"dtmf\",\"dtmf\":"
                                                "{\"digit\":%s}}", bad_digits[i])),
                         "dtmf.digit: not one of 0-9 * # A-D");
    ck_assert_str_eq(parse_err("{\"event\":\"dtmf\"}"), "dtmf: missing or not an object");
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":\"x\"}"),
                     "mark: missing or not an object");
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":{}}"),
                     "mark.name: missing or not a string");
    ck_assert_str_eq(parse_err("{\"event\":\"mark\",\"mark\":{\"name\":\"a\\u0000b\"}}"),
                     "mark.name: missing or not a string");
    memset(name, 'n', sizeof name);
    name[VT_SM_NAME_MAX] = '\0';
    ck_assert_uint_eq(strlen(parse_ok(apr_psprintf(vt_test_pool, "{\"event\":\"mark\",\"mark\":"
                                                   "{\"name\":\"%s\"}}", name)).mark_name),
                      VT_SM_NAME_MAX);
    name[VT_SM_NAME_MAX] = 'n';
    name[VT_SM_NAME_MAX + 1] = '\0';
    ck_assert_str_eq(parse_err(apr_psprintf(vt_test_pool, "{\"event\":\"mark\",\"mark\":"
                                            "{\"name\":\"%s\"}}", name)),
                     "mark.name: too long");
    ck_assert_str_eq(parse_err("{\"event\":\"connected\",\"protocol\":1}"),
                     "protocol: not a string");
}
END_TEST

/* ---------------------------------------------------------------- writers */

START_TEST(test_writers_exact)
{
    static const uint8_t audio[] = { 0xFF, 0x7F, 0x00, 0x10 };
    static const vt_sm_param_t params[] = { { "tenant", "acme" }, { "q\"", "a\\b" } };
    char out[1024];

    ck_assert_uint_eq(vt_sm_media_json(out, sizeof out, MZ, audio, 3), strlen(out));
    ck_assert_str_eq(out, "{\"event\":\"media\",\"streamSid\":\"" MZ "\",\"media\":"
                          "{\"payload\":\"/38A\"}}");
    vt_sm_media_json(out, sizeof out, MZ, audio, 4);
    ck_assert_str_eq(out, "{\"event\":\"media\",\"streamSid\":\"" MZ "\",\"media\":"
                          "{\"payload\":\"/38AEA==\"}}");
    vt_sm_mark_json(out, sizeof out, MZ, "utt-17");
    ck_assert_str_eq(out, "{\"event\":\"mark\",\"streamSid\":\"" MZ "\",\"mark\":"
                          "{\"name\":\"utt-17\"}}");
    vt_sm_clear_json(out, sizeof out, MZ);
    ck_assert_str_eq(out, "{\"event\":\"clear\",\"streamSid\":\"" MZ "\"}");
    vt_sm_connected_json(out, sizeof out);
    ck_assert_str_eq(out, "{\"event\":\"connected\",\"protocol\":\"Call\",\"version\":\"1.0.0\"}");
    vt_sm_start_json(out, sizeof out, 1, MZ, AC, CA, params, 2);
    ck_assert_str_eq(out, "{\"event\":\"start\",\"sequenceNumber\":\"1\",\"streamSid\":\"" MZ
                          "\",\"start\":{\"accountSid\":\"" AC "\",\"streamSid\":\"" MZ
                          "\",\"callSid\":\"" CA "\",\"tracks\":[\"inbound\"],"
                          "\"customParameters\":{\"tenant\":\"acme\",\"q\\\"\":\"a\\\\b\"},"
                          "\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,"
                          "\"channels\":1}}}");
    vt_sm_inbound_media_json(out, sizeof out, 3, MZ, 2, 40, audio, 1);
    ck_assert_str_eq(out, "{\"event\":\"media\",\"sequenceNumber\":\"3\",\"streamSid\":\"" MZ
                          "\",\"media\":{\"track\":\"inbound\",\"chunk\":\"2\","
                          "\"timestamp\":\"40\",\"payload\":\"/w==\"}}");
    vt_sm_mark_echo_json(out, sizeof out, 12, MZ, "g1-3");
    ck_assert_str_eq(out, "{\"event\":\"mark\",\"sequenceNumber\":\"12\",\"streamSid\":\"" MZ
                          "\",\"mark\":{\"name\":\"g1-3\"}}");
    vt_sm_dtmf_json(out, sizeof out, 5, MZ, '#');
    ck_assert_str_eq(out, "{\"event\":\"dtmf\",\"sequenceNumber\":\"5\",\"streamSid\":\"" MZ
                          "\",\"dtmf\":{\"track\":\"inbound_track\",\"digit\":\"#\"}}");
    ck_assert_uint_eq(vt_sm_dtmf_json(out, sizeof out, 5, MZ, 'E'), 0);
    ck_assert_uint_eq(vt_sm_dtmf_json(out, sizeof out, 5, MZ, '\0'), 0);
    ck_assert_str_eq(out, "");
    vt_sm_stop_json(out, sizeof out, 99, MZ, AC, CA);
    ck_assert_str_eq(out, "{\"event\":\"stop\",\"sequenceNumber\":\"99\",\"streamSid\":\"" MZ
                          "\",\"stop\":{\"accountSid\":\"" AC "\",\"callSid\":\"" CA "\"}}");
}
END_TEST

START_TEST(test_writers_escaping)
{
    char out[512];

    vt_sm_mark_json(out, sizeof out, MZ, "a\"b\\c/\n\r\t\b\f\x01\x1f\x7f \xc3\xa9\xe2\x82\xac");
    ck_assert_str_eq(out, "{\"event\":\"mark\",\"streamSid\":\"" MZ "\",\"mark\":{\"name\":"
                          "\"a\\\"b\\\\c/\\n\\r\\t\\b\\f\\u0001\\u001f\x7f \xc3\xa9\xe2\x82\xac\"}}");
    /* Invalid UTF-8 (a lone continuation, a cut sequence, an overlong form) -> U+FFFD. */
    vt_sm_mark_json(out, sizeof out, MZ, "x\x80y\xe2\x82");
    ck_assert_str_eq(out, "{\"event\":\"mark\",\"streamSid\":\"" MZ "\",\"mark\":{\"name\":"
                          "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\"}}");
    vt_sm_mark_json(out, sizeof out, MZ, "\xc0\xaf");
    ck_assert_ptr_nonnull(strstr(out, "\"\xef\xbf\xbd\xef\xbf\xbd\""));
    /* NULL strings are empty ones. */
    vt_sm_clear_json(out, sizeof out, NULL);
    ck_assert_str_eq(out, "{\"event\":\"clear\",\"streamSid\":\"\"}");
    ck_assert_uint_eq(vt_sm_json_string(NULL, 0, "a\"b"), 6);
    ck_assert_uint_eq(vt_sm_json_string(out, 5, "a\"b"), 6); /* too small: nothing written */
    ck_assert_uint_eq(vt_sm_json_string(out, 6, "a\"b"), 6);
    ck_assert(memcmp(out, "\"a\\\"b\"", 6) == 0);
}
END_TEST

/* Every capacity short of length + 1 gives 0, an empty string, and no byte past cap. */
static void check_fit(size_t (*write)(char *, size_t))
{
    char out[600];
    size_t len = write(out, sizeof out), cap;

    ck_assert_uint_gt(len, 0);
    for (cap = 0; cap <= len; cap++) {
        memset(out, '#', sizeof out);
        ck_assert_uint_eq(write(out, cap), 0);
        if (cap > 0)
            ck_assert_int_eq(out[0], '\0');
        for (size_t i = cap; i < sizeof out; i++)
            ck_assert_int_eq(out[i], '#');
    }
    memset(out, '#', sizeof out);
    ck_assert_uint_eq(write(out, len + 1), len);
    ck_assert_int_eq(out[len], '\0');
    ck_assert_int_eq(out[len + 1], '#');
}

static const uint8_t fit_audio[160] = { 1, 2, 3 };
static size_t w_media(char *o, size_t c) { return vt_sm_media_json(o, c, MZ, fit_audio, 160); }
static size_t w_media0(char *o, size_t c) { return vt_sm_media_json(o, c, MZ, fit_audio, 0); }
static size_t w_mark(char *o, size_t c) { return vt_sm_mark_json(o, c, MZ, "n\"1"); }
static size_t w_clear(char *o, size_t c) { return vt_sm_clear_json(o, c, MZ); }
static size_t w_connected(char *o, size_t c) { return vt_sm_connected_json(o, c); }
static size_t w_start(char *o, size_t c)
{
    static const vt_sm_param_t p[] = { { "a", "b" } };
    return vt_sm_start_json(o, c, 1, MZ, AC, CA, p, 1);
}
static size_t w_inbound(char *o, size_t c)
{
    return vt_sm_inbound_media_json(o, c, 1, MZ, 1, 0, fit_audio, 5);
}
static size_t w_echo(char *o, size_t c) { return vt_sm_mark_echo_json(o, c, 7, MZ, "e"); }
static size_t w_dtmf(char *o, size_t c) { return vt_sm_dtmf_json(o, c, 7, MZ, '*'); }
static size_t w_stop(char *o, size_t c) { return vt_sm_stop_json(o, c, 8, MZ, AC, CA); }

START_TEST(test_writers_fit)
{
    size_t (*const writers[])(char *, size_t) = { w_media, w_media0, w_mark, w_clear,
                                                   w_connected, w_start, w_inbound, w_echo,
                                                   w_dtmf, w_stop };
    static const size_t sizes[] = { 0, 1, 2, 3, 4, 159, 160, 161, 800, VT_SM_PAYLOAD_MAX };
    uint8_t *audio = apr_pcalloc(vt_test_pool, VT_SM_PAYLOAD_MAX);
    char *out = apr_palloc(vt_test_pool, VT_SM_MEDIA_JSON_MAX(VT_SM_PAYLOAD_MAX));
    /* The longest stream SID the escaping can make of 34 characters. */
    const char *sid = "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01"
                      "\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01";

    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
        check_fit(writers[i]);
    /* VT_SM_MEDIA_JSON_MAX is room enough with a real SID, and with an odd one. */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ck_assert_uint_gt(vt_sm_media_json(out, VT_SM_MEDIA_JSON_MAX(sizes[i]), MZ, audio,
                                           sizes[i]), 0);
        ck_assert_uint_gt(vt_sm_media_json(out, VT_SM_MEDIA_JSON_MAX(sizes[i]), "MZx", audio,
                                           sizes[i]), 0);
    }
    ck_assert_uint_eq(vt_sm_media_json(out, VT_SM_MEDIA_JSON_MAX(160), sid, audio, 160), 0);
}
END_TEST

/* ---------------------------------------------------------------- round trips */

START_TEST(test_round_trips)
{
    static const vt_sm_param_t params[] = { { "tenant", "acme" }, { "caller", "+14155550100" },
                                            { "quote\"d", "line\nbreak \xc3\xa9" },
                                            { "", "" } };
    const char digits[] = "0123456789*#ABCD";
    uint8_t audio[VT_SM_PAYLOAD_MAX];
    char *out = apr_palloc(vt_test_pool, VT_SM_MEDIA_JSON_MAX(VT_SM_PAYLOAD_MAX) + 200);
    size_t cap = VT_SM_MEDIA_JSON_MAX(VT_SM_PAYLOAD_MAX) + 200, n, sizes[] = { 0, 1, 2, 160,
                                                                           VT_SM_PAYLOAD_MAX };
    vt_stream_msg_t m;

    for (size_t i = 0; i < sizeof audio; i++)
        audio[i] = (uint8_t)(i * 7919 >> 3);
    m = parse_len_ok(out, vt_sm_connected_json(out, cap));
    ck_assert_int_eq(m.event, VT_SM_CONNECTED);
    ck_assert_str_eq(m.protocol, "Call");

    m = parse_len_ok(out, vt_sm_start_json(out, cap, 1, MZ, AC, CA, params, 4));
    ck_assert_int_eq(m.event, VT_SM_START);
    ck_assert_int_eq(m.sequence, 1);
    ck_assert_str_eq(m.stream_sid, MZ);
    ck_assert_str_eq(m.account_sid, AC);
    ck_assert_str_eq(m.call_sid, CA);
    ck_assert_int_eq(m.track_inbound, 1);
    ck_assert_int_eq(m.nparams, 4);
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(m.params[i].name, params[i].name);
        ck_assert_str_eq(m.params[i].value, params[i].value);
    }
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        m = parse_len_ok(out, vt_sm_inbound_media_json(out, cap, 3 + (long)k, MZ, 2, 20 * (long)k,
                                                       audio, sizes[k]));
        ck_assert_int_eq(m.event, VT_SM_MEDIA);
        ck_assert_int_eq(m.sequence, 3 + (long)k);
        ck_assert_int_eq(m.chunk, 2);
        ck_assert_int_eq(m.timestamp, 20 * (long)k);
        ck_assert_str_eq(m.track, "inbound");
        ck_assert_uint_eq(m.payload_len, sizes[k]);
        ck_assert(memcmp(m.payload, audio, sizes[k]) == 0);
        /* The helper's own message carries the same payload, text and bytes. */
        n = vt_sm_media_json(out, cap, MZ, m.payload, m.payload_len);
        m = parse_len_ok(out, n);
        ck_assert_uint_eq(m.payload_len, sizes[k]);
        ck_assert(memcmp(m.payload, audio, sizes[k]) == 0);
        ck_assert_int_eq(m.sequence, -1);
        ck_assert_ptr_null(m.track);
    }
    m = parse_len_ok(out, vt_sm_inbound_media_json(out, cap, -1, MZ, -1, -1, audio, 1));
    ck_assert_int_eq(m.sequence + m.chunk + m.timestamp, -3);
    m = parse_len_ok(out, vt_sm_mark_echo_json(out, cap, 4, MZ, "gen2/\"utt\" 3 \xe2\x82\xac"));
    ck_assert_int_eq(m.event, VT_SM_MARK);
    ck_assert_str_eq(m.mark_name, "gen2/\"utt\" 3 \xe2\x82\xac");
    m = parse_len_ok(out, vt_sm_mark_json(out, cap, MZ, "x"));
    ck_assert_str_eq(m.mark_name, "x");
    ck_assert_int_eq(m.sequence, -1);
    for (size_t i = 0; i < sizeof digits - 1; i++) {
        m = parse_len_ok(out, vt_sm_dtmf_json(out, cap, 5, MZ, digits[i]));
        ck_assert_int_eq(m.event, VT_SM_DTMF);
        ck_assert_int_eq(m.digit, digits[i]);
    }
    m = parse_len_ok(out, vt_sm_stop_json(out, cap, 9, MZ, AC, CA));
    ck_assert_int_eq(m.event, VT_SM_STOP);
    ck_assert_int_eq(m.sequence, 9);
    ck_assert_str_eq(m.call_sid, CA);
    m = parse_len_ok(out, vt_sm_clear_json(out, cap, MZ));
    ck_assert_int_eq(m.event, VT_SM_CLEAR);
    ck_assert_str_eq(m.stream_sid, MZ);
}
END_TEST

/* ---------------------------------------------------------------- base64, text check */

START_TEST(test_base64)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t in[64], back[64];
    char text[100];
    size_t n, got;

    /* RFC 4648 §10 vectors. */
    static const char *const rfc[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
                                          { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
                                          { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++) {
        n = vt_sm_b64_encode((const uint8_t *)rfc[i][0], strlen(rfc[i][0]), text);
        ck_assert_uint_eq(n, strlen(rfc[i][1]));
        ck_assert(memcmp(text, rfc[i][1], n) == 0);
        ck_assert_int_eq(vt_sm_b64_decode(rfc[i][1], n, back, sizeof back, &got), 0);
        ck_assert_uint_eq(got, strlen(rfc[i][0]));
        ck_assert(memcmp(back, rfc[i][0], got) == 0);
    }
    /* Every alphabet character decodes to its index. */
    for (int i = 0; i < 64; i++) {
        char quad[4] = { alphabet[i], 'A', 'A', 'A' };
        ck_assert_int_eq(vt_sm_b64_decode(quad, 4, back, 3, &got), 0);
        ck_assert_int_eq(back[0] >> 2, i);
    }
    /* Any bytes, any length: decode(encode(x)) == x. */
    for (size_t len = 0; len <= sizeof in; len++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)(len * 31 + i * 97);
        n = vt_sm_b64_encode(in, len, text);
        ck_assert_uint_eq(n, 4 * ((len + 2) / 3));
        ck_assert_int_eq(vt_sm_b64_decode(text, n, back, len, &got), 0);
        ck_assert_uint_eq(got, len);
        ck_assert(memcmp(back, in, len) == 0);
        if (len > 0)
            ck_assert_int_eq(vt_sm_b64_decode(text, n, back, len - 1, &got), -2);
    }
    ck_assert_int_eq(vt_sm_b64_decode("Zm9=", 4, back, 3, &got), -1); /* pad bits set */
    ck_assert_int_eq(vt_sm_b64_decode("Zm8", 3, back, 3, &got), -1);
}
END_TEST

START_TEST(test_text_valid)
{
    static const char ok[] = "{\"a\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}\r\n\t";

    ck_assert(vt_sm_json_text_valid(ok, sizeof ok - 1));
    ck_assert(vt_sm_json_text_valid("", 0));
    ck_assert(!vt_sm_json_text_valid("\0", 1));
    ck_assert(!vt_sm_json_text_valid("\x1b", 1));
    ck_assert(!vt_sm_json_text_valid("\xc3", 1));
    ck_assert(!vt_sm_json_text_valid("\xc0\x80", 2));
    ck_assert(!vt_sm_json_text_valid("\xed\xa0\x80", 3));
    ck_assert(!vt_sm_json_text_valid("\xf4\x90\x80\x80", 4));
    ck_assert(!vt_sm_json_text_valid("\xff", 1));
}
END_TEST

START_TEST(test_parser_reuse)
{
    /* One parser, many messages, errors in between: each result stands on its own. */
    for (int i = 0; i < 1000; i++) {
        char text[200];
        snprintf(text, sizeof text, "{\"event\":\"mark\",\"sequenceNumber\":\"%d\","
                 "\"mark\":{\"name\":\"m%d\"}}", i, i);
        vt_stream_msg_t m = parse_ok(text);
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        ck_assert_int_eq(m.sequence, i);
        ck_assert_str_eq(m.mark_name, name);
        if (i % 10 == 0)
            parse_err("{\"event\":");
    }
}
END_TEST

Suite *vt_suite_stream_msg(void)
{
    Suite *s = suite_create("stream_msg");
    TCase *tc = tcase_create("stream_msg");

    tcase_add_checked_fixture(tc, parser_setup, parser_teardown);
    tcase_add_test(tc, test_connected);
    tcase_add_test(tc, test_start);
    tcase_add_test(tc, test_media);
    tcase_add_test(tc, test_mark_dtmf_stop);
    tcase_add_test(tc, test_refuse_not_json);
    tcase_add_test(tc, test_refuse_oversize);
    tcase_add_test(tc, test_refuse_event_and_counters);
    tcase_add_test(tc, test_refuse_sids);
    tcase_add_test(tc, test_refuse_start_fields);
    tcase_add_test(tc, test_refuse_payload);
    tcase_add_test(tc, test_refuse_mark_dtmf);
    tcase_add_test(tc, test_writers_exact);
    tcase_add_test(tc, test_writers_escaping);
    tcase_add_test(tc, test_writers_fit);
    tcase_add_test(tc, test_round_trips);
    tcase_add_test(tc, test_base64);
    tcase_add_test(tc, test_text_valid);
    tcase_add_test(tc, test_parser_reuse);
    suite_add_tcase(s, tc);
    return s;
}
