/* Managed workloads as the sampler sees them. The actuator that runs them
 * (actuators/managed.c) writes one state file per workload,
 * RUN_DIR/workloads/NAME/state; the managed backend lists and samples
 * from those. Everything a managed workload is made of (runc id, cgroup,
 * QEMU -name, netns) is named MANAGED_PREFIX + NAME, and the containers and
 * QEMU backends skip that prefix, so no workload is shown twice. */
#pragma once

#include "recipe.h"
#include "strbuf.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MANAGED_PREFIX "adaptfs-"
/* Room for any cpuset list of CPUs below CPU_SETSIZE ("0,2,...,1022"). */
#define MANAGED_CPUS_MAX 2048
/* Room for a whole state file. */
#define MANAGED_STATE_MAX 4096

struct managed_state {
	bool vm;
	bool running;
	pid_t pid;			/* container init or QEMU; 0 if none */
	uint64_t pid_start;		/* its start time (clock ticks after boot): a
					 * later adaptfs adopts this process, never a
					 * reuse of its pid */
	char cgroup[160];		/* the container's cgroup path, "" for a VM */
	uint64_t switches;		/* completed switches between modes */
	uint64_t downtime_usec;		/* of the last one; 0 before the first */
	enum recipe_mode setting;	/* the mode file's setting, kept across restarts */
	char cpus[MANAGED_CPUS_MAX];	/* placement cpus= (a cpuset list), "" unpinned:
					 * kept across switches and restarts */
	/* the last switch, split: old side quiesced, address handed over, new
	 * side ready (their sum is downtime_usec); warm if a standby served */
	uint64_t quiesce_usec, handover_usec, ready_usec;
	bool warm;
	struct managed_standby {	/* the other mode's instance, kept prepared */
		bool present;
		bool vm;
		bool ready;		/* paused at its go (VM), created (container) */
		pid_t pid;		/* QEMU or the container's waiting init */
		uint64_t pid_start;
		char cgroup[160];	/* where its memory and CPU are counted */
	} standby;
};

/* The cgroup of NAME's runc container (/MANAGED_PREFIX NAME, runc's
 * cgroupsPath) or of its QEMU (the same with .vm), relative to each
 * hierarchy: apart, so that a standby of one mode runs beside the other.
 * 0, or -ENAMETOOLONG (never cut). */
int managed_cgroup(const char *name, bool vm, char *out, size_t size);

/* The state file: flat keyed, "kind container|vm", "running 0|1", "pid N",
 * "pid_start N", "cgroup PATH" (containers), "switches N", "downtime_usec N",
 * "setting container|vm|auto" (absent: container), "cpus LIST" (absent:
 * unpinned), "quiesce_usec N",
 * "handover_usec N", "ready_usec N", "warm 0|1", and with a standby
 * "standby vm|container", "standby_ready 0|1", "standby_pid N",
 * "standby_pid_start N", "standby_cgroup PATH". Pure. */
int managed_state_parse(const char *text, struct managed_state *out);
void managed_state_format(const struct managed_state *s, struct strbuf *out);
