#include "peers.h"
#include "log.h"
#include "transport.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#define PROBE_TIMEOUT_MS 3000
#define PROBE_PERIOD_MS 5000

struct probe {
	struct peer_view view;
	char *transport;
	char *libvirt_uri;	/* NULL: none */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static struct probe *probes;
static size_t n_probes;
static unsigned generation;	/* bumped when the list changes */
static bool running, stopping;
static pthread_t thread;
static pid_t probing;	/* the probe under way, whose group peers_stop kills */

/* "TRANSPORT nproc" must print a number within the deadline. Returns
 * cores or -EHOSTUNREACH. Called without the lock; a stop that comes
 * meanwhile kills the probe instead of waiting out its deadline. */
static int probe_cores(const char *transport)
{
	struct transport_proc p;
	char line[32] = "";
	uint64_t start = now_usec();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), r, left;

	if (null < 0)
		return -EHOSTUNREACH;
	r = transport_spawn(transport, "nproc", null, &p);
	close(null);
	if (r < 0)
		return -EHOSTUNREACH;
	pthread_mutex_lock(&lock);
	probing = p.pid;
	if (stopping)
		kill(-p.pid, SIGKILL);
	pthread_mutex_unlock(&lock);
	transport_read_line(&p, line, sizeof line, PROBE_TIMEOUT_MS);
	pthread_mutex_lock(&lock);
	probing = 0;	/* before it is reaped: its pid may be reused after */
	pthread_mutex_unlock(&lock);
	left = PROBE_TIMEOUT_MS - (int)((now_usec() - start) / 1000);
	r = transport_finish(&p, left > 0 ? left : 0);
	return r == 0 && atoi(line) > 0 ? atoi(line) : -EHOSTUNREACH;
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

		timespec_after(&until, PROBE_PERIOD_MS * 1000ULL);
		if (!stopping)	/* a stop signalled during the probes is not missed */
			pthread_cond_timedwait(&wake, &lock, &until);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void free_probes(void)
{
	for (size_t i = 0; i < n_probes; i++) {
		free(probes[i].transport);
		free(probes[i].libvirt_uri);
	}
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
		probes[i].libvirt_uri = cfg->peers[i].libvirt_uri ? xstrdup(cfg->peers[i].libvirt_uri) : NULL;
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
	if (probing)
		kill(-probing, SIGKILL);
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	if (running)
		pthread_join(thread, NULL);
	running = false;
	pthread_mutex_lock(&lock);
	free_probes();
	pthread_mutex_unlock(&lock);
}

int peers_libvirt_uri(const char *name, char *uri, size_t size)
{
	int r = -ENOENT;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_probes && r < 0; i++)
		if (strcmp(probes[i].view.name, name) == 0 && probes[i].libvirt_uri)
			r = snprintf(uri, size, "%s", probes[i].libvirt_uri) < (int)size ? 0 : -ENAMETOOLONG;
	pthread_mutex_unlock(&lock);
	return r;
}

int peers_find(const char *name, char *address, size_t address_size, char *transport,
	       size_t transport_size)
{
	int r = -ENOENT;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_probes && r < 0; i++)
		if (strcmp(probes[i].view.name, name) == 0) {
			snprintf(address, address_size, "%s", probes[i].view.address);
			snprintf(transport, transport_size, "%s", probes[i].transport);
			r = 0;
		}
	pthread_mutex_unlock(&lock);
	return r;
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
