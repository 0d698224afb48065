/* vt_sphinx — pocketsphinx constrained to a phrase set (contract in vt_sphinx.h). */
#include "vt_sphinx.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <pocketsphinx.h>
#include <jsgf.h>
#include <err.h>

#include "vt_audio.h"
#include "vt_log.h"

#include <math.h>

#ifndef VT_SPHINX_MODELDIR
#define VT_SPHINX_MODELDIR "/usr/share/pocketsphinx/model"
#endif

/* Path score per frame (log base 1.0001, scaled down 2^10 as pocketsphinx keeps them)
 * that divides the exponent of the confidence: 20 is about 2 nats per frame. */
#define VT_SPHINX_SCORE_UNIT 20.0

/* One compiled phrase set: its JSGF search is named "vt<slot>" in the decoder. */
typedef struct grammar {
    uint64_t hash;              /* 0: empty slot */
    unsigned long used;         /* LRU clock */
    char **norm;                /* the usable phrases, normalized */
    int *orig;                  /* ... and their index in the caller's list */
    int count;
    char *dropped;              /* malloc'd or NULL */
} grammar_t;

struct vt_sphinx {
    ps_decoder_t *ps;
    vt_resampler_t *up;
    int16_t *pcm16k;            /* 2 * VT_SPHINX_MAX_SAMPLES + 16 */
    grammar_t g[VT_SPHINX_GRAMMARS];
    int current;                /* the slot the decoder searches, -1: none */
    unsigned long clock;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t key;

static void thread_exit(void *sx)
{
    vt_sphinx_destroy(sx);
}

static void init_once(void)
{
    err_set_logfp(NULL);        /* pocketsphinx logs a lot to stderr = the Apache error log */
    pthread_key_create(&key, thread_exit);
}

vt_sphinx_t *vt_sphinx_thread(void)
{
    vt_sphinx_t *sx;

    pthread_once(&once, init_once);
    if ((sx = pthread_getspecific(key)))
        return sx;
    if ((sx = vt_sphinx_create(NULL, NULL)))
        pthread_setspecific(key, sx);
    return sx;
}

vt_sphinx_t *vt_sphinx_create(const char *hmm, const char *dict)
{
    vt_sphinx_t *sx;
    cmd_ln_t *c;

    pthread_once(&once, init_once);
    hmm = hmm ? hmm : VT_SPHINX_MODELDIR "/en-us/en-us";
    dict = dict ? dict : VT_SPHINX_MODELDIR "/en-us/cmudict-en-us.dict";
    if (!(sx = calloc(1, sizeof(*sx))))
        return NULL;
    sx->current = -1;
    /* No LM: searches are the grammars set per phrase set. -bestpath: the hypothesis and
     * its score (the confidence) from the word lattice's best path. */
    c = cmd_ln_init(NULL, ps_args(), TRUE, "-hmm", hmm, "-dict", dict, "-bestpath", "yes",
                    "-logfn", "/dev/null", NULL);
    sx->ps = c ? ps_init(c) : NULL;
    if (c)
        cmd_ln_free_r(c);
    sx->up = vt_resampler_create(8000, 16000, VT_RESAMPLER_DEFAULT);
    sx->pcm16k = malloc((2 * VT_SPHINX_MAX_SAMPLES + 16) * sizeof(int16_t));
    if (!sx->ps || !sx->up || !sx->pcm16k) {
        vt_log(VT_LOG_ERR, "vt_sphinx: cannot load the pocketsphinx model %s (dictionary %s)",
               hmm, dict);
        vt_sphinx_destroy(sx);
        return NULL;
    }
    return sx;
}

static void grammar_clear(grammar_t *g)
{
    for (int i = 0; i < g->count; i++)
        free(g->norm[i]);
    free(g->norm);
    free(g->orig);
    free(g->dropped);
    memset(g, 0, sizeof(*g));
}

void vt_sphinx_destroy(vt_sphinx_t *sx)
{
    if (!sx)
        return;
    for (int i = 0; i < VT_SPHINX_GRAMMARS; i++)
        grammar_clear(&sx->g[i]);
    if (sx->ps)
        ps_free(sx->ps);
    vt_resampler_destroy(sx->up);
    free(sx->pcm16k);
    free(sx);
}

char *vt_sphinx_normalize(apr_pool_t *pool, const char *phrase)
{
    char *out = apr_palloc(pool, strlen(phrase) + 1), *o = out;

    for (const unsigned char *s = (const unsigned char *)phrase; *s; s++) {
        /* letters, digits and apostrophes make words; anything else separates them */
        int keep = isalnum(*s) || *s == '\'';
        if (keep)
            *o++ = (char)tolower(*s);
        else if (o > out && o[-1] != ' ')
            *o++ = ' ';
    }
    if (o > out && o[-1] == ' ')
        o--;
    *o = '\0';
    return out;
}

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (h ^ '\n') * 1099511628211ULL;
}

/* 1 when every word of the normalized phrase has a pronunciation. */
static int in_dictionary(ps_decoder_t *ps, apr_pool_t *pool, const char *norm)
{
    char *copy = apr_pstrdup(pool, norm), *last, *w;

    for (w = apr_strtok(copy, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        char *pron = ps_lookup_word(ps, w);
        if (!pron)
            return 0;
        free(pron);
    }
    return 1;
}

static char *dropped_add(char *list, const char *phrase)
{
    size_t a = list ? strlen(list) : 0, b = strlen(phrase);
    char *n = realloc(list, a + b + 3);

    if (!n)
        return list;
    if (a)
        memcpy(n + a, "; ", 2), a += 2;
    memcpy(n + a, phrase, b + 1);
    return n;
}

/* ps_set_jsgf_string as 5prealpha does it, but freeing the parsed grammar (it does not:
 * ~8 KB lost per grammar compiled, found by LeakSanitizer). */
static int set_jsgf(ps_decoder_t *ps, const char *name, const char *text)
{
    jsgf_t *j = jsgf_parse_string(text, NULL);
    jsgf_rule_t *rule = j ? jsgf_get_public_rule(j) : NULL;
    fsg_model_t *fsg = rule ? jsgf_build_fsg(j, rule, ps_get_logmath(ps),
                                             cmd_ln_float32_r(ps_get_config(ps), "-lw"))
                            : NULL;
    int rc = fsg ? ps_set_fsg(ps, name, fsg) : -1;

    if (fsg)
        fsg_model_free(fsg);
    if (j)
        jsgf_grammar_free(j);
    return rc;
}

/* Fills slot g with the usable phrases and compiles their JSGF search; -1 when none is
 * usable or pocketsphinx refuses the grammar. */
static int grammar_build(vt_sphinx_t *sx, int slot, apr_pool_t *pool, uint64_t hash,
                         char **norm, const char *const *phrases, int n)
{
    grammar_t *g = &sx->g[slot];
    char name[16], *jsgf = "#JSGF V1.0; grammar vt; public <utt> = ";

    grammar_clear(g);
    if (sx->current == slot)
        sx->current = -1;
    g->norm = calloc((size_t)n + 1, sizeof(char *));
    g->orig = calloc((size_t)n + 1, sizeof(int));
    if (!g->norm || !g->orig)
        return -1;
    for (int i = 0; i < n; i++) {
        if (!*norm[i] || !in_dictionary(sx->ps, pool, norm[i])) {
            g->dropped = dropped_add(g->dropped, phrases[i]);
            continue;
        }
        jsgf = apr_pstrcat(pool, jsgf, g->count ? " | " : "", norm[i], NULL);
        g->orig[g->count] = i;
        g->norm[g->count++] = strdup(norm[i]);
    }
    g->hash = hash;             /* cached even when empty: the drop list is the answer */
    if (g->count == 0)
        return -1;
    snprintf(name, sizeof(name), "vt%d", slot);
    if (set_jsgf(sx->ps, name, apr_pstrcat(pool, jsgf, ";", NULL)) < 0) {
        vt_log(VT_LOG_ERR, "vt_sphinx: pocketsphinx refused the grammar %s", jsgf);
        g->count = 0;
        return -1;
    }
    return 0;
}

/* The slot holding this phrase set, compiled on a miss into the least recently used one. */
static grammar_t *grammar_get(vt_sphinx_t *sx, apr_pool_t *pool, const char *const *phrases,
                              int n, int *slot)
{
    char **norm = apr_pcalloc(pool, ((size_t)n + 1) * sizeof(char *));
    uint64_t hash = 14695981039346656037ULL;
    int lru = 0;

    for (int i = 0; i < n; i++)
        hash = fnv1a(hash, norm[i] = vt_sphinx_normalize(pool, phrases[i]));
    /* the original texts matter too: they are what r.phrase returns */
    for (int i = 0; i < n; i++)
        hash = fnv1a(hash, phrases[i]);
    hash |= 1;
    for (int i = 0; i < VT_SPHINX_GRAMMARS; i++) {
        if (sx->g[i].hash == hash) {
            *slot = i;
            sx->g[i].used = ++sx->clock;
            return &sx->g[i];
        }
        if (sx->g[i].used < sx->g[lru].used)
            lru = i;
    }
    grammar_build(sx, lru, pool, hash, norm, phrases, n);
    sx->g[lru].used = ++sx->clock;
    *slot = lru;
    return &sx->g[lru];
}

/* Decodes pcm8k against the current search; the hypothesis (NULL: nothing) and its
 * confidence, from the best path's score per 10 ms frame. pocketsphinx scores each frame
 * against that frame's best-scoring senone, so a path that fits the audio as well as any
 * sound could scores near 0 and one forced through words the caller did not say far
 * below: exp(score per frame / VT_SPHINX_SCORE_UNIT), about 0.4 for a clean phrase, 0.1
 * for a sentence forced into the nearest phrase. The lattice posterior (ps_get_prob) was
 * always 1 with a grammar of a few phrases: no use for rejecting (and a phone loop's
 * score as the reference separated no better, at three times the CPU). */
static int decode(vt_sphinx_t *sx, const int16_t *pcm8k, size_t n, const char **hyp,
                  double *conf)
{
    int32 score = 0;
    int frames;
    size_t m;

    if (n > VT_SPHINX_MAX_SAMPLES)
        n = VT_SPHINX_MAX_SAMPLES;
    vt_resampler_reset(sx->up);
    m = vt_resampler_process(sx->up, pcm8k, n, sx->pcm16k, 2 * VT_SPHINX_MAX_SAMPLES + 16);
    if (ps_start_utt(sx->ps) < 0)
        return -1;
    if (ps_process_raw(sx->ps, sx->pcm16k, m, FALSE, TRUE) < 0) {
        ps_end_utt(sx->ps);
        return -1;
    }
    if (ps_end_utt(sx->ps) < 0)
        return -1;
    *hyp = ps_get_hyp(sx->ps, &score);
    if (*hyp && !**hyp)
        *hyp = NULL;
    frames = ps_get_n_frames(sx->ps);
    *conf = *hyp && frames > 0 ? exp((double)score / frames / VT_SPHINX_SCORE_UNIT) : 0.0;
    *conf = *conf > 1.0 ? 1.0 : *conf < 0.0 ? 0.0 : *conf;
    return 0;
}

int vt_sphinx_recognize(vt_sphinx_t *sx, apr_pool_t *pool, const char *const *phrases,
                        int nphrases, const int16_t *pcm8k, size_t n, double threshold,
                        vt_sphinx_result_t *out)
{
    const char *hyp = NULL;
    grammar_t *g;
    char name[16];
    int slot;

    memset(out, 0, sizeof(*out));
    out->index = -1;
    if (nphrases <= 0)
        return -1;
    g = grammar_get(sx, pool, phrases, nphrases, &slot);
    out->dropped = g->dropped ? apr_pstrdup(pool, g->dropped) : NULL;
    if (g->count == 0)
        return -1;
    snprintf(name, sizeof(name), "vt%d", slot);
    if (sx->current != slot && ps_set_search(sx->ps, name) < 0)
        return -1;
    sx->current = slot;
    if (decode(sx, pcm8k, n, &hyp, &out->confidence) < 0) {
        vt_log(VT_LOG_ERR, "vt_sphinx: pocketsphinx failed to decode an utterance");
        return -1;
    }
    if (!hyp || out->confidence < threshold)
        return 0;
    for (int i = 0; i < g->count; i++) {
        if (strcmp(hyp, g->norm[i]) == 0) {
            out->index = g->orig[i];
            out->phrase = phrases[out->index];
            out->text = apr_pstrdup(pool, hyp);
            break;
        }
    }
    return 0;
}
