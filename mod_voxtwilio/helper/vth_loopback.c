/* vth_loopback — a backend for the stream benchmark (bench/, --stream-loopback): every
 * frame the caller sends comes straight back through the whole per-frame pipeline a voice
 * backend runs (parse, µ-law decode, 8 -> 16 kHz, voice activity, 16 -> 8 kHz, encode, one
 * media message), so the benchmark measures the helper's own cost per frame against a peer
 * doing the same work. Never used for real calls. */
#include <apr_strings.h>

#include "vth_media.h"
#include "vt_audio.h"
#include "vt_g711.h"

typedef struct loopback {
    vt_resampler_t *up, *down;
    vt_vad_t *vad;
} loopback_t;

static void lb_start(vth_stream_t *s)
{
    loopback_t *lb = apr_pcalloc(s->pool, sizeof *lb);

    lb->up = vt_resampler_create(8000, 16000, VT_RESAMPLER_VOIP);
    lb->down = vt_resampler_create(16000, 8000, VT_RESAMPLER_VOIP);
    lb->vad = vt_vad_create(NULL);
    s->backend = lb;
    if (!lb->up || !lb->down || !lb->vad) {
        vth_stream_backend_failed(s, "out of memory");
    }
}

static void lb_media(vth_stream_t *s, const vt_stream_msg_t *m)
{
    loopback_t *lb = s->backend;
    int16_t pcm8[VT_VAD_FRAME], pcm16[2 * VT_VAD_FRAME + 16], back[VT_VAD_FRAME + 16];
    uint8_t ulaw[VT_VAD_FRAME + 16];
    size_t n16, n8;

    if (m->payload_len != VT_VAD_FRAME) {
        return;
    }
    vt_ulaw_decode(m->payload, VT_VAD_FRAME, pcm8);
    n16 = vt_resampler_process(lb->up, pcm8, VT_VAD_FRAME, pcm16, sizeof pcm16 / 2);
    vt_vad_frame(lb->vad, pcm8);
    n8 = vt_resampler_process(lb->down, pcm16, n16, back, sizeof back / 2);
    vt_ulaw_encode(back, n8, ulaw);
    vth_stream_send_media(s, ulaw, n8);
}

static void lb_stop(vth_stream_t *s)
{
    loopback_t *lb = s->backend;

    if (lb) {
        vt_resampler_destroy(lb->up);
        vt_resampler_destroy(lb->down);
        vt_vad_destroy(lb->vad);
        s->backend = NULL;
    }
}

const vth_backend_ops_t vth_loopback_ops = {
    "loopback", lb_start, lb_media, NULL, NULL, NULL, lb_stop
};
