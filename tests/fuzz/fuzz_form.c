/* libFuzzer target for vt_form: parse arbitrary bytes; whatever parses must survive an
 * encode -> parse round trip unchanged, and re-encoding must be stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include "vt_form.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    return 0;
}

static void vt_fuzz_same_pairs(const apr_array_header_t *a, const apr_array_header_t *b)
{
    if (a->nelts != b->nelts)
        abort();
    for (int i = 0; i < a->nelts; i++) {
        const vt_param_t *x = &APR_ARRAY_IDX(a, i, vt_param_t);
        const vt_param_t *y = &APR_ARRAY_IDX(b, i, vt_param_t);
        if (strcmp(x->name, y->name) != 0 || strcmp(x->value, y->value) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        abort();
    const char *body = (const char *)data;

    apr_array_header_t *params = NULL;
    vt_form_rc rc = vt_form_parse(p, body, size, 256, &params);
    if (rc == VT_FORM_OK) {
        if (params == NULL || params->nelts > 256)
            abort();
        for (int i = 0; i < params->nelts; i++) {
            const vt_param_t *pr = &APR_ARRAY_IDX(params, i, vt_param_t);
            if (pr->name == NULL || pr->value == NULL || pr->name[0] == '\0')
                abort();
        }
        char *enc = vt_form_encode(p, params);
        apr_array_header_t *again = NULL;
        if (vt_form_parse(p, enc, strlen(enc), 256, &again) != VT_FORM_OK)
            abort();
        vt_fuzz_same_pairs(params, again);
        if (strcmp(vt_form_encode(p, again), enc) != 0)
            abort();
        if (params->nelts > 0 && vt_params_get(params, APR_ARRAY_IDX(params, 0, vt_param_t).name)
                                     != APR_ARRAY_IDX(params, 0, vt_param_t).value)
            abort();
    }
    else if (params != NULL || vt_form_strerror(rc) == NULL) {
        abort();
    }

    /* Whole-input decode: never longer than the input, never an embedded NUL. */
    char *dec = vt_form_decode(p, body, size);
    if (dec != NULL && strlen(dec) > size)
        abort();

    apr_pool_destroy(p);
    return 0;
}
