/* vt_wav — WAV (RIFF/WAVE, 16-bit PCM) and raw PCM for the speech endpoints: the
 * utterance uploaded to speech-to-text as a file, a streaming reader for the audio a
 * text-to-speech endpoint sends back (an HTTP body in pieces of any size), and the
 * conversion of those pieces to Twilio's 8 kHz µ-law.
 *
 *   data = vt_wav_pcm16(p, pcm8k, n, 8000, &len);    // a whole file, 44-byte header
 *
 *   vt_wav_reader_t *r = vt_wav_reader_create(0);   // 0: a WAV header; 24000: raw PCM
 *   vt_ulaw8k_t *u = NULL;
 *   for each piece of the body:
 *       if (vt_wav_reader_feed(r, piece, len, &pcm, &n) < 0) fail(vt_wav_reader_error(r));
 *       if (n && !u) u = vt_ulaw8k_create(vt_wav_reader_rate(r));
 *       if (n && vt_ulaw8k_feed(u, pcm, n, &ulaw, &ulen) == 0) play(ulaw, ulen);
 *
 * The reader faces untrusted bytes (fuzzed): a header is at most VT_WAV_HEADER_MAX bytes,
 * only 16-bit PCM (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM subformat), 1 or 2
 * channels, 8000..48000 Hz are taken; anything else is an error that sticks. Reader and
 * converter allocate at create and only grow when a piece is larger than any before; one
 * object per stream, not shared between threads.
 */
#ifndef VT_WAV_H
#define VT_WAV_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>

#define VT_WAV_HEADER 44            /* bytes of the header vt_wav_pcm16 writes */
#define VT_WAV_HEADER_MAX 4096      /* bytes a reader takes before the data chunk */
#define VT_WAV_RATE_MIN 8000
#define VT_WAV_RATE_MAX 48000

/* A complete WAV file of n mono 16-bit samples at rate (little-endian, format 1), in p;
 * NULL when n is too large for a RIFF size. */
char *vt_wav_pcm16(apr_pool_t *p, const int16_t *pcm, size_t n, int rate, size_t *len);

/* ---------------------------------------------------------------- streaming reader */

typedef struct vt_wav_reader vt_wav_reader_t;

/* raw_rate > 0: the body is headerless PCM16 LE mono at that rate (OpenAI's
 * response_format "pcm" is 24000 Hz); 0: a WAV file. NULL when raw_rate is outside
 * VT_WAV_RATE_MIN..MAX or out of memory. */
vt_wav_reader_t *vt_wav_reader_create(int raw_rate);
void vt_wav_reader_destroy(vt_wav_reader_t *r);

/* The next len bytes of the body. 0 with *pcm, *n the mono samples they completed (*n may
 * be 0; valid until the next call; stereo is averaged to mono; a partial sample or frame
 * is kept for the next piece); -1 when the input is malformed or memory ran out, and on
 * every later call. Once a data chunk of declared size has been read, the rest (trailing
 * chunks) is ignored; a data size of 0 or 0xFFFFFFFF (a WAV streamed before its length
 * was known) reads to the end of the body. */
int vt_wav_reader_feed(vt_wav_reader_t *r, const void *data, size_t len,
                       const int16_t **pcm, size_t *n);
/* The sample rate; 0 until the header has been read. */
int vt_wav_reader_rate(const vt_wav_reader_t *r);
/* Why the last feed failed (a static string); NULL when none did. */
const char *vt_wav_reader_error(const vt_wav_reader_t *r);

/* ---------------------------------------------------------------- to 8 kHz µ-law */

/* PCM pieces at one rate -> 8 kHz µ-law pieces (speexdsp's resampler, kept between pieces,
 * then G.711), for playback on a Twilio stream. */
typedef struct vt_ulaw8k vt_ulaw8k_t;

/* NULL when rate is outside VT_WAV_RATE_MIN..MAX or out of memory. */
vt_ulaw8k_t *vt_ulaw8k_create(int rate);
void vt_ulaw8k_destroy(vt_ulaw8k_t *u);
/* n samples in; 0 with *ulaw, *len the µ-law they gave (valid until the next call; the
 * resampler keeps a few samples of history, so *len may lag n * 8000 / rate by a few),
 * -1 when out of memory. */
int vt_ulaw8k_feed(vt_ulaw8k_t *u, const int16_t *pcm, size_t n, const uint8_t **ulaw,
                   size_t *len);

#endif
