/* The container backend: cgroup discovery (discover.c) and per-container
 * sampling from cgroupfs and /proc. */
#include "backend.h"
#include "cgroup.h"
#include "log.h"
#include "proc.h"
#include "util.h"

static struct cgroup_layout layout;

static int containers_init(const struct backend_env *env)
{
	cgroup_layout_free(&layout);
	if (cgroup_layout_detect(env->cfg->cgroup_root, &layout) < 0) {
		log_warn("containers: no cgroup hierarchy under %s, skipped", env->cfg->cgroup_root);
		return -1;
	}
	return 0;
}

static void containers_fini(void)
{
	cgroup_layout_free(&layout);
}

static void containers_discover(const struct backend_env *env, struct found_list *out)
{
	discover_containers(&layout, env->cfg, env->inotify_fd, out);
}

void container_sample(const struct cgroup_layout *L, const struct backend_env *env,
		      const char *cgroup, void **state, struct metric_set *m)
{
	struct task_carry *carry = *state;
	struct pid_list tids = {0}, pids = {0};

	if (!carry)
		*state = carry = xcalloc(1, sizeof *carry);
	cgroup_list_tasks(L, cgroup, &tids, &pids);
	proc_sample_tasks(env->cfg->proc_root, &tids, env->delayacct, carry, m);
	if (!L->v2)
		proc_sample_io(env->cfg->proc_root, &pids, carry, m);
	cgroup_sample(L, cgroup, m);
	if (metric_has(m, M_CPU_USAGE_USEC))	/* every thread of a container counts */
		metric_set(m, M_PARALLEL_USEC, m->v[M_CPU_USAGE_USEC]);
	proc_sample_net(env->cfg->proc_root, &pids, env->host_netns, m);
	pid_list_free(&tids);
	pid_list_free(&pids);
}

void container_state_free(void *state)
{
	if (state)
		task_carry_free(state);
	free(state);
}

static void containers_sample(const struct backend_env *env, const struct found *w, void **state,
			      struct metric_set *m)
{
	container_sample(&layout, env, w->key, state, m);
}

static int containers_cpus(const struct backend_env *env, const struct found *w, char *buf,
			   size_t size)
{
	(void)env;
	return cgroup_effective_cpus(&layout, w->key, buf, size);
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
