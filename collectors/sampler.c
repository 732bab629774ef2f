#include "sampler.h"
#include "backend.h"
#include "cgroup.h"
#include "classify.h"
#include "cpulist.h"
#include "events.h"
#include "host.h"
#include "kvm.h"
#include "log.h"
#include "peers.h"
#include "proc.h"
#include "snapshot.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <time.h>

static const struct backend *const backends[] = {
	&container_backend,
	&qemu_backend,
	&managed_backend,
#ifdef HAVE_XENSTAT
	&xen_backend,
#endif
};
#define N_BACKENDS ARRAY_SIZE(backends)

/* A workload as the sampler follows it between sweeps. */
struct tracked {
	uint64_t id;
	unsigned backend;
	struct found ref;		/* key, engine's name, engine, vm */
	char *dirname;
	void *state;			/* the backend's per-workload scratch */
	char *cpus;			/* as last read, NULL if unknown */
	struct metric_set last;		/* as published */
	uint64_t last_usec;
	uint64_t rate_usec;		/* span of last's rates */
	bool sampled;
	uint64_t round;			/* the last full round that sampled it */
	struct class_state cls;
	enum wl_class cls_seen;		/* class at the last sample ... */
	uint64_t class_since;		/* ... and since when */
	uint64_t appeared_usec;		/* wall time it was discovered */
};

struct sampler {
	struct config cfg;
	struct config pending;
	bool have_pending;
	bool stop;
	/* Writers wait for a snapshot taken after their change: each takes a
	 * ticket; a sweep started after ticket t was taken serves it. */
	uint64_t tickets, served;
	pthread_mutex_t lock;		/* guards pending, stop, tickets, served, wake */
	pthread_cond_t published_cond;
	int wake[2];			/* pipe: reload or stop */
	int inotify_fd;
	pthread_t thread;

	struct backend_env env;
	bool active[N_BACKENDS];
	bool kvm;
	uint64_t next_id;
	struct tracked **tr;		/* sorted by rel */
	size_t n_tr;
	struct cgroup_layout layout;	/* env.layout's, when it is not NULL */
	bool scope_cpuset;		/* a scope is set: read its cpuset */
	struct metric_set host_last;
	uint64_t host_usec;
	uint64_t host_rate_usec;
	uint64_t seq;
	uint64_t round;			/* full rounds so far */
	uint64_t start_usec;		/* wall time the sampler started */
	uint64_t tree_usec;		/* wall time a workload last came or went */
	uint64_t round_usec;		/* time the last full round took */
	/* Read by the watchdog from another thread: atomic. */
	uint64_t round_end;		/* monotonic time the last full round ended */
	uint64_t interval_usec;		/* of the configuration in use */
};

static struct sampler S = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.published_cond = PTHREAD_COND_INITIALIZER,
	.wake = { -1, -1 },
	.inotify_fd = -1,
};

void workload_name_sanitize(const char *in, char *out, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return;
	if ((in[0] == '.' || in[0] == '\0') && size > 1)
		out[o++] = '_';
	for (const char *p = in; *p && o + 1 < size; p++) {
		unsigned char c = (unsigned char)*p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  strchr("._+@:=-", c);

		out[o++] = ok && c ? (char)c : '_';
	}
	out[o] = '\0';
}

static bool name_taken(const char *name)
{
	if (top_name_index(name) >= 0)
		return true;
	for (size_t i = 0; i < S.n_tr; i++)
		if (S.tr[i]->dirname && strcmp(S.tr[i]->dirname, name) == 0)
			return true;
	return false;
}

/* Two workloads with one name get NAME.ENGINE; reserved names too. */
static char *assign_dirname(const char *engine_name, const char *engine, uint64_t id)
{
	char safe[200], buf[256];

	workload_name_sanitize(engine_name, safe, sizeof safe);
	if (!name_taken(safe))
		return xstrdup(safe);
	snprintf(buf, sizeof buf, "%s.%s", safe, engine);
	if (!name_taken(buf))
		return xstrdup(buf);
	snprintf(buf, sizeof buf, "%s.%s.%llu", safe, engine, (unsigned long long)id);
	return xstrdup(buf);
}

static void tracked_free(struct tracked *t)
{
	backends[t->backend]->state_free(t->state);
	free(t->ref.key);
	free(t->ref.name);
	free(t->dirname);
	free(t->cpus);
	free(t);
}

/* Discovered workloads carry their backend index in found_list order; the
 * sampler orders everything by (backend, key). */
struct keyed {
	unsigned backend;
	struct found *f;
};

static int cmp_key(unsigned ba, const char *ka, unsigned bb, const char *kb)
{
	return ba != bb ? (ba > bb) - (ba < bb) : strcmp(ka, kb);
}

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	return cmp_key(x->backend, x->f->key, y->backend, y->f->key);
}

static int cmp_tracked(const void *a, const void *b)
{
	const struct tracked *x = *(struct tracked *const *)a, *y = *(struct tracked *const *)b;

	return cmp_key(x->backend, x->ref.key, y->backend, y->ref.key);
}

/* Merge the set the backends in mask discovered into the tracked one: keep
 * the known, add the new, drop the gone (only of those backends). Both sides
 * are sorted by (backend, key). Returns whether any came or went. */
static bool reconcile(struct keyed *found, size_t n_found, unsigned mask)
{
	struct tracked **next = xcalloc(n_found + S.n_tr, sizeof *next);
	size_t i = 0, j = 0, n = 0, changes = 0;

	qsort_safe(found, n_found, sizeof *found, cmp_keyed);
	while (i < S.n_tr || j < n_found) {
		int c = i == S.n_tr ? 1 : j == n_found ? -1 :
			cmp_key(S.tr[i]->backend, S.tr[i]->ref.key, found[j].backend, found[j].f->key);

		if (c < 0 && !(mask & (1U << S.tr[i]->backend))) {
			next[n++] = S.tr[i];	/* not looked for this time */
			S.tr[i++] = NULL;
		} else if (c < 0) {
			events_add(S.tr[i]->dirname, "disappeared");
			tracked_free(S.tr[i]);
			S.tr[i++] = NULL;
			changes++;
		} else if (c == 0) {
			/* A managed workload keeps its key when it switches mode:
			 * sample it at once, with no rates across the switch. */
			if (S.tr[i]->ref.vm != found[j].f->vm)
				S.tr[i]->sampled = false;
			S.tr[i]->ref.vm = found[j].f->vm;
			next[n++] = S.tr[i];
			S.tr[i++] = NULL;
			found[j++].f = NULL;	/* known: not new */
		} else {
			j++;
		}
	}
	/* New ones are named after the survivors so they never steal a name. */
	free(S.tr);
	S.tr = next;
	S.n_tr = n;
	for (j = 0; j < n_found; j++) {
		struct found *f = found[j].f;
		struct tracked *t;

		if (!f)
			continue;
		t = xcalloc(1, sizeof *t);
		t->id = ++S.next_id;
		t->backend = found[j].backend;
		t->ref = *f;
		t->ref.key = xstrdup(f->key);
		t->ref.name = xstrdup(f->name);
		t->dirname = assign_dirname(f->name, f->engine->name, t->id);
		t->appeared_usec = wall_usec();
		S.tr = xreallocarray(S.tr, S.n_tr + 1, sizeof *S.tr);
		S.tr[S.n_tr++] = t;
		changes++;
		events_add(t->dirname, "appeared (%s %s, %s)", f->vm ? "vm" : "container", f->engine->name,
			   f->key);
	}
	qsort_safe(S.tr, S.n_tr, sizeof *S.tr, cmp_tracked);
	/* the root directory's mtime: when its list of names last changed */
	if (changes)
		S.tree_usec = wall_usec();
	return changes > 0;
}

#define ALL_BACKENDS ((1U << N_BACKENDS) - 1)

/* Discover with the backends in mask; returns whether any workload came or went. */
static bool discover(unsigned mask)
{
	struct found_list lists[N_BACKENDS] = {0};
	struct keyed *all;
	size_t n = 0;
	bool changed;

	for (unsigned b = 0; b < N_BACKENDS; b++)
		if (S.active[b] && (mask & (1U << b)))
			backends[b]->discover(&S.env, &lists[b]);
	for (unsigned b = 0; b < N_BACKENDS; b++)
		n += lists[b].n;
	all = xcalloc(n, sizeof *all);
	n = 0;
	for (unsigned b = 0; b < N_BACKENDS; b++)
		for (size_t i = 0; i < lists[b].n; i++)
			all[n++] = (struct keyed){ b, &lists[b].v[i] };
	changed = reconcile(all, n, mask);
	free(all);
	for (unsigned b = 0; b < N_BACKENDS; b++)
		found_list_free(&lists[b]);
	return changed;
}

/* The kernel's OOM killer acting in a workload is news, not only a counter. */
static void report_oom_kills(const struct tracked *t, const struct metric_set *m)
{
	if (metric_has(&t->last, M_MEM_OOM_KILLS) && metric_has(m, M_MEM_OOM_KILLS) &&
	    m->v[M_MEM_OOM_KILLS] > t->last.v[M_MEM_OOM_KILLS])
		events_add(t->dirname, "OOM killer killed %.0f process(es) (oom_kill %.0f)",
			   m->v[M_MEM_OOM_KILLS] - t->last.v[M_MEM_OOM_KILLS], m->v[M_MEM_OOM_KILLS]);
}

static void sample_one(struct tracked *t)
{
	struct metric_set m = {0};
	/* Each workload's own time: a long sweep must not skew its rates. */
	uint64_t now = now_usec();

	backends[t->backend]->sample(&S.env, &t->ref, &t->state, &m);
	if (t->sampled) {
		t->rate_usec = now - t->last_usec;
		metrics_derive_rates(wl_metrics, M_WL_COUNT, &t->last, &m, t->rate_usec);
		report_oom_kills(t, &m);
		if (classify_update(&t->cls, &S.cfg.class, &m) != t->cls_seen)
			t->class_since = now;
		t->cls_seen = t->cls.current;
	}
	if (!t->class_since)
		t->class_since = now;
	t->last = m;
	t->last_usec = now;
	t->sampled = true;
}

/* An instance limited to a scope owns the CPUs of the scope's cpuset, not
 * every online CPU (test hosts on one machine, a slice per tenant). */
static void scope_cores(struct metric_set *m)
{
	char list[1024];
	cpu_set_t set;

	if (S.scope_cpuset &&
	    cgroup_effective_cpus(&S.layout, S.cfg.scope, list, sizeof list) == 0 &&
	    cpulist_parse(list, strlen(list), &set) == 0 && CPU_COUNT(&set) > 0)
		metric_set(m, H_CORES, CPU_COUNT(&set));
}

static void sample_host(uint64_t now)
{
	struct metric_set m = {0};

	host_sample(S.cfg.proc_root, &m);
	scope_cores(&m);
	if (S.host_usec) {
		S.host_rate_usec = now - S.host_usec;
		metrics_derive_rates(host_metrics, H_COUNT, &S.host_last, &m, S.host_rate_usec);
	}
	S.host_last = m;
	S.host_usec = now;
}

/* A workload's CPUs only change with a placement or a mode switch (which
 * refresh) or from outside: read them while unknown (a guest still starting)
 * and on reread, not on every sweep. */
static void read_cpus(struct tracked *t)
{
	const struct backend *be = backends[t->backend];
	char cpus[1024];

	free(t->cpus);
	t->cpus = be->cpus && be->cpus(&S.env, &t->ref, cpus, sizeof cpus) == 0 ? xstrdup(cpus) : NULL;
}

/* Builds and publishes a snapshot of every workload, sampling those never
 * sampled (new since the last one). reread: read every workload's CPUs
 * again. serves: the writers' ticket it serves (0: none). */
static const struct actuator_source *_Atomic act_source;

void sampler_set_actuator_source(const struct actuator_source *src)
{
	atomic_store(&act_source, src);
}

static void publish(bool reread, uint64_t serves)
{
	const struct actuator_source *src = atomic_load(&act_source);
	struct snapshot *s = snapshot_new(S.n_tr);

	for (size_t i = 0; i < S.n_tr; i++) {
		struct tracked *t = S.tr[i];
		struct wl_view *v = &s->wl[i];

		if (!t->sampled) {
			sample_one(t);
			t->round = S.round;	/* once is enough for this round */
		}
		if (reread || (!t->cpus && backends[t->backend]->cpus))
			read_cpus(t);
		*v = (struct wl_view){
			.id = t->id,
			.name = xstrdup(t->dirname),
			.key = xstrdup(t->ref.key),
			.cpus = t->cpus ? xstrdup(t->cpus) : NULL,
			.engine = t->ref.engine,
			.pid = t->ref.pid,
			.vm = t->ref.vm,
			.class = t->cls.current,
			.class_since_usec = t->class_since,
			.recommend_vm = classify_recommend_vm(&S.cfg.class, t->cls.current, S.kvm),
			.rate_usec = t->rate_usec,
			.appeared_usec = t->appeared_usec,
			.m = t->last,
			.act.mode = t->ref.vm ? RECIPE_VM : RECIPE_CONTAINER,
		};
		if (src)
			src->workload(v, &v->act);
	}
	if (src)
		src->host(&s->act);
	s->host = S.host_last;
	s->kvm = S.kvm;
	s->n_peers = peers_get(&s->peers);
	s->seq = ++S.seq;
	s->wall_usec = wall_usec();
	s->interval_usec = S.host_rate_usec;
	s->start_usec = S.start_usec;
	s->tree_usec = S.tree_usec;
	s->round_usec = S.round_usec;
	snapshot_index(s);
	snapshot_publish(s);
	pthread_mutex_lock(&S.lock);
	if (serves > S.served)
		S.served = serves;
	pthread_cond_broadcast(&S.published_cond);
	pthread_mutex_unlock(&S.lock);
}

static bool drain_inotify(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	while (read(S.inotify_fd, buf, sizeof buf) > 0)
		any = true;
	return any;
}

/* Look for new workloads this often during a round. */
#define ROUND_DISCOVERY_USEC 10000

/* Samples every workload once. A round over a thousand workloads takes
 * ~100 ms, one of a few thread-heavy workloads tens of ms: a workload that
 * appears meanwhile is discovered and published (beside the others' last
 * samples) without waiting for the round's end. */
static void sample_round(void)
{
	uint64_t round = ++S.round, looked = now_usec();

	for (size_t i = 0; i < S.n_tr; i++) {
		struct tracked *t = S.tr[i];
		struct pollfd pfd = { S.inotify_fd, POLLIN, 0 };

		if (t->round == round)
			continue;
		sample_one(t);
		t->round = round;
		if (now_usec() - looked < ROUND_DISCOVERY_USEC)
			continue;
		looked = now_usec();
		if (poll(&pfd, 1, 0) > 0 && drain_inotify() && discover(ALL_BACKENDS)) {
			publish(false, 0);
			i = (size_t)-1;	/* the list changed: again from its start */
		}
	}
}

/* full: sample everything; else only workloads new since the last sweep
 * (a discovery wake-up must not shorten everyone's rate interval). */
static void sweep(bool full, bool reread, uint64_t serves)
{
	if (full) {
		uint64_t start = now_usec();

		sample_host(start);
		sample_round();
		S.round_usec = now_usec() - start;
		__atomic_store_n(&S.round_end, start + S.round_usec, __ATOMIC_RELAXED);
	}
	publish(reread, serves);
}

static void backends_fini(void)
{
	for (unsigned b = 0; b < N_BACKENDS; b++)
		if (S.active[b] && backends[b]->fini)
			backends[b]->fini();
}

static unsigned every_sweep_mask(void)
{
	unsigned mask = 0;

	for (unsigned b = 0; b < N_BACKENDS; b++)
		if (backends[b]->discover_every_sweep)
			mask |= 1U << b;
	return mask;
}

/* (Re)start every backend for the current configuration. Workloads of a
 * backend that is no longer active vanish at the next discovery. */
static void apply_config(void)
{
	bool have_layout;

	backends_fini();
	cgroup_layout_free(&S.layout);
	have_layout = cgroup_layout_detect(S.cfg.cgroup_root, &S.layout) == 0;
	S.env = (struct backend_env){
		.cfg = &S.cfg,
		.layout = have_layout ? &S.layout : NULL,
		.inotify_fd = S.inotify_fd,
		.host_netns = proc_netns_inode(S.cfg.proc_root, 0),
		.delayacct = proc_delayacct_enabled(S.cfg.proc_root),
	};
	for (unsigned b = 0; b < N_BACKENDS; b++)
		S.active[b] = !backends[b]->init || backends[b]->init(&S.env) == 0;
	S.scope_cpuset = S.cfg.scope && S.cfg.scope[0] && have_layout;
	peers_configure(&S.cfg);
	__atomic_store_n(&S.interval_usec, (uint64_t)(S.cfg.interval * 1e6), __ATOMIC_RELAXED);
}

static void *sampler_main(void *arg)
{
	uint64_t next_full = now_usec() + (uint64_t)(S.cfg.interval * 1e6);
	uint64_t next_rescan = now_usec() + (uint64_t)(S.cfg.rescan_interval * 1e6);

	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = { { S.wake[0], POLLIN, 0 }, { S.inotify_fd, POLLIN, 0 } };
		uint64_t now = now_usec();
		int timeout = next_full > now ? (int)((next_full - now + 999) / 1000) : 0;
		bool rediscover = false, rescan = false, changed = false;

		if (poll(pfd, 2, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN) {
			char c;

			while (read(S.wake[0], &c, 1) > 0)
				;
		}
		pthread_mutex_lock(&S.lock);
		if (S.stop) {
			pthread_mutex_unlock(&S.lock);
			break;
		}
		uint64_t serves = S.tickets;
		bool refresh = serves > S.served;
		if (S.have_pending) {
			config_free(&S.cfg);
			S.cfg = S.pending;
			S.have_pending = false;
			apply_config();
			rediscover = rescan = true;
			events_add("adaptfs", "configuration reloaded from %s",
				   S.cfg.path ? S.cfg.path : "defaults");
		}
		pthread_mutex_unlock(&S.lock);
		if (pfd[1].revents & POLLIN)
			rediscover |= drain_inotify();

		now = now_usec();
		if (now >= next_rescan) {
			rediscover = rescan = true;
			next_rescan = now + (uint64_t)(S.cfg.rescan_interval * 1e6);
		}
		if (rediscover)
			changed = discover(ALL_BACKENDS);
		if (now >= next_full) {
			if (!rediscover)
				discover(every_sweep_mask());
			sweep(true, rescan || refresh, serves);
			next_full += (uint64_t)(S.cfg.interval * 1e6);
			if (next_full < now)	/* fell behind: don't burst to catch up */
				next_full = now + (uint64_t)(S.cfg.interval * 1e6);
		} else if (changed || rescan || refresh) {
			/* A wake-up for a cgroup that is no workload changes nothing;
			 * an action just moved or stopped a guest: look again. */
			if (refresh && !rediscover)
				discover(every_sweep_mask());
			sweep(false, rescan || refresh, serves);
		}
	}
	return NULL;
}

int sampler_start(struct config *cfg)
{
	int r;

	S.cfg = *cfg;
	S.start_usec = S.tree_usec = wall_usec();
	/* Under the lock: the managed thread, started before, may ask for a
	 * refresh at any time. */
	pthread_mutex_lock(&S.lock);
	r = pipe2(S.wake, O_CLOEXEC | O_NONBLOCK) < 0 ? -errno : 0;
	pthread_mutex_unlock(&S.lock);
	if (r < 0)
		return r;
	S.inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (S.inotify_fd < 0)
		log_warn("inotify unavailable (%s): discovery falls back to rescans", strerror(errno));
	apply_config();
	S.kvm = kvm_usable();
	log_info("hardware virtualization %s", S.kvm ? "usable" : "not usable: VMs would run under TCG");
	discover(ALL_BACKENDS);
	sweep(true, false, 0);
	r = pthread_create(&S.thread, NULL, sampler_main, NULL);
	if (r == 0)
		pthread_setname_np(S.thread, "adapt-sampler");
	return -r;
}

bool sampler_on_schedule(uint64_t slack_usec)
{
	uint64_t end = __atomic_load_n(&S.round_end, __ATOMIC_RELAXED);
	uint64_t interval = __atomic_load_n(&S.interval_usec, __ATOMIC_RELAXED);

	return end && now_usec() - end <= interval + slack_usec;
}

void sampler_reload(struct config *cfg)
{
	pthread_mutex_lock(&S.lock);
	if (S.have_pending)
		config_free(&S.pending);
	S.pending = *cfg;
	S.have_pending = true;
	pthread_mutex_unlock(&S.lock);
	if (write(S.wake[1], "r", 1) < 0)
		log_warn("cannot wake the sampler: %s", strerror(errno));
}

int sampler_refresh(int timeout_ms)
{
	struct timespec deadline;
	uint64_t ticket = 0;
	int r = 0, wake;

	timespec_after(&deadline, (uint64_t)timeout_ms * 1000);
	pthread_mutex_lock(&S.lock);
	wake = S.wake[1];
	if (wake >= 0)
		ticket = ++S.tickets;
	pthread_mutex_unlock(&S.lock);
	if (wake < 0)
		return 0;	/* not started: its first snapshot is taken after this */
	if (write(wake, "f", 1) < 0)
		return -errno;
	pthread_mutex_lock(&S.lock);
	while (S.served < ticket && r == 0)
		r = pthread_cond_timedwait(&S.published_cond, &S.lock, &deadline);
	pthread_mutex_unlock(&S.lock);
	return r ? -ETIMEDOUT : 0;
}

void sampler_stop(void)
{
	pthread_mutex_lock(&S.lock);
	S.stop = true;
	pthread_mutex_unlock(&S.lock);
	if (write(S.wake[1], "s", 1) < 0)
		log_warn("cannot wake the sampler: %s", strerror(errno));
	pthread_join(S.thread, NULL);
	for (size_t i = 0; i < S.n_tr; i++)
		tracked_free(S.tr[i]);
	free(S.tr);
	S.tr = NULL;
	S.n_tr = 0;
	if (S.have_pending)
		config_free(&S.pending);
	backends_fini();
	cgroup_layout_free(&S.layout);
	S.scope_cpuset = false;
	peers_stop();
	config_free(&S.cfg);
	close(S.wake[0]);
	close(S.wake[1]);
	if (S.inotify_fd >= 0)
		close(S.inotify_fd);
}
