/* The read-back of one prefetch trigger, off the engine thread.
 *
 * The engine plans it: the siblings' swapped pages, run by run, from their
 * page maps, in the engine's order, and the room to make first under a full
 * ancestor. A worker process, in the trigger's CPU cgroups so that the
 * container's own CPU weight pays for it, then does it: one process takes
 * the room from idle sibling cgroups in a few large reclaims, while readers
 * (one per CPU) go through the plan a chunk at a time, asking the next chunk
 * back (MADV_WILLNEED) before mapping the current one into its owner
 * (process_vm_readv), so that the first pages are back in milliseconds and
 * the owners take no fault at all. Under a full ancestor the readers keep
 * behind the room made so far. */
#pragma once

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define RB_MAX_RUNS 65536
#define RB_MAX_ROOM 8
#define RB_MAX_JOIN 4
#define RB_CHUNK_BYTES (4u << 20)
#define RB_MAX_READERS 4

struct rb_run {
	pid_t pid;
	bool map;		/* map it too; false: shmem whose page map shows no swap */
	uintptr_t start;
	uint64_t len;
};

/* Bytes to reclaim from one idle sibling cgroup before the pages come in. */
struct rb_room {
	char dir[PATH_MAX];	/* its directory in the memory hierarchy */
	bool v2;		/* memory.reclaim; v1: its limit lowered, then restored */
	uint64_t bytes;
	uint64_t limit;		/* v1: the limit to restore */
};

struct rb_plan {
	struct rb_run *runs;	/* RB_MAX_RUNS, owned by the caller */
	size_t n;
	uint64_t bytes;
	struct rb_room room[RB_MAX_ROOM];
	size_t n_room;
	uint64_t room_free;	/* with room to make: what fits before any is made */
	char join[RB_MAX_JOIN][PATH_MAX];	/* cgroup.procs files the worker joins */
	size_t n_join;
};

/* Written by the worker, read by the engine: shared memory. */
struct rb_progress {
	_Atomic uint64_t read;		/* bytes back: mapped, or asked (map false) */
	_Atomic uint64_t room;		/* bytes reclaimed from idle siblings */
	_Atomic uint64_t first_usec;	/* first chunk back, after the start */
	_Atomic uint64_t asked;		/* bytes whose reads were started */
	_Atomic bool room_made;		/* every room taken that will be */
};

struct rb_job {
	pid_t pid;			/* the worker; 0 when none runs */
	struct rb_progress *progress;
	uint64_t started_usec;
	struct rb_room room[RB_MAX_ROOM];	/* v1 limits to check at the end */
	size_t n_room;
};

/* The bytes pid has in swap (smaps' Swap: of its mappings under proc_root). */
uint64_t readback_swap_bytes(const char *proc_root, pid_t pid);
/* Append the swapped pages of pid's mappings to the plan, at most budget
 * bytes, in address order; returns the bytes added. */
uint64_t readback_plan_process(struct rb_plan *p, const char *proc_root, pid_t pid, uint64_t budget);
/* Keep only the first bytes of the plan. */
void readback_plan_truncate(struct rb_plan *p, uint64_t bytes);
/* The CPU cgroups of pid (v2: its cgroup) for the worker to join. */
void readback_plan_join(struct rb_plan *p, const char *proc_root, const char *cgroup_root, bool v2,
			pid_t pid);

/* Start the worker; 0 or -errno. */
int readback_start(const struct rb_plan *p, struct rb_job *job);
/* Whether the job has ended (wait: kill it first and wait). A v1 limit the
 * worker lowered is put back if it was left lowered. */
bool readback_reap(struct rb_job *job, bool kill_first);
