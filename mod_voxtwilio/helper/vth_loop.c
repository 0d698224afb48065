/* vth_loop — voxtwilio-helper: signals, the stop conditions and the poll loop (see vth.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* ppoll (APR's flags usually define it already) */
#endif
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "vth.h"
#include "vt_log.h"

#define VTH_MAX_SOURCES 8
#define VTH_PARENT_CHECK_MS 1000L /* --parent-pid polling when PDEATHSIG could not apply */

/* The one piece of process-wide state: set by the handler, read by vth_stop_requested. */
static volatile sig_atomic_t vth_signal_received;

static void on_stop_signal(int sig)
{
    vth_signal_received = sig;
}

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

long long vth_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vth_signals_init(void)
{
    struct sigaction sa;
    sigset_t set;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN; /* a peer closing a socket is an error return, not a death */
    sigaction(SIGPIPE, &sa, NULL);
    /* httpd's graceful-restart signal: one sent to httpd's process group must not end us
     * (the default action of SIGUSR1 is to terminate). */
    sigaction(SIGUSR1, &sa, NULL);
    stop_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

int vth_stop_requested(const vth_config_t *cfg)
{
    sigset_t set;

    stop_signals(&set);
    /* Pending signals are delivered the moment they are unblocked. */
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    sigprocmask(SIG_BLOCK, &set, NULL);
    if (vth_signal_received)
        return vth_signal_received;
    if (cfg->parent_pid > 0 && kill(cfg->parent_pid, 0) != 0 && errno == ESRCH)
        return -1;
    return 0;
}

int vth_loop_run(const vth_config_t *cfg, vth_source_t *sources, int nsources)
{
    struct pollfd pfds[VTH_MAX_SOURCES];
    sigset_t waitmask;
    int i;

    if (nsources > VTH_MAX_SOURCES)
        return -1;
    /* ppoll() swaps in the current mask minus the stop signals for the wait only, so a
     * signal either arrives before the wait (seen by vth_stop_requested) or ends it. */
    sigprocmask(SIG_BLOCK, NULL, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGHUP);

    while (!vth_stop_requested(cfg)) {
        long timeout = VTH_MAX_WAIT_MS;
        struct timespec ts;
        int rc;

        if (cfg->parent_pid > 0 && timeout > VTH_PARENT_CHECK_MS)
            timeout = VTH_PARENT_CHECK_MS;
        for (i = 0; i < nsources; i++) {
            pfds[i].fd = -1;
            pfds[i].events = 0;
            pfds[i].revents = 0;
            sources[i].prepare(sources[i].baton, &pfds[i], &timeout);
        }
        if (timeout < 0)
            timeout = 0;
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (timeout % 1000) * 1000000L;
        rc = ppoll(pfds, (nfds_t)nsources, &ts, &waitmask);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            vt_log(VT_LOG_ERR, "waiting for events failed: %s", strerror(errno));
            return -1;
        }
        for (i = 0; i < nsources; i++)
            sources[i].dispatch(sources[i].baton, rc > 0 ? pfds[i].revents : 0);
    }
    return 0;
}
