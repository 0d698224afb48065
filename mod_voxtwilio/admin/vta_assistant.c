/* vta_assistant — `assistant import SLUG FILE.json` and `assistant show SLUG`. The document
 * is validated by the core's vt_script_parse (the same code the module runs) and stored in
 * its normalized form, so what `show` prints is what the gateway uses. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vta_assistant.h"
#include "vt_assistant.h"

/* Far above any valid script (200 intents x 50 phrases x 1000 characters is ~40 MB only in
 * theory); a bound so that a wrong FILE (a disk image...) fails fast. */
#define VTA_SCRIPT_FILE_MAX (16L * 1024 * 1024)

/* Reads the whole file into p. Returns NULL after printing "FILE: ..." on error. */
static const char *read_file(apr_pool_t *p, const char *path, apr_size_t *len)
{
    FILE *f = fopen(path, "rb");
    apr_size_t cap = 64 * 1024, n = 0;
    const char *problem = NULL;
    char *buf, *out = NULL;

    if (!f) {
        vta_err("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    buf = malloc(cap);
    while (buf && !problem) {
        char *bigger;

        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f))
            problem = strerror(errno);
        else if (n < cap)
            break;
        else if (cap >= (apr_size_t)VTA_SCRIPT_FILE_MAX)
            problem = "larger than 16 MiB, not a script document";
        else if (!(bigger = realloc(buf, cap * 2)))
            problem = "out of memory";
        else {
            buf = bigger;
            cap *= 2;
        }
    }
    if (!buf)
        problem = "out of memory";
    if (!problem) {
        out = apr_pstrmemdup(p, buf, n);
        *len = n;
    }
    free(buf);
    fclose(f);
    if (problem)
        vta_err("%s: cannot read: %s", path, problem);
    return out;
}

static int assistant_import(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *file, *json, *err, *params[2];
    apr_size_t len;
    vt_script_t *script;
    PGresult *res;
    int n;

    if (argc != 3 || argv[1][0] == '-' || argv[2][0] == '-')
        return vta_usage_err("usage: assistant import SLUG FILE.json");
    slug = argv[1];
    file = argv[2];
    if (vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (!(json = read_file(c->pool, file, &len)))
        return VTA_FAIL;
    if (vt_script_parse(c->pool, json, len, &script, &err) != APR_SUCCESS)
        return vta_err("%s: %s", file, err);

    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    /* One statement: the script is replaced entirely or not at all. */
    params[0] = slug;
    params[1] = vt_script_to_json(c->pool, script);
    res = vta_q(c,
                "UPDATE companies SET assistant_script = $2::jsonb, updated_at = now()"
                " WHERE slug = $1",
                2, params);
    if (!vta_res_ok(res)) {
        /* 42703: the column of migration 002 is missing. */
        if (strcmp(vta_sqlstate(res), "42703") == 0) {
            PQclear(res);
            return vta_err("cannot store the script: the schema is out of date "
                           "(run '" VTA_PROG " migrate')");
        }
        return vta_db_fail(c, res, "cannot store the script");
    }
    n = atoi(PQcmdTuples(res));
    PQclear(res);
    if (n == 0)
        return vta_err("no company with slug '%s'", slug);
    n = vt_script_intent_count(script);
    printf("assistant script of %s imported: %d intent%s (plus the built-in human and "
           "goodbye)\n", slug, n, n == 1 ? "" : "s");
    return VTA_OK;
}

static int assistant_show(vta_ctx_t *c, int argc, char **argv)
{
    const char *slug, *err, *params[1];
    vt_script_t *script;
    PGresult *res;

    if (argc != 2 || argv[1][0] == '-')
        return vta_usage_err("usage: assistant show SLUG");
    slug = argv[1];
    if (vta_check_slug(slug) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;
    params[0] = slug;
    res = vta_q(c, "SELECT assistant_script::text FROM companies WHERE slug = $1", 1, params);
    if (!vta_res_ok(res)) {
        if (strcmp(vta_sqlstate(res), "42703") == 0) {
            PQclear(res);
            return vta_err("cannot read the script: the schema is out of date "
                           "(run '" VTA_PROG " migrate')");
        }
        return vta_db_fail(c, res, "cannot read the script");
    }
    if (PQntuples(res) != 1) {
        PQclear(res);
        return vta_err("no company with slug '%s'", slug);
    }
    if (PQgetisnull(res, 0, 0)) {
        PQclear(res);
        fputs("(no script: built-in intents only)\n", stdout);
        fputs(vt_script_to_json(c->pool, vt_script_default(c->pool)), stdout);
        return VTA_OK;
    }
    /* Parsed again rather than printed as stored: jsonb reorders keys, and a row edited by
     * hand could hold something the gateway would refuse. */
    if (vt_script_parse(c->pool, PQgetvalue(res, 0, 0), (apr_size_t)PQgetlength(res, 0, 0),
                        &script, &err) != APR_SUCCESS) {
        PQclear(res);
        return vta_err("the stored script of '%s' is invalid: %s (import a corrected file)",
                       slug, err);
    }
    PQclear(res);
    fputs(vt_script_to_json(c->pool, script), stdout);
    return VTA_OK;
}

int vta_cmd_assistant(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("assistant needs a sub-command: import or show");
    argc--;
    argv++;
    if (strcmp(argv[0], "import") == 0)
        return assistant_import(c, argc, argv);
    if (strcmp(argv[0], "show") == 0)
        return assistant_show(c, argc, argv);
    return vta_usage_err("unknown assistant sub-command '%s'", argv[0]);
}
