/* placeholder: implemented in a follow-up */
#include "vt_crypto.h"
