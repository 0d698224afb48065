/* vta_keys — `keys generate` and `keys rotate`. */
#include <string.h>

#include <apr_strings.h>

#include "vta.h"
#include "vt_crypto.h"
#include "vt_keyring.h"

static int check_key_id(const char *id)
{
    if (id && !vt_key_id_valid(id))
        return vta_err("'%s' is not a valid key id (1 to %d of A-Z a-z 0-9 _ . -)", id,
                       VT_KEY_ID_MAX);
    return VTA_OK;
}

static int keys_generate(vta_ctx_t *c, int argc, char **argv)
{
    const char *path = NULL, *id = NULL, *err = NULL;
    vt_key_t key;
    apr_status_t rv;
    int i, m;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--id", &id)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return vta_usage_err("unknown option '%s' for keys generate", vta_arg_for_msg(argv[i]));
        else if (path)
            return vta_usage_err("keys generate takes one FILE");
        else
            path = argv[i];
    }
    if (!path)
        path = c->key_file;
    if (!path || !*path)
        return vta_usage_err("keys generate needs a FILE (or --key-file)");
    if (check_key_id(id) != VTA_OK)
        return VTA_FAIL;

    memset(&key, 0, sizeof key);
    rv = vt_key_generate(c->pool, id, &key);
    if (rv != APR_SUCCESS) {
        vt_memzero(&key, sizeof key);
        return vta_err("cannot generate a key (random generator failure)");
    }
    rv = vt_keyfile_create(c->pool, path, &key, &err);
    vt_memzero(key.key, sizeof key.key);
    if (rv != APR_SUCCESS) {
        char buf[256];
        if (err)
            return vta_err("%s", err);
        if (APR_STATUS_IS_EEXIST(rv))
            return vta_err("%s already exists; refusing to overwrite it", path);
        return vta_err("cannot create the key file %s: %s", path,
                       apr_strerror(rv, buf, sizeof buf));
    }
    printf("%s\n", key.id);
    return VTA_OK;
}

/* The ring that encrypts under the new key: the new key first, then the old ones.
 * Its key material is wiped with the pool. */
static vt_keyring_t *ring_with(apr_pool_t *p, const vt_keyring_t *old, const vt_key_t *key)
{
    vt_keyring_t *r = apr_pcalloc(p, sizeof *r);
    int i;

    r->path = old->path;
    r->keys = apr_array_make(p, old->keys->nelts + 1, sizeof(vt_key_t));
    vt_wipe_on_cleanup(p, r->keys->elts, (apr_size_t)r->keys->nalloc * sizeof(vt_key_t));
    APR_ARRAY_PUSH(r->keys, vt_key_t) = *key;
    for (i = 0; i < old->keys->nelts; i++)
        APR_ARRAY_PUSH(r->keys, vt_key_t) = APR_ARRAY_IDX(old->keys, i, vt_key_t);
    return r;
}

/* A sealed column: its rows (id, slug, tenant id, key id, blob hex), locked, and how one
 * is written back ($1 id, $2 blob hex, $3 key id). */
typedef struct sealed_column {
    const char *what;   /* "auth token" */
    const char *owner;  /* "integration" */
    const char *select_sql;
    const char *update_sql;
} sealed_column_t;

static const sealed_column_t sealed_tokens = {
    "auth token", "integration",
    "SELECT ci.id, c.slug, ci.company_id, ci.key_id, encode(ci.auth_token_enc, 'hex')"
    " FROM client_integrations ci JOIN companies c ON c.id = ci.company_id"
    " ORDER BY ci.id FOR UPDATE OF ci",
    "UPDATE client_integrations SET auth_token_enc = decode($2, 'hex'),"
    " key_id = $3, updated_at = now() WHERE id = $1::bigint"
};

static const sealed_column_t sealed_llm_keys = {
    "model API key", "company",
    "SELECT c.id, c.slug, c.id, c.llm_key_id, encode(c.llm_api_key_enc, 'hex')"
    " FROM companies c WHERE c.llm_api_key_enc IS NOT NULL ORDER BY c.id FOR UPDATE",
    "UPDATE companies SET llm_api_key_enc = decode($2, 'hex'),"
    " llm_key_id = $3, updated_at = now() WHERE id = $1::bigint"
};

static const sealed_column_t sealed_realtime_keys = {
    "realtime API key", "company",
    "SELECT c.id, c.slug, c.id, c.realtime_key_id, encode(c.realtime_key_enc, 'hex')"
    " FROM companies c WHERE c.realtime_key_enc IS NOT NULL ORDER BY c.id FOR UPDATE",
    "UPDATE companies SET realtime_key_enc = decode($2, 'hex'),"
    " realtime_key_id = $3, updated_at = now() WHERE id = $1::bigint"
};

static const sealed_column_t sealed_stt_keys = {
    "speech-to-text API key", "company",
    "SELECT c.id, c.slug, c.id, c.stt_key_id, encode(c.stt_key_enc, 'hex')"
    " FROM companies c WHERE c.stt_key_enc IS NOT NULL ORDER BY c.id FOR UPDATE",
    "UPDATE companies SET stt_key_enc = decode($2, 'hex'),"
    " stt_key_id = $3, updated_at = now() WHERE id = $1::bigint"
};

static const sealed_column_t sealed_tts_keys = {
    "text-to-speech API key", "company",
    "SELECT c.id, c.slug, c.id, c.tts_key_id, encode(c.tts_key_enc, 'hex')"
    " FROM companies c WHERE c.tts_key_enc IS NOT NULL ORDER BY c.id FOR UPDATE",
    "UPDATE companies SET tts_key_enc = decode($2, 'hex'),"
    " tts_key_id = $3, updated_at = now() WHERE id = $1::bigint"
};

/* Re-encrypts every secret of one column under ring's active key, inside the caller's
 * transaction. A row whose key is missing or that does not decrypt is left as it is and
 * counted in *skipped. */
static int reencrypt(vta_ctx_t *c, const sealed_column_t *col, const vt_keyring_t *old,
                     const vt_keyring_t *ring, int *done, int *skipped)
{
    PGresult *rows = vta_q(c, col->select_sql, 0, NULL);
    apr_pool_t *rowpool;
    const char *err;
    int i, n, rc = VTA_OK;

    if (!vta_res_ok(rows))
        return vta_db_fail(c, rows, apr_psprintf(c->pool, "cannot read the %ss", col->owner));
    n = PQntuples(rows);
    apr_pool_create(&rowpool, c->pool);
    for (i = 0; i < n && rc == VTA_OK; i++) {
        const char *id = PQgetvalue(rows, i, 0), *slug = PQgetvalue(rows, i, 1);
        const char *cid = PQgetvalue(rows, i, 2), *kid = PQgetvalue(rows, i, 3);
        const char *hex = PQgetvalue(rows, i, 4);
        const char *pt = NULL, *new_kid = NULL, *new_hex = NULL;
        const char *params[3];

        apr_pool_clear(rowpool); /* wipes the previous plaintext */
        if (!vt_keyring_find(old, kid)) {
            vta_err("%s %s (%s): key %s is not in the key file; left unchanged", col->owner,
                    id, slug, kid);
            (*skipped)++;
            continue;
        }
        err = NULL;
        if (vt_secret_decrypt(rowpool, old, cid, kid, hex, &pt, &err) != APR_SUCCESS) {
            vta_err("%s %s (%s): cannot decrypt the %s with key %s: %s; left unchanged",
                    col->owner, id, slug, col->what, kid, err ? err : "unknown error");
            (*skipped)++;
            continue;
        }
        err = NULL;
        if (vt_secret_encrypt(rowpool, ring, cid, pt, &new_kid, &new_hex, &err) != APR_SUCCESS) {
            rc = vta_err("%s %s (%s): cannot encrypt the %s: %s", col->owner, id, slug,
                         col->what, err ? err : "unknown error");
            break;
        }
        params[0] = id;
        params[1] = new_hex;
        params[2] = new_kid;
        rc = vta_exec_ok(c, col->update_sql, 3, params,
                         apr_psprintf(c->pool, "cannot update the %s", col->owner));
        if (rc == VTA_OK)
            (*done)++;
    }
    apr_pool_destroy(rowpool);
    PQclear(rows);
    return rc;
}

static int keys_rotate(vta_ctx_t *c, int argc, char **argv)
{
    const char *id = NULL, *err = NULL;
    vt_keyring_t *old = NULL, *ring, *reloaded = NULL;
    const vt_key_t *active;
    vt_key_t key;
    int i, m, done = 0, done_llm = 0, done_rt = 0, done_speech = 0, skipped = 0;

    for (i = 1; i < argc; i++) {
        if ((m = vta_opt(argc, argv, &i, "--id", &id)) != 0) {
            if (m < 0)
                return VTA_USAGE;
        }
        else
            return vta_usage_err("unexpected argument '%s' for keys rotate",
                                 vta_arg_for_msg(argv[i]));
    }
    if (check_key_id(id) != VTA_OK)
        return VTA_FAIL;
    if (vta_load_keyring(c, &old) != VTA_OK)
        return VTA_FAIL;
    if (vta_db_connect(c) != VTA_OK)
        return VTA_FAIL;

    memset(&key, 0, sizeof key);
    if (vt_key_generate(c->pool, id, &key) != APR_SUCCESS)
        return vta_err("cannot generate a key (random generator failure)");
    if (vt_keyring_find(old, key.id)) {
        vt_memzero(key.key, sizeof key.key);
        return vta_err("key id %s is already in the key file%s", key.id,
                       id ? "" : " (wait a second and try again)");
    }
    ring = ring_with(c->pool, old, &key);
    vt_memzero(key.key, sizeof key.key);
    active = vt_keyring_active(ring);

    if (vta_begin(c) != VTA_OK)
        return VTA_FAIL;
    if (reencrypt(c, &sealed_tokens, old, ring, &done, &skipped) != VTA_OK
        || reencrypt(c, &sealed_llm_keys, old, ring, &done_llm, &skipped) != VTA_OK
        || reencrypt(c, &sealed_realtime_keys, old, ring, &done_rt, &skipped) != VTA_OK
        || reencrypt(c, &sealed_stt_keys, old, ring, &done_speech, &skipped) != VTA_OK
        || reencrypt(c, &sealed_tts_keys, old, ring, &done_speech, &skipped) != VTA_OK)
        goto fail;

    /* The new key goes into the file before the re-encrypted rows become visible, so no
     * committed row is ever under a key the file lacks. */
    err = NULL;
    if (vt_keyfile_prepend(c->pool, c->key_file, active, &err) != APR_SUCCESS) {
        vta_err("cannot update the key file: %s; nothing was changed",
                err ? err : "unknown error");
        goto fail;
    }
    err = NULL;
    if (vt_keyring_load(c->pool, c->key_file, &reloaded, &err) != APR_SUCCESS || !reloaded
        || strcmp(vt_keyring_active(reloaded)->id, active->id) != 0
        || memcmp(vt_keyring_active(reloaded)->key, active->key, VT_AES_KEY_LEN) != 0) {
        vta_err("the key file %s does not read back with the new key %s active%s%s; "
                "no token was re-encrypted", c->key_file, active->id, err ? ": " : "",
                err ? err : "");
        goto fail;
    }
    if (vta_commit(c) != VTA_OK) {
        fprintf(stderr, VTA_PROG ": the key file already holds the new key %s (harmless: "
                "the old keys are kept); no token was re-encrypted\n", active->id);
        return VTA_FAIL;
    }

    printf("new active key: %s (key file %s now holds %d key(s))\n", active->id, c->key_file,
           reloaded->keys->nelts);
    printf("re-encrypted %d auth token(s) and %d model API key(s); %d left unchanged\n", done,
           done_llm, skipped);
    printf("re-encrypted %d realtime API key(s)\n", done_rt);
    printf("re-encrypted %d speech API key(s)\n", done_speech);
    printf("run 'apachectl graceful' so Apache loads the new key\n");
    return skipped ? VTA_FAIL : VTA_OK;

fail:
    vta_rollback(c);
    return VTA_FAIL;
}

int vta_cmd_keys(vta_ctx_t *c, int argc, char **argv)
{
    if (argc < 2)
        return vta_usage_err("keys needs a sub-command: generate or rotate");
    if (strcmp(argv[1], "generate") == 0)
        return keys_generate(c, argc - 1, argv + 1);
    if (strcmp(argv[1], "rotate") == 0)
        return keys_rotate(c, argc - 1, argv + 1);
    return vta_usage_err("unknown keys sub-command '%s'", argv[1]);
}
