/* vt_espeak — espeak-ng speech as Twilio hears it: text -> PCM at espeak's rate (22050 Hz)
 * -> 8 kHz (speexdsp) -> G.711 µ-law. Shared by the helper (offline replies, the apology
 * clip) and the simulator (the caller's voice).
 *
 *   if (vt_espeak_start() < 0) ... espeak-ng-data missing
 *   vt_espeak_set_language("en-US");
 *   uint8_t *ulaw = vt_espeak_ulaw("Hello.", &len);   // malloc'd; free() it
 *   vt_espeak_stop();
 *
 * espeak-ng is not thread-safe and keeps global state: one thread at a time may call these
 * (the caller serializes: the helper's speech worker, the simulator's joined threads).
 */
#ifndef VT_ESPEAK_H
#define VT_ESPEAK_H

#include <stddef.h>
#include <stdint.h>

/* Starts synchronous synthesis; returns espeak's sample rate, or -1 (no espeak-ng-data).
 * stderr is silenced meanwhile: espeak-ng opens an audio device client (PulseAudio, through
 * pcaudio) even for synchronous output, and that warns about a home directory a daemon
 * does not have. Call before other threads write to stderr. */
int vt_espeak_start(void);
/* "en-US" -> voice "en-us", else the primary subtag "en", else English. */
void vt_espeak_set_language(const char *language);
/* text (UTF-8) -> malloc'd 8 kHz µ-law, *len bytes; NULL when espeak fails or no memory. */
uint8_t *vt_espeak_ulaw(const char *text, size_t *len);
void vt_espeak_stop(void);

#endif
