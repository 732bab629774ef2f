/* What the actuators hold about a workload and the host (settings, counters,
 * moves under way), as the sampler copies it into each snapshot, so that fs/
 * renders from the snapshot alone. The types live here, below the actuators:
 * the actuators fill them through the source they register with the sampler
 * (sampler_set_actuator_source), and collectors never call actuators. */
#pragma once

#include "recipe.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Why a page-in started no read-back (PF_SKIP_NONE: it started one). */
enum prefetch_skip {
	PF_SKIP_NONE,
	PF_SKIP_COOLDOWN,		/* too soon after the last trigger */
	PF_SKIP_THRASH,			/* the container was thrashing */
	PF_SKIP_RUNNING,		/* the last read-back is still running */
	PF_SKIP_EMPTY,			/* no sibling has memory in swap */
	PF_SKIP_BUDGET,			/* no room below its limits, none to make */
	PF_SKIP_CONTESTED,		/* a neighbour is filling the ancestor's room */
	PF_SKIP_PUSHED,			/* a few faults while it was being pushed to swap */
};

/* The last read-back. */
struct prefetch_last {
	pid_t pid;			/* the process whose page-in started it */
	char comm[16];
	uint64_t asked;			/* bytes planned */
	uint64_t read;			/* bytes back so far */
	uint64_t room;			/* bytes reclaimed from idle siblings first */
	uint64_t first_usec;		/* first chunk back, after the trigger */
	uint64_t usec;			/* the whole read-back; 0 while it runs */
};

struct prefetch_stats {
	uint64_t triggers;		/* page-ins that started a read-back */
	uint64_t bytes;			/* swapped bytes of siblings asked back */
	uint64_t bytes_read;		/* ... and brought back */
	uint64_t skipped_budget;	/* no headroom (or rate) left, or cut short */
	uint64_t skipped_cooldown;	/* too soon after the last one */
	uint64_t skipped_thrash;	/* the container was thrashing */
	uint64_t skipped_running;	/* the last read-back still ran */
	uint64_t skipped_empty;		/* nothing of the siblings in swap */
	uint64_t skipped_contested;	/* a neighbour was filling the room */
	uint64_t skipped_pushed;	/* a few faults while it was pushed to swap */
	uint64_t sibling_faults;	/* siblings' major faults within the window after triggers */
	bool have_last;
	struct prefetch_last last;
	enum prefetch_skip last_skipped;	/* of the last page-in looked at */
	pid_t last_skipped_pid;
};

/* Moves to peers since start. */
struct migrate_stats {
	uint64_t done, failed;
	uint64_t active;		/* moves under way now */
	uint64_t postcopy;		/* moves that switched to post-copy */
	uint64_t throttled;		/* moves whose guest auto-converge slowed */
	uint64_t last_total_usec, last_downtime_usec;
};

/* A move under way, as its engine last reported it (QEMU: query-migrate,
 * every poll; LXC: the phase only), for NAME/migration. */
struct migrate_progress {
	char host[64];
	char phase[32];			/* QEMU's status, or the LXC move's phase */
	uint64_t start_usec;		/* monotonic */
	uint64_t sent_bytes, remaining_bytes, total_bytes;
	uint64_t dirty_bytes_per_sec, bandwidth_bytes_per_sec;
	uint64_t expected_downtime_usec;
	uint64_t passes;		/* QEMU's dirty-sync-count */
	unsigned throttle_percent;	/* auto-converge's hold on the guest's CPUs */
	bool live;			/* QEMU's figures are there */
};

/* One workload's actuator state. Zeroed, it is what a workload no actuator
 * knows shows: its engine's mode, no prefetch, no move. */
struct wl_act {
	enum recipe_mode mode;		/* the mode setting (auto for a discovered workload under the policy) */
	bool prefetch_on;
	bool have_prefetch;		/* it ever had prefetch on: prefetch holds its counters */
	struct prefetch_stats prefetch;
	const char *prefetch_last_skipped;	/* name of prefetch.last_skipped (static string) */
	bool moving;			/* a move to a peer is under way: move is it */
	struct migrate_progress move;
	uint64_t move_elapsed_usec;	/* since the move started, when the snapshot was taken */
};

/* The host's actuator state. */
struct host_act {
	char host_name[64];		/* this host's name, as placement host= takes it */
	struct migrate_stats migrations;
};

struct wl_view;

/* Read-only hooks into the actuators; each takes the actuators' own locks
 * briefly and must not wait for the sampler. */
struct actuator_source {
	void (*workload)(const struct wl_view *w, struct wl_act *out);
	void (*host)(struct host_act *out);
};
