/* Which workloads are set to auto (mode file): the policy may act on them.
 * By workload name, so that whoever names a workload (control files, managed
 * workloads) can set it. Thread-safe. The setting is per host: a workload
 * moved to a peer arrives there without it. */
#pragma once

#include "snapshot.h"

#include <stdbool.h>

/* Set or clear; returns whether it changed. */
bool policy_set_auto(const char *name, bool on);
bool policy_auto(const char *name);
/* Forget the names that are no longer in s (a new workload of an old name
 * starts without auto). */
void policy_auto_prune(const struct snapshot *s);
void policy_auto_clear(void);
