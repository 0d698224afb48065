/* vt_form — strict application/x-www-form-urlencoded parsing (untrusted input; fuzzed).
 *
 * Pairs keep their order and duplicates. '+' decodes to space, %XY must be two hex
 * digits, a decoded NUL byte or invalid UTF-8 (overlong, surrogate, cut short) is
 * rejected, a pair without '=' is a name with an empty value, empty pairs ("a=1&&b=2") are
 * skipped. Limits: at most max_params pairs.
 */
#ifndef VT_FORM_H
#define VT_FORM_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct vt_param {
    const char *name;
    const char *value;
} vt_param_t;

typedef enum {
    VT_FORM_OK = 0,
    VT_FORM_EBADESCAPE, /* '%' not followed by two hex digits */
    VT_FORM_ENUL,       /* decoded NUL byte */
    VT_FORM_ETOOMANY,   /* more than max_params pairs */
    VT_FORM_EEMPTYNAME, /* "=value" */
    VT_FORM_EUTF8       /* a decoded name or value that is not UTF-8 */
} vt_form_rc;

/* Parse body[0..len) into *params (array of vt_param_t, allocated in p). */
vt_form_rc vt_form_parse(apr_pool_t *p, const char *body, apr_size_t len, int max_params,
                         apr_array_header_t **params);
const char *vt_form_strerror(vt_form_rc rc);

/* Percent-decode one component (also '+' -> ' '). NULL on a bad escape or a NUL byte. */
char *vt_form_decode(apr_pool_t *p, const char *s, apr_size_t len);

/* First value of name, or NULL. */
const char *vt_params_get(const apr_array_header_t *params, const char *name);
/* Append a pair (used by clients that build requests: simulator, tests). */
void vt_params_add(apr_array_header_t *params, const char *name, const char *value);
/* Encode params as a form body ("a=1&b=x+y"), in the given order. */
char *vt_form_encode(apr_pool_t *p, const apr_array_header_t *params);

#endif
