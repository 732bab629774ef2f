/* cgroup v1 and v2: where the controllers are, and a container cgroup's counters. */
#pragma once

#include "keptdir.h"
#include "metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct cgroup_layout {
	bool v2;		/* pure cgroup2 at the root */
	char *walk;		/* hierarchy discovery walks (v1: cpuacct, v2: root) */
	char *cpuacct;		/* v1 controller mounts, NULL where absent */
	char *memory;
	char *blkio;
	char *unified;		/* cgroup2 tree (PSI); the root itself on pure v2 */
	char *cpuset;		/* v1 cpuset hierarchy; NULL on pure v2 */
};

int cgroup_layout_detect(const char *root, struct cgroup_layout *L);
void cgroup_layout_free(struct cgroup_layout *L);

struct pid_list {
	pid_t *v;
	size_t n, cap;
};
void pid_list_free(struct pid_list *l);
void pid_list_add(struct pid_list *l, pid_t p);

/* One cgroup's directory in each hierarchy, held by whoever samples it on
 * every sweep (NULL where a function takes one: looked up for this call). */
enum cgroup_base { CG_CPUACCT, CG_MEMORY, CG_BLKIO, CG_UNIFIED, CG_BASES };
struct cgroup_dirs {
	struct kept_dir d[CG_BASES];
};
#define CGROUP_DIRS_INIT \
	((struct cgroup_dirs){ { KEPT_DIR_INIT, KEPT_DIR_INIT, KEPT_DIR_INIT, KEPT_DIR_INIT } })
void cgroup_dirs_close(struct cgroup_dirs *d);

/* Counters of the cgroup at rel (relative to each hierarchy, leading '/'):
 * cpu, block I/O, major faults, PSI. Absent files leave metrics out.
 * *absent (NULL: none) remembers the files found missing, which are not
 * opened again while their bits stay set: 0 looks for every file. */
void cgroup_sample(const struct cgroup_layout *L, const char *rel, struct cgroup_dirs *dirs,
		   uint32_t *absent, struct metric_set *m);
/* How long ago the cgroup at rel was made (its directory's ctime; 0 when
 * unknown). A directory's ctime moves when a child cgroup comes or goes, so
 * a parent may look younger than it is, never older. */
uint64_t cgroup_age_usec(const struct cgroup_layout *L, const char *rel);
/* Effective CPUs of the cgroup at rel (of its nearest ancestor that has a
 * cpuset cgroup), as a cpuset list. */
int cgroup_effective_cpus(const struct cgroup_layout *L, const char *rel, char *buf, size_t size);
/* Whether process pid sits in the cgroup subtree scope (a path like
 * "/adt-h1"; "" is everything) of any hierarchy of /proc/PID/cgroup. */
bool cgroup_pid_in_scope(const char *proc_root, pid_t pid, const char *scope);
/* Every thread (tids) and process (pids) in the subtree at rel; either
 * list may be NULL. 0, or -errno when there is no such cgroup. */
int cgroup_list_tasks(const struct cgroup_layout *L, struct cgroup_dirs *dirs, const char *rel,
		      struct pid_list *tids, struct pid_list *pids);
