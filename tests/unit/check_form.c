/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_form(void)
{
    return suite_create("form");
}
