/* vt_rest — the Twilio REST API client (libcurl + json-c).
 *
 * api_base is "https://api.twilio.com" in production and a local stand-in in tests.
 * Credentials travel only in the Authorization header; they are never logged and
 * never part of an error message.
 */
#ifndef VT_REST_H
#define VT_REST_H

#include <apr_pools.h>
#include <apr_time.h>

typedef struct vt_rest_result {
    long http_status;       /* 0 when no HTTP answer was received */
    int twilio_code;        /* "code" of Twilio's error JSON, 0 if none */
    const char *message;    /* Twilio's "message", or a transport error text */
    const char *body;       /* raw response body (may be NULL; not kept for a download) */
    int retryable;          /* 1: worth retrying later (429, 5xx, transport error) */
    apr_off_t bytes;        /* vt_rest_download: bytes written to dest_path */
} vt_rest_result_t;

/* Call once per process before threads start (curl_global_init). */
void vt_rest_global_init(void);

/* GET {api_base}/2010-04-01/Accounts/{account_sid}.json with basic auth.
 * Returns APR_SUCCESS when an HTTP answer arrived (check res->http_status), otherwise an
 * error with res->message describing the transport failure. timeout_ms bounds the whole call.
 * res->retryable is set for 429, 5xx and transport errors. */
apr_status_t vt_rest_account_fetch(apr_pool_t *p, const char *api_base, const char *account_sid,
                                   const char *auth_token, long timeout_ms, vt_rest_result_t *res);

/* POST {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json with To, From and Body
 * (form-encoded, basic auth), and StatusCallback unless status_callback is NULL. On 2xx res->message is the new message's "sid"; a 2xx answer
 * without one returns APR_EGENERAL (not retryable: the message may have been sent).
 * Otherwise as vt_rest_account_fetch, with res->retryable set for 429, 5xx and transport
 * errors. Never retried here: a POST is not idempotent. */
apr_status_t vt_rest_message_send(apr_pool_t *p, const char *api_base, const char *account_sid,
                                  const char *auth_token, const char *to, const char *from,
                                  const char *body, const char *status_callback,
                                  long timeout_ms, vt_rest_result_t *res);

/* GET {api_base}/2010-04-01/Accounts/{account_sid}/Messages.json?To=&From= (the newest 50):
 * whether Twilio already has a message of that body from `from` to `to` created at or after
 * since. On 2xx res->message is its sid, or NULL when there is none. Otherwise as
 * vt_rest_account_fetch. How a send that may have happened (the sender died, or the answer
 * was lost) is checked before it is tried again. */
apr_status_t vt_rest_message_find(apr_pool_t *p, const char *api_base, const char *account_sid,
                                  const char *auth_token, const char *to, const char *from,
                                  const char *body, apr_time_t since, long timeout_ms,
                                  vt_rest_result_t *res);

/* An outbound call (Calls.json). url: the TwiML Twilio fetches when the callee answers;
 * status_callback (or NULL) gets every event (initiated, ringing, answered, completed);
 * machine_detection "Enable" or "DetectMessageEnd" (Twilio's answering-machine detection:
 * AnsweredBy then comes with url's request), or NULL; timeout_s: seconds of ringing (0:
 * Twilio's 60). */
typedef struct vt_rest_call {
    const char *to, *from, *url, *status_callback, *machine_detection;
    int timeout_s;
} vt_rest_call_t;

/* POST …/Calls.json: on 2xx res->message is the new call's "sid"; otherwise as
 * vt_rest_message_send (never retried here). */
apr_status_t vt_rest_call_create(apr_pool_t *p, const char *api_base, const char *account_sid,
                                 const char *auth_token, const vt_rest_call_t *call,
                                 long timeout_ms, vt_rest_result_t *res);

/* GET …/Calls.json?To=&From= (the newest 50): the sid of a call from `from` to `to` created
 * at or after since in res->message, or NULL: how a call that may have been placed is
 * checked before it is placed again (as vt_rest_message_find). */
apr_status_t vt_rest_call_find(apr_pool_t *p, const char *api_base, const char *account_sid,
                               const char *auth_token, const char *to, const char *from,
                               apr_time_t since, long timeout_ms, vt_rest_result_t *res);

/* GET url with basic auth into dest_path: written to "<dest_path>.tmp" (mode 0640), fsynced
 * and renamed over dest_path only when a 2xx answer arrived in full. url must be http(s) and
 * start with "{api_base}/" or "https://api.twilio.com/", so the tenant's credentials go to
 * nobody else; at most 3 redirects are followed (credentials are not sent to another host,
 * and an https URL never redirects to http). More than max_bytes aborts (not retryable).
 * Returns APR_SUCCESS when an HTTP answer arrived (check res->http_status: on non-2xx the
 * Twilio error document is parsed and nothing is written), else an error with res->message;
 * res->retryable as for vt_rest_message_send. */
apr_status_t vt_rest_download(apr_pool_t *p, const char *api_base, const char *url,
                              const char *account_sid, const char *auth_token,
                              const char *dest_path, apr_off_t max_bytes, long timeout_ms,
                              vt_rest_result_t *res);

#endif
