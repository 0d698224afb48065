/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_util(void)
{
    return suite_create("util");
}
