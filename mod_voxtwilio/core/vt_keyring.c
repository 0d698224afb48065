/* vt_keyring — the server's credential keys and tenant-credential encryption.
 *
 * Return codes used here: APR_EINVAL for malformed input (key file lines, blobs, ids),
 * APR_EACCES for an unsafe key-file mode and for a credential that fails authentication,
 * APR_NOTFOUND for a key id the ring does not hold, APR_EEXIST for refusing to
 * overwrite, OS errors as APR_FROM_OS_ERROR, APR_EGENERAL for OpenSSL failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <apr_errno.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "vt_keyring.h"
#include "vt_util.h"

#define VT_KEY_HEX_LEN (2 * VT_AES_KEY_LEN)
/* Shortest possible key line: "x:" + 64 hex digits; bounds the array we preallocate. */
#define VT_KEY_LINE_MIN (2 + VT_KEY_HEX_LEN)
/* A key file is a few lines; anything this large is a mistake, not a key file. */
#define VT_KEYFILE_MAX (1024 * 1024)

static int key_id_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
           || c == '_' || c == '.' || c == '-';
}

static int key_id_valid_n(const char *id, apr_size_t n)
{
    if (n == 0 || n > VT_KEY_ID_MAX)
        return 0;
    for (apr_size_t i = 0; i < n; i++)
        if (!key_id_char((unsigned char)id[i]))
            return 0;
    return 1;
}

int vt_key_id_valid(const char *id)
{
    return id != NULL && key_id_valid_n(id, strlen(id));
}

/* Key material is decoded and encoded here rather than through vt_util so that it
 * only ever lands in buffers this file wipes (the key-file text is not NUL-terminated
 * per line, and vt_hex_encode would leave an unwiped copy). */
static int key_hex_decode(const char *hex, apr_size_t n, unsigned char out[VT_AES_KEY_LEN])
{
    if (n != VT_KEY_HEX_LEN)
        return -1;
    for (apr_size_t i = 0; i < VT_AES_KEY_LEN; i++) {
        int hi = vt_hex_value((unsigned char)hex[2 * i]);
        int lo = vt_hex_value((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            vt_memzero(out, VT_AES_KEY_LEN);
            return -1;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static void key_hex_encode(const unsigned char key[VT_AES_KEY_LEN], char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (apr_size_t i = 0; i < VT_AES_KEY_LEN; i++) {
        out[2 * i] = digits[key[i] >> 4];
        out[2 * i + 1] = digits[key[i] & 0x0f];
    }
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* ------------------------------------------------------------------ parsing */

apr_status_t vt_keyring_parse(apr_pool_t *p, const char *text, apr_size_t len,
                              vt_keyring_t **ring, const char **err)
{
    vt_keyring_t *r;
    apr_size_t cap;
    const char *pos, *end;
    int lineno = 0;

    *ring = NULL;
    *err = NULL;
    if (text == NULL && len > 0) {
        *err = "no key-file text";
        return APR_EINVAL;
    }
    if (text == NULL)
        text = "";
    pos = text;
    end = text + len;
    /* Preallocate so apr_array_push never reallocates and strands an unwiped copy of
     * the keys; no file can hold more than len / VT_KEY_LINE_MIN keys. */
    cap = len / VT_KEY_LINE_MIN + 1;
    r = apr_pcalloc(p, sizeof *r);
    r->keys = apr_array_make(p, (int)cap, sizeof(vt_key_t));
    vt_wipe_on_cleanup(p, r->keys->elts, cap * sizeof(vt_key_t));

    while (pos < end) {
        const char *nl = memchr(pos, '\n', (apr_size_t)(end - pos));
        const char *s = pos, *e = nl ? nl : end;
        const char *colon;
        vt_key_t *k;

        pos = nl ? nl + 1 : end;
        lineno++;
        while (s < e && is_blank((unsigned char)*s))
            s++;
        while (e > s && is_blank((unsigned char)e[-1]))
            e--;
        if (s == e || *s == '#')
            continue;
        /* Messages never quote the line: it may be key material. */
        colon = memchr(s, ':', (apr_size_t)(e - s));
        if (colon == NULL) {
            *err = apr_psprintf(p, "line %d: expected KEYID:<64 hex digits>", lineno);
            goto fail;
        }
        if (!key_id_valid_n(s, (apr_size_t)(colon - s))) {
            *err = apr_psprintf(p, "line %d: key id must be 1-%d characters of "
                                "A-Z a-z 0-9 _ . -", lineno, VT_KEY_ID_MAX);
            goto fail;
        }
        if (r->keys->nelts >= (int)cap) { /* cannot happen given cap; never realloc */
            *err = apr_psprintf(p, "line %d: too many keys", lineno);
            goto fail;
        }
        k = apr_array_push(r->keys);
        memcpy(k->id, s, (apr_size_t)(colon - s));
        k->id[colon - s] = '\0';
        if (key_hex_decode(colon + 1, (apr_size_t)(e - colon - 1), k->key) != 0) {
            *err = apr_psprintf(p, "line %d: key must be %d hex digits", lineno,
                                VT_KEY_HEX_LEN);
            goto fail;
        }
        for (int i = 0; i < r->keys->nelts - 1; i++) {
            if (strcmp(APR_ARRAY_IDX(r->keys, i, vt_key_t).id, k->id) == 0) {
                *err = apr_psprintf(p, "line %d: duplicate key id '%s'", lineno, k->id);
                goto fail;
            }
        }
    }
    *ring = r;
    return APR_SUCCESS;

fail:
    vt_memzero(r->keys->elts, cap * sizeof(vt_key_t));
    r->keys->nelts = 0;
    return APR_EINVAL;
}

/* ------------------------------------------------------------------ files */

static const char *os_error(apr_pool_t *p, apr_status_t rv)
{
    char buf[256];
    return apr_pstrdup(p, apr_strerror(rv, buf, sizeof buf));
}

/* Read a whole key file after checking it is a regular file nobody else can touch.
 * The text is allocated in p and wiped with it. */
static apr_status_t read_keyfile(apr_pool_t *p, const char *path, char **text,
                                 apr_size_t *len, struct stat *st, const char **err)
{
    apr_status_t rv;
    apr_size_t cap, got = 0;
    char *buf;
    int fd;

    *text = NULL;
    *len = 0;
    /* O_NONBLOCK: a FIFO planted at path must not hang startup; no effect on files. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *err = apr_psprintf(p, "cannot open %s: %s", path, os_error(p, rv));
        return rv;
    }
    /* fstat on the open descriptor: the mode we check is the file we read. */
    if (fstat(fd, st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *err = apr_psprintf(p, "cannot stat %s: %s", path, os_error(p, rv));
        goto out;
    }
    if (!S_ISREG(st->st_mode)) {
        rv = APR_EINVAL;
        *err = apr_psprintf(p, "%s is not a regular file", path);
        goto out;
    }
    if (st->st_mode & 077) {
        rv = APR_EACCES;
        *err = apr_psprintf(p, "%s is %s by group or others (mode %04o); run chmod 600 %s",
                            path, (st->st_mode & 044) ? "readable" : "accessible",
                            (unsigned)(st->st_mode & 07777), path);
        goto out;
    }
    if (st->st_size > VT_KEYFILE_MAX) {
        rv = APR_EINVAL;
        *err = apr_psprintf(p, "%s is too large for a key file", path);
        goto out;
    }
    /* One spare byte tells us whether the file grew after fstat. */
    cap = (apr_size_t)st->st_size + 1;
    buf = apr_palloc(p, cap + 1);
    vt_wipe_on_cleanup(p, buf, cap + 1);
    for (;;) {
        ssize_t n = read(fd, buf + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            *err = apr_psprintf(p, "cannot read %s: %s", path, os_error(p, rv));
            goto out;
        }
        if (n == 0)
            break;
        got += (apr_size_t)n;
        if (got == cap) {
            rv = APR_EINVAL;
            *err = apr_psprintf(p, "%s changed while being read", path);
            goto out;
        }
    }
    buf[got] = '\0';
    *text = buf;
    *len = got;
    rv = APR_SUCCESS;
out:
    close(fd);
    return rv;
}

apr_status_t vt_keyring_load(apr_pool_t *p, const char *path, vt_keyring_t **ring,
                             const char **err)
{
    struct stat st;
    char *text;
    apr_size_t len;
    apr_status_t rv;

    *ring = NULL;
    *err = NULL;
    if (path == NULL || *path == '\0') {
        *err = "no key file given";
        return APR_EINVAL;
    }
    rv = read_keyfile(p, path, &text, &len, &st, err);
    if (rv != APR_SUCCESS)
        return rv;
    rv = vt_keyring_parse(p, text, len, ring, err);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: %s", path, *err);
        return rv;
    }
    if ((*ring)->keys->nelts == 0) {
        *ring = NULL;
        *err = apr_psprintf(p, "%s holds no key", path);
        return APR_EINVAL;
    }
    (*ring)->path = apr_pstrdup(p, path);
    return APR_SUCCESS;
}

const vt_key_t *vt_keyring_active(const vt_keyring_t *ring)
{
    if (ring == NULL || ring->keys == NULL || ring->keys->nelts == 0)
        return NULL;
    return &APR_ARRAY_IDX(ring->keys, 0, vt_key_t);
}

const vt_key_t *vt_keyring_find(const vt_keyring_t *ring, const char *key_id)
{
    if (ring == NULL || ring->keys == NULL || key_id == NULL)
        return NULL;
    for (int i = 0; i < ring->keys->nelts; i++) {
        const vt_key_t *k = &APR_ARRAY_IDX(ring->keys, i, vt_key_t);
        if (strcmp(k->id, key_id) == 0)
            return k;
    }
    return NULL;
}

apr_status_t vt_key_generate(apr_pool_t *p, const char *id, vt_key_t *key)
{
    memset(key, 0, sizeof *key);
    if (id != NULL) {
        if (!vt_key_id_valid(id))
            return APR_EINVAL;
        memcpy(key->id, id, strlen(id) + 1);
    } else {
        apr_time_exp_t tm;
        if (apr_time_exp_gmt(&tm, apr_time_now()) != APR_SUCCESS)
            return APR_EGENERAL;
        apr_snprintf(key->id, sizeof key->id, "k%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    if (vt_random_bytes(key->key, sizeof key->key) != VT_CRYPTO_OK) {
        vt_memzero(key, sizeof *key);
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

char *vt_key_format_line(apr_pool_t *p, const vt_key_t *key)
{
    apr_size_t idlen, n;
    char *line;

    if (key == NULL || !vt_key_id_valid(key->id))
        return NULL;
    idlen = strlen(key->id);
    n = idlen + 1 + VT_KEY_HEX_LEN + 1;
    line = apr_palloc(p, n + 1);
    vt_wipe_on_cleanup(p, line, n + 1);
    memcpy(line, key->id, idlen);
    line[idlen] = ':';
    key_hex_encode(key->key, line + idlen + 1);
    line[n - 1] = '\n';
    line[n] = '\0';
    return line;
}

static int write_all(int fd, const char *buf, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (apr_size_t)n;
    }
    return 0;
}

/* Make a create/rename durable; best effort, as some filesystems refuse fsync on a
 * directory and the data itself is already synced. */
static void sync_parent_dir(apr_pool_t *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dir = ".";
    int fd;

    if (slash == path)
        dir = "/";
    else if (slash != NULL)
        dir = apr_pstrmemdup(p, path, (apr_size_t)(slash - path));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

apr_status_t vt_keyfile_create(apr_pool_t *p, const char *path, const vt_key_t *key,
                               const char **err)
{
    apr_status_t rv;
    char *line;
    int fd;

    *err = NULL;
    if (path == NULL || *path == '\0') {
        *err = "no key file given";
        return APR_EINVAL;
    }
    line = vt_key_format_line(p, key);
    if (line == NULL) {
        *err = "invalid key id";
        return APR_EINVAL;
    }
    /* O_EXCL: never overwrite (a lost key means every credential sealed with it is
     * lost); O_NOFOLLOW: never write through a planted symlink. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            *err = apr_psprintf(p, "%s already exists; refusing to overwrite it", path);
            return APR_EEXIST;
        }
        rv = APR_FROM_OS_ERROR(errno);
        *err = apr_psprintf(p, "cannot create %s: %s", path, os_error(p, rv));
        return rv;
    }
    /* The umask can only remove bits, but be exact. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, line, strlen(line)) != 0 || fsync(fd) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *err = apr_psprintf(p, "cannot write %s: %s", path, os_error(p, rv));
        close(fd);
        unlink(path);
        return rv;
    }
    if (close(fd) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *err = apr_psprintf(p, "cannot write %s: %s", path, os_error(p, rv));
        unlink(path);
        return rv;
    }
    sync_parent_dir(p, path);
    return APR_SUCCESS;
}

apr_status_t vt_keyfile_prepend(apr_pool_t *p, const char *path, const vt_key_t *key,
                                const char **err)
{
    struct stat st;
    vt_keyring_t *ring;
    apr_status_t rv;
    apr_size_t len;
    char *text, *line, *tmp;
    int fd;

    *err = NULL;
    if (path == NULL || *path == '\0') {
        *err = "no key file given";
        return APR_EINVAL;
    }
    line = vt_key_format_line(p, key);
    if (line == NULL) {
        *err = "invalid key id";
        return APR_EINVAL;
    }
    rv = read_keyfile(p, path, &text, &len, &st, err);
    if (rv != APR_SUCCESS)
        return rv;
    /* Refuse to produce a file that would no longer load. */
    rv = vt_keyring_parse(p, text, len, &ring, err);
    if (rv != APR_SUCCESS) {
        *err = apr_psprintf(p, "%s: %s", path, *err);
        return rv;
    }
    if (vt_keyring_find(ring, key->id) != NULL) {
        *err = apr_psprintf(p, "key id '%s' already exists in %s", key->id, path);
        return APR_EEXIST;
    }

    /* Same directory, so the rename is atomic; mkstemp creates it 0600. */
    tmp = apr_pstrcat(p, path, ".tmpXXXXXX", NULL);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *err = apr_psprintf(p, "cannot create a temporary file next to %s: %s", path,
                            os_error(p, rv));
        return rv;
    }
    if (fchmod(fd, 0600) != 0)
        goto write_failed;
    /* Keep the owner (e.g. root rotating a key for the httpd user). */
    if ((st.st_uid != geteuid() || st.st_gid != getegid())
        && fchown(fd, st.st_uid, st.st_gid) != 0)
        goto write_failed;
    if (write_all(fd, line, strlen(line)) != 0 || write_all(fd, text, len) != 0)
        goto write_failed;
    if (len > 0 && text[len - 1] != '\n' && write_all(fd, "\n", 1) != 0)
        goto write_failed;
    if (fsync(fd) != 0)
        goto write_failed;
    if (close(fd) != 0) {
        fd = -1;
        goto write_failed;
    }
    fd = -1;
    if (rename(tmp, path) != 0)
        goto write_failed;
    sync_parent_dir(p, path);
    return APR_SUCCESS;

write_failed:
    rv = APR_FROM_OS_ERROR(errno);
    *err = apr_psprintf(p, "cannot rewrite %s: %s", path, os_error(p, rv));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rv;
}

/* ------------------------------------------------------------------ secrets */

apr_status_t vt_secret_encrypt(apr_pool_t *p, const vt_keyring_t *ring, const char *tenant_id,
                               const char *plaintext, const char **key_id, const char **blob_hex,
                               const char **err)
{
    const vt_key_t *k = vt_keyring_active(ring);
    unsigned char *blob;
    apr_size_t bloblen;
    vt_crypto_rc rc;

    *key_id = NULL;
    *blob_hex = NULL;
    *err = NULL;
    if (k == NULL) {
        *err = "the keyring holds no key";
        return APR_EINVAL;
    }
    if (tenant_id == NULL || *tenant_id == '\0') {
        *err = "no tenant id to bind the credential to";
        return APR_EINVAL;
    }
    if (plaintext == NULL) {
        *err = "no credential to encrypt";
        return APR_EINVAL;
    }
    rc = vt_seal(p, k->key, (const unsigned char *)tenant_id, strlen(tenant_id),
                 (const unsigned char *)plaintext, strlen(plaintext), &blob, &bloblen);
    if (rc != VT_CRYPTO_OK) {
        *err = apr_psprintf(p, "cannot encrypt credential: %s", vt_crypto_strerror(rc));
        return APR_EGENERAL;
    }
    *blob_hex = vt_hex_encode(p, blob, bloblen);
    *key_id = apr_pstrdup(p, k->id);
    return APR_SUCCESS;
}

apr_status_t vt_secret_decrypt(apr_pool_t *p, const vt_keyring_t *ring, const char *tenant_id,
                               const char *key_id, const char *blob_hex, const char **plaintext,
                               const char **err)
{
    const vt_key_t *k;
    unsigned char *blob, *pt;
    apr_size_t bloblen, ptlen;
    vt_crypto_rc rc;

    *plaintext = NULL;
    *err = NULL;
    if (tenant_id == NULL || *tenant_id == '\0') {
        *err = "no tenant id to check the credential against";
        return APR_EINVAL;
    }
    if (!vt_key_id_valid(key_id)) {
        *err = "credential has an invalid key id";
        return APR_EINVAL;
    }
    k = vt_keyring_find(ring, key_id);
    if (k == NULL) {
        *err = apr_psprintf(p, "credential was encrypted with key '%s', which is not in the "
                            "keyring%s%s", key_id, ring && ring->path ? " " : "",
                            ring && ring->path ? ring->path : "");
        return APR_NOTFOUND;
    }
    if (blob_hex == NULL || vt_hex_decode(p, blob_hex, &blob, &bloblen) != 0) {
        *err = "credential blob is not valid hex";
        return APR_EINVAL;
    }
    rc = vt_open(p, k->key, (const unsigned char *)tenant_id, strlen(tenant_id), blob, bloblen,
                 &pt, &ptlen);
    switch (rc) {
    case VT_CRYPTO_OK:
        *plaintext = (const char *)pt;
        return APR_SUCCESS;
    case VT_CRYPTO_EFORMAT:
        *err = "credential blob is too short (truncated?)";
        return APR_EINVAL;
    case VT_CRYPTO_EAUTH:
        *err = apr_psprintf(p, "credential failed authentication with key '%s' (wrong key, "
                            "wrong tenant or tampered data)", key_id);
        return APR_EACCES;
    default:
        *err = apr_psprintf(p, "cannot decrypt credential: %s", vt_crypto_strerror(rc));
        return APR_EGENERAL;
    }
}
