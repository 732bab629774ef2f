#include "discover.h"
#include "managed_state.h"
#include "util.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <limits.h>
#include <sys/inotify.h>

#define WALK_MAX_DEPTH 10
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF)

/* runc/crun containers live at any cgroupsPath: their state dirs say where. */
struct runtime_entry {
	char *rel;
	char *name;
	const struct engine *engine;
};

struct walk_ctx {
	const struct cgroup_layout *L;
	const struct config *cfg;
	int inotify_fd;
	struct found_list *out;
	const struct found_list *known;
	struct runtime_entry *rt;
	size_t n_rt;
};

void found_list_free(struct found_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].name);
	}
	free(l->v);
	*l = (struct found_list){0};
}

void found_add(struct found_list *l, const char *key, char *name, const struct engine *engine, bool vm)
{
	pid_t pid = engine->key == ENGINE_KEY_PID ? (pid_t)strtol(key, NULL, 10) : 0;

	GROW(l->v, l->cap, l->n + 1);
	l->v[l->n++] = (struct found){ xstrdup(key), name, engine, pid, vm };
}

static int cmp_found(const void *a, const void *b)
{
	return strcmp(((const struct found *)a)->key, ((const struct found *)b)->key);
}

void found_list_sort(struct found_list *l)
{
	qsort_safe(l->v, l->n, sizeof *l->v, cmp_found);
}

static const struct found *known_find(const struct found_list *known, const char *key)
{
	const struct found k = { .key = (char *)key };

	return known && known->n ? bsearch(&k, known->v, known->n, sizeof k, cmp_found) : NULL;
}

static void watch(int ifd, const char *path, uint32_t mask)
{
	if (ifd >= 0)
		inotify_add_watch(ifd, path, mask | IN_ONLYDIR);
}

/* The cgroup path of a runtime container, relative to the walked hierarchy:
 * crun's status names it, runc's state.json lists it per controller. */
static char *crun_rel(const struct cgroup_layout *L, json_t *state)
{
	const char *p = json_string_value(json_object_get(state, "cgroup-path"));

	(void)L;
	return p ? xstrdup(p[0] == '/' ? p : "/") : NULL;
}

static char *runc_rel(const struct cgroup_layout *L, json_t *state)
{
	json_t *paths = json_object_get(state, "cgroup_paths"), *v;
	const char *key;
	size_t wl = strlen(L->walk);

	json_object_foreach(paths, key, v) {
		const char *p = json_string_value(v);

		if (p && strncmp(p, L->walk, wl) == 0 && p[wl] == '/')
			return xstrdup(p + wl);
	}
	return NULL;
}

/* The OCI runtimes whose state directories name their containers' cgroups. */
static const struct runtime {
	const char *engine;	/* also its directory under run_root */
	const char *file;	/* in each container's directory */
	char *(*rel)(const struct cgroup_layout *L, json_t *state);
} runtimes[] = {
	{ "runc", "state.json", runc_rel },
	{ "crun", "status", crun_rel },
};

static void runtime_scan(struct walk_ctx *w, const struct runtime *rt)
{
	const struct engine *engine = engine_get(rt->engine);
	char dir[1024];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	snprintf(dir, sizeof dir, "%s/%s", w->cfg->run_root, rt->engine);
	d = opendir(dir);
	if (!d)
		return;
	watch(w->inotify_fd, dir, WATCH_MASK);
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		json_t *state;
		char *rel;

		if (de->d_name[0] == '.' || startswith(de->d_name, MANAGED_PREFIX))
			continue;	/* managed ones are the managed backend's */
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		/* state.json is written after the cgroup exists: watch for it. */
		watch(w->inotify_fd, path, WATCH_MASK | IN_CLOSE_WRITE);
		snprintf(path, sizeof path, "%s/%s/%s", dir, de->d_name, rt->file);
		state = json_load_file(path, 0, NULL);
		rel = state ? rt->rel(w->L, state) : NULL;
		json_decref(state);
		if (!rel)
			continue;
		w->rt = xreallocarray(w->rt, w->n_rt + 1, sizeof *w->rt);
		w->rt[w->n_rt++] = (struct runtime_entry){ rel, xstrdup(de->d_name), engine };
	}
}

static const struct engine *match(struct walk_ctx *w, const char *rel, const char *parent,
				  const char *dir, char **name)
{
	const struct engine *engine;

	for (size_t i = 0; i < w->n_rt; i++)
		if (strcmp(w->rt[i].rel, rel) == 0) {
			if (name)
				*name = xstrdup(w->rt[i].name);
			return w->rt[i].engine;
		}
	engine = engine_match(parent, dir, name);
	if (engine)
		return engine;
	for (size_t i = 0; i < w->cfg->n_patterns; i++)
		if (fnmatch(w->cfg->patterns[i], rel, FNM_PATHNAME) == 0) {
			if (name)
				*name = xstrdup(dir);
			return engine_get("cgroup");
		}
	return NULL;
}

static void walk(struct walk_ctx *w, char *rel, size_t rel_len, const char *parent, int depth)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	snprintf(path, sizeof path, "%s%s", w->L->walk, rel);
	d = opendir(path);
	if (!d)
		return;
	watch(w->inotify_fd, path, WATCH_MASK);
	while ((de = readdir(d))) {
		size_t nl = strlen(de->d_name);
		const struct found *k;
		const struct engine *engine;
		char *name = NULL;

		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 || rel_len + 1 + nl >= PATH_MAX ||
		    startswith(de->d_name, MANAGED_PREFIX))
			continue;
		rel[rel_len] = '/';
		memcpy(rel + rel_len + 1, de->d_name, nl + 1);
		/* A known container's name was read when it appeared. */
		k = known_find(w->known, rel);
		engine = match(w, rel, parent, de->d_name, k ? NULL : &name);
		if (engine)
			found_add(w->out, rel, k ? xstrdup(k->name) : name, engine, false);
		else if (depth < WALK_MAX_DEPTH)
			walk(w, rel, rel_len + 1 + nl, de->d_name, depth + 1);
		rel[rel_len] = '\0';
	}
}

int discover_containers(const struct cgroup_layout *L, const struct config *cfg,
			int inotify_fd, const struct found_list *known, struct found_list *out)
{
	struct walk_ctx w = { L, cfg, inotify_fd, out, known, NULL, 0 };
	char rel[PATH_MAX] = "", path[PATH_MAX];

	const char *scope = cfg->scope ? cfg->scope : "";
	size_t scope_len = strlen(scope);
	const char *base = strrchr(scope, '/');

	for (size_t i = 0; i < ARRAY_SIZE(runtimes); i++)
		runtime_scan(&w, &runtimes[i]);
	/* Only this host's subtree: other adaptfs instances own the rest. Its
	 * ancestors are watched too, so a scope made after mount is seen. */
	memcpy(rel, scope, scope_len + 1);
	for (char *slash = strchr(rel + 1, '/'); scope_len && slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		snprintf(path, sizeof path, "%s%s", L->walk, rel);
		watch(inotify_fd, path, WATCH_MASK);
		*slash = '/';
	}
	watch(inotify_fd, L->walk, WATCH_MASK);
	walk(&w, rel, scope_len, base ? base + 1 : NULL, 0);
	for (size_t i = 0; i < w.n_rt; i++) {
		free(w.rt[i].rel);
		free(w.rt[i].name);
	}
	free(w.rt);
	return 0;
}
