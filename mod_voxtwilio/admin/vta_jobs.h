/* vta_jobs — voxtwilio-admin's `jobs` verb (vta_jobs.c). */
#ifndef VTA_JOBS_H
#define VTA_JOBS_H

#include "vta.h"

/* jobs list [--failed] [--limit N] */
int vta_cmd_jobs(vta_ctx_t *c, int argc, char **argv);

#endif
