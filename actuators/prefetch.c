/* The prefetch engine: one thread polls the fault counters of containers
 * with prefetch on, every poll_ms (a cgroup's memory.stat is one cheap read;
 * per-process counters only when it moved), decides on each page-in, and
 * plans the read-back that a worker process then does
 * (prefetch_readback.h). With none on it sleeps until prefetch_set turns
 * one on. */
#include "prefetch_impl.h"
#include "prefetch_keep.h"
#include "cgroup.h"
#include "events.h"
#include "layout.h"
#include "parse.h"
#include "util.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <time.h>

#define IDLE_CPU_PERCENT 5.0	/* a sibling cgroup this quiet may give room */
#define FILL_HORIZON_SEC 5.0	/* a neighbour growing into the room this soon takes it */
#define FILL_MIN_RATE (4.0 * (1 << 20))	/* bytes/s: slower is noise, not filling */
#define NOTE_EVERY_USEC USEC_PER_SEC
#define QUIET_USEC (200 * 1000)	/* no fault this long ends a process's burst */
#define PUSHED_HOLD_USEC USEC_PER_SEC	/* pushed out this lately: hold back */
#define PUSHED_MIN_BYTES (1 << 20)	/* a smaller shrink is noise */
#define PUSHED_LOOK_USEC (250 * 1000)	/* a shrink is measured over up to this */

static struct prefetch_config cfg;
static const struct cgroup_layout *layout;	/* actuator_layout() at start; NULL: none */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake;	/* dirty or stopping set; CLOCK_MONOTONIC */
static struct pf_state *states;
static pthread_t thread;
static bool running, stopping;
static bool dirty;		/* a setting changed since the engine's last plan */
static char *cgroup_root, *proc_root, *state_dir;
/* The settings a former adaptfs kept, until the first snapshot's workloads
 * have taken theirs. keep_dirty: the file no longer says what is written. */
static struct prefetch_kept *kept;
static size_t n_kept;
static bool keep_dirty;
static pthread_mutex_t save_lock = PTHREAD_MUTEX_INITIALIZER;	/* one writer of the file */
static struct rb_run plan_runs[RB_MAX_RUNS];

static const char *const skip_names[] = {
	[PF_SKIP_NONE] = "none", [PF_SKIP_COOLDOWN] = "cooldown", [PF_SKIP_THRASH] = "thrash",
	[PF_SKIP_RUNNING] = "running", [PF_SKIP_EMPTY] = "empty", [PF_SKIP_BUDGET] = "budget",
	[PF_SKIP_CONTESTED] = "contested", [PF_SKIP_PUSHED] = "pushed",
};

const char *prefetch_skip_name(enum prefetch_skip why)
{
	return skip_names[why];
}

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

/* Under the lock: w's setting from before a restart, if one was kept. */
static struct pf_state *restore(const struct wl_view *w)
{
	char ident[PATH_MAX + 64];
	struct pf_state *s;

	if (!n_kept || prefetch_keep_ident(w, ident, sizeof ident) < 0)
		return NULL;
	for (size_t i = 0; i < n_kept; i++)
		if (strcmp(kept[i].ident, ident) == 0) {
			s = get_or_add(w->id, kept[i].on);
			s->ident = xstrdup(ident);
			events_add(w->name, "prefetch: %s, as written before adaptfs restarted",
				   s->on ? "on" : "off");
			return s;
		}
	return NULL;
}

bool prefetch_enabled(const struct wl_view *w)
{
	pthread_mutex_lock(&lock);
	struct pf_state *s = find(w->id) ?: restore(w);
	bool on = s ? s->on : default_on(w);
	pthread_mutex_unlock(&lock);
	return on;
}

/* Under the lock: s's setting is one to keep, under w's name in the file. */
static void keep(struct pf_state *s, const struct wl_view *w)
{
	char ident[PATH_MAX + 64];

	if (!s->ident && prefetch_keep_ident(w, ident, sizeof ident) == 0)
		s->ident = xstrdup(ident);
	keep_dirty |= s->ident != NULL;
}

/* The file rewritten with what is written now: one writer at a time, each
 * with the latest text. A failure is said once, until a save works again. */
static void keep_save(void)
{
	static int failed;
	struct strbuf text = {0};
	int r;

	pthread_mutex_lock(&save_lock);
	pthread_mutex_lock(&lock);
	if (!keep_dirty) {
		pthread_mutex_unlock(&lock);
		pthread_mutex_unlock(&save_lock);
		return;
	}
	keep_dirty = false;
	strbuf_append(&text, "", 0);	/* "" when nothing is written */
	for (struct pf_state *s = states; s; s = s->next)
		if (s->ident)
			strbuf_printf(&text, "%s %s\n", s->on ? "on" : "off", s->ident);
	pthread_mutex_unlock(&lock);
	r = prefetch_keep_save(state_dir, text.buf);
	if (r < 0 && r != failed)
		events_add("prefetch", "settings not kept across a restart: %s/prefetch: %s", state_dir,
			   strerror(-r));
	failed = r;
	strbuf_free(&text);
	pthread_mutex_unlock(&save_lock);
}

/* Returns whether the setting changed, once it is kept. Counters start with
 * the first "on". */
bool prefetch_set(const struct wl_view *w, bool on)
{
	bool changed;

	pthread_mutex_lock(&lock);
	struct pf_state *s = find(w->id) ?: restore(w);
	changed = (s ? s->on : default_on(w)) != on;
	/* an "off" that is the default is nothing to hold */
	if (!s && (on || default_on(w)))
		s = get_or_add(w->id, on);
	if (s) {
		s->on = on;
		keep(s, w);
	}
	if (changed) {
		dirty = true;
		pthread_cond_signal(&wake);
	}
	pthread_mutex_unlock(&lock);
	keep_save();
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

/* Where the memory controller's files are. */
static const char *memcg_root(void)
{
	return layout->v2 ? layout->unified : layout->memory;
}

/* The memory hierarchy's files of the cgroup at rel: its usage, and its
 * limit (0 for none: "max", or 2^60 and more). */
static int memcg_usage(const char *rel, uint64_t *v)
{
	return read_u64_file(memcg_root(), rel,
			     layout->v2 ? "memory.current" : "memory.usage_in_bytes", v);
}

static uint64_t memcg_limit(const char *rel)
{
	uint64_t limit;

	if (read_u64_file(memcg_root(), rel,
			  layout->v2 ? "memory.max" : "memory.limit_in_bytes", &limit) < 0 ||
	    limit >= (1ULL << 60))
		return 0;
	return limit;
}

/* A key of the cgroup's memory.stat, its descendants' included: v1 has
 * them in the total_ key, v2 in the key itself. */
static int memcg_stat_u64(const char *rel, const char *key, uint64_t *v)
{
	char path[PATH_MAX], buf[8192], total[64];

	if (!memcg_root())
		return -ENOENT;
	if (path_printf(path, sizeof path, "%s%s/memory.stat", memcg_root(), rel) < 0)
		return -ENAMETOOLONG;
	if (read_file(path, buf, sizeof buf) < 0)
		return -EIO;
	snprintf(total, sizeof total, "total_%s", key);
	return kv_get_u64(buf, layout->v2 ? key : total, v) == 0 ? 0 : -EINVAL;
}

static int cgroup_majflt(const char *rel, uint64_t *v)
{
	return memcg_stat_u64(rel, "pgmajfault", v);
}

/* The container's memory in swap, its descendants' included. */
static int cgroup_swap(const char *rel, uint64_t *v)
{
	if (layout->v2)
		return read_u64_file(layout->unified, rel, "memory.swap.current", v);
	return memcg_stat_u64(rel, "swap", v);
}

/* Whether more of the container is in swap than when its read-back ended. */
static bool swapped_again(struct pf_state *s, const char *rel)
{
	uint64_t swap;

	return cgroup_swap(rel, &swap) == 0 && swap > s->swap_at_end;
}

/* Whether the container was pushed out lately: less of it in memory than at
 * an earlier look of the engine (once a sample, and at each page-in it
 * weighs), up to PUSHED_HOLD_USEC ago. A few faults then are the push's tail
 * or housekeeping, not a wake-up: what a read-back brought in now would go
 * out with the rest. Its own page-ins under a full parent push some of it
 * out too, but they do not shrink it. */
bool prefetch_pushed(struct pf_state *s, const char *rel, uint64_t now)
{
	uint64_t usage;
	bool shrank;

	if (memcg_usage(rel, &usage) < 0)
		return false;
	shrank = s->usage_seen_at && usage + PUSHED_MIN_BYTES < s->usage_seen;
	if (shrank)
		s->pushed_at = now;
	/* A shrink is measured against a look up to PUSHED_LOOK_USEC old:
	 * looks a poll apart would each see too little of a push to tell. */
	if (shrank || usage > s->usage_seen || now - s->usage_seen_at >= PUSHED_LOOK_USEC) {
		s->usage_seen = usage;
		s->usage_seen_at = now;
	}
	if (!s->pushed_at || now - s->pushed_at >= PUSHED_HOLD_USEC)
		return false;
	snprintf(s->why, sizeof s->why, "its memory shrank %lu ms ago, to %lu MiB",
		 (unsigned long)(now - s->pushed_at) / 1000, usage >> 20);
	return true;
}

/* Thrashing: PSI memory full of the container above the threshold. */
static bool thrashing(const char *rel)
{
	char path[PATH_MAX], buf[512];
	double avg10;
	uint64_t total;

	if (!layout->unified)
		return false;
	if (path_printf(path, sizeof path, "%s%s/memory.pressure", layout->unified, rel) < 0)
		return false;
	return read_file(path, buf, sizeof buf) > 0 && psi_parse(buf, "full", &avg10, &total) == 0 &&
	       avg10 > cfg.thrash_full_avg10;
}

static void host_available(uint64_t *avail)
{
	char path[PATH_MAX], buf[8192];

	*avail = 0;
	if (path_printf(path, sizeof path, "%s/meminfo", proc_root) == 0 &&
	    read_file(path, buf, sizeof buf) > 0)
		meminfo_get_bytes(buf, "MemAvailable", avail);
}

uint64_t prefetch_budget_now(struct pf_state *s, const char *rel)
{
	uint64_t limit = memcg_limit(rel), usage = 0, avail = 0, now = now_usec();

	s->tokens = prefetch_tokens(s->tokens, cfg.max_bytes_per_sec, now - s->tokens_at);
	s->tokens_at = now;
	memcg_usage(rel, &usage);
	if (!limit)
		host_available(&avail);
	return prefetch_budget(limit, usage, avail, (uint64_t)cfg.margin_bytes, (uint64_t)s->tokens);
}

pid_t prefetch_scan_processes(struct pf_state *s, const char *rel, uint64_t now,
			      struct prefetch_stats *d)
{
	struct pid_list pids = {0}, tids = {0};
	struct proc_seen next[MAX_PROCS];
	bool next_followed[MAX_PROCS] = { false };
	size_t n = 0;
	uint64_t best = 0;
	pid_t faulter = 0;

	cgroup_list_tasks(layout, NULL, rel, &tids, &pids);
	pid_list_free(&tids);
	for (size_t i = 0; i < pids.n && n < MAX_PROCS; i++) {
		char path[PATH_MAX], buf[1024];
		struct proc_stat ps;
		struct proc_seen *old = NULL;

		snprintf(path, sizeof path, "%s/%d/stat", proc_root, pids.v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0)
			continue;
		/* the read-back's own processes: their faults are the siblings' pages */
		if (ps.ppid == getpid() || (s->job.pid && (pids.v[i] == s->job.pid || ps.ppid == s->job.pid)))
			continue;
		for (size_t k = 0; k < s->n_procs; k++)
			if (s->procs[k].pid == pids.v[i])
				old = &s->procs[k];
		next[n] = (struct proc_seen){ .pid = pids.v[i], .majflt = ps.majflt };
		if (old) {
			uint64_t delta = ps.majflt - old->majflt;

			memcpy(next[n].comm, old->comm, COMM_LEN);
			next_followed[n] = s->followed[old - s->procs];
			next[n].burst = old->burst;
			next[n].burst_at = old->burst_at;
			if (delta) {
				if (now - old->burst_at > QUIET_USEC)
					next[n].burst = 0;
				next[n].burst += delta;
				next[n].burst_at = now;
			}
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
			snprintf(path, sizeof path, "%s/%d/comm", proc_root, pids.v[i]);
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

/* A line in events, at most one a second per container: one that comes
 * sooner waits (note_flush) and takes the place of any still waiting, which
 * is counted in the line that goes out. */
static void note_emit(struct pf_state *s, uint64_t now)
{
	if (s->folded)
		events_add(s->name, "prefetch: %s (%u more since the last line)", s->pending, s->folded);
	else
		events_add(s->name, "prefetch: %s", s->pending);
	s->pending[0] = '\0';
	s->note_at = now;
	s->folded = 0;
}

static void note_flush(struct pf_state *s, uint64_t now)
{
	if (s->pending[0] && now - s->note_at >= NOTE_EVERY_USEC)
		note_emit(s, now);
}

static void note(struct pf_state *s, uint64_t now, const char *fmt, ...)
{
	va_list ap;

	if (s->pending[0])
		s->folded++;
	va_start(ap, fmt);
	vsnprintf(s->pending, sizeof s->pending, fmt, ap);
	va_end(ap);
	if (!s->note_at || now - s->note_at >= NOTE_EVERY_USEC)
		note_emit(s, now);
}

static void turn_down(struct pf_state *s, uint64_t now, pid_t pid, const char *comm,
		      enum prefetch_skip why, struct prefetch_stats *d)
{
	uint64_t *counter[] = {
		[PF_SKIP_COOLDOWN] = &d->skipped_cooldown, [PF_SKIP_THRASH] = &d->skipped_thrash,
		[PF_SKIP_RUNNING] = &d->skipped_running, [PF_SKIP_EMPTY] = &d->skipped_empty,
		[PF_SKIP_BUDGET] = &d->skipped_budget, [PF_SKIP_CONTESTED] = &d->skipped_contested,
		[PF_SKIP_PUSHED] = &d->skipped_pushed,
	};

	(*counter[why])++;
	d->last_skipped = why;
	d->last_skipped_pid = pid;
	if ((why == PF_SKIP_BUDGET || why == PF_SKIP_CONTESTED || why == PF_SKIP_PUSHED) && s->why[0])
		note(s, now, "%s (pid %d) paged in: not acted on: %s (%s)", comm, pid,
		     prefetch_skip_name(why), s->why);
	else
		note(s, now, "%s (pid %d) paged in: not acted on: %s", comm, pid, prefetch_skip_name(why));
}

static uint64_t ancestor_room(const char *rel, char *which, size_t size);
static bool room_contested(struct pf_state *s, const struct snapshot *snap, const char *up,
			   const char *rel, uint64_t room);

/* The read-back under way: its progress into last, and its end. One whose
 * ancestor a neighbour has started to fill is stopped: what it brings in
 * now would be pushed out again. */
static void job_poll(struct pf_state *s, const char *rel, const struct snapshot *snap, uint64_t now,
		     struct prefetch_stats *d)
{
	struct rb_progress *pr = s->job.progress;
	uint64_t usec = now - s->job.started_usec, room;
	char up[PATH_MAX];
	bool ended;

	if (!s->job.pid)
		return;
	ended = readback_reap(&s->job, false);
	if (!ended && s->job_up[0] && (room = ancestor_room(rel, up, sizeof up)) != UINT64_MAX &&
	    room_contested(s, snap, s->job_up, rel, room)) {
		s->job_stopped = true;
		ended = readback_reap(&s->job, true);
	}
	s->rec.read = atomic_load(&pr->read);
	s->rec.room = atomic_load(&pr->room);
	s->rec.first_usec = atomic_load(&pr->first_usec);
	if (ended) {
		s->swap_at_end = UINT64_MAX;	/* unknown: never "swapped again" */
		cgroup_swap(rel, &s->swap_at_end);
		s->rec.usec = usec ? usec : 1;
		d->bytes_read += s->rec.read;
	}
	d->have_last = true;
	d->last = s->rec;
	if (!ended)
		return;
	note(s, now, "%s (pid %d) paged in: read back %lu of %lu KiB of %u process%s in %lu ms "
		     "(first chunk in %lu ms; room made %lu KiB; waited %lu ms for room)%s",
	     s->rec.comm, s->rec.pid, s->rec.read >> 10, s->rec.asked >> 10, s->job_siblings,
	     s->job_siblings == 1 ? "" : "es", s->rec.usec / 1000, s->rec.first_usec / 1000,
	     s->rec.room >> 10, s->job_waited / 1000,
	     s->job_stopped ? "; stopped: a neighbour was filling the parent" : "");
	munmap(pr, sizeof *pr);
	s->job.progress = NULL;
}

/* The least room below the limits of rel's ancestors, and which one has it
 * (UINT64_MAX: none has a limit). */
static uint64_t ancestor_room(const char *rel, char *which, size_t size)
{
	char up[PATH_MAX];
	uint64_t least = UINT64_MAX;

	snprintf(up, sizeof up, "%s", rel);
	for (char *slash; (slash = strrchr(up, '/')) && slash != up;) {
		uint64_t limit, usage = 0;

		*slash = '\0';
		if (!(limit = memcg_limit(up)))
			continue;
		memcg_usage(up, &usage);
		if ((usage < limit ? limit - usage : 0) < least) {
			least = usage < limit ? limit - usage : 0;
			snprintf(which, size, "%s", up);
		}
	}
	return least;
}

static const struct wl_view *container_at(const struct snapshot *snap, const char *rel)
{
	for (size_t i = 0; snap && i < snap->n; i++) {
		char buf[PATH_MAX];
		const char *cg = wl_cgroup(&snap->wl[i], buf, sizeof buf);

		if (cg && strcmp(cg, rel) == 0)
			return &snap->wl[i];
	}
	return NULL;
}

static bool idle_workload(const struct snapshot *snap, const char *rel)
{
	const struct wl_view *w = container_at(snap, rel);

	return w && w->rate_usec && metric_has(&w->m, M_CPU_USAGE_PERCENT) &&
	       w->m.v[M_CPU_USAGE_PERCENT] < IDLE_CPU_PERCENT;
}

/* Bytes per second the cgroup at rel grows by: since the engine last read
 * it (20 ms ago or more), else since the snapshot when it has the
 * container, else since the cgroup was made (a neighbour too new for the
 * snapshot, filling up, grows). */
static double growth(struct pf_state *s, const struct snapshot *snap, const char *rel)
{
	const struct wl_view *w = container_at(snap, rel);
	uint64_t usage, now = wall_usec(), dt, h = fnv1a_str(rel);
	double rate;

	if (memcg_usage(rel, &usage) < 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(s->neighbours); i++) {
		uint64_t age = now - s->neighbours[i].at;

		if (s->neighbours[i].hash != h || age > 2 * USEC_PER_SEC)
			continue;	/* a reading this old says nothing of now */
		if (age >= 20000) {	/* else the last answer stands */
			s->neighbours[i].rate = ((double)usage - (double)s->neighbours[i].usage) * 1e6 / (double)age;
			/* measured against a reading up to a second old: a
			 * program filling in bursts grows between them too */
			if (age >= USEC_PER_SEC) {
				s->neighbours[i].usage = usage;
				s->neighbours[i].at = now;
			}
		}
		return s->neighbours[i].rate;
	}
	if (w && metric_has(&w->m, M_MEM_CURRENT_BYTES)) {
		/* over less time than this, charge batching is most of the change */
		dt = now > snap->wall_usec + 100000 ? now - snap->wall_usec : 0;
		rate = dt ? ((double)usage - w->m.v[M_MEM_CURRENT_BYTES]) * 1e6 / (double)dt : 0;
	} else {
		dt = cgroup_age_usec(layout, rel);
		rate = (double)usage * 1e6 / (double)(dt > USEC_PER_SEC ? dt : USEC_PER_SEC);
	}
	for (size_t i = 0; i < ARRAY_SIZE(s->neighbours); i++)
		if (s->neighbours[i].hash == h)
			s->neighbours[i].hash = 0;	/* the stale one gives way */
	s->neighbours[s->neighbours_next].hash = h;
	s->neighbours[s->neighbours_next].usage = usage;
	s->neighbours[s->neighbours_next].at = now;
	s->neighbours[s->neighbours_next].rate = rate;
	s->neighbours_next = (s->neighbours_next + 1) % ARRAY_SIZE(s->neighbours);
	return rate;
}

/* The children of ancestor up (in the memory hierarchy) but the one that
 * holds rel, one per call, as paths like rel's in child; d is up's
 * directory, opened on the first call. */
static bool next_neighbour(DIR **d, const char *up, const char *rel, char child[PATH_MAX])
{
	const char *base = memcg_root();
	struct dirent *e;

	if (!*d) {
		if (path_printf(child, PATH_MAX, "%s%s", base, up) < 0 || !(*d = opendir(child)))
			return false;
	}
	while ((e = readdir(*d))) {
		size_t n = strlen(up) + 1 + strlen(e->d_name);

		if (e->d_type == DT_DIR && e->d_name[0] != '.' &&
		    path_printf(child, PATH_MAX, "%s/%s", up, e->d_name) == 0 &&
		    !(strncmp(rel, child, n) == 0 && (rel[n] == '/' || rel[n] == '\0')))
			return true;
	}
	return false;
}

/* Whether a neighbour under ancestor up is growing fast enough to fill room
 * within FILL_HORIZON_SEC: what is read back now would be pushed out again
 * before anyone used it. */
static bool room_contested(struct pf_state *s, const struct snapshot *snap, const char *up,
			   const char *rel, uint64_t room)
{
	_cleanup_closedir_ DIR *d = NULL;
	char child[PATH_MAX];

	while (next_neighbour(&d, up, rel, child)) {
		double rate = growth(s, snap, child);

		if (rate > FILL_MIN_RATE && rate * FILL_HORIZON_SEC > (double)room) {
			snprintf(s->why, sizeof s->why, "%.80s grows by %.0f MiB/s, %lu MiB left under %.64s",
				 child, rate / (1 << 20), room >> 20, up);
			return true;
		}
	}
	return false;
}

/* Room to take under ancestor up, from its other children that are idle
 * workloads, the largest first; returns the bytes planned. */
static uint64_t plan_room(struct rb_plan *p, const struct snapshot *snap, const char *up,
			  const char *rel, uint64_t want)
{
	const char *base = memcg_root();
	char child[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	uint64_t planned = 0, margin = (uint64_t)cfg.margin_bytes;

	p->n_room = 0;
	while (p->n_room < RB_MAX_ROOM && next_neighbour(&d, up, rel, child)) {
		struct rb_room *r = &p->room[p->n_room];
		uint64_t usage = 0;

		if (!idle_workload(snap, child) ||
		    memcg_usage(child, &usage) < 0 ||
		    usage <= margin || path_printf(r->dir, sizeof r->dir, "%s%s", base, child) < 0)
			continue;
		r->v2 = layout->v2;
		r->bytes = usage - margin;
		if (!r->v2 && read_u64_file(base, child, "memory.limit_in_bytes", &r->limit) < 0)
			continue;
		p->n_room++;
	}
	/* the largest first, each giving what is still wanted */
	for (size_t i = 0; i < p->n_room; i++) {
		for (size_t k = i + 1; k < p->n_room; k++)
			if (p->room[k].bytes > p->room[i].bytes) {
				struct rb_room t = p->room[i];

				p->room[i] = p->room[k];
				p->room[k] = t;
			}
		if (p->room[i].bytes > want - planned)
			p->room[i].bytes = want - planned;
		planned += p->room[i].bytes;
		if (planned == want) {
			p->n_room = i + 1;
			break;
		}
	}
	return planned;
}

enum room_verdict { ROOM_ENOUGH, ROOM_CONTESTED, ROOM_SHORT };

/* What the siblings of faulter have in swap, best first, within budget, and
 * the room to make for it under a full ancestor (verdict: whether there was
 * room for all of it). Returns the siblings. */
static unsigned plan_readback(struct pf_state *s, const char *rel, const struct snapshot *snap,
			      pid_t faulter, uint64_t budget, struct rb_plan *p,
			      enum room_verdict *verdict, struct prefetch_stats *d)
{
	struct prefetch_target targets[MAX_PROCS];
	uint64_t room, margin = (uint64_t)cfg.margin_bytes;
	char up[PATH_MAX] = "";
	unsigned n = 0, used = 0;

	/* The faulting process's own memory too: it is paging in, the kernel's
	 * readahead brings back only the neighbourhood of each fault. */
	for (size_t i = 0; i < s->n_procs; i++) {
		targets[n] = (struct prefetch_target){ .pid = s->procs[i].pid,
						       .faulter = s->procs[i].pid == faulter };
		memcpy(targets[n].comm, s->procs[i].comm, COMM_LEN);
		targets[n].swap_bytes = readback_swap_bytes(proc_root, targets[n].pid);
		n++;
	}
	prefetch_order(&s->learn, s->trigger_comm, targets, n);
	*p = (struct rb_plan){ .runs = plan_runs };
	/* learned followers and the faulter come first, with swap or not */
	for (unsigned i = 0; i < n; i++) {
		if (!targets[i].swap_bytes)
			continue;
		if (p->bytes >= budget) {
			d->skipped_budget++;	/* cut short by its own budget */
			break;
		}
		used++;
		readback_plan_process(p, proc_root, targets[i].pid, budget - p->bytes);
	}
	room = ancestor_room(rel, up, sizeof up);
	if (p->bytes && room != UINT64_MAX &&
	    room_contested(s, snap, up, rel, room > p->bytes ? room - p->bytes : 0)) {
		readback_plan_truncate(p, 0);
		*verdict = ROOM_CONTESTED;
	} else if (p->bytes && room != UINT64_MAX && p->bytes + margin > room) {
		uint64_t have = room + plan_room(p, snap, up, rel, p->bytes + margin - room);

		p->room_free = room > margin ? room - margin : 0;

		if (have < p->bytes + margin) {
			snprintf(s->why, sizeof s->why, "%lu MiB free under %.80s, idle neighbours give %lu MiB",
				 room >> 20, up, (have - room) >> 20);
			readback_plan_truncate(p, have > margin ? have - margin : 0);
			d->skipped_budget += p->bytes > 0;
			*verdict = ROOM_SHORT;
		}
	}
	readback_plan_join(p, proc_root, cgroup_root, layout->v2, faulter);
	snprintf(s->job_up, sizeof s->job_up, "%s", room != UINT64_MAX ? up : "");
	return used;
}

/* Plan and start the read-back of faulter's page-in; PF_SKIP_NONE when it
 * started, else why not. */
static enum prefetch_skip try_readback(struct pf_state *s, const char *rel,
				       const struct snapshot *snap, uint64_t now, pid_t faulter,
				       const char *comm, struct prefetch_stats *d)
{
	static struct rb_plan p;
	uint64_t budget = prefetch_budget_now(s, rel), swapped = 0;
	enum room_verdict room = ROOM_ENOUGH;
	unsigned siblings;

	s->why[0] = '\0';

	if (cfg.max_bytes_per_trigger >= 1 && budget > (uint64_t)cfg.max_bytes_per_trigger)
		budget = (uint64_t)cfg.max_bytes_per_trigger;
	memcpy(s->trigger_comm, comm, COMM_LEN);
	siblings = plan_readback(s, rel, snap, faulter, budget, &p, &room, d);
	if (room == ROOM_CONTESTED)
		return PF_SKIP_CONTESTED;
	for (size_t i = 0; !p.bytes && i < s->n_procs; i++)
		swapped += readback_swap_bytes(proc_root, s->procs[i].pid);
	if (!p.bytes && swapped && !budget)
		snprintf(s->why, sizeof s->why, "no room below its own limit (or the rate limit)");
	if (!p.bytes)
		return swapped ? PF_SKIP_BUDGET : PF_SKIP_EMPTY;
	if (readback_start(&p, &s->job) < 0)
		return PF_SKIP_BUDGET;
	/* A window opens only on a read-back: a page-in that found nothing to
	 * read does not hide the same process's next one. */
	d->triggers++;
	d->bytes += p.bytes;
	s->tokens -= (double)p.bytes;
	s->trigger_pid = faulter;
	s->job_siblings = siblings;
	s->job_stopped = false;
	s->job_waited = s->defer_pid == faulter ? now - s->defer_since : 0;
	/* Cut short for room: the rest waits for it as a page-in turned down would. */
	if (room == ROOM_SHORT && cfg.defer_ms > 0) {
		if (s->defer_pid != faulter)
			s->defer_since = now;
		s->defer_pid = faulter;
		s->defer_next = now + (uint64_t)(cfg.cooldown_ms * 1000);
	} else {
		s->defer_pid = 0;
	}
	memset(s->followed, 0, sizeof s->followed);
	s->window_until = now + (uint64_t)(cfg.window_ms * 1000);
	s->rec = (struct prefetch_last){ .pid = faulter, .asked = p.bytes };
	memcpy(s->rec.comm, comm, COMM_LEN);
	d->have_last = true;
	d->last = s->rec;
	d->last_skipped = PF_SKIP_NONE;
	d->last_skipped_pid = 0;
	return PF_SKIP_NONE;
}

/* A page-in turned down for want of room, or while its container was
 * pushed out, waits up to defer_ms for room (an idle neighbour to take it
 * from, a neighbour done filling the parent) and for the push to be over,
 * looked at again every cooldown_ms; counted and said once, when turned
 * down. So does the rest of a read-back cut short for room. */
static void retry_deferred(struct pf_state *s, const char *rel, const struct snapshot *snap,
			   uint64_t now, struct prefetch_stats *d)
{
	char comm[COMM_LEN] = "";
	bool alive = false;

	if (!s->defer_pid || s->job.pid || now < s->defer_next)
		return;
	s->defer_next = now + (uint64_t)(cfg.cooldown_ms * 1000);
	for (size_t i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid == s->defer_pid) {
			memcpy(comm, s->procs[i].comm, COMM_LEN);
			alive = true;
		}
	if (!alive || now >= s->defer_since + (uint64_t)(cfg.defer_ms * 1000)) {
		s->defer_pid = 0;
		return;
	}
	/* Nothing in swap any more: nothing waits. */
	if (!prefetch_pushed(s, rel, now) &&
	    try_readback(s, rel, snap, now, s->defer_pid, comm, d) == PF_SKIP_EMPTY)
		s->defer_pid = 0;
}

/* Once a sample: read the neighbours under the limited ancestor, so that a
 * page-in finds their growth measured over up to a second. The look is
 * stamped with the pass's clock, as is the page-in weighed after it: a later
 * stamp would put the push in the page-in's future. */
static void watch_neighbours(struct pf_state *s, const char *rel, const struct snapshot *snap,
			     uint64_t now)
{
	_cleanup_closedir_ DIR *d = NULL;
	char up[PATH_MAX], child[PATH_MAX];

	if (!snap || snap->seq == s->watched_seq)
		return;
	s->watched_seq = snap->seq;
	prefetch_pushed(s, rel, now);
	if (ancestor_room(rel, up, sizeof up) == UINT64_MAX)
		return;
	while (next_neighbour(&d, up, rel, child))
		growth(s, snap, child);
}

static void tick_counted(struct pf_state *s, const char *rel, const struct snapshot *snap,
			 uint64_t now, struct prefetch_stats *d)
{
	char comm[COMM_LEN] = "";
	enum prefetch_skip why;
	uint64_t total, burst = 0;
	pid_t faulter;

	if (!layout)
		return;		/* no hierarchy: said in events at start */
	job_poll(s, rel, snap, now, d);
	note_flush(s, now);
	watch_neighbours(s, rel, snap, now);
	retry_deferred(s, rel, snap, now, d);
	if (cgroup_majflt(rel, &total) < 0)
		return;
	/* Nothing paged in and no window to account: the cheap path. */
	if (total == s->cg_majflt && now >= s->window_until && s->n_procs)
		return;
	s->cg_majflt = total;
	faulter = prefetch_scan_processes(s, rel, now, d);
	/* In the window the trigger's own faults are its page-in going on,
	 * unless its container was pushed to swap again since the read-back
	 * ended: then they are a page-in of their own. */
	if (!faulter || (faulter == s->trigger_pid && now < s->window_until &&
			 (s->job.pid || !swapped_again(s, rel))))
		return;
	for (size_t i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid == faulter) {
			memcpy(comm, s->procs[i].comm, COMM_LEN);
			burst = s->procs[i].burst;
		}
	/* Looking is one read: no cooldown for it, so the burst that goes on
	 * is acted on as soon as it is one. */
	if (burst < (uint64_t)cfg.min_faults && prefetch_pushed(s, rel, now))
		why = PF_SKIP_PUSHED;
	else if (now < s->cooldown_until)
		why = PF_SKIP_COOLDOWN;
	else if (thrashing(rel))
		why = PF_SKIP_THRASH;
	else if (s->job.pid)
		why = PF_SKIP_RUNNING;
	else {
		/* Looking costs a read of every sibling's smaps: not more often than this. */
		s->cooldown_until = now + (uint64_t)(cfg.cooldown_ms * 1000);
		why = try_readback(s, rel, snap, now, faulter, comm, d);
	}
	if (why == PF_SKIP_NONE)
		return;
	if (why == PF_SKIP_EMPTY && s->defer_pid == faulter)
		s->defer_pid = 0;	/* its wait is over: nothing to read back */
	if ((why == PF_SKIP_BUDGET || why == PF_SKIP_CONTESTED || why == PF_SKIP_PUSHED) &&
	    cfg.defer_ms > 0 && s->defer_pid != faulter) {
		s->defer_pid = faulter;
		s->defer_since = now;
		s->defer_next = s->cooldown_until;
	}
	turn_down(s, now, faulter, comm, why, d);
}

/* Runs without the lock (planning takes milliseconds); the counters are
 * published under it. */
static void tick(struct pf_state *s, const struct snapshot *snap, uint64_t now)
{
	struct prefetch_stats d = {0};

	tick_counted(s, s->key, snap, now, &d);
	pthread_mutex_lock(&lock);
	s->stats.triggers += d.triggers;
	s->stats.bytes += d.bytes;
	s->stats.bytes_read += d.bytes_read;
	s->stats.skipped_budget += d.skipped_budget;
	s->stats.skipped_cooldown += d.skipped_cooldown;
	s->stats.skipped_thrash += d.skipped_thrash;
	s->stats.skipped_running += d.skipped_running;
	s->stats.skipped_empty += d.skipped_empty;
	s->stats.skipped_contested += d.skipped_contested;
	s->stats.skipped_pushed += d.skipped_pushed;
	s->stats.sibling_faults += d.sibling_faults;
	if (d.have_last) {
		s->stats.have_last = true;
		s->stats.last = d.last;
	}
	if (d.last_skipped || d.triggers) {
		s->stats.last_skipped = d.last_skipped;
		s->stats.last_skipped_pid = d.last_skipped_pid;
	}
	pthread_mutex_unlock(&lock);
}

static void job_stop(struct pf_state *s)
{
	readback_reap(&s->job, true);
	if (s->job.progress)
		munmap(s->job.progress, sizeof *s->job.progress);
	s->job.progress = NULL;
}

/* Turned on (again): faults taken while off are no page-ins to act on,
 * nor an old trigger's window one to account. */
static void forget_faults(struct pf_state *s)
{
	s->n_procs = 0;
	s->window_until = 0;
	s->trigger_pid = 0;
	s->defer_pid = 0;
}

static void free_state(struct pf_state *s)
{
	job_stop(s);
	free(s->ident);
	free(s);
}

/* States of workloads that are gone are dropped, a read-back under way
 * stopped. */
static void collect_garbage(void)
{
	for (struct pf_state **p = &states; *p;) {
		if (!(*p)->seen) {
			struct pf_state *dead = *p;

			*p = dead->next;
			keep_dirty |= dead->ident != NULL;
			free_state(dead);
		} else {
			(*p)->seen = false;
			p = &(*p)->next;
		}
	}
}

/* Under the lock: mark the states of workloads in snap as seen, create
 * those a kept setting or a pattern turns on, drop the rest, and list the
 * containers to poll. */
static size_t plan(const struct snapshot *snap, struct pf_state **due, size_t max)
{
	size_t n_due = 0;

	for (size_t i = 0; snap && i < snap->n; i++) {
		const struct wl_view *w = &snap->wl[i];
		struct pf_state *s = find(w->id) ?: restore(w);
		const char *cg;

		if (!s && default_on(w))
			s = get_or_add(w->id, true);
		if (!s)
			continue;
		/* No cgroup: a VM, a managed workload running as one (it is
		 * polled again once it runs as a container, in a new cgroup,
		 * its counters from zero), or a path too long to hold whole. */
		cg = wl_cgroup(w, s->key, sizeof s->key);
		s->seen = true;
		snprintf(s->name, sizeof s->name, "%s", w->name);
		if ((!s->on || !cg) && s->job.pid)
			job_stop(s);
		if (s->on && cg && !s->polled)
			forget_faults(s);
		s->polled = s->on && cg;
		if (s->polled && n_due < max)
			due[n_due++] = s;
	}
	if (snap)
		collect_garbage();
	/* The workloads of the first snapshot have theirs: the settings of
	 * those that went while adaptfs was down leave the file. */
	if (snap && n_kept) {
		prefetch_kept_free(kept, n_kept);
		kept = NULL;
		n_kept = 0;
		keep_dirty = true;
	}
	return n_due;
}

/* Under the lock: until the next pass. Nothing to poll and nothing that a
 * new snapshot could turn on by itself (a pattern, a kept setting): sleep
 * until prefetch_set or stop. */
static void engine_wait(size_t n_due)
{
	struct timespec until;
	uint64_t ns;

	if (!n_due && !cfg.enabled && !cfg.n_patterns && !n_kept) {
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
		bool save;

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
		/* a workload with a kept setting went, or the first snapshot came */
		save = keep_dirty;
		pthread_mutex_unlock(&lock);
		if (save)
			keep_save();
		for (size_t i = 0; i < n_due; i++)
			tick(due[i], snap, now);
		snapshot_put(snap);
		pthread_mutex_lock(&lock);
		engine_wait(n_due);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int prefetch_start(const struct config *c)
{
	pthread_condattr_t ca;

	cfg = c->prefetch;
	cgroup_root = xstrdup(c->cgroup_root);
	proc_root = xstrdup(c->proc_root);
	state_dir = xstrdup(c->state_dir);
	n_kept = prefetch_keep_load(state_dir, &kept);
	cfg.patterns = xcalloc(cfg.n_patterns, sizeof *cfg.patterns);
	for (size_t i = 0; i < cfg.n_patterns; i++)
		cfg.patterns[i] = xstrdup(c->prefetch.patterns[i]);
	layout = actuator_layout();
	if (!layout)
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
		free_state(s);
	}
	for (size_t i = 0; i < cfg.n_patterns; i++)
		free(cfg.patterns[i]);
	free(cfg.patterns);
	free(cgroup_root);
	cgroup_root = NULL;
	free(proc_root);
	proc_root = NULL;
	free(state_dir);
	state_dir = NULL;
	prefetch_kept_free(kept, n_kept);
	kept = NULL;
	n_kept = 0;
	keep_dirty = false;
	layout = NULL;
}
