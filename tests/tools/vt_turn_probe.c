/* vt_turn_probe — runs the turn detector (vt_turn) over 8 kHz µ-law audio and prints
 * what it found, one event a line: "start MS", "barge MS", "end MS SAMPLES",
 * "dropped MS" (MS: the end of the frame that brought it). The corpus test
 * (tests/integration/test_turn_corpus.py) scores these against its labels.
 *
 *   vt_turn_probe [--speexdsp] [--end-silence MS] [--min-speech MS] < call.ulaw
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_g711.h"
#include "vt_turn.h"

int main(int argc, char **argv)
{
    vt_turn_conf_t conf = { 0 };
    uint8_t ulaw[VT_VAD_FRAME];
    int16_t pcm[VT_VAD_FRAME];
    long frames = 0;
    vt_turn_t *t;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--speexdsp") == 0) {
            conf.speexdsp = 1;
        }
        else if (strcmp(argv[i], "--end-silence") == 0 && i + 1 < argc) {
            conf.end_silence_ms = atoi(argv[++i]);
        }
        else if (strcmp(argv[i], "--min-speech") == 0 && i + 1 < argc) {
            conf.min_speech_ms = atoi(argv[++i]);
        }
        else {
            fprintf(stderr, "usage: vt_turn_probe [--speexdsp] [--end-silence MS] "
                            "[--min-speech MS] < audio.ulaw\n");
            return 2;
        }
    }
    if (!(t = vt_turn_create(&conf))) {
        fprintf(stderr, "vt_turn_probe: out of memory\n");
        return 1;
    }
    while (fread(ulaw, 1, sizeof ulaw, stdin) == sizeof ulaw) {
        size_t n = 0;
        long ms = ++frames * 20;

        vt_ulaw_decode(ulaw, VT_VAD_FRAME, pcm);
        switch (vt_turn_frame(t, pcm)) {
        case VT_TURN_START:
            printf("start %ld\n", ms);
            break;
        case VT_TURN_BARGE_IN:
            printf("barge %ld\n", ms);
            break;
        case VT_TURN_END:
            vt_turn_utterance(t, &n);
            printf("end %ld %zu\n", ms, n);
            break;
        case VT_TURN_DROPPED:
            printf("dropped %ld\n", ms);
            break;
        default:
            break;
        }
    }
    vt_turn_destroy(t);
    return 0;
}
