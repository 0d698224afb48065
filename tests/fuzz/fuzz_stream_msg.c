/* libFuzzer target for vt_sm_parse (what Twilio sends on a Media Stream): arbitrary bytes
 * either fail with a static reason or give a message whose checked fields hold; and the
 * message written again by the writers parses back to the same values (media payloads
 * byte for byte, the base64 text included, as the helper forwards it unchanged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "vt_stream_msg.h"
#include "vt_realtime.h"
#include "vt_util.h"

static vt_sm_parser_t *ps, *again;
static char *out;
static size_t out_cap;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    ps = vt_sm_parser_create();
    again = vt_sm_parser_create();
    out_cap = VT_SM_MEDIA_JSON_MAX(VT_SM_PAYLOAD_MAX) + 4096;
    out = malloc(out_cap);
    if (!ps || !again || !out)
        abort();
    return 0;
}

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static vt_stream_msg_t reparse(size_t n)
{
    vt_stream_msg_t m;
    const char *err = NULL;

    if (n == 0 || vt_sm_parse(again, out, n, &m, &err) != 0)
        abort();
    return m;
}

static void check_media(const vt_stream_msg_t *m)
{
    vt_stream_msg_t b;
    char *b64 = out; /* the canonical text of the payload */

    if (!m->payload || m->payload_len > VT_SM_PAYLOAD_MAX
        || vt_sm_b64_encode(m->payload, m->payload_len, b64) != m->payload_b64_len
        || memcmp(b64, m->payload_b64, m->payload_b64_len) != 0)
        abort();
    if (m->stream_sid) {
        b = reparse(vt_sm_inbound_media_json(out, out_cap, m->sequence, m->stream_sid,
                                             m->chunk, m->timestamp, m->payload,
                                             m->payload_len));
        if (b.event != VT_SM_MEDIA || b.payload_len != m->payload_len
            || memcmp(b.payload, m->payload, m->payload_len) != 0 || b.sequence != m->sequence
            || b.chunk != m->chunk || b.timestamp != m->timestamp
            || !same(b.stream_sid, m->stream_sid))
            abort();
        b = reparse(vt_sm_media_json(out, VT_SM_MEDIA_JSON_MAX(m->payload_len), m->stream_sid,
                                     m->payload, m->payload_len));
        if (b.payload_len != m->payload_len || memcmp(b.payload, m->payload, m->payload_len))
            abort();
    }
    /* What goes to the model is the payload as it came. */
    if (vt_rt_append_json(out, out_cap, m->payload_b64, m->payload_b64_len) == 0)
        abort();
}

static void check_start(const vt_stream_msg_t *m)
{
    vt_stream_msg_t b;

    if (!vt_sid_valid(m->stream_sid, "MZ") || !vt_sid_valid(m->account_sid, "AC")
        || !vt_sid_valid(m->call_sid, "CA") || m->nparams < 0 || m->nparams > VT_SM_PARAMS_MAX)
        abort();
    b = reparse(vt_sm_start_json(out, out_cap, m->sequence, m->stream_sid, m->account_sid,
                                 m->call_sid, m->params, m->nparams));
    if (b.event != VT_SM_START || b.sequence != m->sequence || b.nparams != m->nparams
        || !same(b.stream_sid, m->stream_sid) || !same(b.account_sid, m->account_sid)
        || !same(b.call_sid, m->call_sid))
        abort();
    for (int i = 0; i < m->nparams; i++)
        if (!same(b.params[i].name, m->params[i].name)
            || !same(b.params[i].value, m->params[i].value)
            || strlen(m->params[i].value) > VT_SM_NAME_MAX)
            abort();
}

static void check_others(const vt_stream_msg_t *m)
{
    vt_stream_msg_t b;

    if (m->event == VT_SM_MARK) {
        if (!m->mark_name || strlen(m->mark_name) > VT_SM_NAME_MAX)
            abort();
        b = reparse(vt_sm_mark_echo_json(out, out_cap, m->sequence, m->stream_sid,
                                         m->mark_name));
        if (b.event != VT_SM_MARK || !same(b.mark_name, m->mark_name)
            || b.sequence != m->sequence)
            abort();
    }
    else if (m->event == VT_SM_DTMF) {
        if (!strchr("0123456789*#ABCD", m->digit) || m->digit == '\0')
            abort();
        b = reparse(vt_sm_dtmf_json(out, out_cap, m->sequence, m->stream_sid, m->digit));
        if (b.digit != m->digit)
            abort();
    }
    else if (m->event == VT_SM_STOP && m->account_sid && m->call_sid) {
        b = reparse(vt_sm_stop_json(out, out_cap, m->sequence, m->stream_sid, m->account_sid,
                                    m->call_sid));
        if (!same(b.call_sid, m->call_sid) || !same(b.account_sid, m->account_sid))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vt_stream_msg_t m;
    const char *err = NULL;

    if (vt_sm_parse(ps, (const char *)data, size, &m, &err) != 0) {
        if (!err)
            abort();
        return 0;
    }
    if (!m.event_name || (m.stream_sid && !vt_sid_valid(m.stream_sid, "MZ")))
        abort();
    /* Round trips need a SID the writers can write back (the parser checks it). */
    if (m.event == VT_SM_MEDIA)
        check_media(&m);
    else if (m.event == VT_SM_START)
        check_start(&m);
    else if (m.stream_sid)
        check_others(&m);
    return 0;
}
