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
/* Publish a new snapshot now (workloads' placement re-read, counters kept)
 * and wait until it is current, so that a control file reads back what a
 * write just did. 0, or -ETIMEDOUT after timeout_ms. */
int sampler_refresh(int timeout_ms);

/* Workload directory names: engine names made safe for a path component. */
void workload_name_sanitize(const char *in, char *out, size_t size);
