#include "managed_state.h"
#include "cpulist.h"
#include "parse.h"
#include "util.h"

#include <errno.h>

/* The value of "key VALUE" on its own line, copied to out. */
static int line_value(const char *text, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *end = strchrnul(p, '\n');

		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			size_t n = (size_t)(end - p - (ptrdiff_t)kl - 1);

			if (n >= size)
				return -ENAMETOOLONG;
			memcpy(out, p + kl + 1, n);
			out[n] = '\0';
			return 0;
		}
	}
	return -ENOENT;
}

/* "standby vm|container" and its keys; absent: none. */
static int standby_parse(const char *text, struct managed_standby *sb)
{
	char kind[16];
	uint64_t ready = 0, pid = 0;

	*sb = (struct managed_standby){0};
	if (line_value(text, "standby", kind, sizeof kind) < 0)
		return 0;
	if (strcmp(kind, "vm") == 0)
		sb->vm = true;
	else if (strcmp(kind, "container") != 0)
		return -EINVAL;
	kv_get_u64(text, "standby_ready", &ready);
	kv_get_u64(text, "standby_pid", &pid);
	kv_get_u64(text, "standby_pid_start", &sb->pid_start);
	if (pid > INT32_MAX || line_value(text, "standby_cgroup", sb->cgroup, sizeof sb->cgroup) < 0)
		return -EINVAL;
	sb->present = true;
	sb->ready = ready != 0;
	sb->pid = (pid_t)pid;
	return 0;
}

int managed_cgroup(const char *name, bool vm, char *out, size_t size)
{
	return path_printf(out, size, "/" MANAGED_PREFIX "%s%s", name, vm ? ".vm" : "");
}

int managed_state_parse(const char *text, struct managed_state *out)
{
	char kind[16], setting[16];
	uint64_t running, pid, warm;
	cpu_set_t cpus;
	int r;

	*out = (struct managed_state){0};
	if (line_value(text, "kind", kind, sizeof kind) < 0 || kv_get_u64(text, "running", &running) < 0 ||
	    kv_get_u64(text, "pid", &pid) < 0 || pid > INT32_MAX)
		return -EINVAL;
	if (strcmp(kind, "vm") == 0)
		out->vm = true;
	else if (strcmp(kind, "container") != 0)
		return -EINVAL;
	out->running = running != 0;
	out->pid = (pid_t)pid;
	if (!out->vm && line_value(text, "cgroup", out->cgroup, sizeof out->cgroup) < 0)
		return -EINVAL;
	kv_get_u64(text, "pid_start", &out->pid_start);
	if (line_value(text, "setting", setting, sizeof setting) == 0 &&
	    recipe_mode_parse(setting, &out->setting) < 0)
		return -EINVAL;
	r = line_value(text, "cpus", out->cpus, sizeof out->cpus);
	if (r == -ENAMETOOLONG || (r == 0 && cpulist_parse(out->cpus, strlen(out->cpus), &cpus) < 0))
		return -EINVAL;
	kv_get_u64(text, "switches", &out->switches);
	kv_get_u64(text, "downtime_usec", &out->downtime_usec);
	kv_get_u64(text, "quiesce_usec", &out->quiesce_usec);
	kv_get_u64(text, "handover_usec", &out->handover_usec);
	kv_get_u64(text, "ready_usec", &out->ready_usec);
	if (kv_get_u64(text, "warm", &warm) == 0)
		out->warm = warm != 0;
	return standby_parse(text, &out->standby);
}

void managed_state_format(const struct managed_state *s, struct strbuf *out)
{
	strbuf_printf(out, "kind %s\nrunning %d\npid %d\npid_start %llu\n", s->vm ? "vm" : "container",
		      s->running, (int)s->pid, (unsigned long long)s->pid_start);
	if (!s->vm)
		strbuf_printf(out, "cgroup %s\n", s->cgroup);
	strbuf_printf(out, "switches %llu\ndowntime_usec %llu\n", (unsigned long long)s->switches,
		      (unsigned long long)s->downtime_usec);
	strbuf_printf(out, "setting %s\n", recipe_mode_name(s->setting));
	if (s->cpus[0])
		strbuf_printf(out, "cpus %s\n", s->cpus);
	strbuf_printf(out, "quiesce_usec %llu\nhandover_usec %llu\nready_usec %llu\nwarm %d\n",
		      (unsigned long long)s->quiesce_usec, (unsigned long long)s->handover_usec,
		      (unsigned long long)s->ready_usec, s->warm);
	if (s->standby.present)
		strbuf_printf(out, "standby %s\nstandby_ready %d\nstandby_pid %d\n"
			      "standby_pid_start %llu\nstandby_cgroup %s\n",
			      s->standby.vm ? "vm" : "container", s->standby.ready,
			      (int)s->standby.pid, (unsigned long long)s->standby.pid_start,
			      s->standby.cgroup);
}
