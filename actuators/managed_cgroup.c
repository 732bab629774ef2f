/* A managed VM's own cgroup: QEMU is moved to /adaptfs-NAME.vm in every
 * cgroup hierarchy, next to /adaptfs-NAME that runc's cgroupfs driver gives
 * the container (a standby of one runs beside the other), under the scope
 * of an adaptfs limited to one (its CPUs are the scope's). Out of the
 * daemon's cgroup, a service manager that stops adaptfs (systemd kills every
 * process of the unit's cgroup) leaves the VM running, as it leaves the
 * container. */
#include "managed_impl.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <sys/stat.h>

#define RMDIR_TRIES 50		/* 20 ms apart: a task's exit leaves its cgroup soon after */
#define FREEZE_TRIES 1000	/* 1 ms apart: the kernel stops every task of it */

static int write_str(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		return -errno;
	return 0;
}

/* fn(the mount of each cgroup hierarchy, ctx); stops at the first error. */
static int each_hierarchy(int (*fn)(struct mntent *m, void *ctx), void *ctx)
{
	_cleanup_fclose_ FILE *f = setmntent("/proc/self/mounts", "re");
	struct mntent ent, *m;
	char buf[4096];
	int r = 0;

	if (!f)
		return -errno;
	while (r == 0 && (m = getmntent_r(f, &ent, buf, sizeof buf)))
		if (strcmp(m->mnt_type, "cgroup") == 0 || strcmp(m->mnt_type, "cgroup2") == 0)
			r = fn(m, ctx);
	return r;
}

/* v1 cpuset: a new cgroup has no CPUs and no memory nodes until given some. */
static int copy_cpuset(const char *mnt, const char *dir)
{
	static const char *const keys[] = { "cpuset.cpus", "cpuset.mems" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char from[PATH_MAX], to[PATH_MAX + 64], val[4096];
		ssize_t n;

		if (path_printf(from, sizeof from, "%s/%s", mnt, keys[i]) < 0 ||
		    path_printf(to, sizeof to, "%s/%s", dir, keys[i]) < 0)
			return -ENAMETOOLONG;
		n = read_file(from, val, sizeof val);
		if (n < 0)
			return (int)n;
		n = write_str(to, val);
		if (n < 0)
			return (int)n;
	}
	return 0;
}

void mcg_path(const struct mw *w, bool vm, char *out, size_t size)
{
	managed_cgroup(w->r.name, vm, out, size);
}

/* MNT/SCOPE/ID.vm, or MNT/ID.vm in a hierarchy that has no SCOPE (the scope's
 * parent, for its cpuset, in *parent). */
static int vm_dir(const struct managed_env *e, const struct mw *w, const char *mnt,
		  char *dir, size_t size, char *parent, size_t psize)
{
	char cg[128];
	struct stat st;

	if (path_printf(parent, psize, "%s%s", mnt, e->scope) < 0)
		return -ENAMETOOLONG;
	if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode))
		snprintf(parent, psize, "%s", mnt);
	mcg_path(w, true, cg, sizeof cg);
	return path_printf(dir, size, "%s%s", parent, cg);
}

struct enter {
	const struct managed_env *e;
	const struct mw *w;
	pid_t pid;
	char *why;
	size_t n;
};

static int enter_one(struct mntent *m, void *ctx)
{
	const char *mnt = m->mnt_dir;
	struct enter *e = ctx;
	char dir[PATH_MAX], parent[PATH_MAX], procs[PATH_MAX + 16], pid[16];
	int r = 0;

	if (vm_dir(e->e, e->w, mnt, dir, sizeof dir, parent, sizeof parent) < 0 ||
	    path_printf(procs, sizeof procs, "%s/cgroup.procs", dir) < 0)
		return -ENAMETOOLONG;
	snprintf(pid, sizeof pid, "%d", (int)e->pid);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0 && hasmntopt(m, "cpuset"))
		r = copy_cpuset(parent, dir);
	if (r == 0)
		r = write_str(procs, pid);
	if (r < 0)
		snprintf(e->why, e->n, "cannot move QEMU into %s: %s", dir, strerror(-r));
	return r;
}

int mcg_enter(const struct managed_env *env, const struct mw *w, pid_t pid, char *why, size_t n)
{
	struct enter e = { .e = env, .w = w, .pid = pid, .why = why, .n = n };

	return each_hierarchy(enter_one, &e);
}

struct removal {
	const struct managed_env *e;
	const struct mw *w;
};

static int remove_one(struct mntent *m, void *ctx)
{
	const struct removal *rm = ctx;
	char dir[PATH_MAX], parent[PATH_MAX];

	if (vm_dir(rm->e, rm->w, m->mnt_dir, dir, sizeof dir, parent, sizeof parent) < 0)
		return 0;
	for (int i = 0; i < RMDIR_TRIES && rmdir(dir) < 0 && errno == EBUSY; i++)
		usleep(20000);
	return 0;
}

void mcg_remove(const struct managed_env *e, const struct mw *w)
{
	struct removal rm = { e, w };

	each_hierarchy(remove_one, &rm);
}

struct freezer {
	char v1[PATH_MAX];		/* the v1 freezer hierarchy's mount, or "" */
	char v2[PATH_MAX];		/* a cgroup2 mount, or "" */
};

static int find_freezer(struct mntent *m, void *ctx)
{
	struct freezer *f = ctx;

	if (strcmp(m->mnt_type, "cgroup") == 0 && hasmntopt(m, "freezer"))
		snprintf(f->v1, sizeof f->v1, "%s", m->mnt_dir);
	else if (strcmp(m->mnt_type, "cgroup2") == 0 && !f->v2[0])
		snprintf(f->v2, sizeof f->v2, "%s", m->mnt_dir);
	return 0;
}

/* Until path reads want (its first line), or -ETIMEDOUT. */
static int wait_reads(const char *path, const char *want)
{
	for (int i = 0; i < FREEZE_TRIES; i++) {
		char text[256];

		if (read_file(path, text, sizeof text) > 0 && strstr(text, want))
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

int mcg_freeze(const struct mw *w, bool frozen)
{
	struct freezer f = { "", "" };
	char path[PATH_MAX + 256], cg[128];
	int r = each_hierarchy(find_freezer, &f);

	if (r < 0)
		return r;
	mcg_path(w, false, cg, sizeof cg);
	/* runc's cgroupfs driver: the v1 freezer where there is one */
	if (f.v1[0]) {
		if (path_printf(path, sizeof path, "%s%s/freezer.state", f.v1, cg) < 0)
			return -ENAMETOOLONG;
		r = write_str(path, frozen ? "FROZEN" : "THAWED");
		return r < 0 ? r : wait_reads(path, frozen ? "FROZEN" : "THAWED");
	}
	if (!f.v2[0])
		return -ENOENT;
	if (path_printf(path, sizeof path, "%s%s/cgroup.freeze", f.v2, cg) < 0)
		return -ENAMETOOLONG;
	r = write_str(path, frozen ? "1" : "0");
	if (r < 0)
		return r;
	path_printf(path, sizeof path, "%s%s/cgroup.events", f.v2, cg);
	return wait_reads(path, frozen ? "frozen 1" : "frozen 0");
}
