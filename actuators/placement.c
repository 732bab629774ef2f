#include "placement.h"
#include "cgroup.h"
#include "cpulist.h"
#include "events.h"
#include "journal.h"
#include "layout.h"
#include "libvirt.h"
#include "log.h"
#include "managed.h"
#include "qemu.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

static char *proc_root;
static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static char *state_dir;

void placement_set_state_dir(const char *dir)
{
	pthread_mutex_lock(&state_lock);
	free(state_dir);
	state_dir = xstrdup(dir);
	pthread_mutex_unlock(&state_lock);
}

static char *state_dir_get(void)
{
	char *s;

	pthread_mutex_lock(&state_lock);
	s = state_dir ? xstrdup(state_dir) : NULL;
	pthread_mutex_unlock(&state_lock);
	return s;
}

void placement_init(const struct config *cfg)
{
	free(proc_root);
	proc_root = xstrdup(cfg->proc_root);
}

void placement_fini(void)
{
	free(proc_root);
	proc_root = NULL;
}

int placement_online_cpus(cpu_set_t *set)
{
	char buf[1024];
	ssize_t n = read_file("/sys/devices/system/cpu/online", buf, sizeof buf);

	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	return cpulist_parse(buf, strcspn(buf, "\n"), set);
}

static int write_str(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		return -errno;
	return 0;
}

/* A new v1 cpuset cgroup takes no task until it has CPUs and memory nodes:
 * give each level created here those of its parent. *created counts the
 * levels made, deepest last in made[], so a failure can remove them. */
static int cpuset_mkdir(const char *dir, char made[][PATH_MAX], int *created)
{
	char parent[PATH_MAX], buf[1024], path[PATH_MAX + 32];
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	char *slash;
	int r;

	if (access(dir, F_OK) == 0)
		return 0;
	snprintf(parent, sizeof parent, "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent || *created >= 8)
		return -EINVAL;
	*slash = '\0';
	r = cpuset_mkdir(parent, made, created);
	if (r < 0)
		return r;
	if (mkdir(dir, 0755) < 0)
		return errno == EEXIST ? 0 : -errno;
	snprintf(made[(*created)++], PATH_MAX, "%s", dir);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		r = path_printf(path, sizeof path, "%s/%s", parent, files[i]);
		if (r < 0)
			return r;
		if (read_file(path, buf, sizeof buf) < 0)
			return -EIO;
		r = path_printf(path, sizeof path, "%s/%s", dir, files[i]);
		if (r == 0)
			r = write_str(path, buf);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The CPUs a cpuset cgroup may hand out: its parent's effective ones. */
static bool within_parent(const char *dir, const cpu_set_t *cpus)
{
	char path[PATH_MAX + 32], buf[1024];
	cpu_set_t parent, both;
	const char *slash = strrchr(dir, '/');

	if (path_printf(path, sizeof path, "%.*s/cpuset.effective_cpus", (int)(slash - dir), dir) < 0)
		return true;	/* the pin itself fails on the length */
	if (read_file(path, buf, sizeof buf) <= 0 || cpulist_parse(buf, strcspn(buf, "\n"), &parent) < 0)
		return true;	/* cannot tell: let the kernel judge */
	CPU_AND(&both, cpus, &parent);
	return CPU_EQUAL(&both, cpus);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* The processes in a cgroup.procs, sorted for bsearch. */
static int read_procs(const char *path, struct pid_list *out)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	int pid;

	if (!f)
		return -errno;
	while (fscanf(f, "%d", &pid) == 1)
		pid_list_add(out, pid);
	if (out->n)
		qsort(out->v, out->n, sizeof *out->v, cmp_pid);
	return 0;
}

/* One round: every process of the workload not yet in dir's cpuset joins
 * it. *moved counts those that did. */
static int move_round(const struct cgroup_layout *L, const char *procs, const char *key,
		      size_t *moved)
{
	struct pid_list pids = {0}, in = {0};
	int r = cgroup_list_tasks(L, NULL, key, NULL, &pids);

	if (r == 0)
		r = read_procs(procs, &in);
	*moved = 0;
	for (size_t i = 0; r == 0 && i < pids.n; i++) {
		char pid[16];
		int e;

		if (in.n && bsearch(&pids.v[i], in.v, in.n, sizeof *in.v, cmp_pid))
			continue;
		snprintf(pid, sizeof pid, "%d", pids.v[i]);
		e = write_str(procs, pid);
		if (e == 0)
			(*moved)++;
		else if (e != -ESRCH)
			r = e;
	}
	pid_list_free(&pids);
	pid_list_free(&in);
	return r;
}

/* Processes the engine left in an ancestor's cpuset join the workload's,
 * whole: cgroup.procs moves every thread of a process at once. One that
 * exited meanwhile is no error; any other refusal is (a v1 cpuset without
 * memory nodes takes no task: ENOSPC). A process forked by one not yet
 * moved is born outside: rounds go on until one finds none left outside
 * (each round moves the forkers it saw, so a round adds only what they
 * forked meanwhile); a workload that outruns 100 rounds is EAGAIN. */
static int move_procs(const struct cgroup_layout *L, const char *dir, const char *key)
{
	char path[PATH_MAX + 32];
	size_t moved = 1;
	int r = path_printf(path, sizeof path, "%s/cgroup.procs", dir);

	for (int round = 0; r == 0 && moved; round++) {
		if (round == 100)
			return -EAGAIN;
		r = move_round(L, path, key, &moved);
	}
	return r;
}

/* The journal's name for a pin of key: keys are cgroup paths, too long
 * for a file name (FNV-1a, 64 bits). */
static void pin_id(const char *key, char *id, size_t size)
{
	snprintf(id, size, "pin-%016" PRIx64, fnv1a_str(key));
}

/* as journal_each reads an entry */
#define PIN_TEXT_MAX 8192

/* The journal entry: what to complete, and what was made for it. */
static const char *text_of(char *text, size_t size, const char *key, const char *list,
			   char made[][PATH_MAX], int created)
{
	int n = snprintf(text, size, "engine=pin\nkey=%s\ncpus=%s\n", key, list);

	for (int i = 0; i < created && n > 0 && (size_t)n < size; i++)
		n += snprintf(text + n, size - (size_t)n, "made%d=%s\n", i, made[i]);
	return text;
}

/* CPUs first, threads after: if the kernel refuses the CPUs nothing has
 * moved, and cgroups made for it are removed again. */
static int pin_container_v1(const struct cgroup_layout *L, const struct wl_view *w,
			    const cpu_set_t *cpus, const char *list)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], made[8][PATH_MAX], old[1024] = "", id[32];
	_cleanup_free_ char *sd = state_dir_get(), *text = xmalloc(PIN_TEXT_MAX);
	int created = 0, r;

	pin_id(w->key, id, sizeof id);

	if (!L->cpuset)
		return -EOPNOTSUPP;
	/* Paths are never cut: a cut one could be another workload's. */
	r = path_printf(dir, sizeof dir, "%s%s", L->walk, w->key);
	if (r < 0)
		return r;
	/* Gone meanwhile: do not make cgroups for it. */
	if (access(dir, F_OK) < 0)
		return -ENOENT;
	r = path_printf(dir, sizeof dir, "%s%s", L->cpuset, w->key);
	if (r < 0)
		return r;
	if (!within_parent(dir, cpus))
		return -ERANGE;
	r = cpuset_mkdir(dir, made, &created);
	if (r == 0)
		r = path_printf(path, sizeof path, "%s/cpuset.cpus", dir);
	if (r == 0 && read_file(path, old, sizeof old) < 0)
		old[0] = '\0';
	/* Intent first: a daemon killed from here on completes the pin at
	 * start. Unlike a move, a pin cut short leaves one copy running and is
	 * redone by writing it again: a state directory that is full or
	 * read-only costs the recovery, not the pin (said in events). */
	if (r == 0 && sd) {
		int e = journal_write(sd, id, text_of(text, PIN_TEXT_MAX, w->key, list, made, created));

		if (e < 0)
			events_add(w->name, "placement: pinning to cpus %s without a journal (%s): a "
				   "restart in the middle would not complete it", list, strerror(-e));
	}
	if (r == 0)
		r = write_str(path, list);
	if (r == 0) {
		r = move_procs(L, dir, w->key);
		/* Not pinned: the CPUs it had, for what did move. */
		if (r < 0 && old[0] && old[0] != '\n')
			write_str(path, old);
	}
	if (sd)
		journal_remove(sd, id);
	if (r < 0) {
		while (created-- > 0)
			rmdir(made[created]);
		/* The kernel's own reasons, in this file's terms: CPUs it may not
		 * have (EACCES) are out of range; CPUs a child cpuset holds (EBUSY)
		 * or any other refusal are invalid here. */
		return r == -EACCES ? -ERANGE : r == -EBUSY ? -EINVAL : r;
	}
	return 0;
}

static int pin_container_v2(const struct cgroup_layout *L, const struct wl_view *w,
			    const char *list)
{
	char path[PATH_MAX];
	int r = path_printf(path, sizeof path, "%s%s/cpuset.cpus", L->unified, w->key);

	if (r < 0)
		return r;
	if (access(path, F_OK) < 0)
		return -EOPNOTSUPP;	/* the cpuset controller is not enabled there */
	return write_str(path, list);
}

/* Pin every vCPU thread; on any failure restore the ones already moved. */
static int pin_vm(const struct wl_view *w, const cpu_set_t *cpus)
{
	struct pid_list t = {0};
	cpu_set_t *saved;
	size_t done = 0;
	int r = 0;

	qemu_vcpu_threads(proc_root, w->pid, &t);
	if (t.n == 0)
		return -ESRCH;
	saved = xcalloc(t.n, sizeof *saved);
	for (; done < t.n; done++) {
		if (sched_getaffinity(t.v[done], sizeof saved[done], &saved[done]) < 0 ||
		    sched_setaffinity(t.v[done], sizeof *cpus, cpus) < 0) {
			r = -errno;
			break;
		}
	}
	if (r < 0)
		while (done-- > 0)
			sched_setaffinity(t.v[done], sizeof saved[done], &saved[done]);
	free(saved);
	pid_list_free(&t);
	return r;
}

int placement_pin(const struct wl_view *w, const cpu_set_t *cpus)
{
	const struct cgroup_layout *L = actuator_layout();
	char list[1024];

	if (engine_can(w->engine, ENGINE_VIA_LIBVIRT))
		return libvirt_pin(proc_root, w->pid, w->name, cpus);
	if (engine_can(w->engine, ENGINE_MANAGED))
		return managed_pin(w->key, cpus);
	if (engine_can(w->engine, ENGINE_PIN_VCPUS))
		return pin_vm(w, cpus);
	if (!engine_can(w->engine, ENGINE_PIN_CPUSET))
		return -EOPNOTSUPP;
	if (!L)
		return -EOPNOTSUPP;	/* no cpuset to pin through */
	cpulist_format(cpus, list, sizeof list);
	return L->v2 ? pin_container_v2(L, w, list) : pin_container_v1(L, w, cpus, list);
}

/* Complete: the CPUs again, then every process; a workload gone meanwhile
 * leaves only the cpusets made for it, removed deepest first. */
static void recover_pin(const char *id, const char *text, void *ctx)
{
	const struct cgroup_layout *L = actuator_layout();
	char key[PATH_MAX], list[1024], dir[PATH_MAX], path[PATH_MAX + 32], made[PATH_MAX];
	int r;

	if (strncmp(id, "pin-", 4) != 0 || journal_get(text, "key", key, sizeof key) < 0 ||
	    journal_get(text, "cpus", list, sizeof list) < 0 || !L || !L->cpuset)
		return;
	r = path_printf(dir, sizeof dir, "%s%s", L->walk, key);
	if (r == 0 && access(dir, F_OK) < 0)
		r = -ENOENT;
	if (r == 0)
		r = path_printf(dir, sizeof dir, "%s%s", L->cpuset, key);
	if (r == 0)
		r = path_printf(path, sizeof path, "%s/cpuset.cpus", dir);
	if (r == 0)
		r = write_str(path, list);
	if (r == 0)
		r = move_procs(L, dir, key);
	if (r == 0) {
		log_warn("pin of %s to cpus %s, cut by a restart, completed", key, list);
		events_add("adaptfs", "placement: the pin of %s to cpus %s, cut by a restart, completed",
			   key, list);
	} else {
		for (int i = 7; i >= 0; i--) {
			char k[16];

			snprintf(k, sizeof k, "made%d", i);
			if (journal_get(text, k, made, sizeof made) == 0)
				rmdir(made);
		}
		log_warn("pin of %s to cpus %s, cut by a restart, not completed: %s", key, list,
			 strerror(-r));
		events_add("adaptfs", "placement: the pin of %s to cpus %s, cut by a restart, could "
			   "not be completed: %s", key, list, strerror(-r));
	}
	journal_remove(ctx, id);
}

void placement_recover(void)
{
	_cleanup_free_ char *sd = state_dir_get();

	if (sd)
		journal_each(sd, recover_pin, sd);
}
