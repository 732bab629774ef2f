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
};

/* The state file: flat keyed, "kind container|vm", "running 0|1", "pid N",
 * "pid_start N", "cgroup PATH" (containers), "switches N", "downtime_usec N",
 * "setting container|vm|auto" (absent: container). Pure. */
int managed_state_parse(const char *text, struct managed_state *out);
void managed_state_format(const struct managed_state *s, struct strbuf *out);
