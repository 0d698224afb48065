/* vt_stream_stats — the helper's stream counters as it publishes them for mod_status: a
 * small file next to its stream socket, mapped by the helper and read by the module when
 * the status page is drawn. Written by one thread (the helper's media thread), read by
 * anyone: a value read while it changes is at worst a moment old.
 *
 * Since VTS2 it also holds the voice pipeline's reply latency by stage (ms from the end of
 * the caller's speech, as in call_turns): per stage a fixed histogram that the writer
 * only increments, from which readers compute percentiles (vt_stage_percentile). Buckets
 * are exact below 32 ms, then 16 per power of two (at most 1/16 = 6.25 % wide), up to
 * 65.5 s; longer goes to the last. A new stage takes a free slot (VT_STAGE_SLOTS) without
 * changing the layout; a new layout takes a new magic.
 */
#ifndef VT_STREAM_STATS_H
#define VT_STREAM_STATS_H

#include <stdint.h>

#define VT_STREAM_STATS_MAGIC 0x56545332u /* "VTS2": this layout */
#define VT_STREAM_STATS_FILE "stream.stats" /* in the stream socket's directory */

/* The stages of a pipeline reply, in the order they happen. */
typedef enum {
    VT_STAGE_TRANSCRIPT,  /* the speech-to-text answer */
    VT_STAGE_FIRST_TOKEN, /* the model's first token (streamed answers) */
    VT_STAGE_ANSWER,      /* the whole answer (script or model) */
    VT_STAGE_AUDIO,       /* its first audio synthesized */
    VT_STAGE_REPLY,       /* its first frame sent to Twilio */
    VT_STAGE_COUNT
} vt_stage_t;

#define VT_STAGE_SLOTS 8      /* room for stages to come, in the same layout */
#define VT_STAGE_EXACT 32     /* below this, one bucket per ms */
#define VT_STAGE_SUB 16       /* buckets per power of two above it */
#define VT_STAGE_BUCKETS (VT_STAGE_EXACT + 11 * VT_STAGE_SUB + 1) /* 2^5 .. 2^16, + over */

typedef struct vt_stage_hist {
    volatile uint64_t count, sum_ms, max_ms;
    volatile uint64_t buckets[VT_STAGE_BUCKETS];
} vt_stage_hist_t;

typedef struct vt_stream_stats {
    volatile uint32_t magic;
    volatile uint32_t pid;              /* of the helper that writes it */
    volatile uint64_t live;             /* streams open now */
    volatile uint64_t total;            /* streams accepted since the helper started */
    volatile uint64_t refused;          /* upgrades or starts refused */
    volatile uint64_t barge_ins;
    volatile uint64_t backend_failures; /* the caller heard the apology */
    vt_stage_hist_t stages[VT_STAGE_SLOTS]; /* indexed by vt_stage_t */
} vt_stream_stats_t;

/* The bucket of a latency of ms (>= 0). */
static inline unsigned vt_stage_bucket(uint64_t ms)
{
    unsigned e = 5;

    if (ms < VT_STAGE_EXACT) {
        return (unsigned)ms;
    }
    while (e < 16 && ms >> (e + 1)) {
        e++;
    }
    if (e >= 16) {
        return VT_STAGE_BUCKETS - 1;
    }
    return VT_STAGE_EXACT + (e - 5) * VT_STAGE_SUB
           + (unsigned)((ms >> (e - 4)) & (VT_STAGE_SUB - 1));
}

/* The largest latency that falls in bucket b (the last one: UINT64_MAX). */
static inline uint64_t vt_stage_bucket_max(unsigned b)
{
    unsigned e, sub;

    if (b < VT_STAGE_EXACT) {
        return b;
    }
    if (b >= VT_STAGE_BUCKETS - 1) {
        return UINT64_MAX;
    }
    e = 5 + (b - VT_STAGE_EXACT) / VT_STAGE_SUB;
    sub = (b - VT_STAGE_EXACT) % VT_STAGE_SUB;
    return ((uint64_t)(VT_STAGE_SUB + sub + 1) << (e - 4)) - 1;
}

/* The p-th percentile (0 < p <= 100) of h in ms, as the top of its bucket (never above
 * the largest value seen); -1 when h is empty. */
static inline long vt_stage_percentile(const vt_stage_hist_t *h, double p)
{
    uint64_t total = 0, seen = 0, rank, top;
    unsigned b;

    for (b = 0; b < VT_STAGE_BUCKETS; b++) {
        total += h->buckets[b];
    }
    if (!total) {
        return -1;
    }
    rank = (uint64_t)(p / 100.0 * (double)total + 0.999999);
    rank = rank < 1 ? 1 : rank > total ? total : rank;
    for (b = 0; b < VT_STAGE_BUCKETS; b++) {
        seen += h->buckets[b];
        if (seen >= rank) {
            break;
        }
    }
    top = vt_stage_bucket_max(b < VT_STAGE_BUCKETS ? b : VT_STAGE_BUCKETS - 1);
    return (long)(top < h->max_ms ? top : h->max_ms);
}

#endif
