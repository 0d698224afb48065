/* vt_automation — what the rules an event matched do (vt_rules.h says which match): the
 * auto-replies the module puts in its answer, and the rows one statement writes: each run
 * in rule_runs, the jobs its actions queue (message_send to the customer, sms_alert to the
 * tenant's notification phone, after the action's delay), the customer's tags. A run is
 * written once per rule and event (the MessageSid or CallSid), and its jobs only with it,
 * so a redelivered webhook answers the same and queues nothing again.
 *
 * Used by the module for inbound messages, and by whatever meets a call's trigger.
 */
#ifndef VT_AUTOMATION_H
#define VT_AUTOMATION_H

#include "vt_events.h"
#include "vt_rules.h"

typedef struct vt_automation_event {
    vt_trigger_t trigger;
    const char *subject;            /* the MessageSid or CallSid */
    const char *customer;           /* +E164 */
    const char *our_number;         /* the tenant's number it came to: messages go from it */
    const char *channel;            /* the event's "sms" or "whatsapp" ("sms" for calls) */
    const char *body;               /* the customer's message, or NULL */
    int opted_out;                  /* the customer opted out of the event's channel */
    const char *company;            /* the tenant's name, for {company} */
    const char *notification_phone; /* E.164 or NULL */
    const char *status_callback;    /* this gateway's message-status URL, or NULL */
} vt_automation_event_t;

typedef struct vt_automation {
    const char **replies; /* the auto-replies' bodies, expanded, in order */
    int nreplies;
    int nruns;
    const char *runs_json; /* [{"rule", "trigger", "outcome", "detail"}] */
    const char *jobs_json; /* [{"rule", "kind", "payload", "delay_s", "dedup_key"}] */
    const char *tags;      /* a text[] literal: "{lead,vip}" */
} vt_automation_t;

/* The plan of the n matched rules, in p. */
void vt_automation_plan(apr_pool_t *p, const vt_rule_t *const *matched, int n,
                        const vt_automation_event_t *ev, vt_automation_t *out);

/* Writes a plan's runs, jobs and tags; returns one row: how many runs were new. */
extern const vt_event_stmt_t vt_automation_stmt;
const char **vt_automation_args(apr_pool_t *p, const char *company_id,
                                const vt_automation_event_t *ev, const vt_automation_t *plan);

#endif
