/* The engine table. See engine.h. */
#include "engine.h"
#include "util.h"

#include <string.h>

#define CONTAINER ENGINE_PIN_CPUSET
#define NO_MOVE "this engine has no migration in adaptfs (qemu and lxc do)"

static const struct engine engines[] = {
	{ "lxc", ENGINE_KEY_CGROUP, CONTAINER | ENGINE_MOVE_COLD, NULL },
	{ "docker", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },
	{ "containerd", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },
	{ "podman", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },
	{ "systemd-nspawn", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },
	{ "runc", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },
	{ "crun", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },
	{ "cgroup", ENGINE_KEY_CGROUP, CONTAINER, NO_MOVE },	/* a [discovery] pattern */
	{ "qemu", ENGINE_KEY_PID, ENGINE_PIN_VCPUS | ENGINE_MOVE_LIVE, NULL },
	{ "libvirt", ENGINE_KEY_PID, ENGINE_PIN_VCPUS | ENGINE_VIA_LIBVIRT | ENGINE_MOVE_LIBVIRT, NULL },
	{ "xen", ENGINE_KEY_NAME, 0, NO_MOVE },
	{ "adaptfs", ENGINE_KEY_NAME, ENGINE_MANAGED,
	  "a managed workload stays on the host that has its recipe, root and data directories" },
};

const struct engine *engine_get(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(engines); i++)
		if (strcmp(engines[i].name, name) == 0)
			return &engines[i];
	return NULL;
}
