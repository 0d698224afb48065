/* libFuzzer target for vt_spool_record_decode (the outage spool's files, which carry
 * webhooks exactly as they were received): arbitrary bytes either fail with a reason or
 * give a record with its route, URL and body; and such a record, encoded again, decodes to
 * the same values (what the module writes, the helper reads back unchanged). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "vt_spool_record.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static int same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    vt_spool_record_t rec, again;
    const char *why = NULL, *doc;

    apr_pool_create(&p, NULL);
    if (vt_spool_record_decode(p, (const char *)data, size, &rec, &why) != APR_SUCCESS) {
        if (!why)
            abort();
        apr_pool_destroy(p);
        return 0;
    }
    if (!rec.route || !rec.url || !rec.body || rec.body[rec.body_len] != '\0'
        || rec.body_len > VT_SPOOL_MAX_BODY)
        abort();
    doc = vt_spool_record_encode(p, &rec, apr_time_now());
    if (vt_spool_record_decode(p, doc, strlen(doc), &again, &why) != APR_SUCCESS)
        abort();
    if (!same(rec.route, again.route) || !same(rec.url, again.url)
        || !same(rec.signature, again.signature)
        || !same(rec.idempotency_token, again.idempotency_token)
        || !same(rec.content_type, again.content_type) || !same(rec.tenant, again.tenant)
        || rec.body_len != again.body_len || memcmp(rec.body, again.body, rec.body_len) != 0)
        abort();
    apr_pool_destroy(p);
    return 0;
}
