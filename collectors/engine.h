/* What each engine's workloads are and what adaptfs can do with them. One
 * table: modules ask a workload's engine for a capability instead of
 * comparing engine names. */
#pragma once

#include <stdbool.h>

/* How a workload's key reads (struct found, struct wl_view). */
enum engine_key {
	ENGINE_KEY_CGROUP,	/* a cgroup path relative to the hierarchy */
	ENGINE_KEY_PID,		/* the VM process's pid, parsed once into pid */
	ENGINE_KEY_NAME,	/* the engine's own id: a Xen domid, a recipe name */
};

enum engine_cap {
	ENGINE_PIN_CPUSET = 1 << 0,	/* placement cpus= through its cgroup's cpuset */
	ENGINE_PIN_VCPUS = 1 << 1,	/* placement cpus= on its vCPU threads */
	ENGINE_MOVE_LIVE = 1 << 2,	/* placement host= by QEMU live migration */
	ENGINE_MOVE_COLD = 1 << 3,	/* placement host= by LXC: CRIU, else stop and copy */
	ENGINE_MANAGED = 1 << 4,	/* adaptfs runs it: switched between kinds, pinned by its manager */
	ENGINE_VIA_LIBVIRT = 1 << 5,	/* acted on through libvirt: pinned with vcpupin */
	ENGINE_MOVE_LIBVIRT = 1 << 6,	/* placement host= by libvirt's migration (virsh migrate) */
};

struct engine {
	const char *name;	/* as NAME/stat, events and metrics.prom show it */
	enum engine_key key;
	unsigned caps;		/* enum engine_cap */
	const char *no_move;	/* why placement host= is refused, without a MOVE cap */
};

/* The engine called name; NULL for a name no backend gives. */
const struct engine *engine_get(const char *name);

/* Whether e has any of caps (an OR of enum engine_cap). */
static inline bool engine_can(const struct engine *e, unsigned caps)
{
	return e && (e->caps & caps);
}

static inline bool engine_can_move(const struct engine *e)
{
	return engine_can(e, ENGINE_MOVE_LIVE | ENGINE_MOVE_COLD | ENGINE_MOVE_LIBVIRT);
}
