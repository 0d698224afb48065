/* libFuzzer target for vt_wav: a text-to-speech endpoint's (or a recording's) body is
 * untrusted and arrives in pieces of any size. The input is a mode byte, then pieces, each
 * a length byte L and L bytes of body (the last piece takes what is left):
 *
 *   mode & 1: raw PCM at rates[(mode >> 1) % 5], else a WAV file
 *
 * Every piece goes to vt_wav_reader_feed and the samples it gives to vt_ulaw8k_feed, and
 * the contract is checked: a failure sticks and has a reason; samples only with a rate in
 * range; never more samples than bytes / 2; in raw mode exactly the input's samples
 * (little-endian), whatever the cuts; µ-law within the converter's bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vt_wav.h"

static const int rates[5] = { 8000, 16000, 22050, 24000, 48000 };

/* What a raw-mode body must give back: its samples, as fed so far. */
typedef struct raw_check {
    unsigned char pending;  /* the first byte of a sample cut by a piece boundary */
    int have_pending;
} raw_check_t;

static void check_raw(raw_check_t *rc, const uint8_t *b, size_t len, const int16_t *pcm,
                      size_t n)
{
    size_t bytes = len + (size_t)rc->have_pending, k = 0, i = 0;

    if (n != bytes / 2)
        abort();
    if (rc->have_pending && len) {
        if (pcm[k++] != (int16_t)(rc->pending | b[0] << 8))
            abort();
        i = 1;
        rc->have_pending = 0;
    }
    for (; i + 1 < len; i += 2)
        if (pcm[k++] != (int16_t)(b[i] | b[i + 1] << 8))
            abort();
    if (i < len) {
        rc->pending = b[i];
        rc->have_pending = 1;
    }
}

static void to_ulaw(vt_ulaw8k_t **u, int rate, const int16_t *pcm, size_t n)
{
    const uint8_t *ulaw;
    size_t len;

    if (!n)
        return;
    if (!*u && !(*u = vt_ulaw8k_create(rate)))
        abort(); /* a rate the reader gave is one the converter takes */
    if (vt_ulaw8k_feed(*u, pcm, n, &ulaw, &len) != 0)
        abort();
    if (len > n * 8000 / (size_t)rate + 16 || (len && !ulaw))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int raw, raw_rate, failed = 0;
    size_t off = 1, total = 0, samples = 0;
    raw_check_t rc = { 0, 0 };
    vt_wav_reader_t *r;
    vt_ulaw8k_t *u = NULL;

    if (size < 1)
        return 0;
    raw = data[0] & 1;
    raw_rate = raw ? rates[(data[0] >> 1) % 5] : 0;
    if (!(r = vt_wav_reader_create(raw_rate)))
        abort();
    while (off < size) {
        size_t len = data[off++];
        const int16_t *pcm;
        size_t n;
        int rv;

        if (len > size - off)
            len = size - off;
        rv = vt_wav_reader_feed(r, data + off, len, &pcm, &n);
        total += len;
        if (rv != 0 && (rv != -1 || !vt_wav_reader_error(r) || n != 0))
            abort();
        if (failed && rv != -1)
            abort(); /* an error sticks */
        failed = rv == -1;
        if (!failed) {
            int rate = vt_wav_reader_rate(r);
            samples += n;
            if (samples > total / 2 || (n && (rate < VT_WAV_RATE_MIN || rate > VT_WAV_RATE_MAX)))
                abort();
            if (raw)
                check_raw(&rc, data + off, len, pcm, n);
            to_ulaw(&u, rate, pcm, n);
        }
        off += len;
    }
    if (raw && failed)
        abort(); /* any bytes are raw PCM */
    vt_ulaw8k_destroy(u);
    vt_wav_reader_destroy(r);
    return 0;
}
