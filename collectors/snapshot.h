/* Immutable snapshots of every workload and the host. The sampler builds one
 * per interval and publishes it with one pointer swap; readers take a
 * reference, render from it, and drop it. Nothing in a published snapshot
 * changes except its lazily rendered caches. */
#pragma once

#include "actstate.h"
#include "engine.h"
#include "metrics.h"
#include "sharedtext.h"
#include "strbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum wl_class { CLASS_IDLE, CLASS_CPU, CLASS_IO, CLASS_NET, CLASS_MEMORY, CLASS_COUNT };

struct wl_view {
	uint64_t id;		/* stable for the workload's life, never reused */
	char *name;		/* directory name, unique in the snapshot */
	const struct engine *engine;	/* lxc, docker, ...: what it can do (static) */
	char *key;		/* its backend's key: cgroup path, or a VM's pid */
	pid_t pid;		/* the key as a pid, for ENGINE_KEY_PID; else 0 */
	char *cpus;		/* CPUs it may run on (cpuset list), NULL if unknown */
	bool vm;
	enum wl_class class;
	uint64_t class_since_usec;	/* monotonic time its class became what it is */
	bool recommend_vm;
	uint64_t rate_usec;	/* time its rates are over; 0 before its second sample */
	uint64_t appeared_usec;	/* wall time it was discovered: its directory's mtime */
	struct metric_set m;
	struct wl_act act;	/* the actuators' state of it, as the snapshot was taken */
};

/* A peer host as last probed. */
struct peer_view {
	char name[64];
	char address[128];
	int cores;		/* 0 when unknown */
	bool reachable;
	bool probed;		/* false until the first probe finished */
};

struct snapshot {
	atomic_uint refs;
	uint64_t seq;
	uint64_t wall_usec;		/* when it was taken */
	uint64_t interval_usec;		/* time the host's rates are over */
	uint64_t start_usec;		/* wall time the sampler started: host/'s mtime */
	uint64_t tree_usec;		/* wall time a workload last came or went: the root's mtime */
	uint64_t round_usec;		/* time the last full sample round took */
	size_t n;
	struct wl_view *wl;		/* sorted by name */
	uint32_t *by_name, *by_id;	/* open addressing: index + 1, 0 = empty */
	size_t hmask;
	struct metric_set host;
	bool kvm;			/* hardware virtualization runs guests here */
	struct peer_view *peers;	/* from the config, with probe results */
	size_t n_peers;
	struct host_act act;		/* the actuators' host-wide state */

	pthread_mutex_t cache_lock;	/* guards prom, rendered once on first use */
	struct shared_text *prom;	/* NULL until then */
};

struct snapshot *snapshot_new(size_t n);
/* Sort by name and build the lookup tables; call once before publishing. */
void snapshot_index(struct snapshot *s);

struct snapshot *snapshot_get(void);
/* Drop the published snapshots (at exit). */
void snapshot_release_all(void);
void snapshot_put(struct snapshot *s);
/* Make s current. The publish hook runs after the swap with both snapshots. */
void snapshot_publish(struct snapshot *s);
void snapshot_set_publish_hook(void (*hook)(const struct snapshot *old, const struct snapshot *cur));

/* The heap s holds (its caches aside): what holding it costs. */
size_t snapshot_bytes(const struct snapshot *s);
const struct wl_view *snapshot_find_name(const struct snapshot *s, const char *name);

/* The tree's top level beside the workloads, in readdir order: no
 * workload directory may take one of these names. */
enum top_entry { TOP_EVENTS, TOP_METRICS, TOP_HOST, TOP_HOSTS, TOP_N };
extern const char *const top_names[TOP_N];
/* name's index in top_names, or -1 */
int top_name_index(const char *name);
const struct wl_view *snapshot_find_id(const struct snapshot *s, uint64_t id);
/* The cgroup a container workload's processes are in, relative to each
 * hierarchy: its key, or for a managed workload running as a container the
 * cgroup adaptfs gives its runc container (MANAGED_PREFIX NAME). NULL for a
 * VM, or where the path does not fit buf (never cut: it could be another
 * workload's). */
const char *wl_cgroup(const struct wl_view *w, char *buf, size_t size);

const char *class_name(enum wl_class c);
