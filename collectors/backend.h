/* Collector backends: one per kind of workload source, behind one interface
 * (oomd-style plugins). The sampler discovers and samples through this table
 * and knows nothing about cgroups or hypervisors. */
#pragma once

#include "config.h"
#include "discover.h"
#include "metrics.h"

#include <stdbool.h>
#include <sys/types.h>

struct backend_env {
	const struct config *cfg;
	/* The cgroup layout under cfg->cgroup_root, detected by the sampler
	 * for each configuration; NULL: no hierarchy there. */
	const struct cgroup_layout *layout;
	int inotify_fd;		/* backends watch what they walk; < 0: none */
	ino_t host_netns;	/* the host's network namespace inode */
	bool delayacct;		/* kernel.task_delayacct is on */
};

struct backend {
	const char *name;
	/* Set up for env->cfg (optional). < 0: not available on this host,
	 * skipped (the backend logs one line saying why). */
	int (*init)(const struct backend_env *env);
	void (*fini)(void);		/* optional */
	/* Append every workload present now. */
	void (*discover)(const struct backend_env *env, struct found_list *out);
	/* No change notification exists (processes): discover on every sweep. */
	bool discover_every_sweep;
	/* Sample one workload; *state is the backend's per-workload scratch,
	 * NULL on the first call, released with state_free. */
	void (*sample)(const struct backend_env *env, const struct found *w, void **state,
		       struct metric_set *m);
	void (*state_free)(void *state);
	/* The CPUs the workload may run on now, as a cpuset list (optional;
	 * called while unknown, on every rescan and after an action, through
	 * sampler_refresh). */
	int (*cpus)(const struct backend_env *env, const struct found *w, char *buf, size_t size);
};

/* Sampling the managed backend shares with the engines' own backends: a
 * container by its cgroup (relative to L), a QEMU guest by its pid. */
void container_sample(const struct cgroup_layout *L, const struct backend_env *env,
		      const char *cgroup, void **state, struct metric_set *m);
void container_state_free(void *state);
void qemu_sample_pid(const struct backend_env *env, pid_t pid, void **state, struct metric_set *m);
void qemu_state_free(void *state);
int qemu_cpus_pid(const char *proc_root, pid_t pid, char *buf, size_t size);

extern const struct backend container_backend;
extern const struct backend qemu_backend;
extern const struct backend managed_backend;
#ifdef HAVE_XENSTAT
extern const struct backend xen_backend;
#endif
