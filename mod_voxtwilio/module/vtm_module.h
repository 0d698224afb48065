/* vtm_module — what every glue file of mod_voxtwilio shares: the module record, the
 * config accessors and the log tag. Our own message tags are "VT" + 5 digits
 * (APLOGNO numbers belong to httpd). Call-related messages start with the CallSid.
 */
#ifndef VTM_MODULE_H
#define VTM_MODULE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include "vtm_config.h"

extern module AP_MODULE_DECLARE_DATA voxtwilio_module;

#define VTLOGNO(n) "VT" #n ": "

#define vtm_srv_conf(s) \
    ((vtm_srv_conf_t *)ap_get_module_config((s)->module_config, &voxtwilio_module))

/* The directive table (vtm_cmds.c). */
extern const command_rec vtm_cmds[];

#endif
