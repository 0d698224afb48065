/* vt_routes — the webhook routes, one table for everything that handles them: the module
 * answers them (vtm_handler.c binds a handler to each), the helper replays the ones the
 * module spooled during a database outage (vth_spool.c). A new route is a row here plus
 * its handler.
 */
#ifndef VT_ROUTES_H
#define VT_ROUTES_H

#include "vt_events.h"

typedef enum {
    VT_ROUTE_INBOUND = 0,
    VT_ROUTE_SPEECH,
    VT_ROUTE_ESCALATE,
    VT_ROUTE_STATUS_CALLBACK,
    VT_ROUTE_RECORDING,
    VT_ROUTE_STREAM_END,
    VT_ROUTE_SMS,
    VT_ROUTE_WHATSAPP,
    VT_ROUTE_MESSAGE_STATUS,
    VT_ROUTE_COUNT
} vt_route_id_t;

typedef struct vt_route {
    vt_route_id_t id;
    const char *name;            /* the last path segment: {Location}/[slug/]name */
    int needs_call_sid;          /* 400 without a valid CallSid */
    int is_message;              /* about a message: 400 without a valid MessageSid */
    int is_callback;             /* about an existing call: the tenant may also be found by
                                  * the call's row and by From (vt_tenant_resolve) */
    int tenant_cached;           /* its writes check the tenant's version, so a child's
                                  * cached row may serve it (vt_tenant_cache.h) */
    /* The event a delivery writes: what the helper replays when the module spooled it,
     * and what the message routes also write live. NULL: never spooled. */
    const vt_event_stmt_t *event_stmt;
    vt_event_args_fn *event_args;
} vt_route_t;

/* Indexed by vt_route_id_t. */
extern const vt_route_t vt_routes[VT_ROUTE_COUNT];

/* The route of that name, or NULL. */
const vt_route_t *vt_route_find(const char *name);

#endif
