/* vt_log — forwards core log messages to the sink the embedding program installed. */
#include <stdarg.h>
#include <stdio.h>
#include "vt_log.h"

/* The one process-wide setting of the core: set once at start-up by the embedding
 * program (module post_config, tool main) before any thread runs. */
static struct {
    vt_log_sink_fn *sink;
    void *baton;
    vt_log_level_t max_level;
} vt_log_cfg = { NULL, NULL, VT_LOG_INFO };

static const char *const vt_log_names[] = { "emerg", "alert", "crit", "error",
                                            "warn", "notice", "info", "debug" };

void vt_log_set_sink(vt_log_sink_fn *sink, void *baton, vt_log_level_t max_level)
{
    vt_log_cfg.sink = sink;
    vt_log_cfg.baton = baton;
    vt_log_cfg.max_level = max_level;
}

int vt_log_is_enabled(vt_log_level_t level)
{
    return level <= vt_log_cfg.max_level;
}

void vt_log_write(const char *file, int line, vt_log_level_t level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (!vt_log_is_enabled(level)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (vt_log_cfg.sink) {
        vt_log_cfg.sink(vt_log_cfg.baton, level, file, line, msg);
    }
    else {
        fprintf(stderr, "[%s] %s\n", vt_log_names[level & 7], msg);
    }
}
