/* LXC migration: live with CRIU (lxc-checkpoint) where `criu check` passes
 * on both ends, else cold (lxc-stop). Either way the container directory
 * (config, rootfs, and the CRIU images if any) streams with tar to
 * adaptfs-migrate on the peer, which starts or restores it there with the
 * same config and address. The source copy is removed only once the peer
 * says the container runs. */
#include "migrate.h"
#include "cgroup.h"
#include "events.h"
#include "journal.h"
#include "layout.h"
#include "parse.h"
#include "spawn.h"
#include "transport.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#define STOP_TIMEOUT_MS 20000
#define STREAM_CHUNK (1 << 16)	/* at most what the receiver takes per frame */

/* LXC's monitor, the parent of the container's init, is titled
 * "[lxc monitor] LXCPATH NAME": the container's lxcpath is read there. */
static int find_lxc_path(const struct migrate_ctx *c, char *out, size_t size)
{
	const struct cgroup_layout *L = actuator_layout();
	struct pid_list pids = {0};
	int r = -ENOENT;

	if (!L)
		return -EIO;
	cgroup_list_tasks(L, NULL, c->m->key, NULL, &pids);
	for (size_t i = 0; i < pids.n && r < 0; i++) {
		char path[PATH_MAX], buf[1024], *p;
		struct proc_stat ps;

		snprintf(path, sizeof path, "%s/%d/stat", c->proc_root, pids.v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0)
			continue;
		snprintf(path, sizeof path, "%s/%d/cmdline", c->proc_root, ps.ppid);
		if (read_file(path, buf, sizeof buf) <= 0 || !startswith(buf, "[lxc monitor] "))
			continue;
		p = strrchr(buf, ' ');
		if (p > buf + 14) {
			snprintf(out, size, "%.*s", (int)(p - buf - 14), buf + 14);
			r = 0;
		}
	}
	pid_list_free(&pids);
	return r;
}

static int lxc(const char *verb, const char *path, const char *name, const char *extra)
{
	const char *argv[] = { verb, "-P", path, "-n", name, extra, NULL };

	return spawn_wait(argv, -1, NULL, 0, STOP_TIMEOUT_MS);
}

static void start_again(const char *path, const char *name)
{
	const char *wait[] = { "lxc-wait", "-P", path, "-n", name, "-s", "RUNNING", "-t", "20", NULL };

	lxc("lxc-start", path, name, "-d");
	spawn_wait(wait, -1, NULL, 0, 25000);
}

/* Journaled, then shown in NAME/migration and events. */
static int journal_phase(struct migrate_ctx *c, const char *path, const char *phase)
{
	char text[8192];

	snprintf(c->progress.phase, sizeof c->progress.phase, "%s", phase);
	migrate_publish(c);

	snprintf(text, sizeof text,
		 "engine=lxc\nname=%s\nlxc_path=%s\nhost=%s\ntransport=%s\nimages=%s\nphase=%s\n",
		 c->m->name, path, c->m->host, c->m->transport, c->images ? "yes" : "no", phase);
	return journal_write(c->state_dir, c->id, text);
}

/* Told to start, the peer gave no answer: ask it anew to drop its copy
 * unless that copy runs. 0: it runs there; < 0: it runs here again, or
 * stays stopped here when the peer cannot be asked (two running copies
 * would be worse than none) and a restart of adaptfs settles it. */
static int settle_started(struct migrate_ctx *c)
{
	char cmd[600], q_name[300], line[128] = "";

	shell_quote(c->m->name, q_name, sizeof q_name);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate lxc-abort %s", q_name);
	transport_run(c->m->transport, cmd, line, sizeof line, 30000);
	if (startswith(line, "kept"))
		return 0;
	if (startswith(line, "aborted")) {
		snprintf(c->why, sizeof c->why, "the peer did not start it: no answer through the transport");
		return -EIO;
	}
	snprintf(c->why, sizeof c->why,
		 "the peer stopped answering after it was told to start it: it stays stopped here until a restart of adaptfs settles it");
	c->keep_journal = true;
	return -EIO;
}

/* Stream path/name with tar to "adaptfs-migrate lxc-receive" (framed, see
 * actuators/receive/lxc.c), and tell it to start only once it is whole. */
static int send_container(struct migrate_ctx *c, const char *path, bool restore)
{
	const struct migration *m = c->m;
	const char *tar[] = { "tar", "-c", "--numeric-owner", "-C", path, "-f", "-", m->name, NULL };
	char cmd[PATH_MAX + 1024], q_name[300], q_path[PATH_MAX + 8], line[512] = "", head[32];
	_cleanup_free_ char *buf = xmalloc(STREAM_CHUNK);	/* jobs run side by side */
	struct transport_proc peer;
	int fds[2], r, timeout_ms = (int)(c->settings.timeout * 1000);
	pid_t tar_pid;
	ssize_t n;

	shell_quote(m->name, q_name, sizeof q_name);
	shell_quote(path, q_path, sizeof q_path);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate lxc-receive %s %s%s", q_name, q_path,
		 restore ? " restore" : "");
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	tar_pid = spawn_start(tar, -1, fds[1]);
	close(fds[1]);
	r = tar_pid < 0 ? tar_pid : transport_spawn(m->transport, cmd, -1, &peer);
	if (r < 0) {
		close(fds[0]);
		if (tar_pid > 0)
			spawn_reap(tar_pid, 0);
		return r;
	}
	/* Through us, not straight from tar: if we die, the stream is cut. */
	while ((n = read(fds[0], buf, STREAM_CHUNK)) > 0) {
		snprintf(head, sizeof head, "D %zd\n", n);
		if (transport_write(&peer, head, strlen(head)) < 0 || transport_write(&peer, buf, (size_t)n) < 0)
			break;
	}
	close(fds[0]);
	r = spawn_reap(tar_pid, 10000);
	if (n == 0 && r == 0 && transport_write(&peer, "E\n", 2) == 0 &&
	    transport_read_line(&peer, line, sizeof line, timeout_ms) == 0 && strcmp(line, "unpacked") == 0) {
		/* The point of no return: once told to start, the peer may run it
		 * whatever becomes of us, and a restart must know that before it
		 * starts anything here. Not journaled: not told. */
		int j = journal_phase(c, path, "starting");

		if (j < 0) {
			transport_finish(&peer, 10000);
			snprintf(c->why, sizeof c->why, "cannot write the journal: %s", strerror(-j));
			return j;
		}
		if (transport_write(&peer, "start\n", 6) == 0 &&
		    transport_read_line(&peer, line, sizeof line, timeout_ms) == 0 &&
		    (strcmp(line, "running") == 0 || startswith(line, "error "))) {
			transport_finish(&peer, 5000);
			if (strcmp(line, "running") == 0)
				return 0;
			snprintf(c->why, sizeof c->why, "the peer did not start it: %s", line + 6);
			return -EIO;
		}
		transport_finish(&peer, 10000);
		return settle_started(c);
	}
	transport_finish(&peer, 10000);	/* end of input: the peer drops its copy */
	snprintf(c->why, sizeof c->why, "the peer did not start it: %s",
		 startswith(line, "error ") ? line + 6 :
		 r != 0 ? "tar failed here" : "no answer through the transport");
	return -EIO;
}

/* Live with CRIU only where `criu check` passes on both ends; why not in
 * c->how otherwise. */
static bool criu_both(struct migrate_ctx *c)
{
	const char *check[] = { "criu", "check", NULL };
	char line[256] = "";

	if (spawn_wait(check, -1, NULL, 0, 30000) != 0) {
		snprintf(c->how, sizeof c->how, "cold (criu check fails here)");
		return false;
	}
	if (transport_run(c->m->transport, "adaptfs-migrate criu-check", line, sizeof line, 30000) != 0 ||
	    strcmp(line, "ok") != 0) {
		snprintf(c->how, sizeof c->how, "cold (criu check fails on %s)", c->m->host);
		return false;
	}
	snprintf(c->how, sizeof c->how, "live (CRIU)");
	return true;
}

/* Dump the running container into its directory and stop it. */
static bool checkpoint(const char *path, const char *name)
{
	char images[PATH_MAX + 300];
	const char *dump[] = { "lxc-checkpoint", "-P", path, "-n", name, "-D", images, "-s", NULL };

	snprintf(images, sizeof images, "%s/%s/" LXC_CHECKPOINT_DIR, path, name);
	return spawn_wait(dump, -1, NULL, 0, STOP_TIMEOUT_MS * 3) == 0;
}

/* Run it here again: from its images if it was checkpointed, else anew. */
static void resume_here(const char *path, const char *name, bool from_images)
{
	char images[PATH_MAX + 300];
	const char *restore[] = { "lxc-checkpoint", "-r", "-P", path, "-n", name, "-D", images, NULL };

	snprintf(images, sizeof images, "%s/%s/" LXC_CHECKPOINT_DIR, path, name);
	if (!from_images || spawn_wait(restore, -1, NULL, 0, STOP_TIMEOUT_MS * 3) != 0)
		start_again(path, name);
}

int migrate_lxc(struct migrate_ctx *c)
{
	const struct migration *m = c->m;
	char path[PATH_MAX], q_name[300], cmd[600], there[64] = "";
	uint64_t stopped;
	bool live;
	int r;

	if (find_lxc_path(c, path, sizeof path) < 0) {
		snprintf(c->why, sizeof c->why, "cannot find the container's LXC monitor");
		return -EOPNOTSUPP;
	}
	/* Before stopping anything: the peer must not have one of that name. */
	shell_quote(m->name, q_name, sizeof q_name);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate lxc-status %s", q_name);
	r = transport_run(m->transport, cmd, there, sizeof there, 15000);
	if (r != 0 || strcmp(there, "gone") != 0) {
		snprintf(c->why, sizeof c->why, "%s", r != 0 ? "the peer does not answer through its transport"
					: "a container of that name exists on the peer");
		return r != 0 ? -EHOSTUNREACH : -EEXIST;
	}
	live = criu_both(c);
	r = journal_phase(c, path, "stopping");
	if (r < 0) {
		snprintf(c->why, sizeof c->why, "cannot write the journal: %s", strerror(-r));
		return r;
	}
	stopped = now_usec();
	if (live && !checkpoint(path, m->name)) {
		live = false;	/* the dump failed: the container still runs */
		snprintf(c->how, sizeof c->how, "cold (the CRIU dump failed)");
	}
	if (!live && lxc("lxc-stop", path, m->name, "-t10") != 0) {
		snprintf(c->why, sizeof c->why, "lxc-stop failed");
		start_again(path, m->name);
		journal_remove(c->state_dir, c->id);
		return -EIO;
	}
	c->images = live;
	r = journal_phase(c, path, "stopped");
	if (r < 0)
		snprintf(c->why, sizeof c->why, "cannot write the journal: %s", strerror(-r));
	else
		r = send_container(c, path, live);
	if (r < 0 && c->keep_journal)
		return r;
	if (r < 0) {
		resume_here(path, m->name, live);
		journal_remove(c->state_dir, c->id);
		return r;
	}
	c->downtime_usec = now_usec() - stopped;
	lxc("lxc-destroy", path, m->name, NULL);
	journal_remove(c->state_dir, c->id);
	return 0;
}

/* A daemon killed mid-move: the peer drops its copy unless it runs there
 * already, and its answer decides; if it cannot be asked after it may have
 * been told to start, the container stays stopped here until a next try. */
bool recover_lxc(const char *text)
{
	char name[256], path[PATH_MAX], transport[1024], host[64], q_name[300], cmd[600], there[64] = "";
	char phase[32] = "", images[8] = "";

	if (journal_get(text, "name", name, sizeof name) < 0 ||
	    journal_get(text, "lxc_path", path, sizeof path) < 0 ||
	    journal_get(text, "transport", transport, sizeof transport) < 0 ||
	    journal_get(text, "host", host, sizeof host) < 0)
		return true;
	journal_get(text, "images", images, sizeof images);
	journal_get(text, "phase", phase, sizeof phase);
	shell_quote(name, q_name, sizeof q_name);
	snprintf(cmd, sizeof cmd, "adaptfs-migrate lxc-abort %s", q_name);
	transport_run(transport, cmd, there, sizeof there, 30000);
	if (startswith(there, "kept")) {
		lxc("lxc-stop", path, name, "-k");
		lxc("lxc-destroy", path, name, NULL);
		events_add(name, "placement: an interrupted move to %s was finished: it runs there", host);
		return true;
	}
	if (!startswith(there, "aborted") && strcmp(phase, "starting") == 0) {
		events_add(name, "placement: an interrupted move to %s cannot be settled: the peer does not answer; the container stays stopped here", host);
		return false;
	}
	/* Killed while stopping: the stop it started outlives it and may end
	 * the container after a start here, so end it first, at once. */
	if (strcmp(phase, "stopping") == 0)
		lxc("lxc-stop", path, name, "-k");
	/* stopped (or never stopped: starting it again is then a no-op) */
	resume_here(path, name, strcmp(images, "yes") == 0);
	events_add(name, "placement: an interrupted move to %s was rolled back: it runs here", host);
	return true;
}
