/* The cgroup layout the actuators act through (pinning, prefetch, LXC
 * migration, the policy's grouping): detected once, at start, under
 * cgroup_root; a reload keeps it (adaptfs.conf(5)). The collectors have
 * theirs in their backend_env, detected again on each reload. */
#pragma once

#include "cgroup.h"

/* 0, or -ENOENT when there is no cgroup hierarchy under cgroup_root. */
int actuator_layout_init(const char *cgroup_root);
/* From init to fini; NULL when init found no hierarchy. */
const struct cgroup_layout *actuator_layout(void);
/* After the last actuator stopped. */
void actuator_layout_fini(void);
