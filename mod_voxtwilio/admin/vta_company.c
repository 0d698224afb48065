/* vta_company — `company add|set|list|enable|disable`. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vt_util.h"

typedef struct company_opts {
    const char *name, *greeting, *voice, *language, *escalation, *notification, *recording;
    const char *time_zone, *keep_media, *webhook_url, *outbound_greeting, *voicemail;
    const char *minutes, *limit_message;
} company_opts_t;

/* Parses the options shared by add and set; positional arguments go to *slug. */
static int parse_opts(int argc, char **argv, const char *verb, const char **slug,
                      company_opts_t *o)
{
    int i, m;

    memset(o, 0, sizeof *o);
    *slug = NULL;
    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--name", &o->name)) != 0
            || (m = vta_opt(argc, argv, &i, "--greeting", &o->greeting)) != 0
            || (m = vta_opt(argc, argv, &i, "--voice", &o->voice)) != 0
            || (m = vta_opt(argc, argv, &i, "--language", &o->language)) != 0
            || (m = vta_opt(argc, argv, &i, "--escalation-phone", &o->escalation)) != 0
            || (m = vta_opt(argc, argv, &i, "--notification-phone", &o->notification)) != 0
            || (m = vta_opt(argc, argv, &i, "--recording", &o->recording)) != 0
            || (m = vta_opt(argc, argv, &i, "--time-zone", &o->time_zone)) != 0
            || (m = vta_opt(argc, argv, &i, "--keep-media", &o->keep_media)) != 0
            || (m = vta_opt(argc, argv, &i, "--webhook-url", &o->webhook_url)) != 0
            || (m = vta_opt(argc, argv, &i, "--outbound-greeting", &o->outbound_greeting)) != 0
            || (m = vta_opt(argc, argv, &i, "--voicemail-message", &o->voicemail)) != 0
            || (m = vta_opt(argc, argv, &i, "--monthly-minutes", &o->minutes)) != 0
            || (m = vta_opt(argc, argv, &i, "--limit-message", &o->limit_message)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (argv[i][0] == '-')
            return vta_usage_err("unknown option '%s' for company %s",
                                 vta_arg_for_msg(argv[i]), verb);
        else if (*slug)
            return vta_usage_err("unexpected argument '%s' for company %s",
                                 vta_arg_for_msg(argv[i]), verb);
        else
            *slug = argv[i];
    }
    if (!*slug)
        return vta_usage_err("company %s needs a SLUG", verb);
    return VTA_OK;
}

/* A text the assistant speaks: 1 to 3000 characters, no control character; "" clears it
 * where allowed. */
static int check_spoken(const char *opt, const char *v, int allow_clear)
{
    if (v && !(allow_clear && !*v) && (!*v || vt_utf8_chars(v) > 3000 || vta_has_control(v)))
        return vta_err("%s must be 1 to 3000 characters without control characters", opt);
    return VTA_OK;
}

/* --webhook-url: where Twilio reaches the tenant's routes, normalized (no trailing '/');
 * "" clears it. */
static int check_webhook_url(vta_ctx_t *c, const char **url)
{
    const char *err = NULL, *norm;

    if (!*url || !**url)
        return VTA_OK;
    if (!(norm = vt_base_url_normalize(c->pool, *url, &err)))
        return vta_err("--webhook-url '%s': %s (the URL the tenant's routes are under, e.g. "
                       "https://calls.example.com/voice/SLUG)", vta_arg_for_msg(*url), err);
    *url = norm;
    return VTA_OK;
}

/* allow_clear: "" removes an optional phone number or text (company set). */
static int check_opts(const company_opts_t *o, int allow_clear)
{
    if (o->name && (!*o->name || vt_utf8_chars(o->name) > 200 || vta_has_control(o->name)))
        return vta_err("--name must be 1 to 200 characters without control characters");
    if (check_spoken("--greeting", o->greeting, 0) != VTA_OK
        || check_spoken("--outbound-greeting", o->outbound_greeting, allow_clear) != VTA_OK
        || check_spoken("--voicemail-message", o->voicemail, allow_clear) != VTA_OK
        || check_spoken("--limit-message", o->limit_message, allow_clear) != VTA_OK)
        return VTA_FAIL;
    if (o->minutes && !(allow_clear && !*o->minutes)) {
        char *end = NULL;
        long n = strtol(o->minutes, &end, 10);
        if (!*o->minutes || *end || n < 1 || n > 10000000)
            return vta_err("--monthly-minutes '%s' must be a number of minutes from 1 to "
                           "10000000 (or '' for no limit)", vta_arg_for_msg(o->minutes));
    }
    if (o->voice && !vt_voice_name_valid(o->voice))
        return vta_err("--voice '%s' is not a valid voice name (1 to 64 of A-Z a-z 0-9 . _ -, "
                       "e.g. Polly.Joanna)", o->voice);
    if (o->language && !vt_language_valid(o->language))
        return vta_err("--language '%s' is not a valid language tag (e.g. en-US)", o->language);
    if (o->escalation && !(allow_clear && !*o->escalation) && !vt_e164_valid(o->escalation))
        return vta_err("--escalation-phone '%s' is not an E.164 number (+ and 2 to 15 digits)",
                       o->escalation);
    if (o->recording && strcmp(o->recording, "on") != 0 && strcmp(o->recording, "off") != 0)
        return vta_err("--recording '%s' must be on or off", o->recording);
    if (o->keep_media && strcmp(o->keep_media, "on") != 0 && strcmp(o->keep_media, "off") != 0)
        return vta_err("--keep-media '%s' must be on or off", o->keep_media);
    if (o->notification && !(allow_clear && !*o->notification)
        && !vt_e164_valid(o->notification))
        return vta_err("--notification-phone '%s' is not an E.164 number (+ and 2 to 15 digits)",
                       o->notification);
    return VTA_OK;
}

/* 1 when PostgreSQL knows the time zone (its tzdata is what reads it), else 0 after saying
 * so (or -1 on a database error). */
static int time_zone_known(vta_ctx_t *c, const char *tz)
{
    PGresult *res = vta_q(c, "SELECT 1 FROM pg_timezone_names WHERE name = $1", 1, &tz);
    int known;

    if (!vta_res_ok(res)) {
        vta_db_fail(c, res, "cannot check the time zone");
        return -1;
    }
    known = PQntuples(res) > 0;
    PQclear(res);
    if (!known)
        vta_err("--time-zone '%s' is not a time zone the database knows (an IANA name such "
                "as Europe/Paris or America/New_York)", tz);
    return known;
}

/* Applies the given settings (NULL: unchanged; "" phone: cleared). Returns the number of
 * rows updated, or -1 after reporting an error. */
static int apply_opts(vta_ctx_t *c, const char *slug, const company_opts_t *o)
{
    const char *rec = o->recording ? (strcmp(o->recording, "on") == 0 ? "t" : "f") : NULL;
    const char *keep = o->keep_media ? (strcmp(o->keep_media, "on") == 0 ? "t" : "f") : NULL;
    const char *params[15] = { slug, o->name, o->greeting, o->voice, o->language,
                               o->escalation, o->notification, rec, o->time_zone, keep,
                               o->webhook_url, o->outbound_greeting, o->voicemail,
                               o->minutes, o->limit_message };
    PGresult *res;
    int n;

    if (o->time_zone && time_zone_known(c, o->time_zone) != 1)
        return -1;
    res = vta_q(
        c,
        "UPDATE companies SET"
        " name = coalesce($2, name),"
        " greeting = coalesce($3, greeting),"
        " voice = coalesce($4, voice),"
        " language = coalesce($5, language),"
        " escalation_phone = CASE WHEN $6::text IS NULL THEN escalation_phone"
        "                         ELSE nullif($6::text, '') END,"
        " notification_phone = CASE WHEN $7::text IS NULL THEN notification_phone"
        "                           ELSE nullif($7::text, '') END,"
        " recording = coalesce($8::boolean, recording),"
        " time_zone = coalesce($9, time_zone),"
        " keep_media = coalesce($10::boolean, keep_media),"
        " webhook_url = CASE WHEN $11::text IS NULL THEN webhook_url"
        "                    ELSE nullif($11::text, '') END,"
        " outbound_greeting = CASE WHEN $12::text IS NULL THEN outbound_greeting"
        "                          ELSE nullif($12::text, '') END,"
        " voicemail_message = CASE WHEN $13::text IS NULL THEN voicemail_message"
        "                          ELSE nullif($13::text, '') END,"
        " monthly_minutes_limit = CASE WHEN $14::text IS NULL THEN monthly_minutes_limit"
        "                              ELSE nullif($14::text, '')::integer END,"
        " limit_message = CASE WHEN $15::text IS NULL THEN limit_message"
        "                      ELSE nullif($15::text, '') END,"
        " updated_at = now()"
        " WHERE slug = $1",
        15, params);

    if (!vta_res_ok(res)) {
        vta_db_fail(c, res, "cannot update the company");
        return -1;
    }
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    return n;
}

static int company_add(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *params[2];
    company_opts_t o;
    PGresult *res;
    int rc;

    if ((rc = parse_opts(argc, argv, "add", &slug, &o)) != VTA_OK)
        return rc;
    if (!o.name)
        return vta_usage_err("company add needs --name NAME");
    if (vta_check_slug(slug) != VTA_OK || check_opts(&o, 0) != VTA_OK
        || check_webhook_url(c, &o.webhook_url) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK || vta_begin(c) != VTA_OK)
        return VTA_FAIL;

    params[0] = slug;
    params[1] = o.name;
    res = vta_q(c, "INSERT INTO companies (slug, name) VALUES ($1, $2) RETURNING id", 2, params);
    if (!vta_res_ok(res)) {
        if (strcmp(vta_sqlstate(res), "23505") == 0) {
            PQclear(res);
            vta_rollback(c);
            return vta_err("a company with slug '%s' already exists", slug);
        }
        vta_db_fail(c, res, "cannot add the company");
        vta_rollback(c);
        return VTA_FAIL;
    }
    PQclear(res);
    if (apply_opts(c, slug, &o) != 1 || vta_commit(c) != VTA_OK) {
        vta_rollback(c);
        return VTA_FAIL;
    }
    printf("company %s added\n", slug);
    return VTA_OK;
}

static int company_set(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug;
    company_opts_t o;
    int rc, n;

    if ((rc = parse_opts(argc, argv, "set", &slug, &o)) != VTA_OK)
        return rc;
    if (!o.name && !o.greeting && !o.voice && !o.language && !o.escalation && !o.notification
        && !o.recording && !o.time_zone && !o.keep_media && !o.webhook_url
        && !o.outbound_greeting && !o.voicemail && !o.minutes && !o.limit_message)
        return vta_usage_err("company set needs at least one option to change");
    if (vta_check_slug(slug) != VTA_OK || check_opts(&o, 1) != VTA_OK
        || check_webhook_url(c, &o.webhook_url) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    n = apply_opts(c, slug, &o);
    if (n < 0)
        return VTA_FAIL;
    if (n == 0)
        return vta_err("no company with slug '%s'", slug);
    printf("company %s updated\n", slug);
    return VTA_OK;
}

static int company_enable(vta_ctx_t *c, int argc, char **argv, int enable)
{
    const char *verb = enable ? "enable" : "disable";
    const char *params[2];
    PGresult *res;
    int n;

    if (argc != 2 || argv[1][0] == '-')
        return vta_usage_err("usage: company %s SLUG", verb);
    if (vta_check_slug(argv[1]) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    params[0] = argv[1];
    params[1] = enable ? "true" : "false";
    res = vta_q(c,
                "UPDATE companies SET enabled = $2::boolean, updated_at = now()"
                " WHERE slug = $1",
                2, params);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot update the company");
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0)
        return vta_err("no company with slug '%s'", argv[1]);
    printf("company %s %sd\n", argv[1], verb);
    return VTA_OK;
}

static int company_list(vta_ctx_t *c, int argc, char **argv)
{
    vta_table_t *t;
    PGresult *res;
    int i;

    if (argc != 1)
        return vta_usage_err("company list takes no arguments");
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    res = vta_q(c,
                "SELECT c.slug, c.name, CASE WHEN c.enabled THEN 'yes' ELSE 'no' END,"
                " count(n.number)"
                " FROM companies c"
                " LEFT JOIN client_integrations ci ON ci.company_id = c.id"
                " LEFT JOIN integration_numbers n ON n.integration_id = ci.id"
                " GROUP BY c.id ORDER BY c.slug",
                0, NULL);
    if (!vta_res_ok(res))
        return vta_db_fail(c, res, "cannot list the companies");
    t = vta_table_make(c->pool, 4, "SLUG", "NAME", "ENABLED", "NUMBERS");
    for (i = 0; i < PQntuples(res); i++)
        vta_table_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                      PQgetvalue(res, i, 3));
    PQclear(res);
    vta_table_print(t, stdout);
    return VTA_OK;
}

int vta_cmd_company(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("company needs a sub-command: add, set, list, enable or disable");
    argc--;
    argv++;
    if (strcmp(argv[0], "add") == 0)
        return company_add(c, argc, argv);
    if (strcmp(argv[0], "set") == 0)
        return company_set(c, argc, argv);
    if (strcmp(argv[0], "list") == 0)
        return company_list(c, argc, argv);
    if (strcmp(argv[0], "enable") == 0)
        return company_enable(c, argc, argv, 1);
    if (strcmp(argv[0], "disable") == 0)
        return company_enable(c, argc, argv, 0);
    return vta_usage_err("unknown company sub-command '%s'", argv[0]);
}
