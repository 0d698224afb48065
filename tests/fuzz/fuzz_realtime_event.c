/* libFuzzer target for vt_rt_parse (the events of a remote model server): arbitrary bytes
 * either fail with a static reason or give an event whose required fields are there; the
 * strings it gives, written back by the client writers (JSON-escaped), read back the same;
 * an audio delta rebuilt from the event parses to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include "vt_realtime.h"
#include "vt_stream_msg.h"

static vt_rt_parser_t *ps, *again;
static char *buf;

#define BUF_CAP (VT_RT_MESSAGE_MAX + 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    ps = vt_rt_parser_create();
    again = vt_rt_parser_create();
    buf = malloc(BUF_CAP);
    if (!ps || !again || !buf)
        abort();
    return 0;
}

/* text parses as a JSON object whose member item (or the object itself) has key == want. */
static void expect_member(const char *text, const char *item, const char *key, const char *want)
{
    json_object *o = json_tokener_parse(text), *v = o;

    if (!o || (item && !json_object_object_get_ex(o, item, &v))
        || !json_object_object_get_ex(v, key, &v) || !json_object_is_type(v, json_type_string)
        || strcmp(json_object_get_string(v), want) != 0)
        abort();
    json_object_put(o);
}

static void put(size_t *n, const char *s, size_t len)
{
    if (*n + len >= BUF_CAP)
        abort();
    memcpy(buf + *n, s, len);
    *n += len;
}

#define PUT_LIT(n, lit) put((n), (lit), sizeof(lit) - 1)

static void put_json(size_t *n, const char *s)
{
    size_t len = vt_sm_json_string(NULL, 0, s);

    if (*n + len >= BUF_CAP)
        abort();
    vt_sm_json_string(buf + *n, len, s);
    *n += len;
}

/* The delta again, ids escaped by our writer, audio re-encoded. */
static void check_delta(const vt_rt_event_t *ev)
{
    vt_rt_event_t b;
    const char *err;
    size_t n = 0;

    if (!ev->response_id || !ev->item_id || ev->audio_len > VT_RT_AUDIO_MAX
        || (ev->audio_len && !ev->audio))
        abort();
    PUT_LIT(&n, "{\"type\":\"response.audio.delta\",\"response_id\":");
    put_json(&n, ev->response_id);
    PUT_LIT(&n, ",\"item_id\":");
    put_json(&n, ev->item_id);
    PUT_LIT(&n, ",\"delta\":\"");
    if (n + 4 * ((ev->audio_len + 2) / 3) + 3 >= BUF_CAP)
        abort();
    n += vt_sm_b64_encode(ev->audio, ev->audio_len, buf + n);
    PUT_LIT(&n, "\"}");
    if (vt_rt_parse(again, buf, n, &b, &err) != 0 || b.type != VT_RT_AUDIO_DELTA
        || b.audio_len != ev->audio_len || memcmp(b.audio, ev->audio, ev->audio_len) != 0
        || strcmp(b.response_id, ev->response_id) != 0 || strcmp(b.item_id, ev->item_id) != 0)
        abort();
}

static void check_writers(apr_pool_t *p, const vt_rt_event_t *ev)
{
    if (ev->type == VT_RT_FUNCTION_CALL_DONE) {
        if (!ev->call_id || !ev->name)
            abort();
        expect_member(vt_rt_function_output(p, ev->call_id, ev->name), "item", "call_id",
                      ev->call_id);
        expect_member(vt_rt_function_output(p, ev->call_id, ev->name), "item", "output",
                      ev->name);
    }
    if (ev->item_id)
        expect_member(vt_rt_item_truncate(p, ev->item_id, ev->content_index,
                                          ev->audio_end_ms), NULL, "item_id", ev->item_id);
    if (ev->response_id)
        expect_member(vt_rt_response_cancel(p, ev->response_id), NULL, "response_id",
                      ev->response_id);
    if (ev->text)
        expect_member(vt_rt_response_create(p, ev->text), "response", "instructions", ev->text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vt_rt_event_t ev;
    const char *err = NULL;
    apr_pool_t *p;

    if (vt_rt_parse(ps, (const char *)data, size, &ev, &err) != 0) {
        if (!err)
            abort();
        return 0;
    }
    if (!ev.type_name || ev.content_index < 0 || ev.audio_start_ms < -1 || ev.audio_end_ms < -1)
        abort();
    if (ev.type == VT_RT_AUDIO_DELTA)
        check_delta(&ev);
    apr_pool_create(&p, NULL);
    check_writers(p, &ev);
    apr_pool_destroy(p);
    return 0;
}
