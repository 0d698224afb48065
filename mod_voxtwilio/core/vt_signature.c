/* placeholder: implemented in a follow-up */
#include "vt_signature.h"
