/* vt_crypto — AES-256-GCM sealing of tenant credentials (OpenSSL EVP). */
#include <limits.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "vt_crypto.h"

/* EVP takes int lengths; larger buffers are fed in slices. */
#define VT_EVP_CHUNK ((apr_size_t)INT_MAX & ~(apr_size_t)15)

static int gcm_init(EVP_CIPHER_CTX *ctx, int enc, const unsigned char *key,
                    const unsigned char *nonce)
{
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1)
        return 0;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, VT_GCM_NONCE_LEN, NULL) != 1)
        return 0;
    return EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1;
}

static int gcm_aad(EVP_CIPHER_CTX *ctx, const unsigned char *aad, apr_size_t aadlen)
{
    while (aadlen > 0) {
        apr_size_t n = aadlen < VT_EVP_CHUNK ? aadlen : VT_EVP_CHUNK;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)n) != 1)
            return 0;
        aad += n;
        aadlen -= n;
    }
    return 1;
}

/* GCM is a stream mode: every update writes exactly as many bytes as it reads. */
static int gcm_data(EVP_CIPHER_CTX *ctx, const unsigned char *in, apr_size_t len,
                    unsigned char *out)
{
    while (len > 0) {
        apr_size_t n = len < VT_EVP_CHUNK ? len : VT_EVP_CHUNK;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, out, &outl, in, (int)n) != 1 || (apr_size_t)outl != n)
            return 0;
        in += n;
        out += n;
        len -= n;
    }
    return 1;
}

vt_crypto_rc vt_gcm_encrypt_raw(const unsigned char key[VT_AES_KEY_LEN],
                                const unsigned char nonce[VT_GCM_NONCE_LEN],
                                const unsigned char *aad, apr_size_t aadlen,
                                const unsigned char *pt, apr_size_t ptlen,
                                unsigned char *ct, unsigned char tag[VT_GCM_TAG_LEN])
{
    vt_crypto_rc rc = VT_CRYPTO_EINTERNAL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char fin[16];
    int finl = 0;

    if (ctx == NULL)
        return VT_CRYPTO_EINTERNAL;
    if (!gcm_init(ctx, 1, key, nonce) || !gcm_aad(ctx, aad, aadlen)
        || !gcm_data(ctx, pt, ptlen, ct))
        goto done;
    if (EVP_EncryptFinal_ex(ctx, fin, &finl) != 1 || finl != 0)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, VT_GCM_TAG_LEN, tag) != 1)
        goto done;
    rc = VT_CRYPTO_OK;
done:
    if (rc != VT_CRYPTO_OK && ptlen > 0)
        vt_memzero(ct, ptlen); /* never hand out a half-written ciphertext */
    EVP_CIPHER_CTX_free(ctx); /* also cleanses the expanded key schedule */
    return rc;
}

vt_crypto_rc vt_gcm_decrypt_raw(const unsigned char key[VT_AES_KEY_LEN],
                                const unsigned char nonce[VT_GCM_NONCE_LEN],
                                const unsigned char *aad, apr_size_t aadlen,
                                const unsigned char *ct, apr_size_t ctlen,
                                const unsigned char tag[VT_GCM_TAG_LEN], unsigned char *pt)
{
    vt_crypto_rc rc = VT_CRYPTO_EINTERNAL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char tagbuf[VT_GCM_TAG_LEN];
    unsigned char fin[16];
    int finl = 0;

    if (ctx == NULL)
        return VT_CRYPTO_EINTERNAL;
    memcpy(tagbuf, tag, sizeof tagbuf); /* the ctrl API wants a non-const pointer */
    if (!gcm_init(ctx, 0, key, nonce)
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, VT_GCM_TAG_LEN, tagbuf) != 1
        || !gcm_aad(ctx, aad, aadlen) || !gcm_data(ctx, ct, ctlen, pt))
        goto done;
    /* The tag is checked here; until it passes, pt holds unauthenticated bytes. */
    if (EVP_DecryptFinal_ex(ctx, fin, &finl) != 1 || finl != 0) {
        rc = VT_CRYPTO_EAUTH;
        goto done;
    }
    rc = VT_CRYPTO_OK;
done:
    if (rc != VT_CRYPTO_OK && ctlen > 0)
        vt_memzero(pt, ctlen);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

vt_crypto_rc vt_seal(apr_pool_t *p, const unsigned char key[VT_AES_KEY_LEN],
                     const unsigned char *aad, apr_size_t aadlen,
                     const unsigned char *pt, apr_size_t ptlen,
                     unsigned char **out, apr_size_t *outlen)
{
    unsigned char *buf;
    vt_crypto_rc rc;

    *out = NULL;
    *outlen = 0;
    if (ptlen > (apr_size_t)-1 - VT_SEAL_OVERHEAD)
        return VT_CRYPTO_EFORMAT;
    buf = apr_palloc(p, ptlen + VT_SEAL_OVERHEAD);
    rc = vt_random_bytes(buf, VT_GCM_NONCE_LEN);
    if (rc != VT_CRYPTO_OK)
        return rc;
    rc = vt_gcm_encrypt_raw(key, buf, aad, aadlen, pt, ptlen, buf + VT_GCM_NONCE_LEN,
                            buf + VT_GCM_NONCE_LEN + ptlen);
    if (rc != VT_CRYPTO_OK)
        return rc;
    *out = buf;
    *outlen = ptlen + VT_SEAL_OVERHEAD;
    return VT_CRYPTO_OK;
}

vt_crypto_rc vt_open(apr_pool_t *p, const unsigned char key[VT_AES_KEY_LEN],
                     const unsigned char *aad, apr_size_t aadlen,
                     const unsigned char *in, apr_size_t inlen,
                     unsigned char **pt, apr_size_t *ptlen)
{
    apr_size_t n;
    unsigned char *buf;
    vt_crypto_rc rc;

    *pt = NULL;
    *ptlen = 0;
    if (in == NULL || inlen < VT_SEAL_OVERHEAD)
        return VT_CRYPTO_EFORMAT;
    n = inlen - VT_SEAL_OVERHEAD;
    buf = apr_palloc(p, n + 1);
    /* Registered before decrypting so the plaintext can never outlive the pool unwiped. */
    vt_wipe_on_cleanup(p, buf, n + 1);
    rc = vt_gcm_decrypt_raw(key, in, aad, aadlen, in + VT_GCM_NONCE_LEN, n,
                            in + VT_GCM_NONCE_LEN + n, buf);
    if (rc != VT_CRYPTO_OK)
        return rc;
    buf[n] = '\0';
    *pt = buf;
    *ptlen = n;
    return VT_CRYPTO_OK;
}

vt_crypto_rc vt_random_bytes(unsigned char *buf, apr_size_t len)
{
    while (len > 0) {
        apr_size_t n = len < VT_EVP_CHUNK ? len : VT_EVP_CHUNK;
        if (RAND_bytes(buf, (int)n) != 1)
            return VT_CRYPTO_EINTERNAL;
        buf += n;
        len -= n;
    }
    return VT_CRYPTO_OK;
}

void vt_memzero(void *buf, apr_size_t len)
{
    if (buf != NULL && len > 0)
        OPENSSL_cleanse(buf, len);
}

typedef struct {
    void *buf;
    apr_size_t len;
} vt_wipe_t;

static apr_status_t wipe_cleanup(void *data)
{
    vt_wipe_t *w = data;
    vt_memzero(w->buf, w->len);
    return APR_SUCCESS;
}

/* The pool runs cleanups before it frees its own blocks, so buf must live in p (or
 * longer); a buffer in a subpool would already be gone when this runs. */
void vt_wipe_on_cleanup(apr_pool_t *p, void *buf, apr_size_t len)
{
    vt_wipe_t *w;

    if (buf == NULL || len == 0)
        return;
    w = apr_palloc(p, sizeof *w);
    w->buf = buf;
    w->len = len;
    apr_pool_cleanup_register(p, w, wipe_cleanup, apr_pool_cleanup_null);
}

const char *vt_crypto_strerror(vt_crypto_rc rc)
{
    switch (rc) {
    case VT_CRYPTO_OK:
        return "success";
    case VT_CRYPTO_EAUTH:
        return "authentication failed (wrong key, wrong associated data or tampered data)";
    case VT_CRYPTO_EFORMAT:
        return "sealed data is malformed (too short)";
    case VT_CRYPTO_EINTERNAL:
        return "internal cryptographic failure";
    }
    return "unknown crypto error";
}
