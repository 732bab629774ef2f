/*
 * multireader - read latency of small files under concurrent readers.
 *
 *   multireader [-t THREADS] [-n OPS] [-w WARMUP] [-D SECONDS] [-b BLOCK] [-i] PATH...
 *   multireader -F WATCH [-n TRIALS] [-T TIMEOUT_MS] PATH
 *
 * Default mode: for each PATH in turn, THREADS threads (default 8) start
 * together and each does WARMUP untimed, then up to OPS timed iterations
 * (default 500; all stop early at the end of a block of BLOCK once SECONDS,
 * default 5, have passed) of open + read until EOF (64 KiB reads, the data
 * discarded) + close.  The per-iteration
 * latencies of all threads are pooled; one tab-separated line per path:
 *
 *   path  ops  median_us  p90_us  p99_us  max_us  bytes  errors
 *
 * (nearest-rank percentiles; bytes = size of the last successful read).
 *
 * -i (interleaved): the paths take turns instead, BLOCK reads (default
 * 25) of each thread at a time, all threads on the same path, until each
 * was read OPS times per thread (SECONDS for all): every path is measured
 * across the same moments, so a burst of other work on the host (a
 * sampler's sweep) falls on all of them alike instead of on whichever
 * path's turn it was.
 *
 * -F mode ("first read after a new snapshot"): TRIALS times, poll WATCH (a
 * flat-keyed file with a timestamp_usec line, e.g. an adaptfs NAME/stat)
 * every millisecond until timestamp_usec changes, then time one
 * open+read+close of PATH (the first after the change: it pays for any
 * per-snapshot rendering) and a second one right after.  Prints one line:
 *
 *   path  trials  first_median_us  first_max_us  second_median_us  bytes
 *
 * Exit status: 0, 1 if any read failed, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)

/* One thread's figures for one path. */
struct tally {
	uint64_t *lat;		/* ns per timed read */
	long n;			/* timed reads done */
	long errors;
	int first_errno;
	ssize_t bytes;
};

struct worker {
	pthread_t th;
	char *const *paths;	/* take turns */
	int n_paths;
	long warmup, ops, block;	/* per path */
	uint64_t deadline_ns;
	struct tally *t;	/* per path */
};

static pthread_barrier_t barrier;
static bool stop;	/* the deadline passed: written only between two barriers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* open + read until EOF + close; bytes read, or -errno. */
static ssize_t read_whole(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0, r;
	int e;

	if (fd < 0)
		return -errno;
	for (;;) {
		r = read(fd, buf, BUFSZ);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	e = errno;
	close(fd);
	return r < 0 ? -e : got;
}

static void timed_read(struct worker *w, int p, char *buf)
{
	struct tally *t = &w->t[p];
	uint64_t t0 = now_ns();
	ssize_t r = read_whole(w->paths[p], buf);
	uint64_t t1 = now_ns();

	if (r < 0) {
		if (!t->errors++)
			t->first_errno = (int)-r;
	} else {
		t->lat[t->n++] = t1 - t0;
		t->bytes = r;
	}
}

/* The end of a turn: every thread waits for the others, and one of them
 * decides for all whether the deadline has passed. */
static void turn_end(const struct worker *w)
{
	if (pthread_barrier_wait(&barrier) == PTHREAD_BARRIER_SERIAL_THREAD)
		stop = now_ns() > w->deadline_ns;
	pthread_barrier_wait(&barrier);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(BUFSZ);

	if (!buf)
		abort();
	for (int p = 0; p < w->n_paths; p++)
		for (long i = 0; i < w->warmup; i++)
			read_whole(w->paths[p], buf);
	pthread_barrier_wait(&barrier);
	for (long done = 0; done < w->ops && !stop; done += w->block) {
		for (int p = 0; p < w->n_paths && !stop; p++) {
			for (long i = done; i < done + w->block && i < w->ops; i++)
				timed_read(w, p, buf);
			turn_end(w);
		}
	}
	free(buf);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0 < p <= 100) of sorted v[0..n). */
static double pct_us(const uint64_t *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return -1;
	k = (size_t)((p / 100.0) * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return (double)v[k - 1] / 1000.0;
}

/* The pooled figures of path p over every thread: one output line. */
static int report(struct worker *w, int threads, int p, long ops)
{
	uint64_t *all = malloc(((size_t)ops * (size_t)threads + 1) * sizeof *all);
	const char *path = w[0].paths[p];
	size_t n = 0;
	long errors = 0;
	int first_errno = 0;
	ssize_t bytes = -1;

	if (!all)
		abort();
	for (int i = 0; i < threads; i++) {
		const struct tally *t = &w[i].t[p];

		memcpy(all + n, t->lat, (size_t)t->n * sizeof *all);
		n += (size_t)t->n;
		if (t->errors && !errors)
			first_errno = t->first_errno;
		errors += t->errors;
		if (t->bytes >= 0)
			bytes = t->bytes;
	}
	qsort(all, n, sizeof *all, cmp_u64);
	printf("%s\t%zu\t%.2f\t%.2f\t%.2f\t%.2f\t%zd\t%ld\n", path, n, pct_us(all, n, 50),
	       pct_us(all, n, 90), pct_us(all, n, 99), pct_us(all, n, 100), bytes, errors);
	fflush(stdout);
	free(all);
	if (errors)
		fprintf(stderr, "multireader: %s: %ld failed reads (first: %s)\n", path, errors,
			strerror(first_errno));
	return errors || n == 0;
}

/* threads readers over paths[0..n_paths), together. */
static int run_concurrent(char *const *paths, int n_paths, int threads, long ops, long warmup,
			  long block, double secs)
{
	struct worker *w = calloc((size_t)threads, sizeof *w);
	int rc = 0;

	if (!w)
		abort();
	pthread_barrier_init(&barrier, NULL, (unsigned)threads);
	stop = false;
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .paths = paths, .n_paths = n_paths, .warmup = warmup,
					.ops = ops, .block = block };
		/* the deadline counts from now: warm-up is short next to it */
		w[i].deadline_ns = now_ns() + (uint64_t)(secs * 1e9);
		w[i].t = calloc((size_t)n_paths, sizeof *w[i].t);
		if (!w[i].t)
			abort();
		for (int p = 0; p < n_paths; p++) {
			w[i].t[p].bytes = -1;
			w[i].t[p].lat = malloc((size_t)ops * sizeof *w[i].t[p].lat);
			if (!w[i].t[p].lat)
				abort();
		}
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			abort();
	}
	for (int i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	pthread_barrier_destroy(&barrier);
	for (int p = 0; p < n_paths; p++)
		rc |= report(w, threads, p, ops);
	for (int i = 0; i < threads; i++) {
		for (int p = 0; p < n_paths; p++)
			free(w[i].t[p].lat);
		free(w[i].t);
	}
	free(w);
	return rc;
}

/* timestamp_usec of a flat-keyed file, 0 if unreadable. */
static uint64_t watch_stamp(const char *watch, char *buf)
{
	ssize_t r = read_whole(watch, buf);
	char *p;

	if (r <= 0)
		return 0;
	buf[r < BUFSZ ? r : BUFSZ - 1] = '\0';
	p = strstr(buf, "timestamp_usec ");
	return p ? strtoull(p + 15, NULL, 10) : 0;
}

static int run_first(const char *path, const char *watch, long trials, long timeout_ms)
{
	char *buf = malloc(BUFSZ);
	uint64_t *first = calloc((size_t)trials, sizeof *first);
	uint64_t *second = calloc((size_t)trials, sizeof *second);
	uint64_t stamp;
	struct timespec ms = { 0, 1000000 };
	ssize_t bytes = -1;
	long n = 0;
	int rc = 0;

	if (!buf || !first || !second)
		abort();
	stamp = watch_stamp(watch, buf);
	for (long t = 0; t < trials; t++) {
		uint64_t give_up = now_ns() + (uint64_t)timeout_ms * 1000000u, s, t0, t1, t2;
		ssize_t r1, r2;

		while ((s = watch_stamp(watch, buf)) == stamp || s == 0) {
			if (now_ns() > give_up) {
				fprintf(stderr, "multireader: %s: timestamp_usec did not change within %ld ms\n",
					watch, timeout_ms);
				rc = 1;
				goto out;
			}
			nanosleep(&ms, NULL);
		}
		stamp = s;
		t0 = now_ns();
		r1 = read_whole(path, buf);
		t1 = now_ns();
		r2 = read_whole(path, buf);
		t2 = now_ns();
		if (r1 < 0 || r2 < 0) {
			fprintf(stderr, "multireader: %s: %s\n", path, strerror((int)-(r1 < 0 ? r1 : r2)));
			rc = 1;
			continue;
		}
		bytes = r1;
		first[n] = t1 - t0;
		second[n] = t2 - t1;
		n++;
	}
out:
	qsort(first, (size_t)n, sizeof *first, cmp_u64);
	qsort(second, (size_t)n, sizeof *second, cmp_u64);
	printf("%s\t%ld\t%.2f\t%.2f\t%.2f\t%zd\n", path, n, pct_us(first, (size_t)n, 50),
	       pct_us(first, (size_t)n, 100), pct_us(second, (size_t)n, 50), bytes);
	free(buf);
	free(first);
	free(second);
	return rc || n == 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: multireader [-t THREADS] [-n OPS] [-w WARMUP] [-D SECONDS] [-b BLOCK] [-i] PATH...\n"
			"       multireader -F WATCH [-n TRIALS] [-T TIMEOUT_MS] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int threads = 8, c, rc = 0;
	bool interleave = false;
	long ops = 500, warmup = 20, block = 25, timeout_ms = 10000;
	double secs = 5;
	const char *watch = NULL;
	char *end;

	while ((c = getopt(argc, argv, "t:n:w:D:F:T:b:i")) != -1) {
		switch (c) {
		case 't': threads = (int)strtol(optarg, &end, 10); break;
		case 'n': ops = strtol(optarg, &end, 10); break;
		case 'w': warmup = strtol(optarg, &end, 10); break;
		case 'D': secs = strtod(optarg, &end); break;
		case 'F': watch = optarg; end = optarg + strlen(optarg); break;
		case 'T': timeout_ms = strtol(optarg, &end, 10); break;
		case 'b': block = strtol(optarg, &end, 10); break;
		case 'i': interleave = true; continue;	/* no argument to check */
		default: usage();
		}
		if (*end)
			usage();
	}
	if (optind >= argc || threads < 1 || ops < 1 || warmup < 0 || block < 1 || secs <= 0 ||
	    timeout_ms < 1)
		usage();
	if (watch) {
		if (argc - optind != 1)
			usage();
		return run_first(argv[optind], watch, ops, timeout_ms);
	}
	if (interleave)
		return run_concurrent(argv + optind, argc - optind, threads, ops, warmup, block, secs);
	for (int i = optind; i < argc; i++)
		rc |= run_concurrent(argv + i, 1, threads, ops, warmup, block, secs);
	return rc;
}
