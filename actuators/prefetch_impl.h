/* Inside the prefetch engine: a container's state, and the steps of its
 * tick that read the host (exposed for tests/unit/test_prefetch_scan.c). */
#pragma once

#include "prefetch.h"
#include "prefetch_policy.h"
#include "prefetch_readback.h"

#include <limits.h>

#define MAX_PROCS 256

struct proc_seen {
	pid_t pid;
	uint64_t majflt;
	uint64_t burst;			/* major faults since its last quiet spell */
	uint64_t burst_at;		/* ... the last of which was counted then */
	char comm[COMM_LEN];
};

/* Owned by the engine thread, which alone frees it; on and stats are also
 * read and written by others, under the lock. */
struct pf_state {
	uint64_t wid;
	bool on;
	bool seen;			/* still in the snapshot this tick */
	bool polled;			/* on at the engine's last plan */
	char *ident;			/* its line in the kept settings; NULL: never written */
	struct prefetch_stats stats;
	char key[PATH_MAX];		/* the container's cgroup, for the unlocked tick */
	struct prefetch_learn learn;
	struct proc_seen procs[MAX_PROCS];
	size_t n_procs;
	uint64_t cg_majflt;		/* the cgroup's total at the last tick */
	uint64_t cooldown_until, window_until;
	pid_t trigger_pid;
	uint64_t swap_at_end;		/* the container's swap when its read-back ended */
	uint64_t usage_seen, usage_seen_at;	/* its memory at the engine's last look, and when */
	uint64_t pushed_at;		/* when a look found it had shrunk */
	char trigger_comm[COMM_LEN];
	bool followed[MAX_PROCS];	/* already learned as a follower this window */
	double tokens;
	uint64_t tokens_at;
	struct rb_job job;		/* the read-back under way, if any */
	struct prefetch_last rec;	/* ... and its record */
	char job_up[PATH_MAX];		/* ... the limited ancestor it fills ("": none) */
	bool job_stopped;		/* ... stopped: a neighbour filled that ancestor */
	uint64_t job_waited;		/* ... after its page-in waited this long for room */
	char why[256];			/* the last turn-down for room, in words */
	pid_t defer_pid;		/* a page-in waiting for room, since defer_since */
	uint64_t defer_since, defer_next;
	struct {			/* neighbours' memory as last read: their growth */
		uint64_t hash, usage, at;
		double rate;		/* bytes/s at the last reading */
	} neighbours[8];
	unsigned neighbours_next;
	uint64_t watched_seq;		/* the sample they were last read at */
	unsigned job_siblings;
	char name[256];			/* the workload's, for events */
	uint64_t note_at;		/* last event line; at most one a second */
	char pending[384];		/* the line waiting for its turn */
	unsigned folded;		/* lines left out since */
	struct pf_state *next;
};

/* Refresh the per-process fault counters of the container at rel (its
 * cgroup, relative to the hierarchy); returns the pid with the largest
 * increase (0 if none) and accounts siblings' faults in an open window. */
pid_t prefetch_scan_processes(struct pf_state *s, const char *rel, uint64_t now,
			      struct prefetch_stats *d);
/* Bytes the container at rel may have read back now: room below its memory
 * limit (the host's MemAvailable without one) less the margin, capped by
 * its rate limit's tokens, which it refills. */
uint64_t prefetch_budget_now(struct pf_state *s, const char *rel);
/* Whether the container at rel was pushed out lately: its memory shrank
 * since an earlier look, up to a second before now; says so in s->why. */
bool prefetch_pushed(struct pf_state *s, const char *rel, uint64_t now);
