/* The actuator job queue: actions run on worker threads, never on the FUSE
 * threads; one action per workload at a time. */
#pragma once

#include <stdint.h>

struct job {
	uint64_t wid;			/* workload the job acts on */
	int (*run)(struct job *job);	/* 0 or -errno */
	void (*done)(void *ctx, int err);
	void *ctx;
	void *arg;			/* owned by the job, freed after done */
	struct job *next;
};

/* Queue job (copied). -EBUSY if an action on job->wid is queued or running. */
int jobs_submit(const struct job *job);
int jobs_start(unsigned workers);
void jobs_stop(void);
