#include "vt_voice.h"
