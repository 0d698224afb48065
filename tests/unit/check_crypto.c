/* vt_crypto: AES-256-GCM known answers, seal/open round trips and tamper refusal. */
#include <stdio.h>
#include <string.h>

#include "vt_crypto.h"
#include "vt_suites.h"

/* Local decoder so a bug in vt_util cannot mask (or fake) a crypto result. */
static unsigned char *unhex(const char *s, apr_size_t *len)
{
    apr_size_t n = strlen(s) / 2;
    unsigned char *out = apr_pcalloc(vt_test_pool, n + 1);
    ck_assert_uint_eq(strlen(s) % 2, 0);
    for (apr_size_t i = 0; i < n; i++) {
        unsigned int b;
        ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &b), 1);
        out[i] = (unsigned char)b;
    }
    *len = n;
    return out;
}

typedef struct {
    const char *name, *key, *iv, *aad, *pt, *ct, *tag;
} gcm_vector;

/* McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", appendix B, test cases
 * 13-16 (AES-256, 96-bit IV), and NIST CAVP gcmEncryptExtIV256.rsp (Keylen 256, IVlen 96,
 * PTlen 128, Taglen 128) Count 0 of the AADlen 0 and AADlen 128 groups. */
static const gcm_vector vectors[] = {
    {"GCM spec test case 13",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    {"GCM spec test case 14",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {"GCM spec test case 15",
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    {"GCM spec test case 16",
     "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
     "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
     "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {"CAVP gcmEncryptExtIV256 PTlen=128 AADlen=0 Count=0",
     "31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22",
     "0d18e06c7c725ac9e362e1ce", "", "2db5168e932556f8089a0622981d017d",
     "fa4362189661d163fcd6a56d8bf0405a", "d636ac1bbedd5cc3ee727dc2ab4a9489"},
    {"CAVP gcmEncryptExtIV256 PTlen=128 AADlen=128 Count=0",
     "92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b",
     "ac93a1a6145299bde902f21a", "1e0889016f67601c8ebea4943bc23ad6",
     "2d71bcfa914e4ac045b2aa60955fad24", "8995ae2e6df3dbf96fac7b7137bae67f",
     "eca5aa77d51d4a0a14d9c51e1da474ab"},
};
#define NVECTORS ((int)(sizeof vectors / sizeof vectors[0]))

typedef struct {
    unsigned char *key, *iv, *aad, *pt, *ct, *tag;
    apr_size_t keylen, ivlen, aadlen, ptlen, ctlen, taglen;
} gcm_bytes;

static gcm_bytes load_vector(const gcm_vector *v)
{
    gcm_bytes b;
    b.key = unhex(v->key, &b.keylen);
    b.iv = unhex(v->iv, &b.ivlen);
    b.aad = unhex(v->aad, &b.aadlen);
    b.pt = unhex(v->pt, &b.ptlen);
    b.ct = unhex(v->ct, &b.ctlen);
    b.tag = unhex(v->tag, &b.taglen);
    ck_assert_uint_eq(b.keylen, VT_AES_KEY_LEN);
    ck_assert_uint_eq(b.ivlen, VT_GCM_NONCE_LEN);
    ck_assert_uint_eq(b.taglen, VT_GCM_TAG_LEN);
    ck_assert_uint_eq(b.ptlen, b.ctlen);
    return b;
}

START_TEST(test_gcm_kat_encrypt)
{
    const gcm_vector *v = &vectors[_i];
    gcm_bytes b = load_vector(v);
    unsigned char *ct = apr_pcalloc(vt_test_pool, b.ptlen + 1);
    unsigned char tag[VT_GCM_TAG_LEN];

    ck_assert_int_eq(vt_gcm_encrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.pt, b.ptlen, ct, tag),
                     VT_CRYPTO_OK);
    ck_assert_msg(memcmp(ct, b.ct, b.ptlen) == 0, "%s: ciphertext differs", v->name);
    ck_assert_msg(memcmp(tag, b.tag, VT_GCM_TAG_LEN) == 0, "%s: tag differs", v->name);
}
END_TEST

START_TEST(test_gcm_kat_decrypt)
{
    const gcm_vector *v = &vectors[_i];
    gcm_bytes b = load_vector(v);
    unsigned char *pt = apr_pcalloc(vt_test_pool, b.ctlen + 1);

    ck_assert_int_eq(vt_gcm_decrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.ct, b.ctlen, b.tag, pt),
                     VT_CRYPTO_OK);
    ck_assert_msg(memcmp(pt, b.pt, b.ctlen) == 0, "%s: plaintext differs", v->name);
}
END_TEST

/* Each flipped bit (tag, ciphertext, AAD, IV) is refused and the output buffer zeroed. */
START_TEST(test_gcm_kat_decrypt_tampered)
{
    const gcm_vector *v = &vectors[_i];
    gcm_bytes b = load_vector(v);
    unsigned char *pt = apr_palloc(vt_test_pool, b.ctlen + 1);
    unsigned char *zero = apr_pcalloc(vt_test_pool, b.ctlen + 1);

    b.tag[VT_GCM_TAG_LEN - 1] ^= 0x01;
    memset(pt, 0xa5, b.ctlen + 1);
    ck_assert_int_eq(vt_gcm_decrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.ct, b.ctlen, b.tag, pt),
                     VT_CRYPTO_EAUTH);
    ck_assert(memcmp(pt, zero, b.ctlen) == 0);
    b.tag[VT_GCM_TAG_LEN - 1] ^= 0x01;

    if (b.ctlen > 0) {
        b.ct[0] ^= 0x80;
        memset(pt, 0xa5, b.ctlen + 1);
        ck_assert_int_eq(
            vt_gcm_decrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.ct, b.ctlen, b.tag, pt),
            VT_CRYPTO_EAUTH);
        ck_assert(memcmp(pt, zero, b.ctlen) == 0);
        b.ct[0] ^= 0x80;
    }
    if (b.aadlen > 0) {
        b.aad[b.aadlen - 1] ^= 0x01;
        ck_assert_int_eq(
            vt_gcm_decrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.ct, b.ctlen, b.tag, pt),
            VT_CRYPTO_EAUTH);
        b.aad[b.aadlen - 1] ^= 0x01;
    }
    b.iv[5] ^= 0x10;
    ck_assert_int_eq(vt_gcm_decrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.ct, b.ctlen, b.tag, pt),
                     VT_CRYPTO_EAUTH);
    b.iv[5] ^= 0x10;
    /* Sanity: the untouched vector still opens. */
    ck_assert_int_eq(vt_gcm_decrypt_raw(b.key, b.iv, b.aad, b.aadlen, b.ct, b.ctlen, b.tag, pt),
                     VT_CRYPTO_OK);
}
END_TEST

static const unsigned char key_a[VT_AES_KEY_LEN] = {
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
    0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4};
static const unsigned char aad_a[] = "42";

static void roundtrip(const unsigned char *pt, apr_size_t ptlen)
{
    unsigned char *blob, *out;
    apr_size_t bloblen, outlen;

    ck_assert_int_eq(vt_seal(vt_test_pool, key_a, aad_a, 2, pt, ptlen, &blob, &bloblen),
                     VT_CRYPTO_OK);
    ck_assert_uint_eq(bloblen, ptlen + VT_SEAL_OVERHEAD);
    if (ptlen > 0)
        ck_assert(memcmp(blob + VT_GCM_NONCE_LEN, pt, ptlen) != 0);
    ck_assert_int_eq(vt_open(vt_test_pool, key_a, aad_a, 2, blob, bloblen, &out, &outlen),
                     VT_CRYPTO_OK);
    ck_assert_uint_eq(outlen, ptlen);
    ck_assert(memcmp(out, pt, ptlen) == 0);
    ck_assert_uint_eq(out[outlen], 0);
}

START_TEST(test_seal_roundtrip)
{
    static const unsigned char token[] = "auth-token-0123456789abcdef";
    unsigned char *big = apr_palloc(vt_test_pool, 4096);

    roundtrip(token, sizeof token - 1);
    roundtrip((const unsigned char *)"", 0);
    ck_assert_int_eq(vt_random_bytes(big, 4096), VT_CRYPTO_OK);
    roundtrip(big, 4096);
}
END_TEST

START_TEST(test_seal_fresh_nonce)
{
    static const unsigned char pt[] = "same plaintext";
    unsigned char *b1, *b2;
    apr_size_t l1, l2;

    ck_assert_int_eq(vt_seal(vt_test_pool, key_a, aad_a, 2, pt, sizeof pt - 1, &b1, &l1),
                     VT_CRYPTO_OK);
    ck_assert_int_eq(vt_seal(vt_test_pool, key_a, aad_a, 2, pt, sizeof pt - 1, &b2, &l2),
                     VT_CRYPTO_OK);
    ck_assert_uint_eq(l1, l2);
    ck_assert(memcmp(b1, b2, VT_GCM_NONCE_LEN) != 0);
    ck_assert(memcmp(b1 + VT_GCM_NONCE_LEN, b2 + VT_GCM_NONCE_LEN, l1 - VT_GCM_NONCE_LEN) != 0);
}
END_TEST

/* Expect rc from vt_open and, on failure, no plaintext at all. */
static void open_fails(const unsigned char *key, const unsigned char *aad, apr_size_t aadlen,
                       const unsigned char *blob, apr_size_t bloblen, vt_crypto_rc want)
{
    unsigned char *out = (unsigned char *)"sentinel";
    apr_size_t outlen = 99;

    ck_assert_int_eq(vt_open(vt_test_pool, key, aad, aadlen, blob, bloblen, &out, &outlen), want);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(outlen, 0);
}

START_TEST(test_open_tampered)
{
    static const unsigned char pt[] = "AC0123 secret token";
    unsigned char *blob;
    apr_size_t bloblen;
    unsigned char key_b[VT_AES_KEY_LEN];
    apr_size_t positions[3];

    ck_assert_int_eq(vt_seal(vt_test_pool, key_a, aad_a, 2, pt, sizeof pt - 1, &blob, &bloblen),
                     VT_CRYPTO_OK);
    positions[0] = 3;                                /* nonce */
    positions[1] = VT_GCM_NONCE_LEN + 4;             /* ciphertext */
    positions[2] = bloblen - 1;                      /* tag */
    for (int i = 0; i < 3; i++) {
        for (int bit = 0; bit < 8; bit++) {
            blob[positions[i]] ^= (unsigned char)(1u << bit);
            open_fails(key_a, aad_a, 2, blob, bloblen, VT_CRYPTO_EAUTH);
            blob[positions[i]] ^= (unsigned char)(1u << bit);
        }
    }
    /* Wrong associated data: another tenant's id, or none. */
    open_fails(key_a, (const unsigned char *)"43", 2, blob, bloblen, VT_CRYPTO_EAUTH);
    open_fails(key_a, (const unsigned char *)"420", 3, blob, bloblen, VT_CRYPTO_EAUTH);
    open_fails(key_a, NULL, 0, blob, bloblen, VT_CRYPTO_EAUTH);
    /* Wrong key. */
    memcpy(key_b, key_a, sizeof key_b);
    key_b[31] ^= 0x01;
    open_fails(key_b, aad_a, 2, blob, bloblen, VT_CRYPTO_EAUTH);
    /* Truncated: still long enough to parse, then shorter than nonce + tag. */
    open_fails(key_a, aad_a, 2, blob, bloblen - 1, VT_CRYPTO_EAUTH);
    open_fails(key_a, aad_a, 2, blob, VT_SEAL_OVERHEAD, VT_CRYPTO_EAUTH);
    open_fails(key_a, aad_a, 2, blob, VT_SEAL_OVERHEAD - 1, VT_CRYPTO_EFORMAT);
    open_fails(key_a, aad_a, 2, blob, 0, VT_CRYPTO_EFORMAT);
    open_fails(key_a, aad_a, 2, NULL, 0, VT_CRYPTO_EFORMAT);
    /* And the untouched blob still opens. */
    {
        unsigned char *out;
        apr_size_t outlen;
        ck_assert_int_eq(vt_open(vt_test_pool, key_a, aad_a, 2, blob, bloblen, &out, &outlen),
                         VT_CRYPTO_OK);
        ck_assert_str_eq((const char *)out, (const char *)pt);
    }
}
END_TEST

START_TEST(test_open_empty_tampered)
{
    unsigned char *blob;
    apr_size_t bloblen;

    ck_assert_int_eq(vt_seal(vt_test_pool, key_a, aad_a, 2, NULL, 0, &blob, &bloblen),
                     VT_CRYPTO_OK);
    ck_assert_uint_eq(bloblen, VT_SEAL_OVERHEAD);
    blob[VT_GCM_NONCE_LEN] ^= 0x01; /* first tag byte */
    open_fails(key_a, aad_a, 2, blob, bloblen, VT_CRYPTO_EAUTH);
}
END_TEST

/* Observes a buffer from a cleanup registered earlier than the wipe, so it runs after
 * the wipe but before the pool frees its memory. */
typedef struct {
    unsigned char **buf;
    apr_size_t *len;
    int checked, all_zero;
} observer;

static apr_status_t observe(void *data)
{
    observer *o = data;
    o->checked = 1;
    o->all_zero = 1;
    for (apr_size_t i = 0; i < *o->len + 1; i++)
        if ((*o->buf)[i] != 0)
            o->all_zero = 0;
    return APR_SUCCESS;
}

START_TEST(test_open_wipes_on_cleanup)
{
    static const unsigned char pt[] = "wipe me please";
    unsigned char *blob, *out = NULL;
    apr_size_t bloblen, outlen = 0;
    apr_pool_t *sub;
    observer o = {&out, &outlen, 0, 0};

    ck_assert_int_eq(vt_seal(vt_test_pool, key_a, aad_a, 2, pt, sizeof pt - 1, &blob, &bloblen),
                     VT_CRYPTO_OK);
    apr_pool_create(&sub, vt_test_pool);
    apr_pool_cleanup_register(sub, &o, observe, apr_pool_cleanup_null);
    ck_assert_int_eq(vt_open(sub, key_a, aad_a, 2, blob, bloblen, &out, &outlen), VT_CRYPTO_OK);
    ck_assert_str_eq((const char *)out, (const char *)pt);
    apr_pool_destroy(sub);
    ck_assert(o.checked);
    ck_assert(o.all_zero);
}
END_TEST

START_TEST(test_memzero_and_wipe)
{
    unsigned char buf[64], zero[64] = {0};
    apr_pool_t *sub;

    memset(buf, 0x5a, sizeof buf);
    vt_memzero(buf, sizeof buf);
    ck_assert(memcmp(buf, zero, sizeof buf) == 0);
    vt_memzero(NULL, 10); /* tolerated */

    /* buf outlives sub, so it can be inspected after the pool is gone. */
    memset(buf, 0x5a, sizeof buf);
    apr_pool_create(&sub, vt_test_pool);
    vt_wipe_on_cleanup(sub, buf, sizeof buf);
    ck_assert_uint_eq(buf[0], 0x5a);
    apr_pool_clear(sub);
    ck_assert(memcmp(buf, zero, sizeof buf) == 0);
    memset(buf, 0x5a, sizeof buf);
    apr_pool_destroy(sub); /* cleared pools forget their cleanups */
    ck_assert_uint_eq(buf[0], 0x5a);

    apr_pool_create(&sub, vt_test_pool);
    vt_wipe_on_cleanup(sub, buf, sizeof buf);
    apr_pool_destroy(sub);
    ck_assert(memcmp(buf, zero, sizeof buf) == 0);
}
END_TEST

START_TEST(test_random_and_strerror)
{
    unsigned char a[32], b[32];

    ck_assert_int_eq(vt_random_bytes(a, sizeof a), VT_CRYPTO_OK);
    ck_assert_int_eq(vt_random_bytes(b, sizeof b), VT_CRYPTO_OK);
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert_int_eq(vt_random_bytes(a, 0), VT_CRYPTO_OK);
    ck_assert_ptr_nonnull(strstr(vt_crypto_strerror(VT_CRYPTO_EAUTH), "authentication"));
    ck_assert_ptr_nonnull(strstr(vt_crypto_strerror(VT_CRYPTO_EFORMAT), "short"));
    ck_assert_ptr_nonnull(vt_crypto_strerror(VT_CRYPTO_OK));
    ck_assert_ptr_nonnull(vt_crypto_strerror(VT_CRYPTO_EINTERNAL));
}
END_TEST

Suite *vt_suite_crypto(void)
{
    Suite *s = suite_create("crypto");
    TCase *kat = tcase_create("gcm-kat");
    TCase *seal = tcase_create("seal");

    tcase_add_checked_fixture(kat, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_loop_test(kat, test_gcm_kat_encrypt, 0, NVECTORS);
    tcase_add_loop_test(kat, test_gcm_kat_decrypt, 0, NVECTORS);
    tcase_add_loop_test(kat, test_gcm_kat_decrypt_tampered, 0, NVECTORS);
    suite_add_tcase(s, kat);

    tcase_add_checked_fixture(seal, vt_test_pool_setup, vt_test_pool_teardown);
    tcase_add_test(seal, test_seal_roundtrip);
    tcase_add_test(seal, test_seal_fresh_nonce);
    tcase_add_test(seal, test_open_tampered);
    tcase_add_test(seal, test_open_empty_tampered);
    tcase_add_test(seal, test_open_wipes_on_cleanup);
    tcase_add_test(seal, test_memzero_and_wipe);
    tcase_add_test(seal, test_random_and_strerror);
    suite_add_tcase(s, seal);
    return s;
}
