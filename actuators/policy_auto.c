#include "policy_auto.h"
#include "util.h"

#include <pthread.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char **names;
static size_t n_names;

static ssize_t find(const char *name)
{
	for (size_t i = 0; i < n_names; i++)
		if (strcmp(names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

bool policy_set_auto(const char *name, bool on)
{
	bool changed = false;
	ssize_t i;

	pthread_mutex_lock(&lock);
	i = find(name);
	if (on && i < 0) {
		names = xreallocarray(names, n_names + 1, sizeof *names);
		names[n_names++] = xstrdup(name);
		changed = true;
	} else if (!on && i >= 0) {
		free(names[i]);
		names[i] = names[--n_names];
		changed = true;
	}
	pthread_mutex_unlock(&lock);
	return changed;
}

bool policy_auto(const char *name)
{
	bool on;

	pthread_mutex_lock(&lock);
	on = find(name) >= 0;
	pthread_mutex_unlock(&lock);
	return on;
}

void policy_auto_prune(const struct snapshot *s)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_names;)
		if (!snapshot_find_name(s, names[i])) {
			free(names[i]);
			names[i] = names[--n_names];
		} else {
			i++;
		}
	pthread_mutex_unlock(&lock);
}

void policy_auto_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	names = NULL;
	n_names = 0;
	pthread_mutex_unlock(&lock);
}
