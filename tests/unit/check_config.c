/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_config(void)
{
    return suite_create("config");
}
