/* vta_pipeline — the voice pipeline's settings of `assistant set` and `assistant show`:
 * the speech-to-text and text-to-speech endpoints (URL, model, voice, format, API keys
 * sealed like the other secrets) and the turn settings. docs/voice-pipeline.md. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vta_assistant.h"
#include "vt_keyring.h"
#include "vt_sphinx.h"
#include "vt_util.h"

#define VTA_SPEECH_KEY_MAX 1024

int vta_pipeline_opt(int argc, char **argv, int *i, vta_pipeline_opts_t *o)
{
    int m;

    if ((m = vta_opt(argc, argv, i, "--stt-url", &o->stt_url)) != 0
        || (m = vta_opt(argc, argv, i, "--stt-model", &o->stt_model)) != 0
        || (m = vta_opt(argc, argv, i, "--stt-key-file", &o->stt_key_file)) != 0
        || (m = vta_opt(argc, argv, i, "--tts-url", &o->tts_url)) != 0
        || (m = vta_opt(argc, argv, i, "--tts-model", &o->tts_model)) != 0
        || (m = vta_opt(argc, argv, i, "--tts-voice", &o->tts_voice)) != 0
        || (m = vta_opt(argc, argv, i, "--tts-format", &o->tts_format)) != 0
        || (m = vta_opt(argc, argv, i, "--tts-key-file", &o->tts_key_file)) != 0
        || (m = vta_opt(argc, argv, i, "--end-silence-ms", &o->end_silence)) != 0
        || (m = vta_opt(argc, argv, i, "--barge-in-ms", &o->barge_in)) != 0
        || (m = vta_opt(argc, argv, i, "--reply-budget-ms", &o->reply_budget)) != 0
        || (m = vta_opt(argc, argv, i, "--recognizer-confidence",
                        &o->recognizer_confidence)) != 0) {
        return m < 0 ? -1 : 1;
    }
    if (strcmp(argv[*i], "--no-stt-key") == 0) {
        o->no_stt_key = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--no-tts-key") == 0) {
        o->no_tts_key = 1;
        return 1;
    }
    if (strcmp(argv[*i], "--stt-key") == 0 || strcmp(argv[*i], "--tts-key") == 0) {
        vta_usage_err("the API key is never accepted on the command line: give it on "
                      "standard input with %s-file - or in a file", argv[*i]);
        return -1;
    }
    return 0;
}

int vta_pipeline_opts_given(const vta_pipeline_opts_t *o)
{
    return o->stt_url || o->stt_model || o->stt_key_file || o->no_stt_key || o->tts_url
           || o->tts_model || o->tts_voice || o->tts_format || o->tts_key_file
           || o->no_tts_key || o->end_silence || o->barge_in || o->reply_budget
           || o->recognizer_confidence;
}

/* A model or voice name: printable, no spaces, at most max characters. */
static int name_ok(const char *opt, const char *v, apr_size_t max)
{
    if (v && (!*v || strlen(v) > max || strpbrk(v, " \t\r\n&#?")))
        return vta_err("%s must be 1 to %d characters without spaces, '&', '#' or '?'", opt,
                       (int)max);
    return VTA_OK;
}

static int ms_ok(const char *opt, const char *v, long lo, long hi)
{
    char *end = NULL;
    long n;

    if (!v)
        return VTA_OK;
    n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return vta_err("%s must be a number of milliseconds from %ld to %ld", opt, lo, hi);
    return VTA_OK;
}

/* The offline recognizer's threshold: 0 to 1, or "" (the built-in default). */
static int confidence_ok(const char *v)
{
    char *end = NULL;
    double x;

    if (!v || !*v)
        return VTA_OK;
    x = strtod(v, &end);
    if (*end || !(x >= 0 && x <= 1))
        return vta_err("--recognizer-confidence must be a number from 0 to 1 (or '' for the "
                       "default, %.2f)", VT_SPHINX_THRESHOLD);
    return VTA_OK;
}

/* "" turns an endpoint off (offline); anything else must be an http(s) base URL. */
static int url_ok(vta_ctx_t *c, const char *opt, const char **url)
{
    const char *err = NULL;

    if (*url && **url && !(*url = vt_base_url_normalize(c->pool, *url, &err)))
        return vta_err("%s %s (e.g. https://api.openai.com/v1)", opt, err);
    return VTA_OK;
}

int vta_pipeline_check(vta_ctx_t *c, vta_pipeline_opts_t *o)
{
    if (o->stt_key_file && o->no_stt_key)
        return vta_usage_err("give --stt-key-file or --no-stt-key, not both");
    if (o->tts_key_file && o->no_tts_key)
        return vta_usage_err("give --tts-key-file or --no-tts-key, not both");
    if (o->tts_format && strcmp(o->tts_format, "pcm") != 0 && strcmp(o->tts_format, "wav") != 0)
        return vta_err("--tts-format '%s' must be pcm or wav", o->tts_format);
    if (o->tts_voice && *o->tts_voice && !vt_voice_name_valid(o->tts_voice))
        return vta_err("--tts-voice '%s' is not a voice name (e.g. alloy)", o->tts_voice);
    if (name_ok("--stt-model", o->stt_model, 200) != VTA_OK
        || name_ok("--tts-model", o->tts_model, 200) != VTA_OK
        || ms_ok("--end-silence-ms", o->end_silence, 200, 3000) != VTA_OK
        || ms_ok("--barge-in-ms", o->barge_in, 60, 2000) != VTA_OK
        || ms_ok("--reply-budget-ms", o->reply_budget, 500, 20000) != VTA_OK
        || confidence_ok(o->recognizer_confidence) != VTA_OK
        || url_ok(c, "--stt-url", &o->stt_url) != VTA_OK
        || url_ok(c, "--tts-url", &o->tts_url) != VTA_OK)
        return VTA_FAIL;
    return VTA_OK;
}

/* Reads the key in file and seals it for the company: *blob (hex) and *key_id. */
static int seal(vta_ctx_t *c, const char *company_id, const char *slug, const char *file,
                const char *prompt, const char **blob, const char **key_id)
{
    const char *key = NULL, *err = NULL;
    vt_keyring_t *ring = NULL;

    if (vta_read_secret(c, file, "API key", prompt, slug, VTA_SPEECH_KEY_MAX, &key) != VTA_OK
        || vta_load_keyring(c, &ring) != VTA_OK)
        return VTA_FAIL;
    if (vt_secret_encrypt(c->pool, ring, company_id, key, key_id, blob, &err) != APR_SUCCESS)
        return vta_err("cannot encrypt the %s: %s", prompt, err ? err : "unknown error");
    return VTA_OK;
}

static int constraint_err(vta_ctx_t *c, PGresult *res, const char *slug)
{
    const char *con = vta_constraint(res);
    const char *pair = !con ? NULL
                       : strcmp(con, "companies_stt_complete") == 0 ? "--stt-url and --stt-model"
                       : strcmp(con, "companies_tts_complete") == 0 ? "--tts-url and --tts-model"
                       : NULL;

    if (pair) {
        PQclear(res);
        return vta_err("%s go together (company '%s' would have one without the other)", pair,
                       slug);
    }
    return vta_db_fail(c, res, "cannot update the voice pipeline settings");
}

int vta_pipeline_apply(vta_ctx_t *c, const char *company_id, const char *slug,
                       vta_pipeline_opts_t *o)
{
    const char *p[17] = { company_id };
    PGresult *res;

    if (o->stt_key_file
        && seal(c, company_id, slug, o->stt_key_file, "speech-to-text API key", &p[3], &p[4])
               != VTA_OK)
        return VTA_FAIL;
    if (o->tts_key_file
        && seal(c, company_id, slug, o->tts_key_file, "text-to-speech API key", &p[10], &p[11])
               != VTA_OK)
        return VTA_FAIL;
    p[1] = o->stt_url;
    p[2] = o->stt_model;
    p[5] = o->no_stt_key ? "t" : "f";
    p[6] = o->tts_url;
    p[7] = o->tts_model;
    p[8] = o->tts_voice;
    p[9] = o->tts_format;
    p[12] = o->no_tts_key ? "t" : "f";
    p[13] = o->end_silence;
    p[14] = o->barge_in;
    p[15] = o->reply_budget;
    p[16] = o->recognizer_confidence;
    /* "" clears an endpoint and its model (and voice) with it. */
    res = vta_q(c,
                "UPDATE companies SET"
                " stt_url = CASE WHEN $2::text IS NULL THEN stt_url ELSE nullif($2::text, '') END,"
                " stt_model = CASE WHEN $2::text = '' THEN NULL"
                "   ELSE coalesce($3, stt_model) END,"
                " stt_key_enc = CASE WHEN $6::boolean THEN NULL"
                "   ELSE coalesce(decode($4, 'hex'), stt_key_enc) END,"
                " stt_key_id = CASE WHEN $6::boolean THEN NULL ELSE coalesce($5, stt_key_id) END,"
                " tts_url = CASE WHEN $7::text IS NULL THEN tts_url ELSE nullif($7::text, '') END,"
                " tts_model = CASE WHEN $7::text = '' THEN NULL"
                "   ELSE coalesce($8, tts_model) END,"
                " tts_voice = CASE WHEN $7::text = '' THEN NULL"
                "   WHEN $9::text IS NULL THEN tts_voice ELSE nullif($9::text, '') END,"
                " tts_format = coalesce($10, tts_format),"
                " tts_key_enc = CASE WHEN $13::boolean THEN NULL"
                "   ELSE coalesce(decode($11, 'hex'), tts_key_enc) END,"
                " tts_key_id = CASE WHEN $13::boolean THEN NULL ELSE coalesce($12, tts_key_id) END,"
                " end_silence_ms = coalesce($14::integer, end_silence_ms),"
                " barge_in_ms = coalesce($15::integer, barge_in_ms),"
                " reply_budget_ms = coalesce($16::integer, reply_budget_ms),"
                " recognizer_confidence = CASE WHEN $17::text IS NULL THEN recognizer_confidence"
                "   ELSE nullif($17::text, '')::real END,"
                " updated_at = now()"
                " WHERE id = $1::bigint",
                17, p);
    if (!vta_res_ok(res))
        return constraint_err(c, res, slug);
    PQclear(res);
    if (o->stt_key_file)
        printf("speech-to-text API key of %s stored encrypted\n", slug);
    if (o->tts_key_file)
        printf("text-to-speech API key of %s stored encrypted\n", slug);
    return VTA_OK;
}

int vta_pipeline_print(vta_ctx_t *c, const char *slug)
{
    const char *params[1] = { slug };
    PGresult *res = vta_q(c,
                          "SELECT coalesce(stt_url, '(none: offline)'), coalesce(stt_model, '-'),"
                          " CASE WHEN stt_key_enc IS NULL THEN 'none'"
                          "   ELSE 'set (sealed with key ' || stt_key_id || ')' END,"
                          " coalesce(tts_url, '(none: espeak-ng)'), coalesce(tts_model, '-'),"
                          " coalesce(tts_voice, '(default)'), tts_format,"
                          " CASE WHEN tts_key_enc IS NULL THEN 'none'"
                          "   ELSE 'set (sealed with key ' || tts_key_id || ')' END,"
                          " end_silence_ms, barge_in_ms, reply_budget_ms,"
                          " recognizer_confidence"
                          " FROM companies WHERE slug = $1",
                          1, params);

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the voice pipeline settings");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no company with slug '%s'", slug);
    }
    printf("stt url: %s\nstt model: %s\nstt api key: %s\ntts url: %s\ntts model: %s\n"
           "tts voice: %s\ntts format: %s\ntts api key: %s\nend silence: %s ms\n"
           "barge-in after: %s ms\nreply budget: %s ms\n",
           PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
           PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
           PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7), PQgetvalue(res, 0, 8),
           PQgetvalue(res, 0, 9), PQgetvalue(res, 0, 10));
    if (PQgetisnull(res, 0, 11))
        printf("recognizer confidence: %.2f (the default)\n", VT_SPHINX_THRESHOLD);
    else
        printf("recognizer confidence: %.2f\n", atof(PQgetvalue(res, 0, 11)));
    PQclear(res);
    return VTA_OK;
}
