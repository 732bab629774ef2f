/* The destination QEMU: started with the source's command line and
 * -incoming, then watched until the source says it is done with it. */
#include "receive.h"
#include "qemu_argv.h"
#include "proc.h"
#include "qmp.h"
#include "spawn.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>

#define LAUNCH_TIMEOUT_MS 30000
#define RUNNING_TIMEOUT_MS 10000
#define POSTCOPY_SETTLE_MS 5000

static void run_dir(const struct config *cfg, const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/migrate/%s", cfg->state_dir, name);
}

/* The receiver's private monitor of the guest in dir. On failure q
 * stays closed, and every query over it says "gone". */
static int monitor_open(const char *dir, struct qmp *q)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/%s", dir, QEMU_CTL_SOCKET);
	return qmp_open(q, path, 2000);
}

/* The "status" of a query command over q, or "gone"; 0 or -errno. */
static int query_status(struct qmp *q, const char *command, char *out, size_t size)
{
	json_t *ret = NULL;
	int r = qmp_execute(q, command, NULL, &ret, 2000);

	snprintf(out, size, "%s", r < 0 ? "gone" : json_string_value(json_object_get(ret, "status")) ?: "unknown");
	json_decref(ret);
	return r;
}

/* The guest's run state, or "gone". */
static void guest_status(const char *dir, char *out, size_t size)
{
	struct qmp q = QMP_INIT;

	monitor_open(dir, &q);
	query_status(&q, "query-status", out, size);
	qmp_close(&q);
}

/* Whether the guest must stay here now that its source went away: it
 * runs here, or it is in post-copy, its memory partly here and partly
 * there (the source cannot run it again). A switch to post-copy the
 * source began just before it went settles within moments: wait for it. */
static bool must_stay(const char *dir, bool postcopy)
{
	uint64_t end = now_usec() + (postcopy ? POSTCOPY_SETTLE_MS * 1000ULL : 0);
	char status[64], incoming[64];

	for (;;) {
		struct qmp q = QMP_INIT;

		/* Both questions on one connection; after a failed one on a new
		 * one, where its late answer cannot be taken for the next's. */
		monitor_open(dir, &q);
		if (query_status(&q, "query-status", status, sizeof status) < 0)
			monitor_open(dir, &q);
		query_status(&q, "query-migrate", incoming, sizeof incoming);
		qmp_close(&q);
		if (strcmp(status, "running") == 0 || strcmp(incoming, "postcopy-active") == 0)
			return true;
		if (now_usec() >= end || strcmp(status, "gone") == 0)
			return false;
		usleep(20000);
	}
}

static pid_t guest_pid(const char *dir)
{
	char path[PATH_MAX + 32], buf[32];

	snprintf(path, sizeof path, "%s/qemu.pid", dir);
	return read_file(path, buf, sizeof buf) > 0 ? (pid_t)atoi(buf) : 0;
}

/* Kill the incoming guest and remove what was made for it. */
static void discard(const struct config *cfg, const char *dir)
{
	char path[PATH_MAX + 256], taps[1024], *tap, *save = NULL;
	pid_t pid = guest_pid(dir);

	if (!proc_gone(cfg->proc_root, pid)) {
		kill(pid, SIGKILL);
		for (int i = 0; i < 400 && !proc_gone(cfg->proc_root, pid); i++)
			usleep(5000);
	}
	snprintf(path, sizeof path, "%s/taps", dir);
	if (read_file(path, taps, sizeof taps) > 0)
		for (tap = strtok_r(taps, "\n", &save); tap; tap = strtok_r(NULL, "\n", &save)) {
			const char *del[] = { "ip", "link", "del", "dev", tap, NULL };

			spawn_wait(del, -1, NULL, 0, 5000);
		}
	_cleanup_closedir_ DIR *d = opendir(dir);
	for (struct dirent *de; d && (de = readdir(d));)
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			unlink(path);
		}
	rmdir(dir);
}

/* "ARGC N\n" then N NUL-terminated arguments. */
static int read_argv(FILE *in, struct argv_list *l)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	long n;

	if (getline(&line, &cap, in) <= 0 || sscanf(line, "ARGC %ld", &n) != 1 || n < 1 || n > 4096)
		return -EINVAL;
	while (n-- > 0) {
		if (getdelim(&line, &cap, '\0', in) <= 0)
			return -EINVAL;
		argv_list_add(l, line);
	}
	return 0;
}

/* A free TCP port on addr (bound and released: QEMU binds it next). */
static int free_port(const char *addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -EINVAL;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -errno;
	return ntohs(sa.sin_port);
}

/* TAP=BRIDGE: the tap exists (made here if not) and is a port of BRIDGE. */
static int plug_taps(const char *dir, int n, char **pairs)
{
	char path[PATH_MAX + 32];
	_cleanup_fclose_ FILE *made = NULL;

	snprintf(path, sizeof path, "%s/taps", dir);
	made = fopen(path, "we");
	if (!made)
		return -errno;
	for (int i = 0; i < n; i++) {
		char *eq = strchr(pairs[i], '=');

		if (!eq || eq == pairs[i] || !eq[1])
			return -EINVAL;
		*eq = '\0';
		if (if_nametoindex(pairs[i]) == 0) {
			const char *add[] = { "ip", "tuntap", "add", "dev", pairs[i], "mode", "tap", NULL };

			if (spawn_wait(add, -1, NULL, 0, 5000) != 0)
				return -EIO;
			fprintf(made, "%s\n", pairs[i]);
			fflush(made);
		}
		const char *plug[] = { "ip", "link", "set", "dev", pairs[i], "master", eq + 1, "up", NULL };

		if (spawn_wait(plug, -1, NULL, 0, 5000) != 0)
			return -EIO;
	}
	return 0;
}

/* Post-copy needs the capability on both ends before the stream starts. */
static int enable_postcopy(const char *dir)
{
	struct qmp q = QMP_INIT;
	json_t *caps = json_pack("{s:[{s:s,s:b}]}", "capabilities", "capability", "postcopy-ram", "state", 1);
	int r = monitor_open(dir, &q);

	if (r == 0)
		r = qmp_execute(&q, "migrate-set-capabilities", caps, NULL, 2000);
	json_decref(caps);
	qmp_close(&q);
	return r;
}

static bool wait_running(const char *dir)
{
	char status[64];

	for (uint64_t end = now_usec() + RUNNING_TIMEOUT_MS * 1000ULL; now_usec() < end; usleep(20000)) {
		guest_status(dir, status, sizeof status);
		if (strcmp(status, "running") == 0)
			return true;
	}
	return false;
}

int qemu_incoming(const struct config *cfg, int argc, char **argv)
{
	const char *name = argv[0], *addr = argv[1];
	bool postcopy = argc > 2 && strcmp(argv[2], "postcopy") == 0;
	struct argv_list src = {0}, dst = {0};
	char dir[PATH_MAX], uri[128], status[64];
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	int port, r;

	run_dir(cfg, name, dir, sizeof dir);
	if (!proc_gone(cfg->proc_root, guest_pid(dir))) {
		say("error a guest named %s runs here already", name);
		return 1;
	}
	discard(cfg, dir);	/* leftovers of an earlier guest of that name */
	snprintf(uri, sizeof uri, "%s/migrate", cfg->state_dir);
	mkdir(cfg->state_dir, 0755);
	mkdir(uri, 0700);
	if (mkdir(dir, 0700) < 0) {
		say("error %s: %s", dir, strerror(errno));
		return 1;
	}
	port = free_port(addr);
	if (read_argv(stdin, &src) < 0 || port < 0) {
		say(port < 0 ? "error cannot listen on %s" : "error bad command line from %s",
		    port < 0 ? addr : "the source");
		goto fail;
	}
	snprintf(uri, sizeof uri, "tcp:%s:%d", addr, port);
	if (qemu_argv_incoming(&src, dir, uri, &dst) < 0) {
		say("error bad command line from the source");
		goto fail;
	}
	if (plug_taps(dir, argc - 2 - postcopy, argv + 2 + postcopy) < 0) {
		say("error cannot set up the guest's taps");
		goto fail;
	}
	/* -daemonize: the launcher returns once QEMU listens for the stream */
	r = spawn_wait((const char *const *)dst.v, -1, NULL, 0, LAUNCH_TIMEOUT_MS);
	if (r != 0) {
		say("error QEMU did not start here (status %d; see the peer's log)", r);
		goto fail;
	}
	if (postcopy && enable_postcopy(dir) < 0) {
		say("error QEMU here does not take postcopy-ram");
		goto fail;
	}
	say("incoming %s", uri);
	argv_list_free(&src);
	argv_list_free(&dst);

	while (getline(&line, &cap, stdin) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "check") == 0) {
			if (wait_running(dir))
				say("running");
			else
				guest_status(dir, status, sizeof status), say("error the guest is %s here", status);
		} else if (strcmp(line, "done") == 0) {
			return 0;
		}
	}
	/* The source went away: the guest stays only if it runs here already,
	 * or has begun to in post-copy. */
	if (must_stay(dir, postcopy))
		return 0;
	discard(cfg, dir);
	return 1;
fail:
	argv_list_free(&src);
	argv_list_free(&dst);
	discard(cfg, dir);
	return 1;
}

int qemu_status(const struct config *cfg, const char *name)
{
	char dir[PATH_MAX], status[64];

	run_dir(cfg, name, dir, sizeof dir);
	guest_status(dir, status, sizeof status);
	say("%s", status);
	return 0;
}

int qemu_abort(const struct config *cfg, const char *name)
{
	char dir[PATH_MAX];

	run_dir(cfg, name, dir, sizeof dir);
	if (must_stay(dir, false)) {
		say("kept: the guest runs here");
		return 1;
	}
	discard(cfg, dir);
	say("aborted");
	return 0;
}
