/* Writes to a workload's control files (mode, prefetch), off the screen's thread: adaptfs
 * returns from a write only when the action is done, which can take seconds. */
#pragma once

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Write VALUE and a newline to MOUNT/NAME/FILE in one write(). Returns 0 or -errno from
 * open, write or close (adaptfs reports a refused action at write or at close). */
int control_write(const char *mount, const char *name, const char *file, const char *value);

/* The value the viewer's keys write: mode cycles container -> vm -> auto -> container
 * (unknown -> container); prefetch toggles on -> off, anything else -> on. */
const char *control_next_mode(const char *current);
const char *control_toggle_prefetch(const char *current);

enum control_state { CONTROL_IDLE, CONTROL_RUNNING, CONTROL_DONE };

/* One write in flight at a time. */
struct control_job {
	pthread_t thread;
	atomic_int state;
	int err;			/* 0 or -errno, valid in CONTROL_DONE */
	char mount[PATH_MAX], name[256], file[32], value[32];
};

/* Start writing VALUE to MOUNT/NAME/FILE in a thread. Returns 0, or -EBUSY while the
 * previous write runs. */
int control_start(struct control_job *j, const char *mount, const char *name, const char *file,
		  const char *value);
/* Once the write is done: true, its result in *ERR, and the job idle again. */
bool control_poll(struct control_job *j, int *err);
