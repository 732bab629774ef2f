#include "sizes.h"
#include "util.h"

#include <pthread.h>

#define BUCKETS 4096

struct rec {
	uint64_t ino;
	size_t len;
	uint64_t seq;
	unsigned cached_opens;
	struct rec *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *table[BUCKETS];

static struct rec **slot(uint64_t ino)
{
	struct rec **p = &table[(ino * 0x9E3779B97F4A7C15ULL) >> 52];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

static struct rec *get_or_add(uint64_t ino)
{
	struct rec **p = slot(ino);

	if (!*p) {
		*p = xcalloc(1, sizeof **p);
		(*p)->ino = ino;
	}
	return *p;
}

void sizes_told(uint64_t ino, size_t len, uint64_t seq)
{
	pthread_mutex_lock(&lock);
	struct rec *r = get_or_add(ino);
	r->len = len;
	r->seq = seq;
	pthread_mutex_unlock(&lock);
}

bool sizes_lookup(uint64_t ino, size_t *len, uint64_t *seq)
{
	bool found;

	pthread_mutex_lock(&lock);
	struct rec *r = *slot(ino);
	found = r && r->seq;
	if (found) {
		*len = r->len;
		*seq = r->seq;
	}
	pthread_mutex_unlock(&lock);
	return found;
}

void sizes_cached_open(uint64_t ino, int delta)
{
	pthread_mutex_lock(&lock);
	struct rec *r = get_or_add(ino);
	r->cached_opens += (unsigned)delta;
	pthread_mutex_unlock(&lock);
}

size_t sizes_cached_inodes(uint64_t *out, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&lock);
	for (size_t b = 0; b < BUCKETS && n < max; b++)
		for (struct rec *r = table[b]; r && n < max; r = r->next)
			if (r->cached_opens)
				out[n++] = r->ino;
	pthread_mutex_unlock(&lock);
	return n;
}

void sizes_forget(uint64_t ino)
{
	pthread_mutex_lock(&lock);
	struct rec **p = slot(ino), *r = *p;
	if (r && !r->cached_opens) {
		*p = r->next;
		free(r);
	} else if (r) {
		r->seq = 0;	/* keep the open count, drop the size */
	}
	pthread_mutex_unlock(&lock);
}
