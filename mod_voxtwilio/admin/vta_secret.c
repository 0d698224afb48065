/* vta_secret — reading a secret (a Twilio auth token, a model's API key) for the admin
 * tool: the first line of a file, of standard input, or typed at the terminal without echo.
 * Never from the command line (argv is visible to every user through ps and /proc). The
 * buffer is wiped when the tool's pool goes. */
#include <errno.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <apr_strings.h>

#include "vta.h"
#include "vt_crypto.h"


/* Reads the first line of f into a pool buffer that is wiped with the pool. */
static int read_line(vta_ctx_t *c, FILE *f, const char *src, const char *what, apr_size_t max,
                     const char **out)
{
    apr_size_t cap = max + 2;
    char *buf = apr_pcalloc(c->pool, cap + 1);
    size_t n = 0;
    int ch, too_long = 0, got = 0;

    vt_wipe_on_cleanup(c->pool, buf, cap + 1);
    while ((ch = getc(f)) != EOF) {
        got = 1;
        if (ch == '\n')
            break;
        if (n < cap)
            buf[n++] = (char)ch;
        else
            too_long = 1;
    }
    if (ferror(f))
        return vta_err("cannot read the %s from %s: %s", what, src, strerror(errno));
    if (!got)
        return vta_err("no %s on %s", what, src);
    while (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (too_long || n > max)
        return vta_err("the %s from %s is longer than %d characters", what, src, (int)max);
    if (n == 0)
        return vta_err("the %s from %s is empty", what, src);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
            return vta_err("the %s from %s holds characters other than printable ASCII",
                           what, src);
    *out = buf;
    return VTA_OK;
}

int vta_read_secret(vta_ctx_t *c, const char *file, const char *what, const char *prompt,
                    const char *slug, apr_size_t max, const char **token)
{
    int rc;

    if (file && strcmp(file, "-") != 0) {
        FILE *f = fopen(file, "r");
        if (!f)
            return vta_err("cannot open the %s file %s: %s", what, file, strerror(errno));
        rc = read_line(c, f, file, what, max, token);
        fclose(f);
        return rc;
    }
    if (isatty(STDIN_FILENO)) {
        struct termios old, quiet;
        int restore = tcgetattr(STDIN_FILENO, &old) == 0;

        fprintf(stderr, "%s for %s: ", prompt, slug);
        fflush(stderr);
        if (restore) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            quiet.c_lflag |= ECHONL;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        rc = read_line(c, stdin, "standard input", what, max, token);
        if (restore)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        return rc;
    }
    return read_line(c, stdin, "standard input", what, max, token);
}
