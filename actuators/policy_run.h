/* The policy thread ("adapt-policy"): every [policy] interval it takes the
 * current snapshot, runs policy_decide() (policy.h) over the workloads set
 * to auto, writes each decision to events with its reason and applies it:
 * moves as a placement host=PEER write would, mode switches of managed
 * workloads (recipes) as managed_switch() does. */
#pragma once

#include "config.h"

#include <stdbool.h>

/* Copy the [policy] section and the paths it needs (at start, on SIGHUP). */
void policy_configure(const struct config *cfg);
int policy_start(void);
void policy_stop(void);
