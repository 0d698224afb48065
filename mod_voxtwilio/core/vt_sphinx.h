/* vt_sphinx — the offline speech recognizer: pocketsphinx (5prealpha, the packaged en-us
 * 16 kHz model) constrained to a phrase set (the tenant's intent phrases plus the built-in
 * "human"/"goodbye" ones), so a caller's utterance becomes one of those phrases or nothing.
 * See docs/offline-recognizer.md for the measured accuracy (modest) and cost.
 *
 *   vt_sphinx_t *sx = vt_sphinx_thread();            // NULL: model missing (logged)
 *   vt_sphinx_result_t r;
 *   if (sx && vt_sphinx_recognize(sx, pool, phrases, n, pcm8k, samples,
 *                                 VT_SPHINX_THRESHOLD, &r) == 0 && r.phrase) ... matched
 *
 * Grammar: each phrase is lowercased, punctuation dropped (apostrophes kept: "that's" is in
 * cmudict), and becomes one alternative of a JSGF rule. A phrase with a word missing from
 * the dictionary is skipped (the others still work); r.dropped lists the skipped phrases.
 * Audio: 8 kHz int16 mono, resampled to 16 kHz (vt_audio) for the model; at most
 * VT_SPHINX_MAX_SAMPLES (15 s); longer input is cut there.
 * Confidence: how well the best path fits the audio, exp(its score per 10 ms frame / 20),
 * in [0,1] (pocketsphinx scores each frame against its best senone): about 0.15-0.4 for
 * a phrase said alone, lower for speech forced into the nearest phrase, and lower for
 * some voices than others. Below the threshold the result is a no-match (text and phrase
 * NULL, confidence still set).
 *
 * Threading: a pocketsphinx decoder is not thread-safe and loading the model is slow
 * (0.11-0.16 s, 28 MB RSS each; decoding takes 20-24 ms CPU p50, 41-48 ms p95 per
 * utterance, tests/integration/test_sphinx_corpus.py): vt_sphinx_thread() gives each
 * thread its own decoder, created on first use and freed when the thread exits (pthread
 * key destructor). The last VT_SPHINX_GRAMMARS phrase sets (by hash) stay compiled in
 * it, least recently used replaced first.
 * pocketsphinx's own logging is switched off process-wide (err_set_logfp(NULL)): the
 * helper's stderr is the Apache error log.
 */
#ifndef VT_SPHINX_H
#define VT_SPHINX_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>

#define VT_SPHINX_MAX_SAMPLES (15 * 8000)
#define VT_SPHINX_GRAMMARS 4            /* phrase sets kept compiled per decoder */
#define VT_SPHINX_THRESHOLD 0.16        /* default acceptance: the corpus test's choice
                                         * (docs/offline-recognizer.md) */

typedef struct vt_sphinx vt_sphinx_t;

typedef struct vt_sphinx_result {
    const char *text;           /* the hypothesis (normalized words); NULL: no match */
    const char *phrase;         /* the caller's phrase it matched, as given; NULL: no match */
    int index;                  /* its index in phrases[], -1: no match */
    double confidence;          /* [0,1], also set on a rejection (0 when nothing heard) */
    const char *dropped;        /* phrases skipped (not in the dictionary), "; "-separated;
                                 * NULL when none */
} vt_sphinx_result_t;

/* This thread's decoder (created on first use); NULL (logged) when the model is missing. */
vt_sphinx_t *vt_sphinx_thread(void);

/* A decoder of one's own (vt_sphinx_thread uses these); hmm/dict NULL: the packaged model.
 * NULL (logged) on failure. */
vt_sphinx_t *vt_sphinx_create(const char *hmm, const char *dict);
void vt_sphinx_destroy(vt_sphinx_t *sx);

/* Recognizes one utterance against phrases[0..nphrases). Results are allocated in pool.
 * 0: done (matched or not: see out->phrase); -1: no usable phrase (empty list or every
 * phrase dropped: out->dropped says which) or a decoder error (logged). */
int vt_sphinx_recognize(vt_sphinx_t *sx, apr_pool_t *pool, const char *const *phrases,
                        int nphrases, const int16_t *pcm8k, size_t n, double threshold,
                        vt_sphinx_result_t *out);

/* The phrase as it goes into the grammar ("That's all!" -> "that's all"), in pool. */
char *vt_sphinx_normalize(apr_pool_t *pool, const char *phrase);

#endif
