/* placeholder: implemented in a following commit */
#include "vt_realtime.h"
typedef int vt_realtime_placeholder_t;
