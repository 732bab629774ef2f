/*
 * rawloop - the physical limit of a per-interval sampler: read the kernel
 * files adaptfs's container backend needs, once per workload per sweep, and
 * nothing else (no parsing beyond the pid lists, no snapshot, no rendering).
 *
 *   rawloop [-v] [-s SWEEPS] [-i SECONDS] [-r CGROUP_ROOT] [-p PROC_ROOT] LISTFILE
 *
 * LISTFILE holds one cgroup path per line, relative to each v1 hierarchy
 * (e.g. /docker/<id>).  Per workload and sweep:
 *   cpuacct: cpuacct.usage cpuacct.stat tasks cgroup.procs
 *   memory:  memory.stat memory.usage_in_bytes memory.limit_in_bytes
 *   blkio:   blkio.throttle.io_serviced_recursive
 *   each tid in tasks:        /proc/TID/stat /proc/TID/schedstat
 *   each pid in cgroup.procs: /proc/PID/io
 *   the first pid:            stat /proc/PID/ns/net; /proc/PID/net/dev only
 *                             if that netns is not the host's
 * Every file is opened, read to EOF and closed, as a sampler would.
 *
 * SWEEPS sweeps (default 20), SECONDS apart (default 0.25; the pause is not
 * timed).  Each sweep's CPU time (CLOCK_THREAD_CPUTIME_ID: user + system)
 * and wall time are measured.  Prints one tab-separated line:
 *
 *   workloads  sweeps  cpu_median_us  cpu_mean_us  cpu_min_us  cpu_max_us
 *   wall_median_us  files_per_sweep  failed_per_sweep
 *
 * With -v, one line "sweep cpu_us wall_us" per sweep comes first.
 *
 * Exit status: 0, 1 on errors (unreadable LISTFILE), 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char buf[64 * 1024];
static const char *cg_root = "/sys/fs/cgroup", *proc_root = "/proc";
static long files, failed;
static ino_t host_netns;

struct pids {
	int *v;
	size_t n, cap;
};

/* open, read to EOF, close; bytes read (data left in buf) or -1. */
static ssize_t slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0, r;

	files++;
	if (fd < 0) {
		failed++;
		return -1;
	}
	while ((r = read(fd, buf + got, sizeof buf - 1 - (size_t)got)) > 0)
		if ((size_t)(got += r) >= sizeof buf - 1)
			got = 0;	/* keep reading to EOF; a pid list never gets here */
	close(fd);
	if (r < 0) {
		failed++;
		return -1;
	}
	buf[got] = '\0';
	return got;
}

static void read_pids(const char *path, struct pids *p)
{
	p->n = 0;
	if (slurp(path) < 0)
		return;
	for (char *s = buf, *e; *s; s = e) {
		long v = strtol(s, &e, 10);

		if (e == s)
			break;
		if (p->n == p->cap) {
			p->cap = p->cap ? 2 * p->cap : 64;
			p->v = realloc(p->v, p->cap * sizeof *p->v);
			if (!p->v)
				abort();
		}
		p->v[p->n++] = (int)v;
	}
}

static void sample(const char *rel, struct pids *tids, struct pids *pids)
{
	static const char *const cpuacct[] = { "cpuacct.usage", "cpuacct.stat" };
	static const char *const memory[] = { "memory.stat", "memory.usage_in_bytes",
					      "memory.limit_in_bytes" };
	char p[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < sizeof cpuacct / sizeof *cpuacct; i++) {
		snprintf(p, sizeof p, "%s/cpuacct%s/%s", cg_root, rel, cpuacct[i]);
		slurp(p);
	}
	for (size_t i = 0; i < sizeof memory / sizeof *memory; i++) {
		snprintf(p, sizeof p, "%s/memory%s/%s", cg_root, rel, memory[i]);
		slurp(p);
	}
	snprintf(p, sizeof p, "%s/blkio%s/blkio.throttle.io_serviced_recursive", cg_root, rel);
	slurp(p);
	snprintf(p, sizeof p, "%s/cpuacct%s/tasks", cg_root, rel);
	read_pids(p, tids);
	snprintf(p, sizeof p, "%s/cpuacct%s/cgroup.procs", cg_root, rel);
	read_pids(p, pids);
	for (size_t i = 0; i < tids->n; i++) {
		snprintf(p, sizeof p, "%s/%d/stat", proc_root, tids->v[i]);
		slurp(p);
		snprintf(p, sizeof p, "%s/%d/schedstat", proc_root, tids->v[i]);
		slurp(p);
	}
	for (size_t i = 0; i < pids->n; i++) {
		snprintf(p, sizeof p, "%s/%d/io", proc_root, pids->v[i]);
		slurp(p);
	}
	if (pids->n) {
		snprintf(p, sizeof p, "%s/%d/ns/net", proc_root, pids->v[0]);
		if (stat(p, &st) == 0 && st.st_ino != host_netns) {
			snprintf(p, sizeof p, "%s/%d/net/dev", proc_root, pids->v[0]);
			slurp(p);
		}
	}
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: rawloop [-v] [-s SWEEPS] [-i SECONDS] [-r CGROUP_ROOT] [-p PROC_ROOT] LISTFILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long sweeps = 20;
	double pause = 0.25;
	char **rel = NULL, line[PATH_MAX], *end, p[PATH_MAX];
	size_t n = 0, cap = 0;
	struct pids tids = {0}, pids = {0};
	uint64_t *cpu, *wall, sum = 0;
	long files0 = 0, failed0 = 0;
	struct stat st;
	FILE *f;
	int c, verbose = 0;

	while ((c = getopt(argc, argv, "vs:i:r:p:")) != -1) {
		switch (c) {
		case 'v': verbose = 1; end = ""; break;
		case 's': sweeps = strtol(optarg, &end, 10); break;
		case 'i': pause = strtod(optarg, &end); break;
		case 'r': cg_root = optarg; end = optarg + strlen(optarg); break;
		case 'p': proc_root = optarg; end = optarg + strlen(optarg); break;
		default: usage();
		}
		if (*end)
			usage();
	}
	if (argc - optind != 1 || sweeps < 1 || pause < 0)
		usage();
	f = fopen(argv[optind], "r");
	if (!f) {
		fprintf(stderr, "rawloop: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0])
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			rel = realloc(rel, cap * sizeof *rel);
			if (!rel)
				abort();
		}
		rel[n++] = strdup(line);
	}
	fclose(f);
	snprintf(p, sizeof p, "%s/self/ns/net", proc_root);
	host_netns = stat(p, &st) == 0 ? st.st_ino : 0;
	cpu = calloc((size_t)sweeps, sizeof *cpu);
	wall = calloc((size_t)sweeps, sizeof *wall);
	if (!cpu || !wall)
		abort();
	for (long s = 0; s < sweeps; s++) {
		uint64_t c0, w0;

		if (s && pause > 0) {
			struct timespec ts = { (time_t)pause, (long)((pause - (double)(time_t)pause) * 1e9) };

			nanosleep(&ts, NULL);
		}
		files0 = files;
		failed0 = failed;
		w0 = clock_ns(CLOCK_MONOTONIC);
		c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < n; i++)
			sample(rel[i], &tids, &pids);
		cpu[s] = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
		wall[s] = clock_ns(CLOCK_MONOTONIC) - w0;
		sum += cpu[s];
		if (verbose)
			printf("sweep\t%.1f\t%.1f\n", (double)cpu[s] / 1e3, (double)wall[s] / 1e3);
	}
	qsort(cpu, (size_t)sweeps, sizeof *cpu, cmp_u64);
	qsort(wall, (size_t)sweeps, sizeof *wall, cmp_u64);
	printf("%zu\t%ld\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%ld\t%ld\n", n, sweeps,
	       (double)cpu[sweeps / 2] / 1e3, (double)sum / (double)sweeps / 1e3, (double)cpu[0] / 1e3,
	       (double)cpu[sweeps - 1] / 1e3, (double)wall[sweeps / 2] / 1e3, files - files0,
	       failed - failed0);
	return 0;
}
