/* Sibling swap prefetch (the second paper): when one process of a container
 * pages in, read the swapped-out memory of its sibling processes back and
 * map it (prefetch_readback.h) before they fault on it. */
#pragma once

#include "actstate.h"
#include "config.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stdint.h>

const char *prefetch_skip_name(enum prefetch_skip why);

/* The engine, for cfg's [prefetch], cgroup_root and proc_root. */
int prefetch_start(const struct config *cfg);
void prefetch_stop(void);

bool prefetch_enabled(const struct wl_view *w);
/* Returns whether the setting changed. */
bool prefetch_set(const struct wl_view *w, bool on);
/* false if the workload never had prefetch on. */
bool prefetch_get_stats(uint64_t wid, struct prefetch_stats *out);
