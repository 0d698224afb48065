/* vt_g711 — G.711 µ-law (PCMU) <-> 16-bit linear PCM, the audio of Twilio Media Streams
 * (8 kHz, mono, one byte per sample).
 *
 *   int16_t pcm[160];  uint8_t ulaw[160];
 *   vt_ulaw_decode(frame, 160, pcm);      // 20 ms from Twilio
 *   vt_ulaw_encode(pcm, 160, ulaw);       // 20 ms to Twilio
 *
 * The CCITT/Sun reference algorithm (bias 0x84, clip 32635, no zero trap): decoding is a
 * 256-entry table, encoding a sign test plus a 8192-entry table on the 13 bits of the
 * biased magnitude that matter, both built at compile time, so a frame costs a table
 * look-up per sample and nothing else. Decoding
 * then encoding gives back every byte except 0x7F (-0), which encodes as 0xFF (+0).
 * Pure functions, thread-safe, no allocation.
 */
#ifndef VT_G711_H
#define VT_G711_H

#include <stddef.h>
#include <stdint.h>

#define VT_ULAW_SILENCE 0xFF /* +0: what Twilio sends for silence */

uint8_t vt_ulaw_from_pcm(int16_t sample);
int16_t vt_ulaw_to_pcm(uint8_t ulaw);
/* n samples: in and out may not overlap. */
void vt_ulaw_decode(const uint8_t *in, size_t n, int16_t *out);
void vt_ulaw_encode(const int16_t *in, size_t n, uint8_t *out);

#endif
