/* vt_tenant — finding the tenant of a Twilio webhook, written once for the module (mod_dbd)
 * and the helper (libpq, replaying the outage spool). The caller supplies only the database
 * access, as a lookup callback running one of the statements below.
 *
 * Order: the path's slug if there is one; else, for callbacks about an existing call, the
 * call's own row; else the called number (To); else, for callbacks (outbound calls), the
 * calling number (From). The tenant must be enabled, have an enabled Twilio integration,
 * and the request's AccountSid must be its own: a tenant never answers another account's call.
 */
#ifndef VT_TENANT_H
#define VT_TENANT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vt_events.h"
#include "vt_llm.h"

typedef struct vt_tenant {
    const char *company_id;         /* decimal; also the credential's associated data */
    const char *slug;
    int enabled;
    const char *greeting, *voice, *language;
    int has_integration;            /* 0 when the company has no Twilio integration yet */
    int integration_enabled;
    const char *account_sid;
    const char *token_blob_hex;     /* the sealed auth token */
    const char *key_id;
    const char *escalation_phone;   /* E.164 or NULL: where a caller asking for a human goes */
    const char *notification_phone; /* E.164 or NULL: who gets an SMS when a call escalates */
    const char *assistant_script;   /* the script assistant's JSON, or NULL for the built-ins */
    const char *name;               /* the company's name (told to the model) */
    const char *assistant_kind;     /* "script" or "llm" */
    const char *llm_base_url, *llm_model; /* NULL unless a model is configured */
    const char *llm_key_blob_hex;   /* the sealed API key, or NULL (no key) */
    const char *llm_key_id;
    double llm_temperature;
    int llm_max_tokens;
    const char *languages_json;     /* the languages besides the primary (sql/003_llm.sql) */
    const char *system_prompt;      /* the tenant's instructions for its model, or NULL */
    const char *assistant_mode;     /* "gather" or "stream" */
    int recording;                  /* record its calls */
    /* stream mode's realtime model (sql/004_streams.sql); url NULL: the offline mode */
    const char *realtime_url, *realtime_model, *realtime_voice;
    const char *realtime_dialect;   /* "ga" or "beta" */
    const char *realtime_audio;     /* "pcmu" or "pcm16" */
    const char *realtime_transcription; /* the caller's transcription model, or NULL */
    const char *realtime_key_blob_hex;  /* the sealed API key, or NULL (no key) */
    const char *realtime_key_id;
    /* the voice pipeline's endpoints (sql/005_pipeline.sql); url NULL: offline */
    const char *stt_url, *stt_model, *stt_key_blob_hex, *stt_key_id;
    const char *tts_url, *tts_model, *tts_voice, *tts_format, *tts_key_blob_hex, *tts_key_id;
    int end_silence_ms;             /* turn detection; 0: vt_turn's default */
    int barge_in_ms;
    int reply_budget_ms;            /* silence before a filler; 0: the default */
    double recognizer_confidence;   /* the offline recognizer's threshold; -1: the default */
    const char *version;            /* companies.tenant_version (sql/009), as text */
    const char *const *row;         /* the columns it was filled from (vt_tenant_cache_put) */
} vt_tenant_t;

/* Each selects VT_TENANT_NCOLS columns, in vt_tenant_from_row's order, by one key. */
#define VT_TENANT_NCOLS 49
extern const vt_event_stmt_t vt_tenant_by_number_stmt;
extern const vt_event_stmt_t vt_tenant_by_slug_stmt;
extern const vt_event_stmt_t vt_tenant_by_call_stmt;

/* Fills t from one result row (cols[i] NULL for SQL NULL; strings are referenced, not
 * copied: copy them into p first if the row does not outlive t). */
void vt_tenant_from_row(const char *const *cols, vt_tenant_t *t);

/* 1 when the tenant's turns go to its model (kind "llm" with an endpoint and a model). */
int vt_tenant_is_llm(const vt_tenant_t *t);
/* 1 when its calls go over Media Streams (assistant_mode "stream"). */
int vt_tenant_is_stream(const vt_tenant_t *t);
/* 1 when stream mode talks to a realtime model (else the voice pipeline or offline). */
int vt_tenant_has_realtime(const vt_tenant_t *t);
/* 1 when the pipeline has a speech-to-text / text-to-speech endpoint (else offline: the
 * DTMF menu / espeak-ng). */
int vt_tenant_has_stt(const vt_tenant_t *t);
int vt_tenant_has_tts(const vt_tenant_t *t);
/* The tenant's languages: [0] the primary (language, voice), then the extra ones; *n >= 1. */
const vt_llm_language_t *vt_tenant_languages(apr_pool_t *p, const vt_tenant_t *t, int *n);

/* Runs stmt with key; 1 found (*t filled), 0 no row, -1 the database failed. */
typedef int vt_tenant_lookup_fn(void *baton, const vt_event_stmt_t *stmt, const char *key,
                                vt_tenant_t *t);

typedef enum {
    VT_TENANT_FOUND = 0,
    VT_TENANT_REFUSED,   /* unknown, disabled, no integration or a foreign AccountSid */
    VT_TENANT_DB_FAILED
} vt_tenant_rc;

/* Resolves and checks the tenant of a webhook. On VT_TENANT_REFUSED *why says why (it may
 * name the slug or number, never a secret). */
vt_tenant_rc vt_tenant_resolve(apr_pool_t *p, vt_tenant_lookup_fn *lookup, void *baton,
                               const char *slug, const apr_array_header_t *params,
                               int is_callback, vt_tenant_t *t, const char **why);

#endif
