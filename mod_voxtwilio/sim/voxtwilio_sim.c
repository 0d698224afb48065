/* voxtwilio-sim — plays Twilio for a gateway: places a call the way Twilio does (status
 * callbacks, a signed `inbound` webhook), checks every answer is TwiML that Twilio would
 * accept, prints what the caller hears, answers each <Gather> from a script (or the
 * keyboard), follows Redirects and Dial actions, and ends like Twilio ends a call. With
 * --stream it also plays Twilio's side of a <Connect><Stream> Media Stream.
 *
 *   voxtwilio-sim --url http://127.0.0.1:8080/voice/inbound --from +14155550100 \
 *                 --to +15005550006 --account-sid AC... --auth-token-file token.txt \
 *                 [--script caller.txt | --interactive] [--dial answered|no-answer|...] \
 *                 [--stream [--barge-in] [--caller-wav in.wav] [--wav call.wav]]
 *
 * Exit status: 0 the call ended normally, 1 an error (printed), 2 a usage error.
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <strings.h>
#include "vt_twiml_doc.h"
#include "vt_util.h"
#include "vtsim.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define VTSIM_TOKEN_MAX 256

static void usage(FILE *out)
{
    fputs(
"Usage: " VTSIM_PROG " --url URL --from NUMBER --to NUMBER --account-sid AC...\n"
"                     --auth-token-file FILE|- [OPTIONS]\n"
"\n"
"Places a call like Twilio: status callbacks, a signed `inbound` webhook to URL, then\n"
"every TwiML answer played as Twilio plays it. Prints the call as a transcript.\n"
"\n"
"  --url URL               the number's \"A call comes in\" webhook\n"
"  --from NUMBER           the caller (From)\n"
"  --to NUMBER             the called Twilio number (To)\n"
"  --account-sid AC...     the tenant's Twilio account (AccountSid)\n"
"  --auth-token-file FILE  the tenant's auth token, first line of FILE (- : stdin);\n"
"                          it signs every request and is never printed\n"
"  --call-sid CA...        the CallSid (default: a random one)\n"
"  --script FILE           the caller's lines, one per <Gather> (- : stdin): '#' starts\n"
"                          a comment, <silence> says nothing, <hangup> hangs up,\n"
"                          'dtmf 12#' presses keys, 'wait 2' waits (streams only);\n"
"                          when the lines run out the caller hangs up\n"
"  --interactive           type the caller's lines (empty line: silence, Ctrl-D: hang up)\n"
"  --confidence X          Confidence sent with each utterance (default "
                           VTSIM_DEFAULT_CONFIDENCE ")\n"
"  --dial OUTCOME          how a <Dial> ends: answered (default), no-answer, busy, failed\n"
"  --dial-duration N       seconds an answered <Dial> lasts (default 30)\n"
"  --status-callback URL   where call status callbacks go (default: URL with its last\n"
"                          path segment replaced by status-callback)\n"
"  --no-status             send no status callbacks\n"
"  --max-requests N        stop after N webhooks (default 100; Redirect loops)\n"
"  --stream                play <Connect><Stream> as Twilio does: a live Media Stream,\n"
"                          the caller's lines spoken with espeak-ng, turn by turn\n"
"  --stream-connect URL    open streams at ws://HOST:PORT (or wss://) instead of the\n"
"                          webhook's host and port (the stream URL is still signed as\n"
"                          the TwiML wrote it)\n"
"  --barge-in              in a stream, say each line as soon as the assistant starts\n"
"                          answering instead of after it finished\n"
"  --caller-wav FILE       in a stream, the caller first says FILE (WAV: 8 kHz mono\n"
"                          16-bit or mu-law; other rates are resampled)\n"
"  --wav FILE              write the streams' audio to FILE: stereo 8 kHz 16-bit, the\n"
"                          caller left, what the assistant's audio played right\n"
"  -v, --verbose           print each request and the HTTP status of its answer\n"
"  -h, --help              this help\n"
"  --version               the version\n"
"\n"
"Exit status: 0 the call ended normally, 1 an error (non-2xx answer, invalid TwiML: the\n"
"message names Twilio's error code), 2 a usage error.\n",
        out);
}

static int usage_err(const char *msg, const char *arg)
{
    fprintf(stderr, VTSIM_PROG ": %s%s%s (see " VTSIM_PROG " --help)\n", msg, arg ? ": " : "",
            arg ? arg : "");
    return 2;
}

static int read_token(apr_pool_t *p, const char *path, const char **token)
{
    char buf[VTSIM_TOKEN_MAX + 2];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    int ok;

    if (!f) {
        return vtsim_error("cannot open the auth token file %s: %s", path, strerror(errno));
    }
    ok = fgets(buf, sizeof(buf), f) != NULL;
    if (f != stdin) {
        fclose(f);
    }
    buf[ok ? strcspn(buf, "\r\n") : 0] = '\0';
    if (!buf[0]) {
        return vtsim_error("no auth token in %s (its first line)", path);
    }
    *token = apr_pstrdup(p, buf);
    memset(buf, 0, sizeof(buf));
    return 0;
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_dial(const char *s, vtsim_dial_t *d)
{
    static const char *const names[] = { "answered", "no-answer", "busy", "failed" };
    int i;

    for (i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *d = (vtsim_dial_t)i;
            return 0;
        }
    }
    return -1;
}

static int http_url(const char *u)
{
    return strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0;
}

/* "ws://host:port" or "wss://host" (a "/" at most after the authority). */
static int ws_base_url(const char *u)
{
    const char *auth = strncasecmp(u, "ws://", 5) == 0    ? u + 5
                       : strncasecmp(u, "wss://", 6) == 0 ? u + 6
                                                          : NULL;
    size_t n = auth ? strcspn(auth, "/?#") : 0;

    return n > 0 && (auth[n] == '\0' || strcmp(auth + n, "/") == 0);
}

/* The stream options go with --stream, which takes its caller from a script. */
static int check_stream_args(const vtsim_t *s, const char *wav)
{
    if (!s->stream && (s->stream_connect || s->barge_in || s->caller_wav_name || wav)) {
        return usage_err("--stream-connect, --barge-in, --caller-wav and --wav go with "
                         "--stream", NULL);
    }
    if (s->stream && s->interactive) {
        return usage_err("--stream takes the caller's lines from --script, not --interactive",
                         NULL);
    }
    if (s->stream_connect && !ws_base_url(s->stream_connect)) {
        return usage_err("--stream-connect must be ws://HOST[:PORT] or wss://HOST[:PORT]",
                         s->stream_connect);
    }
    return 0;
}

/* Parses the command line into s. 0, or the exit status. */
static int parse_args(vtsim_t *s, int argc, char **argv)
{
    enum { O_URL = 256, O_FROM, O_TO, O_ACCOUNT, O_TOKEN, O_CALL, O_SCRIPT, O_INTERACTIVE,
           O_CONFIDENCE, O_DIAL, O_DIAL_DURATION, O_STATUS, O_NO_STATUS, O_MAX, O_VERSION,
           O_STREAM, O_STREAM_CONNECT, O_BARGE_IN, O_CALLER_WAV, O_WAV };
    static const struct option opts[] = {
        { "url", required_argument, NULL, O_URL },
        { "from", required_argument, NULL, O_FROM },
        { "to", required_argument, NULL, O_TO },
        { "account-sid", required_argument, NULL, O_ACCOUNT },
        { "auth-token-file", required_argument, NULL, O_TOKEN },
        { "call-sid", required_argument, NULL, O_CALL },
        { "script", required_argument, NULL, O_SCRIPT },
        { "interactive", no_argument, NULL, O_INTERACTIVE },
        { "confidence", required_argument, NULL, O_CONFIDENCE },
        { "dial", required_argument, NULL, O_DIAL },
        { "dial-duration", required_argument, NULL, O_DIAL_DURATION },
        { "status-callback", required_argument, NULL, O_STATUS },
        { "no-status", no_argument, NULL, O_NO_STATUS },
        { "max-requests", required_argument, NULL, O_MAX },
        { "stream", no_argument, NULL, O_STREAM },
        { "stream-connect", required_argument, NULL, O_STREAM_CONNECT },
        { "barge-in", no_argument, NULL, O_BARGE_IN },
        { "caller-wav", required_argument, NULL, O_CALLER_WAV },
        { "wav", required_argument, NULL, O_WAV },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, O_VERSION },
        { NULL, 0, NULL, 0 },
    };
    const char *token_file = NULL, *script = NULL, *status_url = NULL, *wav = NULL;
    int c, no_status = 0, rc;

    while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (c) {
        case O_URL: s->url = optarg; break;
        case O_FROM: s->from = optarg; break;
        case O_TO: s->to = optarg; break;
        case O_ACCOUNT: s->account_sid = optarg; break;
        case O_TOKEN: token_file = optarg; break;
        case O_CALL: s->call_sid = optarg; break;
        case O_SCRIPT: script = optarg; break;
        case O_INTERACTIVE: s->interactive = 1; break;
        case O_CONFIDENCE: {
            char *end;
            double v;
            errno = 0;
            v = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(v >= 0.0 && v <= 1.0)) {
                return usage_err("--confidence must be a number from 0 to 1", NULL);
            }
            s->confidence = optarg;
            break;
        }
        case O_DIAL:
            if (parse_dial(optarg, &s->dial) != 0) {
                return usage_err("--dial must be answered, no-answer, busy or failed", NULL);
            }
            break;
        case O_DIAL_DURATION:
            if (parse_int(optarg, 0, 14400, &s->dial_duration) != 0) {
                return usage_err("--dial-duration must be a number of seconds, 0 to 14400",
                                 NULL);
            }
            break;
        case O_STATUS: status_url = optarg; break;
        case O_NO_STATUS: no_status = 1; break;
        case O_MAX:
            if (parse_int(optarg, 1, 100000, &s->max_requests) != 0) {
                return usage_err("--max-requests must be a number from 1 to 100000", NULL);
            }
            break;
        case O_STREAM: s->stream = 1; break;
        case O_STREAM_CONNECT: s->stream_connect = optarg; break;
        case O_BARGE_IN: s->barge_in = 1; break;
        case O_CALLER_WAV: s->caller_wav_name = optarg; break;
        case O_WAV: wav = optarg; break;
        case 'v': s->verbose = 1; break;
        case 'h': usage(stdout); return -1;
        case O_VERSION: printf(VTSIM_PROG " (mod_voxtwilio) %s\n", PACKAGE_VERSION); return -1;
        default: return usage_err("bad option", NULL);
        }
    }
    if (optind < argc) {
        return usage_err("unexpected argument", argv[optind]);
    }
    if (!s->url || !s->from || !s->to || !s->account_sid || !token_file) {
        return usage_err("--url, --from, --to, --account-sid and --auth-token-file are "
                         "required", NULL);
    }
    if (!http_url(s->url) || strchr(s->url, '#')) {
        return usage_err("--url must be an http:// or https:// URL without a fragment", NULL);
    }
    if (!s->from[0] || !s->to[0]) {
        return usage_err("--from and --to must not be empty", NULL);
    }
    if (!vt_sid_valid(s->account_sid, "AC")) {
        return usage_err("--account-sid is not an Account SID (AC + 32 hex digits)", NULL);
    }
    if (s->call_sid && !vt_sid_valid(s->call_sid, "CA")) {
        return usage_err("--call-sid is not a Call SID (CA + 32 hex digits)", NULL);
    }
    if (script && s->interactive) {
        return usage_err("--script and --interactive exclude each other", NULL);
    }
    if ((script && strcmp(script, "-") == 0 && strcmp(token_file, "-") == 0)
        || (s->interactive && strcmp(token_file, "-") == 0)) {
        return usage_err("the auth token and the caller's lines cannot both come from stdin",
                         NULL);
    }
    if ((rc = check_stream_args(s, wav)) != 0) {
        return rc;
    }
    if (status_url && no_status) {
        return usage_err("--status-callback and --no-status exclude each other", NULL);
    }
    if (status_url && !http_url(status_url)) {
        return usage_err("--status-callback must be an http:// or https:// URL", NULL);
    }
    if (!no_status) {
        s->status_url = status_url ? status_url
                                   : vt_twiml_doc_resolve(s->pool, s->url, "status-callback");
    }
    if (read_token(s->pool, token_file, &s->token) != 0) {
        return 1;
    }
    if (script) {
        s->script_name = script;
        s->script = strcmp(script, "-") == 0 ? stdin : fopen(script, "r");
        if (!s->script) {
            vtsim_error("cannot open the script %s: %s", script, strerror(errno));
            return 1;
        }
    }
    if (s->caller_wav_name
        && vtsim_wav_read(s->pool, s->caller_wav_name, (uint8_t **)&s->caller_wav,
                          &s->caller_wav_len) != 0) {
        return 1;
    }
    if (wav && vtsim_wav_create(s, wav) != 0) {
        return 1;
    }
    if (!s->call_sid && !(s->call_sid = vtsim_random_sid(s->pool, "CA"))) {
        vtsim_error("no randomness for the CallSid");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    vtsim_t sim;
    int rc;

    if (apr_app_initialize(&argc, (const char *const **)&argv, NULL) != APR_SUCCESS) {
        fputs(VTSIM_PROG ": cannot initialize APR\n", stderr);
        return 1;
    }
    memset(&sim, 0, sizeof(sim));
    apr_pool_create(&sim.pool, NULL);
    sim.confidence = VTSIM_DEFAULT_CONFIDENCE;
    sim.dial = VTSIM_DIAL_ANSWERED;
    sim.dial_duration = VTSIM_DEFAULT_DIAL_DURATION;
    sim.max_requests = VTSIM_DEFAULT_MAX_REQUESTS;
    rc = parse_args(&sim, argc, argv);
    if (rc == 0) {
        rc = vtsim_http_init(&sim) == 0 ? vtsim_call(&sim) : 1;
        vtsim_http_cleanup(&sim);
        vtsim_tts_cleanup();
        if (vtsim_wav_finish(&sim) != 0) {
            rc = 1;
        }
    }
    else if (rc < 0) {
        rc = 0; /* --help, --version */
    }
    if (sim.script && sim.script != stdin) {
        fclose(sim.script);
    }
    if (sim.wav) {
        fclose(sim.wav);
    }
    fflush(stdout);
    apr_pool_destroy(sim.pool);
    apr_terminate();
    return rc;
}
