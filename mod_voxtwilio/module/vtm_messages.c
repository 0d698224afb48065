/* vtm_messages — POST sms, POST whatsapp: an inbound message stored once under its customer
 * (or spooled), the tenant's rules run on it, answered with Messaging TwiML: the matching
 * rules' auto-replies, or an empty <Response> (no reply).
 *
 * The message statement returns what the rules need (the customer known or new, the
 * consent ledger's last word, the time in the tenant's zone, the rules document), so a
 * message that matches no rule costs one round trip; one that does, a second (its runs,
 * jobs and tags, written once however often Twilio delivers it). A STOP or START is the
 * ledger's (written by the message statement) and runs no rule: Twilio answers those
 * itself. Rules cannot run on a spooled message: the caller's answer is then empty.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_log.h>
#include "vtm_handler.h"
#include "vtm_module.h"
#include "vtm_request.h"
#include "vt_automation.h"
#include "vt_form.h"
#include "vt_messages.h"
#include "vt_twiml.h"
#include "vt_util.h"

#define MATCH_MAX 16 /* rules run on one message at most */

/* This webhook's URL with message-status for its route: where Twilio reports the progress
 * of the messages its rules send (the same Location and slug). */
static const char *status_callback_url(vtm_webhook_t *w)
{
    const char *url = vtm_request_signed_url(w), *q = strchr(url, '?'), *slash;
    const char *end = q ? q : url + strlen(url);

    for (slash = end; slash > url && slash[-1] != '/'; slash--)
        ;
    return apr_pstrcat(w->r->pool, apr_pstrmemdup(w->r->pool, url, slash - url),
                       vt_routes[VT_ROUTE_MESSAGE_STATUS].name, NULL);
}

static int col_int(const char *v, int lo, int hi)
{
    int n = v ? atoi(v) : lo;

    return n < lo ? lo : n > hi ? hi : n;
}

/* The tenant's rules on the stored message: fills tw with the auto-replies. */
static void run_rules(vtm_webhook_t *w, const vt_tenant_t *t, const char **row, vt_twiml_t *tw)
{
    request_rec *r = w->r;
    const char *doc = row[VT_MESSAGE_COL_RULES], *err = NULL, *channel = NULL, *ignored;
    const char *body = vt_params_get(w->params, "Body");
    const vt_rule_t *matched[MATCH_MAX];
    vt_automation_event_t ev = { 0 };
    vt_rule_event_t re = { 0 };
    vt_automation_t plan;
    vt_rules_t *rules;
    int n, i;

    if (!doc || !*doc || vt_consent_keyword(body, NULL) != VT_CONSENT_KEYWORD_NONE) {
        return;
    }
    /* Checked by `voxtwilio-admin rules import`; a document that fails here was written by
     * hand (or by a newer version). */
    if (!(rules = vt_rules_parse(r->pool, doc, strlen(doc), &err))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, VTLOGNO(10901) "%s: the rules of tenant "
                      "%s are not valid, none ran: %s", w->subject, t->slug, err);
        return;
    }
    ev.customer = vt_message_address(vt_params_get(w->params, "From"), &channel);
    ev.our_number = vt_message_address(vt_params_get(w->params, "To"), &ignored);
    ev.channel = channel;
    ev.trigger = re.trigger = strcmp(channel, "whatsapp") == 0 ? VT_TRIGGER_INBOUND_WHATSAPP
                                                                : VT_TRIGGER_INBOUND_SMS;
    ev.subject = vt_message_sid(w->params);
    ev.body = re.body = body ? body : "";
    ev.opted_out = row[VT_MESSAGE_COL_CONSENT] && strcmp(row[VT_MESSAGE_COL_CONSENT], "f") == 0;
    ev.company = t->name;
    ev.status_callback = status_callback_url(w);
    ev.notification_phone = t->notification_phone && vt_e164_valid(t->notification_phone)
                            ? t->notification_phone : NULL; /* NULL may read as "" */
    re.known_customer = row[VT_MESSAGE_COL_KNOWN] && strcmp(row[VT_MESSAGE_COL_KNOWN], "t") == 0;
    re.weekday = col_int(row[VT_MESSAGE_COL_WEEKDAY], 1, 7);
    re.minute = col_int(row[VT_MESSAGE_COL_MINUTE], 0, 1439);
    if ((n = vt_rules_match(rules, &re, matched, MATCH_MAX)) == 0) {
        return;
    }
    vt_automation_plan(r->pool, matched, n, &ev, &plan);
    if (vtm_db_event(r, &vt_automation_stmt, vt_automation_args(r->pool, t->company_id, &ev,
                                                                 &plan)) != VTM_DB_OK) {
        /* The message is stored and the replies still answer; the rules' other actions
         * are lost, and said so. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, VTLOGNO(10902) "%s: the runs of %d rules "
                      "of tenant %s were not recorded (database unavailable)", w->subject, n,
                      t->slug);
    }
    for (i = 0; i < plan.nreplies; i++) {
        vt_twiml_leaf(tw, "Message", plan.replies[i], NULL);
    }
}

int vtm_route_message(vtm_webhook_t *w)
{
    const vt_tenant_t *t = NULL;
    const char **row = NULL;
    int status = vtm_store_webhook(w, w->route->event_args, w->route->event_stmt, &t, &row);
    vt_twiml_t *tw;
    apr_size_t len;
    const char *doc;

    if (status != OK) {
        return status;
    }
    tw = vt_twiml_create(w->r->pool);
    if (t && row) {
        run_rules(w, t, row, tw);
    }
    doc = vt_twiml_finish(tw, &len);
    return vtm_send_twiml(w->r, doc, len);
}
