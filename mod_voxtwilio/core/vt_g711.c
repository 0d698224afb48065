/* placeholder: implemented in a following commit */
#include "vt_g711.h"
typedef int vt_g711_placeholder_t;
