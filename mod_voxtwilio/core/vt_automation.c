/* vt_automation — matched rules as replies and rows; see vt_automation.h. */
#include <string.h>
#include <json-c/json.h>
#include <apr_strings.h>
#include "vt_automation.h"

/* What one rule's planning collects. */
typedef struct plan {
    apr_pool_t *p;
    const vt_automation_event_t *ev;
    apr_array_header_t *replies; /* const char * */
    json_object *runs, *jobs;
    apr_array_header_t *tags;    /* const char * */
} plan_t;

static void add_job(plan_t *pl, const char *rule, int index, const char *kind,
                    json_object *payload, long delay_s)
{
    json_object *j = json_object_new_object();

    json_object_object_add(j, "rule", json_object_new_string(rule));
    json_object_object_add(j, "kind", json_object_new_string(kind));
    json_object_object_add(j, "payload", payload);
    json_object_object_add(j, "delay_s", json_object_new_int64(delay_s));
    /* The subject is unique across tenants, the rule's name within one. */
    json_object_object_add(j, "dedup_key", json_object_new_string(apr_psprintf(
        pl->p, "rule:%s:%s:%d", pl->ev->subject, rule, index)));
    json_object_array_add(pl->jobs, j);
}

static json_object *message_payload(plan_t *pl, const char *to, const char *from,
                                    const char *channel, const char *body, const char *rule)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "to", json_object_new_string(to));
    if (from) {
        json_object_object_add(o, "from", json_object_new_string(from));
    }
    json_object_object_add(o, "channel", json_object_new_string(channel));
    json_object_object_add(o, "body", json_object_new_string(body));
    json_object_object_add(o, "rule", json_object_new_string(rule));
    if (pl->ev->status_callback) {
        json_object_object_add(o, "status_callback",
                               json_object_new_string(pl->ev->status_callback));
    }
    return o;
}

/* One action: done (returns its note) or skipped (*skipped set, the note says why). */
static const char *plan_action(plan_t *pl, const char *rule, int index,
                               const vt_rule_action_t *a, int *skipped)
{
    const vt_automation_event_t *ev = pl->ev;
    const char *text = a->kind == VT_ACTION_TAG ? a->text
                       : vt_rule_expand(pl->p, a->text, ev->customer, ev->body, ev->company);
    const char *channel = a->channel ? a->channel : ev->channel;

    switch (a->kind) {
    case VT_ACTION_AUTO_REPLY:
        if (ev->opted_out) {
            *skipped = 1;
            return "auto_reply skipped: the customer opted out";
        }
        APR_ARRAY_PUSH(pl->replies, const char *) = text;
        return "auto_reply";
    case VT_ACTION_SEND_MESSAGE:
        /* The job checks the ledger again when it sends (a reminder may be days later). */
        add_job(pl, rule, index, "message_send",
                message_payload(pl, ev->customer, ev->our_number, channel, text, rule),
                a->delay_s);
        return a->delay_s ? apr_psprintf(pl->p, "send_message %s queued in %lds", channel,
                                         a->delay_s)
                          : apr_pstrcat(pl->p, "send_message ", channel, " queued", NULL);
    case VT_ACTION_NOTIFY:
        if (!ev->notification_phone) {
            *skipped = 1;
            return "notify skipped: the tenant has no notification phone";
        }
        add_job(pl, rule, index, "sms_alert",
                message_payload(pl, ev->notification_phone, NULL, "sms", text, rule), 0);
        return "notify queued";
    case VT_ACTION_TAG:
        APR_ARRAY_PUSH(pl->tags, const char *) = text;
        return apr_pstrcat(pl->p, "tag ", text, NULL);
    }
    return "";
}

static void plan_rule(plan_t *pl, const vt_rule_t *rule)
{
    const char *name = vt_rule_name(rule), *detail = "";
    const vt_rule_action_t *actions;
    int n, i, skipped = 0, all = 0;
    json_object *run = json_object_new_object();

    actions = vt_rule_actions(rule, &n);
    for (i = 0; i < n; i++) {
        int s = 0;
        const char *note = plan_action(pl, name, i, &actions[i], &s);
        detail = i ? apr_pstrcat(pl->p, detail, "; ", note, NULL) : note;
        skipped += s;
    }
    all = n > 0 && skipped == n;
    json_object_object_add(run, "rule", json_object_new_string(name));
    json_object_object_add(run, "trigger", json_object_new_string(
        vt_trigger_name(pl->ev->trigger)));
    json_object_object_add(run, "outcome", json_object_new_string(
        all ? "skipped" : skipped ? "partial" : "done"));
    json_object_object_add(run, "detail", json_object_new_string(detail));
    json_object_array_add(pl->runs, run);
}

static const char *json_text(apr_pool_t *p, json_object *o)
{
    const char *s = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

    json_object_put(o);
    return s;
}

void vt_automation_plan(apr_pool_t *p, const vt_rule_t *const *matched, int n,
                        const vt_automation_event_t *ev, vt_automation_t *out)
{
    plan_t pl = { p, ev, apr_array_make(p, 2, sizeof(const char *)), json_object_new_array(),
                  json_object_new_array(), apr_array_make(p, 2, sizeof(const char *)) };
    const char *tags = "";
    int i;

    for (i = 0; i < n; i++) {
        plan_rule(&pl, matched[i]);
    }
    for (i = 0; i < pl.tags->nelts; i++) {
        /* Tags are [a-z0-9_-] (vt_rules checks them): nothing to quote. */
        tags = apr_pstrcat(p, tags, i ? "," : "", APR_ARRAY_IDX(pl.tags, i, const char *),
                           NULL);
    }
    out->replies = (const char **)pl.replies->elts;
    out->nreplies = pl.replies->nelts;
    out->nruns = n;
    out->runs_json = json_text(p, pl.runs);
    out->jobs_json = json_text(p, pl.jobs);
    out->tags = apr_pstrcat(p, "{", tags, "}", NULL);
}

const vt_event_stmt_t vt_automation_stmt = {
    "voxtwilio_automation",
    "WITH rr AS (INSERT INTO rule_runs (company_id, rule_name, trigger, subject, "
    "customer_phone, outcome, detail) SELECT CAST(%s AS bigint), r->>'rule', r->>'trigger', "
    "%s, %s, r->>'outcome', r->>'detail' FROM jsonb_array_elements(CAST(%s AS jsonb)) r "
    "ON CONFLICT (company_id, rule_name, subject) DO NOTHING RETURNING rule_name), "
    /* Only with a run that is new: a redelivery queues nothing again. */
    "jb AS (INSERT INTO jobs (kind, company_id, call_sid, payload, run_after, dedup_key) "
    "SELECT j->>'kind', CAST(%s AS bigint), %s, j->'payload', "
    "now() + make_interval(secs => CAST(j->>'delay_s' AS double precision)), j->>'dedup_key' "
    "FROM jsonb_array_elements(CAST(%s AS jsonb)) j WHERE j->>'rule' IN "
    "(SELECT rule_name FROM rr) ON CONFLICT (dedup_key) DO NOTHING), "
    "tg AS (UPDATE customers SET tags = ARRAY(SELECT DISTINCT t FROM "
    "unnest(tags || CAST(%s AS text[])) t ORDER BY 1), updated_at = now() "
    "WHERE company_id = CAST(%s AS bigint) AND phone = %s "
    "AND cardinality(CAST(%s AS text[])) > 0) "
    "SELECT count(*) FROM rr",
    11
};

const char **vt_automation_args(apr_pool_t *p, const char *company_id,
                                const vt_automation_event_t *ev, const vt_automation_t *plan)
{
    const char **a = apr_pcalloc(p, sizeof(*a) * vt_automation_stmt.nargs);
    int call = ev->subject && strncmp(ev->subject, "CA", 2) == 0;

    a[0] = company_id;
    a[1] = ev->subject;
    a[2] = ev->customer;
    a[3] = plan->runs_json;
    a[4] = company_id;
    a[5] = call ? ev->subject : NULL;
    a[6] = plan->jobs_json;
    a[7] = plan->tags;
    a[8] = company_id;
    a[9] = ev->customer;
    a[10] = plan->tags;
    return a;
}
