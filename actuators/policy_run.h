/* The policy thread ("adapt-policy"): every [policy] interval it takes the
 * current snapshot, runs policy_decide() (policy.h) over the workloads set
 * to auto, writes each decision to events with its reason and applies it:
 * moves as a placement host=PEER write would, mode switches through the
 * managed workloads' hook. */
#pragma once

#include "config.h"

#include <stdbool.h>

/* What managed workloads (recipes) provide: which workloads have a
 * container and a VM mode, and the switch. Without apply (or without these
 * ops at all) a mode decision is only logged as recommended. */
struct policy_mode_ops {
	bool (*managed)(const char *name);
	int (*apply)(const char *name, bool vm, const char *reason);	/* 0 or -errno */
};
void policy_set_mode_ops(const struct policy_mode_ops *ops);

/* Copy the [policy] section and the paths it needs (at start, on SIGHUP). */
void policy_configure(const struct config *cfg);
int policy_start(void);
void policy_stop(void);
