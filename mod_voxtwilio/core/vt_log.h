/* vt_log — logging for the core library.
 *
 * The core never writes to a log itself: it calls the sink that the embedding
 * program installed (the module forwards to ap_log_error, the tools to stderr).
 * Never pass a secret (auth token, key, decrypted credential) to these calls.
 */
#ifndef VT_LOG_H
#define VT_LOG_H

typedef enum {
    VT_LOG_ERR = 3,
    VT_LOG_WARN = 4,
    VT_LOG_NOTICE = 5,
    VT_LOG_INFO = 6,
    VT_LOG_DEBUG = 7
} vt_log_level_t;

typedef void vt_log_sink_fn(void *baton, vt_log_level_t level, const char *file, int line,
                            const char *msg);

/* Install the sink (NULL restores the default, which prints ERR..INFO to stderr). */
void vt_log_set_sink(vt_log_sink_fn *sink, void *baton, vt_log_level_t max_level);
int vt_log_is_enabled(vt_log_level_t level);
void vt_log_write(const char *file, int line, vt_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define vt_log(level, ...) vt_log_write(__FILE__, __LINE__, (level), __VA_ARGS__)

#endif
