/* Container mode: an OCI bundle generated from the recipe (config.json with
 * jansson, root = the recipe's rootfs, network namespace prepared by
 * managed_net.c, data directory bind-mounted), run by runc. */
#include "managed_impl.h"
#include "proc.h"
#include "log.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>

#define RUNC_TIMEOUT_MS 30000
#define KILL_WAIT_USEC (5 * USEC_PER_SEC)

static json_t *strings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mounts(const struct recipe *r)
{
	json_t *m = json_pack(
		"[{s:s,s:s,s:s},"
		"{s:s,s:s,s:s,s:[s,s,s,s]},"
		"{s:s,s:s,s:s,s:[s,s,s,s,s,s]},"
		"{s:s,s:s,s:s,s:[s,s,s,s,s]},"
		"{s:s,s:s,s:s,s:[s,s,s]},"
		"{s:s,s:s,s:s,s:[s,s,s,s]}]",
		"destination", "/proc", "type", "proc", "source", "proc",
		"destination", "/dev", "type", "tmpfs", "source", "tmpfs",
		"options", "nosuid", "strictatime", "mode=755", "size=65536k",
		"destination", "/dev/pts", "type", "devpts", "source", "devpts",
		"options", "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
		"destination", "/dev/shm", "type", "tmpfs", "source", "shm",
		"options", "nosuid", "noexec", "nodev", "mode=1777", "size=65536k",
		"destination", "/dev/mqueue", "type", "mqueue", "source", "mqueue",
		"options", "nosuid", "noexec", "nodev",
		"destination", "/sys", "type", "sysfs", "source", "sysfs",
		"options", "nosuid", "noexec", "nodev", "ro");

	if (r->data)
		json_array_append_new(m, json_pack("{s:s,s:s,s:s,s:[s,s]}", "destination", r->data_mount,
						   "type", "bind", "source", r->data, "options",
						   "rbind", "rw"));
	return m;
}

/* What `runc spec` gives, with the recipe's command, limits and network. */
static json_t *bundle_config(const struct mw *w)
{
	const struct recipe *r = &w->r;
	char netns[PATH_MAX], cgroup[128];
	static const char *const caps[] = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" };
	json_t *capset = strings((char *const *)caps, ARRAY_SIZE(caps));
	json_t *env = json_array();

	json_array_append_new(env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	for (size_t i = 0; i < r->n_env; i++)
		json_array_append_new(env, json_string(r->env[i]));
	snprintf(netns, sizeof netns, "/run/netns/%s", w->id);
	mcg_path(w, false, cgroup, sizeof cgroup);
	return json_pack(
		"{s:s,"
		" s:{s:b,s:{s:i,s:i},s:o,s:o,s:s,"
		"    s:{s:O,s:O,s:O,s:o,s:o},"
		"    s:[{s:s,s:i,s:i}],s:b},"
		" s:{s:s,s:b},s:s,s:o,"
		" s:{s:s,"
		"    s:{s:{s:I},s:{s:I,s:I}},"
		"    s:[{s:s},{s:s,s:s},{s:s},{s:s},{s:s}],"
		"    s:[s,s,s,s,s,s,s,s,s,s],s:[s,s,s,s,s]}}",
		"ociVersion", "1.0.2-dev",
		"process", "terminal", 0, "user", "uid", 0, "gid", 0,
		"args", strings(r->argv, r->argc), "env", env, "cwd", "/",
		"capabilities", "bounding", capset, "effective", capset, "permitted", capset,
		"ambient", capset, "inheritable", json_array(),
		"rlimits", "type", "RLIMIT_NOFILE", "hard", 1024, "soft", 1024,
		"noNewPrivileges", 1,
		"root", "path", r->rootfs, "readonly", 0,
		"hostname", r->name,
		"mounts", mounts(r),
		"linux", "cgroupsPath", cgroup,
		"resources", "memory", "limit", (json_int_t)r->memory_bytes,
		"cpu", "quota", (json_int_t)r->cpus * 100000, "period", (json_int_t)100000,
		"namespaces", "type", "pid", "type", "network", "path", netns, "type", "ipc",
		"type", "uts", "type", "mount",
		"maskedPaths", "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/sys/firmware", "/proc/scsi",
		"readonlyPaths", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");
}

int mrunc_write_bundle(const struct mw *w, const char *path)
{
	json_t *cfg = bundle_config(w);
	int r;

	if (!cfg)
		return -EINVAL;
	/* its pin: runc writes the cpuset before the container's first process */
	if (w->cpus[0])
		json_object_set_new(json_object_get(json_object_get(json_object_get(cfg, "linux"),
								     "resources"), "cpu"),
				    "cpus", json_string(w->cpus));
	r = json_dump_file(cfg, path, JSON_INDENT(2)) == 0 ? 0 : -EIO;
	json_decref(cfg);
	return r;
}

static int read_pid(const char *path, pid_t *pid)
{
	char buf[32];

	if (read_file(path, buf, sizeof buf) < 0 || atoi(buf) <= 0)
		return -ENOENT;
	*pid = (pid_t)atoi(buf);
	return 0;
}

/* The bundle, the data directory and the network, then `runc run -d`, or
 * for a standby `runc create` with the link down. The init's pid. */
static pid_t runc_launch(const struct managed_env *e, struct mw *w, bool standby, char *why,
			 size_t n)
{
	char bundle[PATH_MAX], cfg[PATH_MAX + 16], pidfile[PATH_MAX], logpath[PATH_MAX];
	const char *del[] = { e->runc, "delete", "-f", w->id, NULL };
	const char *run[] = { e->runc, "run", "-d", "--pid-file", pidfile, "--bundle", bundle, w->id, NULL };
	const char *create[] = { e->runc, "create", "--pid-file", pidfile, "--bundle", bundle, w->id, NULL };
	const char *verb = standby ? "create" : "run";
	_cleanup_close_ int log = -1;
	char ignore[64];
	pid_t pid;
	int r;

	snprintf(bundle, sizeof bundle, "%s/bundle", w->dir);
	snprintf(cfg, sizeof cfg, "%s/config.json", bundle);
	snprintf(pidfile, sizeof pidfile, "%s/runc.pid", w->dir);
	snprintf(logpath, sizeof logpath, "%s/runc.log", w->dir);
	mkdir(bundle, 0700);
	unlink(pidfile);
	if (w->r.data && mkdir(w->r.data, 0755) < 0 && errno != EEXIST) {
		snprintf(why, n, "data directory %s: %s", w->r.data, strerror(errno));
		return -errno;
	}
	if (mrunc_write_bundle(w, cfg) < 0) {
		snprintf(why, n, "cannot write %s", cfg);
		return -EIO;
	}
	mrun(del, ignore, sizeof ignore);	/* a leftover of a killed daemon */
	r = mnet_veth(e, w, !standby, why, n);
	if (r < 0)
		return r;
	/* Detached without a terminal, the container's stdio is runc's: the log. */
	log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid = spawn_start_log(standby ? create : run, log);
	if (pid < 0 || (r = spawn_reap(pid, RUNC_TIMEOUT_MS)) != 0) {
		char text[256] = "";

		read_file(logpath, text, sizeof text);
		text[strcspn(text, "\n")] = '\0';
		snprintf(why, n, "%s %s failed: %s", e->runc, verb, text[0] ? text : "no output");
		mnet_veth_down(w);
		return -EIO;
	}
	if (read_pid(pidfile, &pid) < 0) {
		snprintf(why, n, "%s %s wrote no pid file", e->runc, verb);
		return -EIO;
	}
	return pid;
}

int mrunc_start(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	pid_t pid = runc_launch(e, w, false, why, n);

	if (pid < 0)
		return pid;
	w->st = (struct managed_state){ .vm = false, .running = true, .pid = pid,
					.pid_start = proc_start_time("/proc", pid),
					.switches = w->st.switches, .downtime_usec = w->st.downtime_usec };
	mcg_path(w, false, w->st.cgroup, sizeof w->st.cgroup);
	w->run = (struct mw_proc){0};
	return 0;
}

int mrunc_prepare(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	pid_t pid = runc_launch(e, w, true, why, n);
	struct managed_standby *sb = &w->st.standby;

	if (pid < 0)
		return pid;
	*sb = (struct managed_standby){ .present = true, .ready = true, .pid = pid,
					.pid_start = proc_start_time("/proc", pid) };
	mcg_path(w, false, sb->cgroup, sizeof sb->cgroup);
	w->other = (struct mw_proc){0};
	return 0;
}

int mrunc_take_address(struct mw *w, char *why, size_t n)
{
	int r = mnet_link_up(w->ifname, true);

	if (r < 0) {
		snprintf(why, n, "cannot set %s up: %s", w->ifname, strerror(-r));
		return r;
	}
	mnet_garp(w);	/* only faster: the bridge floods until it learns the port */
	return 0;
}

int mrunc_go(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	const char *start[] = { e->runc, "start", w->id, NULL };

	return mrun(start, why, n);
}

int mrunc_pin(const struct managed_env *e, struct mw *w, const char *list, char *why, size_t n)
{
	const char *argv[] = { e->runc, "update", "--cpuset-cpus", list, w->id, NULL };

	return mrun(argv, why, n);
}

int mrunc_freeze(const struct managed_env *e, struct mw *w, bool frozen, char *why, size_t n)
{
	const char *argv[] = { e->runc, frozen ? "pause" : "resume", w->id, NULL };
	int r = mcg_freeze(w, frozen);

	if (r < 0)	/* another cgroup driver: runc knows its way */
		r = mrun(argv, why, n);
	if (r == 0)
		w->run.frozen = frozen;
	return r;
}

int mrunc_running(const struct managed_env *e, const struct mw *w, pid_t *pid)
{
	const char *argv[] = { e->runc, "state", w->id, NULL };
	char out[4096];
	json_t *j, *status, *p;
	int r = -ENOENT;

	if (spawn_wait(argv, -1, out, sizeof out, RUNC_TIMEOUT_MS) != 0)
		return -ENOENT;
	j = json_loads(out, 0, NULL);
	status = json_object_get(j, "status");
	p = json_object_get(j, "pid");
	if (json_is_string(status) && strcmp(json_string_value(status), "running") == 0 &&
	    json_is_integer(p) && json_integer_value(p) > 0) {
		*pid = (pid_t)json_integer_value(p);
		r = 0;
	}
	json_decref(j);
	return r;
}

static bool wait_gone(pid_t pid, uint64_t usec)
{
	uint64_t end = now_usec() + usec;

	while (!proc_gone("/proc", pid) && now_usec() < end)
		usleep(20000);
	return proc_gone("/proc", pid);
}

/* SIGTERM, stop_timeout, SIGKILL; then delete it and its network. */
void mrunc_stop(const struct managed_env *e, struct mw *w)
{
	const char *term[] = { e->runc, "kill", w->id, "TERM", NULL };
	const char *killv[] = { e->runc, "kill", w->id, "KILL", NULL };
	const char *del[] = { e->runc, "delete", w->id, NULL };
	const char *del_force[] = { e->runc, "delete", "-f", w->id, NULL };
	char ignore[256];

	const char *thaw[] = { e->runc, "resume", w->id, NULL };

	/* Quiesced for a switch, its successor serves: it must not run again.
	 * The thaw delivers the kill first (cgroup v1 holds signals of frozen
	 * tasks). */
	if (w->run.frozen && w->st.running) {
		mrun(killv, ignore, sizeof ignore);
		mrun(thaw, ignore, sizeof ignore);
		w->run.frozen = false;
	}
	if (w->st.running && !proc_gone("/proc", w->st.pid)) {
		mrun(term, ignore, sizeof ignore);
		if (!wait_gone(w->st.pid, (uint64_t)(w->r.stop_timeout * 1e6))) {
			mrun(killv, ignore, sizeof ignore);
			if (!wait_gone(w->st.pid, KILL_WAIT_USEC))
				log_warn("%s: container init %d survives SIGKILL", w->r.name, (int)w->st.pid);
		}
	}
	/* runc counts a zombie init as stopped: a plain delete then works
	 * without waiting for PID 1 to reap it. */
	if (mrun(del, ignore, sizeof ignore) < 0)
		mrun(del_force, ignore, sizeof ignore);
	mnet_veth_down(w);
	w->st.running = false;
	w->st.pid = 0;
}
