/* The sampler thread: discovers workloads, samples them every interval and
 * publishes an immutable snapshot. The only writer of snapshots. */
#pragma once

#include "config.h"

/* Takes ownership of cfg. Builds and publishes the first snapshot before
 * returning, so a mount never shows an empty tree by accident. */
int sampler_start(struct config *cfg);
/* Hand over a new configuration (SIGHUP); applied before the next sweep. */
void sampler_reload(struct config *cfg);
void sampler_stop(void);

/* Workload directory names: engine names made safe for a path component. */
void workload_name_sanitize(const char *in, char *out, size_t size);
