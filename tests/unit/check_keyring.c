/* vt_keyring: key-file parsing, permission refusal, file creation and rotation, and
 * tenant-credential encryption. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "vt_keyring.h"
#include "vt_suites.h"

#define HEX_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_B "ffeeddccbbaa99887766554433221100FFEEDDCCBBAA99887766554433221100"

/* One temporary directory per test case, made and removed in the parent process
 * (unchecked fixture) so it is cleaned up even when a forked test fails. */
static char tmpdir[64];

static void tmpdir_setup(void)
{
    strcpy(tmpdir, "/tmp/vt-check-keyring.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmpdir_teardown(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(tmpdir);
}

static const char *tmp_path(const char *name)
{
    return apr_pstrcat(vt_test_pool, tmpdir, "/", name, NULL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(chmod(path, mode), 0); /* exact mode, whatever the umask */
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = apr_pcalloc(vt_test_pool, 8192);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_lt(fread(buf, 1, 8191, f), 8191);
    fclose(f);
    return buf;
}

static unsigned file_mode(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

/* Number of entries in tmpdir whose name starts with prefix (catches leftover temp files). */
static int tmpdir_entries(const char *prefix)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static void key_from_hex(vt_key_t *k, const char *id, const char *hex)
{
    memset(k, 0, sizeof *k);
    strcpy(k->id, id);
    for (int i = 0; i < VT_AES_KEY_LEN; i++) {
        unsigned int b;
        ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &b), 1);
        k->key[i] = (unsigned char)b;
    }
}

static vt_keyring_t *parse_ok(const char *text)
{
    vt_keyring_t *ring = NULL;
    const char *err = NULL;
    apr_status_t rv = vt_keyring_parse(vt_test_pool, text, strlen(text), &ring, &err);
    ck_assert_msg(rv == APR_SUCCESS, "parse failed: %s", err ? err : "(no message)");
    ck_assert_ptr_nonnull(ring);
    return ring;
}

/* ------------------------------------------------------------------ parsing */

START_TEST(test_key_id_valid)
{
    ck_assert(vt_key_id_valid("k1"));
    ck_assert(vt_key_id_valid("k20240101120000"));
    ck_assert(vt_key_id_valid("A.b_c-9"));
    ck_assert(vt_key_id_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
    ck_assert(!vt_key_id_valid("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
    ck_assert(!vt_key_id_valid(""));
    ck_assert(!vt_key_id_valid(NULL));
    ck_assert(!vt_key_id_valid("a b"));
    ck_assert(!vt_key_id_valid("a:b"));
    ck_assert(!vt_key_id_valid("a/b"));
    ck_assert(!vt_key_id_valid("k\xc3\xa9"));
}
END_TEST

START_TEST(test_parse_good)
{
    static const char text[] = "# voxtwilio credential keys\n"
                               "\n"
                               "k2:" HEX_B "\r\n"
                               "   # indented comment\n"
                               "\t\n"
                               "k1:" HEX_A "  \n"
                               "# trailing comment";
    vt_keyring_t *ring = parse_ok(text);
    vt_key_t a, b;

    key_from_hex(&a, "k1", HEX_A);
    key_from_hex(&b, "k2", HEX_B);
    ck_assert_int_eq(ring->keys->nelts, 2);
    ck_assert_str_eq(vt_keyring_active(ring)->id, "k2");
    ck_assert(memcmp(vt_keyring_active(ring)->key, b.key, VT_AES_KEY_LEN) == 0);
    ck_assert_ptr_nonnull(vt_keyring_find(ring, "k1"));
    ck_assert(memcmp(vt_keyring_find(ring, "k1")->key, a.key, VT_AES_KEY_LEN) == 0);
    ck_assert_ptr_null(vt_keyring_find(ring, "k3"));
    ck_assert_ptr_null(vt_keyring_find(ring, NULL));

    /* No trailing newline, single key. */
    ring = parse_ok("only:" HEX_A);
    ck_assert_int_eq(ring->keys->nelts, 1);
    ck_assert_str_eq(vt_keyring_active(ring)->id, "only");

    /* Only comments: parses, but holds no key (vt_keyring_load refuses that). */
    ring = parse_ok("# nothing here\n\n");
    ck_assert_int_eq(ring->keys->nelts, 0);
    ck_assert_ptr_null(vt_keyring_active(ring));
    {
        const char *err;
        ck_assert_int_eq(vt_keyring_parse(vt_test_pool, NULL, 0, &ring, &err), APR_SUCCESS);
        ck_assert_int_eq(ring->keys->nelts, 0);
    }
}
END_TEST

typedef struct {
    const char *text;
    const char *want; /* substring of the error */
} bad_case;

static const bad_case bad_cases[] = {
    {"# c\nk1:" HEX_A "\nk2:0011\n", "line 3: key must be 64 hex digits"},
    {"k1:" HEX_A "0\n", "line 1: key must be 64 hex digits"},
    {"k1:" "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
     "line 1: key must be 64 hex digits"},
    {"k1:\n", "line 1: key must be 64 hex digits"},
    {"\n\nk 1:" HEX_A "\n", "line 3: key id must be"},
    {"k1/x:" HEX_A "\n", "line 1: key id must be"},
    {":" HEX_A "\n", "line 1: key id must be"},
    {"abcdefghijklmnopqrstuvwxyz0123456:" HEX_A "\n", "line 1: key id must be"},
    {"k1:" HEX_A "\n" HEX_B "\n", "line 2: expected KEYID:<64 hex digits>"},
    {"k1 " HEX_A "\n", "line 1: expected KEYID:<64 hex digits>"},
    {"k1:" HEX_A "\n#\nk1:" HEX_B "\n", "line 3: duplicate key id 'k1'"},
    {"k1:" HEX_A " :x\n", "line 1: key must be 64 hex digits"},
};

START_TEST(test_parse_bad)
{
    const bad_case *c = &bad_cases[_i];
    vt_keyring_t *ring = (vt_keyring_t *)1;
    const char *err = NULL;

    ck_assert_int_eq(vt_keyring_parse(vt_test_pool, c->text, strlen(c->text), &ring, &err),
                     APR_EINVAL);
    ck_assert_ptr_null(ring);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, c->want) != NULL, "case %d: got \"%s\", want \"%s\"", _i, err,
                  c->want);
    /* Never echo key material. */
    ck_assert_ptr_null(strstr(err, "0001020304"));
    ck_assert_ptr_null(strstr(err, "ffeeddcc"));
}
END_TEST

/* Key material lives in memory the pool wipes (observed after the wipe, before free). */
typedef struct {
    vt_keyring_t **ring;
    int checked, all_zero;
} ring_observer;

static apr_status_t observe_ring(void *data)
{
    ring_observer *o = data;
    const unsigned char *m = (const unsigned char *)(*o->ring)->keys->elts;
    apr_size_t n = (apr_size_t)(*o->ring)->keys->nelts * sizeof(vt_key_t);
    o->checked = 1;
    o->all_zero = 1;
    for (apr_size_t i = 0; i < n; i++)
        if (m[i] != 0)
            o->all_zero = 0;
    return APR_SUCCESS;
}

START_TEST(test_ring_wiped_with_pool)
{
    static const char text[] = "k1:" HEX_B "\nk2:" HEX_B "\n";
    apr_pool_t *sub;
    vt_keyring_t *ring = NULL;
    const char *err;
    ring_observer o = {&ring, 0, 0};

    apr_pool_create(&sub, vt_test_pool);
    apr_pool_cleanup_register(sub, &o, observe_ring, apr_pool_cleanup_null);
    ck_assert_int_eq(vt_keyring_parse(sub, text, strlen(text), &ring, &err), APR_SUCCESS);
    ck_assert_int_eq(ring->keys->nelts, 2);
    apr_pool_destroy(sub);
    ck_assert(o.checked);
    ck_assert(o.all_zero);
}
END_TEST

/* ------------------------------------------------------------------ files */

START_TEST(test_load_permissions)
{
    static const char text[] = "# keys\nk1:" HEX_A "\n";
    const char *path = tmp_path("perm.keys");
    vt_keyring_t *ring;
    const char *err;
    apr_status_t rv;
    static const mode_t refused[] = {0640, 0644, 0604, 0660, 0620, 0602, 0610, 0601, 0700 | 04};
    char want[600];

    write_file(path, text, 0640);
    rv = vt_keyring_load(vt_test_pool, path, &ring, &err);
    ck_assert_int_eq(rv, APR_EACCES);
    ck_assert_ptr_null(ring);
    snprintf(want, sizeof want, "%s is readable by group or others (mode 0640); run chmod 600 %s",
             path, path);
    ck_assert_str_eq(err, want);

    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char octal[16];
        ck_assert_int_eq(chmod(path, refused[i]), 0);
        ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_EACCES);
        snprintf(octal, sizeof octal, "(mode %04o)", (unsigned)refused[i]);
        ck_assert_msg(strstr(err, octal) != NULL, "%s lacks %s", err, octal);
        ck_assert_ptr_nonnull(strstr(err, path));
    }

    ck_assert_int_eq(chmod(path, 0600), 0);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_SUCCESS);
    ck_assert_int_eq(ring->keys->nelts, 1);
    ck_assert_str_eq(ring->path, path);

    ck_assert_int_eq(chmod(path, 0400), 0);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_SUCCESS);
    ck_assert_str_eq(vt_keyring_active(ring)->id, "k1");
}
END_TEST

START_TEST(test_load_errors)
{
    const char *missing = tmp_path("missing.keys");
    const char *empty = tmp_path("empty.keys");
    const char *bad = tmp_path("bad.keys");
    vt_keyring_t *ring;
    const char *err;
    apr_status_t rv;

    rv = vt_keyring_load(vt_test_pool, missing, &ring, &err);
    ck_assert(APR_STATUS_IS_ENOENT(rv));
    ck_assert_ptr_null(ring);
    ck_assert_str_eq(err, apr_pstrcat(vt_test_pool, "cannot open ", missing,
                                      ": No such file or directory", NULL));

    write_file(empty, "# no keys yet\n\n", 0600);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, empty, &ring, &err), APR_EINVAL);
    ck_assert_ptr_null(ring);
    ck_assert_ptr_nonnull(strstr(err, empty));
    ck_assert_ptr_nonnull(strstr(err, "no key"));

    write_file(empty, "", 0600);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, empty, &ring, &err), APR_EINVAL);

    write_file(bad, "k1:" HEX_A "\n\nk2:" HEX_B "\nk3:abc\n", 0600);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, bad, &ring, &err), APR_EINVAL);
    ck_assert_ptr_null(ring);
    ck_assert_ptr_nonnull(strstr(err, bad));
    ck_assert_ptr_nonnull(strstr(err, "line 4: key must be 64 hex digits"));

    /* A directory is not a key file, nor is a FIFO (which must not block the load). */
    ck_assert_int_ne(vt_keyring_load(vt_test_pool, tmpdir, &ring, &err), APR_SUCCESS);
    ck_assert_ptr_null(ring);
    ck_assert_int_eq(mkfifo(tmp_path("fifo.keys"), 0600), 0);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, tmp_path("fifo.keys"), &ring, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(test_keyfile_create)
{
    const char *path = tmp_path("new.keys");
    vt_key_t k1, k2;
    vt_keyring_t *ring;
    const char *err;
    char *before;
    mode_t old = umask(0);

    ck_assert_int_eq(vt_key_generate(vt_test_pool, "k1", &k1), APR_SUCCESS);
    ck_assert_int_eq(vt_keyfile_create(vt_test_pool, path, &k1, &err), APR_SUCCESS);
    umask(old);
    ck_assert_uint_eq(file_mode(path), 0600);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_SUCCESS);
    ck_assert_int_eq(ring->keys->nelts, 1);
    ck_assert_str_eq(vt_keyring_active(ring)->id, "k1");
    ck_assert(memcmp(vt_keyring_active(ring)->key, k1.key, VT_AES_KEY_LEN) == 0);

    /* Never overwrite, whatever the new key is. */
    before = read_text(path);
    ck_assert_int_eq(vt_key_generate(vt_test_pool, "k2", &k2), APR_SUCCESS);
    ck_assert_int_eq(vt_keyfile_create(vt_test_pool, path, &k2, &err), APR_EEXIST);
    ck_assert_ptr_nonnull(strstr(err, path));
    ck_assert_ptr_nonnull(strstr(err, "already exists"));
    ck_assert_str_eq(read_text(path), before);

    /* Nor write through a symlink. */
    ck_assert_int_eq(symlink(path, tmp_path("link.keys")), 0);
    ck_assert_int_ne(vt_keyfile_create(vt_test_pool, tmp_path("link.keys"), &k2, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(read_text(path), before);

    /* Invalid id: nothing is created. */
    strcpy(k2.id, "bad id");
    ck_assert_int_eq(vt_keyfile_create(vt_test_pool, tmp_path("x.keys"), &k2, &err),
                     APR_EINVAL);
    ck_assert_int_ne(access(tmp_path("x.keys"), F_OK), 0);
    /* Missing directory. */
    ck_assert_int_ne(vt_keyfile_create(vt_test_pool, tmp_path("nodir/y.keys"), &k1, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "cannot create"));
}
END_TEST

START_TEST(test_keyfile_prepend)
{
    const char *path = tmp_path("rot.keys");
    vt_key_t k1, k3;
    vt_keyring_t *ring;
    const char *err;
    char *text, *before;

    key_from_hex(&k1, "k1", HEX_A);
    write_file(path, "# managed by voxtwilio-admin\nk1:" HEX_A "\n# old key\nk0:" HEX_B, 0600);
    ck_assert_int_eq(vt_key_generate(vt_test_pool, "k3", &k3), APR_SUCCESS);
    ck_assert_int_eq(vt_keyfile_prepend(vt_test_pool, path, &k3, &err), APR_SUCCESS);
    ck_assert_uint_eq(file_mode(path), 0600);
    ck_assert_int_eq(tmpdir_entries("rot.keys"), 1); /* no temp file left behind */

    text = read_text(path);
    ck_assert_str_eq(text, apr_pstrcat(vt_test_pool, vt_key_format_line(vt_test_pool, &k3),
                                       "# managed by voxtwilio-admin\nk1:" HEX_A
                                       "\n# old key\nk0:" HEX_B "\n",
                                       NULL));
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_SUCCESS);
    ck_assert_int_eq(ring->keys->nelts, 3);
    ck_assert_str_eq(vt_keyring_active(ring)->id, "k3");
    ck_assert(memcmp(vt_keyring_active(ring)->key, k3.key, VT_AES_KEY_LEN) == 0);
    ck_assert(memcmp(vt_keyring_find(ring, "k1")->key, k1.key, VT_AES_KEY_LEN) == 0);
    ck_assert_ptr_nonnull(vt_keyring_find(ring, "k0"));

    /* A key id already in the file is refused and the file left alone. */
    before = read_text(path);
    ck_assert_int_eq(vt_keyfile_prepend(vt_test_pool, path, &k1, &err), APR_EEXIST);
    ck_assert_ptr_nonnull(strstr(err, "k1"));
    ck_assert_str_eq(read_text(path), before);

    /* The same permission check as loading. */
    ck_assert_int_eq(chmod(path, 0644), 0);
    ck_assert_int_eq(vt_key_generate(vt_test_pool, "k4", &k3), APR_SUCCESS);
    ck_assert_int_eq(vt_keyfile_prepend(vt_test_pool, path, &k3, &err), APR_EACCES);
    ck_assert_ptr_nonnull(strstr(err, "(mode 0644)"));
    ck_assert_str_eq(read_text(path), before);
    ck_assert_uint_eq(file_mode(path), 0644);
    ck_assert_int_eq(tmpdir_entries("rot.keys"), 1);

    /* A broken file is not extended. */
    ck_assert_int_eq(chmod(path, 0600), 0);
    write_file(path, "k1:" HEX_A "\nbroken\n", 0600);
    ck_assert_int_eq(vt_keyfile_prepend(vt_test_pool, path, &k3, &err), APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "line 2"));

    /* Missing file. */
    ck_assert_int_ne(vt_keyfile_prepend(vt_test_pool, tmp_path("none.keys"), &k3, &err),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(err, "cannot open"));
}
END_TEST

START_TEST(test_key_generate_and_format)
{
    vt_key_t a, b;
    char *line;

    ck_assert_int_eq(vt_key_generate(vt_test_pool, NULL, &a), APR_SUCCESS);
    ck_assert_uint_eq(strlen(a.id), 15);
    ck_assert_int_eq(a.id[0], 'k');
    for (int i = 1; i < 15; i++)
        ck_assert_msg(a.id[i] >= '0' && a.id[i] <= '9', "id %s", a.id);
    ck_assert_int_eq(strncmp(a.id + 1, "20", 2), 0);
    ck_assert(vt_key_id_valid(a.id));

    ck_assert_int_eq(vt_key_generate(vt_test_pool, "other", &b), APR_SUCCESS);
    ck_assert_str_eq(b.id, "other");
    ck_assert(memcmp(a.key, b.key, VT_AES_KEY_LEN) != 0);
    ck_assert_int_eq(vt_key_generate(vt_test_pool, "no good", &b), APR_EINVAL);
    ck_assert_int_eq(vt_key_generate(vt_test_pool, "", &b), APR_EINVAL);

    key_from_hex(&a, "k1", HEX_B);
    line = vt_key_format_line(vt_test_pool, &a);
    ck_assert_str_eq(line, "k1:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n");
    /* What we format parses back to the same key. */
    ck_assert(memcmp(vt_keyring_active(parse_ok(line))->key, a.key, VT_AES_KEY_LEN) == 0);
    strcpy(a.id, "bad:id");
    ck_assert_ptr_null(vt_key_format_line(vt_test_pool, &a));
}
END_TEST

/* ------------------------------------------------------------------ secrets */

static vt_keyring_t *ring_ab(void)
{
    return parse_ok("ka:" HEX_A "\nkb:" HEX_B "\n");
}

static void decrypt_fails(const vt_keyring_t *ring, const char *tenant, const char *key_id,
                          const char *blob, apr_status_t want, const char *want_err)
{
    const char *pt = "sentinel", *err = NULL;
    apr_status_t rv = vt_secret_decrypt(vt_test_pool, ring, tenant, key_id, blob, &pt, &err);

    ck_assert_msg(rv == want, "want %d got %d (%s)", want, rv, err ? err : "");
    ck_assert_ptr_null(pt);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, want_err) != NULL, "\"%s\" lacks \"%s\"", err, want_err);
    ck_assert_ptr_null(strstr(err, "twilio-auth-token"));
}

START_TEST(test_secret_roundtrip)
{
    vt_keyring_t *ring = ring_ab();
    const char *key_id, *blob, *pt, *err;
    const char *secret = "twilio-auth-token-5f2b";

    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "17", secret, &key_id, &blob, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(key_id, "ka");
    ck_assert_uint_eq(strlen(blob), 2 * (strlen(secret) + VT_SEAL_OVERHEAD));
    for (const char *c = blob; *c; c++)
        ck_assert_msg((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'), "blob %s", blob);
    ck_assert_int_eq(vt_secret_decrypt(vt_test_pool, ring, "17", key_id, blob, &pt, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(pt, secret);

    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "17", "", &key_id, &blob, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(strlen(blob), 2 * VT_SEAL_OVERHEAD);
    ck_assert_int_eq(vt_secret_decrypt(vt_test_pool, ring, "17", key_id, blob, &pt, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(pt, "");

    /* Fresh nonce per encryption. */
    {
        const char *b1, *b2;
        ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "17", secret, &key_id, &b1, &err),
                         APR_SUCCESS);
        ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "17", secret, &key_id, &b2, &err),
                         APR_SUCCESS);
        ck_assert_str_ne(b1, b2);
    }

    /* Refusals before any encryption. */
    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "", secret, &key_id, &blob, &err),
                     APR_EINVAL);
    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, NULL, secret, &key_id, &blob, &err),
                     APR_EINVAL);
    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, parse_ok("# empty\n"), "17", secret,
                                       &key_id, &blob, &err),
                     APR_EINVAL);
    ck_assert_ptr_null(blob);
    ck_assert_ptr_nonnull(strstr(err, "no key"));
}
END_TEST

static char *upper(const char *s)
{
    char *u = apr_pstrdup(vt_test_pool, s);
    for (char *c = u; *c; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    return u;
}

/* Replace the hex digit at i by another hex digit: flips bits of one byte. */
static char *flip_hex(const char *blob, apr_size_t i)
{
    char *t = apr_pstrdup(vt_test_pool, blob);
    t[i] = t[i] == '0' ? '1' : '0';
    return t;
}

START_TEST(test_secret_tampered)
{
    vt_keyring_t *ring = ring_ab();
    const char *key_id, *blob, *pt, *err;
    const char *secret = "twilio-auth-token-5f2b";
    apr_size_t n;

    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "17", secret, &key_id, &blob, &err),
                     APR_SUCCESS);
    n = strlen(blob);
    /* Upper-case hex (as some tools print bytea) opens too. */
    ck_assert_int_eq(vt_secret_decrypt(vt_test_pool, ring, "17", key_id, upper(blob), &pt, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(pt, secret);

    decrypt_fails(ring, "17", key_id, flip_hex(blob, 1), APR_EACCES, "failed authentication");
    decrypt_fails(ring, "17", key_id, flip_hex(blob, 2 * VT_GCM_NONCE_LEN + 3), APR_EACCES,
                  "failed authentication");
    decrypt_fails(ring, "17", key_id, flip_hex(blob, n - 1), APR_EACCES,
                  "failed authentication");
    /* Another tenant's row. */
    decrypt_fails(ring, "18", key_id, blob, APR_EACCES, "failed authentication");
    decrypt_fails(ring, "170", key_id, blob, APR_EACCES, "failed authentication");
    /* Right id, wrong key; and another key of the same ring. */
    decrypt_fails(parse_ok("ka:" HEX_B "\n"), "17", key_id, blob, APR_EACCES,
                  "failed authentication");
    decrypt_fails(ring, "17", "kb", blob, APR_EACCES, "failed authentication");
    /* Unknown key id, invalid key id. */
    decrypt_fails(ring, "17", "kz", blob, APR_NOTFOUND, "'kz'");
    decrypt_fails(ring, "17", "", blob, APR_EINVAL, "invalid key id");
    decrypt_fails(ring, "17", NULL, blob, APR_EINVAL, "invalid key id");
    decrypt_fails(ring, "17", "k z", blob, APR_EINVAL, "invalid key id");
    /* Truncated: drops tag bytes (still parses), then shorter than nonce + tag. */
    decrypt_fails(ring, "17", key_id, apr_pstrndup(vt_test_pool, blob, n - 2), APR_EACCES,
                  "failed authentication");
    decrypt_fails(ring, "17", key_id, apr_pstrndup(vt_test_pool, blob, 2 * VT_SEAL_OVERHEAD - 2),
                  APR_EINVAL, "too short");
    decrypt_fails(ring, "17", key_id, "", APR_EINVAL, "too short");
    /* Malformed hex. */
    decrypt_fails(ring, "17", key_id, apr_pstrndup(vt_test_pool, blob, n - 1), APR_EINVAL,
                  "not valid hex");
    {
        char *bad = apr_pstrdup(vt_test_pool, blob);
        bad[10] = 'g';
        decrypt_fails(ring, "17", key_id, bad, APR_EINVAL, "not valid hex");
    }
    decrypt_fails(ring, "17", key_id, apr_pstrcat(vt_test_pool, "\\x", blob, NULL), APR_EINVAL,
                  "not valid hex");
    decrypt_fails(ring, "17", key_id, NULL, APR_EINVAL, "not valid hex");
    decrypt_fails(ring, "", key_id, blob, APR_EINVAL, "tenant");
}
END_TEST

START_TEST(test_secret_missing_key)
{
    vt_keyring_t *ring_a = parse_ok("ka:" HEX_A "\n");
    vt_keyring_t *ring_b = parse_ok("kb:" HEX_B "\n");
    const char *key_id, *blob, *pt, *err;

    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring_a, "5", "s3cret-value", &key_id, &blob,
                                       &err),
                     APR_SUCCESS);
    decrypt_fails(ring_b, "5", key_id, blob, APR_NOTFOUND,
                  "credential was encrypted with key 'ka', which is not in the keyring");
    pt = "x";
    vt_secret_decrypt(vt_test_pool, ring_b, "5", key_id, blob, &pt, &err);
    ck_assert_ptr_null(strstr(err, "s3cret"));
}
END_TEST

START_TEST(test_secret_after_rotation)
{
    const char *path = tmp_path("rotate.keys");
    vt_key_t k1, k2;
    vt_keyring_t *ring;
    const char *id1, *blob1, *id2, *blob2, *pt, *err;

    ck_assert_int_eq(vt_key_generate(vt_test_pool, "k1", &k1), APR_SUCCESS);
    ck_assert_int_eq(vt_keyfile_create(vt_test_pool, path, &k1, &err), APR_SUCCESS);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_SUCCESS);
    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "9", "old-secret", &id1, &blob1, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(id1, "k1");

    ck_assert_int_eq(vt_key_generate(vt_test_pool, "k2", &k2), APR_SUCCESS);
    ck_assert_int_eq(vt_keyfile_prepend(vt_test_pool, path, &k2, &err), APR_SUCCESS);
    ck_assert_int_eq(vt_keyring_load(vt_test_pool, path, &ring, &err), APR_SUCCESS);
    ck_assert_int_eq(vt_secret_encrypt(vt_test_pool, ring, "9", "new-secret", &id2, &blob2, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(id2, "k2");

    ck_assert_int_eq(vt_secret_decrypt(vt_test_pool, ring, "9", id1, blob1, &pt, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(pt, "old-secret");
    ck_assert_int_eq(vt_secret_decrypt(vt_test_pool, ring, "9", id2, blob2, &pt, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(pt, "new-secret");
    /* The old blob under the new key id is refused. */
    decrypt_fails(ring, "9", id2, blob1, APR_EACCES, "failed authentication");
}
END_TEST

Suite *vt_suite_keyring(void)
{
    Suite *s = suite_create("keyring");
    TCase *parse = tcase_create("parse");
    TCase *files = tcase_create("files");
    TCase *secrets = tcase_create("secrets");

    tcase_add_checked_fixture(parse, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(parse, test_key_id_valid);
    tcase_add_test(parse, test_parse_good);
    tcase_add_loop_test(parse, test_parse_bad, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(parse, test_ring_wiped_with_pool);
    tcase_add_test(parse, test_key_generate_and_format);
    suite_add_tcase(s, parse);

    /* Each test uses its own file names, so one directory per test case suffices. */
    tcase_add_unchecked_fixture(files, tmpdir_setup, tmpdir_teardown);
    tcase_add_checked_fixture(files, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(files, test_load_permissions);
    tcase_add_test(files, test_load_errors);
    tcase_add_test(files, test_keyfile_create);
    tcase_add_test(files, test_keyfile_prepend);
    suite_add_tcase(s, files);

    tcase_add_unchecked_fixture(secrets, tmpdir_setup, tmpdir_teardown);
    tcase_add_checked_fixture(secrets, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(secrets, test_secret_roundtrip);
    tcase_add_test(secrets, test_secret_tampered);
    tcase_add_test(secrets, test_secret_missing_key);
    tcase_add_test(secrets, test_secret_after_rotation);
    suite_add_tcase(s, secrets);
    return s;
}
