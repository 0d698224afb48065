/* vta_assistant — `assistant import|show` (the script assistant's document per company).
 * Kept out of vta.h only so that this verb could be added without editing shared headers;
 * fold it into vta.h's verb list at will. */
#ifndef VTA_ASSISTANT_H
#define VTA_ASSISTANT_H

#include "vta.h"

int vta_cmd_assistant(vta_ctx_t *c, int argc, char **argv);

/* ---- the voice pipeline's settings (vta_pipeline.c), part of the stream settings */
typedef struct vta_pipeline_opts {
    const char *stt_url, *stt_model, *stt_key_file;
    const char *tts_url, *tts_model, *tts_voice, *tts_format, *tts_key_file;
    const char *end_silence, *barge_in, *reply_budget;
    const char *recognizer_confidence;  /* "" resets it to the built-in default */
    int no_stt_key, no_tts_key;
} vta_pipeline_opts_t;
int vta_pipeline_opt(int argc, char **argv, int *i, vta_pipeline_opts_t *o);
int vta_pipeline_opts_given(const vta_pipeline_opts_t *o);
int vta_pipeline_check(vta_ctx_t *c, vta_pipeline_opts_t *o);
int vta_pipeline_apply(vta_ctx_t *c, const char *company_id, const char *slug,
                       vta_pipeline_opts_t *o);
int vta_pipeline_print(vta_ctx_t *c, const char *slug);

/* ---- the stream-mode settings of assistant set/show (vta_stream.c) */
typedef struct vta_stream_opts {
    const char *mode, *url, *model, *voice, *dialect, *audio, *transcription, *key_file;
    int no_key;
    vta_pipeline_opts_t pipeline;
} vta_stream_opts_t;
/* Takes argv[*i] (and its value) when it is a stream option: 1 taken, 0 not one, -1 usage
 * error (reported). */
int vta_stream_opt(int argc, char **argv, int *i, vta_stream_opts_t *o);
int vta_stream_opts_given(const vta_stream_opts_t *o);
/* Validates (and normalizes the URL); reports and returns VTA_FAIL/VTA_USAGE. */
int vta_stream_check(vta_ctx_t *c, vta_stream_opts_t *o);
/* Seals the key if one is given and updates the company, inside the caller's transaction. */
int vta_stream_apply(vta_ctx_t *c, const char *company_id, const char *slug,
                     vta_stream_opts_t *o);
/* "mode: ...", "realtime url: ..." lines for assistant show (the key only as set/none). */
int vta_stream_print(vta_ctx_t *c, const char *slug);

#endif
