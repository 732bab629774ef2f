#include "policy_auto.h"
#include "util.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *ids;
static size_t n_ids;

static ssize_t find(uint64_t id)
{
	for (size_t i = 0; i < n_ids; i++)
		if (ids[i] == id)
			return (ssize_t)i;
	return -1;
}

bool policy_set_auto(uint64_t id, bool on)
{
	bool changed = false;
	ssize_t i;

	pthread_mutex_lock(&lock);
	i = find(id);
	if (on && i < 0) {
		ids = xreallocarray(ids, n_ids + 1, sizeof *ids);
		ids[n_ids++] = id;
		changed = true;
	} else if (!on && i >= 0) {
		ids[i] = ids[--n_ids];
		changed = true;
	}
	pthread_mutex_unlock(&lock);
	return changed;
}

bool policy_auto(uint64_t id)
{
	bool on;

	pthread_mutex_lock(&lock);
	on = find(id) >= 0;
	pthread_mutex_unlock(&lock);
	return on;
}

void policy_auto_prune(const struct snapshot *s)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_ids;)
		if (!snapshot_find_id(s, ids[i]))
			ids[i] = ids[--n_ids];
		else
			i++;
	pthread_mutex_unlock(&lock);
}

void policy_auto_clear(void)
{
	pthread_mutex_lock(&lock);
	free(ids);
	ids = NULL;
	n_ids = 0;
	pthread_mutex_unlock(&lock);
}
