#include "cgroup.h"
#include "parse.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static char *path_if_dir(const char *root, const char *name)
{
	char p[PATH_MAX], t[NAME_MAX + 1];
	struct stat st;
	ssize_t n;

	snprintf(p, sizeof p, "%s/%s", root, name);
	if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
		return NULL;
	/* cpuacct is often a symlink to the co-mounted cpu,cpuacct, which is
	 * the path runc and others record: name the mount by its target. */
	n = readlink(p, t, sizeof t - 1);
	if (n > 0 && !memchr(t, '/', (size_t)n)) {
		t[n] = '\0';
		snprintf(p, sizeof p, "%s/%s", root, t);
	}
	return xstrdup(p);
}

static bool has_file(const char *dir, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

int cgroup_layout_detect(const char *root, struct cgroup_layout *L)
{
	*L = (struct cgroup_layout){0};
	if (has_file(root, "cgroup.controllers")) {
		L->v2 = true;
		L->walk = xstrdup(root);
		L->unified = xstrdup(root);
		return 0;
	}
	L->cpuacct = path_if_dir(root, "cpuacct");
	if (!L->cpuacct)
		L->cpuacct = path_if_dir(root, "cpu,cpuacct");
	L->memory = path_if_dir(root, "memory");
	L->blkio = path_if_dir(root, "blkio");
	L->unified = path_if_dir(root, "unified");
	L->cpuset = path_if_dir(root, "cpuset");
	if (!L->cpuacct)
		return -ENOENT;
	L->walk = xstrdup(L->cpuacct);
	return 0;
}

void cgroup_layout_free(struct cgroup_layout *L)
{
	free(L->walk);
	free(L->cpuacct);
	free(L->memory);
	free(L->blkio);
	free(L->unified);
	free(L->cpuset);
	*L = (struct cgroup_layout){0};
}

void pid_list_free(struct pid_list *l)
{
	free(l->v);
	*l = (struct pid_list){0};
}

void pid_list_add(struct pid_list *l, pid_t p)
{
	GROW(l->v, l->cap, l->n + 1);
	l->v[l->n++] = p;
}

/* The files cgroup_sample reads, by bit of its absent mask. */
static const char *const cg_files[] = {
	"cpu.stat", "cpuacct.usage", "cpuacct.stat", "io.stat",
	"blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced",
	"memory.current", "memory.usage_in_bytes", "memory.max", "memory.limit_in_bytes",
	"memory.stat", "cpu.pressure", "io.pressure", "memory.pressure",
	"memory.events", "memory.oom_control",
};

static uint32_t file_bit(const char *file)
{
	for (size_t i = 0; i < ARRAY_SIZE(cg_files); i++)
		if (strcmp(cg_files[i], file) == 0)
			return 1U << i;
	return 0;
}

void cgroup_dirs_close(struct cgroup_dirs *d)
{
	for (size_t i = 0; i < ARRAY_SIZE(d->d); i++)
		kept_dir_close(&d->d[i]);
}

/* One cgroup's files being read: where, and what is known missing. */
struct cg_reader {
	const struct cgroup_layout *L;
	const char *rel;
	struct cgroup_dirs *dirs;
	uint32_t *absent;
};

static const char *base_path(const struct cgroup_layout *L, enum cgroup_base b)
{
	switch (b) {
	case CG_CPUACCT:
		return L->cpuacct;
	case CG_MEMORY:
		return L->memory;
	case CG_BLKIO:
		return L->blkio;
	default:
		return L->unified;
	}
}

/* A file that is not there (a hierarchy the cgroup is not in, PSI off)
 * would fail on every sweep: its bit in *absent skips it. */
static ssize_t read_cg(const struct cg_reader *c, enum cgroup_base b, const char *file,
		       char *buf, size_t size)
{
	const char *base = base_path(c->L, b);
	uint32_t bit = c->absent ? file_bit(file) : 0;
	char dir[PATH_MAX];
	ssize_t r;

	if (!base || (bit && (*c->absent & bit)))
		return -ENOENT;
	if (path_printf(dir, sizeof dir, "%s%s", base, c->rel) < 0)
		return -ENAMETOOLONG;
	r = kept_dir_read(&c->dirs->d[b], dir, file, buf, size);
	if (r == -ENOENT && bit)
		*c->absent |= bit;
	return r;
}

static void sample_cpu(const struct cg_reader *c, struct metric_set *m)
{
	char buf[1024];
	uint64_t v;

	if (c->L->v2) {
		if (read_cg(c, CG_UNIFIED, "cpu.stat", buf, sizeof buf) < 0)
			return;
		if (kv_get_u64(buf, "usage_usec", &v) == 0)
			metric_set(m, M_CPU_USAGE_USEC, (double)v);
		if (kv_get_u64(buf, "user_usec", &v) == 0)
			metric_set(m, M_CPU_USER_USEC, (double)v);
		if (kv_get_u64(buf, "system_usec", &v) == 0)
			metric_set(m, M_CPU_SYSTEM_USEC, (double)v);
		return;
	}
	if (read_cg(c, CG_CPUACCT, "cpuacct.usage", buf, sizeof buf) > 0 &&
	    sscanf(buf, "%lu", &v) == 1)
		metric_set(m, M_CPU_USAGE_USEC, (double)(v / 1000));
	/* cpuacct.stat counts USER_HZ ticks. */
	if (read_cg(c, CG_CPUACCT, "cpuacct.stat", buf, sizeof buf) > 0) {
		double tick_usec = 1e6 / (double)sysconf(_SC_CLK_TCK);

		if (kv_get_u64(buf, "user", &v) == 0)
			metric_set(m, M_CPU_USER_USEC, (double)v * tick_usec);
		if (kv_get_u64(buf, "system", &v) == 0)
			metric_set(m, M_CPU_SYSTEM_USEC, (double)v * tick_usec);
	}
}

static void sample_blkio(const struct cg_reader *c, struct metric_set *m)
{
	char buf[16384];
	uint64_t r, w;

	if (c->L->v2) {
		struct blk_counters b;

		if (read_cg(c, CG_UNIFIED, "io.stat", buf, sizeof buf) >= 0 &&
		    iostat_v2_parse(buf, &b) == 0) {
			metric_set(m, M_IO_READ_BYTES, (double)b.read_bytes);
			metric_set(m, M_IO_WRITE_BYTES, (double)b.write_bytes);
			metric_set(m, M_IO_READ_OPS, (double)b.read_ops);
			metric_set(m, M_IO_WRITE_OPS, (double)b.write_ops);
		}
		return;
	}
	/* v1 bytes come from /proc/PID/io (proc_sample_io): this kernel's
	 * throttle files only count bios of cgroups that have a limit set.
	 * Request counts have no per-process source: take them where the
	 * throttle files list devices, else leave them out, and look at a
	 * file without devices as seldom as at a missing one. */
	if (read_cg(c, CG_BLKIO, "blkio.throttle.io_serviced_recursive", buf, sizeof buf) < 0 &&
	    read_cg(c, CG_BLKIO, "blkio.throttle.io_serviced", buf, sizeof buf) < 0)
		return;
	if (!strchr(buf, ':')) {
		if (c->absent)
			*c->absent |= file_bit("blkio.throttle.io_serviced_recursive") |
				      file_bit("blkio.throttle.io_serviced");
		return;
	}
	if (blkio_v1_parse(buf, &r, &w) == 0) {
		metric_set(m, M_IO_READ_OPS, (double)r);
		metric_set(m, M_IO_WRITE_OPS, (double)w);
	}
}

/* A limit this large means "no limit" (v1 reports PAGE_COUNTER_MAX pages). */
#define NO_LIMIT (1ULL << 60)

static void sample_memory(const struct cg_reader *c, struct metric_set *m)
{
	bool v2 = c->L->v2;
	enum cgroup_base base = v2 ? CG_UNIFIED : CG_MEMORY;
	const char *usage = v2 ? "memory.current" : "memory.usage_in_bytes";
	const char *limit = v2 ? "memory.max" : "memory.limit_in_bytes";
	char buf[8192];
	uint64_t v;

	if (read_cg(c, base, usage, buf, sizeof buf) > 0 && sscanf(buf, "%lu", &v) == 1)
		metric_set(m, M_MEM_CURRENT_BYTES, (double)v);
	if (read_cg(c, base, limit, buf, sizeof buf) > 0 && sscanf(buf, "%lu", &v) == 1 &&
	    v < NO_LIMIT)
		metric_set(m, M_MEM_LIMIT_BYTES, (double)v);
	/* oom_kill: v2 counts the subtree's kills, v1 (4.13+) its own */
	if (read_cg(c, base, v2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) > 0 &&
	    kv_get_u64(buf, "oom_kill", &v) == 0)
		metric_set(m, M_MEM_OOM_KILLS, (double)v);
	if (read_cg(c, base, "memory.stat", buf, sizeof buf) < 0)
		return;
	/* v1: total_pgmajfault includes child cgroups; pgmajfault alone does not. */
	if ((!v2 && kv_get_u64(buf, "total_pgmajfault", &v) == 0) ||
	    kv_get_u64(buf, "pgmajfault", &v) == 0)
		metric_set(m, M_MAJFLT_TOTAL, (double)v);
}

/* The workload's own PSI (cgroup v2): avg10 and total of some and full for
 * cpu, io and memory, in the order of the M_PSI_* metrics. */
static void sample_psi(const struct cg_reader *c, struct metric_set *m)
{
	static const char *const res[] = { "cpu.pressure", "io.pressure", "memory.pressure" };
	static const char *const which[] = { "some", "full" };
	char buf[512];
	double avg10;
	uint64_t total;
	int metric = M_PSI_CPU_SOME_AVG10;

	for (size_t r = 0; r < ARRAY_SIZE(res); r++) {
		bool read = read_cg(c, CG_UNIFIED, res[r], buf, sizeof buf) >= 0;

		for (size_t w = 0; w < ARRAY_SIZE(which); w++, metric += 2)
			if (read && psi_parse(buf, which[w], &avg10, &total) == 0) {
				metric_set(m, metric, avg10);
				metric_set(m, metric + 1, (double)total);
			}
	}
	if (metric_has(m, M_PSI_CPU_SOME_AVG10))
		metric_set(m, M_SCHED_PRESSURE_SOME_AVG10, m->v[M_PSI_CPU_SOME_AVG10]);
	/* Without delay accounting, PSI io stall time stands in for blkio delay. */
	if (!metric_has(m, M_IO_DELAY_USEC) && metric_has(m, M_PSI_IO_SOME_USEC))
		metric_set(m, M_IO_DELAY_USEC, m->v[M_PSI_IO_SOME_USEC]);
}

uint64_t cgroup_age_usec(const struct cgroup_layout *L, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	uint64_t made, now = wall_usec();

	snprintf(p, sizeof p, "%s%s", L->walk, rel);
	if (stat(p, &st) < 0)
		return 0;
	made = (uint64_t)st.st_ctim.tv_sec * USEC_PER_SEC + (uint64_t)st.st_ctim.tv_nsec / 1000;
	return made < now ? now - made : 0;
}

int cgroup_effective_cpus(const struct cgroup_layout *L, const char *rel, char *buf, size_t size)
{
	const char *base = L->v2 ? L->unified : L->cpuset;
	const char *file = L->v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus";
	char path[PATH_MAX];
	size_t len;

	if (!base)
		return -ENOENT;
	snprintf(path, sizeof path, "%s%s", base, rel);
	len = strlen(path);
	for (;;) {
		char p[PATH_MAX + 32];
		ssize_t n;

		snprintf(p, sizeof p, "%.*s/%s", (int)len, path, file);
		n = read_file(p, buf, size);
		if (n > 0) {
			buf[strcspn(buf, "\n")] = '\0';
			return 0;
		}
		if (len <= strlen(base))
			return -ENOENT;
		while (len > strlen(base) && path[len - 1] != '/')
			len--;
		len--;	/* drop the '/' */
	}
}

void cgroup_sample(const struct cgroup_layout *L, const char *rel, struct cgroup_dirs *dirs,
		   uint32_t *absent, struct metric_set *m)
{
	struct cgroup_dirs own = CGROUP_DIRS_INIT;
	const struct cg_reader c = { L, rel, dirs ? dirs : &own, absent };

	sample_cpu(&c, m);
	sample_blkio(&c, m);
	sample_memory(&c, m);
	sample_psi(&c, m);
	cgroup_dirs_close(&own);
}

/* Read one pid-per-line file into l; 0 or -errno. By hand, not stdio: a
 * workload of thousands of threads lists thousands of lines every sample. */
static int read_pids(int dirfd, const char *file, struct pid_list *l)
{
	_cleanup_close_ int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	char buf[16384];
	long v = 0;
	bool digits = false;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] >= '0' && buf[i] <= '9') {
				v = v > INT_MAX ? v : v * 10 + (buf[i] - '0');
				digits = true;
				continue;
			}
			if (digits && v > 0 && v <= INT_MAX)
				pid_list_add(l, (pid_t)v);
			v = 0;
			digits = false;
		}
	}
	if (digits && v > 0 && v <= INT_MAX)
		pid_list_add(l, (pid_t)v);
	return n < 0 ? -errno : 0;
}

/* 0, or -errno when the directory's own lists cannot be read (its
 * subdirectories are listed all the same). */
static int list_tasks_at(int dirfd, bool v2, struct pid_list *tids, struct pid_list *pids, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd, r = 0;

	if (tids)
		r = read_pids(dirfd, v2 ? "cgroup.threads" : "tasks", tids);
	if (pids) {
		int rp = read_pids(dirfd, "cgroup.procs", pids);

		r = r < 0 ? r : rp;
	}
	/* A directory's link count is 2 + its subdirectories (cgroupfs, like
	 * most file systems; btrfs says 1): a leaf cgroup needs no readdir. */
	if (depth >= 16 || (fstat(dirfd, &st) == 0 && st.st_nlink == 2))
		return r;
	fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return r;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return r;
	}
	/* The dup shares its offset with a held directory fd, which the last
	 * sample's readdir left at the end. */
	rewinddir(d);
	while ((de = readdir(d))) {
		_cleanup_close_ int sub = -1;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			list_tasks_at(sub, v2, tids, pids, depth + 1);
	}
	return r;
}

int cgroup_list_tasks(const struct cgroup_layout *L, struct cgroup_dirs *dirs, const char *rel,
		      struct pid_list *tids, struct pid_list *pids)
{
	struct cgroup_dirs own = CGROUP_DIRS_INIT;
	struct kept_dir *d = &(dirs ? dirs : &own)->d[L->v2 ? CG_UNIFIED : CG_CPUACCT];
	char p[PATH_MAX];
	int r;

	/* A cut path could list another cgroup's tasks. */
	if (path_printf(p, sizeof p, "%s%s", L->walk, rel) < 0)
		return -ENAMETOOLONG;
	/* A held directory without its lists was removed (a removed directory
	 * has no entries, so nothing was listed): look it up again. */
	for (bool again = false;; again = true) {
		bool held = d->fd >= 0;
		int fd = kept_dir_fd(d, p, again);

		if (fd < 0) {
			r = fd;
			break;
		}
		r = list_tasks_at(fd, L->v2, tids, pids, 0);
		kept_dir_done(d, fd);
		if (r != -ENOENT || !held || again) {
			r = 0;
			break;
		}
	}
	cgroup_dirs_close(&own);
	return r;
}

bool cgroup_pid_in_scope(const char *proc_root, pid_t pid, const char *scope)
{
	char path[PATH_MAX], buf[4096], *line, *save = NULL;
	size_t n = scope ? strlen(scope) : 0;

	if (n == 0)
		return true;
	snprintf(path, sizeof path, "%s/%d/cgroup", proc_root, pid);
	if (read_file(path, buf, sizeof buf) < 0)
		return false;
	/* "ID:CONTROLLERS:PATH" per hierarchy */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (p && strncmp(p + 1, scope, n) == 0 && (p[1 + n] == '\0' || p[1 + n] == '/'))
			return true;
	}
	return false;
}
