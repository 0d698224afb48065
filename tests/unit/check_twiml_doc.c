/* TwiML reader: Twilio's acceptance rules (error codes), the verb tree, URL resolution. */
#include <string.h>
#include <apr_strings.h>
#include "vt_suites.h"
#include "vt_twiml.h"
#include "vt_twiml_doc.h"
#include "vt_voice.h"

#define XMLDECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

static vt_twiml_doc_rc parse_ct(const char *ct, const char *body, apr_array_header_t **verbs,
                                const char **err)
{
    return vt_twiml_doc_parse(vt_test_pool, VT_TWIML_VOICE, ct, 0, body, strlen(body), verbs,
                              err);
}

static vt_twiml_doc_rc parse(const char *body, apr_array_header_t **verbs, const char **err)
{
    return parse_ct("text/xml", body, verbs, err);
}

static const vt_twiml_verb_t *verb(const apr_array_header_t *verbs, int i)
{
    return APR_ARRAY_IDX(verbs, i, vt_twiml_verb_t *);
}

/* Parses a document that must fail with rc; returns the message. */
static const char *expect_fail(const char *body, vt_twiml_doc_rc rc)
{
    apr_array_header_t *verbs = (apr_array_header_t *)1;
    const char *err = NULL;

    ck_assert_int_eq(parse(body, &verbs, &err), rc);
    ck_assert_ptr_null(verbs);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, apr_psprintf(vt_test_pool, "Twilio error %d", (int)rc)));
    return err;
}

START_TEST(test_gateway_greeting)
{
    vt_voice_opts_t o = { "Polly.Joanna", "en-US" };
    apr_size_t len;
    const char *doc = vt_voice_gather(vt_test_pool, "Hello & welcome", &o, "speech?t=1", &len);
    apr_array_header_t *verbs;
    const char *err;
    const vt_twiml_verb_t *g, *say;

    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_VOICE, "text/xml", 0, doc, len,
                                        &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(verbs->nelts, 1);
    g = verb(verbs, 0);
    ck_assert_str_eq(g->name, "Gather");
    ck_assert_str_eq(vt_twiml_verb_attr(g, "action"), "speech?t=1");
    ck_assert_str_eq(vt_twiml_verb_attr(g, "input"), "speech");
    ck_assert_str_eq(vt_twiml_verb_attr(g, "actionOnEmptyResult"), "true");
    ck_assert_ptr_null(vt_twiml_verb_attr(g, "nope"));
    say = vt_twiml_verb_child(g, "Say");
    ck_assert_ptr_nonnull(say);
    ck_assert_str_eq(say->text, "Hello & welcome");
    ck_assert_str_eq(vt_twiml_verb_attr(say, "voice"), "Polly.Joanna");
    ck_assert_ptr_null(vt_twiml_verb_child(g, "Play"));
}
END_TEST

START_TEST(test_attrs_in_document_order_and_text_trimmed)
{
    apr_array_header_t *verbs;
    const char *err;
    const vt_twiml_verb_t *v;

    ck_assert_int_eq(parse(XMLDECL "<Response>\n  <Say a=\"1\" b=\"2\" c='3'>\n  Hi there \n"
                                   "</Say>\n  <Hangup/>\n</Response>\n",
                           &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_int_eq(verbs->nelts, 2);
    v = verb(verbs, 0);
    ck_assert_int_eq(v->attrs->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(v->attrs, 0, vt_twiml_attr_t).name, "a");
    ck_assert_str_eq(APR_ARRAY_IDX(v->attrs, 2, vt_twiml_attr_t).value, "3");
    ck_assert_str_eq(v->text, "Hi there");
    ck_assert_str_eq(verb(verbs, 1)->name, "Hangup");
    ck_assert_str_eq(verb(verbs, 1)->text, "");
    ck_assert_int_eq(verb(verbs, 1)->children->nelts, 0);
}
END_TEST

START_TEST(test_empty_response)
{
    apr_array_header_t *verbs;
    const char *err;

    ck_assert_int_eq(parse("<Response/>", &verbs, &err), VT_TWIML_DOC_OK);
    ck_assert_int_eq(verbs->nelts, 0);
}
END_TEST

START_TEST(test_say_with_ssml)
{
    apr_array_header_t *verbs;
    const char *err;
    const vt_twiml_verb_t *say;

    ck_assert_int_eq(parse("<Response><Say>Hi <break time=\"1s\"/><prosody rate=\"slow\">"
                           "there <emphasis>you</emphasis></prosody>!</Say></Response>",
                           &verbs, &err),
                     VT_TWIML_DOC_OK);
    say = verb(verbs, 0);
    ck_assert_str_eq(say->text, "Hi there you!");
    ck_assert_int_eq(say->children->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(say->children, 1, vt_twiml_verb_t *)->name, "prosody");
}
END_TEST

START_TEST(test_dial_with_nouns)
{
    apr_array_header_t *verbs;
    const char *err;
    const vt_twiml_verb_t *d;

    ck_assert_int_eq(parse("<Response><Dial callerId=\"+15005550006\" action=\"escalate\" "
                           "timeout=\"20\"><Number> +14155550100 </Number>"
                           "<Client><Identity>alice</Identity><Parameter name=\"a\" "
                           "value=\"b\"/></Client><Sip>sip:a@b</Sip><Conference>c</Conference>"
                           "<Queue>q</Queue></Dial></Response>",
                           &verbs, &err),
                     VT_TWIML_DOC_OK);
    d = verb(verbs, 0);
    ck_assert_int_eq(d->children->nelts, 5);
    ck_assert_str_eq(vt_twiml_verb_child(d, "Number")->text, "+14155550100");
    ck_assert_str_eq(vt_twiml_verb_attr(d, "callerId"), "+15005550006");
    ck_assert_str_eq(d->text, "");
}
END_TEST

START_TEST(test_dial_number_shortcut)
{
    apr_array_header_t *verbs;
    const char *err;

    ck_assert_int_eq(parse("<Response><Dial>+14155550100</Dial></Response>", &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_str_eq(verb(verbs, 0)->text, "+14155550100");
    expect_fail("<Response><Dial>415-555-0100</Dial></Response>", VT_TWIML_DOC_ENUMBER);
}
END_TEST

START_TEST(test_bad_numbers)
{
    const char *err = expect_fail("<Response><Dial><Number>14155550100</Number></Dial>"
                                  "</Response>",
                                  VT_TWIML_DOC_ENUMBER);

    ck_assert_ptr_nonnull(strstr(err, "'14155550100'"));
    expect_fail("<Response><Dial><Number></Number></Dial></Response>", VT_TWIML_DOC_ENUMBER);
    expect_fail("<Response><Dial><Number>+1415555010012345</Number></Dial></Response>",
                VT_TWIML_DOC_ENUMBER);
    expect_fail("<Response><Dial><Number>+0123</Number></Dial></Response>",
                VT_TWIML_DOC_ENUMBER);
}
END_TEST

START_TEST(test_every_voice_verb)
{
    apr_array_header_t *verbs;
    const char *err;

    ck_assert_int_eq(
        parse("<Response><Say>a</Say><Play>http://x/a.mp3</Play><Pause length=\"2\"/>"
              "<Gather><Say>b</Say><Play>u</Play><Pause/></Gather><Redirect>next</Redirect>"
              "<Record/><Enqueue>q<Task>{}</Task></Enqueue>"
              "<Connect><Stream url=\"wss://h/s\"><Parameter name=\"n\" value=\"v\"/></Stream>"
              "</Connect><Start><Stream url=\"wss://h/s\"/><Recording/></Start>"
              "<Stop><Stream name=\"s\"/></Stop><Leave/><Refer><Sip>sip:a@b</Sip></Refer>"
              "<Sms>hi</Sms><Reject reason=\"busy\"/><Hangup/></Response>",
              &verbs, &err),
        VT_TWIML_DOC_OK);
    ck_assert_int_eq(verbs->nelts, 15);
    ck_assert_str_eq(verb(verbs, 6)->name, "Enqueue");
    ck_assert_str_eq(verb(verbs, 6)->text, "q");
}
END_TEST

START_TEST(test_gateway_stream_answer)
{
    vt_voice_param_t params[] = { { "From", "+14155550100" }, { "To", "+15005550006" } };
    apr_size_t len;
    const char *doc = vt_voice_stream(vt_test_pool, "wss://gw.example:8443/voice/stream/acme/CA1",
                                      params, 2, "stream-end", "recording", &len);
    apr_array_header_t *verbs;
    const char *err;
    const vt_twiml_verb_t *start, *connect, *stream, *p0;

    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_VOICE, "text/xml", 0, doc, len,
                                        &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_int_eq(verbs->nelts, 2);
    start = verb(verbs, 0);
    ck_assert_str_eq(start->name, "Start");
    ck_assert_str_eq(vt_twiml_verb_attr(vt_twiml_verb_child(start, "Recording"),
                                        "recordingStatusCallback"),
                     "recording");
    ck_assert_str_eq(vt_twiml_verb_attr(vt_twiml_verb_child(start, "Recording"), "channels"),
                     "dual");
    connect = verb(verbs, 1);
    ck_assert_str_eq(connect->name, "Connect");
    ck_assert_str_eq(vt_twiml_verb_attr(connect, "action"), "stream-end");
    ck_assert_str_eq(vt_twiml_verb_attr(connect, "method"), "POST");
    stream = vt_twiml_verb_child(connect, "Stream");
    ck_assert_ptr_nonnull(stream);
    ck_assert_str_eq(vt_twiml_verb_attr(stream, "url"),
                     "wss://gw.example:8443/voice/stream/acme/CA1");
    ck_assert_int_eq(stream->children->nelts, 2);
    p0 = APR_ARRAY_IDX(stream->children, 0, vt_twiml_verb_t *);
    ck_assert_str_eq(p0->name, "Parameter");
    ck_assert_str_eq(vt_twiml_verb_attr(p0, "name"), "From");
    ck_assert_str_eq(vt_twiml_verb_attr(p0, "value"), "+14155550100");
}
END_TEST

/* <Connect><Stream url="URL"/></Connect> must fail with rc; returns the message. */
static const char *stream_url_fails(const char *url, vt_twiml_doc_rc rc)
{
    return expect_fail(apr_psprintf(vt_test_pool, "<Response><Connect><Stream url=\"%s\"/>"
                                                  "</Connect></Response>", url),
                       rc);
}

START_TEST(test_stream_url_rules)
{
    apr_array_header_t *verbs;
    const char *err;

    ck_assert_ptr_nonnull(strstr(stream_url_fails("ws://h/s", VT_TWIML_DOC_ESTREAM_SCHEME),
                                 "'ws://h/s' is not wss://"));
    stream_url_fails("https://h/s", VT_TWIML_DOC_ESTREAM_SCHEME);
    ck_assert_ptr_nonnull(strstr(stream_url_fails("wss://h/s?t=1",
                                                  VT_TWIML_DOC_ESTREAM_HANDSHAKE),
                                 "query string"));
    stream_url_fails("wss://h/s?", VT_TWIML_DOC_ESTREAM_HANDSHAKE);
    stream_url_fails("stream/acme", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("/voice/stream", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss:///s", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss://h:0/s", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss://h:65536/s", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss://h:44x/s", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss://h/s#f", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss://h/a b", VT_TWIML_DOC_ESTREAM_URL);
    stream_url_fails("wss://h/a&#9;b", VT_TWIML_DOC_ESTREAM_URL);
    /* the same rules in <Start>; <Stop> names a stream without a url */
    expect_fail("<Response><Start><Stream url=\"ws://h/s\"/></Start></Response>",
                VT_TWIML_DOC_ESTREAM_SCHEME);
    expect_fail("<Response><Start><Stream name=\"a\"/></Start></Response>",
                VT_TWIML_DOC_ESCHEMA);
    ck_assert_int_eq(parse("<Response><Connect><Stream url=\"WSS://H:8443/a/b\"/></Connect>"
                           "<Connect><Stream url=\"wss://[::1]:8443/s\"/></Connect>"
                           "<Start><Stream url=\"wss://h\" track=\"both_tracks\"/></Start>"
                           "<Stop><Stream name=\"a\"/></Stop></Response>",
                           &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_int_eq(verbs->nelts, 4);
}
END_TEST

START_TEST(test_connect_and_stream_schema)
{
    const char *err;

    err = expect_fail("<Response><Connect/></Response>", VT_TWIML_DOC_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(err, "<Connect> holds 0 nouns"));
    expect_fail("<Response><Connect><Stream url=\"wss://h/a\"/><Stream url=\"wss://h/b\"/>"
                "</Connect></Response>",
                VT_TWIML_DOC_ESCHEMA);
    err = expect_fail("<Response><Connect><Stream/></Connect></Response>", VT_TWIML_DOC_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(err, "<Stream> in <Connect> has no url"));
    err = expect_fail("<Response><Connect><Stream url=\"wss://h/s\"><Parameter value=\"v\"/>"
                      "</Stream></Connect></Response>",
                      VT_TWIML_DOC_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(err, "<Parameter> of <Stream> has no name"));
    expect_fail("<Response><Connect><Stream url=\"wss://h/s\"><Say>x</Say></Stream></Connect>"
                "</Response>",
                VT_TWIML_DOC_ESCHEMA);
    /* a bidirectional stream carries the caller only */
    err = expect_fail("<Response><Connect><Stream url=\"wss://h/s\" track=\"both_tracks\"/>"
                      "</Connect></Response>",
                      VT_TWIML_DOC_ESTREAM_TRACK);
    ck_assert_ptr_nonnull(strstr(err, "Twilio error 31941"));
    expect_fail("<Response><Start><Stream url=\"wss://h/s\" track=\"inbound\"/></Start>"
                "</Response>",
                VT_TWIML_DOC_ESTREAM_TRACK);
}
END_TEST

START_TEST(test_unknown_verb)
{
    const char *err = expect_fail("<Response><Say>a</Say><Speak>b</Speak></Response>",
                                  VT_TWIML_DOC_ESCHEMA);

    ck_assert_ptr_nonnull(strstr(err, "<Speak>"));
    ck_assert_ptr_nonnull(strstr(err, "unknown verb"));
    /* names are case-sensitive */
    expect_fail("<Response><say>a</say></Response>", VT_TWIML_DOC_ESCHEMA);
    /* a messaging verb in a voice document */
    expect_fail("<Response><Message>a</Message></Response>", VT_TWIML_DOC_ESCHEMA);
    /* a noun used as a verb */
    expect_fail("<Response><Number>+14155550100</Number></Response>", VT_TWIML_DOC_ESCHEMA);
}
END_TEST

START_TEST(test_gather_nests_only_say_play_pause)
{
    const char *err = expect_fail("<Response><Gather><Say>a</Say><Dial>+14155550100</Dial>"
                                  "</Gather></Response>",
                                  VT_TWIML_DOC_ESCHEMA);

    ck_assert_ptr_nonnull(strstr(err, "<Dial> is not allowed in <Gather>"));
    expect_fail("<Response><Gather><Gather/></Gather></Response>", VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response><Gather><Hangup/></Gather></Response>", VT_TWIML_DOC_ESCHEMA);
}
END_TEST

START_TEST(test_dial_children)
{
    expect_fail("<Response><Dial><Say>a</Say></Dial></Response>", VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response><Dial><Number>+14155550100<Say/></Number></Dial></Response>",
                VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response><Hangup><Say>x</Say></Hangup></Response>", VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response><Play><Say>x</Say></Play></Response>", VT_TWIML_DOC_ESCHEMA);
}
END_TEST

START_TEST(test_root_and_text)
{
    const char *err = expect_fail("<Twiml><Say>a</Say></Twiml>", VT_TWIML_DOC_ESCHEMA);

    ck_assert_ptr_nonnull(strstr(err, "<Twiml>"));
    expect_fail("<Response>hello<Say>a</Say></Response>", VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response><Say>a</Say>tail</Response>", VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response xmlns=\"urn:x\"><Say>a</Say></Response>", VT_TWIML_DOC_ESCHEMA);
    expect_fail("<Response><x:Say xmlns:x=\"urn:x\">a</x:Say></Response>",
                VT_TWIML_DOC_ESCHEMA);
}
END_TEST

START_TEST(test_not_well_formed)
{
    const char *err = expect_fail("<Response><Say>a</Response>", VT_TWIML_DOC_EPARSE);

    ck_assert_ptr_nonnull(strstr(err, "not well-formed"));
    expect_fail("", VT_TWIML_DOC_EPARSE);
    expect_fail("Hello", VT_TWIML_DOC_EPARSE);
    expect_fail(" " XMLDECL "<Response/>", VT_TWIML_DOC_EPARSE);
    expect_fail("\xEF\xBB\xBF<Response/>", VT_TWIML_DOC_EPARSE);
    expect_fail("<Response/><Response/>", VT_TWIML_DOC_EPARSE);
    expect_fail("<Response><Say a=\"1\" a=\"2\">x</Say></Response>", VT_TWIML_DOC_EPARSE);
    expect_fail("<Response><Say>\xff</Say></Response>", VT_TWIML_DOC_EPARSE);
    /* names a namespace-aware parser refuses (apr_xml takes a ":" off as a prefix) */
    expect_fail("<Response><Say :8e=\"x\">a</Say></Response>", VT_TWIML_DOC_EPARSE);
    expect_fail("<Response><Say ::voice=\"x\">a</Say></Response>", VT_TWIML_DOC_EPARSE);
}
END_TEST

START_TEST(test_entity_expansion_refused)
{
    /* A billion-laughs document must fail fast, not expand. */
    expect_fail("<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
                "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><Response><Say>&b;</Say>"
                "</Response>",
                VT_TWIML_DOC_EPARSE);
}
END_TEST

START_TEST(test_too_deep)
{
    apr_array_header_t *verbs;
    const char *err;
    char *doc = apr_pstrcat(vt_test_pool, "<Response><Say>", NULL);
    int i;

    for (i = 0; i < 20; i++) {
        doc = apr_pstrcat(vt_test_pool, doc, "<s>", NULL);
    }
    for (i = 0; i < 20; i++) {
        doc = apr_pstrcat(vt_test_pool, doc, "</s>", NULL);
    }
    doc = apr_pstrcat(vt_test_pool, doc, "</Say></Response>", NULL);
    ck_assert_int_eq(parse(doc, &verbs, &err), VT_TWIML_DOC_ESCHEMA);
    ck_assert_ptr_nonnull(strstr(err, "deeper"));
}
END_TEST

START_TEST(test_content_type)
{
    apr_array_header_t *verbs;
    const char *err;

    ck_assert_int_eq(parse_ct("application/xml", "<Response/>", &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_int_eq(parse_ct("Text/XML; charset=utf-8", "<Response/>", &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_int_eq(parse_ct("text/html", "<Response/>", &verbs, &err),
                     VT_TWIML_DOC_ECONTENT_TYPE);
    ck_assert_ptr_nonnull(strstr(err, "Twilio error 12300"));
    ck_assert_ptr_nonnull(strstr(err, "'text/html'"));
    ck_assert_int_eq(parse_ct("text/xmlfoo", "<Response/>", &verbs, &err),
                     VT_TWIML_DOC_ECONTENT_TYPE);
    ck_assert_int_eq(parse_ct("text/plain", "<Response/>", &verbs, &err),
                     VT_TWIML_DOC_ECONTENT_TYPE);
    ck_assert_int_eq(parse_ct(NULL, "<Response/>", &verbs, &err), VT_TWIML_DOC_ECONTENT_TYPE);
    ck_assert_ptr_nonnull(strstr(err, "no Content-Type"));
}
END_TEST

START_TEST(test_chunked_and_size)
{
    apr_array_header_t *verbs;
    const char *err;
    apr_size_t max = VT_TWIML_DOC_MAX;
    char *big = apr_palloc(vt_test_pool, max + 2);
    const char *open = "<Response><Say>", *close = "</Say></Response>";

    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_VOICE, "text/xml", 1,
                                        "<Response/>", 11, &verbs, &err),
                     VT_TWIML_DOC_EPARSE);
    ck_assert_ptr_nonnull(strstr(err, "chunked"));
    /* exactly 64 KB is accepted, one byte more is not */
    memset(big, 'a', max + 1);
    memcpy(big, open, strlen(open));
    memcpy(big + max - strlen(close), close, strlen(close));
    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_VOICE, "text/xml", 0, big, max,
                                        &verbs, &err),
                     VT_TWIML_DOC_OK);
    memcpy(big + max + 1 - strlen(close), close, strlen(close));
    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_VOICE, "text/xml", 0, big,
                                        max + 1, &verbs, &err),
                     VT_TWIML_DOC_ETOO_LARGE);
    ck_assert_ptr_nonnull(strstr(err, "Twilio error 11750"));
}
END_TEST

START_TEST(test_messaging)
{
    apr_array_header_t *verbs;
    const char *err;
    const char *doc = "<Response><Message to=\"+14155550100\"><Body>hi</Body>"
                      "<Media>https://x/a.png</Media></Message><Redirect>next</Redirect>"
                      "</Response>";

    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_MESSAGING, "text/xml", 0, doc,
                                        strlen(doc), &verbs, &err),
                     VT_TWIML_DOC_OK);
    ck_assert_int_eq(verbs->nelts, 2);
    ck_assert_str_eq(vt_twiml_verb_child(verb(verbs, 0), "Body")->text, "hi");
    doc = "<Response><Say>hi</Say></Response>";
    ck_assert_int_eq(vt_twiml_doc_parse(vt_test_pool, VT_TWIML_MESSAGING, "text/xml", 0, doc,
                                        strlen(doc), &verbs, &err),
                     VT_TWIML_DOC_ESCHEMA);
}
END_TEST

START_TEST(test_strerror)
{
    ck_assert_str_eq(vt_twiml_doc_strerror(VT_TWIML_DOC_EPARSE), "document parse failure");
    ck_assert_str_eq(vt_twiml_doc_strerror(VT_TWIML_DOC_ECONTENT_TYPE), "invalid Content-Type");
    ck_assert_str_eq(vt_twiml_doc_strerror(VT_TWIML_DOC_ESTREAM_SCHEME),
                     "Stream - WebSocket - URL Schema Not Supported");
    ck_assert_str_eq(vt_twiml_doc_strerror(VT_TWIML_DOC_ESTREAM_HANDSHAKE),
                     "Stream - WebSocket - Handshake Error");
    ck_assert_str_eq(vt_twiml_doc_strerror(VT_TWIML_DOC_ESTREAM_URL),
                     "Stream - WebSocket - Malformed URL");
    ck_assert_str_eq(vt_twiml_doc_strerror(VT_TWIML_DOC_ESTREAM_TRACK),
                     "Stream - Invalid Track configuration");
    ck_assert_str_eq(vt_twiml_doc_strerror((vt_twiml_doc_rc)1), "unknown error");
}
END_TEST

static void resolves(const char *base, const char *ref, const char *want)
{
    const char *got = vt_twiml_doc_resolve(vt_test_pool, base, ref);

    ck_assert_msg(got && strcmp(got, want) == 0, "resolve(%s, %s) = %s, want %s", base, ref,
                  got ? got : "(null)", want);
}

START_TEST(test_resolve_gateway_urls)
{
    const char *in = "http://127.0.0.1:8080/voice/inbound";

    resolves(in, "speech?t=2", "http://127.0.0.1:8080/voice/speech?t=2");
    resolves(in, "escalate", "http://127.0.0.1:8080/voice/escalate");
    resolves(in, "status-callback", "http://127.0.0.1:8080/voice/status-callback");
    resolves("http://h/voice/acme/inbound?x=1", "speech", "http://h/voice/acme/speech");
    resolves("http://h/voice/speech?t=2", "speech?t=3&n=1", "http://h/voice/speech?t=3&n=1");
    resolves(in, "/other/path", "http://127.0.0.1:8080/other/path");
    resolves(in, "https://example.com/x", "https://example.com/x");
    resolves(in, "//example.com/x", "http://example.com/x");
    resolves(in, "", "http://127.0.0.1:8080/voice/inbound");
    resolves("http://h/voice/inbound?a=1#f", "", "http://h/voice/inbound?a=1");
    resolves("http://h", "speech", "http://h/speech");
    ck_assert_ptr_null(vt_twiml_doc_resolve(vt_test_pool, "/no/scheme", "x"));
}
END_TEST

/* RFC 3986 §5.4, base http://a/b/c/d;p?q */
START_TEST(test_resolve_rfc3986)
{
    static const char *const cases[][2] = {
        { "g:h", "g:h" },           { "g", "http://a/b/c/g" },
        { "./g", "http://a/b/c/g" }, { "g/", "http://a/b/c/g/" },
        { "/g", "http://a/g" },      { "//g", "http://g" },
        { "?y", "http://a/b/c/d;p?y" }, { "g?y", "http://a/b/c/g?y" },
        { "#s", "http://a/b/c/d;p?q#s" }, { "g#s", "http://a/b/c/g#s" },
        { ";x", "http://a/b/c/;x" }, { "", "http://a/b/c/d;p?q" },
        { ".", "http://a/b/c/" },    { "./", "http://a/b/c/" },
        { "..", "http://a/b/" },     { "../", "http://a/b/" },
        { "../g", "http://a/b/g" },  { "../..", "http://a/" },
        { "../../g", "http://a/g" }, { "../../../g", "http://a/g" },
        { "../../../../g", "http://a/g" }, { "/./g", "http://a/g" },
        { "/../g", "http://a/g" },   { "g.", "http://a/b/c/g." },
        { ".g", "http://a/b/c/.g" }, { "g..", "http://a/b/c/g.." },
        { "..g", "http://a/b/c/..g" }, { "./../g", "http://a/b/g" },
        { "./g/.", "http://a/b/c/g/" }, { "g/./h", "http://a/b/c/g/h" },
        { "g/../h", "http://a/b/c/h" }, { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
        { "g;x=1/../y", "http://a/b/c/y" }, { "g?y/./x", "http://a/b/c/g?y/./x" },
        { "g#s/../x", "http://a/b/c/g#s/../x" },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        resolves("http://a/b/c/d;p?q", cases[i][0], cases[i][1]);
    }
}
END_TEST

Suite *vt_suite_twiml_doc(void)
{
    Suite *s = suite_create("twiml_doc");
    TCase *tc = tcase_create("reader");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_gateway_greeting);
    tcase_add_test(tc, test_attrs_in_document_order_and_text_trimmed);
    tcase_add_test(tc, test_empty_response);
    tcase_add_test(tc, test_say_with_ssml);
    tcase_add_test(tc, test_dial_with_nouns);
    tcase_add_test(tc, test_dial_number_shortcut);
    tcase_add_test(tc, test_bad_numbers);
    tcase_add_test(tc, test_every_voice_verb);
    tcase_add_test(tc, test_gateway_stream_answer);
    tcase_add_test(tc, test_stream_url_rules);
    tcase_add_test(tc, test_connect_and_stream_schema);
    tcase_add_test(tc, test_unknown_verb);
    tcase_add_test(tc, test_gather_nests_only_say_play_pause);
    tcase_add_test(tc, test_dial_children);
    tcase_add_test(tc, test_root_and_text);
    tcase_add_test(tc, test_not_well_formed);
    tcase_add_test(tc, test_entity_expansion_refused);
    tcase_add_test(tc, test_too_deep);
    tcase_add_test(tc, test_content_type);
    tcase_add_test(tc, test_chunked_and_size);
    tcase_add_test(tc, test_messaging);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_resolve_gateway_urls);
    tcase_add_test(tc, test_resolve_rfc3986);
    suite_add_tcase(s, tc);
    return s;
}
