/*
 * multireader - read latency of small files under concurrent readers.
 *
 *   multireader [-t THREADS] [-n OPS] [-w WARMUP] [-D SECONDS] PATH...
 *   multireader -F WATCH [-n TRIALS] [-T TIMEOUT_MS] PATH
 *
 * Default mode: for each PATH in turn, THREADS threads (default 8) start
 * together and each does WARMUP untimed, then up to OPS timed iterations
 * (default 500, stopping early after SECONDS, default 5) of open + read
 * until EOF (64 KiB reads, the data discarded) + close.  The per-iteration
 * latencies of all threads are pooled; one tab-separated line per path:
 *
 *   path  ops  median_us  p90_us  p99_us  max_us  bytes  errors
 *
 * (nearest-rank percentiles; bytes = size of the last successful read).
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
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (64 * 1024)

struct worker {
	pthread_t th;
	const char *path;
	long warmup, ops;
	uint64_t deadline_ns;
	uint64_t *lat;		/* ns per timed iteration */
	long n;			/* timed iterations done */
	long errors;
	int first_errno;
	ssize_t bytes;
};

static pthread_barrier_t start_barrier;

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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char *buf = malloc(BUFSZ);

	if (!buf)
		abort();
	pthread_barrier_wait(&start_barrier);
	for (long i = 0; i < w->warmup; i++)
		read_whole(w->path, buf);
	for (long i = 0; i < w->ops; i++) {
		uint64_t t0 = now_ns();
		ssize_t r = read_whole(w->path, buf);
		uint64_t t1 = now_ns();

		if (r < 0) {
			if (!w->errors++)
				w->first_errno = (int)-r;
		} else {
			w->lat[w->n++] = t1 - t0;
			w->bytes = r;
		}
		if (t1 > w->deadline_ns)
			break;
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

static int run_concurrent(const char *path, int threads, long ops, long warmup, double secs)
{
	struct worker *w = calloc((size_t)threads, sizeof *w);
	uint64_t *all;
	size_t n = 0;
	long errors = 0;
	int first_errno = 0;
	ssize_t bytes = -1;

	if (!w)
		abort();
	pthread_barrier_init(&start_barrier, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		w[i].path = path;
		w[i].warmup = warmup;
		w[i].ops = ops;
		/* the deadline counts from now: warm-up is short next to it */
		w[i].deadline_ns = now_ns() + (uint64_t)(secs * 1e9);
		w[i].lat = malloc((size_t)ops * sizeof *w[i].lat);
		if (!w[i].lat || pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			abort();
	}
	for (int i = 0; i < threads; i++)
		pthread_join(w[i].th, NULL);
	pthread_barrier_destroy(&start_barrier);
	all = malloc(((size_t)ops * (size_t)threads + 1) * sizeof *all);
	if (!all)
		abort();
	for (int i = 0; i < threads; i++) {
		memcpy(all + n, w[i].lat, (size_t)w[i].n * sizeof *all);
		n += (size_t)w[i].n;
		if (w[i].errors && !errors)
			first_errno = w[i].first_errno;
		errors += w[i].errors;
		if (w[i].bytes >= 0)
			bytes = w[i].bytes;
		free(w[i].lat);
	}
	free(w);
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
	fprintf(stderr, "usage: multireader [-t THREADS] [-n OPS] [-w WARMUP] [-D SECONDS] PATH...\n"
			"       multireader -F WATCH [-n TRIALS] [-T TIMEOUT_MS] PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int threads = 8, c, rc = 0;
	long ops = 500, warmup = 20, timeout_ms = 10000;
	double secs = 5;
	const char *watch = NULL;
	char *end;

	while ((c = getopt(argc, argv, "t:n:w:D:F:T:")) != -1) {
		switch (c) {
		case 't': threads = (int)strtol(optarg, &end, 10); break;
		case 'n': ops = strtol(optarg, &end, 10); break;
		case 'w': warmup = strtol(optarg, &end, 10); break;
		case 'D': secs = strtod(optarg, &end); break;
		case 'F': watch = optarg; end = optarg + strlen(optarg); break;
		case 'T': timeout_ms = strtol(optarg, &end, 10); break;
		default: usage();
		}
		if (*end)
			usage();
	}
	if (optind >= argc || threads < 1 || ops < 1 || warmup < 0 || secs <= 0 || timeout_ms < 1)
		usage();
	if (watch) {
		if (argc - optind != 1)
			usage();
		return run_first(argv[optind], watch, ops, timeout_ms);
	}
	for (int i = optind; i < argc; i++)
		rc |= run_concurrent(argv[i], threads, ops, warmup, secs);
	return rc;
}
