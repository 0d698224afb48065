/* vt_keyring — the server's credential keys and tenant-credential encryption.
 *
 * Key file: one key per line, "KEYID:<64 hex chars>" (KEYID = [A-Za-z0-9_.-]{1,32});
 * blank lines and lines starting with '#' are ignored; the first key is the active
 * one (used for new encryptions), the others only decrypt. The file must not be
 * group- or world-readable. Key material is wiped when the ring's pool goes away.
 *
 * A tenant credential is sealed with the tenant id (decimal company id) as
 * associated data, so a ciphertext copied to another tenant's row will not open.
 */
#ifndef VT_KEYRING_H
#define VT_KEYRING_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "vt_crypto.h"

#define VT_KEY_ID_MAX 32

typedef struct vt_key {
    char id[VT_KEY_ID_MAX + 1];
    unsigned char key[VT_AES_KEY_LEN];
} vt_key_t;

typedef struct vt_keyring {
    apr_array_header_t *keys; /* of vt_key_t; element 0 is the active key */
    const char *path;         /* where it was loaded from, if any */
} vt_keyring_t;

int vt_key_id_valid(const char *id);

/* Parse key-file text. On error returns APR_EINVAL with *err like "line 3: ...". */
apr_status_t vt_keyring_parse(apr_pool_t *p, const char *text, apr_size_t len,
                              vt_keyring_t **ring, const char **err);
/* Load a key file. Refuses (APR_EACCES, *err names the path and the mode) a file that
 * is group- or world-readable, and one that holds no key. */
apr_status_t vt_keyring_load(apr_pool_t *p, const char *path, vt_keyring_t **ring,
                             const char **err);

const vt_key_t *vt_keyring_active(const vt_keyring_t *ring);
const vt_key_t *vt_keyring_find(const vt_keyring_t *ring, const char *key_id);

/* A new random key; id is "kYYYYMMDDhhmmss" (UTC) unless id is given. */
apr_status_t vt_key_generate(apr_pool_t *p, const char *id, vt_key_t *key);
/* "KEYID:hex\n" (allocated in p, wiped with p). */
char *vt_key_format_line(apr_pool_t *p, const vt_key_t *key);

/* Create a new key file holding key, mode 0600; never overwrites (APR_EEXIST). */
apr_status_t vt_keyfile_create(apr_pool_t *p, const char *path, const vt_key_t *key,
                               const char **err);
/* Atomically rewrite path with key as the new first (active) line, keeping every
 * existing line after it, mode 0600 (temp file + fsync + rename). */
apr_status_t vt_keyfile_prepend(apr_pool_t *p, const char *path, const vt_key_t *key,
                                const char **err);

/* Encrypt a tenant secret with the active key. Returns the key id used and the
 * sealed blob as lower-case hex (what the database stores via decode(...,'hex')). */
apr_status_t vt_secret_encrypt(apr_pool_t *p, const vt_keyring_t *ring, const char *tenant_id,
                               const char *plaintext, const char **key_id, const char **blob_hex,
                               const char **err);
/* Decrypt a tenant secret. The plaintext is wiped when p goes away. Errors (unknown key
 * id, malformed blob, authentication failure) return non-zero with *err set; *err never
 * contains key material or plaintext. */
apr_status_t vt_secret_decrypt(apr_pool_t *p, const vt_keyring_t *ring, const char *tenant_id,
                               const char *key_id, const char *blob_hex, const char **plaintext,
                               const char **err);

#endif
