/* threads N [SPIN]: a process of N threads (itself included) that sleep in
 * pause(), SPIN of them spinning instead; prints "ready" once all exist.
 * Thread-heavy workloads for tests/bats/threads.bats and bench/scale.
 * Small stacks: 4,000 threads take ~20 MiB, not 32 GiB of address space. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void *spinner(void *arg)
{
	volatile unsigned long n = 0;

	(void)arg;
	for (;;)
		n++;
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	long spin = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	pthread_attr_t attr;

	if (argc < 2 || n < 1 || spin < 0 || spin >= n) {
		fprintf(stderr, "usage: threads N [SPIN]  (1 <= N, 0 <= SPIN < N)\n");
		return 2;
	}
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (long i = 1; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, &attr, i <= spin ? spinner : sleeper, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
