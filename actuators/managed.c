/* Managed workloads: the registry, their life (start at mount and on
 * SIGHUP, stop at exit) and the switch between container and VM. Each
 * workload's state file tells the sampler what it runs as now. */
#include "managed_impl.h"
#include "proc.h"
#include "events.h"
#include "kvm.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

static struct {
	pthread_mutex_t lock;		/* guards everything below */
	pthread_cond_t cond;
	struct managed_env env;
	char recipes[PATH_MAX];
	struct mw **w;
	size_t n;
	bool rescan, stop, running;
	bool rescan_after_switch;	/* a removed recipe's workload was switching */
	pthread_t thread;
} M = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

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

/* Written whole and renamed: the sampler never reads half a file. */
static void write_state(const struct mw *w)
{
	struct strbuf sb = {0};
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof path, "%s/state", w->dir);
	snprintf(tmp, sizeof tmp, "%s/state.new", w->dir);
	managed_state_format(&w->st, &sb);
	f = fopen(tmp, "we");
	if (!f || fwrite(sb.buf, 1, sb.len, f) != sb.len || fclose(f) != 0 || rename(tmp, path) < 0)
		log_warn("%s: cannot write %s: %s", w->r.name, path, strerror(errno));
	strbuf_free(&sb);
}

static void remove_state(const struct mw *w)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof path, "%s/state", w->dir);
	unlink(path);
}

static bool container_alive(struct mw *w)
{
	return !proc_gone("/proc", w->st.pid);
}

static void stop_engine(const struct managed_env *e, struct mw *w)
{
	if (w->st.vm)
		mvm_stop(w);
	else
		mrunc_stop(e, w);
}

/* Start in one mode and wait until ready; on failure nothing is left. */
static int start_engine(const struct managed_env *e, struct mw *w, bool vm, char *why, size_t n)
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
	r = mready_wait(w, vm ? mvm_alive : container_alive, why, n);
	if (r < 0)
		stop_engine(e, w);
	return r;
}

/* w is busy (ours). The workload runs in exactly one mode at any time:
 * never both (one address, one rootfs written twice). */
static int switch_mode(struct mw *w, bool vm)
{
	struct managed_env e;
	char why[512], why2[512];
	bool old_vm = w->st.vm;
	uint64_t t0;
	int r;

	if (w->st.running && w->st.vm == vm)
		return 0;
	env_get(&e);
	events_add(w->r.name, "mode: switching %s -> %s", mode_word(old_vm), mode_word(vm));
	t0 = now_usec();
	if (w->st.running)
		stop_engine(&e, w);
	r = start_engine(&e, w, vm, why, sizeof why);
	if (r == 0) {
		w->st.switches++;
		w->st.downtime_usec = now_usec() - t0;
		write_state(w);
		events_add(w->r.name, "mode: now %s (downtime %.3f s)", mode_word(vm),
			   (double)w->st.downtime_usec / 1e6);
		return 0;
	}
	events_add(w->r.name, "mode: %s failed to start: %.200s; starting it as %s again",
		   mode_word(vm), why, mode_word(old_vm));
	if (start_engine(&e, w, old_vm, why2, sizeof why2) < 0) {
		w->st.vm = old_vm;
		events_add(w->r.name, "mode: %s failed to start too: %.200s; it is stopped",
			   mode_word(old_vm), why2);
	} else {
		events_add(w->r.name, "mode: running as %s again", mode_word(old_vm));
	}
	write_state(w);
	return -EIO;
}

static void first_start(struct mw *w)
{
	struct managed_env e;
	char why[512];
	bool vm = w->setting == RECIPE_VM;
	uint64_t t0 = now_usec();

	env_get(&e);
	if (start_engine(&e, w, vm, why, sizeof why) < 0)
		events_add(w->r.name, "start as %s failed: %.200s", mode_word(vm), why);
	else
		events_add(w->r.name, "started as %s (ready in %.3f s)", mode_word(vm),
			   (double)(now_usec() - t0) / 1e6);
	write_state(w);
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
		w->gone = false;
	} else {
		w = mw_new(r, run_dir);
		M.w = realloc(M.w, (M.n + 1) * sizeof *M.w);
		if (!M.w)
			abort();
		M.w[M.n++] = w;
	}
	w->busy = true;
	pthread_mutex_unlock(&M.lock);
	mkdirs(run_dir, w->dir);
	first_start(w);
	pthread_mutex_lock(&M.lock);
	w->busy = false;
	pthread_mutex_unlock(&M.lock);
}

static void retire(struct mw *w)
{
	struct managed_env e;

	env_get(&e);
	if (w->st.running)
		stop_engine(&e, w);
	remove_state(w);
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
		events_add(w->r.name, "recipe removed: stopping it");
		retire(w);
		pthread_mutex_lock(&M.lock);
		w->gone = true;
		w->busy = false;
		pthread_mutex_unlock(&M.lock);
	}
}

static void *managed_main(void *arg)
{
	/* The probe runs a guest with a deadline: not under the lock. */
	bool kvm = kvm_usable();

	(void)arg;
	pthread_mutex_lock(&M.lock);
	M.env.kvm = kvm;
	while (!M.stop) {
		if (M.rescan) {
			M.rescan = false;
			pthread_mutex_unlock(&M.lock);
			scan_recipes();
			pthread_mutex_lock(&M.lock);
			continue;
		}
		pthread_cond_wait(&M.cond, &M.lock);
	}
	pthread_mutex_unlock(&M.lock);
	return NULL;
}

int managed_start(const struct config *cfg)
{
	int r;

	env_from(cfg, &M.env);
	snprintf(M.recipes, sizeof M.recipes, "%s", cfg->managed.recipes);
	M.rescan = true;
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

/* After the job workers: no switch runs any more. */
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
		if (!M.w[i]->gone)
			retire(M.w[i]);
		recipe_free(&M.w[i]->r);
		free(M.w[i]);
	}
	free(M.w);
	M.w = NULL;
	M.n = 0;
}

int managed_mode(const char *name, enum recipe_mode *setting, bool *vm)
{
	struct mw *w;
	int r = -ENOENT;

	pthread_mutex_lock(&M.lock);
	w = find(name);
	if (w && !w->gone) {
		*setting = w->setting;
		*vm = w->st.vm;
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
	w = find(name);
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

static void release(struct mw *w, bool set, enum recipe_mode setting)
{
	pthread_mutex_lock(&M.lock);
	if (set)
		w->setting = setting;
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
	release(w, r == 0, m);
	return r;
}

int managed_switch(const char *name, bool vm)
{
	struct mw *w;
	int r = claim(name, &w);

	if (r < 0)
		return r;
	r = switch_mode(w, vm);
	release(w, false, RECIPE_AUTO);
	return r;
}
