/* placeholder: implemented in a following commit */
#include "vt_audio.h"
typedef int vt_audio_placeholder_t;
