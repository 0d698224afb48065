/* vtsim_script — the caller's lines, from the script file or the keyboard: what to say,
 * keys to press, silence, a pause, hanging up. Shared by <Gather> turns and Media Streams.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include "vtsim.h"

#define VTSIM_WAIT_MAX_S 600.0

static char *trim_line(char *line)
{
    char *end;

    while (*line && isspace((unsigned char)*line)) {
        line++;
    }
    end = line + strlen(line);
    while (end > line && isspace((unsigned char)end[-1])) {
        *--end = '\0';
    }
    return line;
}

int vtsim_keys_valid(const char *keys)
{
    return *keys && strspn(keys, "0123456789*#") == strlen(keys);
}

/* "wait 1.5": the seconds, or -1 when the rest is not a number of seconds (it is speech:
 * "wait a moment please"). */
static double wait_seconds(const char *arg)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0.0 && v <= VTSIM_WAIT_MAX_S)) {
        return -1.0;
    }
    return v;
}

/* One line, already trimmed and not a comment. */
static vtsim_line_kind_t classify(vtsim_t *s, apr_pool_t *p, const char *text,
                                  vtsim_line_t *line)
{
    if (text[0] == '\0' || strcmp(text, "<silence>") == 0) {
        return line->kind = VTSIM_LINE_SILENCE;
    }
    if (strcmp(text, "<hangup>") == 0) {
        return line->kind = VTSIM_LINE_HANGUP;
    }
    if (strncmp(text, "dtmf", 4) == 0 && (text[4] == '\0' || isspace((unsigned char)text[4]))) {
        const char *keys = trim_line(apr_pstrdup(p, text + 4));
        if (!vtsim_keys_valid(keys)) {
            vtsim_error("%s line %d: '%s': dtmf takes keys 0-9 * #", s->script_name ?
                        s->script_name : "input", s->script_line, text);
            return line->kind = VTSIM_LINE_BAD;
        }
        line->text = keys;
        return line->kind = VTSIM_LINE_DTMF;
    }
    if (strncmp(text, "wait", 4) == 0 && isspace((unsigned char)text[4])
        && (line->seconds = wait_seconds(trim_line(apr_pstrdup(p, text + 4)))) >= 0.0) {
        return line->kind = VTSIM_LINE_WAIT;
    }
    line->text = apr_pstrdup(p, text);
    return line->kind = VTSIM_LINE_SAY;
}

vtsim_line_kind_t vtsim_next_line(vtsim_t *s, apr_pool_t *p, vtsim_line_t *line)
{
    FILE *in = s->interactive ? stdin : s->script;
    char *buf = NULL, *text;
    size_t cap = 0;

    memset(line, 0, sizeof(*line));
    line->text = "";
    line->kind = VTSIM_LINE_END;
    if (!in) {
        return line->kind;
    }
    for (;;) {
        if (s->interactive) {
            fputs("caller> ", stdout);
            fflush(stdout);
        }
        if (getline(&buf, &cap, in) < 0) {
            if (s->interactive) {
                putchar('\n');
            }
            break;
        }
        s->script_line++;
        text = trim_line(buf);
        if (!s->interactive && (text[0] == '\0' || text[0] == '#')) {
            continue;
        }
        classify(s, p, text, line);
        break;
    }
    free(buf);
    return line->kind;
}
