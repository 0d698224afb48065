/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_signature(void)
{
    return suite_create("signature");
}
