/* vta_stream — the stream-mode settings of `assistant set` and `assistant show`: the mode,
 * and the realtime model (URL, model, voice, dialect, audio format, transcription model,
 * API key sealed like the other secrets). docs/stream-mode.md. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vta_assistant.h"
#include "vt_keyring.h"
#include "vt_util.h"

#define VTA_RT_KEY_MAX 1024

int vta_stream_opt(int argc, char **argv, int *i, vta_stream_opts_t *o)
{
    int m;

    if ((m = vta_pipeline_opt(argc, argv, i, &o->pipeline)) != 0)
        return m;
    if ((m = vta_opt(argc, argv, i, "--mode", &o->mode)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-url", &o->url)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-model", &o->model)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-voice", &o->voice)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-dialect", &o->dialect)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-audio", &o->audio)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-transcription", &o->transcription)) != 0
        || (m = vta_opt(argc, argv, i, "--realtime-key-file", &o->key_file)) != 0) {
        return m < 0 ? -1 : 1;
    }
    if (strcmp(argv[*i], "--no-realtime-key") == 0) {
        o->no_key = 1;
        return 1;
    }
    return 0;
}

int vta_stream_opts_given(const vta_stream_opts_t *o)
{
    return o->mode || o->url || o->model || o->voice || o->dialect || o->audio
           || o->transcription || o->key_file || o->no_key
           || vta_pipeline_opts_given(&o->pipeline);
}

static int one_of(const char *opt, const char *v, const char *a, const char *b)
{
    if (v && strcmp(v, a) != 0 && strcmp(v, b) != 0)
        return vta_err("%s '%s' must be %s or %s", opt, v, a, b);
    return VTA_OK;
}

/* A model or voice name: printable, no spaces, at most max characters; "" allowed when
 * clearable. */
static int name_ok(const char *opt, const char *v, apr_size_t max, int clearable)
{
    if (!v || (clearable && !*v))
        return VTA_OK;
    if (!*v || strlen(v) > max || strpbrk(v, " \t\r\n&#?"))
        return vta_err("%s must be 1 to %d characters without spaces, '&', '#' or '?'", opt,
                       (int)max);
    return VTA_OK;
}

int vta_stream_check(vta_ctx_t *c, vta_stream_opts_t *o)
{
    const char *err = NULL;

    if (o->key_file && o->no_key)
        return vta_usage_err("give --realtime-key-file or --no-realtime-key, not both");
    if (one_of("--mode", o->mode, "gather", "stream") != VTA_OK
        || one_of("--realtime-dialect", o->dialect, "ga", "beta") != VTA_OK
        || one_of("--realtime-audio", o->audio, "pcmu", "pcm16") != VTA_OK
        || name_ok("--realtime-model", o->model, 200, 0) != VTA_OK
        || name_ok("--realtime-transcription", o->transcription, 100, 1) != VTA_OK)
        return VTA_FAIL;
    if (o->voice && *o->voice && !vt_voice_name_valid(o->voice))
        return vta_err("--realtime-voice '%s' is not a voice name (e.g. marin)", o->voice);
    /* "" turns the realtime model off: the tenant's stream calls run offline. */
    if (o->url && *o->url && !(o->url = vt_ws_url_normalize(c->pool, o->url, &err)))
        return vta_err("--realtime-url %s (e.g. wss://api.openai.com/v1/realtime)", err);
    return vta_pipeline_check(c, &o->pipeline);
}

int vta_stream_apply(vta_ctx_t *c, const char *company_id, const char *slug,
                     vta_stream_opts_t *o)
{
    const char *key = NULL, *key_id = NULL, *blob = NULL, *err = NULL, *params[11];
    vt_keyring_t *ring = NULL;
    PGresult *res;

    if (o->key_file) {
        if (vta_read_secret(c, o->key_file, "API key", "Realtime API key", slug,
                            VTA_RT_KEY_MAX, &key) != VTA_OK
            || vta_load_keyring(c, &ring) != VTA_OK)
            return VTA_FAIL;
        if (vt_secret_encrypt(c->pool, ring, company_id, key, &key_id, &blob, &err)
            != APR_SUCCESS)
            return vta_err("cannot encrypt the realtime API key: %s",
                           err ? err : "unknown error");
    }
    params[0] = company_id;
    params[1] = o->mode;
    params[2] = o->url;
    params[3] = o->model;
    params[4] = o->voice;
    params[5] = o->dialect;
    params[6] = o->audio;
    params[7] = o->transcription;
    params[8] = blob;
    params[9] = key_id;
    params[10] = o->no_key ? "t" : "f";
    /* "" clears an optional setting; clearing the URL clears the model with it. */
    res = vta_q(c,
                "UPDATE companies SET"
                " assistant_mode = coalesce($2, assistant_mode),"
                " realtime_url = CASE WHEN $3::text IS NULL THEN realtime_url"
                "   ELSE nullif($3::text, '') END,"
                " realtime_model = CASE WHEN $3::text = '' THEN NULL"
                "   ELSE coalesce($4, realtime_model) END,"
                " realtime_voice = CASE WHEN $5::text IS NULL THEN realtime_voice"
                "   ELSE nullif($5::text, '') END,"
                " realtime_dialect = coalesce($6, realtime_dialect),"
                " realtime_audio = coalesce($7, realtime_audio),"
                " realtime_transcription = CASE WHEN $8::text IS NULL"
                "   THEN realtime_transcription ELSE nullif($8::text, '') END,"
                " realtime_key_enc = CASE WHEN $11::boolean THEN NULL"
                "   ELSE coalesce(decode($9, 'hex'), realtime_key_enc) END,"
                " realtime_key_id = CASE WHEN $11::boolean THEN NULL"
                "   ELSE coalesce($10, realtime_key_id) END,"
                " updated_at = now()"
                " WHERE id = $1::bigint",
                11, params);
    if (!vta_res_ok(res)) {
        const char *con = vta_constraint(res);
        if (con && strcmp(con, "companies_realtime_complete") == 0) {
            PQclear(res);
            return vta_err("--realtime-url and --realtime-model go together (company '%s' "
                           "would have one without the other)", slug);
        }
        return vta_db_fail(c, res, "cannot update the stream settings");
    }
    PQclear(res);
    if (key)
        printf("realtime API key of %s stored encrypted\n", slug);
    return vta_pipeline_opts_given(&o->pipeline)
               ? vta_pipeline_apply(c, company_id, slug, &o->pipeline) : VTA_OK;
}

int vta_stream_print(vta_ctx_t *c, const char *slug)
{
    const char *params[1] = { slug };
    PGresult *res = vta_q(c,
                          "SELECT assistant_mode, coalesce(realtime_url, '(none: offline)'),"
                          " coalesce(realtime_model, '-'), coalesce(realtime_voice, '(default)'),"
                          " realtime_dialect, realtime_audio,"
                          " coalesce(realtime_transcription, '(none)'),"
                          " CASE WHEN realtime_key_enc IS NULL THEN 'none'"
                          "   ELSE 'set (sealed with key ' || realtime_key_id || ')' END"
                          " FROM companies WHERE slug = $1",
                          1, params);

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the stream settings");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no company with slug '%s'", slug);
    }
    printf("mode: %s\nrealtime url: %s\nrealtime model: %s\nrealtime voice: %s\n"
           "realtime dialect: %s\nrealtime audio: %s\nrealtime transcription: %s\n"
           "realtime api key: %s\n",
           PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
           PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
           PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7));
    PQclear(res);
    return vta_pipeline_print(c, slug);
}
