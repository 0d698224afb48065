/* vt_wav: the WAV writer, the streaming reader fed in pieces of every size (1 byte, 7
 * bytes, whole) with extra chunks, stereo, WAVE_FORMAT_EXTENSIBLE, streamed sizes and bad
 * headers, and the conversion of raw 24 kHz PCM to 8 kHz µ-law. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "vt_suites.h"
#include "vt_g711.h"
#include "vt_wav.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int16_t tone(long i, int rate)
{
    return (int16_t)lrint(8000.0 * sin(2.0 * M_PI * 440.0 * (double)i / rate));
}

/* ---------------------------------------------------------------- building test files */

typedef struct buf {
    unsigned char *d;
    size_t len, cap;
} buf_t;

static void add_bytes(buf_t *b, const void *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        unsigned char *d;
        while (cap < b->len + len)
            cap *= 2;
        d = apr_palloc(vt_test_pool, cap);
        if (b->len)
            memcpy(d, b->d, b->len);
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, data, len);
    b->len += len;
}

static void add16(buf_t *b, unsigned v)
{
    unsigned char x[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
    add_bytes(b, x, 2);
}

static void add32(buf_t *b, uint32_t v)
{
    add16(b, v & 0xffff);
    add16(b, v >> 16);
}

static void add_chunk(buf_t *b, const char *id, const void *data, uint32_t len)
{
    add_bytes(b, id, 4);
    add32(b, len);
    add_bytes(b, data, len);
    if (len & 1)
        add_bytes(b, "", 1); /* the pad byte */
}

/* A fmt chunk: format 1 (or 0xFFFE with subformat guid), 16-bit. */
static void add_fmt(buf_t *b, unsigned format, unsigned channels, uint32_t rate,
                    const unsigned char *guid)
{
    add_bytes(b, "fmt ", 4);
    add32(b, format == 0xFFFE ? 40 : 16);
    add16(b, format);
    add16(b, channels);
    add32(b, rate);
    add32(b, rate * channels * 2);
    add16(b, channels * 2);
    add16(b, 16);
    if (format == 0xFFFE) {
        add16(b, 22);       /* cbSize */
        add16(b, 16);       /* valid bits */
        add32(b, channels == 2 ? 3 : 4); /* channel mask */
        add_bytes(b, guid, 16);
    }
}

static const unsigned char guid_pcm[16] = { 1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA,
                                            0, 0x38, 0x9B, 0x71 };
static const unsigned char guid_float[16] = { 3, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA,
                                              0, 0x38, 0x9B, 0x71 };

/* n frames of a tone, interleaved for channels (right = left / 2 when stereo). */
static void add_samples(buf_t *b, size_t n, int channels, int rate)
{
    for (size_t i = 0; i < n; i++) {
        add16(b, (uint16_t)tone((long)i, rate));
        if (channels == 2)
            add16(b, (uint16_t)(tone((long)i, rate) / 2));
    }
}

static buf_t wav_start(void)
{
    buf_t b = { NULL, 0, 0 };
    add_bytes(&b, "RIFF\xff\xff\xff\xffWAVE", 12);
    return b;
}

/* ---------------------------------------------------------------- feeding */

typedef struct got {
    int16_t *pcm;
    size_t n;
    int rc;
    const char *error;
} got_t;

/* The whole of b fed in pieces of step bytes (0: at once). */
static got_t feed(const buf_t *b, int raw_rate, size_t step)
{
    vt_wav_reader_t *r = vt_wav_reader_create(raw_rate);
    got_t g = { apr_palloc(vt_test_pool, b->len + 2), 0, 0, NULL };

    ck_assert_ptr_nonnull(r);
    for (size_t off = 0; off < b->len && g.rc == 0;) {
        size_t len = step && step < b->len - off ? step : b->len - off, n = 0;
        const int16_t *pcm = NULL;
        g.rc = vt_wav_reader_feed(r, b->d + off, len, &pcm, &n);
        ck_assert(g.rc == 0 || n == 0);
        if (n)
            memcpy(g.pcm + g.n, pcm, n * sizeof *pcm);
        g.n += n;
        off += len;
    }
    g.error = vt_wav_reader_error(r);
    if (g.rc == 0)
        ck_assert_ptr_null(g.error);
    vt_wav_reader_destroy(r);
    return g;
}

static void expect_tone(const got_t *g, size_t n, int rate, int stereo)
{
    ck_assert_int_eq(g->rc, 0);
    ck_assert_uint_eq(g->n, n);
    for (size_t i = 0; i < n; i++) {
        int16_t want = stereo ? (int16_t)((tone((long)i, rate) + tone((long)i, rate) / 2) / 2)
                              : tone((long)i, rate);
        ck_assert_int_eq(g->pcm[i], want);
    }
}

static const size_t steps[] = { 1, 2, 3, 7, 45, 4096, 0 };

/* ---------------------------------------------------------------- tests */

START_TEST(test_pcm16_header)
{
    int16_t pcm[3] = { 1, -2, 0x1234 };
    size_t len = 0;
    const unsigned char *w = (const unsigned char *)vt_wav_pcm16(vt_test_pool, pcm, 3, 8000, &len);

    ck_assert_uint_eq(len, VT_WAV_HEADER + 6);
    ck_assert(memcmp(w, "RIFF", 4) == 0 && memcmp(w + 8, "WAVEfmt ", 8) == 0);
    ck_assert_uint_eq(w[4] | w[5] << 8, 36 + 6);
    ck_assert_uint_eq(w[20], 1);                  /* PCM */
    ck_assert_uint_eq(w[22], 1);                  /* mono */
    ck_assert_uint_eq(w[24] | w[25] << 8, 8000);
    ck_assert_uint_eq(w[28] | w[29] << 8 | w[30] << 16, 16000);
    ck_assert_uint_eq(w[32], 2);
    ck_assert_uint_eq(w[34], 16);
    ck_assert(memcmp(w + 36, "data", 4) == 0);
    ck_assert_uint_eq(w[40], 6);
    ck_assert(memcmp(w + 44, "\x01\x00\xfe\xff\x34\x12", 6) == 0); /* little-endian */
}
END_TEST

/* What vt_wav_pcm16 writes, the reader reads back, however it is cut. */
START_TEST(test_round_trip_pieces)
{
    enum { N = 1000 };
    int16_t pcm[N];
    buf_t b;

    for (int i = 0; i < N; i++)
        pcm[i] = tone(i, 16000);
    b.d = (unsigned char *)vt_wav_pcm16(vt_test_pool, pcm, N, 16000, &b.len);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        got_t g = feed(&b, 0, steps[s]);
        expect_tone(&g, N, 16000, 0);
    }
}
END_TEST

/* LIST before fmt, an odd-sized fact chunk (pad byte) before data, a chunk after data. */
START_TEST(test_extra_chunks)
{
    buf_t b = wav_start();
    add_chunk(&b, "LIST", "INFOISFT\x05\0\0\0Lavf\0", 17);
    add_fmt(&b, 1, 1, 24000, NULL);
    add_chunk(&b, "fact", "abc", 3);
    add_bytes(&b, "data", 4);
    add32(&b, 300 * 2);
    add_samples(&b, 300, 1, 24000);
    add_chunk(&b, "LIST", "trailing", 8); /* after a sized data chunk: not audio */
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        got_t g = feed(&b, 0, steps[s]);
        expect_tone(&g, 300, 24000, 0);
    }
}
END_TEST

START_TEST(test_stereo_and_extensible)
{
    buf_t b = wav_start(), e = wav_start();

    add_fmt(&b, 1, 2, 22050, NULL);
    add_bytes(&b, "data", 4);
    add32(&b, 500 * 4);
    add_samples(&b, 500, 2, 22050);
    add_fmt(&e, 0xFFFE, 2, 22050, guid_pcm);
    add_bytes(&e, "data", 4);
    add32(&e, 500 * 4);
    add_samples(&e, 500, 2, 22050);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        got_t g = feed(&b, 0, steps[s]);
        expect_tone(&g, 500, 22050, 1);
        g = feed(&e, 0, steps[s]);
        expect_tone(&g, 500, 22050, 1);
    }
}
END_TEST

/* A WAV streamed before its length was known: sizes 0xFFFFFFFF or 0 read to the end. */
START_TEST(test_streamed_sizes)
{
    static const uint32_t sizes[] = { 0xFFFFFFFFu, 0 };

    for (size_t k = 0; k < 2; k++) {
        buf_t b = wav_start();
        add_fmt(&b, 1, 1, 8000, NULL);
        add_bytes(&b, "data", 4);
        add32(&b, sizes[k]);
        add_samples(&b, 777, 1, 8000);
        add_bytes(&b, "\x01", 1); /* an odd last byte: never a sample */
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            got_t g = feed(&b, 0, steps[s]);
            expect_tone(&g, 777, 8000, 0);
        }
    }
}
END_TEST

START_TEST(test_rate_known_after_header)
{
    buf_t b = wav_start();
    vt_wav_reader_t *r = vt_wav_reader_create(0);
    const int16_t *pcm;
    size_t n;

    add_fmt(&b, 1, 1, 16000, NULL);
    add_bytes(&b, "data", 4);
    add32(&b, 0);
    ck_assert_int_eq(vt_wav_reader_rate(r), 0);
    ck_assert_int_eq(vt_wav_reader_feed(r, b.d, b.len - 1, &pcm, &n), 0);
    ck_assert_int_eq(vt_wav_reader_rate(r), 0);
    ck_assert_int_eq(vt_wav_reader_feed(r, b.d + b.len - 1, 1, &pcm, &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(vt_wav_reader_rate(r), 16000);
    vt_wav_reader_destroy(r);
}
END_TEST

/* Each malformed header fails, with a reason, however it is cut, and stays failed. */
START_TEST(test_bad_headers)
{
    buf_t bad[11];
    unsigned char big[VT_WAV_HEADER_MAX];
    int i = 0;

    memset(big, 'x', sizeof big);
    bad[i] = (buf_t){ NULL, 0, 0 };
    add_bytes(&bad[i++], "RIFX\0\0\0\0WAVEfmt ", 16);          /* big-endian RIFF */
    bad[i] = (buf_t){ NULL, 0, 0 };
    add_bytes(&bad[i++], "{\"error\":{\"message\":\"x\"}}", 25); /* not a WAV */
    bad[i] = (buf_t){ NULL, 0, 0 };
    add_bytes(&bad[i++], "RIFF\0\0\0\0AVI LIST", 16);
    bad[i] = wav_start();
    add_fmt(&bad[i++], 3, 1, 16000, NULL);                      /* IEEE float */
    bad[i] = wav_start();
    add_fmt(&bad[i++], 0xFFFE, 1, 16000, guid_float);
    bad[i] = wav_start();
    add_fmt(&bad[i++], 1, 3, 16000, NULL);                      /* three channels */
    bad[i] = wav_start();
    add_fmt(&bad[i++], 1, 1, 96000, NULL);
    bad[i] = wav_start();
    add_chunk(&bad[i], "fmt ", "\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x18\x00",
              16);                                              /* 24-bit */
    i++;
    bad[i] = wav_start();
    add_bytes(&bad[i], "data", 4);                              /* data before fmt */
    add32(&bad[i++], 0);
    bad[i] = wav_start();
    add_chunk(&bad[i++], "fmt ", "\x01\x00\x01\x00", 4);        /* fmt too short */
    bad[i] = wav_start();
    add_chunk(&bad[i], "LIST", big, sizeof big - 40);          /* header over 4 KiB */
    add_fmt(&bad[i++], 1, 1, 8000, NULL);
    ck_assert_int_eq(i, 11);

    for (int k = 0; k < i; k++) {
        add_bytes(&bad[k], "data\0\0\0\0\0\0\0\0", 12);
        for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
            got_t g = feed(&bad[k], 0, steps[s]);
            ck_assert_msg(g.rc == -1, "bad header %d accepted (step %zu)", k, steps[s]);
            ck_assert_ptr_nonnull(g.error);
            ck_assert_uint_eq(g.n, 0);
        }
    }
}
END_TEST

/* A header that never reaches its data chunk fails at 4 KiB instead of buffering on. */
START_TEST(test_header_limit)
{
    vt_wav_reader_t *r = vt_wav_reader_create(0);
    buf_t b = wav_start();
    unsigned char zeros[512] = { 0 };
    const int16_t *pcm;
    size_t n;
    int rc = 0;

    add_fmt(&b, 1, 1, 8000, NULL);
    ck_assert_int_eq(vt_wav_reader_feed(r, b.d, b.len, &pcm, &n), 0);
    /* "junk" chunks of size 0 forever */
    for (int k = 0; k < 1000 && rc == 0; k++)
        rc = vt_wav_reader_feed(r, "junk\0\0\0\0", 8, &pcm, &n);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(vt_wav_reader_error(r), "the header is larger than 4 KiB");
    ck_assert_int_eq(vt_wav_reader_feed(r, zeros, sizeof zeros, &pcm, &n), -1); /* sticks */
    vt_wav_reader_destroy(r);
}
END_TEST

START_TEST(test_raw_pcm)
{
    buf_t b = { NULL, 0, 0 };

    add_samples(&b, 2401, 1, 24000);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        got_t g = feed(&b, 24000, steps[s]);
        expect_tone(&g, 2401, 24000, 0);
    }
    ck_assert_ptr_null(vt_wav_reader_create(4000));
    ck_assert_ptr_null(vt_wav_reader_create(96000));
    ck_assert_ptr_null(vt_wav_reader_create(-1));
}
END_TEST

/* A piece much larger than the reader's first buffer grows it. */
START_TEST(test_large_piece)
{
    enum { N = 48000 * 3 };
    buf_t b = { NULL, 0, 0 };
    int16_t *pcm = apr_palloc(vt_test_pool, N * sizeof *pcm);
    size_t len;

    for (int i = 0; i < N; i++)
        pcm[i] = tone(i, 48000);
    b.d = (unsigned char *)vt_wav_pcm16(vt_test_pool, pcm, N, 48000, &len);
    b.len = len;
    got_t g = feed(&b, 0, 0);
    expect_tone(&g, N, 48000, 0);
}
END_TEST

/* Raw 24 kHz PCM in uneven pieces -> 8 kHz µ-law: a third of the samples (within a 20 ms
 * frame: the resampler keeps a few), the tone's frequency kept. */
START_TEST(test_raw_24k_to_ulaw8k)
{
    enum { N = 24000 };
    buf_t b = { NULL, 0, 0 };
    vt_wav_reader_t *r = vt_wav_reader_create(24000);
    vt_ulaw8k_t *u = vt_ulaw8k_create(24000);
    uint8_t *ulaw = apr_palloc(vt_test_pool, N);
    size_t total = 0, off = 0, step = 1;
    int crossings = 0;

    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_nonnull(u);
    add_samples(&b, N, 1, 24000);
    while (off < b.len) {
        size_t len = step < b.len - off ? step : b.len - off, n, ulen;
        const int16_t *pcm;
        const uint8_t *out;
        ck_assert_int_eq(vt_wav_reader_feed(r, b.d + off, len, &pcm, &n), 0);
        ck_assert_int_eq(vt_ulaw8k_feed(u, pcm, n, &out, &ulen), 0);
        ck_assert_uint_le(total + ulen, N);
        memcpy(ulaw + total, out, ulen);
        total += ulen;
        off += len;
        step = step * 3 + 1; /* 1, 4, 13, 40, ... then mostly large pieces */
        if (step > 9000)
            step = 7;
    }
    ck_assert_msg(total >= 8000 - 160 && total <= 8000 + 160, "%zu µ-law bytes", total);
    for (size_t i = 1; i < total; i++)
        crossings += (vt_ulaw_to_pcm(ulaw[i - 1]) < 0) != (vt_ulaw_to_pcm(ulaw[i]) < 0);
    ck_assert_msg(crossings > 860 && crossings < 900, "%d zero crossings", crossings);
    vt_ulaw8k_destroy(u);
    vt_wav_reader_destroy(r);
}
END_TEST

START_TEST(test_ulaw8k_passthrough)
{
    int16_t pcm[321];
    uint8_t want[321];
    const uint8_t *out;
    size_t len;
    vt_ulaw8k_t *u = vt_ulaw8k_create(8000);

    for (int i = 0; i < 321; i++)
        pcm[i] = tone(i, 8000);
    vt_ulaw_encode(pcm, 321, want);
    ck_assert_int_eq(vt_ulaw8k_feed(u, pcm, 321, &out, &len), 0);
    ck_assert_uint_eq(len, 321);
    ck_assert(memcmp(out, want, 321) == 0);
    ck_assert_int_eq(vt_ulaw8k_feed(u, pcm, 0, &out, &len), 0);
    ck_assert_uint_eq(len, 0);
    vt_ulaw8k_destroy(u);
    ck_assert_ptr_null(vt_ulaw8k_create(7999));
    ck_assert_ptr_null(vt_ulaw8k_create(48001));
}
END_TEST

Suite *vt_suite_wav(void)
{
    Suite *s = suite_create("wav");
    TCase *tc = tcase_create("wav");

    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_pcm16_header);
    tcase_add_test(tc, test_round_trip_pieces);
    tcase_add_test(tc, test_extra_chunks);
    tcase_add_test(tc, test_stereo_and_extensible);
    tcase_add_test(tc, test_streamed_sizes);
    tcase_add_test(tc, test_rate_known_after_header);
    tcase_add_test(tc, test_bad_headers);
    tcase_add_test(tc, test_header_limit);
    tcase_add_test(tc, test_raw_pcm);
    tcase_add_test(tc, test_large_piece);
    suite_add_tcase(s, tc);
    tc = tcase_create("ulaw8k");
    tcase_add_checked_fixture(tc, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(tc, test_raw_24k_to_ulaw8k);
    tcase_add_test(tc, test_ulaw8k_passthrough);
    suite_add_tcase(s, tc);
    return s;
}
