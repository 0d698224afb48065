/* vth_stage_stats — the stages of every pipeline reply into the stats file's histograms
 * (vt_stream_stats.h), for mod_status. Media thread only: the single writer, so plain
 * increments; readers may see a reply half added, never a bucket lost. */
#include "vth_media.h"

static void add(vt_stage_hist_t *h, long ms)
{
    if (ms < 0) {
        return; /* the stage did not happen */
    }
    /* max first: a reader caps its percentiles by it */
    if ((uint64_t)ms > h->max_ms) {
        h->max_ms = (uint64_t)ms;
    }
    h->sum_ms += (uint64_t)ms;
    h->count++;
    h->buckets[vt_stage_bucket((uint64_t)ms)]++;
}

void vth_stage_stats_add(vt_stream_stats_t *st, const vth_turn_times_t *t)
{
    add(&st->stages[VT_STAGE_TRANSCRIPT], t->transcript_ms);
    add(&st->stages[VT_STAGE_FIRST_TOKEN], t->first_token_ms);
    add(&st->stages[VT_STAGE_ANSWER], t->answer_ms);
    add(&st->stages[VT_STAGE_AUDIO], t->audio_ms);
    add(&st->stages[VT_STAGE_REPLY], t->reply_ms);
}
