/* The managed backend: workloads adaptfs runs itself from recipes, listed
 * under their recipe NAME (engine "adaptfs") from the state files the
 * actuator writes, and sampled through the containers backend's code (the
 * runc container's cgroup) or the QEMU backend's (the QEMU pid). The key
 * stays NAME across a switch, so the directory keeps its name. */
#include "managed_state.h"
#include "backend.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <limits.h>


struct managed_carry {
	bool vm;
	pid_t pid;
	void *inner;		/* the container's or the QEMU guest's scratch */
};

static int read_state(const struct backend_env *env, const char *name, struct managed_state *st)
{
	char path[PATH_MAX], text[MANAGED_STATE_MAX];

	snprintf(path, sizeof path, "%s/workloads/%s/state", env->cfg->managed.run_dir, name);
	if (read_file(path, text, sizeof text) < 0)
		return -ENOENT;
	return managed_state_parse(text, st);
}

static void managed_discover(const struct backend_env *env, struct found_list *out)
{
	char dir[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	snprintf(dir, sizeof dir, "%s/workloads", env->cfg->managed.run_dir);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct managed_state st;

		if (de->d_name[0] != '.' && read_state(env, de->d_name, &st) == 0)
			found_add(out, de->d_name, xstrdup(de->d_name), engine_get("adaptfs"), st.vm);
	}
}

static void carry_reset(struct managed_carry *c)
{
	if (c->vm)
		qemu_state_free(c->inner);
	else
		container_state_free(c->inner);
	c->inner = NULL;
}

/* A standby's cost, from its own cgroup (QEMU's, or the created container's). */
static void sample_standby(const struct backend_env *env, const struct managed_standby *sb,
			   struct metric_set *m)
{
	struct metric_set own = {0};

	metric_set(m, M_STANDBY_READY, sb->ready);
	if (!env->layout)
		return;
	cgroup_sample(env->layout, sb->cgroup, NULL, NULL, &own);
	if (metric_has(&own, M_MEM_CURRENT_BYTES))
		metric_set(m, M_STANDBY_MEMORY_BYTES, own.v[M_MEM_CURRENT_BYTES]);
	if (metric_has(&own, M_CPU_USAGE_USEC))
		metric_set(m, M_STANDBY_CPU_USEC, own.v[M_CPU_USAGE_USEC]);
}

static void managed_sample(const struct backend_env *env, const struct found *w, void **state,
			   struct metric_set *m)
{
	struct managed_carry *c = *state;
	struct managed_state st;

	if (read_state(env, w->key, &st) < 0)
		return;
	if (!c)
		*state = c = xcalloc(1, sizeof *c);
	/* A switch or restart: the old engine's counters mean nothing now. */
	if (c->vm != st.vm || c->pid != st.pid) {
		carry_reset(c);
		c->vm = st.vm;
		c->pid = st.pid;
	}
	metric_set(m, M_MODE_SWITCHES, (double)st.switches);
	if (st.switches) {
		metric_set(m, M_MODE_DOWNTIME_USEC, (double)st.downtime_usec);
		metric_set(m, M_MODE_QUIESCE_USEC, (double)st.quiesce_usec);
		metric_set(m, M_MODE_HANDOVER_USEC, (double)st.handover_usec);
		metric_set(m, M_MODE_READY_USEC, (double)st.ready_usec);
		metric_set(m, M_MODE_WARM, st.warm);
	}
	if (st.standby.present)
		sample_standby(env, &st.standby, m);
	if (!st.running)
		return;
	if (st.vm)
		qemu_sample_pid(env, st.pid, &c->inner, m);
	else if (env->layout)
		container_sample(env->layout, env, st.cgroup, &c->inner, m);
}

static void managed_state_free(void *state)
{
	struct managed_carry *c = state;

	if (!c)
		return;
	carry_reset(c);
	free(c);
}

static int managed_cpus(const struct backend_env *env, const struct found *w, char *buf, size_t size)
{
	struct managed_state st;

	if (read_state(env, w->key, &st) < 0 || !st.running)
		return -ENOENT;
	if (st.vm)
		return qemu_cpus_pid(env->cfg->proc_root, st.pid, buf, size);
	return env->layout ? cgroup_effective_cpus(env->layout, st.cgroup, buf, size) : -ENOENT;
}

const struct backend managed_backend = {
	.name = "managed",
	.discover = managed_discover,
	.discover_every_sweep = true,	/* a few small files; switches show at once */
	.sample = managed_sample,
	.state_free = managed_state_free,
	.cpus = managed_cpus,
};
