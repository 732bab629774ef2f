/* Sibling swap prefetch (the second paper): when one process of a container
 * pages in, read the swapped-out memory of its sibling processes back into
 * the swap cache (process_madvise MADV_WILLNEED) before they fault on it. */
#pragma once

#include "config.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stdint.h>

struct prefetch_stats {
	uint64_t triggers;		/* page-ins that started a prefetch */
	uint64_t bytes;			/* swapped bytes asked back */
	uint64_t skipped_budget;	/* no headroom (or rate) left */
	uint64_t skipped_cooldown;	/* too soon after the last one */
	uint64_t skipped_thrash;	/* the container was thrashing */
	uint64_t sibling_faults;	/* siblings' major faults within the window after triggers */
};

int prefetch_start(const struct prefetch_config *cfg, const char *cgroup_root);
void prefetch_stop(void);

bool prefetch_enabled(const struct wl_view *w);
/* Returns whether the setting changed. */
bool prefetch_set(const struct wl_view *w, bool on);
/* false if the workload never had prefetch on. */
bool prefetch_get_stats(uint64_t wid, struct prefetch_stats *out);
