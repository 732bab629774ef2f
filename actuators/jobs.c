#include "jobs.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail;
static uint64_t busy[64];	/* workloads with a job queued or running */
static unsigned n_busy;
static bool stopping;
static pthread_t threads[4];
static unsigned n_threads;

static bool is_busy(uint64_t wid)
{
	for (unsigned i = 0; i < n_busy; i++)
		if (busy[i] == wid)
			return true;
	return false;
}

static void unbusy(uint64_t wid)
{
	for (unsigned i = 0; i < n_busy; i++)
		if (busy[i] == wid) {
			busy[i] = busy[--n_busy];
			return;
		}
}

int jobs_submit(const struct job *job)
{
	struct job *j;

	pthread_mutex_lock(&lock);
	if (is_busy(job->wid) || stopping) {
		pthread_mutex_unlock(&lock);
		return -EBUSY;
	}
	if (n_busy == ARRAY_SIZE(busy)) {	/* a backlog this long is itself "busy" */
		pthread_mutex_unlock(&lock);
		return -EBUSY;
	}
	busy[n_busy++] = job->wid;
	j = xmalloc(sizeof *j);
	*j = *job;
	j->next = NULL;
	if (tail)
		tail->next = j;
	else
		head = j;
	tail = j;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
	return 0;
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct job *j;
		int r;

		while (!head && !stopping)
			pthread_cond_wait(&more, &lock);
		if (!head)
			break;
		j = head;
		head = j->next;
		if (!head)
			tail = NULL;
		pthread_mutex_unlock(&lock);
		r = stopping ? -ECANCELED : j->run(j);
		/* Free the workload before the reply: its writer may write again
		 * the moment the reply reaches it. */
		pthread_mutex_lock(&lock);
		unbusy(j->wid);
		pthread_mutex_unlock(&lock);
		j->done(j->ctx, r);
		free(j->arg);
		free(j);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int jobs_start(unsigned workers)
{
	stopping = false;
	for (n_threads = 0; n_threads < workers && n_threads < ARRAY_SIZE(threads); n_threads++)
		if (pthread_create(&threads[n_threads], NULL, worker, NULL) != 0)
			return -EAGAIN;
		else
			pthread_setname_np(threads[n_threads], "adapt-jobs");
	return 0;
}

/* Queued jobs still get their done() (with -ECANCELED), so no writer hangs. */
void jobs_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&more);
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	n_threads = 0;
}
