/* vta — voxtwilio-admin internals: the context every verb receives, database helpers,
 * option parsing and output helpers shared by the verb files.
 *
 * Conventions: a verb returns VTA_OK, VTA_FAIL (bad input, database or network error;
 * a one-line "voxtwilio-admin: ..." message has already been written to stderr) or
 * VTA_USAGE (the command line itself is wrong). Every write happens inside a
 * transaction that is rolled back on any error, and all SQL is parameterized.
 * Nothing secret (auth token, key, ciphertext) is ever printed.
 */
#ifndef VTA_H
#define VTA_H

#include <stdio.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <libpq-fe.h>

typedef struct vta_migration {
    int version;
    const char *name;
    const char *sql;
} vta_migration_t;

/* Generated from the sql/ migrations by scripts/embed-sql.sh; ends with { 0, NULL, NULL }. */
extern const vta_migration_t vta_migrations[];

#define VTA_OK 0
#define VTA_FAIL 1
#define VTA_USAGE 2

#define VTA_PROG "voxtwilio-admin"
#define VTA_DEFAULT_API_BASE "https://api.twilio.com"
#define VTA_REST_TIMEOUT_MS 10000L
#define VTA_TOKEN_MAX 128

typedef struct vta_ctx {
    apr_pool_t *pool;
    const char *conninfo; /* --db; NULL: libpq's environment defaults */
    const char *key_file; /* --key-file or $VOXTWILIO_KEY_FILE; may be NULL */
    const char *api_base; /* as given; vt_base_url_normalize before use */
    PGconn *conn;         /* after vta_db_connect */
} vta_ctx_t;

/* ---- messages (vta_db.c) */
/* "voxtwilio-admin: <msg>\n" on stderr; returns VTA_FAIL. */
int vta_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, for usage errors ("... (see voxtwilio-admin --help)"); returns VTA_USAGE. */
int vta_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An argument as it may appear in an error message: an option's name without its
 * "=value", or a placeholder for a free argument, which could be a mistyped token. */
const char *vta_arg_for_msg(const char *arg);

/* ---- option parsing (vta_db.c)
 * Matches argv[*i] against "--name VALUE" or "--name=VALUE". Returns 1 on a match with
 * *val set (and *i advanced past the value), 0 when argv[*i] is another argument,
 * -1 when the value is missing or *val was already set, i.e. the option was given
 * twice (a usage error has been printed). Pass a fresh NULL for repeatable options. */
int vta_opt(int argc, char **argv, int *i, const char *name, const char **val);

/* A --limit of a list verb (NULL: none given): VTA_OK when 1..VTA_LIST_MAX_LIMIT, else
 * VTA_FAIL after saying so. The default is VTA_LIST_DEFAULT_LIMIT. */
#define VTA_LIST_DEFAULT_LIMIT "50"
#define VTA_LIST_MAX_LIMIT 100000L
int vta_check_limit(const char *limit);

/* "VERB SLUG [--NAME VALUE]...": the one positional argument into *slug, and the value of
 * each option names[i] (n of them) into vals[i] (NULL when not given). VTA_OK, or
 * VTA_USAGE after a usage error (`usage` when the slug is missing). */
int vta_slug_opts(int argc, char **argv, const char *verb, const char *usage,
                  const char *const *names, const char **vals, int n, const char **slug);

/* ---- database (vta_db.c) */
int vta_db_connect(vta_ctx_t *c);
void vta_db_close(vta_ctx_t *c);
/* PQexecParams with text parameters and text results. */
PGresult *vta_q(vta_ctx_t *c, const char *sql, int nparams, const char *const *params);
/* 1 when res is PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
int vta_res_ok(const PGresult *res);
/* SQLSTATE and constraint name of a failed result ("" when absent). */
const char *vta_sqlstate(const PGresult *res);
const char *vta_constraint(const PGresult *res);
/* Report a failed result as "<what>: <first line of the server message>" (with a hint
 * to run migrate when the schema is missing); clears res; returns VTA_FAIL. */
int vta_db_fail(vta_ctx_t *c, PGresult *res, const char *what);
/* Run a command that must succeed; on failure reports it and returns VTA_FAIL. */
int vta_exec_ok(vta_ctx_t *c, const char *sql, int nparams, const char *const *params,
                const char *what);
int vta_begin(vta_ctx_t *c);
int vta_commit(vta_ctx_t *c);
void vta_rollback(vta_ctx_t *c);
/* Looks up a company by slug. Returns VTA_OK with *id (decimal text, in c->pool),
 * VTA_FAIL after printing "no company with slug '...'" or a database error. */
int vta_company_id(vta_ctx_t *c, const char *slug, const char **id);
/* Queues a job of the company (INSERT INTO jobs) with payload (consumed) and prints
 * "queued as job N (voxtwilio-helper WHAT)". VTA_OK, or VTA_FAIL after a database error. */
struct json_object;
int vta_queue_job(vta_ctx_t *c, const char *kind, const char *company_id,
                  struct json_object *payload, const char *what);
/* 1 when s has a control character (a text stored for the assistant to speak must not). */
int vta_has_control(const char *s);
/* Validate a slug given on the command line (prints the error). */
int vta_check_slug(const char *slug);

/* The whole of a file ("-": standard input) into p, NUL-terminated, at most max bytes.
 * Returns NULL after printing "FILE: cannot ...". */
const char *vta_read_file(apr_pool_t *p, const char *path, long max, apr_size_t *len);

/* ---- output (vta_db.c) */
typedef struct vta_table vta_table_t;
vta_table_t *vta_table_make(apr_pool_t *p, int ncols, ...); /* the header names */
void vta_table_row(vta_table_t *t, ...);                     /* ncols strings */
void vta_table_print(vta_table_t *t, FILE *out);

/* ---- verbs */
int vta_cmd_migrate(vta_ctx_t *c, int argc, char **argv);
int vta_cmd_keys(vta_ctx_t *c, int argc, char **argv);
int vta_cmd_company(vta_ctx_t *c, int argc, char **argv);
int vta_cmd_integration(vta_ctx_t *c, int argc, char **argv);
/* messages send|list, customers list|show (vta_messages.c) */
int vta_cmd_messages(vta_ctx_t *c, int argc, char **argv);
int vta_cmd_customers(vta_ctx_t *c, int argc, char **argv);
/* usage SLUG [--month YYYY-MM] (vta_usage.c) */
int vta_cmd_usage(vta_ctx_t *c, int argc, char **argv);

/* Loads c->key_file into *ring (prints the error). */
struct vt_keyring;
/* Reads a secret ("auth token", "API key") of at most max printable ASCII characters from
 * file (NULL or "-": standard input; a terminal is prompted "PROMPT for SLUG: " without
 * echo). The error messages name the source, never the value. (vta_secret.c) */
int vta_read_secret(vta_ctx_t *c, const char *file, const char *what, const char *prompt,
                    const char *slug, apr_size_t max, const char **out);
int vta_load_keyring(vta_ctx_t *c, struct vt_keyring **ring);

#endif
