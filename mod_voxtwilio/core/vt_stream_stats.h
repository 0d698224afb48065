/* vt_stream_stats — the helper's stream counters as it publishes them for mod_status: a
 * small file next to its stream socket, mapped by the helper and read by the module when
 * the status page is drawn. Written by one thread (the helper's media thread), read by
 * anyone: a value read while it changes is at worst a moment old. */
#ifndef VT_STREAM_STATS_H
#define VT_STREAM_STATS_H

#include <stdint.h>

#define VT_STREAM_STATS_MAGIC 0x56545331u /* "VTS1": this layout */
#define VT_STREAM_STATS_FILE "stream.stats" /* in the stream socket's directory */

typedef struct vt_stream_stats {
    volatile uint32_t magic;
    volatile uint32_t pid;              /* of the helper that writes it */
    volatile uint64_t live;             /* streams open now */
    volatile uint64_t total;            /* streams accepted since the helper started */
    volatile uint64_t refused;          /* upgrades or starts refused */
    volatile uint64_t barge_ins;
    volatile uint64_t backend_failures; /* the caller heard the apology */
} vt_stream_stats_t;

#endif
