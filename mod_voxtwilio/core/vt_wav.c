/* vt_wav — WAV writer, streaming WAV/raw PCM reader, PCM -> 8 kHz µ-law; see vt_wav.h. */
#include <stdlib.h>
#include <string.h>

#include "vt_audio.h"
#include "vt_g711.h"
#include "vt_wav.h"

#define WAVE_FORMAT_PCM 1
#define WAVE_FORMAT_EXTENSIBLE 0xFFFE
#define READER_OUT_START 4096   /* samples: a 170 ms piece at 24 kHz without growing */

static void put16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)(v & 0xff);
    b[1] = (unsigned char)((v >> 8) & 0xff);
}

static void put32(unsigned char *b, uint32_t v)
{
    put16(b, v & 0xffff);
    put16(b + 2, v >> 16);
}

static unsigned get16(const unsigned char *b)
{
    return (unsigned)b[0] | (unsigned)b[1] << 8;
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)get16(b) | (uint32_t)get16(b + 2) << 16;
}

char *vt_wav_pcm16(apr_pool_t *p, const int16_t *pcm, size_t n, int rate, size_t *len)
{
    uint32_t bytes;
    unsigned char *b;

    if (n > (UINT32_MAX - 36) / 2)
        return NULL;
    bytes = (uint32_t)(n * 2);
    b = apr_palloc(p, VT_WAV_HEADER + (size_t)bytes);
    memcpy(b, "RIFF", 4);
    put32(b + 4, 36 + bytes);
    memcpy(b + 8, "WAVEfmt ", 8);
    put32(b + 16, 16);               /* fmt chunk size */
    put16(b + 20, WAVE_FORMAT_PCM);
    put16(b + 22, 1);                /* mono */
    put32(b + 24, (uint32_t)rate);
    put32(b + 28, (uint32_t)rate * 2); /* bytes per second */
    put16(b + 32, 2);                /* block align */
    put16(b + 34, 16);               /* bits per sample */
    memcpy(b + 36, "data", 4);
    put32(b + 40, bytes);
    /* Samples are little-endian on the wire, whatever the host. */
    for (size_t i = 0; i < n; i++)
        put16(b + VT_WAV_HEADER + 2 * i, (uint16_t)pcm[i]);
    *len = VT_WAV_HEADER + (size_t)bytes;
    return (char *)b;
}

/* ---------------------------------------------------------------- streaming reader */

enum { R_HEADER, R_DATA, R_DONE, R_ERROR };

struct vt_wav_reader {
    int state;
    int rate, channels;
    const char *error;
    /* The header is kept whole until its data chunk starts: it is small (bounded), and
     * chunks are then parsed where they lie, whatever the pieces were. */
    unsigned char hdr[VT_WAV_HEADER_MAX];
    size_t hlen;            /* bytes in hdr */
    size_t pos;             /* where the next chunk header starts in hdr */
    int have_fmt;
    int bounded;            /* the data chunk declared its size ... */
    uint64_t left;          /* ... and this much of it is still to come */
    unsigned char carry[4]; /* a sample or frame cut by a piece boundary */
    size_t ncarry;
    int16_t *out;
    size_t cap;             /* samples in out */
};

static int fail(vt_wav_reader_t *r, const char *why)
{
    r->state = R_ERROR;
    r->error = why;
    return -1;
}

vt_wav_reader_t *vt_wav_reader_create(int raw_rate)
{
    vt_wav_reader_t *r;

    if (raw_rate != 0 && (raw_rate < VT_WAV_RATE_MIN || raw_rate > VT_WAV_RATE_MAX))
        return NULL;
    if (!(r = calloc(1, sizeof *r)) || !(r->out = malloc(READER_OUT_START * sizeof *r->out))) {
        free(r);
        return NULL;
    }
    r->cap = READER_OUT_START;
    r->pos = 12; /* after "RIFF" size "WAVE" */
    if (raw_rate) {
        r->state = R_DATA;
        r->rate = raw_rate;
        r->channels = 1;
    }
    return r;
}

void vt_wav_reader_destroy(vt_wav_reader_t *r)
{
    if (r) {
        free(r->out);
        free(r);
    }
}

int vt_wav_reader_rate(const vt_wav_reader_t *r)
{
    return r->state == R_HEADER ? 0 : r->rate;
}

const char *vt_wav_reader_error(const vt_wav_reader_t *r)
{
    return r->error;
}

/* KSDATAFORMAT_SUBTYPE_PCM as it lies in the file. */
static const unsigned char pcm_guid[16] = { 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                            0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 };

static int parse_fmt(vt_wav_reader_t *r, const unsigned char *b, uint32_t size)
{
    unsigned format, channels, block, bits;
    uint32_t rate;

    if (size < 16)
        return fail(r, "the fmt chunk is too short");
    format = get16(b);
    channels = get16(b + 2);
    rate = get32(b + 4);
    block = get16(b + 12);
    bits = get16(b + 14);
    if (format == WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40)
            return fail(r, "the extensible fmt chunk is too short");
        if (memcmp(b + 24, pcm_guid, sizeof pcm_guid) != 0)
            return fail(r, "the audio is not PCM");
    }
    else if (format != WAVE_FORMAT_PCM) {
        return fail(r, "the audio is not PCM");
    }
    if (channels != 1 && channels != 2)
        return fail(r, "the audio is neither mono nor stereo");
    if (bits != 16)
        return fail(r, "the samples are not 16-bit");
    if (rate < VT_WAV_RATE_MIN || rate > VT_WAV_RATE_MAX)
        return fail(r, "the sample rate is outside 8000..48000 Hz");
    if (block != channels * 2)
        return fail(r, "the block size does not match the channels");
    r->rate = (int)rate;
    r->channels = (int)channels;
    r->have_fmt = 1;
    return 0;
}

/* Walks the chunks in hdr: 1 when the data chunk has started (its first byte at r->pos),
 * 0 when more bytes are needed, -1 on malformed input. */
static int parse_header(vt_wav_reader_t *r)
{
    size_t magic = r->hlen < 12 ? r->hlen : 12;

    /* Checked as the bytes come, so a body that is no WAV fails at once. */
    if (memcmp(r->hdr, "RIFF", magic < 4 ? magic : 4) != 0
        || (magic > 8 && memcmp(r->hdr + 8, "WAVE", magic - 8) != 0))
        return fail(r, "not a RIFF/WAVE file");
    while (r->hlen >= r->pos + 8) {
        const unsigned char *id = r->hdr + r->pos;
        uint32_t size = get32(id + 4);
        uint64_t total = 8 + (uint64_t)size + (size & 1); /* chunks are padded to even */
        if (memcmp(id, "data", 4) == 0) {
            if (!r->have_fmt)
                return fail(r, "the data chunk comes before the fmt chunk");
            r->bounded = size != 0 && size != UINT32_MAX;
            r->left = size;
            r->pos += 8;
            return 1;
        }
        if (r->pos + total > VT_WAV_HEADER_MAX)
            return fail(r, "the header is larger than 4 KiB");
        if (r->hlen < r->pos + total)
            return 0;
        if (memcmp(id, "fmt ", 4) == 0 && parse_fmt(r, id + 8, size) < 0)
            return -1;
        r->pos += (size_t)total; /* LIST, fact, ...: skipped */
    }
    return 0;
}

/* Room in r->out for the samples bytes more input can complete. */
static int reserve(vt_wav_reader_t *r, size_t bytes)
{
    size_t need = (r->ncarry + bytes) / 2, cap = r->cap;
    int16_t *out;

    if (need <= r->cap)
        return 0;
    while (cap < need)
        cap *= 2;
    if (!(out = realloc(r->out, cap * sizeof *out)))
        return fail(r, "out of memory");
    r->out = out;
    r->cap = cap;
    return 0;
}

static int16_t frame_sample(const vt_wav_reader_t *r, const unsigned char *b)
{
    int left = (int16_t)get16(b);

    return r->channels == 1 ? (int16_t)left : (int16_t)((left + (int16_t)get16(b + 2)) / 2);
}

/* Appends the samples of len sample bytes to r->out at *n (reserve() made room). */
static void decode(vt_wav_reader_t *r, const unsigned char *b, size_t len, size_t *n)
{
    size_t fs = (size_t)r->channels * 2;

    if (r->state != R_DATA)
        return;
    if (r->bounded && len >= r->left) {
        len = (size_t)r->left;
        r->state = R_DONE; /* what follows the data chunk is not audio */
    }
    r->left -= len;
    while (r->ncarry && len) {
        r->carry[r->ncarry++] = *b++;
        len--;
        if (r->ncarry == fs) {
            r->out[(*n)++] = frame_sample(r, r->carry);
            r->ncarry = 0;
        }
    }
    if (r->ncarry)
        return; /* the piece ended inside the frame begun before */
    for (; len >= fs; b += fs, len -= fs)
        r->out[(*n)++] = frame_sample(r, b);
    memcpy(r->carry, b, len);
    r->ncarry = len;
}

int vt_wav_reader_feed(vt_wav_reader_t *r, const void *data, size_t len,
                       const int16_t **pcm, size_t *n)
{
    const unsigned char *in = data;
    size_t take = 0;

    *pcm = r->out;
    *n = 0;
    if (r->state == R_ERROR)
        return -1;
    if (r->state == R_DONE)
        return 0;
    if (r->state == R_HEADER) {
        int rc;
        take = len < VT_WAV_HEADER_MAX - r->hlen ? len : VT_WAV_HEADER_MAX - r->hlen;
        memcpy(r->hdr + r->hlen, in, take);
        r->hlen += take;
        if ((rc = parse_header(r)) < 0)
            return -1;
        if (rc == 0)
            return r->hlen == VT_WAV_HEADER_MAX ? fail(r, "the header is larger than 4 KiB")
                                                : 0;
        r->state = R_DATA;
        /* The first samples are what came after the data chunk's header in hdr. */
        if (reserve(r, r->hlen - r->pos + (len - take)) < 0)
            return -1;
        decode(r, r->hdr + r->pos, r->hlen - r->pos, n);
    }
    else if (reserve(r, len) < 0) {
        return -1;
    }
    decode(r, in + take, len - take, n);
    *pcm = r->out;
    return 0;
}

/* ---------------------------------------------------------------- to 8 kHz µ-law */

struct vt_ulaw8k {
    int rate;
    vt_resampler_t *rs;     /* NULL at 8000 Hz */
    int16_t *pcm8;
    uint8_t *ulaw;
    size_t cap;             /* samples in pcm8 and in ulaw */
};

vt_ulaw8k_t *vt_ulaw8k_create(int rate)
{
    vt_ulaw8k_t *u;

    if (rate < VT_WAV_RATE_MIN || rate > VT_WAV_RATE_MAX || !(u = calloc(1, sizeof *u)))
        return NULL;
    u->rate = rate;
    if (rate != 8000 && !(u->rs = vt_resampler_create(rate, 8000, VT_RESAMPLER_DEFAULT))) {
        free(u);
        return NULL;
    }
    return u;
}

void vt_ulaw8k_destroy(vt_ulaw8k_t *u)
{
    if (u) {
        vt_resampler_destroy(u->rs);
        free(u->pcm8);
        free(u->ulaw);
        free(u);
    }
}

int vt_ulaw8k_feed(vt_ulaw8k_t *u, const int16_t *pcm, size_t n, const uint8_t **ulaw,
                   size_t *len)
{
    /* vt_resampler_process wants room for n * out / in + 16. */
    size_t need = u->rs ? n * 8000 / (size_t)u->rate + 16 : n;

    *len = 0;
    *ulaw = u->ulaw;
    if (need > u->cap) {
        size_t cap = u->cap ? u->cap : 1024;
        int16_t *p8;
        uint8_t *ul;
        while (cap < need)
            cap *= 2;
        if (!(p8 = realloc(u->pcm8, cap * sizeof *p8)))
            return -1;
        u->pcm8 = p8;
        if (!(ul = realloc(u->ulaw, cap)))
            return -1;
        u->ulaw = ul;
        u->cap = cap;
    }
    if (u->rs) {
        n = vt_resampler_process(u->rs, pcm, n, u->pcm8, u->cap);
        pcm = u->pcm8;
    }
    vt_ulaw_encode(pcm, n, u->ulaw);
    *ulaw = u->ulaw;
    *len = n;
    return 0;
}
