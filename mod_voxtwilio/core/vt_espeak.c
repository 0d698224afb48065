/* vt_espeak — see vt_espeak.h. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <espeak-ng/speak_lib.h>

#include "vt_audio.h"
#include "vt_espeak.h"

static int espeak_rate; /* 0 until started */

/* What one synthesis collects. */
typedef struct pcm_buf {
    int16_t *samples;
    size_t n, cap;
    int failed;
} pcm_buf_t;

static int on_samples(short *wav, int n, espeak_EVENT *ev)
{
    pcm_buf_t *b = ev ? ev->user_data : NULL;

    if (!b || !wav || n <= 0) {
        return 0;
    }
    if (b->n + (size_t)n > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 65536) + (size_t)n;
        int16_t *more = realloc(b->samples, cap * sizeof *more);
        if (!more) {
            b->failed = 1;
            return 1; /* abort */
        }
        b->samples = more;
        b->cap = cap;
    }
    memcpy(b->samples + b->n, wav, (size_t)n * sizeof *wav);
    b->n += (size_t)n;
    return 0;
}

int vt_espeak_start(void)
{
    int err_fd, null_fd;

    if (espeak_rate > 0) {
        return espeak_rate;
    }
    fflush(stderr);
    err_fd = dup(STDERR_FILENO);
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (err_fd >= 0 && null_fd >= 0) {
        dup2(null_fd, STDERR_FILENO);
    }
    espeak_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL, 0);
    if (err_fd >= 0 && null_fd >= 0) {
        dup2(err_fd, STDERR_FILENO);
    }
    if (err_fd >= 0) {
        close(err_fd);
    }
    if (null_fd >= 0) {
        close(null_fd);
    }
    if (espeak_rate <= 0) {
        espeak_rate = 0;
        return -1;
    }
    espeak_SetSynthCallback(on_samples);
    return espeak_rate;
}

void vt_espeak_set_language(const char *language)
{
    char name[32];
    size_t i;

    for (i = 0; language && language[i] && i < sizeof name - 1; i++) {
        name[i] = (char)tolower((unsigned char)language[i]);
    }
    name[i] = '\0';
    if (i && espeak_SetVoiceByName(name) == EE_OK) {
        return;
    }
    name[strcspn(name, "-")] = '\0';
    if (!*name || espeak_SetVoiceByName(name) != EE_OK) {
        espeak_SetVoiceByName("en");
    }
}

uint8_t *vt_espeak_ulaw(const char *text, size_t *len)
{
    pcm_buf_t b = { 0 };
    uint8_t *ulaw = NULL;

    if (espeak_rate > 0
        && espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
                        espeakCHARS_UTF8 | espeakENDPAUSE, NULL, &b) == EE_OK
        && espeak_Synchronize() == EE_OK && !b.failed && b.n > 0) {
        ulaw = vt_pcm_to_ulaw8k(b.samples, b.n, espeak_rate, len);
    }
    free(b.samples);
    return ulaw;
}

void vt_espeak_stop(void)
{
    if (espeak_rate > 0) {
        espeak_Terminate();
    }
    espeak_rate = 0;
}
