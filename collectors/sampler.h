/* The sampler thread: discovers workloads, samples them every interval and
 * publishes an immutable snapshot. The only writer of snapshots. */
#pragma once

#include "actstate.h"
#include "config.h"

#include <stdbool.h>
#include <stdint.h>

/* Takes ownership of cfg. Builds and publishes the first snapshot before
 * returning, so a mount never shows an empty tree by accident. */
int sampler_start(struct config *cfg);
/* Hand over a new configuration (SIGHUP); applied before the next sweep. */
void sampler_reload(struct config *cfg);
void sampler_stop(void);
/* Is the sampler keeping to its schedule: did its last full round end at
 * most one interval plus slack_usec ago? For the watchdog; any thread. */
bool sampler_on_schedule(uint64_t slack_usec);
/* Publish a new snapshot now (workloads' placement re-read, counters kept)
 * and wait until it is current, so that a control file reads back what a
 * write just did. 0, or -ETIMEDOUT after timeout_ms. */
int sampler_refresh(int timeout_ms);

/* The actuators' state goes into every snapshot from now on through src
 * (static; NULL to stop). The actuators register it before the sampler
 * starts: collectors never call actuators by name. */
void sampler_set_actuator_source(const struct actuator_source *src);

/* Workload directory names: engine names made safe for a path component. */
void workload_name_sanitize(const char *in, char *out, size_t size);
