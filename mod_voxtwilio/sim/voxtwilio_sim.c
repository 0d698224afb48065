/* voxtwilio-sim — plays Twilio for a gateway: places a call the way Twilio does (a signed
 * `inbound` webhook with the usual voice parameters), checks the answer is TwiML that
 * Twilio would accept, and prints what the caller hears.
 *
 *   voxtwilio-sim --url http://127.0.0.1:8080/voice/inbound --from +14155550100 \
 *                 --to +15005550006 --account-sid AC... --auth-token-file token.txt
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_xml.h>
#include "vt_crypto.h"
#include "vt_form.h"
#include "vt_signature.h"
#include "vt_util.h"

#define SIM_MAX_TWIML (64 * 1024) /* Twilio's limit for a TwiML document */

typedef struct sim_http {
    apr_pool_t *pool;
    char *body;
    apr_size_t len;
    int too_large;
    const char *content_type;
    int chunked;
} sim_http_t;

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "voxtwilio-sim: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static size_t on_body(char *data, size_t size, size_t n, void *baton)
{
    sim_http_t *h = baton;
    apr_size_t add = size * n;

    if (h->len + add > SIM_MAX_TWIML) {
        h->too_large = 1;
        return 0;
    }
    memcpy(h->body + h->len, data, add);
    h->len += add;
    h->body[h->len] = '\0';
    return add;
}

static size_t on_header(char *data, size_t size, size_t n, void *baton)
{
    sim_http_t *h = baton;
    apr_size_t len = size * n;
    char *line = apr_pstrmemdup(h->pool, data, len);

    apr_collapse_spaces(line, line);
    if (strncasecmp(line, "content-type:", 13) == 0) {
        h->content_type = line + 13;
    }
    else if (strncasecmp(line, "transfer-encoding:chunked", 25) == 0) {
        h->chunked = 1;
    }
    return len;
}

/* POSTs params to url signed with token, as Twilio does. Returns the HTTP status. */
static long twilio_post(apr_pool_t *p, const char *url, const char *token,
                        const apr_array_header_t *params, sim_http_t *h)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    const char *body = vt_form_encode(p, params);
    char errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;

    h->pool = p;
    h->body = apr_palloc(p, SIM_MAX_TWIML + 1);
    h->body[0] = '\0';
    hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "X-Twilio-Signature: ",
                                               vt_signature_compute(p, token, url, params), NULL));
    hdrs = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
    hdrs = curl_slist_append(hdrs, "User-Agent: TwilioProxy/1.1 (voxtwilio-sim)");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L); /* Twilio's webhook limit */
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    if (curl_easy_perform(curl) != CURLE_OK && !h->too_large) {
        die("request failed: %s", errbuf);
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    return status;
}

static const char *elem_text(apr_pool_t *p, const apr_xml_elem *e)
{
    const char *text;
    apr_size_t len;

    apr_xml_to_text(p, e, APR_XML_X2T_INNER, NULL, NULL, &text, &len);
    return text;
}

static const char *elem_attr(const apr_xml_elem *e, const char *name)
{
    const apr_xml_attr *a;

    for (a = e->attr; a; a = a->next) {
        if (strcmp(a->name, name) == 0) {
            return a->value;
        }
    }
    return NULL;
}

/* Prints what the caller hears. Returns 1 when a verb ended the call, -1 when a verb passed
 * control elsewhere (Gather, Redirect, Dial...), 0 when the verbs ran out. */
static int play_verbs(apr_pool_t *p, const apr_xml_elem *e, int depth)
{
    for (; e; e = e->next) {
        if (strcmp(e->name, "Say") == 0) {
            printf("%*sassistant: %s\n", depth * 2, "", elem_text(p, e));
        }
        else if (strcmp(e->name, "Gather") == 0) {
            play_verbs(p, e->first_child, depth + 1);
            printf("%*s[listening: Gather input=%s action=%s]\n", depth * 2, "",
                   elem_attr(e, "input") ? elem_attr(e, "input") : "dtmf",
                   elem_attr(e, "action") ? elem_attr(e, "action") : "(current URL)");
            return -1;
        }
        else if (strcmp(e->name, "Hangup") == 0 || strcmp(e->name, "Reject") == 0) {
            printf("[call ended by the gateway: %s]\n", e->name);
            return 1;
        }
        else if (strcmp(e->name, "Pause") == 0 || strcmp(e->name, "Play") == 0) {
            printf("%*s[%s]\n", depth * 2, "", e->name);
        }
        else if (strcmp(e->name, "Redirect") == 0 || strcmp(e->name, "Dial") == 0
                 || strcmp(e->name, "Connect") == 0 || strcmp(e->name, "Record") == 0
                 || strcmp(e->name, "Enqueue") == 0 || strcmp(e->name, "Start") == 0) {
            printf("%*s[%s %s]\n", depth * 2, "", e->name, elem_text(p, e));
            return -1;
        }
        else {
            die("invalid TwiML: unknown verb <%s>", e->name);
        }
    }
    return 0;
}

/* Plays a whole document: running off its end hangs the call up, as Twilio does. */
static void play_twiml(apr_pool_t *p, const apr_xml_doc *doc)
{
    if (play_verbs(p, doc->root->first_child, 0) == 0) {
        printf("[end of TwiML: Twilio hangs up]\n");
    }
}

static apr_xml_doc *parse_twiml(apr_pool_t *p, const sim_http_t *h)
{
    apr_xml_parser *parser = apr_xml_parser_create(p);
    apr_xml_doc *doc = NULL;
    char err[256];

    if (h->too_large) {
        die("invalid TwiML: response larger than %s", "64 KB");
    }
    if (h->chunked) {
        die("invalid TwiML: %s (Twilio needs Content-Length)", "chunked response");
    }
    if (!h->content_type || (strncasecmp(h->content_type, "text/xml", 8) != 0
                             && strncasecmp(h->content_type, "application/xml", 15) != 0)) {
        die("invalid TwiML: Content-Type %s (Twilio error 12300)",
            h->content_type ? h->content_type : "missing");
    }
    if (apr_xml_parser_feed(parser, h->body, h->len) != APR_SUCCESS
        || apr_xml_parser_done(parser, &doc) != APR_SUCCESS) {
        apr_xml_parser_geterror(parser, err, sizeof(err));
        die("invalid TwiML (Twilio error 12100): %s", err);
    }
    if (!doc->root || strcmp(doc->root->name, "Response") != 0) {
        die("invalid TwiML: the root element is not %s", "<Response>");
    }
    return doc;
}

static const char *read_token(apr_pool_t *p, const char *path)
{
    char buf[256];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");

    if (!f || !fgets(buf, sizeof(buf), f)) {
        die("cannot read the auth token from %s", path);
    }
    if (f != stdin) {
        fclose(f);
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return apr_pstrdup(p, buf);
}

static const char *random_sid(apr_pool_t *p, const char *prefix)
{
    unsigned char raw[16];

    if (vt_random_bytes(raw, sizeof(raw)) != VT_CRYPTO_OK) {
        die("%s", "no randomness");
    }
    return apr_pstrcat(p, prefix, vt_hex_encode(p, raw, sizeof(raw)), NULL);
}

static void usage(void)
{
    puts("usage: voxtwilio-sim --url URL --from E164 --to E164 --account-sid AC...\n"
         "                     --auth-token-file FILE|- [--call-sid CA...]\n"
         "Places a call like Twilio: POSTs a signed `inbound` webhook to URL and prints\n"
         "what the caller hears. The auth token is read from FILE (or stdin with -).");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "url", required_argument, NULL, 'u' },
        { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },
        { "account-sid", required_argument, NULL, 'a' },
        { "auth-token-file", required_argument, NULL, 'k' },
        { "call-sid", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *url = NULL, *from = NULL, *to = NULL, *account = NULL, *token_file = NULL;
    const char *call_sid = NULL;
    apr_pool_t *p;
    apr_array_header_t *params;
    sim_http_t h = { 0 };
    long status;
    int c;

    apr_app_initialize(&argc, (const char *const **)&argv, NULL);
    apr_pool_create(&p, NULL);
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'a': account = optarg; break;
        case 'k': token_file = optarg; break;
        case 'c': call_sid = optarg; break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (!url || !from || !to || !account || !token_file) {
        usage();
        return 2;
    }
    if (!vt_sid_valid(account, "AC")) {
        die("--account-sid '%s' is not an Account SID (AC + 32 hex digits)", account);
    }
    if (!call_sid) {
        call_sid = random_sid(p, "CA");
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    params = apr_array_make(p, 16, sizeof(vt_param_t));
    vt_params_add(params, "AccountSid", account);
    vt_params_add(params, "ApiVersion", "2010-04-01");
    vt_params_add(params, "CallSid", call_sid);
    vt_params_add(params, "CallStatus", "ringing");
    vt_params_add(params, "Called", to);
    vt_params_add(params, "Caller", from);
    vt_params_add(params, "Direction", "inbound");
    vt_params_add(params, "From", from);
    vt_params_add(params, "To", to);
    printf("[call %s from %s to %s]\n", call_sid, from, to);
    status = twilio_post(p, url, read_token(p, token_file), params, &h);
    if (status != 200) {
        die("the gateway answered HTTP %s (Twilio error 11200: the caller hears an "
            "application error)", apr_ltoa(p, status));
    }
    play_twiml(p, parse_twiml(p, &h));
    curl_global_cleanup();
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
