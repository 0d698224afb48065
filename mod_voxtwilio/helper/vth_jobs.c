/* vth_jobs — voxtwilio-helper: what each job kind does.
 *
 *   sms_alert           {"to": "+E164", "body": "..."}: Messages.json from the tenant's
 *                       first integration number (ORDER BY number), to its own staff
 *   message_send        {"to": "+E164", "from": "+E164" (optional), "channel": "sms" |
 *                       "whatsapp", "body": "..."}: to a customer, unless the consent
 *                       ledger's last word for (to, channel) is a refusal (the job then
 *                       fails saying so); recorded in messages as outbound
 *   recording_download  {"recording_sid": "RE...", "url": "https://api.twilio.com/..."}:
 *                       <recordings-dir>/<slug>/<RecordingSid>.wav; then, for a call of a
 *                       tenant with a speech-to-text endpoint, queues recording_transcribe
 *   recording_transcribe {"recording_sid": "RE..."} (call_sid set): the downloaded
 *                       recording's two channels (1 the caller, 2 the assistant: Twilio's
 *                       dual-channel order) cut at the pauses by the pipeline's turn
 *                       detector, each utterance (at most 15 s, far below any endpoint's
 *                       upload limit) sent to the tenant's endpoint, the dialogue stored in
 *                       calls.recording_transcript (sql/006) in the order spoken; then the
 *                       call's analysis, waiting for it, is woken. The whole job has
 *                       VTH_TRANSCRIBE_BUDGET_MS: past it the rest of a long call is left
 *                       out ('partial'). A failing endpoint: 'failed' with the reason,
 *                       retried as any job (5xx, 429, timeouts, transport) or not (other
 *                       4xx, a broken key); the analysis is woken once nothing more will
 *                       come, or goes ahead on the turns at its bound (sql/006).
 *   call_analysis       {} (call_sid set): the call's summary, sentiment and to-dos
 *                       (vth_analysis.c)
 *   call_rules          {} (call_sid set): the tenant's rules on a call that ended
 *                       (vth_rules.c)
 *   media_download      {"message_sid": "MM..."}: the message's media, fetched with the
 *                       tenant's credentials to <recordings-dir>/<slug>/media/; their
 *                       "path" added to messages.media
 *
 * The tenant's auth token and speech-to-text key are decrypted into the job's pool (wiped
 * when the job ends) and only ever handed to vt_rest and vt_stt (which puts the key in the
 * Authorization header only); no message built here contains them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vth.h"
#include "vt_audio.h"
#include "vt_keyring.h"
#include "vt_log.h"
#include "vt_messages.h"
#include "vt_rest.h"
#include "vt_stt.h"
#include "vt_turn.h"
#include "vt_util.h"
#include "vt_wav.h"

vth_jobs_t *vth_jobs_create(apr_pool_t *p)
{
    vth_jobs_t *jobs = apr_pcalloc(p, sizeof *jobs);
    jobs->pool = p;
    return jobs;
}

const char *vth_jobs_excluded(apr_pool_t *p, const vth_config_t *cfg)
{
    return cfg->recordings_dir ? NULL
                               : apr_pstrdup(p, "{recording_download,recording_transcribe,"
                                                "media_download}");
}

void vth_job_outcome(vth_outcome_t *out, vth_job_status_t st, const char *error)
{
    out->status = st;
    out->error = error;
}

/* A string member of the payload, NULL when absent or not a string. */
const char *vth_payload_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Looks up the job's tenant and decrypts its token. 1 when ready; 0 with *out set. */
int vth_job_integration(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                        const vth_job_t *job, vth_integration_t *in, vth_outcome_t *out)
{
    const char *params[1], *key_id, *hex, *err = NULL;
    PGresult *res;

    memset(in, 0, sizeof *in);
    if (!job->company_id) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the job has no company");
        return 0;
    }
    params[0] = job->company_id;
    res = vth_pq(conn, p, VTH_PQ_ROWS, "looking up the integration",
                 "SELECT c.slug, c.enabled, ci.account_sid, ci.key_id,"
                 " encode(ci.auth_token_enc, 'hex'), ci.enabled,"
                 " (SELECT n.number FROM integration_numbers n"
                 "  WHERE n.integration_id = ci.id ORDER BY n.number LIMIT 1), c.webhook_url"
                 " FROM companies c LEFT JOIN client_integrations ci"
                 "  ON ci.company_id = c.id AND ci.provider = 'TWILIO'"
                 " WHERE c.id = $1::bigint",
                 1, params, &err);
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return 0;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        vth_job_outcome(out, VTH_JOB_FAIL, "the company does not exist");
        return 0;
    }
    in->slug = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        PQclear(res);
        vth_job_outcome(out, VTH_JOB_FAIL, "the company is disabled");
        return 0;
    }
    if (PQgetisnull(res, 0, 2)) {
        PQclear(res);
        vth_job_outcome(out, VTH_JOB_FAIL, "the company has no Twilio integration");
        return 0;
    }
    if (strcmp(PQgetvalue(res, 0, 5), "t") != 0) {
        PQclear(res);
        vth_job_outcome(out, VTH_JOB_FAIL, "the company's integration is disabled");
        return 0;
    }
    in->account_sid = apr_pstrdup(p, PQgetvalue(res, 0, 2));
    key_id = apr_pstrdup(p, PQgetvalue(res, 0, 3));
    hex = apr_pstrdup(p, PQgetvalue(res, 0, 4));
    in->from = PQgetisnull(res, 0, 6) ? NULL : apr_pstrdup(p, PQgetvalue(res, 0, 6));
    in->webhook_url = PQgetisnull(res, 0, 7) ? NULL : apr_pstrdup(p, PQgetvalue(res, 0, 7));
    PQclear(res);

    /* The company id is the associated data: a token copied from another tenant's row
     * does not open. */
    if (vt_secret_decrypt(p, cfg->ring, job->company_id, key_id, hex, &in->auth_token, &err)
        != APR_SUCCESS) {
        vth_job_outcome(out, VTH_JOB_FAIL, apr_psprintf(p, "cannot decrypt the auth token: %s",
                                                err ? err : "unknown error"));
        return 0;
    }
    return 1;
}

/* The REST failure as a short text, and whether it is worth retrying. */
void vth_job_rest_failure(apr_pool_t *p, const vt_rest_result_t *r, vth_outcome_t *out)
{
    const char *msg = r->message ? r->message : "no message";

    if (r->http_status && r->twilio_code)
        out->error = apr_psprintf(p, "HTTP %ld, Twilio error %d: %s", r->http_status,
                                  r->twilio_code, msg);
    else if (r->http_status)
        out->error = apr_psprintf(p, "HTTP %ld: %s", r->http_status, msg);
    else
        out->error = msg;
    out->status = r->retryable ? VTH_JOB_RETRY : VTH_JOB_FAIL;
}

/* {"key": value} as compact JSON text in p. */
const char *vth_job_result(apr_pool_t *p, json_object *o)
{
    const char *s = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

/* The message Twilio accepted, in the tenant's messages (its status callbacks move it on).
 * A failure here loses only the row, never the send: logged by the caller's note. */
static void record_outbound(apr_pool_t *p, PGconn *conn, const vth_job_t *job,
                            const char *sid, const char *channel, const char *from,
                            const char *to, const char *body)
{
    const char *params[6] = { job->company_id, sid, channel, from, to, body }, *err = NULL;
    PGresult *res = vth_pq(conn, p, VTH_PQ_COMMAND, "recording the outbound message",
                           "INSERT INTO messages (company_id, customer_id, message_sid,"
                           " direction, channel, from_number, to_number, body, status)"
                           " SELECT $1::bigint, (SELECT id FROM customers WHERE company_id ="
                           " $1::bigint AND phone = $5), $2, 'outbound', $3, $4, $5, $6,"
                           " 'queued' WHERE $2 ~ '^(SM|MM)[0-9a-fA-F]{32}$'"
                           /* a status callback may have made the row first */
                           " ON CONFLICT (message_sid) DO UPDATE SET body = EXCLUDED.body,"
                           " customer_id = coalesce(messages.customer_id, EXCLUDED.customer_id)"
                           " WHERE messages.company_id = EXCLUDED.company_id",
                           6, params, &err);

    if (res)
        PQclear(res);
    else
        vt_log(VT_LOG_WARN, "job %s: message %s sent but not recorded: %s", job->id, sid, err);
}

/* The consent ledger's refusal of (job's company, to, channel): NULL when the customer has
 * not opted out; 0 (with *out) when the ledger cannot be read. */
int vth_job_consent_refusal(apr_pool_t *p, PGconn *conn, const vth_job_t *job, const char *to,
                            const char *channel, const char **refusal, vth_outcome_t *out)
{
    const char *params[3] = { job->company_id, to, channel }, *err = NULL;
    PGresult *res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the consent ledger",
                           VT_CONSENT_STATE_SQL, 3, params, &err);

    *refusal = NULL;
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return 0;
    }
    if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "f") == 0)
        *refusal = apr_psprintf(p, "%s opted out of %s (%s, %s)", to, channel,
                                PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
    PQclear(res);
    return 1;
}

int vth_job_mark_started(apr_pool_t *p, PGconn *conn, const vth_job_t *job,
                         vth_outcome_t *out)
{
    const char *params[2] = { job->id, apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_now()) };
    const char *err = NULL;
    PGresult *res = vth_pq(conn, p, VTH_PQ_COMMAND, "marking the send",
                           "UPDATE jobs SET payload = payload || jsonb_build_object('"
                           VTH_SEND_STARTED "', $2::bigint) WHERE id = $1::bigint",
                           2, params, &err);

    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err); /* nothing sent: safe to try again */
        return 0;
    }
    PQclear(res);
    return 1;
}

int vth_job_found_earlier(apr_pool_t *p, apr_status_t rv, const vt_rest_result_t *r,
                          const char *done, const char **sid, vth_outcome_t *out)
{
    if (rv != APR_SUCCESS || r->http_status < 200 || r->http_status > 299) {
        vth_job_rest_failure(p, r, out);
        out->status = VTH_JOB_RETRY;
        out->error = apr_psprintf(p, "cannot tell whether an earlier attempt %s it: %s", done,
                                  out->error);
        return -1;
    }
    *sid = r->message;
    return r->message != NULL;
}

apr_time_t vth_job_started_since(json_object *payload)
{
    json_object *v;

    if (!json_object_object_get_ex(payload, VTH_SEND_STARTED, &v))
        return 0;
    return (apr_time_t)json_object_get_int64(v) - apr_time_from_sec(60);
}

/* The message's status callback: the payload's "status_callback" (an https, or for a local
 * gateway http, URL of this gateway's message-status route: the module knows it from the
 * request it answers), else the tenant's message-status route under its webhook URL, else
 * NULL (no status callbacks: the row stays 'queued'). */
static const char *status_callback(apr_pool_t *p, json_object *payload,
                                   const vth_integration_t *in)
{
    const char *url = vth_payload_str(payload, "status_callback");

    if (url && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0))
        return url;
    return in->webhook_url ? apr_pstrcat(p, in->webhook_url, "/message-status", NULL) : NULL;
}

/* An earlier attempt may have sent it: 1 when Twilio has it (*sid set), 0 when not, -1
 * when that cannot be told now (*out set: retry; never send blind). */
static int already_sent(apr_pool_t *p, const vth_config_t *cfg, const vth_integration_t *in,
                        json_object *payload, const char *to, const char *from,
                        const char *body, const char **sid, vth_outcome_t *out)
{
    apr_time_t since = vth_job_started_since(payload);
    vt_rest_result_t r;
    apr_status_t rv;

    *sid = NULL;
    if (!since)
        return 0;
    rv = vt_rest_message_find(p, cfg->api_base, in->account_sid, in->auth_token, to, from,
                              body, since, VTH_REST_TIMEOUT_MS, &r);
    return vth_job_found_earlier(p, rv, &r, "sent", sid, out);
}

/* Sends body from `from` (NULL: the integration's first number) to `to` on channel (sms or
 * whatsapp: both addresses then take Twilio's "whatsapp:" prefix), at most once however the
 * helper is interrupted: an attempt after one that may have sent it asks Twilio first. The
 * outbound message is recorded under the job's company. */
static void send_message(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                         vth_job_t *job, json_object *payload, const char *to,
                         const char *from, const char *channel, const char *body,
                         vth_outcome_t *out)
{
    const char *prefix = strcmp(channel, "whatsapp") == 0 ? "whatsapp:" : "";
    const char *sid = NULL, *to_addr, *from_addr;
    vth_integration_t in;
    vt_rest_result_t r;
    json_object *o;
    apr_status_t rv;
    int sent;

    if (!vth_job_integration(p, cfg, conn, job, &in, out))
        return;
    if (!from)
        from = in.from;
    if (!from || !vt_e164_valid(from)) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the integration has no E.164 number to send from");
        return;
    }
    to_addr = apr_pstrcat(p, prefix, to, NULL);
    from_addr = apr_pstrcat(p, prefix, from, NULL);
    if ((sent = already_sent(p, cfg, &in, payload, to_addr, from_addr, body, &sid, out)) < 0)
        return;
    if (!sent) {
        if (!vth_job_mark_started(p, conn, job, out))
            return;
        rv = vt_rest_message_send(p, cfg->api_base, in.account_sid, in.auth_token, to_addr,
                                  from_addr, body, status_callback(p, payload, &in),
                                  VTH_REST_TIMEOUT_MS, &r);
        if (rv != APR_SUCCESS || r.http_status < 200 || r.http_status > 299) {
            vth_job_rest_failure(p, &r, out);
            return;
        }
        sid = r.message;
    }
    record_outbound(p, conn, job, sid, channel, from, to, body);
    o = json_object_new_object();
    json_object_object_add(o, "message_sid", json_object_new_string(sid));
    out->status = VTH_JOB_DONE;
    out->result = vth_job_result(p, o);
    out->note = sent ? apr_psprintf(p, "message %s to %s was sent by an earlier attempt: "
                                       "not sent again", sid, to)
                     : apr_psprintf(p, "message %s to %s", sid, to);
}

/* sms_alert: to the tenant's own staff (escalation, notify), who are not customers. */
static void job_sms_alert(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                          vth_job_t *job, json_object *payload, vth_outcome_t *out)
{
    const char *to = vth_payload_str(payload, "to"), *body = vth_payload_str(payload, "body");

    if (!to || !vt_e164_valid(to)) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"to\" is not an E.164 number");
        return;
    }
    if (!body || !*body) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"body\" is missing or empty");
        return;
    }
    send_message(p, cfg, conn, job, payload, to, NULL, "sms", body, out);
}

/* message_send: to a customer, never one who opted out of the channel (the ledger is read
 * when the message goes, not when it was queued: a reminder may be days later). */
static void job_message_send(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                             vth_job_t *job, json_object *payload, vth_outcome_t *out)
{
    const char *to = vth_payload_str(payload, "to"), *body = vth_payload_str(payload, "body");
    const char *from = vth_payload_str(payload, "from"), *channel = vth_payload_str(payload, "channel");
    const char *refusal = NULL;

    if (!channel)
        channel = "sms";
    if (!to || !vt_e164_valid(to) || (from && !vt_e164_valid(from))) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"to\" or \"from\" is not an E.164 number");
        return;
    }
    if (strcmp(channel, "sms") != 0 && strcmp(channel, "whatsapp") != 0) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"channel\" is neither sms nor whatsapp");
        return;
    }
    if (!body || !*body) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"body\" is missing or empty");
        return;
    }
    if (!job->company_id) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the job has no company");
        return;
    }
    if (!vth_job_consent_refusal(p, conn, job, to, channel, &refusal, out))
        return;
    if (refusal) {
        vth_job_outcome(out, VTH_JOB_FAIL, apr_pstrcat(p, refusal, ": not sent", NULL));
        return;
    }
    send_message(p, cfg, conn, job, payload, to, from, channel, body, out);
}

/* The WAV media URL of recording rsid (Twilio's RecordingUrl has no extension; ".wav" is
 * accepted too), or NULL when url does not name that recording. */
static const char *recording_media_url(apr_pool_t *p, const char *url, const char *rsid)
{
    const char *tail = apr_pstrcat(p, "/Recordings/", rsid, NULL);
    size_t n = strlen(url), t = strlen(tail);

    if (n > t && strcmp(url + n - t, tail) == 0)
        return apr_pstrcat(p, url, ".wav", NULL);
    if (n > t + 4 && strncmp(url + n - t - 4, tail, t) == 0 && strcmp(url + n - 4, ".wav") == 0)
        return url;
    return NULL;
}

static int make_dir(apr_pool_t *p, const char *dir, vth_outcome_t *out)
{
    struct stat st;

    if (mkdir(dir, VTH_RECORDINGS_DIR_MODE) != 0 && errno != EEXIST) {
        vth_job_outcome(out, VTH_JOB_RETRY, apr_psprintf(p, "cannot create %s: %s", dir,
                                                 strerror(errno)));
        return 0;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        vth_job_outcome(out, VTH_JOB_RETRY, apr_psprintf(p, "%s is not a directory", dir));
        return 0;
    }
    return 1;
}

/* The call's recording is transcribed when its tenant has a speech-to-text endpoint (once:
 * the dedup key). 1 with *queued, 0 on a database error (*out set; the download is
 * repeated on the retry, which is harmless). */
static int queue_transcription(apr_pool_t *p, PGconn *conn, const vth_job_t *job,
                               const char *rsid, int *queued, vth_outcome_t *out)
{
    const char *params[4], *err;
    json_object *o = json_object_new_object();
    PGresult *res;

    *queued = 0;
    json_object_object_add(o, "recording_sid", json_object_new_string(rsid));
    params[0] = job->company_id;
    params[1] = job->call_sid;
    params[2] = vth_job_result(p, o);
    params[3] = apr_pstrcat(p, "recording_transcribe:", rsid, NULL);
    if (!job->call_sid || !vt_sid_valid(job->call_sid, "CA"))
        return 1; /* no call to give a transcript to */
    res = vth_pq(conn, p, VTH_PQ_ROWS, "queueing the transcription",
                 "INSERT INTO jobs (kind, company_id, call_sid, payload, dedup_key)"
                 " SELECT 'recording_transcribe', co.id, $2, $3::jsonb, $4"
                 " FROM companies co WHERE co.id = $1::bigint AND co.stt_url IS NOT NULL"
                 " ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
                 4, params, &err);
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return 0;
    }
    *queued = PQntuples(res) == 1;
    PQclear(res);
    return 1;
}

static void job_recording_download(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                                   vth_job_t *job, json_object *payload, vth_outcome_t *out)
{
    const char *rsid = vth_payload_str(payload, "recording_sid");
    const char *url = vth_payload_str(payload, "url"), *media, *dir, *dest;
    vth_integration_t in;
    vt_rest_result_t r;
    json_object *o;
    apr_status_t rv;
    int queued;

    if (!rsid || !vt_sid_valid(rsid, "RE")) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"recording_sid\" is not a recording SID (RE...)");
        return;
    }
    if (!url || !(media = recording_media_url(p, url, rsid))) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"url\" does not name the recording");
        return;
    }
    if (!vth_job_integration(p, cfg, conn, job, &in, out))
        return;
    if (!vt_slug_valid(in.slug)) { /* it becomes a directory name */
        vth_job_outcome(out, VTH_JOB_FAIL, "the company slug is not valid");
        return;
    }
    dir = apr_pstrcat(p, cfg->recordings_dir, "/", in.slug, NULL);
    if (!make_dir(p, cfg->recordings_dir, out) || !make_dir(p, dir, out))
        return;
    dest = apr_pstrcat(p, dir, "/", rsid, ".wav", NULL);
    rv = vt_rest_download(p, cfg->api_base, media, in.account_sid, in.auth_token, dest,
                          VTH_DOWNLOAD_MAX_BYTES, VTH_DOWNLOAD_TIMEOUT_MS, &r);
    if (rv != APR_SUCCESS || r.http_status < 200 || r.http_status > 299) {
        vth_job_rest_failure(p, &r, out);
        return;
    }
    if (!queue_transcription(p, conn, job, rsid, &queued, out))
        return;
    o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string(dest));
    json_object_object_add(o, "bytes", json_object_new_int64((int64_t)r.bytes));
    out->status = VTH_JOB_DONE;
    out->result = vth_job_result(p, o);
    out->note = apr_psprintf(p, "%" APR_OFF_T_FMT " bytes to %s%s", r.bytes, dest,
                             queued ? "; transcription queued" : "");
}

/* ---------------------------------------------------------------- media_download */

/* A file name extension for a media type (Twilio's MMS and WhatsApp types), else "bin". */
static const char *media_extension(const char *type)
{
    static const struct { const char *type, *ext; } known[] = {
        { "image/jpeg", "jpg" }, { "image/png", "png" }, { "image/gif", "gif" },
        { "image/webp", "webp" }, { "application/pdf", "pdf" }, { "audio/ogg", "ogg" },
        { "audio/mpeg", "mp3" }, { "audio/amr", "amr" }, { "video/mp4", "mp4" },
        { "text/vcard", "vcf" }, { "text/plain", "txt" },
    };
    size_t i;

    for (i = 0; type && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(type, known[i].type) == 0)
            return known[i].ext;
    return "bin";
}

/* The message's media (messages.media), each fetched with the tenant's credentials to
 * <recordings-dir>/<slug>/media/<MessageSid>-<N>.<ext>; their "path" is then added to the
 * list. A retry fetches them all again (each file is replaced whole). */
static void job_media_download(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                               vth_job_t *job, json_object *payload, vth_outcome_t *out)
{
    const char *sid = vth_payload_str(payload, "message_sid"), *params[2], *err = NULL, *dir;
    vth_integration_t in;
    json_object *media, *o;
    PGresult *res;
    apr_off_t bytes = 0;
    size_t i, n;

    if (!sid || !(vt_sid_valid(sid, "MM") || vt_sid_valid(sid, "SM"))) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"message_sid\" is not a message SID (MM... or SM...)");
        return;
    }
    if (!vth_job_integration(p, cfg, conn, job, &in, out))
        return;
    params[0] = sid;
    params[1] = job->company_id;
    res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the message's media",
                 "SELECT media::text FROM messages WHERE message_sid = $1"
                 " AND company_id = $2::bigint", 2, params, &err);
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return;
    }
    media = PQntuples(res) == 1 ? json_tokener_parse(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    if (!media || !json_object_is_type(media, json_type_array)) {
        json_object_put(media);
        vth_job_outcome(out, VTH_JOB_FAIL, "the message or its media list is missing");
        return;
    }
    dir = apr_pstrcat(p, cfg->recordings_dir, "/", in.slug, NULL);
    if (!vt_slug_valid(in.slug) || !make_dir(p, cfg->recordings_dir, out)
        || !make_dir(p, dir, out) || !make_dir(p, (dir = apr_pstrcat(p, dir, "/media", NULL)),
                                               out)) {
        if (!vt_slug_valid(in.slug))
            vth_job_outcome(out, VTH_JOB_FAIL, "the company slug is not valid");
        json_object_put(media);
        return;
    }
    n = json_object_array_length(media);
    for (i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(media, i);
        const char *url = vth_payload_str(m, "url"), *dest;
        vt_rest_result_t r;
        apr_status_t rv;

        dest = apr_psprintf(p, "%s/%s-%d.%s", dir, sid, (int)i,
                            media_extension(vth_payload_str(m, "content_type")));
        rv = url ? vt_rest_download(p, cfg->api_base, url, in.account_sid, in.auth_token, dest,
                                    VTH_DOWNLOAD_MAX_BYTES, VTH_DOWNLOAD_TIMEOUT_MS, &r)
                 : APR_EINVAL;
        if (rv != APR_SUCCESS || r.http_status < 200 || r.http_status > 299) {
            if (!url)
                vth_job_outcome(out, VTH_JOB_FAIL, "a media entry has no url");
            else
                vth_job_rest_failure(p, &r, out);
            json_object_put(media);
            return;
        }
        json_object_object_add(m, "path", json_object_new_string(dest));
        bytes += r.bytes;
    }
    params[0] = apr_pstrdup(p, json_object_to_json_string_ext(media, JSON_C_TO_STRING_PLAIN));
    params[1] = sid;
    json_object_put(media);
    res = vth_pq(conn, p, VTH_PQ_COMMAND, "recording the media's paths",
                 "UPDATE messages SET media = $1::jsonb, updated_at = now()"
                 " WHERE message_sid = $2", 2, params, &err);
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return;
    }
    PQclear(res);
    o = json_object_new_object();
    json_object_object_add(o, "files", json_object_new_int((int)n));
    out->status = VTH_JOB_DONE;
    out->result = vth_job_result(p, o);
    out->note = apr_psprintf(p, "%d media files, %" APR_OFF_T_FMT " bytes, to %s", (int)n,
                             bytes, dir);
}

/* ---------------------------------------------------------------- recording_transcribe */

#define TR_PIECE 4096         /* bytes read at a time: 128 ms of 8 kHz stereo, so the two
                               * channels' utterances are sent in the order they ended */
#define TR_FLUSH_FRAMES 40    /* 800 ms of silence after the end: the last utterance ends */

typedef struct tr_channel {
    const char *speaker;      /* "caller" (channel 1) or "assistant" (channel 2) */
    vt_resampler_t *rs;       /* NULL at 8000 Hz */
    vt_turn_t *turn;
    int16_t frame[VT_VAD_FRAME];
    size_t nframe;
    long frames;              /* 20 ms frames given to the detector */
    long start_ms;            /* where the utterance in progress started; -1: none */
} tr_channel_t;

typedef struct tr_state {
    apr_pool_t *p;
    vth_jobs_t *jobs;
    vt_stt_conf_t conf;
    long long deadline;       /* vth_now_ms() */
    int rate, nch;
    tr_channel_t ch[2];
    unsigned char carry[4];   /* a frame cut by a piece boundary */
    size_t ncarry;
    int data_done;            /* the data chunk ended: what follows is not audio */
    int16_t *split[2], *pcm8; /* per-channel samples of a piece, and resampled */
    size_t probe_n;           /* samples the reader gave for the first 4 bytes of data */
    json_object *lines;
    const char *bad;          /* the recording cannot be read: why */
    int partial;              /* the budget ran out */
    const char *failure;      /* the endpoint failed: why (no secret) */
    int retry;                /* ... and a retry may do better */
} tr_state_t;

/* The text of a failed request, and whether to retry it (the outbox's policy). */
static void tr_failed(tr_state_t *s, const vt_stt_result_t *res, apr_status_t rv)
{
    long st = res->http_status;

    s->retry = rv != APR_EINVAL && (res->timed_out || st == 0 || st == 429 || st >= 500);
    /* vt_stt's text names the HTTP status already ("HTTP 401: ...") */
    s->failure = res->timed_out
                     ? apr_psprintf(s->p, "no transcript within %ld ms", VTH_TRANSCRIBE_REQUEST_MS)
                     : (res->error ? res->error : "the request failed");
}

/* One utterance of ch: its words as a line of the dialogue. 0, or -1 to stop (failure or
 * the budget spent). */
static int tr_utterance(tr_state_t *s, tr_channel_t *ch, const int16_t *pcm, size_t n)
{
    long long left = s->deadline - vth_now_ms();
    long start = ch->start_ms;
    apr_pool_t *rp;
    vt_stt_reply_t reply;
    vt_stt_result_t res;
    apr_status_t rv;
    json_object *o;

    if (left <= 0) {
        s->partial = 1;
        return -1;
    }
    apr_pool_create(&rp, s->p); /* the request's memory goes with it: long calls stay small */
    rv = vt_stt_transcribe(s->jobs->llm_http, rp, &s->conf, pcm, n,
                           left < VTH_TRANSCRIBE_REQUEST_MS ? (long)left
                                                            : VTH_TRANSCRIBE_REQUEST_MS,
                           &reply, &res);
    if (rv != APR_SUCCESS) {
        if (res.timed_out && left < VTH_TRANSCRIBE_REQUEST_MS)
            s->partial = 1; /* the job's budget, not the endpoint */
        else
            tr_failed(s, &res, rv);
        apr_pool_destroy(rp);
        return -1;
    }
    if (*reply.text) {
        o = json_object_new_object();
        json_object_object_add(o, "speaker", json_object_new_string(ch->speaker));
        json_object_object_add(o, "start_ms", json_object_new_int64(start));
        json_object_object_add(o, "text", json_object_new_string(reply.text));
        json_object_array_add(s->lines, o);
    }
    apr_pool_destroy(rp);
    return 0;
}

/* One frame through ch's detector; an utterance that ended is transcribed. 0 or -1. */
static int tr_frame(tr_state_t *s, tr_channel_t *ch, const int16_t *frame)
{
    vt_turn_event_t ev = vt_turn_frame(ch->turn, frame);

    ch->frames++;
    /* START comes min_speech_ms into the speech (BARGE_IN implies it) */
    if ((ev == VT_TURN_START || ev == VT_TURN_BARGE_IN) && ch->start_ms < 0) {
        long at = ch->frames * 20 - vt_turn_conf(ch->turn)->min_speech_ms;
        ch->start_ms = at > 0 ? at : 0;
    }
    if (ev == VT_TURN_END) {
        size_t un;
        const int16_t *u = vt_turn_utterance(ch->turn, &un);
        if (tr_utterance(s, ch, u, un) < 0)
            return -1;
    }
    if (ev == VT_TURN_END || ev == VT_TURN_DROPPED)
        ch->start_ms = -1;
    return 0;
}

/* n samples of channel c at the recording's rate through the turn detector. */
static int tr_samples(tr_state_t *s, int c, const int16_t *pcm, size_t n)
{
    tr_channel_t *ch = &s->ch[c];
    size_t i;

    if (ch->rs) {
        n = vt_resampler_process(ch->rs, pcm, n, s->pcm8, TR_PIECE + 16);
        pcm = s->pcm8;
    }
    for (i = 0; i < n; i++) {
        ch->frame[ch->nframe++] = pcm[i];
        if (ch->nframe < VT_VAD_FRAME)
            continue;
        ch->nframe = 0;
        if (tr_frame(s, ch, ch->frame) < 0)
            return -1;
    }
    return 0;
}

/* The bytes the reader has just read: exactly n frames (its count, which stops where the
 * data chunk does), split by channel; a frame cut by the piece is kept for the next. */
static int tr_split(tr_state_t *s, const unsigned char *b, size_t len, size_t n)
{
    size_t fs = (size_t)s->nch * 2, k = 0;
    int c;

    for (; len && !s->data_done; b++, len--) {
        s->carry[s->ncarry++] = *b;
        if (s->ncarry < fs)
            continue;
        s->ncarry = 0;
        if (k == n) {
            s->data_done = 1;
            break;
        }
        for (c = 0; c < s->nch; c++)
            s->split[c][k] = (int16_t)(s->carry[2 * c] | s->carry[2 * c + 1] << 8);
        k++;
    }
    for (c = 0; c < s->nch; c++)
        if (tr_samples(s, c, s->split[c], k) < 0)
            return -1;
    return 0;
}

/* The recording's header through vt_wav's reader, byte by byte: its rate is known exactly
 * when the data chunk starts, and 4 bytes of data are one stereo frame (one sample, as
 * the reader averages stereo) or two mono samples. The data's offset in b, or -1. */
static long tr_header(tr_state_t *s, vt_wav_reader_t *r, const unsigned char *b, size_t len)
{
    const int16_t *pcm;
    size_t i, n;

    for (i = 0; i < len && !vt_wav_reader_rate(r); i++)
        if (vt_wav_reader_feed(r, b + i, 1, &pcm, &n) < 0) {
            s->bad = vt_wav_reader_error(r);
            return -1;
        }
    if (!vt_wav_reader_rate(r) || len - i < 4) {
        s->bad = "the recording has no audio";
        return -1;
    }
    s->rate = vt_wav_reader_rate(r);
    vt_wav_reader_feed(r, b + i, 4, &pcm, &s->probe_n);
    s->nch = s->probe_n == 1 ? 2 : 1;
    return (long)i;
}

/* Sets up the channels once the rate is known. 0, or -1 out of memory. */
static int tr_channels(tr_state_t *s)
{
    int c;

    s->ch[0].speaker = "caller";
    s->ch[1].speaker = "assistant";
    s->pcm8 = apr_palloc(s->p, (TR_PIECE + 16) * sizeof *s->pcm8);
    for (c = 0; c < s->nch; c++) {
        s->ch[c].start_ms = -1;
        s->split[c] = apr_palloc(s->p, TR_PIECE * sizeof *s->split[c]);
        if (!(s->ch[c].turn = vt_turn_create(NULL))
            || (s->rate != 8000
                && !(s->ch[c].rs = vt_resampler_create(s->rate, 8000, VT_RESAMPLER_DEFAULT))))
            return -1;
    }
    return 0;
}

static void tr_free(tr_state_t *s)
{
    for (int c = 0; c < 2; c++) {
        vt_turn_destroy(s->ch[c].turn);
        vt_resampler_destroy(s->ch[c].rs);
    }
}

/* 20 ms frames of silence after the recording: an utterance still open ends. */
static int tr_flush(tr_state_t *s)
{
    static const int16_t quiet[VT_VAD_FRAME];
    int c, i;

    for (c = 0; c < s->nch; c++)
        for (i = 0; i < TR_FLUSH_FRAMES; i++)
            if (tr_frame(s, &s->ch[c], quiet) < 0)
                return -1;
    return 0;
}

/* One piece of the file through the reader (which checks and bounds the data) and split.
 * 0, or -1 to stop (s->bad, s->failure or s->partial says why). */
static int tr_piece(tr_state_t *s, vt_wav_reader_t *r, const unsigned char *b, size_t len)
{
    const int16_t *pcm;
    size_t n;

    if (vt_wav_reader_feed(r, b, len, &pcm, &n) < 0) {
        s->bad = vt_wav_reader_error(r);
        return -1;
    }
    return tr_split(s, b, len, n);
}

/* Reads and transcribes the recording at path; the outcome is in *s. */
static void tr_run(tr_state_t *s, const char *path)
{
    unsigned char first[2 * VT_WAV_HEADER_MAX], piece[TR_PIECE];
    vt_wav_reader_t *r = vt_wav_reader_create(0);
    FILE *f = fopen(path, "rb");
    size_t len;
    long off;

    if (!r || !f) {
        s->bad = !r ? "out of memory"
                    : apr_psprintf(s->p, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    len = fread(first, 1, sizeof first, f);
    if ((off = tr_header(s, r, first, len)) < 0 || s->nch == 1)
        goto out; /* mono: who said what is unknown; not transcribed */
    if (tr_channels(s) < 0) {
        s->bad = "out of memory";
        goto out;
    }
    /* the 4 bytes the header probe read, then the rest of the first piece */
    if (tr_split(s, first + off, 4, s->probe_n) < 0
        || tr_piece(s, r, first + off + 4, len - (size_t)off - 4) < 0)
        goto out;
    while (!s->data_done && (len = fread(piece, 1, sizeof piece, f)) > 0)
        if (tr_piece(s, r, piece, len) < 0)
            goto out;
    if (ferror(f))
        s->bad = apr_psprintf(s->p, "cannot read %s", path);
    else
        (void)tr_flush(s); /* a failure there is in *s like any other */
out:
    if (f)
        fclose(f);
    vt_wav_reader_destroy(r);
}

/* The call's tenant's endpoint into s->conf (its key decrypted into p). 1 ready; 0 with
 * *out set: nothing to do (the call is gone, already transcribed, no endpoint any more:
 * *wake says whether the analysis still waits), or a failure. */
static int tr_load(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn, const vth_job_t *job,
                   tr_state_t *s, int *wake, vth_outcome_t *out)
{
    const char *params[1] = { job->call_sid }, *key = NULL, *err = NULL, *st;
    PGresult *res;
    int ok = 0;

    *wake = 0;
    res = vth_pq(conn, p, VTH_PQ_ROWS, "reading the call",
                 "SELECT co.id, co.stt_url, co.stt_model, encode(co.stt_key_enc, 'hex'),"
                 " co.stt_key_id, co.language, coalesce(c.transcript_status, '')"
                 " FROM calls c JOIN companies co ON co.id = c.company_id"
                 " WHERE c.call_sid = $1",
                 1, params, &err);
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
    }
    else if (PQntuples(res) != 1) {
        vth_job_outcome(out, VTH_JOB_DONE, NULL);
        out->note = "the call no longer exists: nothing to transcribe";
    }
    else if (strcmp((st = PQgetvalue(res, 0, 6)), "done") == 0 || strcmp(st, "mono") == 0
             || strcmp(st, "partial") == 0) {
        vth_job_outcome(out, VTH_JOB_DONE, NULL); /* a retry after the result was lost */
        out->note = apr_pstrcat(p, "already transcribed (", st, ")", NULL);
    }
    else if (PQgetisnull(res, 0, 1)) {
        vth_job_outcome(out, VTH_JOB_DONE, NULL);
        out->note = "the tenant has no speech-to-text endpoint any more";
        *wake = 1;
    }
    else if (!PQgetisnull(res, 0, 3)
             && vt_secret_decrypt(p, cfg->ring, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 4),
                                  PQgetvalue(res, 0, 3), &key, &err) != APR_SUCCESS) {
        /* the company id is the associated data: a key copied from another row fails */
        vth_job_outcome(out, VTH_JOB_FAIL, apr_psprintf(p, "cannot decrypt the speech-to-text key: %s",
                                                err ? err : "unknown error"));
        *wake = 1;
    }
    else {
        s->conf.base_url = apr_pstrdup(p, PQgetvalue(res, 0, 1));
        s->conf.model = apr_pstrdup(p, PQgetvalue(res, 0, 2));
        s->conf.api_key = key;
        s->conf.language = vt_stt_language(p, PQgetvalue(res, 0, 5));
        ok = 1;
    }
    PQclear(res);
    return ok;
}

static int tr_by_start(const void *a, const void *b)
{
    json_object *x, *y;
    int64_t sa, sb;

    json_object_object_get_ex(*(json_object *const *)a, "start_ms", &x);
    json_object_object_get_ex(*(json_object *const *)b, "start_ms", &y);
    sa = json_object_get_int64(x);
    sb = json_object_get_int64(y);
    return sa < sb ? -1 : sa > sb;
}

/* Stores the transcript (lines NULL: none) and, when wake, makes the call's waiting
 * analysis due now. 1, or 0 on a database error (*out set). */
static int tr_store(apr_pool_t *p, PGconn *conn, const char *sid, const char *status,
                    const char *lines, const char *error, int wake, vth_outcome_t *out)
{
    const char *params[5] = { sid, lines, status, error, wake ? "t" : "f" }, *err;
    PGresult *res;

    /* One statement: the transcript is there whenever the analysis is due. The NOTIFY
     * makes another helper, asleep until the old due time, look now. */
    res = vth_pq(conn, p, VTH_PQ_ROWS, "storing the transcript",
                 "WITH c AS (UPDATE calls SET recording_transcript = $2::jsonb,"
                 "  transcript_status = $3, transcript_error = left($4, 300),"
                 "  transcribed_at = now(), updated_at = now()"
                 "  WHERE call_sid = $1 RETURNING 1),"
                 " w AS (UPDATE jobs SET run_after = now(), updated_at = now()"
                 "  WHERE $5::boolean AND dedup_key = 'call_analysis:' || $1"
                 "  AND status = 'pending' AND run_after > now() RETURNING id)"
                 " SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM w),"
                 "  pg_notify('" VTH_JOBS_CHANNEL "', 'transcript')",
                 5, params, &err);
    if (!res) {
        vth_job_outcome(out, VTH_JOB_RETRY, err);
        return 0;
    }
    PQclear(res);
    return 1;
}

/* Wakes the analysis without a transcript (nothing more will come). Best effort, so no
 * error text: the analysis is due at its bound anyway. */
static void tr_wake(apr_pool_t *p, PGconn *conn, const char *sid)
{
    const char *params[1] = { sid };

    PQclear(vth_pq(conn, p, VTH_PQ_COMMAND, "waking the analysis",
                   "UPDATE jobs SET run_after = now(), updated_at = now()"
                   " WHERE dedup_key = 'call_analysis:' || $1"
                   " AND status = 'pending' AND run_after > now()",
                   1, params, NULL));
}

/* The job's outcome from what tr_run left in s; 'failed' is stored too. */
static void tr_outcome(apr_pool_t *p, PGconn *conn, const vth_job_t *job, tr_state_t *s,
                       vth_outcome_t *out)
{
    const char *status, *error = s->bad ? s->bad : s->failure;
    int n = (int)json_object_array_length(s->lines), wake;
    json_object *o;

    status = error ? "failed" : s->nch == 1 ? "mono" : s->partial ? "partial" : "done";
    /* a failure that will be retried leaves the analysis waiting (its bound still holds) */
    wake = !error || !(s->failure && s->retry) || job->attempts >= job->max_attempts;
    json_object_array_sort(s->lines, tr_by_start);
    if (!tr_store(p, conn, job->call_sid, status,
                  error ? NULL : json_object_to_json_string_ext(s->lines, JSON_C_TO_STRING_PLAIN),
                  error, wake, out))
        return;
    if (error) {
        vth_job_outcome(out, s->failure && s->retry ? VTH_JOB_RETRY : VTH_JOB_FAIL,
                apr_pstrcat(p, s->bad ? "unusable recording: " : "speech-to-text failed: ",
                            error, NULL));
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "transcript", json_object_new_string(status));
    json_object_object_add(o, "lines", json_object_new_int(n));
    out->status = VTH_JOB_DONE;
    out->result = vth_job_result(p, o);
    out->note = apr_psprintf(p, "transcript %s: %d line%s", status, n, n == 1 ? "" : "s");
}

static void job_recording_transcribe(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs,
                                     PGconn *conn, vth_job_t *job, json_object *payload,
                                     vth_outcome_t *out)
{
    const char *rsid = vth_payload_str(payload, "recording_sid");
    tr_state_t s;
    int wake;

    if (!rsid || !vt_sid_valid(rsid, "RE")) {
        vth_job_outcome(out, VTH_JOB_FAIL, "\"recording_sid\" is not a recording SID (RE...)");
        return;
    }
    if (!job->call_sid || !vt_sid_valid(job->call_sid, "CA")) {
        vth_job_outcome(out, VTH_JOB_FAIL, "the job has no CallSid");
        return;
    }
    if (!job->slug || !vt_slug_valid(job->slug)) { /* it is a directory name */
        vth_job_outcome(out, VTH_JOB_FAIL, "the job's company has no valid slug");
        return;
    }
    memset(&s, 0, sizeof s);
    s.p = p;
    s.jobs = jobs;
    if (!tr_load(p, cfg, conn, job, &s, &wake, out)) {
        if (wake)
            tr_wake(p, conn, job->call_sid);
        return;
    }
    /* One client per process (shared with the analysis): connections are reused. */
    if (!jobs->llm_http && !(jobs->llm_http = vt_llm_http_create(jobs->pool))) {
        vth_job_outcome(out, VTH_JOB_RETRY, "cannot create an HTTP client");
        return;
    }
    s.lines = json_object_new_array();
    s.deadline = vth_now_ms() + VTH_TRANSCRIBE_BUDGET_MS;
    tr_run(&s, apr_pstrcat(p, cfg->recordings_dir, "/", job->slug, "/", rsid, ".wav", NULL));
    tr_outcome(p, conn, job, &s, out);
    json_object_put(s.lines);
    tr_free(&s);
}

void vth_job_run(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs, PGconn *conn,
                 vth_job_t *job, vth_outcome_t *out)
{
    json_object *payload = job->payload ? json_tokener_parse(job->payload) : NULL;

    if (!payload || !json_object_is_type(payload, json_type_object))
        vth_job_outcome(out, VTH_JOB_FAIL, "the payload is not a JSON object");
    else if (strcmp(job->kind, "sms_alert") == 0)
        job_sms_alert(p, cfg, conn, job, payload, out);
    else if (strcmp(job->kind, "message_send") == 0)
        job_message_send(p, cfg, conn, job, payload, out);
    else if (strcmp(job->kind, "recording_download") == 0 && cfg->recordings_dir)
        job_recording_download(p, cfg, conn, job, payload, out);
    else if (strcmp(job->kind, "recording_transcribe") == 0 && cfg->recordings_dir)
        job_recording_transcribe(p, cfg, jobs, conn, job, payload, out);
    else if (strcmp(job->kind, "call_analysis") == 0)
        vth_job_call_analysis(p, cfg, jobs, conn, job, out);
    else if (strcmp(job->kind, "call_place") == 0)
        vth_job_call_place(p, cfg, conn, job, payload, out);
    else if (strcmp(job->kind, "call_rules") == 0)
        vth_job_call_rules(p, cfg, conn, job, out);
    else if (strcmp(job->kind, "media_download") == 0 && cfg->recordings_dir)
        job_media_download(p, cfg, conn, job, payload, out);
    else
        vth_job_outcome(out, VTH_JOB_FAIL, "unknown job kind");
    json_object_put(payload);
}
