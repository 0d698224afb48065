/* G.711 µ-law: the compile-time tables against the reference algorithm written out here
 * step by step (realtime-and-streams.md §5), for every byte and every sample. */
#include "vt_suites.h"
#include "vt_g711.h"

static uint8_t ref_encode(int16_t sample)
{
    int s = sample, sign = 0, exp = 0, mant;

    if (s < 0) {
        sign = 0x80;
        s = -s;
    }
    if (s > 32635)
        s = 32635;
    s += 0x84;
    for (int bit = 14; bit >= 8; bit--) {
        if (s & (1 << bit)) {
            exp = bit - 7;
            break;
        }
    }
    mant = (s >> (exp + 3)) & 0x0F;
    return (uint8_t)~(sign | exp << 4 | mant);
}

static int16_t ref_decode(uint8_t byte)
{
    int u = ~byte & 0xFF;
    int t = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 7);

    return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

START_TEST(test_decode_table)
{
    for (int b = 0; b < 256; b++)
        ck_assert_msg(vt_ulaw_to_pcm((uint8_t)b) == ref_decode((uint8_t)b), "byte 0x%02x", b);
}
END_TEST

START_TEST(test_encode_table)
{
    for (int x = -32768; x <= 32767; x++)
        ck_assert_msg(vt_ulaw_from_pcm((int16_t)x) == ref_encode((int16_t)x), "sample %d", x);
}
END_TEST

START_TEST(test_known_values)
{
    ck_assert_int_eq(vt_ulaw_to_pcm(0xFF), 0);
    ck_assert_int_eq(vt_ulaw_to_pcm(0x7F), 0);
    ck_assert_int_eq(vt_ulaw_to_pcm(0x80), 32124);
    ck_assert_int_eq(vt_ulaw_to_pcm(0x00), -32124);
    ck_assert_int_eq(vt_ulaw_to_pcm(0xFE), 8);
    ck_assert_int_eq(vt_ulaw_to_pcm(0x7E), -8);
    ck_assert_int_eq(vt_ulaw_to_pcm(0xEF), 132);   /* exp 1, mant 0 */
    ck_assert_int_eq(vt_ulaw_to_pcm(0xDF), 396);   /* exp 2, mant 0 */
    ck_assert_int_eq(vt_ulaw_from_pcm(0), VT_ULAW_SILENCE);
    ck_assert_int_eq(vt_ulaw_from_pcm(-1), 0x7F);
    ck_assert_int_eq(vt_ulaw_from_pcm(32767), 0x80);
    ck_assert_int_eq(vt_ulaw_from_pcm(-32768), 0x00);
    ck_assert_int_eq(vt_ulaw_from_pcm(1000), 0xCE);
    ck_assert_int_eq(vt_ulaw_from_pcm(-1000), 0x4E);
}
END_TEST

START_TEST(test_round_trip_every_byte)
{
    uint8_t in[256], out[256];
    int16_t pcm[256];

    for (int b = 0; b < 256; b++)
        in[b] = (uint8_t)b;
    vt_ulaw_decode(in, 256, pcm);
    vt_ulaw_encode(pcm, 256, out);
    for (int b = 0; b < 256; b++) {
        ck_assert_int_eq(pcm[b], vt_ulaw_to_pcm((uint8_t)b));
        ck_assert_msg(out[b] == (b == 0x7F ? 0xFF : b), "byte 0x%02x gave 0x%02x", b, out[b]);
    }
}
END_TEST

START_TEST(test_monotonic_and_close)
{
    /* Encoding is monotonic and the decoded value is the nearest step: error below half
     * a step (step 2 << (exp + 2)), so a tone keeps its shape. */
    int prev = -1;

    for (int x = 0; x <= 32124; x++) {
        uint8_t b = vt_ulaw_from_pcm((int16_t)x);
        int code = ~b & 0x7F, err = vt_ulaw_to_pcm(b) - x;
        ck_assert_int_ge(code, prev);
        prev = code;
        ck_assert_msg(err <= (4 << (code >> 4)) && -err <= (4 << (code >> 4)), "x %d", x);
    }
}
END_TEST

Suite *vt_suite_g711(void)
{
    Suite *s = suite_create("g711");
    TCase *tc = tcase_create("ulaw");

    tcase_add_test(tc, test_decode_table);
    tcase_add_test(tc, test_encode_table);
    tcase_add_test(tc, test_known_values);
    tcase_add_test(tc, test_round_trip_every_byte);
    tcase_add_test(tc, test_monotonic_and_close);
    suite_add_tcase(s, tc);
    return s;
}
