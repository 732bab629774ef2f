#include "nodes.h"

#include <string.h>

/* Inode layout: 1 root, 2 events, 3 metrics.prom, 4 host/, 5 hosts, 16+i host/FILE;
 * workloads from WL_BASE up, WL_STRIDE inodes each (directory, then files). */
enum { INO_EVENTS = 2, INO_METRICS = 3, INO_HOST = 4, INO_HOSTS = 5, INO_HOST_FILES = 16 };
#define WL_BASE 4096ULL
#define WL_STRIDE 16ULL

const char *const host_file_names[HF_COUNT] = {
	[HF_CORES] = "cores", [HF_CPU] = "cpu", [HF_LOAD] = "load",
	[HF_MEMORY] = "memory", [HF_PRESSURE] = "pressure", [HF_STAT] = "stat",
};

const char *const wl_file_names[WF_COUNT] = {
	[WF_KIND] = "kind", [WF_CPU] = "cpu", [WF_IO] = "io", [WF_THREADS] = "threads",
	[WF_SCHED_WAIT] = "sched_wait", [WF_MAJOR_FAULTS] = "major_faults", [WF_MEMORY] = "memory",
	[WF_PRESSURE] = "pressure", [WF_CLASS] = "class", [WF_STAT] = "stat",
	[WF_MIGRATION] = "migration",
	[WF_PLACEMENT] = "placement", [WF_MODE] = "mode", [WF_PREFETCH] = "prefetch",
};

_Static_assert(WF_COUNT < WL_STRIDE, "workload files must fit the inode stride");

uint64_t node_ino(const struct node *n)
{
	switch (n->kind) {
	case N_ROOT:
		return ROOT_INO;
	case N_EVENTS:
		return INO_EVENTS;
	case N_METRICS:
		return INO_METRICS;
	case N_HOST_DIR:
		return INO_HOST;
	case N_HOSTS:
		return INO_HOSTS;
	case N_HOST_FILE:
		return INO_HOST_FILES + (uint64_t)n->file;
	case N_WL_DIR:
		return WL_BASE + n->wid * WL_STRIDE;
	case N_WL_FILE:
		return WL_BASE + n->wid * WL_STRIDE + 1 + (uint64_t)n->file;
	}
	return 0;
}

bool node_from_ino(uint64_t ino, struct node *n)
{
	*n = (struct node){0};
	if (ino >= WL_BASE) {
		uint64_t off = (ino - WL_BASE) % WL_STRIDE;

		n->wid = (ino - WL_BASE) / WL_STRIDE;
		n->kind = off ? N_WL_FILE : N_WL_DIR;
		n->file = off ? (int)off - 1 : 0;
		return n->wid > 0 && (!off || off - 1 < WF_COUNT);
	}
	if (ino >= INO_HOST_FILES && ino < INO_HOST_FILES + HF_COUNT) {
		n->kind = N_HOST_FILE;
		n->file = (int)(ino - INO_HOST_FILES);
		return true;
	}
	switch (ino) {
	case ROOT_INO:
		n->kind = N_ROOT;
		return true;
	case INO_EVENTS:
		n->kind = N_EVENTS;
		return true;
	case INO_METRICS:
		n->kind = N_METRICS;
		return true;
	case INO_HOST:
		n->kind = N_HOST_DIR;
		return true;
	case INO_HOSTS:
		n->kind = N_HOSTS;
		return true;
	}
	return false;
}

bool node_is_dir(const struct node *n)
{
	return n->kind == N_ROOT || n->kind == N_HOST_DIR || n->kind == N_WL_DIR;
}

bool node_is_control(const struct node *n)
{
	return n->kind == N_WL_FILE && n->file >= WF_PLACEMENT;
}

int node_file_index(enum node_kind dir, const char *name)
{
	if (dir == N_HOST_DIR) {
		for (int i = 0; i < HF_COUNT; i++)
			if (strcmp(name, host_file_names[i]) == 0)
				return i;
	} else if (dir == N_WL_DIR) {
		for (int i = 0; i < WF_COUNT; i++)
			if (strcmp(name, wl_file_names[i]) == 0)
				return i;
	}
	return -1;
}
