/* placeholder: implemented in a following commit */
#include "vt_stream_msg.h"
typedef int vt_stream_msg_placeholder_t;
