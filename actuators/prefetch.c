/* The prefetch engine: one thread polls the fault counters of containers
 * with prefetch on, every poll_ms (a cgroup's memory.stat is one cheap read;
 * per-process counters only when it moved). With none on it sleeps until
 * prefetch_set turns one on. */
#include "prefetch.h"
#include "cgroup.h"
#include "events.h"
#include "parse.h"
#include "prefetch_policy.h"
#include "util.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define MAX_PROCS 256
#define MAX_RANGES 4096
#define IOV_MAX_CALL 1024

struct proc_seen {
	pid_t pid;
	uint64_t majflt;
	char comm[COMM_LEN];
};

/* Owned by the engine thread, which alone frees it; on and stats are also
 * read and written by others, under the lock. */
struct pf_state {
	uint64_t wid;
	bool on;
	bool seen;			/* still in the snapshot this tick */
	struct prefetch_stats stats;
	char key[PATH_MAX];		/* the container's cgroup, for the unlocked tick */
	struct prefetch_learn learn;
	struct proc_seen procs[MAX_PROCS];
	size_t n_procs;
	uint64_t cg_majflt;		/* the cgroup's total at the last tick */
	uint64_t cooldown_until, window_until;
	pid_t trigger_pid;
	char trigger_comm[COMM_LEN];
	bool followed[MAX_PROCS];	/* already learned as a follower this window */
	double tokens;
	uint64_t tokens_at;
	struct pf_state *next;
};

static struct prefetch_config cfg;
static struct cgroup_layout layout;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;	/* dirty or stopping set; CLOCK_MONOTONIC */
static struct pf_state *states;
static pthread_t thread;
static bool running, stopping;
static bool dirty;		/* a setting changed since the engine's last plan */

static struct pf_state *find(uint64_t wid)
{
	for (struct pf_state *s = states; s; s = s->next)
		if (s->wid == wid)
			return s;
	return NULL;
}

static bool default_on(const struct wl_view *w)
{
	if (w->vm)
		return false;
	for (size_t i = 0; i < cfg.n_patterns; i++)
		if (fnmatch(cfg.patterns[i], w->name, 0) == 0)
			return true;
	return cfg.enabled;
}

bool prefetch_enabled(const struct wl_view *w)
{
	pthread_mutex_lock(&lock);
	struct pf_state *s = find(w->id);
	bool on = s ? s->on : default_on(w);
	pthread_mutex_unlock(&lock);
	return on;
}

static struct pf_state *get_or_add(uint64_t wid, bool on)
{
	struct pf_state *s = find(wid);

	if (!s) {
		s = xcalloc(1, sizeof *s);
		s->wid = wid;
		s->on = on;
		s->tokens = cfg.max_bytes_per_sec;
		s->tokens_at = now_usec();
		s->next = states;
		states = s;
	}
	return s;
}

/* Returns whether the setting changed. Counters start with the first "on". */
bool prefetch_set(const struct wl_view *w, bool on)
{
	bool changed;

	pthread_mutex_lock(&lock);
	struct pf_state *s = find(w->id);
	changed = (s ? s->on : default_on(w)) != on;
	if (s)
		s->on = on;
	else if (on)
		get_or_add(w->id, true);
	if (changed) {
		dirty = true;
		pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
	return changed;
}

bool prefetch_get_stats(uint64_t wid, struct prefetch_stats *out)
{
	pthread_mutex_lock(&lock);
	struct pf_state *s = find(wid);
	if (s)
		*out = s->stats;
	pthread_mutex_unlock(&lock);
	return s != NULL;
}

static int read_u64_file(const char *base, const char *rel, const char *file, uint64_t *v)
{
	char path[PATH_MAX], buf[64];

	if (!base)
		return -ENOENT;
	if (path_printf(path, sizeof path, "%s%s/%s", base, rel, file) < 0)
		return -ENAMETOOLONG;
	if (read_file(path, buf, sizeof buf) <= 0 || sscanf(buf, "%lu", v) != 1)
		return -EINVAL;
	return 0;
}

static int cgroup_majflt(const char *rel, uint64_t *v)
{
	char path[PATH_MAX], buf[8192];
	const char *base = layout.v2 ? layout.unified : layout.memory;

	if (!base)
		return -ENOENT;
	if (path_printf(path, sizeof path, "%s%s/memory.stat", base, rel) < 0)
		return -ENAMETOOLONG;
	if (read_file(path, buf, sizeof buf) < 0)
		return -EIO;
	return (!layout.v2 && kv_get_u64(buf, "total_pgmajfault", v) == 0) ||
			       kv_get_u64(buf, "pgmajfault", v) == 0 ? 0 : -EINVAL;
}

/* Thrashing: PSI memory full of the container above the threshold. */
static bool thrashing(const char *rel)
{
	char path[PATH_MAX], buf[512];
	double avg10;
	uint64_t total;

	if (!layout.unified)
		return false;
	if (path_printf(path, sizeof path, "%s%s/memory.pressure", layout.unified, rel) < 0)
		return false;
	return read_file(path, buf, sizeof buf) > 0 && psi_parse(buf, "full", &avg10, &total) == 0 &&
	       avg10 > cfg.thrash_full_avg10;
}

static void host_available(uint64_t *avail)
{
	char buf[8192];

	*avail = 0;
	if (read_file("/proc/meminfo", buf, sizeof buf) > 0)
		meminfo_get_bytes(buf, "MemAvailable", avail);
}

static uint64_t budget_now(struct pf_state *s, const char *rel)
{
	const char *base = layout.v2 ? layout.unified : layout.memory;
	uint64_t limit = 0, usage = 0, avail = 0, now = now_usec();

	s->tokens = prefetch_tokens(s->tokens, cfg.max_bytes_per_sec, now - s->tokens_at);
	s->tokens_at = now;
	if (read_u64_file(base, rel, layout.v2 ? "memory.max" : "memory.limit_in_bytes", &limit) < 0 ||
	    limit >= (1ULL << 60))
		limit = 0;	/* "max" or effectively unlimited */
	read_u64_file(base, rel, layout.v2 ? "memory.current" : "memory.usage_in_bytes", &usage);
	if (!limit)
		host_available(&avail);
	return prefetch_budget(limit, usage, avail, (uint64_t)cfg.margin_bytes, (uint64_t)s->tokens);
}

/* Refresh the per-process fault counters; returns the pid with the largest
 * increase (0 if none) and accounts siblings' faults in an open window. */
static pid_t scan_processes(struct pf_state *s, const char *rel, uint64_t now,
			    struct prefetch_stats *d)
{
	struct pid_list pids = {0}, tids = {0};
	struct proc_seen next[MAX_PROCS];
	bool next_followed[MAX_PROCS] = { false };
	size_t n = 0;
	uint64_t best = 0;
	pid_t faulter = 0;

	cgroup_list_tasks(&layout, NULL, rel, &tids, &pids);
	pid_list_free(&tids);
	for (size_t i = 0; i < pids.n && n < MAX_PROCS; i++) {
		char path[64], buf[1024];
		struct proc_stat ps;
		struct proc_seen *old = NULL;

		snprintf(path, sizeof path, "/proc/%d/stat", pids.v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0)
			continue;
		for (size_t k = 0; k < s->n_procs; k++)
			if (s->procs[k].pid == pids.v[i])
				old = &s->procs[k];
		next[n] = (struct proc_seen){ .pid = pids.v[i], .majflt = ps.majflt };
		if (old) {
			uint64_t delta = ps.majflt - old->majflt;

			memcpy(next[n].comm, old->comm, COMM_LEN);
			next_followed[n] = s->followed[old - s->procs];
			if (delta > best) {
				best = delta;
				faulter = old->pid;
			}
			if (delta && now < s->window_until && old->pid != s->trigger_pid) {
				d->sibling_faults += delta;
				if (!next_followed[n]) {
					learn_follow(&s->learn, s->trigger_comm, old->comm);
					next_followed[n] = true;
				}
			}
		} else {
			snprintf(path, sizeof path, "/proc/%d/comm", pids.v[i]);
			if (read_file(path, buf, sizeof buf) > 0)
				snprintf(next[n].comm, COMM_LEN, "%.*s", (int)strcspn(buf, "\n"), buf);
		}
		n++;
	}
	pid_list_free(&pids);
	memcpy(s->procs, next, n * sizeof *next);
	memcpy(s->followed, next_followed, sizeof next_followed);
	s->n_procs = n;
	return faulter;
}

static int read_smaps(pid_t pid, struct swapped_range *out, size_t max)
{
	char path[64];
	_cleanup_fclose_ FILE *f = NULL;
	struct strbuf text = {0};
	char buf[65536];
	size_t got;
	int r;

	snprintf(path, sizeof path, "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((got = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_append(&text, buf, got);
	r = text.buf ? smaps_swapped(text.buf, out, max) : 0;
	strbuf_free(&text);
	return r;
}

/* process_madvise stops at the first failing range: retry the rest one by one. */
static void willneed(pid_t pid, struct iovec *iov, size_t n)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd < 0)
		return;
	for (size_t off = 0; off < n; off += IOV_MAX_CALL) {
		size_t cnt = n - off < IOV_MAX_CALL ? n - off : IOV_MAX_CALL;

		if (syscall(SYS_process_madvise, pidfd, iov + off, cnt, MADV_WILLNEED, 0) < 0)
			for (size_t i = off; i < off + cnt; i++)
				syscall(SYS_process_madvise, pidfd, iov + i, 1, MADV_WILLNEED, 0);
	}
	close(pidfd);
}

/* Read back the siblings of the process that paged in, best first, within budget. */
static void prefetch_siblings(struct pf_state *s, pid_t faulter, uint64_t budget,
			      struct prefetch_stats *d)
{
	struct prefetch_target targets[MAX_PROCS];
	static struct swapped_range ranges[MAX_RANGES];
	static struct iovec iov[MAX_RANGES];
	size_t n = 0;
	uint64_t left = budget;
	bool short_of_budget = false;

	for (size_t i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid != faulter) {
			targets[n] = (struct prefetch_target){ .pid = s->procs[i].pid };
			memcpy(targets[n].comm, s->procs[i].comm, COMM_LEN);
			n++;
		}
	/* Swap sizes first (for the order), ranges again per target below. */
	for (size_t i = 0; i < n; i++) {
		int r = read_smaps(targets[i].pid, ranges, MAX_RANGES);

		for (int k = 0; k < r; k++)
			targets[i].swap_bytes += ranges[k].swap_bytes;
	}
	prefetch_order(&s->learn, s->trigger_comm, targets, n);
	for (size_t i = 0; i < n && targets[i].swap_bytes; i++) {
		int r = read_smaps(targets[i].pid, ranges, MAX_RANGES);
		size_t k, ni = 0;

		for (k = 0; k < (size_t)(r > 0 ? r : 0) && left; k++) {
			uint64_t len = ranges[k].end - ranges[k].start, take = ranges[k].swap_bytes;

			/* Short of budget: the front of the range, in proportion. */
			if (take > left) {
				len = (uint64_t)((double)len * (double)left / (double)take) & ~4095ULL;
				take = left;
				short_of_budget = true;
			}
			if (!len)
				break;
			iov[ni++] = (struct iovec){ (void *)ranges[k].start, len };
			left -= take;
		}
		if (k < (size_t)(r > 0 ? r : 0))
			short_of_budget = true;
		willneed(targets[i].pid, iov, ni);
		if (!left)
			break;
	}
	d->bytes += budget - left;
	s->tokens -= (double)(budget - left);
	if (short_of_budget)
		d->skipped_budget++;
}

static void tick_counted(struct pf_state *s, const char *rel, uint64_t now, struct prefetch_stats *d)
{
	uint64_t total, budget;
	pid_t faulter;

	if (cgroup_majflt(rel, &total) < 0)
		return;
	/* Nothing paged in and no window to account: the cheap path. */
	if (total == s->cg_majflt && now >= s->window_until && s->n_procs)
		return;
	s->cg_majflt = total;
	faulter = scan_processes(s, rel, now, d);
	if (!faulter || (faulter == s->trigger_pid && now < s->window_until))
		return;
	if (now < s->cooldown_until) {
		d->skipped_cooldown++;
		return;
	}
	if (thrashing(rel)) {
		d->skipped_thrash++;
		return;
	}
	d->triggers++;
	s->trigger_pid = faulter;
	for (size_t i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid == faulter)
			memcpy(s->trigger_comm, s->procs[i].comm, COMM_LEN);
	memset(s->followed, 0, sizeof s->followed);
	s->window_until = now + (uint64_t)(cfg.window_ms * 1000);
	s->cooldown_until = now + (uint64_t)(cfg.cooldown_ms * 1000);
	budget = budget_now(s, rel);
	if (!budget) {
		d->skipped_budget++;
		return;
	}
	prefetch_siblings(s, faulter, budget, d);
}

/* Runs without the lock (prefetching takes milliseconds); the counters are
 * published under it. */
static void tick(struct pf_state *s, uint64_t now)
{
	struct prefetch_stats d = {0};

	tick_counted(s, s->key, now, &d);
	pthread_mutex_lock(&lock);
	s->stats.triggers += d.triggers;
	s->stats.bytes += d.bytes;
	s->stats.skipped_budget += d.skipped_budget;
	s->stats.skipped_cooldown += d.skipped_cooldown;
	s->stats.skipped_thrash += d.skipped_thrash;
	s->stats.sibling_faults += d.sibling_faults;
	pthread_mutex_unlock(&lock);
}

/* States of workloads that are gone are dropped. */
static void collect_garbage(void)
{
	for (struct pf_state **p = &states; *p;) {
		if (!(*p)->seen) {
			struct pf_state *dead = *p;

			*p = dead->next;
			free(dead);
		} else {
			(*p)->seen = false;
			p = &(*p)->next;
		}
	}
}

/* Under the lock: mark the states of workloads in snap as seen, create
 * those a pattern turns on, drop the rest, and list the containers to poll. */
static size_t plan(const struct snapshot *snap, struct pf_state **due, size_t max)
{
	size_t n_due = 0;

	for (size_t i = 0; snap && i < snap->n; i++) {
		const struct wl_view *w = &snap->wl[i];
		struct pf_state *s = find(w->id);

		if (!s && default_on(w))
			s = get_or_add(w->id, true);
		if (!s)
			continue;
		s->seen = true;
		/* A key too long for s->key is not cut (it could be another
		 * container's cgroup): that container is not polled. */
		if (s->on && !w->vm && n_due < max &&
		    path_printf(s->key, sizeof s->key, "%s", w->key) == 0)
			due[n_due++] = s;
	}
	if (snap)
		collect_garbage();
	return n_due;
}

/* Under the lock: until the next pass. Nothing to poll and nothing that a
 * new snapshot could turn on by itself: sleep until prefetch_set or stop. */
static void engine_wait(size_t n_due)
{
	struct timespec until;
	uint64_t ns;

	if (!n_due && !cfg.enabled && !cfg.n_patterns) {
		while (!dirty && !stopping)
			pthread_cond_wait(&wake, &lock);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	ns = (uint64_t)until.tv_nsec + (uint64_t)(cfg.poll_ms * 1e6);
	until.tv_sec += (time_t)(ns / 1000000000ULL);
	until.tv_nsec = (long)(ns % 1000000000ULL);
	while (!dirty && !stopping && pthread_cond_timedwait(&wake, &lock, &until) == 0)
		;
}

static void *engine(void *arg)
{
	static struct pf_state *due[4096];
	size_t n_due = 0;
	uint64_t planned_seq = 0;

	(void)arg;
	for (;;) {
		struct snapshot *snap = snapshot_get();
		uint64_t now = now_usec();

		pthread_mutex_lock(&lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			snapshot_put(snap);
			break;
		}
		/* The list only changes with a snapshot or a setting: a pass
		 * between two costs no walk over every workload. */
		if (dirty || (snap && snap->seq != planned_seq)) {
			n_due = plan(snap, due, ARRAY_SIZE(due));
			planned_seq = snap ? snap->seq : 0;
			dirty = false;
		}
		pthread_mutex_unlock(&lock);
		snapshot_put(snap);
		for (size_t i = 0; i < n_due; i++)
			tick(due[i], now);
		pthread_mutex_lock(&lock);
		engine_wait(n_due);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int prefetch_start(const struct prefetch_config *c, const char *cgroup_root)
{
	pthread_condattr_t ca;

	cfg = *c;
	cfg.patterns = xcalloc(c->n_patterns, sizeof *cfg.patterns);
	for (size_t i = 0; i < c->n_patterns; i++)
		cfg.patterns[i] = xstrdup(c->patterns[i]);
	if (cgroup_layout_detect(cgroup_root, &layout) < 0)
		events_add("prefetch", "no cgroup hierarchy under %s: prefetch cannot run", cgroup_root);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wake, &ca);
	pthread_condattr_destroy(&ca);
	stopping = false;
	running = pthread_create(&thread, NULL, engine, NULL) == 0;
	if (running)
		pthread_setname_np(thread, "adapt-prefetch");
	return running ? 0 : -EAGAIN;
}

void prefetch_stop(void)
{
	if (running) {
		pthread_mutex_lock(&lock);
		stopping = true;
		pthread_cond_signal(&wake);
		pthread_mutex_unlock(&lock);
		pthread_join(thread, NULL);
		running = false;
	}
	pthread_cond_destroy(&wake);
	while (states) {
		struct pf_state *s = states;

		states = s->next;
		free(s);
	}
	for (size_t i = 0; i < cfg.n_patterns; i++)
		free(cfg.patterns[i]);
	free(cfg.patterns);
	cgroup_layout_free(&layout);
}
