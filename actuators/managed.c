/* Managed workloads: the registry, their life (start at mount and on
 * SIGHUP, adopted as they run by the next adaptfs after an exit, stopped
 * when their recipe goes or by adaptfs --stop-workloads) and the switch
 * between container and VM. Each workload's state file tells the sampler
 * what it runs as now, and the next adaptfs which process to take over. */
#include "managed_impl.h"
#include "cpulist.h"
#include "proc.h"
#include "events.h"
#include "sampler.h"
#include "snapshot.h"
#include "kvm.h"
#include "log.h"
#include "trust.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/stat.h>

/* A recipe's stop_timeout when its recipe is gone (adaptfs-workloads(5)) */
#define STOP_TIMEOUT_DEFAULT 10.0
/* A new snapshot after a scan of the recipes, waited for at most. */
#define REFRESH_MS 2000
/* How often a booting VM standby is looked at: it pauses once at its link. */
#define BOOTING_ROUND_USEC (100 * 1000)

static struct {
	pthread_mutex_t lock;		/* guards everything below */
	pthread_cond_t cond;
	pthread_cond_t stepped;		/* a standby step ended */
	struct managed_env env;
	char recipes[PATH_MAX];
	struct mw **w;
	size_t n;
	bool rescan, stop, running;
	bool rescan_after_switch;	/* a removed recipe's workload was switching */
	bool first_scan;		/* workloads left without a recipe still to stop */
	int run_lock;			/* RUN_DIR, flock()ed while we manage it */
	pthread_t thread;
} M = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
	.stepped = PTHREAD_COND_INITIALIZER, .run_lock = -1 };

static void env_from(const struct config *cfg, struct managed_env *e)
{
	const struct managed_config *m = &cfg->managed;
	bool kvm = e->kvm;

	*e = (struct managed_env){ .kvm = kvm };
	snprintf(e->run_dir, sizeof e->run_dir, "%s", m->run_dir);
	snprintf(e->bridge, sizeof e->bridge, "%s", m->bridge);
	snprintf(e->bridge_address, sizeof e->bridge_address, "%s", m->bridge_address);
	snprintf(e->bridge_mac, sizeof e->bridge_mac, "%s", m->bridge_mac);
	snprintf(e->kernel, sizeof e->kernel, "%s", m->kernel);
	snprintf(e->initrd, sizeof e->initrd, "%s", m->initrd);
	snprintf(e->qemu, sizeof e->qemu, "%s", m->qemu);
	snprintf(e->runc, sizeof e->runc, "%s", m->runc);
	snprintf(e->scope, sizeof e->scope, "%s", cfg->scope);
	e->interval = cfg->interval;
}

static void env_get(struct managed_env *e)
{
	pthread_mutex_lock(&M.lock);
	*e = M.env;
	pthread_mutex_unlock(&M.lock);
}

static const char *mode_word(bool vm)
{
	return vm ? "vm" : "container";
}

void mw_event(const struct mw *w, const char *fmt, ...)
{
	struct snapshot *s = snapshot_get();
	const char *shown = w->r.name;
	va_list ap;

	for (size_t i = 0; s && i < s->n; i++)
		if (engine_can(s->wl[i].engine, ENGINE_MANAGED) && strcmp(s->wl[i].key, w->r.name) == 0)
			shown = s->wl[i].name;
	va_start(ap, fmt);
	events_vadd(shown, fmt, ap);
	va_end(ap);
	snapshot_put(s);
}

/* Written whole and renamed, never through a symlink: the sampler never
 * reads half a file, and the next adaptfs takes over the process it names. */
void mw_save(struct mw *w)
{
	struct strbuf sb = {0};
	_cleanup_close_ int dfd = trust_open_dir(AT_FDCWD, w->dir, 0700, true);
	int r = dfd;

	w->st.setting = w->setting;
	snprintf(w->st.cpus, sizeof w->st.cpus, "%s", w->cpus);
	managed_state_format(&w->st, &sb);
	if (dfd >= 0)
		r = trust_write_at(dfd, "state", sb.buf);
	if (r < 0)
		log_warn("%s: cannot write %s/state: %s", w->r.name, w->dir, strerror(-r));
	strbuf_free(&sb);
}

static int read_state(const struct mw *w, struct managed_state *st)
{
	_cleanup_close_ int dfd = trust_open_dir(AT_FDCWD, w->dir, 0700, false);
	char text[MANAGED_STATE_MAX];
	int r = dfd;

	if (dfd >= 0)
		r = trust_read_at(dfd, "state", text, sizeof text);
	return r < 0 ? r : managed_state_parse(text, st);
}

/* What a stopped workload leaves: nothing that says it runs. */
static void remove_state(const struct mw *w)
{
	_cleanup_close_ int dfd = trust_open_dir(AT_FDCWD, w->dir, 0700, false);

	if (dfd < 0)
		return;
	unlinkat(dfd, "state", 0);
	unlinkat(dfd, "qmp.sock", 0);
}

static bool container_alive(struct mw *w)
{
	return !proc_gone("/proc", w->st.pid);
}

bool mw_alive(struct mw *w)
{
	return w->st.vm ? mvm_alive(w) : container_alive(w);
}

void mw_stop(const struct managed_env *e, struct mw *w)
{
	if (w->st.vm)
		mvm_stop(e, w);
	else
		mrunc_stop(e, w);
}

/* Start in one mode and wait until ready (*launched: when its engine had
 * started, NULL if not wanted); on failure nothing is left. */
static int start_engine(const struct managed_env *e, struct mw *w, bool vm, uint64_t *launched,
			char *why, size_t n)
{
	struct stat st;
	int r;

	if (stat(w->r.rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, n, "rootfs %s is not a directory", w->r.rootfs);
		return -ENOENT;
	}
	r = mnet_bridge(e, why, n);
	if (r < 0)
		return r;
	r = vm ? mvm_start(e, w, why, n) : mrunc_start(e, w, why, n);
	if (r < 0) {
		w->st = (struct managed_state){ .vm = vm, .switches = w->st.switches,
						.downtime_usec = w->st.downtime_usec };
		return r;
	}
	/* Before the readiness wait: a daemon killed meanwhile leaves the next
	 * one this process to adopt, never one it does not know of. */
	mw_save(w);
	if (launched)
		*launched = now_usec();
	r = mready_wait(w, mw_alive, why, n);
	if (r < 0)
		mw_stop(e, w);
	return r;
}

void mw_switched(struct mw *w, uint64_t t0, uint64_t t1, uint64_t t2, bool warm)
{
	uint64_t t3 = now_usec();

	w->st.quiesce_usec = t1 - t0;
	w->st.handover_usec = t2 - t1;
	w->st.ready_usec = t3 - t2;
	w->st.downtime_usec = t3 - t0;
	w->st.warm = warm;
}

/* Stop the running instance, boot the other: the old way, without a
 * standby. Its times in w->st. */
static int switch_cold(const struct managed_env *e, struct mw *w, bool vm, char *why, size_t n)
{
	uint64_t t0 = now_usec(), t1, t2 = 0;
	int r;

	mstandby_drop(e, w);
	if (w->st.running)
		mw_stop(e, w);
	t1 = now_usec();
	r = start_engine(e, w, vm, &t2, why, n);
	if (r < 0)
		return r;
	mw_switched(w, t0, t1, t2, false);
	return 0;
}

/* w is busy (ours). The workload runs in exactly one mode at any time:
 * never both (one address, one rootfs written twice). */
static int switch_mode(struct mw *w, bool vm)
{
	struct managed_env e;
	char why[512], why2[512];
	bool old_vm = w->st.vm, warm;
	int r;

	if (w->st.running && w->st.vm == vm)
		return 0;
	env_get(&e);
	warm = w->st.running && w->st.standby.present;
	mw_event(w, "mode: switching %s -> %s%s", mode_word(old_vm), mode_word(vm),
		 warm ? " (to its standby)" : "");
	r = warm ? mstandby_switch(&e, w, why, sizeof why) : -EAGAIN;
	if (r == -EAGAIN)
		r = switch_cold(&e, w, vm, why, sizeof why);
	w->standby_retry_usec = 0;	/* the old mode is prepared again */
	if (r == 0) {
		w->st.switches++;
		mw_save(w);
		mw_event(w, "mode: now %s (downtime %.3f s), %s: quiesce %.3f s, "
			 "hand-over %.3f s, ready %.3f s", mode_word(vm),
			 (double)w->st.downtime_usec / 1e6, w->st.warm ? "warm" : "cold",
			 (double)w->st.quiesce_usec / 1e6, (double)w->st.handover_usec / 1e6,
			 (double)w->st.ready_usec / 1e6);
		return 0;
	}
	if (w->st.running && w->st.vm == old_vm) {	/* the standby failed; the old one serves */
		mw_event(w, "mode: %s failed to start: %.200s", mode_word(vm), why);
		mw_event(w, "mode: running as %s again", mode_word(old_vm));
		return -EIO;
	}
	mw_event(w, "mode: %s failed to start: %.200s; starting it as %s again",
		 mode_word(vm), why, mode_word(old_vm));
	if (start_engine(&e, w, old_vm, NULL, why2, sizeof why2) < 0) {
		w->st.vm = old_vm;
		mw_event(w, "mode: %s failed to start too: %.200s; it is stopped",
			 mode_word(old_vm), why2);
	} else {
		mw_event(w, "mode: running as %s again", mode_word(old_vm));
	}
	mw_save(w);
	return -EIO;
}

static void first_start(struct mw *w)
{
	struct managed_env e;
	char why[512];
	bool vm = w->setting == RECIPE_VM;
	uint64_t t0 = now_usec();

	env_get(&e);
	if (start_engine(&e, w, vm, NULL, why, sizeof why) < 0)
		mw_event(w, "start as %s failed: %.200s", mode_word(vm), why);
	else
		mw_event(w, "started as %s (ready in %.3f s)", mode_word(vm),
			 (double)(now_usec() - t0) / 1e6);
	mw_save(w);
}

/* A workload an earlier adaptfs left running (its state file): take its
 * process over as it is, with its mode setting and counters (announced in
 * events if to_run). true if it runs; else what is left of it is removed,
 * and it starts as its recipe says. */
static bool adopt(struct mw *w, bool to_run)
{
	struct managed_env e;
	struct managed_state st;
	char why[256];
	pid_t pid = 0;
	bool alive;

	if (read_state(w, &st) < 0)
		return false;
	w->st = st;
	w->setting = st.setting;
	snprintf(w->cpus, sizeof w->cpus, "%s", st.cpus);
	if (!st.running)
		return false;
	env_get(&e);
	if (st.standby.present) {
		/* a switch (to a standby: it has one) killed while it drained the
		 * old instance left new connections refused */
		mnet_refuse_new(w, false, why, sizeof why);
		/* prepared again if wanted: a restart is rare, a standby cheap */
		if (to_run)
			mw_event(w, "standby: dropping the %s an earlier adaptfs prepared",
				 mode_word(st.standby.vm));
		w->other = (struct mw_proc){ .adopted = st.standby.vm };
		mstandby_drop(&e, w);
		mw_save(w);
	}
	if (st.vm) {
		alive = st.pid_start && proc_start_time("/proc", st.pid) == st.pid_start;
		w->run.adopted = true;
	} else {
		alive = mrunc_running(&e, w, &pid) == 0 && pid == st.pid;
	}
	if (alive) {
		if (to_run)
			mw_event(w, "adopted: running as %s, pid %d, since before this adaptfs",
				 mode_word(st.vm), (int)st.pid);
		return true;
	}
	mw_event(w, "%s (pid %d) stopped while adaptfs was not running", mode_word(st.vm),
		 (int)st.pid);
	w->st.pid = pid;	/* never signal a pid that may be another process now */
	mw_stop(&e, w);
	return false;
}

/* Everything a workload owns is named after it: hash for interface names,
 * which have 15 characters at most. */
static struct mw *mw_new(struct recipe *r, const char *run_dir)
{
	struct mw *w = xcalloc(1, sizeof *w);
	uint32_t h = 2166136261u;

	for (const char *p = r->name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	w->r = *r;
	w->setting = r->mode;
	snprintf(w->dir, sizeof w->dir, "%s/workloads/%s", run_dir, r->name);
	snprintf(w->id, sizeof w->id, MANAGED_PREFIX "%s", r->name);
	snprintf(w->ifname, sizeof w->ifname, "adapt%08x", h);
	snprintf(w->tapname, sizeof w->tapname, "adapt%08xv", h);
	return w;
}

static struct mw *find(const char *name)
{
	for (size_t i = 0; i < M.n; i++)
		if (strcmp(M.w[i]->r.name, name) == 0)
			return M.w[i];
	return NULL;
}

static void mkdirs(const char *run_dir, const char *dir)
{
	char path[PATH_MAX];

	mkdir(run_dir, 0755);
	snprintf(path, sizeof path, "%s/workloads", run_dir);
	mkdir(path, 0755);
	mkdir(dir, 0700);
}

/* One recipe read at start or reload: a new (or returning) one starts;
 * a known one gets the new recipe for its next start or switch. */
static void take_recipe(struct recipe *r, const char *run_dir)
{
	struct mw *w;

	pthread_mutex_lock(&M.lock);
	w = find(r->name);
	if (w && (w->busy || !w->gone)) {
		if (!w->busy) {
			recipe_free(&w->r);
			w->r = *r;
		} else {
			recipe_free(r);
		}
		pthread_mutex_unlock(&M.lock);
		return;
	}
	if (w) {
		recipe_free(&w->r);
		w->r = *r;
		w->setting = r->mode;
		w->cpus[0] = '\0';	/* a returning recipe starts afresh */
		w->gone = false;
	} else {
		w = mw_new(r, run_dir);
		M.w = xreallocarray(M.w, M.n + 1, sizeof *M.w);
		M.w[M.n++] = w;
	}
	w->busy = true;
	pthread_mutex_unlock(&M.lock);
	mkdirs(run_dir, w->dir);
	if (!adopt(w, true))
		first_start(w);
	pthread_mutex_lock(&M.lock);
	w->busy = false;
	pthread_mutex_unlock(&M.lock);
}

static void retire(struct mw *w)
{
	struct managed_env e;

	env_get(&e);
	mstandby_drop(&e, w);
	if (w->st.running)
		mw_stop(&e, w);
	remove_state(w);
}

/* Stop a workload an earlier adaptfs left in RUN_DIR/workloads/NAME, with
 * the stop_timeout of its recipe if that is still in dir. */
static void stop_left(const char *run_dir, const char *dir, const char *name)
{
	char path[PATH_MAX + 256], err[PATH_MAX + 256];
	struct recipe r;
	struct mw *w;

	if (path_printf(path, sizeof path, "%s/%s.conf", dir, name) < 0 ||
	    recipe_load(path, &r, err, sizeof err) < 0) {
		r = (struct recipe){ .stop_timeout = STOP_TIMEOUT_DEFAULT };
		snprintf(r.name, sizeof r.name, "%s", name);
	}
	w = mw_new(&r, run_dir);
	if (adopt(w, false)) {
		events_add(name, "stopping it (%s, pid %d)", mode_word(w->st.vm), (int)w->st.pid);
		retire(w);
	} else {
		remove_state(w);
	}
	recipe_free(&w->r);
	free(w);
}

/* Names under RUN_DIR/workloads that have a state file; their count. */
static int list_left(const char *run_dir, char ***names)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int n = 0;

	*names = NULL;
	if (path_printf(path, sizeof path, "%s/workloads", run_dir) < 0 || !(d = opendir(path)))
		return 0;
	while ((de = readdir(d))) {
		char state[PATH_MAX + 300];
		struct stat st;

		if (de->d_name[0] == '.' || strlen(de->d_name) > RECIPE_NAME_MAX ||
		    path_printf(state, sizeof state, "%s/%s/state", path, de->d_name) < 0 ||
		    lstat(state, &st) < 0)
			continue;
		*names = xreallocarray(*names, (size_t)n + 1, sizeof **names);
		(*names)[n++] = xstrdup(de->d_name);
	}
	return n;
}

/* At start: a workload whose recipe was removed while no adaptfs ran. */
static void stop_orphans(const char *run_dir, const char *dir)
{
	char **names;
	int n = list_left(run_dir, &names);

	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(&M.lock);
		bool known = find(names[i]) != NULL;
		pthread_mutex_unlock(&M.lock);
		if (!known) {
			events_add(names[i], "recipe removed (or refused) while adaptfs was not running");
			stop_left(run_dir, dir, names[i]);
		}
		free(names[i]);
	}
	free(names);
}

static int is_recipe(const struct dirent *de)
{
	return de->d_name[0] != '.' && endswith(de->d_name, ".conf");
}

static void scan_recipes(void)
{
	struct managed_env e;
	char dir[PATH_MAX];
	struct dirent **list = NULL;
	int n;

	pthread_mutex_lock(&M.lock);
	snprintf(dir, sizeof dir, "%s", M.recipes);
	pthread_mutex_unlock(&M.lock);
	env_get(&e);
	n = scandir(dir, &list, is_recipe, alphasort);
	if (n < 0 && errno != ENOENT)
		log_warn("managed: cannot read %s: %s", dir, strerror(errno));
	bool seen[M.n + (n > 0 ? (size_t)n : 0) + 1];
	memset(seen, 0, sizeof seen);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX + 256], err[PATH_MAX + 256];
		struct recipe r;

		snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
		free(list[i]);
		if (recipe_load(path, &r, err, sizeof err) < 0) {
			events_add("adaptfs", "recipe refused: %s", err);
			continue;
		}
		char name[sizeof r.name];
		snprintf(name, sizeof name, "%s", r.name);
		take_recipe(&r, e.run_dir);
		pthread_mutex_lock(&M.lock);
		for (size_t k = 0; k < M.n; k++)
			if (strcmp(M.w[k]->r.name, name) == 0)
				seen[k] = true;
		pthread_mutex_unlock(&M.lock);
	}
	free(list);
	pthread_mutex_lock(&M.lock);
	bool first = M.first_scan;
	M.first_scan = false;
	pthread_mutex_unlock(&M.lock);
	if (first)
		stop_orphans(e.run_dir, dir);
	/* Recipes removed: stop their workloads. */
	for (size_t k = 0;; k++) {
		struct mw *w;

		pthread_mutex_lock(&M.lock);
		if (k >= M.n) {
			pthread_mutex_unlock(&M.lock);
			break;
		}
		w = M.w[k];
		if (!seen[k] && !w->gone && w->busy)
			M.rescan_after_switch = true;	/* stopped once the switch is done */
		if (seen[k] || w->gone || w->busy) {
			pthread_mutex_unlock(&M.lock);
			continue;
		}
		w->busy = true;
		pthread_mutex_unlock(&M.lock);
		mw_event(w, "recipe removed: stopping it");
		retire(w);
		pthread_mutex_lock(&M.lock);
		w->gone = true;
		w->busy = false;
		pthread_mutex_unlock(&M.lock);
	}
}

/* Each idle workload's standby: checked, prepared, settled or dropped.
 * true while a VM standby boots. */
static bool standby_round(void)
{
	struct managed_env e;
	bool booting = false;

	env_get(&e);
	for (size_t k = 0;; k++) {
		struct mw *w;

		pthread_mutex_lock(&M.lock);
		if (k >= M.n) {
			pthread_mutex_unlock(&M.lock);
			break;
		}
		w = M.w[k];
		if (w->busy || w->gone) {
			pthread_mutex_unlock(&M.lock);
			continue;
		}
		w->stepping = true;
		bool want = w->want_standby;
		pthread_mutex_unlock(&M.lock);
		if (mstandby_step(&e, w, want))
			mw_save(w);
		booting |= mstandby_booting(w);
		pthread_mutex_lock(&M.lock);
		w->stepping = false;
		pthread_cond_broadcast(&M.stepped);
		pthread_mutex_unlock(&M.lock);
	}
	return booting;
}

static void *managed_main(void *arg)
{
	/* The probe runs a guest with a deadline: not under the lock. */
	bool kvm = kvm_usable();
	uint64_t next_round = 0;

	(void)arg;
	pthread_mutex_lock(&M.lock);
	M.env.kvm = kvm;
	while (!M.stop) {
		struct timespec until;
		uint64_t now;

		if (M.rescan) {
			M.rescan = false;
			pthread_mutex_unlock(&M.lock);
			scan_recipes();
			/* what was adopted or started, with its kept mode setting,
			 * in the snapshot now rather than an interval later */
			sampler_refresh(REFRESH_MS);
			pthread_mutex_lock(&M.lock);
			continue;
		}
		/* one reading: a round due between two would wrap the wait */
		if ((now = now_usec()) >= next_round) {
			double interval = M.env.interval > 0 ? M.env.interval : 1;

			pthread_mutex_unlock(&M.lock);
			bool booting = standby_round();
			next_round = now_usec() + (booting ? BOOTING_ROUND_USEC
							   : (uint64_t)(interval * 1e6));
			pthread_mutex_lock(&M.lock);
			continue;
		}
		timespec_after(&until, next_round - now);
		pthread_cond_timedwait(&M.cond, &M.lock, &until);
	}
	pthread_mutex_unlock(&M.lock);
	return NULL;
}

/* One adaptfs manages a run directory at a time: the lock lives as long as
 * the process (O_CLOEXEC: the workloads it starts, which outlive it, must
 * not hold it). -EBUSY if another holds it. */
static int lock_run_dir(const char *run_dir)
{
	int fd;

	mkdir(run_dir, 0755);
	fd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -EBUSY;
	}
	return fd;
}

int managed_start(const struct config *cfg)
{
	int r;

	M.run_lock = lock_run_dir(cfg->managed.run_dir);
	if (M.run_lock < 0) {
		log_info("managed workloads: %s is %s: none are managed here", cfg->managed.run_dir,
			 M.run_lock == -EBUSY ? "in use by another adaptfs" : strerror(-M.run_lock));
		return 0;
	}
	env_from(cfg, &M.env);
	snprintf(M.recipes, sizeof M.recipes, "%s", cfg->managed.recipes);
	M.rescan = true;
	M.first_scan = true;
	r = pthread_create(&M.thread, NULL, managed_main, NULL);
	if (r != 0)
		return -r;
	pthread_setname_np(M.thread, "adapt-managed");
	M.running = true;
	return 0;
}

void managed_reload(const struct config *cfg)
{
	pthread_mutex_lock(&M.lock);
	env_from(cfg, &M.env);
	snprintf(M.recipes, sizeof M.recipes, "%s", cfg->managed.recipes);
	M.rescan = true;
	pthread_cond_signal(&M.cond);
	pthread_mutex_unlock(&M.lock);
}

/* After the job workers: no switch runs any more. The workloads go on
 * running: the next adaptfs adopts them. */
void managed_stop(void)
{
	if (!M.running)
		return;
	pthread_mutex_lock(&M.lock);
	M.stop = true;
	pthread_cond_signal(&M.cond);
	pthread_mutex_unlock(&M.lock);
	pthread_join(M.thread, NULL);
	M.running = false;
	for (size_t i = 0; i < M.n; i++) {
		recipe_free(&M.w[i]->r);
		free(M.w[i]);
	}
	free(M.w);
	M.w = NULL;
	M.n = 0;
	close(M.run_lock);
	M.run_lock = -1;
}

int managed_stop_workloads(const struct config *cfg)
{
	const char *run_dir = cfg->managed.run_dir;
	_cleanup_close_ int lock = -1;
	char **names;
	int n;

	if (access(run_dir, F_OK) < 0)
		return 0;	/* nothing ever ran */
	lock = lock_run_dir(run_dir);
	if (lock < 0) {
		log_err("%s: %s", run_dir, lock == -EBUSY ? "an adaptfs manages these workloads: stop it first "
			"(or remove a recipe and reload it to stop one)" : strerror(-lock));
		return lock;
	}
	env_from(cfg, &M.env);
	n = list_left(run_dir, &names);
	for (int i = 0; i < n; i++) {
		stop_left(run_dir, cfg->managed.recipes, names[i]);
		free(names[i]);
	}
	free(names);
	return 0;
}

int managed_mode(const char *name, enum recipe_mode *setting)
{
	struct mw *w;
	int r = -ENOENT;

	pthread_mutex_lock(&M.lock);
	w = find(name);
	if (w && !w->gone) {
		*setting = w->setting;
		r = 0;
	}
	pthread_mutex_unlock(&M.lock);
	return r;
}

/* Take w for an action: -ENOENT, -EBUSY, or 0 with w busy. */
static int claim(const char *name, struct mw **out)
{
	struct mw *w;
	int r = 0;

	pthread_mutex_lock(&M.lock);
	/* a standby step is short and no action of the user's: wait for it */
	while ((w = find(name)) && w->stepping)
		pthread_cond_wait(&M.stepped, &M.lock);
	if (!w || w->gone)
		r = -ENOENT;
	else if (w->busy)
		r = -EBUSY;
	else
		w->busy = true;
	pthread_mutex_unlock(&M.lock);
	*out = w;
	return r;
}

static void release(struct mw *w)
{
	pthread_mutex_lock(&M.lock);
	w->busy = false;
	if (M.rescan_after_switch) {
		M.rescan_after_switch = false;
		M.rescan = true;
		pthread_cond_signal(&M.cond);
	}
	pthread_mutex_unlock(&M.lock);
}

int managed_set_mode(const char *name, enum recipe_mode m)
{
	struct mw *w;
	int r = claim(name, &w);

	if (r < 0)
		return r;
	if (m != RECIPE_AUTO)
		r = switch_mode(w, m == RECIPE_VM);
	if (r == 0) {
		pthread_mutex_lock(&M.lock);
		w->setting = m;
		pthread_mutex_unlock(&M.lock);
		mw_save(w);		/* the setting outlives this adaptfs */
	}
	release(w);
	return r;
}

int managed_pin(const char *name, const cpu_set_t *cpus)
{
	struct managed_env e;
	char list[MANAGED_CPUS_MAX], why[512];
	struct mw *w;
	int r = claim(name, &w);

	if (r < 0)
		return r;
	cpulist_format(cpus, list, sizeof list);
	env_get(&e);
	r = mpin_apply(&e, w, cpus, list, why, sizeof why);
	if (r == 0) {
		snprintf(w->cpus, sizeof w->cpus, "%s", list);
		mw_save(w);		/* the pin outlives this adaptfs */
	} else {
		mw_event(w, "placement: %.200s", why);
	}
	release(w);
	return r;
}

void managed_want_standby(const char *name, bool want)
{
	struct mw *w;

	pthread_mutex_lock(&M.lock);
	w = find(name);
	if (w)
		w->want_standby = want;
	pthread_mutex_unlock(&M.lock);
}

int managed_switch(const char *name, bool vm)
{
	struct mw *w;
	int r = claim(name, &w);

	if (r < 0)
		return r;
	r = switch_mode(w, vm);
	release(w);
	return r;
}
