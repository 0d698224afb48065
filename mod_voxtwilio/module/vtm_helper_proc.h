/* vtm_helper_proc — httpd starts and supervises voxtwilio-helper, the mod_cgid way, but
 * the helper outlives graceful restarts (it will carry live Media Streams, and Debian's
 * logrotate reloads Apache daily).
 *
 * - Spawned from post_config by the root parent (never for `apachectl -t`, never in the
 *   first of the two start-up passes), with --parent-pid, the key file (it loads it as root,
 *   then drops to User/Group) and the database string in its environment (not in argv,
 *   which every local user can read).
 * - Watched with apr_proc_other_child_register: if it dies while httpd is not stopping it is
 *   started again at once; exit status 254 (its configuration is wrong) is logged once
 *   (crit) and not respawned until a restart brings a different configuration.
 * - Its state lives in the process pool, which survives restarts: a restart registers the
 *   same helper again instead of starting a second one, unless its command line changed.
 *   It is stopped (SIGTERM, then SIGKILL after 5 s) only when httpd exits; if httpd dies
 *   without cleaning up, the helper's --parent-pid check ends it.
 */
#ifndef VTM_HELPER_PROC_H
#define VTM_HELPER_PROC_H

#include <httpd.h>

/* What mod_status will show. Shared memory written by the parent only: children read live
 * values (a torn read at worst shows a value from a moment ago). */
typedef enum {
    VTM_HELPER_NOT_SUPERVISED = 0, /* VoxTwilioHelper Off, no VoxTwilioHelperDB, ... */
    VTM_HELPER_RUNNING,
    VTM_HELPER_RESTARTING,         /* died; the next start is scheduled */
    VTM_HELPER_FAILED              /* exited 254: waits for a configuration change */
} vtm_helper_state_e;

typedef struct vtm_helper_status {
    volatile int state;            /* vtm_helper_state_e */
    volatile pid_t pid;            /* 0 when none runs */
    volatile unsigned restarts;    /* starts after the first, since httpd started */
    volatile apr_time_t started_at; /* of the current helper */
} vtm_helper_status_t;

/* post_config (second pass and every restart): adopt, (re)start or stop the helper as the
 * new configuration says. Returns OK (helper trouble never stops httpd). */
int vtm_helper_post_config(apr_pool_t *pconf, server_rec *s);

/* child_init: undo in MPM children what the parent set up for the supervision. */
void vtm_helper_child_init(apr_pool_t *pchild, server_rec *s);

/* monitor hook (parent, about every 10 s): a start deferred after repeated quick deaths. */
int vtm_helper_monitor(apr_pool_t *p, server_rec *s);

/* The helper's status, or NULL before the first post_config. */
const vtm_helper_status_t *vtm_helper_status(server_rec *s);

#endif
