/* Sibling swap prefetch, the decisions: which siblings to read back first
 * (learned per container: who faults after whom), and how much may be read
 * back now (the budget). Pure functions, table-tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LEARN_NAMES 16
#define COMM_LEN 16

/* follows[a][b]: times process name b took major faults within the window
 * after a's page-in triggered a prefetch. Names, not pids: a restarted
 * database is still the database. */
struct prefetch_learn {
	char names[LEARN_NAMES][COMM_LEN];
	unsigned follows[LEARN_NAMES][LEARN_NAMES];
	unsigned n;
};

struct prefetch_target {
	pid_t pid;
	char comm[COMM_LEN];
	uint64_t swap_bytes;
	bool faulter;		/* the process that paged in: its own memory too */
};

/* Index of comm, added if new; -1 when the table is full. */
int learn_index(struct prefetch_learn *l, const char *comm);
void learn_follow(struct prefetch_learn *l, const char *trigger, const char *follower);
/* Order targets: most often faulting next after trigger first, then the
 * faulting process itself, then the most swapped-out. */
void prefetch_order(const struct prefetch_learn *l, const char *trigger,
		    struct prefetch_target *t, size_t n);

/* Bytes that may be brought back now: what fits under the container's
 * limit with margin to spare, and no more than the rate limit's tokens.
 * limit 0 = no limit of its own: available is the host's MemAvailable. */
uint64_t prefetch_budget(uint64_t limit, uint64_t usage, uint64_t available, uint64_t margin,
			 uint64_t tokens);
/* Token bucket: tokens grow at rate bytes/s up to one second's worth. */
double prefetch_tokens(double tokens, double rate, uint64_t dt_usec);

struct swapped_range {
	uintptr_t start, end;
	uint64_t swap_bytes;
};
/* The VMAs of a /proc/PID/smaps text that have swapped pages (anon and
 * shmem alike: smaps' Swap: counts both), skipping the kernel's special
 * mappings. Returns the count written (at most max), -EINVAL if malformed. */
int smaps_swapped(const char *text, struct swapped_range *out, size_t max);
