/* Which discovered workloads are set to auto (mode file): the policy may
 * move them. By workload id, never reused: a workload that takes the name
 * of one that went starts without auto. Thread-safe. The setting is per
 * host: a workload moved to a peer arrives there without it. */
#pragma once

#include "snapshot.h"

#include <stdbool.h>
#include <stdint.h>

/* Set or clear; returns whether it changed. */
bool policy_set_auto(uint64_t id, bool on);
bool policy_auto(uint64_t id);
/* Forget the workloads that are no longer in s. */
void policy_auto_prune(const struct snapshot *s);
void policy_auto_clear(void);
