/* vt_crypto — AES-256-GCM sealing of tenant credentials (OpenSSL).
 *
 * Sealed blob layout: nonce (12 bytes) || ciphertext || tag (16 bytes).
 * A fresh random nonce is drawn for every seal. Opening verifies the tag before
 * any plaintext is returned; a wrong key, a flipped bit in the nonce, ciphertext,
 * tag or associated data gives VT_CRYPTO_EAUTH and no plaintext, never garbage.
 */
#ifndef VT_CRYPTO_H
#define VT_CRYPTO_H

#include <apr_pools.h>

#define VT_AES_KEY_LEN 32
#define VT_GCM_NONCE_LEN 12
#define VT_GCM_TAG_LEN 16
#define VT_SEAL_OVERHEAD (VT_GCM_NONCE_LEN + VT_GCM_TAG_LEN)

typedef enum {
    VT_CRYPTO_OK = 0,
    VT_CRYPTO_EAUTH = 1,   /* tag mismatch: wrong key, tampered data or wrong AAD */
    VT_CRYPTO_EFORMAT = 2, /* blob too short */
    VT_CRYPTO_EINTERNAL = 3 /* OpenSSL failure (RNG, cipher init) */
} vt_crypto_rc;

/* Raw AES-256-GCM with a caller-chosen 96-bit nonce. For known-answer tests only:
 * production code must use vt_seal, which draws the nonce. ct has ptlen bytes. */
vt_crypto_rc vt_gcm_encrypt_raw(const unsigned char key[VT_AES_KEY_LEN],
                                const unsigned char nonce[VT_GCM_NONCE_LEN],
                                const unsigned char *aad, apr_size_t aadlen,
                                const unsigned char *pt, apr_size_t ptlen,
                                unsigned char *ct, unsigned char tag[VT_GCM_TAG_LEN]);
vt_crypto_rc vt_gcm_decrypt_raw(const unsigned char key[VT_AES_KEY_LEN],
                                const unsigned char nonce[VT_GCM_NONCE_LEN],
                                const unsigned char *aad, apr_size_t aadlen,
                                const unsigned char *ct, apr_size_t ctlen,
                                const unsigned char tag[VT_GCM_TAG_LEN], unsigned char *pt);

/* Seal pt under key with aad; *out (allocated in p) = nonce || ct || tag. */
vt_crypto_rc vt_seal(apr_pool_t *p, const unsigned char key[VT_AES_KEY_LEN],
                     const unsigned char *aad, apr_size_t aadlen,
                     const unsigned char *pt, apr_size_t ptlen,
                     unsigned char **out, apr_size_t *outlen);
/* Open a sealed blob. *pt is NUL-terminated (ptlen excludes the NUL), allocated in p,
 * and wiped when p is cleared or destroyed. */
vt_crypto_rc vt_open(apr_pool_t *p, const unsigned char key[VT_AES_KEY_LEN],
                     const unsigned char *aad, apr_size_t aadlen,
                     const unsigned char *in, apr_size_t inlen,
                     unsigned char **pt, apr_size_t *ptlen);

/* Fill buf with cryptographically strong random bytes. */
vt_crypto_rc vt_random_bytes(unsigned char *buf, apr_size_t len);
/* Wipe memory in a way the compiler cannot elide. */
void vt_memzero(void *buf, apr_size_t len);
/* Register a pool cleanup that wipes buf when p goes away. */
void vt_wipe_on_cleanup(apr_pool_t *p, void *buf, apr_size_t len);

const char *vt_crypto_strerror(vt_crypto_rc rc);

#endif
