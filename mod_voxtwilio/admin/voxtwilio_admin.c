/* voxtwilio-admin — command-line administration of mod_voxtwilio: schema migrations,
 * credential keys, tenants (companies) and their Twilio integrations.
 *
 *   voxtwilio-admin [--db CONNINFO] [--key-file PATH] [--api-base URL] VERB ...
 */
#ifdef HAVE_CONFIG_H
#include "vt_config.h"
#endif
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "vta.h"
#include "vta_assistant.h"
#include "vta_calls.h"
#include "vta_jobs.h"
#include "vta_rules.h"
#include "vt_log.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static void usage(FILE *out)
{
    fputs(
"Usage: " VTA_PROG " [GLOBAL OPTIONS] VERB [ARGUMENTS]\n"
"\n"
"Global options (before the verb):\n"
"  --db CONNINFO      PostgreSQL connection string or URI (default: libpq's\n"
"                     environment, PGHOST, PGDATABASE, PGUSER, ...)\n"
"  --key-file PATH    credential key file (default: $VOXTWILIO_KEY_FILE)\n"
"  --api-base URL     Twilio REST API base (default: $VOXTWILIO_API_BASE,\n"
"                     else " VTA_DEFAULT_API_BASE ")\n"
"  -h, --help         show this help\n"
"  --version          show the version\n"
"\n"
"Verbs:\n"
"  migrate\n"
"      create or upgrade the database schema (idempotent)\n"
"  keys generate [FILE] [--id KEYID]\n"
"      write a new key file (mode 0600, never overwritten; FILE defaults to the key file)\n"
"  keys rotate [--id KEYID]\n"
"      add a new active key to the key file and re-encrypt every stored auth token\n"
"  company add SLUG --name NAME [--greeting TEXT] [--voice V] [--language L]\n"
"              [--escalation-phone E164] [--notification-phone E164]\n"
"              [--recording on|off] [--time-zone IANA-NAME] [--keep-media on|off]\n"
"              [--webhook-url URL] [--outbound-greeting TEXT] [--voicemail-message TEXT]\n"
"              [--monthly-minutes N] [--limit-message TEXT]\n"
"  company set SLUG [--name NAME] [--greeting TEXT] [--voice V] [--language L]\n"
"              [--escalation-phone E164|''] [--notification-phone E164|'']\n"
"              [--recording on|off] [--time-zone IANA-NAME] [--keep-media on|off]\n"
"              [--webhook-url URL|''] [--outbound-greeting TEXT|'']\n"
"              [--voicemail-message TEXT|''] [--monthly-minutes N|'']\n"
"              [--limit-message TEXT|'']\n"
"      --webhook-url: where Twilio reaches the tenant's routes, e.g.\n"
"      https://calls.example.com/voice/SLUG (outbound calls and status callbacks)\n"
"  company list\n"
"  company enable SLUG\n"
"  company disable SLUG\n"
"  integration add SLUG --account-sid AC... --number +E164 [--number +E164 ...]\n"
"              [--mode own|platform] [--auth-token-file FILE]\n"
"      the auth token is read from standard input (first line) unless\n"
"      --auth-token-file is given; it is never accepted on the command line\n"
"  integration set-token SLUG [--auth-token-file FILE]\n"
"  integration list [SLUG]\n"
"  integration test SLUG\n"
"      decrypt the auth token and fetch the Twilio account with it\n"
"  integration enable SLUG\n"
"  integration disable SLUG\n"
"  integration remove SLUG\n"
"  assistant import SLUG FILE.json\n"
"      validate a script assistant document and store it (docs/assistant-script.md)\n"
"  assistant set SLUG [--kind script|llm] [--endpoint URL] [--model NAME]\n"
"                [--api-key-file FILE|-] [--no-api-key] [--system-prompt TEXT]\n"
"                [--system-prompt-file FILE] [--temperature T] [--max-tokens N]\n"
"                [--languages LANG=VOICE,...]\n"
"                [--mode gather|stream] [--realtime-url wss://...|''] [--realtime-model M]\n"
"                [--realtime-voice V|''] [--realtime-dialect ga|beta]\n"
"                [--realtime-audio pcmu|pcm16] [--realtime-transcription MODEL|'']\n"
"                [--realtime-key-file FILE|-] [--no-realtime-key]\n"
"                [--stt-url URL|''] [--stt-model M] [--stt-key-file FILE|-] [--no-stt-key]\n"
"                [--tts-url URL|''] [--tts-model M] [--tts-voice V|''] [--tts-format pcm|wav]\n"
"                [--tts-key-file FILE|-] [--no-tts-key] [--end-silence-ms MS]\n"
"                [--barge-in-ms MS] [--reply-budget-ms MS] [--recognizer-confidence X|'']\n"
"      the assistant's settings (docs/assistant.md, docs/stream-mode.md,\n"
"      docs/voice-pipeline.md); API keys are\n"
"      read from FILE or standard input (-), stored encrypted and never printed\n"
"  assistant show SLUG\n"
"      print the assistant's settings and its script, normalized (or the defaults)\n"
"  jobs list [--failed] [--limit N]\n"
"      the helper's job outbox, newest first (default limit 50)\n"
"  calls list [SLUG] [--since TIME] [--limit N]\n"
"      the call log, newest first (default limit 50); TIME: ISO 8601 (UTC unless it\n"
"      has an offset) or an age such as 30m, 1h, 2d\n"
"  calls show CALLSID\n"
"  calls place SLUG --to +E164 [--greeting TEXT] [--machine-detection on|off]\n"
"      queue an outbound call by the tenant's assistant (needs company set\n"
"      --webhook-url); refused for a number that opted out of calls\n"
"      one call: its row, status history, transcript, escalation and recording\n"
"  rules import SLUG FILE.json|-\n"
"      check a rules document whole (docs/rules.md) and replace the tenant's rules\n"
"  rules export SLUG\n"
"  rules runs SLUG [--limit N]\n"
"      the log of rule runs, newest first (default limit 50)\n"
"  consent list SLUG [--phone +E164]\n"
"  consent record SLUG --phone +E164 --channel sms|whatsapp|voice --granted|--refused\n"
"                 [--note TEXT]\n"
"      the consent ledger; voice is consent to be called (campaigns need it)\n"
"  messages send SLUG --to +E164 [--whatsapp] --body TEXT\n"
"      queue a message (the helper sends it; never to a customer who opted out)\n"
"  messages list SLUG [--customer +E164] [--limit N]\n"
"  customers list SLUG [--limit N]\n"
"  customers show SLUG +E164\n"
"      the customer and one timeline of their calls and messages\n"
"  usage SLUG [--month YYYY-MM]\n"
"      per day (the tenant's time zone): calls, minutes (rounded up per call),\n"
"      messages in and out, segments; default the current month\n"
"\n"
"Exit status: 0 success, 1 error, 2 usage error.\n",
        out);
}

static void log_sink(void *baton, vt_log_level_t level, const char *file, int line,
                     const char *msg)
{
    (void)baton;
    (void)file;
    (void)line;
    fprintf(stderr, VTA_PROG ": %s%s\n", level <= VT_LOG_ERR ? "" : "warning: ", msg);
}

int main(int argc, char **argv)
{
    vta_ctx_t ctx;
    const char *api_base = NULL;
    const char *verb;
    int i, rc;

    memset(&ctx, 0, sizeof ctx);
    if (apr_app_initialize(&argc, (const char *const **)&argv, NULL) != APR_SUCCESS) {
        fputs(VTA_PROG ": cannot initialize APR\n", stderr);
        return VTA_FAIL;
    }
    atexit(apr_terminate);
    if (apr_pool_create(&ctx.pool, NULL) != APR_SUCCESS) {
        fputs(VTA_PROG ": out of memory\n", stderr);
        return VTA_FAIL;
    }
    vt_log_set_sink(log_sink, NULL, VT_LOG_WARN);

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int m;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return VTA_OK;
        }
        if (strcmp(a, "--version") == 0) {
            printf(VTA_PROG " (mod_voxtwilio) %s\n", PACKAGE_VERSION);
            return VTA_OK;
        }
        if ((m = vta_opt(argc, argv, &i, "--db", &ctx.conninfo)) != 0
            || (m = vta_opt(argc, argv, &i, "--key-file", &ctx.key_file)) != 0
            || (m = vta_opt(argc, argv, &i, "--api-base", &api_base)) != 0) {
            if (m < 0)
                return VTA_USAGE;
            continue;
        }
        if (a[0] == '-')
            return vta_usage_err("unknown option '%s'", vta_arg_for_msg(a));
        break;
    }
    if (i >= argc)
        return vta_usage_err("no verb given");

    if (!ctx.key_file) {
        const char *e = getenv("VOXTWILIO_KEY_FILE");
        if (e && *e)
            ctx.key_file = e;
    }
    if (!api_base) {
        const char *e = getenv("VOXTWILIO_API_BASE");
        api_base = (e && *e) ? e : VTA_DEFAULT_API_BASE;
    }
    ctx.api_base = api_base; /* validated by the verbs that use it */

    verb = argv[i];
    argc -= i;
    argv += i;
    if (strcmp(verb, "migrate") == 0)
        rc = vta_cmd_migrate(&ctx, argc, argv);
    else if (strcmp(verb, "keys") == 0)
        rc = vta_cmd_keys(&ctx, argc, argv);
    else if (strcmp(verb, "company") == 0)
        rc = vta_cmd_company(&ctx, argc, argv);
    else if (strcmp(verb, "integration") == 0)
        rc = vta_cmd_integration(&ctx, argc, argv);
    else if (strcmp(verb, "assistant") == 0)
        rc = vta_cmd_assistant(&ctx, argc, argv);
    else if (strcmp(verb, "jobs") == 0)
        rc = vta_cmd_jobs(&ctx, argc, argv);
    else if (strcmp(verb, "calls") == 0)
        rc = vta_cmd_calls(&ctx, argc, argv);
    else if (strcmp(verb, "rules") == 0)
        rc = vta_cmd_rules(&ctx, argc, argv);
    else if (strcmp(verb, "consent") == 0)
        rc = vta_cmd_consent(&ctx, argc, argv);
    else if (strcmp(verb, "messages") == 0)
        rc = vta_cmd_messages(&ctx, argc, argv);
    else if (strcmp(verb, "customers") == 0)
        rc = vta_cmd_customers(&ctx, argc, argv);
    else if (strcmp(verb, "usage") == 0)
        rc = vta_cmd_usage(&ctx, argc, argv);
    else if (strcmp(verb, "help") == 0) {
        usage(stdout);
        rc = VTA_OK;
    }
    else
        rc = vta_usage_err("unknown verb '%s'", verb);

    vta_rollback(&ctx);
    vta_db_close(&ctx);
    fflush(stdout);
    apr_pool_destroy(ctx.pool); /* wipes key material and decrypted tokens */
    return rc;
}
