/* placement cpus=: pin a workload to CPUs. Containers through cpuset (v1:
 * the workload's cpuset cgroup, created with its parent's CPUs and memory
 * nodes where the engine made none; v2: cpuset.cpus), VMs by pinning their
 * vCPU threads as virsh vcpupin does. */
#pragma once

#include "snapshot.h"

#include <sched.h>

int placement_init(const char *cgroup_root);
void placement_fini(void);
/* The host's online CPUs. */
int placement_online_cpus(cpu_set_t *set);
/* 0 or -errno; on failure the workload's CPUs are as they were. */
int placement_pin(const struct wl_view *w, const cpu_set_t *cpus);
