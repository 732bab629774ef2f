#include "snapshot.h"
#include "managed_state.h"
#include "util.h"

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct snapshot *current;
static void (*publish_hook)(const struct snapshot *, const struct snapshot *);

static const char *const class_names[CLASS_COUNT] = {
	[CLASS_IDLE] = "idle", [CLASS_CPU] = "cpu", [CLASS_IO] = "io",
	[CLASS_NET] = "net", [CLASS_MEMORY] = "memory",
};

const char *class_name(enum wl_class c)
{
	return c < CLASS_COUNT ? class_names[c] : "idle";
}

struct snapshot *snapshot_new(size_t n)
{
	struct snapshot *s = xcalloc(1, sizeof *s);

	atomic_init(&s->refs, 1);
	s->n = n;
	s->wl = xcalloc(n, sizeof *s->wl);
	pthread_mutex_init(&s->cache_lock, NULL);
	return s;
}

size_t snapshot_bytes(const struct snapshot *s)
{
	size_t n = sizeof *s + s->n * sizeof *s->wl + s->n_peers * sizeof *s->peers;

	if (s->by_name)
		n += 2 * (s->hmask + 1) * sizeof *s->by_name;
	for (size_t i = 0; i < s->n; i++)
		n += strlen(s->wl[i].name) + 1 + (s->wl[i].key ? strlen(s->wl[i].key) + 1 : 0) +
		     (s->wl[i].cpus ? strlen(s->wl[i].cpus) + 1 : 0);
	return n;
}

static uint64_t hash_id(uint64_t id)
{
	return id * 0x9E3779B97F4A7C15ULL;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct wl_view *)a)->name, ((const struct wl_view *)b)->name);
}

void snapshot_index(struct snapshot *s)
{
	size_t size = 16;

	qsort_safe(s->wl, s->n, sizeof *s->wl, cmp_name);
	while (size < s->n * 2)
		size *= 2;
	s->hmask = size - 1;
	s->by_name = xcalloc(size, sizeof *s->by_name);
	s->by_id = xcalloc(size, sizeof *s->by_id);
	for (size_t i = 0; i < s->n; i++) {
		size_t h = fnv1a_str(s->wl[i].name) & s->hmask;

		while (s->by_name[h])
			h = (h + 1) & s->hmask;
		s->by_name[h] = (uint32_t)i + 1;
		h = hash_id(s->wl[i].id) & s->hmask;
		while (s->by_id[h])
			h = (h + 1) & s->hmask;
		s->by_id[h] = (uint32_t)i + 1;
	}
}

const char *const top_names[TOP_N] = {
	[TOP_EVENTS] = "events", [TOP_METRICS] = "metrics.prom", [TOP_HOST] = "host", [TOP_HOSTS] = "hosts",
};

int top_name_index(const char *name)
{
	for (int i = 0; i < TOP_N; i++)
		if (strcmp(name, top_names[i]) == 0)
			return i;
	return -1;
}

const struct wl_view *snapshot_find_name(const struct snapshot *s, const char *name)
{
	if (!s->by_name)
		return NULL;
	for (size_t h = fnv1a_str(name) & s->hmask; s->by_name[h]; h = (h + 1) & s->hmask)
		if (strcmp(s->wl[s->by_name[h] - 1].name, name) == 0)
			return &s->wl[s->by_name[h] - 1];
	return NULL;
}

const struct wl_view *snapshot_find_id(const struct snapshot *s, uint64_t id)
{
	if (!s->by_id)
		return NULL;
	for (size_t h = hash_id(id) & s->hmask; s->by_id[h]; h = (h + 1) & s->hmask)
		if (s->wl[s->by_id[h] - 1].id == id)
			return &s->wl[s->by_id[h] - 1];
	return NULL;
}

const char *wl_cgroup(const struct wl_view *w, char *buf, size_t size)
{
	int r;

	if (w->vm)
		return NULL;
	if (engine_can(w->engine, ENGINE_MANAGED))
		r = managed_cgroup(w->key, false, buf, size);
	else if (w->engine && w->engine->key == ENGINE_KEY_CGROUP)
		r = path_printf(buf, size, "%s", w->key);
	else
		return NULL;
	return r == 0 ? buf : NULL;
}

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->wl[i].name);
		free(s->wl[i].key);
		free(s->wl[i].cpus);
	}
	free(s->wl);
	free(s->by_name);
	free(s->by_id);
	free(s->peers);
	shared_text_put(s->prom);
	pthread_mutex_destroy(&s->cache_lock);
	free(s);
}

/* The lock only covers taking a reference, never rendering: readers hold it
 * for a pointer load and an increment. */
struct snapshot *snapshot_get(void)
{
	struct snapshot *s;

	pthread_mutex_lock(&current_lock);
	s = current;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&current_lock);
	return s;
}

void snapshot_put(struct snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

void snapshot_set_publish_hook(void (*hook)(const struct snapshot *, const struct snapshot *))
{
	publish_hook = hook;
}

void snapshot_publish(struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = s;
	pthread_mutex_unlock(&current_lock);
	if (publish_hook && old)
		publish_hook(old, s);
	snapshot_put(old);
}

void snapshot_release_all(void)
{
	pthread_mutex_lock(&current_lock);
	snapshot_put(current);
	current = NULL;
	pthread_mutex_unlock(&current_lock);
}
