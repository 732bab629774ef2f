/* pi - Monte-Carlo Pi, the CPU-bound workload of bench/modes (the first
 * paper's Spark job, reduced to one static process per instance).
 *
 *   pi OUTFILE [BATCH [PORT]]
 *
 * Draws points in the unit square forever, in batches of BATCH (default
 * 262144), and about every 0.2 s overwrites OUTFILE with one line
 *
 *   SAMPLES INSIDE PI_ESTIMATE
 *
 * (one write(2) of a fixed-width line, so a reader never sees half of it).
 * The host reads the file before and after a measuring window: samples per
 * second = difference of SAMPLES / window. Exits 0 on SIGTERM or SIGINT: it
 * runs as PID 1 of a container or of a VM, where no signal has a default
 * action. It also listens on TCP PORT (default 7000) and closes whatever
 * connects, between batches: a readiness check for adaptfs (ready_port) that
 * passes once the pi runs, in either mode. Built static (gcc -static -O2) so
 * that it runs on a busybox root.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* xorshift64*: fast, good enough for a Monte-Carlo estimate */
static uint64_t rng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	uint64_t seed, total = 0, inside = 0, batch = 262144;
	struct sockaddr_in sin;
	double last;
	int fd, ls, port = 7000, one = 1;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: pi OUTFILE [BATCH [PORT]]\n");
		return 2;
	}
	if (argc >= 3)
		batch = strtoull(argv[2], NULL, 10);
	if (!batch)
		batch = 262144;
	if (argc == 4)
		port = atoi(argv[3]);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(ls, 16) < 0) {
		perror("listen");
		return 1;
	}
	seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ULL;
	last = now();
	while (!stop) {
		for (uint64_t i = 0; i < batch; i++) {
			/* two 32-bit coordinates in [0, 1) from one draw */
			uint64_t r = rng(&seed);
			double x = (double)(r >> 32) / 4294967296.0;
			double y = (double)(r & 0xffffffffu) / 4294967296.0;

			inside += x * x + y * y < 1.0;
		}
		total += batch;
		for (int c; (c = accept(ls, NULL, NULL)) >= 0;)
			close(c);
		if (now() - last >= 0.2) {
			char line[64];
			int len = snprintf(line, sizeof line, "%20llu %20llu %.6f\n",
					   (unsigned long long)total, (unsigned long long)inside,
					   4.0 * (double)inside / (double)total);

			if (pwrite(fd, line, (size_t)len, 0) != len) {
				perror("pwrite");
				return 1;
			}
			last = now();
		}
	}
	close(fd);
	return 0;
}
