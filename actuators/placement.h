/* placement cpus=: pin a workload to CPUs. Containers through cpuset (v1:
 * the workload's cpuset cgroup, created with its parent's CPUs and memory
 * nodes where the engine made none; v2: cpuset.cpus), VMs by pinning their
 * vCPU threads as virsh vcpupin does. */
#pragma once

#include "config.h"
#include "snapshot.h"

#include <sched.h>

/* Pins go through actuator_layout() and cfg's proc_root, as at start. */
void placement_init(const struct config *cfg);
/* Where a v1 pin is journaled (STATE_DIR/journal/pin-HASH): intent before
 * the first change, removed when done. */
void placement_set_state_dir(const char *state_dir);
/* At start, before any pin: complete each pin a killed daemon left open,
 * or, if its workload is gone, remove what it made. */
void placement_recover(void);
void placement_fini(void);
/* The host's online CPUs. */
int placement_online_cpus(cpu_set_t *set);
/* 0 or -errno; on failure the workload's CPUs are as they were. */
int placement_pin(const struct wl_view *w, const cpu_set_t *cpus);
