/* vta_assistant — `assistant import SLUG FILE.json` and `assistant show SLUG`. The document
 * is validated by the core's vt_script_parse (the same code the module runs) and stored in
 * its normalized form, so what `show` prints is what the gateway uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include <json-c/json.h>

#include "vta.h"
#include "vta_assistant.h"
#include "vt_assistant.h"
#include "vt_keyring.h"
#include "vt_llm.h"
#include "vt_util.h"

/* OpenAI keys are ~160 characters; room for longer tokens of self-hosted gateways. */
#define VTA_API_KEY_MAX 1024
#define VTA_PROMPT_MAX 8000 /* characters of a system prompt */
/* Far above any valid script (200 intents x 50 phrases x 1000 characters is ~40 MB only in
 * theory); a bound so that a wrong FILE (a disk image...) fails fast. */
#define VTA_SCRIPT_FILE_MAX (16L * 1024 * 1024)

static int assistant_import(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *file, *json, *err, *params[2];
    apr_size_t len;
    vt_script_t *script;
    PGresult *res;
    int n;

    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
        return vta_usage_err("usage: assistant import SLUG FILE.json");
    slug = argv[1];
    file = argv[2];
    if (vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (!(json = vta_read_file(c->pool, file, VTA_SCRIPT_FILE_MAX, &len)))
        return VTA_FAIL;
    if (vt_script_parse(c->pool, json, len, &script, &err) != APR_SUCCESS)
        return vta_err("%s: %s", file, err);

    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    /* One statement: the script is replaced entirely or not at all. */
    params[0] = slug;
    params[1] = vt_script_to_json(c->pool, script);
    res = vta_q(c,
                "UPDATE companies SET assistant_script = $2::jsonb, updated_at = now()"
                " WHERE slug = $1",
                2, params);
    if (!vta_res_ok(res)) {
        /* 42703: the column of migration 002 is missing. */
        if (strcmp(vta_sqlstate(res), "42703") == 0) {
            PQclear(res);
            return vta_err("cannot store the script: the schema is out of date "
                           "(run '" VTA_PROG " migrate')");
        }
        return vta_db_fail(c, res, "cannot store the script");
    }
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0)
        return vta_err("no company with slug '%s'", slug);
    n = vt_script_intent_count(script);
    printf("assistant script of %s imported: %d intent%s (plus the built-in human and "
           "goodbye)\n", slug, n, n == 1 ? "" : "s");
    return VTA_OK;
}

/* ------------------------------------------------------------------ assistant set */

typedef struct llm_opts {
    const char *kind, *endpoint, *model, *key_file, *prompt, *prompt_file;
    const char *temperature, *max_tokens, *languages;
    int no_key;
    vta_stream_opts_t stream;
} llm_opts_t;

static int llm_opts_given(const llm_opts_t *o)
{
    return o->kind || o->endpoint || o->model || o->key_file || o->no_key || o->prompt
           || o->prompt_file || o->temperature || o->max_tokens || o->languages;
}

static int parse_set_opts(int argc, char **argv, const char **slug, llm_opts_t *o)
{
    int i, m;

    memset(o, 0, sizeof(*o));
    *slug = NULL;
    for (i = 1; i < argc; i++) {
        if ((m = vta_stream_opt(argc, argv, &i, &o->stream)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if ((m = vta_opt(argc, argv, &i, "--kind", &o->kind)) != 0
            || (m = vta_opt(argc, argv, &i, "--endpoint", &o->endpoint)) != 0
            || (m = vta_opt(argc, argv, &i, "--model", &o->model)) != 0
            || (m = vta_opt(argc, argv, &i, "--api-key-file", &o->key_file)) != 0
            || (m = vta_opt(argc, argv, &i, "--system-prompt", &o->prompt)) != 0
            || (m = vta_opt(argc, argv, &i, "--system-prompt-file", &o->prompt_file)) != 0
            || (m = vta_opt(argc, argv, &i, "--temperature", &o->temperature)) != 0
            || (m = vta_opt(argc, argv, &i, "--max-tokens", &o->max_tokens)) != 0
            || (m = vta_opt(argc, argv, &i, "--languages", &o->languages)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (strcmp(argv[i], "--no-api-key") == 0)
            o->no_key = 1;
        else if ((strncmp(argv[i], "--api-key", 9) == 0 && argv[i][9] != '-')
                 || strcmp(argv[i], "--realtime-key") == 0)
            return vta_usage_err("the API key is never accepted on the command line: give it "
                                 "on standard input with --api-key-file - or in a file");
        else if (argv[i][0] == '-' || *slug)
            return vta_usage_err("unexpected argument '%s' for assistant set",
                                 vta_arg_for_msg(argv[i]));
        else
            *slug = argv[i];
    }
    if (!*slug)
        return vta_usage_err("usage: assistant set SLUG [--kind script|llm] [--endpoint URL] "
                             "[--model NAME] [--api-key-file FILE|-] [--no-api-key] "
                             "[--system-prompt TEXT|--system-prompt-file FILE] "
                             "[--temperature T] [--max-tokens N] [--languages L=VOICE,...] "
                             "[--mode gather|stream] [--realtime-url URL|''] "
                             "[--realtime-model NAME] [--realtime-voice NAME|''] "
                             "[--realtime-dialect ga|beta] [--realtime-audio pcmu|pcm16] "
                             "[--realtime-transcription MODEL|''] "
                             "[--realtime-key-file FILE|-] [--no-realtime-key] "
                             "[--stt-url URL|''] [--stt-model NAME] [--stt-key-file FILE|-] "
                             "[--no-stt-key] [--tts-url URL|''] [--tts-model NAME] "
                             "[--tts-voice NAME|''] [--tts-format pcm|wav] "
                             "[--tts-key-file FILE|-] [--no-tts-key] [--end-silence-ms MS] "
                             "[--barge-in-ms MS] [--reply-budget-ms MS]");
    if (o->prompt && o->prompt_file)
        return vta_usage_err("give --system-prompt or --system-prompt-file, not both");
    if (o->key_file && o->no_key)
        return vta_usage_err("give --api-key-file or --no-api-key, not both");
    if (!llm_opts_given(o) && !vta_stream_opts_given(&o->stream))
        return vta_usage_err("assistant set needs at least one option to change");
    return VTA_OK;
}

/* "en-US=Polly.Joanna,es-ES=Polly.Lucia": the first is the primary (companies.language and
 * .voice), the others go to companies.languages as JSON. */
static int parse_languages(apr_pool_t *p, const char *spec, const char **primary,
                           const char **voice, const char **extra_json)
{
    char *copy = apr_pstrdup(p, spec), *last = NULL, *item;
    json_object *arr = json_object_new_array();
    int n = 0;

    for (item = apr_strtok(copy, ",", &last); item; item = apr_strtok(NULL, ",", &last)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            json_object_put(arr);
            return vta_err("--languages: '%s' must be LANGUAGE=VOICE (e.g. es-ES=Polly.Lucia)",
                           item);
        }
        *eq = '\0';
        if (!vt_language_valid(item) || !vt_voice_name_valid(eq + 1)) {
            json_object_put(arr);
            return vta_err("--languages: '%s=%s' is not a language tag with a voice name "
                           "(e.g. es-ES=Polly.Lucia)", item, eq + 1);
        }
        if (++n > VT_LLM_LANGUAGES_MAX) {
            json_object_put(arr);
            return vta_err("--languages: at most %d languages", VT_LLM_LANGUAGES_MAX);
        }
        if (n == 1) {
            *primary = item;
            *voice = eq + 1;
        }
        else {
            json_object *e = json_object_new_object();
            json_object_object_add(e, "language", json_object_new_string(item));
            json_object_object_add(e, "voice", json_object_new_string(eq + 1));
            json_object_array_add(arr, e);
        }
    }
    if (n == 0) {
        json_object_put(arr);
        return vta_err("--languages needs at least one LANGUAGE=VOICE");
    }
    *extra_json = apr_pstrdup(p, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return VTA_OK;
}

static int check_number(const char *opt, const char *v, double lo, double hi, int integer)
{
    char *end;
    double d;

    if (!v)
        return VTA_OK;
    d = strtod(v, &end);
    if (end == v || *end || d < lo || d > hi || (integer && d != (double)(long)d))
        return vta_err("%s '%s' must be %s from %g to %g", opt, v,
                       integer ? "a whole number" : "a number", lo, hi);
    return VTA_OK;
}

/* The model settings that were given, prepared by assistant_set. */
typedef struct llm_update {
    const char *prompt, *lang, *voice, *extra;
} llm_update_t;

/* Seals the key (if given) and updates the model settings, in the caller's transaction. */
static int llm_apply(vta_ctx_t *c, const char *company_id, const char *slug,
                     const llm_opts_t *o, const llm_update_t *u, const char *endpoint)
{
    const char *key = NULL, *key_id = NULL, *blob = NULL, *err = NULL;
    const char *params[13];
    vt_keyring_t *ring = NULL;
    PGresult *res;

    if (o->key_file) {
        if (vta_read_secret(c, o->key_file, "API key", "Model API key", slug, VTA_API_KEY_MAX,
                            &key) != VTA_OK || vta_load_keyring(c, &ring) != VTA_OK)
            return VTA_FAIL;
        if (vt_secret_encrypt(c->pool, ring, company_id, key, &key_id, &blob, &err)
            != APR_SUCCESS)
            return vta_err("cannot encrypt the API key: %s", err ? err : "unknown error");
    }
    params[0] = company_id;
    params[1] = o->kind;
    params[2] = endpoint;
    params[3] = o->model;
    params[4] = blob;
    params[5] = key_id;
    params[6] = o->no_key ? "t" : "f";
    params[7] = u->prompt ? (*u->prompt ? u->prompt : "") : NULL;
    params[8] = o->temperature;
    params[9] = o->max_tokens;
    params[10] = u->lang;
    params[11] = u->voice;
    params[12] = u->extra;
    /* One statement: every setting changes, or none (the CHECKs see the final row). */
    res = vta_q(c,
                "UPDATE companies SET"
                " assistant_kind = coalesce($2, assistant_kind),"
                " llm_base_url = coalesce($3, llm_base_url),"
                " llm_model = coalesce($4, llm_model),"
                " llm_api_key_enc = CASE WHEN $7::boolean THEN NULL"
                "   ELSE coalesce(decode($5, 'hex'), llm_api_key_enc) END,"
                " llm_key_id = CASE WHEN $7::boolean THEN NULL ELSE coalesce($6, llm_key_id) END,"
                " system_prompt = CASE WHEN $8::text IS NULL THEN system_prompt"
                "   ELSE nullif($8::text, '') END,"
                " llm_temperature = coalesce($9::real, llm_temperature),"
                " llm_max_tokens = coalesce($10::integer, llm_max_tokens),"
                " language = coalesce($11, language),"
                " voice = coalesce($12, voice),"
                " languages = coalesce($13::jsonb, languages),"
                " updated_at = now()"
                " WHERE id = $1::bigint",
                13, params);
    if (!vta_res_ok(res)) {
        const char *con = vta_constraint(res);
        if (con && strcmp(con, "companies_llm_complete") == 0) {
            PQclear(res);
            return vta_err("--kind llm needs --endpoint and --model (company '%s' has no "
                           "model endpoint yet)", slug);
        }
        return vta_db_fail(c, res, "cannot update the assistant settings");
    }
    PQclear(res);
    if (key)
        printf("API key of %s stored encrypted\n", slug);
    else if (o->no_key)
        printf("API key of %s removed\n", slug);
    return VTA_OK;
}

static int assistant_set(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *endpoint = NULL, *err = NULL, *company_id;
    llm_update_t u = { 0 };
    llm_opts_t o;
    apr_size_t len;
    int rc;

    if ((rc = parse_set_opts(argc, argv, &slug, &o)) != VTA_OK)
        return rc;
    if (vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (o.kind && strcmp(o.kind, "script") != 0 && strcmp(o.kind, "llm") != 0)
        return vta_err("--kind '%s' must be script or llm", o.kind);
    if (o.endpoint && !(endpoint = vt_base_url_normalize(c->pool, o.endpoint, &err)))
        return vta_err("--endpoint %s (e.g. https://api.openai.com/v1)", err);
    if (o.model && (!*o.model || strlen(o.model) > 200 || strpbrk(o.model, " \t\r\n")))
        return vta_err("--model must be 1 to 200 characters without spaces");
    if (check_number("--temperature", o.temperature, 0, 2, 0) != VTA_OK
        || check_number("--max-tokens", o.max_tokens, 16, 4096, 1) != VTA_OK)
        return VTA_FAIL;
    u.prompt = o.prompt;
    if (o.prompt_file && !(u.prompt = vta_read_file(c->pool, o.prompt_file, VTA_SCRIPT_FILE_MAX, &len)))
        return VTA_FAIL;
    if (u.prompt && vt_utf8_chars(u.prompt) > VTA_PROMPT_MAX)
        return vta_err("the system prompt must be at most %d characters", VTA_PROMPT_MAX);
    if (o.languages
        && parse_languages(c->pool, o.languages, &u.lang, &u.voice, &u.extra) != VTA_OK)
        return VTA_FAIL;
    if ((rc = vta_stream_check(c, &o.stream)) != VTA_OK)
        return rc;
    if (vta_db_connect(c) != VTA_OK || vta_company_id(c, slug, &company_id) != VTA_OK
        || vta_begin(c) != VTA_OK)
        return VTA_FAIL;
    /* One transaction: every setting changes, or none. */
    if ((llm_opts_given(&o) && llm_apply(c, company_id, slug, &o, &u, endpoint) != VTA_OK)
        || (vta_stream_opts_given(&o.stream)
            && vta_stream_apply(c, company_id, slug, &o.stream) != VTA_OK)
        || vta_commit(c) != VTA_OK) {
        vta_rollback(c);
        return VTA_FAIL;
    }
    printf("assistant settings of %s updated\n", slug);
    return VTA_OK;
}

/* ------------------------------------------------------------------ assistant show */

/* The settings, one "name: value" line each; the API key only as whether one is set. */
static int print_settings(vta_ctx_t *c, const char *slug)
{
    const char *params[1] = { slug };
    PGresult *res = vta_q(c,
                          "SELECT assistant_kind, coalesce(llm_base_url, '-'),"
                          " coalesce(llm_model, '-'),"
                          " CASE WHEN llm_api_key_enc IS NULL THEN 'none'"
                          "   ELSE 'set (sealed with key ' || llm_key_id || ')' END,"
                          " llm_temperature::text, llm_max_tokens::text, language, voice,"
                          " languages::text, coalesce(system_prompt, '(none)')"
                          " FROM companies WHERE slug = $1",
                          1, params);
    json_object *extra;
    size_t i, n;

    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot read the assistant settings");
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no company with slug '%s'", slug);
    }
    printf("kind: %s\nendpoint: %s\nmodel: %s\napi key: %s\ntemperature: %s\n"
           "max tokens: %s\nlanguages: %s (%s)",
           PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
           PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5),
           PQgetvalue(res, 0, 6), PQgetvalue(res, 0, 7));
    extra = json_tokener_parse(PQgetvalue(res, 0, 8));
    n = json_object_is_type(extra, json_type_array) ? json_object_array_length(extra) : 0;
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(extra, i), *l = NULL, *v = NULL;
        json_object_object_get_ex(e, "language", &l);
        json_object_object_get_ex(e, "voice", &v);
        printf(", %s (%s)", json_object_get_string(l), json_object_get_string(v));
    }
    json_object_put(extra);
    printf("\nsystem prompt: %s\n", PQgetvalue(res, 0, 9));
    PQclear(res);
    return VTA_OK;
}

static int assistant_show(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *err, *params[1];
    vt_script_t *script;
    PGresult *res;

    if (argc != 2 || argv[1][0] == '-')
        return vta_usage_err("usage: assistant show SLUG");
    slug = argv[1];
    if (vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK || print_settings(c, slug) != VTA_OK
        || vta_stream_print(c, slug) != VTA_OK)
        return VTA_FAIL;
    fputs("script:\n", stdout);
    params[0] = slug;
    res = vta_q(c, "SELECT assistant_script::text FROM companies WHERE slug = $1", 1, params);
    if (!vta_res_ok(res)) {
        if (strcmp(vta_sqlstate(res), "42703") == 0) {
            PQclear(res);
            return vta_err("cannot read the script: the schema is out of date "
                           "(run '" VTA_PROG " migrate')");
        }
        return vta_db_fail(c, res, "cannot read the script");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no company with slug '%s'", slug);
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        fputs("(no script: built-in intents only)\n", stdout);
        fputs(vt_script_to_json(c->pool, vt_script_default(c->pool)), stdout);
        return VTA_OK;
    }
    /* Parsed again rather than printed as stored: jsonb reorders keys, and a row edited by
     * hand could hold something the gateway would refuse. */
    if (vt_script_parse(c->pool, PQgetvalue(res, 0, 0), (apr_size_t)PQgetlength(res, 0, 0),
                        &script, &err) != APR_SUCCESS) {
        PQclear(res);
        return vta_err("the stored script of '%s' is invalid: %s (import a corrected file)",
                       slug, err);
    }
    PQclear(res);
    fputs(vt_script_to_json(c->pool, script), stdout);
    return VTA_OK;
}

int vta_cmd_assistant(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("assistant needs a sub-command: set, import or show");
    argc--;
    argv++;
    if (strcmp(argv[0], "import") == 0)
        return assistant_import(c, argc, argv);
    if (strcmp(argv[0], "show") == 0)
        return assistant_show(c, argc, argv);
    if (strcmp(argv[0], "set") == 0)
        return assistant_set(c, argc, argv);
    return vta_usage_err("unknown assistant sub-command '%s'", argv[0]);
}
