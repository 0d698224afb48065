/* vtm_handler — the `voxtwilio` handler: maps {Location}/[slug/]route to a route function. */
#ifndef VTM_HANDLER_H
#define VTM_HANDLER_H

#include <httpd.h>

int vtm_handler(request_rec *r);

#endif
