/* The namespace: every path maps to a node, every node to a fixed inode
 * number computed from it. No path strings are kept or compared on the hot
 * path; a workload's inodes derive from its never-reused id. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum node_kind { N_ROOT, N_EVENTS, N_METRICS, N_HOSTS, N_HOST_DIR, N_HOST_FILE, N_WL_DIR, N_WL_FILE };

enum host_file { HF_CORES, HF_CPU, HF_LOAD, HF_MEMORY, HF_PRESSURE, HF_STAT, HF_COUNT };
enum wl_file { WF_KIND, WF_CPU, WF_IO, WF_THREADS, WF_SCHED_WAIT, WF_MAJOR_FAULTS, WF_MEMORY,
	       WF_PRESSURE, WF_CLASS, WF_STAT, WF_MIGRATION, WF_PLACEMENT, WF_MODE, WF_PREFETCH, WF_COUNT };

struct node {
	enum node_kind kind;
	int file;		/* enum host_file or enum wl_file */
	uint64_t wid;		/* workload id for N_WL_* */
};

extern const char *const host_file_names[HF_COUNT];
extern const char *const wl_file_names[WF_COUNT];

#define ROOT_INO 1

uint64_t node_ino(const struct node *n);
bool node_from_ino(uint64_t ino, struct node *n);
bool node_is_dir(const struct node *n);
/* placement, mode, prefetch: the files users write to. */
bool node_is_control(const struct node *n);
/* A file name in a directory of the given kind, or -1. */
int node_file_index(enum node_kind dir, const char *name);
