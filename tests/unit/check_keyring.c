/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_keyring(void)
{
    return suite_create("keyring");
}
