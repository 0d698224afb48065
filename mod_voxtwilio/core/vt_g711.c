/* vt_g711 — µ-law <-> PCM16 by table look-up; see vt_g711.h. Both tables are written
 * out by the preprocessor from the reference algorithm (realtime-and-streams.md §5), so
 * there is no start-up code and nothing to race on; tests/unit/check_g711.c compares
 * every entry with the reference formula.
 */
#include "vt_g711.h"

#define ULAW_BIAS 0x84
#define ULAW_CLIP 32635

/* ---------------------------------------------------------------- decoding
 * u = ~byte; t = (((u & 0xF) << 3) + 0x84) << ((u >> 4) & 7);
 * value = u & 0x80 ? 0x84 - t : t - 0x84. */
#define DEC_U(b) ((~(b)) & 0xFF)
#define DEC_T(b) ((((DEC_U(b) & 0x0F) << 3) + ULAW_BIAS) << ((DEC_U(b) >> 4) & 7))
#define DEC(b) (int16_t)((DEC_U(b) & 0x80) ? ULAW_BIAS - DEC_T(b) : DEC_T(b) - ULAW_BIAS),
#define DEC4(b) DEC(b) DEC((b) + 1) DEC((b) + 2) DEC((b) + 3)
#define DEC16(b) DEC4(b) DEC4((b) + 4) DEC4((b) + 8) DEC4((b) + 12)
#define DEC64(b) DEC16(b) DEC16((b) + 16) DEC16((b) + 32) DEC16((b) + 48)

static const int16_t ulaw_dec[256] = { DEC64(0) DEC64(64) DEC64(128) DEC64(192) };

/* ---------------------------------------------------------------- encoding
 * The reference: s = min(|x|, 32635) + 0x84; exp = highest set bit of s among 7..14,
 * minus 7 (0 below bit 8); mant = (s >> (exp + 3)) & 0xF; byte = ~(sign | exp << 4 | mant).
 * The bias has its two low bits clear, so the code depends on w = s >> 2 only (13 bits,
 * s < 32768), and for w in [32 << e, 64 << e) exp is e and mant is (w >> (e + 1)) & 0xF:
 * segment e is its 16 codes, each repeated 2 << e times. The table holds the byte for a
 * positive sample; a negative one clears bit 7. w < 33 never occurs (s >= 0x84). */
#define ENC1(c) (uint8_t)(0xFF & ~(c)),
#define ENC2(c) ENC1(c) ENC1(c)
#define ENC4(c) ENC2(c) ENC2(c)
#define ENC8(c) ENC4(c) ENC4(c)
#define ENC16(c) ENC8(c) ENC8(c)
#define ENC32(c) ENC16(c) ENC16(c)
#define ENC64(c) ENC32(c) ENC32(c)
#define ENC128(c) ENC64(c) ENC64(c)
#define ENC256(c) ENC128(c) ENC128(c)
#define SEG(e, R) \
    R((e) << 4 | 0) R((e) << 4 | 1) R((e) << 4 | 2) R((e) << 4 | 3) \
    R((e) << 4 | 4) R((e) << 4 | 5) R((e) << 4 | 6) R((e) << 4 | 7) \
    R((e) << 4 | 8) R((e) << 4 | 9) R((e) << 4 | 10) R((e) << 4 | 11) \
    R((e) << 4 | 12) R((e) << 4 | 13) R((e) << 4 | 14) R((e) << 4 | 15)

static const uint8_t ulaw_enc[8192] = {
    ENC32(0) /* w 0..31: unused */
    SEG(0, ENC2) SEG(1, ENC4) SEG(2, ENC8) SEG(3, ENC16)
    SEG(4, ENC32) SEG(5, ENC64) SEG(6, ENC128) SEG(7, ENC256)
};

_Static_assert(sizeof(ulaw_enc) == 8192 && (ULAW_CLIP + ULAW_BIAS) >> 2 < 8192,
               "the encoding table covers every clipped sample");

uint8_t vt_ulaw_from_pcm(int16_t sample)
{
    int s = sample;
    unsigned mask = 0xFF;

    if (s < 0) {
        s = -s;
        mask = 0x7F;
    }
    if (s > ULAW_CLIP)
        s = ULAW_CLIP;
    return (uint8_t)(ulaw_enc[(s + ULAW_BIAS) >> 2] & mask);
}

int16_t vt_ulaw_to_pcm(uint8_t ulaw)
{
    return ulaw_dec[ulaw];
}

void vt_ulaw_decode(const uint8_t *in, size_t n, int16_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = ulaw_dec[in[i]];
}

void vt_ulaw_encode(const int16_t *in, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = vt_ulaw_from_pcm(in[i]);
}
