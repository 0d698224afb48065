#include "vt_log.h"
