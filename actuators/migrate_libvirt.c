/* placement host=PEER for libvirt's guests: libvirt's own peer-to-peer live
 * migration (virsh migrate --live --p2p) from this host's libvirtd to the
 * peer's ([host NAME] libvirt_uri), the [migration] settings given as
 * virsh's options, its progress read from virsh domjobinfo and its
 * downtime from libvirt's job-completed event. libvirt keeps its own record
 * of the move and resumes the guest here when one fails: no journal entry
 * of ours. */
#include "migrate.h"
#include "libvirt.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define POLL_MS 500	/* each look is a virsh process: it takes CPU the move needs */
#define VIRSH_QUICK_MS 10000

/* The value of key in --rawstats or event output ("\tkey: value"), or 0. */
static uint64_t rawstat(const char *out, const char *key)
{
	size_t n = strlen(key);

	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		l += strspn(l, " \t");
		if (strncmp(l, key, n) == 0 && l[n] == ':')
			return strtoull(l + n + 1, NULL, 10);
	}
	return 0;
}

/* virsh domjobinfo --rawstats into the progress. */
static void read_jobinfo(const char *out, struct migrate_progress *p)
{
	p->sent_bytes = rawstat(out, "memory_processed");
	p->remaining_bytes = rawstat(out, "memory_remaining");
	p->total_bytes = rawstat(out, "memory_total");
	p->bandwidth_bytes_per_sec = rawstat(out, "memory_bps");
	p->passes = rawstat(out, "memory_iteration");
	p->dirty_bytes_per_sec = rawstat(out, "memory_dirty_rate") * (rawstat(out, "memory_page_size") ?: 4096);
	p->throttle_percent = (unsigned)rawstat(out, "auto_converge_throttle");
	p->live = true;
}

/* virsh migrate's options for the [migration] settings. */
static void migrate_args(const struct migrate_ctx *c, const char *dom, const char *args[24],
			 char uri[160], char bw[32], char after[32])
{
	const struct migration_config *s = &c->settings;
	size_t n = 0;

	args[n++] = "migrate";
	args[n++] = "--live";
	args[n++] = "--p2p";
	/* the stream goes to the peer's address, not whatever its hostname resolves to */
	snprintf(uri, 160, "tcp://%s", c->m->address);
	args[n++] = "--migrateuri";
	args[n++] = uri;
	if (s->converge == CONVERGE_AUTO) {
		args[n++] = "--auto-converge";
	} else if (s->converge == CONVERGE_POSTCOPY) {
		snprintf(after, 32, "%.0f", s->postcopy_after < 1 ? 1 : s->postcopy_after);
		args[n++] = "--postcopy";
		args[n++] = "--timeout";
		args[n++] = after;
		args[n++] = "--timeout-postcopy";
	}
	if (s->max_bandwidth > 0) {
		snprintf(bw, 32, "%.0f", s->max_bandwidth < (1 << 20) ? 1 : s->max_bandwidth / (1 << 20));
		args[n++] = "--bandwidth";
		args[n++] = bw;
	}
	args[n++] = dom;
	args[n++] = c->m->libvirt_uri;
	args[n] = NULL;
}

/* Wait for virsh migrate (pid, its output on rd, kept in said), publishing
 * libvirt's figures between; abort the job at the deadline. Its exit
 * status. Its output closing is its end: noticed at once, not at the next
 * look at the job. */
static int follow(struct migrate_ctx *c, const char *dom, pid_t pid, int rd, char *said, size_t size)
{
	uint64_t deadline = now_usec() + (uint64_t)(c->settings.timeout * 1e6);
	char out[8192];
	size_t len = 0;
	int status;

	said[0] = '\0';
	for (;;) {
		struct pollfd pfd = { rd, POLLIN, 0 };
		char sink[512];
		ssize_t n;

		if (now_usec() >= deadline) {
			snprintf(c->why, sizeof c->why, "libvirt did not complete it within %.0f s: aborted",
				 c->settings.timeout);
			libvirt_virsh(NULL, (const char *[]){ "domjobabort", dom, NULL }, out, sizeof out,
				      VIRSH_QUICK_MS);
			return spawn_reap(pid, VIRSH_QUICK_MS) ?: -ETIMEDOUT;
		}
		if (poll(&pfd, 1, POLL_MS) > 0) {
			n = len + 1 < size ? read(rd, said + len, size - 1 - len) : read(rd, sink, sizeof sink);
			if (n == 0 || (n < 0 && errno != EINTR))
				break;
			if (n > 0 && len + 1 < size)
				said[len += (size_t)n] = '\0';
			continue;
		}
		if (libvirt_virsh(NULL, (const char *[]){ "domjobinfo", dom, "--rawstats", NULL }, out,
				  sizeof out, VIRSH_QUICK_MS) == 0 && strstr(out, "operation:")) {
			read_jobinfo(out, &c->progress);
			/* until the peer's QEMU is up, libvirt has sent nothing */
			snprintf(c->progress.phase, sizeof c->progress.phase, "%s",
				 !c->progress.total_bytes ? "setup" :
				 rawstat(out, "memory_postcopy_requests") ? "postcopy-active" : "active");
			migrate_publish(c);
		}
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What a virsh that has exited wrote to fd. */
static void drain(int fd, char *out, size_t size)
{
	ssize_t n = read(fd, out, size - 1);

	out[n > 0 ? n : 0] = '\0';
}

/* Start virsh ARGS with its output into a pipe: its pid, *rd the pipe. */
static pid_t start(const char *const args[], int *rd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = libvirt_virsh_start(NULL, args, fds[1]);
	close(fds[1]);
	if (pid < 0)
		close(fds[0]);
	else
		*rd = fds[0];
	return pid;
}

int migrate_libvirt(struct migrate_ctx *c)
{
	const struct migration *m = c->m;
	const char *args[24];
	char dom[128], uri[160], bw[32], after[32], ms[32], secs[32], out[8192] = "";
	_cleanup_close_ int rd = -1, ev_rd = -1;
	pid_t pid, ev;
	int r;

	if (libvirt_domain(c->proc_root, m->pid, dom) < 0) {
		snprintf(c->why, sizeof c->why, "its QEMU is no longer libvirt's guest here");
		return -ESRCH;
	}
	/* QEMU's stop-and-copy limit, as for a guest of our own (best effort:
	 * libvirt before 10 takes it only while a job runs on some versions) */
	snprintf(ms, sizeof ms, "%.0f", c->settings.downtime_ms);
	libvirt_virsh(NULL, (const char *[]){ "migrate-setmaxdowntime", dom, ms, NULL }, out, sizeof out,
		      VIRSH_QUICK_MS);
	/* The guest is gone from here when virsh returns: its figures, the
	 * measured downtime among them, come with libvirt's job-completed event. */
	snprintf(secs, sizeof secs, "%.0f", c->settings.timeout + 30);
	ev = start((const char *[]){ "event", "--domain", dom, "--event", "job-completed", "--timeout", secs, NULL },
		   &ev_rd);
	migrate_args(c, dom, args, uri, bw, after);
	pid = start(args, &rd);
	if (pid < 0) {
		if (ev > 0)
			kill(ev, SIGKILL), spawn_reap(ev, VIRSH_QUICK_MS);
		return (int)pid;
	}
	snprintf(c->progress.phase, sizeof c->progress.phase, "setup");
	migrate_publish(c);
	r = follow(c, dom, pid, rd, out, sizeof out);
	if (r == 0) {
		if (ev > 0 && spawn_reap(ev, VIRSH_QUICK_MS) == 0) {
			drain(ev_rd, out, sizeof out);
			c->downtime_usec = rawstat(out, "downtime") * 1000;
			c->postcopy = rawstat(out, "memory_postcopy_requests") > 0;
		}
		snprintf(c->how, sizeof c->how, "live (libvirt)");
		return 0;
	}
	if (ev > 0)
		kill(ev, SIGKILL), spawn_reap(ev, VIRSH_QUICK_MS);
	if (!c->why[0])
		libvirt_first_line(out, c->why, sizeof c->why);
	return r < 0 ? r : -EIO;
}
