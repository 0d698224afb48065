/* vt_sphinx_probe — runs the offline recognizer (vt_sphinx) over utterances of 8 kHz µ-law
 * audio against a phrase set, for the corpus test (tests/integration/test_sphinx_corpus.py).
 * One decoder for the whole run: the model is loaded once.
 *
 *   vt_sphinx_probe --phrases FILE [--threshold X] < utterances
 *
 * FILE: one phrase a line, as vt_sphinx_recognize gets them. stdin: any number of
 * utterances, each a 4-byte little-endian byte count followed by that many µ-law bytes.
 * stdout, one JSON object a line:
 *   {"load_ms":..., "rss_before_kb":..., "rss_created_kb":..., "second_load_ms":...,
 *    "second_rss_kb":...}          the decoder's cost: the first, and a second one's growth
 *   {"text":..., "phrase":..., "index":..., "confidence":..., "ms":..., "cpu_ms":...,
 *    "rc":...}                                                         each utterance
 *   {"utterances":N, "rss_end_kb":..., "dropped":...}                  at the end
 * text/phrase null: no match (below the threshold, default 0, or nothing heard).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "vt_g711.h"
#include "vt_sphinx.h"

#define MAX_PHRASES 512

static long rss_kb(void)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static double now_ms(clockid_t clock)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* s as a JSON string, or null. */
static void json_str(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

int main(int argc, char **argv)
{
    const char *file = NULL, *phrases[MAX_PHRASES];
    const char *dropped = NULL;
    double threshold = 0, t0, load, load2;
    char line[1024];
    int n = 0;
    long count = 0, before, created, second = -1;
    apr_pool_t *root, *pool;
    vt_sphinx_t *sx, *sx2;
    FILE *f;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--phrases") == 0 && i + 1 < argc) {
            file = argv[++i];
        }
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc) {
            threshold = atof(argv[++i]);
        }
        else {
            file = NULL;
            break;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: vt_sphinx_probe --phrases FILE [--threshold X] "
                        "< utterances (u32le length + µ-law bytes, repeated)\n");
        return 2;
    }
    if (!(f = fopen(file, "r"))) {
        perror(file);
        return 1;
    }
    apr_initialize();
    apr_pool_create(&root, NULL);
    while (n < MAX_PHRASES && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (*line)
            phrases[n++] = apr_pstrdup(root, line);
    }
    fclose(f);

    before = rss_kb();
    t0 = now_ms(CLOCK_MONOTONIC);
    if (!(sx = vt_sphinx_create(NULL, NULL))) {
        fprintf(stderr, "vt_sphinx_probe: no decoder (is pocketsphinx-en-us installed?)\n");
        return 1;
    }
    load = now_ms(CLOCK_MONOTONIC) - t0;
    created = rss_kb();
    /* a second decoder: what each further recognizer thread costs (the libraries and
     * the process are already there) */
    t0 = now_ms(CLOCK_MONOTONIC);
    if ((sx2 = vt_sphinx_create(NULL, NULL)))
        second = rss_kb() - created;
    load2 = now_ms(CLOCK_MONOTONIC) - t0;
    vt_sphinx_destroy(sx2);
    printf("{\"load_ms\":%.1f,\"rss_before_kb\":%ld,\"rss_created_kb\":%ld,"
           "\"second_load_ms\":%.1f,\"second_rss_kb\":%ld}\n",
           load, before, created, load2, second);
    fflush(stdout);

    apr_pool_create(&pool, root);
    for (;;) {
        unsigned char len[4];
        size_t bytes;
        uint8_t *ulaw;
        int16_t *pcm;
        vt_sphinx_result_t r;
        double w, c;
        int rc;

        if (fread(len, 1, 4, stdin) != 4)
            break;
        bytes = len[0] | len[1] << 8 | len[2] << 16 | (size_t)len[3] << 24;
        ulaw = apr_palloc(pool, bytes + 1);
        pcm = apr_palloc(pool, (bytes + 1) * sizeof(int16_t));
        if (fread(ulaw, 1, bytes, stdin) != bytes) {
            fprintf(stderr, "vt_sphinx_probe: truncated utterance\n");
            return 1;
        }
        vt_ulaw_decode(ulaw, bytes, pcm);
        w = now_ms(CLOCK_MONOTONIC);
        c = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        rc = vt_sphinx_recognize(sx, pool, phrases, n, pcm, bytes, threshold, &r);
        c = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c;
        w = now_ms(CLOCK_MONOTONIC) - w;
        fputs("{\"text\":", stdout);
        json_str(r.text);
        fputs(",\"phrase\":", stdout);
        json_str(r.phrase);
        printf(",\"index\":%d,\"confidence\":%.6f,\"ms\":%.2f,\"cpu_ms\":%.2f,\"rc\":%d}\n",
               r.index, r.confidence, w, c, rc);
        fflush(stdout);
        if (r.dropped && !dropped)
            dropped = apr_pstrdup(root, r.dropped);
        count++;
        apr_pool_clear(pool);
    }
    printf("{\"utterances\":%ld,\"rss_end_kb\":%ld,\"dropped\":", count, rss_kb());
    json_str(dropped);
    puts("}");
    vt_sphinx_destroy(sx);
    apr_pool_destroy(root);
    apr_terminate();
    return 0;
}
