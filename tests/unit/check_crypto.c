/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_crypto(void)
{
    return suite_create("crypto");
}
