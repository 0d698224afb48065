/* vt_spool_record — the outage spool's document; see vt_spool_record.h. */
#include <string.h>
#include <apr_base64.h>
#include <apr_strings.h>
#include <json-c/json.h>
#include "vt_spool_record.h"
#include "vt_util.h"

static void add_str(json_object *o, const char *key, const char *val)
{
    json_object_object_add(o, key, val ? json_object_new_string(val) : NULL);
}

const char *vt_spool_record_encode(apr_pool_t *p, const vt_spool_record_t *rec,
                                   apr_time_t received)
{
    json_object *o = json_object_new_object();
    apr_size_t len = rec->body ? rec->body_len : 0;
    char *b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));
    apr_time_exp_t tm;
    const char *out;

    apr_base64_encode(b64, rec->body ? rec->body : "", (int)len);
    apr_time_exp_gmt(&tm, received);
    json_object_object_add(o, "version", json_object_new_int(VT_SPOOL_VERSION));
    add_str(o, "route", rec->route);
    add_str(o, "url", rec->url);
    add_str(o, "signature", rec->signature);
    add_str(o, "idempotency_token", rec->idempotency_token);
    add_str(o, "content_type", rec->content_type);
    add_str(o, "body", b64);
    add_str(o, "received_at",
            apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         tm.tm_usec));
    if (rec->tenant) {
        add_str(o, "tenant", rec->tenant);
    }
    out = apr_pstrdup(p, json_object_to_json_string_ext(
                             o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return out;
}

/* An optional string member: NULL when absent or null; *bad when another type. */
static const char *member(apr_pool_t *p, json_object *o, const char *key, int *bad)
{
    json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
        return NULL;
    }
    if (!json_object_is_type(v, json_type_string)) {
        *bad = 1;
        return NULL;
    }
    /* NUL inside a string would cut it short unnoticed: not something the writer makes. */
    if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
        *bad = 1;
        return NULL;
    }
    return apr_pstrdup(p, json_object_get_string(v));
}

/* Standard base64 with its padding (apr_base64_decode would stop quietly at a bad byte). */
static int b64_valid(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    size_t pad = strspn(s + n, "=");

    return s[n + pad] == '\0' && pad <= 2 && (n + pad) % 4 == 0;
}

static apr_status_t fail(const char **why, const char *what, json_object *o)
{
    json_object_put(o);
    *why = what;
    return APR_EINVAL;
}

apr_status_t vt_spool_record_decode(apr_pool_t *p, const char *buf, apr_size_t len,
                                    vt_spool_record_t *rec, const char **why)
{
    json_tokener *tok = json_tokener_new();
    json_object *o, *v;
    const char *b64;
    apr_size_t end;
    char *body;
    int bad = 0, blen;

    memset(rec, 0, sizeof(*rec));
    if (!tok) {
        *why = "out of memory";
        return APR_ENOMEM;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = len <= (apr_size_t)VT_SPOOL_MAX_BODY * 2 ? json_tokener_parse_ex(tok, buf, (int)len)
                                                  : NULL;
    end = o ? json_tokener_get_parse_end(tok) : 0;
    json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object)) {
        return fail(why, "not a JSON object", o);
    }
    while (end < len && buf[end] && strchr(" \t\r\n", buf[end])) {
        end++;
    }
    if (end != len) {
        return fail(why, "not a JSON object", o);
    }
    if (!json_object_object_get_ex(o, "version", &v) || !json_object_is_type(v, json_type_int)
        || json_object_get_int(v) != VT_SPOOL_VERSION) {
        return fail(why, "unknown spool file version", o);
    }
    rec->route = member(p, o, "route", &bad);
    rec->url = member(p, o, "url", &bad);
    rec->signature = member(p, o, "signature", &bad);
    rec->idempotency_token = member(p, o, "idempotency_token", &bad);
    rec->content_type = member(p, o, "content_type", &bad);
    rec->tenant = member(p, o, "tenant", &bad);
    rec->received_at = member(p, o, "received_at", &bad);
    b64 = member(p, o, "body", &bad);
    json_object_put(o);
    if (bad || !rec->route || !rec->url || !b64) {
        return fail(why, "a field is missing or not a string", NULL);
    }
    if (!b64_valid(b64) || strlen(b64) / 4 * 3 > (size_t)VT_SPOOL_MAX_BODY + 2) {
        return fail(why, "body is not base64 (of at most 16 MiB)", NULL);
    }
    body = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b64) + 1);
    blen = apr_base64_decode(body, b64);
    body[blen] = '\0';
    rec->body = body;
    rec->body_len = (apr_size_t)blen;
    if (rec->tenant && !vt_slug_valid(rec->tenant)) {
        return fail(why, "tenant is not a slug", NULL);
    }
    return APR_SUCCESS;
}
