/* Container discovery: walk the cgroup tree and recognise each engine's
 * layout (LXC, docker, containerd, podman, systemd-nspawn, runc/crun state,
 * configured patterns). Watches what it walks with inotify so the sampler
 * wakes when a cgroup appears or goes. */
#pragma once

#include "cgroup.h"
#include "config.h"
#include "engine.h"

#include <stdbool.h>

/* A workload as a backend finds it. */
struct found {
	char *key;		/* unique within its backend: a cgroup path relative to
				 * the hierarchy (leading '/'), or "PID" for a VM process */
	char *name;		/* engine's name for it */
	const struct engine *engine;
	pid_t pid;		/* the key as a pid, for ENGINE_KEY_PID; else 0 */
	bool vm;
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

/* Fill out with every container now present. inotify_fd < 0: no watches.
 * known (sorted by key, or NULL): containers found before, whose names are
 * reused instead of being read again from their engine's files. */
int discover_containers(const struct cgroup_layout *L, const struct config *cfg,
			int inotify_fd, const struct found_list *known, struct found_list *out);
void found_list_free(struct found_list *l);
void found_list_sort(struct found_list *l);
/* Append a copy of key; takes ownership of name. */
void found_add(struct found_list *l, const char *key, char *name, const struct engine *engine, bool vm);

/* Engine naming rules, exposed for tests: classify one cgroup directory by
 * its parent's and its own name. Returns the engine or NULL; *name is
 * malloc'd. name NULL: classify only, without reading the engine's files. */
const struct engine *engine_match(const char *parent, const char *dir, char **name);
/* "machine-foo\x2dbar.scope" style unescaping (systemd unit names). */
void systemd_unescape(char *s);
