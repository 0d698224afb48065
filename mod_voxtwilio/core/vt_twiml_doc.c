/* vt_twiml_doc — TwiML reader with Twilio's acceptance rules (apr_xml underneath). */
#include <string.h>
#include <apr_strings.h>
#include <apr_xml.h>
#include "vt_twiml_doc.h"
#include "vt_util.h"

/* Deeper documents are refused: TwiML nests three levels (Dial > Client > Parameter) and
 * SSML a few more; the limit also bounds the recursion below. */
#define VT_TWIML_DOC_MAX_DEPTH 16

#define VOICE_VERBS \
    "Say Play Pause Gather Redirect Hangup Reject Dial Record Enqueue Connect Start Stop " \
    "Leave Refer Sms"
#define MESSAGING_VERBS "Message Redirect Sms"
#define STREAM_NOUNS "Stream Recording Transcription Siprec"

/* Which elements each parent takes; a parent not listed takes none. <Say> takes any
 * element (SSML: <break>, <prosody>, ...), which Twilio checks only when speaking. */
static const struct vt_twiml_rule {
    const char *parent;
    const char *children;
} vt_twiml_rules[] = {
    { "Gather", "Say Play Pause" },
    { "Dial", "Number Client Sip Conference Queue" },
    { "Client", "Identity Parameter" },
    { "Enqueue", "Task" },
    { "Connect", "Stream ConversationRelay Room VirtualAgent Autopilot Conversation Assistant" },
    { "Start", STREAM_NOUNS },
    { "Stop", STREAM_NOUNS },
    { "Stream", "Parameter" },
    { "Siprec", "Parameter" },
    { "Transcription", "Parameter" },
    { "ConversationRelay", "Language Parameter" },
    { "VirtualAgent", "Config Parameter" },
    { "Refer", "Sip" },
    { "Message", "Body Media" },
};

typedef struct vt_doc_ctx {
    apr_pool_t *pool;
    const char **err;
} vt_doc_ctx_t;

static vt_twiml_doc_rc fail(vt_doc_ctx_t *c, vt_twiml_doc_rc rc, const char *detail)
{
    *c->err = apr_psprintf(c->pool, "Twilio error %d (%s): %s", (int)rc,
                           vt_twiml_doc_strerror(rc), detail);
    return rc;
}

const char *vt_twiml_doc_strerror(vt_twiml_doc_rc rc)
{
    switch (rc) {
    case VT_TWIML_DOC_OK:
        return "ok";
    case VT_TWIML_DOC_ETOO_LARGE:
        return "response body too large";
    case VT_TWIML_DOC_EPARSE:
        return "document parse failure";
    case VT_TWIML_DOC_ESCHEMA:
        return "schema validation";
    case VT_TWIML_DOC_ECONTENT_TYPE:
        return "invalid Content-Type";
    case VT_TWIML_DOC_ENUMBER:
        return "Dial: invalid phone number format";
    case VT_TWIML_DOC_ESTREAM_HANDSHAKE:
        return "Stream - WebSocket - Handshake Error";
    case VT_TWIML_DOC_ESTREAM_SCHEME:
        return "Stream - WebSocket - URL Schema Not Supported";
    case VT_TWIML_DOC_ESTREAM_URL:
        return "Stream - WebSocket - Malformed URL";
    case VT_TWIML_DOC_ESTREAM_TRACK:
        return "Stream - Invalid Track configuration";
    }
    return "unknown error";
}

/* 1 when word is one of the space-separated words of list. */
static int in_list(const char *list, const char *word)
{
    apr_size_t n = strlen(word);
    const char *s = list;

    while (*s) {
        apr_size_t m = strcspn(s, " ");
        if (m == n && strncmp(s, word, n) == 0) {
            return 1;
        }
        s += m;
        while (*s == ' ') {
            s++;
        }
    }
    return 0;
}

static const char *allowed_children(const char *parent)
{
    apr_size_t i;

    for (i = 0; i < sizeof(vt_twiml_rules) / sizeof(vt_twiml_rules[0]); i++) {
        if (strcmp(vt_twiml_rules[i].parent, parent) == 0) {
            return vt_twiml_rules[i].children;
        }
    }
    return "";
}

static int is_xml_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* An XML NCName (ASCII rules; any non-ASCII byte is taken as a name character). apr_xml
 * takes a prefix off before the first ':', so ":8e" or "::a" arrive as "8e" or ":a";
 * a namespace-aware parser such as Twilio's rejects those documents. */
static int name_start(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch >= 0x80;
}

static int ncname(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;

    if (!name_start(*u)) {
        return 0;
    }
    for (u++; *u; u++) {
        if (!(name_start(*u) || (*u >= '0' && *u <= '9') || *u == '.' || *u == '-')) {
            return 0;
        }
    }
    return 1;
}

static const char *trim(apr_pool_t *p, const char *s, apr_size_t n)
{
    while (n > 0 && is_xml_space(*s)) {
        s++, n--;
    }
    while (n > 0 && is_xml_space(s[n - 1])) {
        n--;
    }
    return apr_pstrmemdup(p, s, n);
}

/* Text pieces go into an array of strings, joined once with apr_array_pstrcat. */
static void text_append(apr_array_header_t *pieces, const apr_text_header *h)
{
    const apr_text *t;

    for (t = h->first; t; t = t->next) {
        APR_ARRAY_PUSH(pieces, const char *) = t->text;
    }
}

/* The element's own text; deep: also its descendants' (spoken SSML text under <Say>). */
static void collect_text(apr_array_header_t *pieces, const apr_xml_elem *e, int deep)
{
    const apr_xml_elem *ch;

    text_append(pieces, &e->first_cdata);
    for (ch = e->first_child; ch; ch = ch->next) {
        if (deep) {
            collect_text(pieces, ch, 1);
        }
        text_append(pieces, &ch->following_cdata);
    }
}

static const char *elem_text(apr_pool_t *p, const apr_xml_elem *e, int deep)
{
    apr_array_header_t *pieces = apr_array_make(p, 4, sizeof(const char *));
    const char *s;

    collect_text(pieces, e, deep);
    s = apr_array_pstrcat(p, pieces, 0);
    return trim(p, s, strlen(s));
}

static vt_twiml_doc_rc check_number(vt_doc_ctx_t *c, const char *what, const char *text)
{
    if (!vt_e164_valid(text)) {
        return fail(c, VT_TWIML_DOC_ENUMBER,
                    apr_psprintf(c->pool, "%s '%s' is not an E.164 number (+ and 2 to 15 "
                                 "digits)", what, text));
    }
    return VT_TWIML_DOC_OK;
}

/* The port of an authority ("h:443", "[::1]:8443"), when it names one, is 1 to 65535. */
static int port_ok(const char *auth, apr_size_t n)
{
    const char *colon = NULL, *bracket = NULL;
    apr_size_t i;
    long port = 0;

    for (i = 0; i < n; i++) {
        if (auth[i] == ':') {
            colon = auth + i;
        }
        else if (auth[i] == ']') {
            bracket = auth + i;
        }
    }
    if (!colon || (bracket && colon < bracket)) {
        return 1;
    }
    for (i = (apr_size_t)(colon - auth) + 1; i < n; i++) {
        if (auth[i] < '0' || auth[i] > '9' || (port = port * 10 + (auth[i] - '0')) > 65535) {
            return 0;
        }
    }
    return port > 0;
}

/* <Stream url> as Twilio opens it: an absolute wss:// URL with a host, and no query (its
 * values go in <Parameter>s; a query fails the handshake). */
static vt_twiml_doc_rc check_stream_url(vt_doc_ctx_t *c, const char *url)
{
    const char *auth;
    apr_size_t i, n;

    for (i = 0; url[i]; i++) {
        if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f) {
            return fail(c, VT_TWIML_DOC_ESTREAM_URL,
                        "white space or a control character in <Stream url>");
        }
    }
    n = strcspn(url, ":/?#");
    if (n == 0 || strncmp(url + n, "://", 3) != 0) {
        return fail(c, VT_TWIML_DOC_ESTREAM_URL,
                    apr_psprintf(c->pool, "<Stream url> '%.200s' is not an absolute URL", url));
    }
    if (n != 3 || strncasecmp(url, "wss", 3) != 0) {
        return fail(c, VT_TWIML_DOC_ESTREAM_SCHEME,
                    apr_psprintf(c->pool, "<Stream url> '%.200s' is not wss:// (Twilio opens "
                                 "only secure WebSockets)", url));
    }
    auth = url + 6;
    n = strcspn(auth, "/?#");
    if (n == 0 || !port_ok(auth, n)) {
        return fail(c, VT_TWIML_DOC_ESTREAM_URL,
                    apr_psprintf(c->pool, "<Stream url> '%.200s' has no valid host and port",
                                 url));
    }
    if (strchr(url, '#')) {
        return fail(c, VT_TWIML_DOC_ESTREAM_URL,
                    apr_psprintf(c->pool, "<Stream url> '%.200s' has a fragment", url));
    }
    if (strchr(url, '?')) {
        return fail(c, VT_TWIML_DOC_ESTREAM_HANDSHAKE,
                    apr_psprintf(c->pool, "<Stream url> '%.200s' has a query string (Twilio's "
                                 "handshake fails; pass values in <Parameter>)", url));
    }
    return VT_TWIML_DOC_OK;
}

/* A <Stream> of <Connect> (bidirectional: the inbound track only) or <Start>. */
static vt_twiml_doc_rc check_stream(vt_doc_ctx_t *c, const vt_twiml_verb_t *v,
                                    const char *parent)
{
    const char *url = vt_twiml_verb_attr(v, "url"), *track = vt_twiml_verb_attr(v, "track");
    int connect = strcmp(parent, "Connect") == 0;
    vt_twiml_doc_rc rc;
    int i;

    if (!url) {
        return fail(c, VT_TWIML_DOC_ESCHEMA,
                    apr_psprintf(c->pool, "<Stream> in <%s> has no url", parent));
    }
    if ((rc = check_stream_url(c, url)) != VT_TWIML_DOC_OK) {
        return rc;
    }
    if (track && !in_list(connect ? "inbound_track" : "inbound_track outbound_track both_tracks",
                          track)) {
        return fail(c, VT_TWIML_DOC_ESTREAM_TRACK,
                    apr_psprintf(c->pool, "<Stream track=\"%.40s\"> in <%s> (%s)", track, parent,
                                 connect ? "inbound_track only"
                                         : "inbound_track, outbound_track or both_tracks"));
    }
    for (i = 0; i < v->children->nelts; i++) {
        const vt_twiml_verb_t *ch = APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *);
        if (!vt_twiml_verb_attr(ch, "name")) {
            return fail(c, VT_TWIML_DOC_ESCHEMA, "<Parameter> of <Stream> has no name");
        }
    }
    return VT_TWIML_DOC_OK;
}

/* Twilio's rules for what a verb holds, once its children are read. */
static vt_twiml_doc_rc check_verb(vt_doc_ctx_t *c, const vt_twiml_verb_t *v, const char *parent)
{
    if (strcmp(v->name, "Number") == 0 && strcmp(parent, "Dial") == 0) {
        return check_number(c, "<Number>", v->text);
    }
    /* <Dial>+1415...</Dial>: the number shortcut. */
    if (strcmp(v->name, "Dial") == 0 && v->text[0]) {
        return check_number(c, "<Dial> number", v->text);
    }
    if (strcmp(v->name, "Connect") == 0 && v->children->nelts != 1) {
        return fail(c, VT_TWIML_DOC_ESCHEMA,
                    apr_psprintf(c->pool, "<Connect> holds %d nouns (it takes exactly one)",
                                 v->children->nelts));
    }
    if (strcmp(v->name, "Stream") == 0
        && (strcmp(parent, "Connect") == 0 || strcmp(parent, "Start") == 0)) {
        return check_stream(c, v, parent);
    }
    return VT_TWIML_DOC_OK;
}

static vt_twiml_doc_rc convert(vt_doc_ctx_t *c, const apr_xml_elem *e, const char *allowed,
                               const char *parent, int depth, int in_ssml,
                               vt_twiml_verb_t **out)
{
    apr_pool_t *p = c->pool;
    vt_twiml_verb_t *v;
    const apr_xml_attr *a;
    const apr_xml_elem *ch;
    int say = !in_ssml && strcmp(e->name, "Say") == 0;
    vt_twiml_doc_rc rc;

    if (depth > VT_TWIML_DOC_MAX_DEPTH) {
        return fail(c, VT_TWIML_DOC_ESCHEMA,
                    apr_psprintf(p, "elements nested deeper than %d levels",
                                 VT_TWIML_DOC_MAX_DEPTH));
    }
    if (!ncname(e->name)) {
        return fail(c, VT_TWIML_DOC_EPARSE,
                    apr_psprintf(p, "element name '%s' in <%s> is not namespace-well-formed",
                                 e->name, parent));
    }
    for (a = e->attr; a; a = a->next) {
        if (!ncname(a->name)) {
            return fail(c, VT_TWIML_DOC_EPARSE,
                        apr_psprintf(p, "attribute name '%s' of <%s> is not "
                                     "namespace-well-formed", a->name, e->name));
        }
    }
    if (!in_ssml) {
        if (e->ns != APR_XML_NS_NONE) {
            return fail(c, VT_TWIML_DOC_ESCHEMA,
                        apr_psprintf(p, "<%s> in <%s> is in an XML namespace", e->name,
                                     parent));
        }
        if (!in_list(allowed, e->name)) {
            return fail(c, VT_TWIML_DOC_ESCHEMA,
                        apr_psprintf(p, "<%s> is not allowed in <%s>%s", e->name, parent,
                                     strcmp(parent, "Response") == 0 ? " (unknown verb)"
                                                                     : ""));
        }
    }
    v = apr_pcalloc(p, sizeof(*v));
    v->name = apr_pstrdup(p, e->name);
    v->attrs = apr_array_make(p, 4, sizeof(vt_twiml_attr_t));
    v->children = apr_array_make(p, 2, sizeof(vt_twiml_verb_t *));
    for (a = e->attr; a; a = a->next) {
        vt_twiml_attr_t *na = apr_array_push(v->attrs);
        na->name = a->name;
        na->value = a->value;
    }
    /* apr_xml links attributes newest first; restore document order. */
    for (int i = 0, j = v->attrs->nelts - 1; i < j; i++, j--) {
        vt_twiml_attr_t tmp = APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t);
        APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t) = APR_ARRAY_IDX(v->attrs, j,
                                                                    vt_twiml_attr_t);
        APR_ARRAY_IDX(v->attrs, j, vt_twiml_attr_t) = tmp;
    }
    v->text = elem_text(p, e, say || in_ssml);
    for (ch = e->first_child; ch; ch = ch->next) {
        vt_twiml_verb_t *cv;
        rc = convert(c, ch, allowed_children(e->name), e->name, depth + 1, say || in_ssml, &cv);
        if (rc != VT_TWIML_DOC_OK) {
            return rc;
        }
        APR_ARRAY_PUSH(v->children, vt_twiml_verb_t *) = cv;
    }
    if (!in_ssml && (rc = check_verb(c, v, parent)) != VT_TWIML_DOC_OK) {
        return rc;
    }
    *out = v;
    return VT_TWIML_DOC_OK;
}

/* "text/xml; charset=utf-8" -> 1. Media types are case-insensitive. */
static int xml_content_type(const char *ct)
{
    apr_size_t n;

    while (*ct == ' ' || *ct == '\t') {
        ct++;
    }
    n = strcspn(ct, "; \t");
    return (n == 8 && strncasecmp(ct, "text/xml", 8) == 0)
           || (n == 15 && strncasecmp(ct, "application/xml", 15) == 0);
}

vt_twiml_doc_rc vt_twiml_doc_parse(apr_pool_t *p, vt_twiml_kind_t kind, const char *content_type,
                                   int chunked, const char *body, apr_size_t len,
                                   apr_array_header_t **verbs, const char **err)
{
    vt_doc_ctx_t c = { p, err };
    apr_xml_parser *parser;
    apr_xml_doc *doc = NULL;
    const apr_xml_elem *e;
    apr_array_header_t *out;
    const char *verb_list = kind == VT_TWIML_MESSAGING ? MESSAGING_VERBS : VOICE_VERBS;
    char msg[200];

    *verbs = NULL;
    *err = NULL;
    if (!content_type || !xml_content_type(content_type)) {
        return fail(&c, VT_TWIML_DOC_ECONTENT_TYPE,
                    content_type ? apr_psprintf(p, "Content-Type '%s' is not text/xml or "
                                                "application/xml", content_type)
                                 : "no Content-Type (text/xml or application/xml needed)");
    }
    if (chunked) {
        return fail(&c, VT_TWIML_DOC_EPARSE, "chunked transfer encoding (Twilio's HTTP "
                                             "client truncates it; send Content-Length)");
    }
    if (len > VT_TWIML_DOC_MAX) {
        return fail(&c, VT_TWIML_DOC_ETOO_LARGE, "more than 64 KB");
    }
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        return fail(&c, VT_TWIML_DOC_EPARSE, "byte-order mark before the document");
    }
    parser = apr_xml_parser_create(p);
    if (apr_xml_parser_feed(parser, body, len) != APR_SUCCESS
        || apr_xml_parser_done(parser, &doc) != APR_SUCCESS || !doc || !doc->root) {
        apr_xml_parser_geterror(parser, msg, sizeof(msg));
        return fail(&c, VT_TWIML_DOC_EPARSE, apr_psprintf(p, "not well-formed XML: %s", msg));
    }
    if (doc->root->ns != APR_XML_NS_NONE || strcmp(doc->root->name, "Response") != 0) {
        return fail(&c, VT_TWIML_DOC_ESCHEMA,
                    apr_psprintf(p, "the root element is <%s>, not <Response>",
                                 doc->root->name));
    }
    out = apr_array_make(p, 8, sizeof(vt_twiml_verb_t *));
    if (elem_text(p, doc->root, 0)[0] != '\0') {
        return fail(&c, VT_TWIML_DOC_ESCHEMA, "text outside a verb in <Response>");
    }
    for (e = doc->root->first_child; e; e = e->next) {
        vt_twiml_verb_t *v;
        vt_twiml_doc_rc rc = convert(&c, e, verb_list, "Response", 1, 0, &v);
        if (rc != VT_TWIML_DOC_OK) {
            return rc;
        }
        APR_ARRAY_PUSH(out, vt_twiml_verb_t *) = v;
    }
    *verbs = out;
    return VT_TWIML_DOC_OK;
}

const char *vt_twiml_verb_attr(const vt_twiml_verb_t *v, const char *name)
{
    int i;

    for (i = 0; i < v->attrs->nelts; i++) {
        const vt_twiml_attr_t *a = &APR_ARRAY_IDX(v->attrs, i, vt_twiml_attr_t);
        if (strcmp(a->name, name) == 0) {
            return a->value;
        }
    }
    return NULL;
}

const vt_twiml_verb_t *vt_twiml_verb_child(const vt_twiml_verb_t *v, const char *name)
{
    int i;

    for (i = 0; i < v->children->nelts; i++) {
        const vt_twiml_verb_t *ch = APR_ARRAY_IDX(v->children, i, vt_twiml_verb_t *);
        if (strcmp(ch->name, name) == 0) {
            return ch;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- URL resolution */

typedef struct vt_uri {
    const char *scheme;    /* without ':'; NULL: none */
    const char *authority; /* without "//"; NULL: none */
    const char *path;      /* never NULL */
    const char *query;     /* without '?'; NULL: none */
    const char *fragment;  /* without '#'; NULL: none */
} vt_uri_t;

static int scheme_char(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (!first && ((ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'));
}

/* RFC 3986 appendix B, by hand. */
static void uri_split(apr_pool_t *p, const char *s, vt_uri_t *u)
{
    apr_size_t n;

    memset(u, 0, sizeof(*u));
    for (n = 0; s[n] && scheme_char(s[n], n == 0); n++) {
    }
    if (n > 0 && s[n] == ':') {
        u->scheme = apr_pstrmemdup(p, s, n);
        s += n + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        n = strcspn(s, "/?#");
        u->authority = apr_pstrmemdup(p, s, n);
        s += n;
    }
    n = strcspn(s, "?#");
    u->path = apr_pstrmemdup(p, s, n);
    s += n;
    if (*s == '?') {
        s++;
        n = strcspn(s, "#");
        u->query = apr_pstrmemdup(p, s, n);
        s += n;
    }
    if (*s == '#') {
        u->fragment = apr_pstrdup(p, s + 1);
    }
}

/* RFC 3986 §5.2.4. */
static char *remove_dot_segments(apr_pool_t *p, const char *in)
{
    apr_size_t len = strlen(in);
    char *out = apr_palloc(p, len + 1);
    apr_size_t o = 0;

    while (*in) {
        if (strncmp(in, "../", 3) == 0) {
            in += 3;
        }
        else if (strncmp(in, "./", 2) == 0) {
            in += 2;
        }
        else if (strncmp(in, "/./", 3) == 0) {
            in += 2;
        }
        else if (strcmp(in, "/.") == 0) {
            in = "/";
        }
        else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
            in = in[3] ? in + 3 : "/";
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            if (o > 0) {
                o--; /* the '/' before the removed segment */
            }
        }
        else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
            in += strlen(in);
        }
        else {
            apr_size_t n = 1 + strcspn(in + 1, "/");
            memcpy(out + o, in, n);
            o += n;
            in += n;
        }
    }
    out[o] = '\0';
    return out;
}

/* RFC 3986 §5.2.3. */
static const char *merge_paths(apr_pool_t *p, const vt_uri_t *base, const char *ref_path)
{
    const char *slash;

    if (base->authority && base->path[0] == '\0') {
        return apr_pstrcat(p, "/", ref_path, NULL);
    }
    slash = strrchr(base->path, '/');
    if (!slash) {
        return ref_path;
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, base->path, (apr_size_t)(slash - base->path + 1)),
                       ref_path, NULL);
}

char *vt_twiml_doc_resolve(apr_pool_t *p, const char *base, const char *ref)
{
    vt_uri_t b, r, t;

    uri_split(p, base, &b);
    if (!b.scheme) {
        return NULL;
    }
    uri_split(p, ref, &r);
    memset(&t, 0, sizeof(t));
    if (r.scheme) {
        t = r;
        t.path = remove_dot_segments(p, r.path);
    }
    else {
        t.scheme = b.scheme;
        if (r.authority) {
            t.authority = r.authority;
            t.path = remove_dot_segments(p, r.path);
            t.query = r.query;
        }
        else {
            t.authority = b.authority;
            if (r.path[0] == '\0') {
                t.path = b.path;
                t.query = r.query ? r.query : b.query;
            }
            else {
                t.path = remove_dot_segments(p, r.path[0] == '/' ? r.path
                                                                : merge_paths(p, &b, r.path));
                t.query = r.query;
            }
        }
        t.fragment = r.fragment;
    }
    return apr_pstrcat(p, t.scheme, ":", t.authority ? "//" : "", t.authority ? t.authority : "",
                       t.path, t.query ? "?" : "", t.query ? t.query : "",
                       t.fragment ? "#" : "", t.fragment ? t.fragment : "", NULL);
}
