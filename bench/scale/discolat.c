/*
 * discolat - discovery latency of a metrics filesystem: how long from a new
 * container cgroup (mkdir + a process in it) to its directory in the mount.
 *
 *   discolat -m MOUNT -x IDPREFIX [-n TRIALS] [-r CGROUP_ROOT] [-P PARENT]
 *            [-T TIMEOUT_MS] CONTROLLER...
 *
 * Each trial makes a docker-layout cgroup CGROUP_ROOT/CTRL/PARENT/<64-hex id>
 * (PARENT default "docker", which must exist) in every CONTROLLER, forks a
 * child that moves itself into all of them and execs `sleep 1000`, and polls
 * stat(MOUNT/<first 12 hex of id>) every millisecond.  The clock starts just
 * before the first mkdir and stops when stat succeeds.  Then the child is
 * killed, the cgroups removed, and the time until the directory is gone from
 * the mount is measured the same way.  Ids start with IDPREFIX (hex) so that
 * a caller can find and remove leftovers of an interrupted run.
 *
 * One line per trial on stdout: "appear_us gone_us" (-1 = timed out);
 * SIGINT/SIGTERM end the run after cleaning up the current trial.
 * Exit status: 0, 1 if a trial timed out or failed, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll until stat(path) succeeds (want_present) or fails with ENOENT. */
static long long wait_path(const char *path, int want_present, uint64_t t0, long timeout_ms)
{
	struct stat st;

	for (;;) {
		int present = stat(path, &st) == 0;
		uint64_t t = now_us();

		if (present == want_present)
			return (long long)(t - t0);
		if (t - t0 > (uint64_t)timeout_ms * 1000u)
			return -1;
		sleep_ms(1);
	}
}

static int write_pid(const char *path, pid_t pid)
{
	char s[32];
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int n = snprintf(s, sizeof s, "%d\n", (int)pid), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, (size_t)n) == n;
	close(fd);
	return ok ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: discolat -m MOUNT -x IDPREFIX [-n TRIALS] [-r CGROUP_ROOT] [-P PARENT]"
			" [-T TIMEOUT_MS] CONTROLLER...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *mnt = NULL, *prefix = NULL, *root = "/sys/fs/cgroup", *parent = "docker";
	long trials = 50, timeout_ms = 5000;
	int c, rc = 0, nctl;
	char **ctl;
	struct sigaction sa = { .sa_handler = on_signal };

	while ((c = getopt(argc, argv, "m:x:n:r:P:T:")) != -1) {
		switch (c) {
		case 'm': mnt = optarg; break;
		case 'x': prefix = optarg; break;
		case 'n': trials = atol(optarg); break;
		case 'r': root = optarg; break;
		case 'P': parent = optarg; break;
		case 'T': timeout_ms = atol(optarg); break;
		default: usage();
		}
	}
	if (!mnt || !prefix || strlen(prefix) > 32 || strspn(prefix, "0123456789abcdef") != strlen(prefix) ||
	    trials < 1 || timeout_ms < 1 || optind >= argc)
		usage();
	ctl = argv + optind;
	nctl = argc - optind;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	srandom((unsigned)(now_us() ^ (uint64_t)getpid()));

	for (long t = 0; t < trials && !stop; t++) {
		char id[65], dir[PATH_MAX], wl[PATH_MAX];
		long long appear, gone;
		uint64_t t0;
		pid_t child;
		int made = 0;

		snprintf(id, sizeof id, "%s", prefix);
		for (size_t i = strlen(id); i < 64; i++)
			id[i] = "0123456789abcdef"[random() & 15];
		id[64] = '\0';
		snprintf(wl, sizeof wl, "%s/%.12s", mnt, id);

		t0 = now_us();
		for (int i = 0; i < nctl; i++, made++) {
			snprintf(dir, sizeof dir, "%s/%s/%s/%s", root, ctl[i], parent, id);
			if (mkdir(dir, 0755) < 0) {
				fprintf(stderr, "discolat: mkdir %s: %s\n", dir, strerror(errno));
				rc = 1;
				stop = 1;
				break;
			}
		}
		child = made == nctl ? fork() : -1;
		if (child == 0) {
			for (int i = 0; i < nctl; i++) {
				snprintf(dir, sizeof dir, "%s/%s/%s/%s/cgroup.procs", root, ctl[i], parent, id);
				if (write_pid(dir, getpid()) < 0)
					_exit(97);
			}
			execlp("sleep", "sleep", "1000", (char *)NULL);
			_exit(98);
		}
		appear = child > 0 ? wait_path(wl, 1, t0, timeout_ms) : -1;

		if (child > 0) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
		}
		/* v1 rmdir of a just-emptied cgroup can fail with EBUSY for a moment */
		t0 = now_us();
		for (int i = made - 1; i >= 0; i--) {
			snprintf(dir, sizeof dir, "%s/%s/%s/%s", root, ctl[i], parent, id);
			for (int k = 0; rmdir(dir) < 0 && errno != ENOENT; k++) {
				if (k == 300) {
					fprintf(stderr, "discolat: cannot remove %s: %s\n", dir, strerror(errno));
					rc = 1;
					break;
				}
				sleep_ms(10);
			}
		}
		gone = appear >= 0 ? wait_path(wl, 0, t0, timeout_ms) : -1;
		if (made == nctl)
			printf("%lld %lld\n", appear, gone);
		fflush(stdout);
		if (appear < 0 || gone < 0)
			rc = 1;
		sleep_ms(20 + random() % 30);	/* not in lockstep with the sampler */
	}
	return rc;
}
