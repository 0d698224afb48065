/* vt_rest — the Twilio REST API client (libcurl + json-c).
 *
 * api_base is "https://api.twilio.com" in production and a local stand-in in tests.
 * Credentials travel only in the Authorization header; they are never logged and
 * never part of an error message.
 */
#ifndef VT_REST_H
#define VT_REST_H

#include <apr_pools.h>

typedef struct vt_rest_result {
    long http_status;       /* 0 when no HTTP answer was received */
    int twilio_code;        /* "code" of Twilio's error JSON, 0 if none */
    const char *message;    /* Twilio's "message", or a transport error text */
    const char *body;       /* raw response body (may be NULL) */
} vt_rest_result_t;

/* Call once per process before threads start (curl_global_init). */
void vt_rest_global_init(void);

/* GET {api_base}/2010-04-01/Accounts/{account_sid}.json with basic auth.
 * Returns APR_SUCCESS when an HTTP answer arrived (check res->http_status), otherwise an
 * error with res->message describing the transport failure. timeout_ms bounds the whole call. */
apr_status_t vt_rest_account_fetch(apr_pool_t *p, const char *api_base, const char *account_sid,
                                   const char *auth_token, long timeout_ms, vt_rest_result_t *res);

#endif
