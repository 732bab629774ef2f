#include "peers.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

#define PROBE_TIMEOUT_MS 3000
#define PROBE_PERIOD_MS 5000

struct probe {
	struct peer_view view;
	char *transport;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct probe *probes;
static size_t n_probes;
static unsigned generation;	/* bumped when the list changes */
static bool running, stopping;
static pthread_t thread;

/* Run "TRANSPORT nproc" and read a number back within the deadline; the
 * child is ours, killed by pid if it hangs. Returns cores or -errno. */
static int probe_cores(const char *transport)
{
	int out[2], status, cores = -EHOSTUNREACH;
	char cmd[1024], buf[32] = "";
	size_t len = 0;
	pid_t pid;

	snprintf(cmd, sizeof cmd, "%s nproc", transport);
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(out[0]);
		close(out[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		setpgid(0, 0);	/* so the whole transport can be killed */
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (uint64_t deadline = now_usec() + PROBE_TIMEOUT_MS * 1000ULL; len + 1 < sizeof buf;) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		uint64_t now = now_usec();
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			break;
		n = read(out[0], buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(out[0]);
	kill(-pid, SIGKILL);	/* gone already if it answered */
	waitpid(pid, &status, 0);
	buf[len] = '\0';
	if (len && WIFEXITED(status) && WEXITSTATUS(status) == 0 && atoi(buf) > 0)
		cores = atoi(buf);
	return cores;
}

static void *prober(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		for (size_t i = 0; i < n_probes && !stopping; i++) {
			char *transport = xstrdup(probes[i].transport);
			unsigned gen = generation;
			int cores;

			pthread_mutex_unlock(&lock);
			cores = probe_cores(transport);
			free(transport);
			pthread_mutex_lock(&lock);
			if (gen != generation)
				break;	/* the list changed under us: start over */
			if (probes[i].view.reachable != (cores > 0) || !probes[i].view.probed)
				log_info("peer %s is %s", probes[i].view.name,
					 cores > 0 ? "reachable" : "unreachable");
			probes[i].view.probed = true;
			probes[i].view.reachable = cores > 0;
			probes[i].view.cores = cores > 0 ? cores : 0;
		}
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += PROBE_PERIOD_MS / 1000;
		pthread_cond_timedwait(&wake, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void free_probes(void)
{
	for (size_t i = 0; i < n_probes; i++)
		free(probes[i].transport);
	free(probes);
	probes = NULL;
	n_probes = 0;
}

void peers_configure(const struct config *cfg)
{
	pthread_mutex_lock(&lock);
	free_probes();
	probes = xcalloc(cfg->n_peers, sizeof *probes);
	for (size_t i = 0; i < cfg->n_peers; i++) {
		snprintf(probes[i].view.name, sizeof probes[i].view.name, "%s", cfg->peers[i].name);
		snprintf(probes[i].view.address, sizeof probes[i].view.address, "%s",
			 cfg->peers[i].address);
		probes[i].transport = xstrdup(cfg->peers[i].transport);
	}
	n_probes = cfg->n_peers;
	generation++;
	pthread_cond_signal(&wake);
	if (!running && n_probes) {
		stopping = false;
		running = pthread_create(&thread, NULL, prober, NULL) == 0;
		if (running)
			pthread_setname_np(thread, "adapt-peers");
	}
	pthread_mutex_unlock(&lock);
}

void peers_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	if (running)
		pthread_join(thread, NULL);
	running = false;
	pthread_mutex_lock(&lock);
	free_probes();
	pthread_mutex_unlock(&lock);
}

size_t peers_get(struct peer_view **out)
{
	size_t n;

	pthread_mutex_lock(&lock);
	n = n_probes;
	*out = n ? xcalloc(n, sizeof **out) : NULL;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = probes[i].view;
	pthread_mutex_unlock(&lock);
	return n;
}
