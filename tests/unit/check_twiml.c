/* placeholder suite */
#include "vt_suites.h"
Suite *vt_suite_twiml(void)
{
    return suite_create("twiml");
}
