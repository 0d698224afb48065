/* vta_company — `company add|set|list|enable|disable`. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vt_util.h"

typedef struct company_opts {
    const char *name, *greeting, *voice, *language, *escalation, *notification, *recording;
    const char *time_zone, *keep_media;
} company_opts_t;


static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

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
            || (m = vta_opt(argc, argv, &i, "--keep-media", &o->keep_media)) != 0) {
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

/* allow_clear: "" removes an optional phone number (company set). */
static int check_opts(const company_opts_t *o, int allow_clear)
{
    if (o->name && (!*o->name || vt_utf8_chars(o->name) > 200 || has_control(o->name)))
        return vta_err("--name must be 1 to 200 characters without control characters");
    if (o->greeting
        && (!*o->greeting || vt_utf8_chars(o->greeting) > 3000 || has_control(o->greeting)))
        return vta_err("--greeting must be 1 to 3000 characters without control characters");
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
    const char *params[10] = { slug, o->name, o->greeting, o->voice, o->language,
                               o->escalation, o->notification, rec, o->time_zone, keep };
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
        " updated_at = now()"
        " WHERE slug = $1",
        10, params);

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
    if (vta_check_slug(slug) != VTA_OK || check_opts(&o, 0) != VTA_OK)
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
        && !o.recording && !o.time_zone && !o.keep_media)
        return vta_usage_err("company set needs at least one option to change");
    if (vta_check_slug(slug) != VTA_OK || check_opts(&o, 1) != VTA_OK)
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
