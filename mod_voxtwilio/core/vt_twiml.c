#include "vt_twiml.h"
