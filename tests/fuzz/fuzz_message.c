/* libFuzzer target for inbound message webhooks (vt_messages): any form body through the
 * argument builder of sms/whatsapp. What it accepts must be what the statement can store:
 * a MessageSid, two E.164 numbers of a known channel, media as a JSON array of at most
 * 10 {url, content_type} with https URLs, the parameters as a JSON object, a consent
 * entry only for a STOP/START keyword. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include <apr_general.h>
#include "vt_form.h"
#include "vt_messages.h"
#include "vt_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static json_object *parsed(const char *s, json_type type)
{
    json_object *o = s ? json_tokener_parse(s) : NULL;

    if (!o || !json_object_is_type(o, type))
        abort();
    return o;
}

static void check_media(const char *s)
{
    json_object *arr = parsed(s, json_type_array), *url;
    size_t i, n = json_object_array_length(arr);

    if (n > VT_MESSAGE_MEDIA_MAX)
        abort();
    for (i = 0; i < n; i++) {
        json_object *m = json_object_array_get_idx(arr, i);
        if (!json_object_object_get_ex(m, "url", &url)
            || strncmp(json_object_get_string(url), "https://", 8) != 0)
            abort();
    }
    json_object_put(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_array_header_t *params = NULL;
    const char **a, *err = NULL;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    if (vt_form_parse(p, (const char *)data, size, 256, &params) == VT_FORM_OK) {
        a = vt_message_inbound_args(p, params, "1", "7", NULL, &err);
        if (!a) {
            if (!err || !*err)
                abort();
        }
        else {
            if (!vt_message_sid(params) || strcmp(a[4], vt_message_sid(params)) != 0
                || !vt_e164_valid(a[2]) || !vt_e164_valid(a[7])
                || (strcmp(a[5], "sms") != 0 && strcmp(a[5], "whatsapp") != 0) || !a[8]
                || !a[9])
                abort();
            check_media(a[10]);
            json_object_put(parsed(a[12], json_type_object));
            /* a consent entry only for a keyword, of the message's own channel */
            if ((a[15] != NULL) != (a[16] != NULL) || (a[15] && strcmp(a[15], "true") != 0
                                                       && strcmp(a[15], "false") != 0)
                || strcmp(a[14], a[5]) != 0)
                abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}
