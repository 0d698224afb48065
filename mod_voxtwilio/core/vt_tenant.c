/* vt_tenant — tenant resolution shared by the module and the helper; see vt_tenant.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include "vt_form.h"
#include "vt_tenant.h"
#include "vt_util.h"

/* apr_dbd placeholders (%s); libpq users convert with vt_sql_to_libpq. */
#define TENANT_COLUMNS                                                                      \
    "SELECT c.id, c.slug, c.enabled, c.greeting, c.voice, c.language, i.id IS NOT NULL, "     \
    "coalesce(i.enabled, false), i.account_sid, encode(i.auth_token_enc, 'hex'), i.key_id, "  \
    "c.escalation_phone, c.notification_phone, c.assistant_script::text, c.name, "            \
    "c.assistant_kind, c.llm_base_url, c.llm_model, encode(c.llm_api_key_enc, 'hex'), "       \
    "c.llm_key_id, c.llm_temperature::text, c.llm_max_tokens::text, c.languages::text, "   \
    "c.system_prompt, c.assistant_mode, c.recording, c.realtime_url, c.realtime_model, "    \
    "c.realtime_voice, c.realtime_dialect, c.realtime_audio, c.realtime_transcription, "     \
    "encode(c.realtime_key_enc, 'hex'), c.realtime_key_id, c.stt_url, c.stt_model, "     \
    "encode(c.stt_key_enc, 'hex'), c.stt_key_id, c.tts_url, c.tts_model, c.tts_voice, "      \
    "c.tts_format, encode(c.tts_key_enc, 'hex'), c.tts_key_id, c.end_silence_ms::text, "     \
    "c.barge_in_ms::text, c.reply_budget_ms::text, c.recognizer_confidence::text, "          \
    "c.tenant_version::text "

const vt_event_stmt_t vt_tenant_by_number_stmt = {
    "voxtwilio_tenant_by_number",
    TENANT_COLUMNS
    "FROM integration_numbers n JOIN client_integrations i ON i.id = n.integration_id "
    "JOIN companies c ON c.id = i.company_id WHERE n.number = %s",
    1
};
const vt_event_stmt_t vt_tenant_by_slug_stmt = {
    "voxtwilio_tenant_by_slug",
    TENANT_COLUMNS
    "FROM companies c LEFT JOIN client_integrations i "
    "ON i.company_id = c.id AND i.provider = 'TWILIO' WHERE c.slug = %s",
    1
};
const vt_event_stmt_t vt_tenant_by_call_stmt = {
    "voxtwilio_tenant_by_call",
    TENANT_COLUMNS
    "FROM calls k JOIN companies c ON c.id = k.company_id LEFT JOIN client_integrations i "
    "ON i.company_id = c.id AND i.provider = 'TWILIO' WHERE k.call_sid = %s",
    1
};

static int pg_bool(const char *v)
{
    return v && v[0] == 't';
}

/* An optional column: NULL when SQL NULL or empty (drivers differ in how they give NULL). */
static const char *opt(const char *v)
{
    return v && *v ? v : NULL;
}

void vt_tenant_from_row(const char *const *c, vt_tenant_t *t)
{
    t->company_id = c[0];
    t->slug = c[1];
    t->enabled = pg_bool(c[2]);
    t->greeting = c[3];
    t->voice = c[4];
    t->language = c[5];
    t->has_integration = pg_bool(c[6]);
    t->integration_enabled = pg_bool(c[7]);
    t->account_sid = c[8];
    t->token_blob_hex = c[9];
    t->key_id = c[10];
    t->escalation_phone = c[11];
    t->notification_phone = c[12];
    t->assistant_script = c[13];
    t->name = c[14];
    t->assistant_kind = c[15];
    t->llm_base_url = opt(c[16]);
    t->llm_model = opt(c[17]);
    t->llm_key_blob_hex = opt(c[18]);
    t->llm_key_id = opt(c[19]);
    t->llm_temperature = c[20] ? atof(c[20]) : 0.3;
    t->llm_max_tokens = c[21] ? atoi(c[21]) : 200;
    t->languages_json = opt(c[22]);
    t->system_prompt = opt(c[23]);
    t->assistant_mode = c[24];
    t->recording = pg_bool(c[25]);
    t->realtime_url = opt(c[26]);
    t->realtime_model = opt(c[27]);
    t->realtime_voice = opt(c[28]);
    t->realtime_dialect = c[29];
    t->realtime_audio = c[30];
    t->realtime_transcription = opt(c[31]);
    t->realtime_key_blob_hex = opt(c[32]);
    t->realtime_key_id = opt(c[33]);
    t->stt_url = opt(c[34]);
    t->stt_model = opt(c[35]);
    t->stt_key_blob_hex = opt(c[36]);
    t->stt_key_id = opt(c[37]);
    t->tts_url = opt(c[38]);
    t->tts_model = opt(c[39]);
    t->tts_voice = opt(c[40]);
    t->tts_format = c[41] && *c[41] ? c[41] : "pcm";
    t->tts_key_blob_hex = opt(c[42]);
    t->tts_key_id = opt(c[43]);
    t->end_silence_ms = c[44] ? atoi(c[44]) : 0;
    t->barge_in_ms = c[45] ? atoi(c[45]) : 0;
    t->reply_budget_ms = c[46] ? atoi(c[46]) : 0;
    t->recognizer_confidence = c[47] && *c[47] ? atof(c[47]) : -1;
    t->version = opt(c[48]);
    t->row = c;
}

int vt_tenant_is_stream(const vt_tenant_t *t)
{
    return t->assistant_mode && strcmp(t->assistant_mode, "stream") == 0;
}

int vt_tenant_has_realtime(const vt_tenant_t *t)
{
    return t->realtime_url && t->realtime_model;
}

int vt_tenant_has_stt(const vt_tenant_t *t)
{
    return t->stt_url && t->stt_model;
}

int vt_tenant_has_tts(const vt_tenant_t *t)
{
    return t->tts_url && t->tts_model;
}

int vt_tenant_is_llm(const vt_tenant_t *t)
{
    return t->assistant_kind && strcmp(t->assistant_kind, "llm") == 0 && t->llm_base_url
           && t->llm_model;
}

const vt_llm_language_t *vt_tenant_languages(apr_pool_t *p, const vt_tenant_t *t, int *n)
{
    vt_llm_language_t *out = apr_pcalloc(p, sizeof(*out) * VT_LLM_LANGUAGES_MAX);
    json_object *arr = t->languages_json ? json_tokener_parse(t->languages_json) : NULL;
    size_t i, len = arr && json_object_is_type(arr, json_type_array)
                        ? json_object_array_length(arr) : 0;

    out[0].language = t->language;
    out[0].voice = t->voice;
    *n = 1;
    /* voxtwilio-admin validated the list; anything odd in a hand-edited row is skipped. */
    for (i = 0; i < len && *n < VT_LLM_LANGUAGES_MAX; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *l, *v;
        if (json_object_object_get_ex(e, "language", &l) && json_object_is_type(l, json_type_string)
            && json_object_object_get_ex(e, "voice", &v) && json_object_is_type(v, json_type_string)
            && vt_language_valid(json_object_get_string(l))
            && vt_voice_name_valid(json_object_get_string(v))) {
            out[*n].language = apr_pstrdup(p, json_object_get_string(l));
            out[*n].voice = apr_pstrdup(p, json_object_get_string(v));
            (*n)++;
        }
    }
    json_object_put(arr);
    return out;
}

vt_tenant_rc vt_tenant_resolve(apr_pool_t *p, vt_tenant_lookup_fn *lookup, void *baton,
                               const char *slug, const apr_array_header_t *params,
                               int is_callback, vt_tenant_t *t, const char **why)
{
    const char *to_addr = vt_params_get(params, "To"), *channel;
    /* The number of a message's address too ("whatsapp:+E164"); NULL: not a number. */
    const char *to = vt_message_address(to_addr, &channel);
    const char *from = vt_message_address(vt_params_get(params, "From"), &channel);
    const char *call_sid = vt_params_get(params, "CallSid");
    const char *account_sid = vt_params_get(params, "AccountSid");
    int rc = 0;

    memset(t, 0, sizeof(*t));
    if (slug) {
        rc = lookup(baton, &vt_tenant_by_slug_stmt, slug, t);
    }
    else {
        if (is_callback && vt_sid_valid(call_sid, "CA")) {
            rc = lookup(baton, &vt_tenant_by_call_stmt, call_sid, t);
        }
        if (rc == 0 && to) {
            rc = lookup(baton, &vt_tenant_by_number_stmt, to, t);
        }
        if (rc == 0 && is_callback && from) {
            rc = lookup(baton, &vt_tenant_by_number_stmt, from, t);
        }
    }
    if (rc < 0) {
        return VT_TENANT_DB_FAILED;
    }
    if (rc == 0 || !t->enabled || !t->has_integration || !t->integration_enabled) {
        *why = apr_psprintf(p, "no enabled tenant for %s %s", slug ? "slug" : "number",
                            slug ? slug : to_addr ? to_addr : "(none)");
        return VT_TENANT_REFUSED;
    }
    if (!account_sid || !t->account_sid || strcmp(account_sid, t->account_sid) != 0) {
        *why = apr_psprintf(p, "AccountSid does not belong to tenant %s", t->slug);
        return VT_TENANT_REFUSED;
    }
    return VT_TENANT_FOUND;
}
