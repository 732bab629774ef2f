/* The container backend: cgroup discovery (discover.c) and per-container
 * sampling from cgroupfs and /proc. */
#include "backend.h"
#include "cgroup.h"
#include "log.h"
#include "proc.h"
#include "util.h"

/* A young container's runtime may still be creating its cgroups in the
 * other hierarchies; later a controller may be enabled: files found missing
 * are looked for on every sample for ABSENT_GRACE of the cgroup's life (not
 * of the daemon's: a restart among old containers does not look again and
 * again), then every ABSENT_RETRY. */
#define ABSENT_GRACE_USEC (30 * 1000000ULL)
#define ABSENT_RETRY_USEC (60 * 1000000ULL)

struct container_state {
	struct task_carry carry;
	uint64_t born;
	uint64_t retry_at;
	uint32_t absent;		/* cgroup_sample's missing files */
	struct cgroup_dirs dirs;
};

static struct found_list known;	/* the last discovery, sorted by key */

static int containers_init(const struct backend_env *env)
{
	if (!env->layout) {
		log_warn("containers: no cgroup hierarchy under %s, skipped", env->cfg->cgroup_root);
		return -1;
	}
	return 0;
}

static void containers_fini(void)
{
	found_list_free(&known);
}

/* Every inotify wake-up and rescan walks the tree again: names are read from
 * the engines' files (docker's config, podman's list) once per container. */
static void containers_discover(const struct backend_env *env, struct found_list *out)
{
	discover_containers(env->layout, env->cfg, env->inotify_fd, &known, out);
	found_list_free(&known);
	for (size_t i = 0; i < out->n; i++)
		found_add(&known, out->v[i].key, xstrdup(out->v[i].name), out->v[i].engine, false);
	found_list_sort(&known);
}

void container_sample(const struct cgroup_layout *L, const struct backend_env *env,
		      const char *cgroup, void **state, struct metric_set *m)
{
	struct container_state *st = *state;
	struct pid_list tids = {0}, pids = {0};
	uint64_t now = now_usec();

	if (!st) {
		uint64_t age = cgroup_age_usec(L, cgroup);

		*state = st = xcalloc(1, sizeof *st);
		st->born = now - (age < now ? age : now);
		st->dirs = CGROUP_DIRS_INIT;
	}
	if (now >= st->retry_at) {
		st->absent = 0;
		st->retry_at = now + (now - st->born < ABSENT_GRACE_USEC ? 0 : ABSENT_RETRY_USEC);
	}
	cgroup_list_tasks(L, &st->dirs, cgroup, &tids, &pids);
	proc_sample_tasks(env->cfg->proc_root, &tids, env->delayacct, PROC_TASK_BUDGET_USEC,
			  &st->carry, m);
	if (!L->v2)
		proc_sample_io(env->cfg->proc_root, &pids, &st->carry, m);
	cgroup_sample(L, cgroup, &st->dirs, &st->absent, m);
	if (metric_has(m, M_CPU_USAGE_USEC))	/* every thread of a container counts */
		metric_set(m, M_PARALLEL_USEC, m->v[M_CPU_USAGE_USEC]);
	proc_sample_net(env->cfg->proc_root, &pids, &st->carry, env->host_netns, m);
	pid_list_free(&tids);
	pid_list_free(&pids);
}

void container_state_free(void *state)
{
	struct container_state *st = state;

	if (st) {
		task_carry_free(&st->carry);
		cgroup_dirs_close(&st->dirs);
	}
	free(st);
}

static void containers_sample(const struct backend_env *env, const struct found *w, void **state,
			      struct metric_set *m)
{
	container_sample(env->layout, env, w->key, state, m);
}

static int containers_cpus(const struct backend_env *env, const struct found *w, char *buf,
			   size_t size)
{
	return cgroup_effective_cpus(env->layout, w->key, buf, size);
}

const struct backend container_backend = {
	.name = "containers",
	.init = containers_init,
	.fini = containers_fini,
	.discover = containers_discover,
	.sample = containers_sample,
	.state_free = container_state_free,
	.cpus = containers_cpus,
};
