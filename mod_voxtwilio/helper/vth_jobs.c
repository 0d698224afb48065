/* vth_jobs — voxtwilio-helper: what each job kind does.
 *
 *   sms_alert           {"to": "+E164", "body": "..."}: Messages.json from the tenant's
 *                       first integration number (ORDER BY number)
 *   recording_download  {"recording_sid": "RE...", "url": "https://api.twilio.com/..."}:
 *                       <recordings-dir>/<slug>/<RecordingSid>.wav
 *   call_analysis       {} (call_sid set): the call's summary, sentiment and to-dos
 *                       (vth_analysis.c)
 *
 * The tenant's auth token is decrypted into the job's pool (wiped when the job ends) and
 * only ever handed to vt_rest; no message built here contains it.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <json-c/json.h>

#include "vth.h"
#include "vt_keyring.h"
#include "vt_log.h"
#include "vt_rest.h"
#include "vt_util.h"

typedef struct vth_integration {
    const char *slug;
    const char *account_sid;
    const char *auth_token; /* decrypted, in the job's pool */
    const char *from;       /* first number, NULL when it has none */
} vth_integration_t;

vth_jobs_t *vth_jobs_create(apr_pool_t *p)
{
    vth_jobs_t *jobs = apr_pcalloc(p, sizeof *jobs);
    jobs->pool = p;
    return jobs;
}

const char *vth_jobs_excluded(apr_pool_t *p, const vth_config_t *cfg)
{
    return cfg->recordings_dir ? NULL : apr_pstrdup(p, "{recording_download}");
}

static void outcome(vth_outcome_t *out, vth_job_status_t st, const char *error)
{
    out->status = st;
    out->error = error;
}

/* A string member of the payload, NULL when absent or not a string. */
static const char *payload_str(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* Looks up the job's tenant and decrypts its token. 1 when ready; 0 with *out set. */
static int load_integration(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                            const vth_job_t *job, vth_integration_t *in, vth_outcome_t *out)
{
    const char *params[1], *key_id, *hex, *err = NULL;
    PGresult *res;
    ExecStatusType st;

    memset(in, 0, sizeof *in);
    if (!job->company_id) {
        outcome(out, VTH_JOB_FAIL, "the job has no company");
        return 0;
    }
    params[0] = job->company_id;
    res = PQexecParams(conn,
                       "SELECT c.slug, c.enabled, ci.account_sid, ci.key_id,"
                       " encode(ci.auth_token_enc, 'hex'), ci.enabled,"
                       " (SELECT n.number FROM integration_numbers n"
                       "  WHERE n.integration_id = ci.id ORDER BY n.number LIMIT 1)"
                       " FROM companies c LEFT JOIN client_integrations ci"
                       "  ON ci.company_id = c.id AND ci.provider = 'TWILIO'"
                       " WHERE c.id = $1::bigint",
                       1, NULL, params, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK) {
        const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
        outcome(out, VTH_JOB_RETRY,
                apr_psprintf(p, "database error looking up the integration: %s",
                             m ? m : PQerrorMessage(conn)));
        PQclear(res);
        return 0;
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        outcome(out, VTH_JOB_FAIL, "the company does not exist");
        return 0;
    }
    in->slug = apr_pstrdup(p, PQgetvalue(res, 0, 0));
    if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
        PQclear(res);
        outcome(out, VTH_JOB_FAIL, "the company is disabled");
        return 0;
    }
    if (PQgetisnull(res, 0, 2)) {
        PQclear(res);
        outcome(out, VTH_JOB_FAIL, "the company has no Twilio integration");
        return 0;
    }
    if (strcmp(PQgetvalue(res, 0, 5), "t") != 0) {
        PQclear(res);
        outcome(out, VTH_JOB_FAIL, "the company's integration is disabled");
        return 0;
    }
    in->account_sid = apr_pstrdup(p, PQgetvalue(res, 0, 2));
    key_id = apr_pstrdup(p, PQgetvalue(res, 0, 3));
    hex = apr_pstrdup(p, PQgetvalue(res, 0, 4));
    in->from = PQgetisnull(res, 0, 6) ? NULL : apr_pstrdup(p, PQgetvalue(res, 0, 6));
    PQclear(res);

    /* The company id is the associated data: a token copied from another tenant's row
     * does not open. */
    if (vt_secret_decrypt(p, cfg->ring, job->company_id, key_id, hex, &in->auth_token, &err)
        != APR_SUCCESS) {
        outcome(out, VTH_JOB_FAIL, apr_psprintf(p, "cannot decrypt the auth token: %s",
                                                err ? err : "unknown error"));
        return 0;
    }
    return 1;
}

/* The REST failure as a short text, and whether it is worth retrying. */
static void rest_failure(apr_pool_t *p, const vt_rest_result_t *r, vth_outcome_t *out)
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
static const char *result_json(apr_pool_t *p, json_object *o)
{
    const char *s = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

static void job_sms_alert(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                          vth_job_t *job, json_object *payload, vth_outcome_t *out)
{
    const char *to = payload_str(payload, "to"), *body = payload_str(payload, "body");
    vth_integration_t in;
    vt_rest_result_t r;
    json_object *o;
    apr_status_t rv;

    if (!to || !vt_e164_valid(to)) {
        outcome(out, VTH_JOB_FAIL, "\"to\" is not an E.164 number");
        return;
    }
    if (!body || !*body) {
        outcome(out, VTH_JOB_FAIL, "\"body\" is missing or empty");
        return;
    }
    if (!load_integration(p, cfg, conn, job, &in, out))
        return;
    if (!in.from || !vt_e164_valid(in.from)) {
        outcome(out, VTH_JOB_FAIL, "the integration has no E.164 number to send from");
        return;
    }
    rv = vt_rest_message_send(p, cfg->api_base, in.account_sid, in.auth_token, to, in.from,
                              body, VTH_REST_TIMEOUT_MS, &r);
    if (rv != APR_SUCCESS || r.http_status < 200 || r.http_status > 299) {
        rest_failure(p, &r, out);
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "message_sid", json_object_new_string(r.message));
    out->status = VTH_JOB_DONE;
    out->result = result_json(p, o);
    out->note = apr_psprintf(p, "message %s to %s", r.message, to);
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

    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        outcome(out, VTH_JOB_RETRY, apr_psprintf(p, "cannot create %s: %s", dir,
                                                 strerror(errno)));
        return 0;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        outcome(out, VTH_JOB_RETRY, apr_psprintf(p, "%s is not a directory", dir));
        return 0;
    }
    return 1;
}

static void job_recording_download(apr_pool_t *p, const vth_config_t *cfg, PGconn *conn,
                                   vth_job_t *job, json_object *payload, vth_outcome_t *out)
{
    const char *rsid = payload_str(payload, "recording_sid");
    const char *url = payload_str(payload, "url"), *media, *dir, *dest;
    vth_integration_t in;
    vt_rest_result_t r;
    json_object *o;
    apr_status_t rv;

    if (!rsid || !vt_sid_valid(rsid, "RE")) {
        outcome(out, VTH_JOB_FAIL, "\"recording_sid\" is not a recording SID (RE...)");
        return;
    }
    if (!url || !(media = recording_media_url(p, url, rsid))) {
        outcome(out, VTH_JOB_FAIL, "\"url\" does not name the recording");
        return;
    }
    if (!load_integration(p, cfg, conn, job, &in, out))
        return;
    if (!vt_slug_valid(in.slug)) { /* it becomes a directory name */
        outcome(out, VTH_JOB_FAIL, "the company slug is not valid");
        return;
    }
    dir = apr_pstrcat(p, cfg->recordings_dir, "/", in.slug, NULL);
    if (!make_dir(p, cfg->recordings_dir, out) || !make_dir(p, dir, out))
        return;
    dest = apr_pstrcat(p, dir, "/", rsid, ".wav", NULL);
    rv = vt_rest_download(p, cfg->api_base, media, in.account_sid, in.auth_token, dest,
                          VTH_DOWNLOAD_MAX_BYTES, VTH_DOWNLOAD_TIMEOUT_MS, &r);
    if (rv != APR_SUCCESS || r.http_status < 200 || r.http_status > 299) {
        rest_failure(p, &r, out);
        return;
    }
    o = json_object_new_object();
    json_object_object_add(o, "path", json_object_new_string(dest));
    json_object_object_add(o, "bytes", json_object_new_int64((int64_t)r.bytes));
    out->status = VTH_JOB_DONE;
    out->result = result_json(p, o);
    out->note = apr_psprintf(p, "%" APR_OFF_T_FMT " bytes to %s", r.bytes, dest);
}

void vth_job_run(apr_pool_t *p, const vth_config_t *cfg, vth_jobs_t *jobs, PGconn *conn,
                 vth_job_t *job, vth_outcome_t *out)
{
    json_object *payload = job->payload ? json_tokener_parse(job->payload) : NULL;

    if (!payload || !json_object_is_type(payload, json_type_object))
        outcome(out, VTH_JOB_FAIL, "the payload is not a JSON object");
    else if (strcmp(job->kind, "sms_alert") == 0)
        job_sms_alert(p, cfg, conn, job, payload, out);
    else if (strcmp(job->kind, "recording_download") == 0 && cfg->recordings_dir)
        job_recording_download(p, cfg, conn, job, payload, out);
    else if (strcmp(job->kind, "call_analysis") == 0)
        vth_job_call_analysis(p, cfg, jobs, conn, job, out);
    else
        outcome(out, VTH_JOB_FAIL, "unknown job kind");
    json_object_put(payload);
}
