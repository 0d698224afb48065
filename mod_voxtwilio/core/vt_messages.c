/* vt_messages — inbound messages as rows; see vt_messages.h. */
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>
#include <apr_strings.h>
#include "vt_form.h"
#include "vt_messages.h"
#include "vt_rules.h"
#include "vt_util.h"

const char *vt_message_sid(const apr_array_header_t *params)
{
    const char *sid = vt_params_get(params, "MessageSid");

    return vt_sid_valid(sid, "SM") || vt_sid_valid(sid, "MM") ? sid : NULL;
}

/* A count of 0..max, else -1; absent is 0. */
static int small_count(const char *v, int max)
{
    int n = 0;

    if (!v || !*v) {
        return 0;
    }
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || (n = n * 10 + (*v - '0')) > max) {
            return -1;
        }
    }
    return n;
}

const char *vt_message_media_json(apr_pool_t *p, const apr_array_header_t *params,
                                  const char **err)
{
    int n = small_count(vt_params_get(params, "NumMedia"), VT_MESSAGE_MEDIA_MAX), i;
    json_object *arr;
    const char *out;

    if (n < 0) {
        *err = "NumMedia is not a count of 0 to " APR_STRINGIFY(VT_MESSAGE_MEDIA_MAX);
        return NULL;
    }
    arr = json_object_new_array();
    for (i = 0; i < n; i++) {
        char name[32];
        const char *url, *type;
        json_object *m;

        snprintf(name, sizeof(name), "MediaUrl%d", i);
        url = vt_params_get(params, name);
        snprintf(name, sizeof(name), "MediaContentType%d", i);
        type = vt_params_get(params, name);
        if (!url || strncmp(url, "https://", 8) != 0) {
            *err = apr_psprintf(p, "MediaUrl%d is missing or not an https URL", i);
            json_object_put(arr);
            return NULL;
        }
        m = json_object_new_object();
        json_object_object_add(m, "url", json_object_new_string(url));
        json_object_object_add(m, "content_type", type ? json_object_new_string(type) : NULL);
        json_object_array_add(arr, m);
    }
    out = apr_pstrdup(p, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
    json_object_put(arr);
    return out;
}

/* From and To as +E164 of one channel (*channel), or 0 with *err. */
static int message_parties(const apr_array_header_t *params, const char **from,
                           const char **to, const char **channel, const char **err)
{
    const char *to_channel = NULL;

    *from = vt_message_address(vt_params_get(params, "From"), channel);
    *to = vt_message_address(vt_params_get(params, "To"), &to_channel);
    if (!*from || !*to || strcmp(*channel, to_channel) != 0) {
        *err = "From and To are not two numbers of one channel (+E164, whatsapp:+E164)";
        return 0;
    }
    return 1;
}

const vt_event_stmt_t vt_message_inbound_stmt = {
    "voxtwilio_message_inbound",
    "WITH " VT_TENANT_GUARD_SQL("id, time_zone, keep_media", "") ", "
    /* DO UPDATE, not DO NOTHING: the customer's id either way, in this statement. */
    "cu AS (INSERT INTO customers (company_id, phone, first_seen_sid) SELECT id, %s, %s FROM ok "
    "ON CONFLICT (company_id, phone) DO UPDATE SET updated_at = now() "
    "RETURNING id, company_id, first_seen_sid), "
    "ms AS (INSERT INTO messages (company_id, customer_id, message_sid, direction, channel, "
    "from_number, to_number, body, status, media, num_segments, params) "
    "SELECT company_id, id, %s, 'inbound', %s, %s, %s, %s, %s, CAST(%s AS jsonb), "
    "CAST(%s AS integer), CAST(%s AS jsonb) FROM cu ON CONFLICT (message_sid) DO NOTHING), "
    /* A STOP or START: one ledger entry however often it is delivered. */
    "co AS (INSERT INTO consent_events (company_id, phone, channel, granted, method, "
    "source_sid) SELECT company_id, %s, %s, CAST(%s AS boolean), %s, %s FROM cu "
    "WHERE CAST(%s AS boolean) IS NOT NULL "
    "ON CONFLICT (source_sid) WHERE source_sid IS NOT NULL DO NOTHING), "
    /* Its media fetched with the tenant's credentials, when the tenant keeps them. */
    "md AS (INSERT INTO jobs (kind, company_id, payload, dedup_key) "
    "SELECT 'media_download', id, jsonb_build_object('message_sid', CAST(%s AS text)), "
    "'media:' || CAST(%s AS text) FROM ok WHERE keep_media "
    "AND CAST(%s AS jsonb) <> '[]'::jsonb ON CONFLICT (dedup_key) DO NOTHING) "
    /* What the tenant's rules need, read in the same round trip (the ledger as it was
     * before this message). */
    "SELECT (SELECT count(*) FROM ok), "
    "(SELECT first_seen_sid IS DISTINCT FROM CAST(%s AS text) FROM cu), "
    "(SELECT e.granted FROM consent_events e JOIN ok ON e.company_id = ok.id "
    "WHERE e.phone = %s AND e.channel = %s ORDER BY e.id DESC LIMIT 1), "
    "(SELECT CAST(extract(isodow FROM now() AT TIME ZONE time_zone) AS integer) FROM ok), "
    "(SELECT CAST(extract(hour FROM now() AT TIME ZONE time_zone) * 60 "
    "+ extract(minute FROM now() AT TIME ZONE time_zone) AS integer) FROM ok), "
    "(SELECT r.document FROM rule_sets r JOIN ok ON r.company_id = ok.id)",
    25
};

const char **vt_message_inbound_args(apr_pool_t *p, const apr_array_header_t *params,
                                     const char *company_id, const char *version,
                                     const char *idempotency_token, const char **err)
{
    const char *sid = vt_message_sid(params), *channel = NULL, *from, *to;
    const char *body = vt_params_get(params, "Body"), *status = vt_params_get(params, "SmsStatus");
    const char *media, *segments = vt_params_get(params, "NumSegments"), **a;
    const char *word = NULL, *granted;
    vt_consent_keyword_t keyword;

    (void)idempotency_token; /* the MessageSid is the message's identity */
    if (!sid) {
        *err = "message without a valid MessageSid";
        return NULL;
    }
    if (!message_parties(params, &from, &to, &channel, err)) {
        return NULL;
    }
    if (!version) {
        *err = VT_TENANT_VERSION_UNKNOWN;
        return NULL;
    }
    if (!(media = vt_message_media_json(p, params, err))) {
        return NULL;
    }
    keyword = vt_consent_keyword(body, &word);
    granted = keyword == VT_CONSENT_KEYWORD_NONE ? NULL
              : keyword == VT_CONSENT_KEYWORD_OPT_IN ? "true" : "false";
    a = apr_pcalloc(p, sizeof(*a) * vt_message_inbound_stmt.nargs);
    a[0] = company_id;
    a[1] = version;
    a[2] = from; /* cu */
    a[3] = sid;
    a[4] = sid; /* ms */
    a[5] = channel;
    a[6] = from;
    a[7] = to;
    a[8] = body ? body : "";
    a[9] = status && *status ? status : "received";
    a[10] = media;
    a[11] = small_count(segments, 1000000) >= 0 && segments && *segments ? segments : NULL;
    a[12] = vt_params_to_json(p, params);
    a[13] = from; /* co */
    a[14] = channel;
    a[15] = granted;
    a[16] = granted ? apr_pstrcat(p, "keyword ", word, NULL) : NULL;
    a[17] = sid;
    a[18] = granted;
    a[19] = sid; /* md */
    a[20] = sid;
    a[21] = media;
    a[22] = sid; /* the answer */
    a[23] = from;
    a[24] = channel;
    return a;
}

static const struct {
    const char *status;
    int rank;
} message_ranks[] = {
    { "accepted", 1 }, { "scheduled", 1 }, { "queued", 2 }, { "sending", 3 }, { "sent", 4 },
    { "delivered", 5 }, { "undelivered", 5 }, { "failed", 5 }, { "canceled", 5 },
    { "read", 6 },
};

int vt_message_status_rank(const char *status)
{
    size_t i;

    for (i = 0; status && i < sizeof(message_ranks) / sizeof(message_ranks[0]); i++) {
        if (strcmp(status, message_ranks[i].status) == 0) {
            return message_ranks[i].rank;
        }
    }
    return 0;
}

const vt_event_stmt_t vt_message_status_stmt = {
    "voxtwilio_message_status",
    "WITH " VT_TENANT_GUARD_SQL("id", "") ", "
    /* Before the helper recorded the message, too: the row is made, and the helper's
     * record fills in the body. */
    "ms AS (INSERT INTO messages AS m (company_id, message_sid, direction, channel, "
    "from_number, to_number, status, status_rank, error_code, params) "
    "SELECT id, %s, 'outbound', %s, %s, %s, %s, CAST(%s AS smallint), CAST(%s AS integer), "
    "CAST(%s AS jsonb) FROM ok "
    "ON CONFLICT (message_sid) DO UPDATE SET status = EXCLUDED.status, "
    "status_rank = EXCLUDED.status_rank, error_code = coalesce(EXCLUDED.error_code, "
    "m.error_code), updated_at = now() "
    "WHERE m.status_rank < EXCLUDED.status_rank AND m.company_id = EXCLUDED.company_id) "
    "SELECT count(*) FROM ok",
    10
};

const char **vt_message_status_args(apr_pool_t *p, const apr_array_header_t *params,
                                    const char *company_id, const char *version,
                                    const char *idempotency_token, const char **err)
{
    const char *sid = vt_message_sid(params), *channel = NULL, *from, *to;
    const char *status = vt_params_get(params, "MessageStatus");
    const char *code = vt_params_get(params, "ErrorCode");
    const char **a;
    int rank = vt_message_status_rank(status);

    (void)idempotency_token; /* a repeated status changes nothing: the rank only rises */
    if (!sid || !rank) {
        *err = "message status callback without a valid MessageSid and MessageStatus";
        return NULL;
    }
    if (!message_parties(params, &from, &to, &channel, err)) {
        return NULL;
    }
    if (!version) {
        *err = VT_TENANT_VERSION_UNKNOWN;
        return NULL;
    }
    a = apr_pcalloc(p, sizeof(*a) * vt_message_status_stmt.nargs);
    a[0] = company_id;
    a[1] = version;
    a[2] = sid;
    a[3] = channel;
    a[4] = from;
    a[5] = to;
    a[6] = status;
    a[7] = apr_itoa(p, rank);
    a[8] = small_count(code, 99999) > 0 ? code : NULL;
    a[9] = vt_params_to_json(p, params);
    return a;
}
