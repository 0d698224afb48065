/* vt_routes — the route table; see vt_routes.h. */
#include <string.h>
#include "vt_messages.h"
#include "vt_routes.h"

const vt_route_t vt_routes[VT_ROUTE_COUNT] = {
    [VT_ROUTE_INBOUND] = { VT_ROUTE_INBOUND, "inbound", 1, 0, 0, 1,
                           &vt_event_inbound_stmt, vt_event_inbound_args },
    /* A turn that met an outage is kept as a `speech` event (the caller was asked to
     * repeat: a record, not a turn). */
    [VT_ROUTE_SPEECH] = { VT_ROUTE_SPEECH, "speech", 1, 0, 1, 1,
                          &vt_event_speech_stmt, vt_event_speech_args },
    [VT_ROUTE_ESCALATE] = { VT_ROUTE_ESCALATE, "escalate", 1, 0, 1, 0, NULL, NULL },
    [VT_ROUTE_STATUS_CALLBACK] = { VT_ROUTE_STATUS_CALLBACK, "status-callback", 1, 0, 1, 1,
                                   &vt_event_status_stmt, vt_event_status_args },
    [VT_ROUTE_RECORDING] = { VT_ROUTE_RECORDING, "recording", 1, 0, 1, 0,
                             &vt_event_recording_stmt, vt_event_recording_args },
    /* The <Connect action> of a stream-mode call: reads how the stream ended. */
    [VT_ROUTE_STREAM_END] = { VT_ROUTE_STREAM_END, "stream-end", 1, 0, 1, 0, NULL, NULL },
    /* Inbound messages: the channel is the address's (a WhatsApp sender's webhook may
     * point at either). */
    [VT_ROUTE_SMS] = { VT_ROUTE_SMS, "sms", 0, 1, 0, 1,
                       &vt_message_inbound_stmt, vt_message_inbound_args },
    [VT_ROUTE_WHATSAPP] = { VT_ROUTE_WHATSAPP, "whatsapp", 0, 1, 0, 1,
                            &vt_message_inbound_stmt, vt_message_inbound_args },
    /* An outbound message's StatusCallback: the tenant by the sending number. */
    [VT_ROUTE_MESSAGE_STATUS] = { VT_ROUTE_MESSAGE_STATUS, "message-status", 0, 1, 1, 1,
                                  &vt_message_status_stmt, vt_message_status_args },
};

const vt_route_t *vt_route_find(const char *name)
{
    int i;

    for (i = 0; name && i < VT_ROUTE_COUNT; i++) {
        if (strcmp(vt_routes[i].name, name) == 0) {
            return &vt_routes[i];
        }
    }
    return NULL;
}
