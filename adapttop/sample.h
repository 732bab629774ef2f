/* One frame of adapttop: the host line and one row per workload, read from an adaptfs mount. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Figures of a row, read from the workload's stat file (one consistent snapshot). */
enum field {
	F_CPU,		/* cpu_usage_percent */
	F_PAR,		/* threads_parallelism */
	F_WAIT,		/* sched_wait_percent */
	F_IO_R,		/* io_read_bytes_per_sec */
	F_IO_W,		/* io_write_bytes_per_sec */
	F_NET_RX,	/* io_net_rx_bytes_per_sec */
	F_NET_TX,	/* io_net_tx_bytes_per_sec */
	F_MAJFLT,	/* major_faults_per_sec */
	F_MEM,		/* memory_current_bytes */
	F_SB_MEM,	/* standby_memory_bytes: the other mode's instance, prepared */
	F_SB_CPU,	/* standby_cpu_usec */
	F_SB_READY,	/* standby_ready */
	F_STAMP,	/* timestamp_usec: when the snapshot of these figures was taken */
	F_COUNT
};

/* Each field's key in the stat file. */
extern const char *const field_keys[F_COUNT];

enum host_field { H_CORES, H_CPU, H_LOAD1, H_LOAD5, H_LOAD15, H_MEM_TOTAL, H_MEM_AVAIL, H_COUNT };

/* Text fields are "" when their file or key is missing; the viewer prints "-". */
struct row {
	char name[256];
	char kind[64];		/* "container/docker", "vm/qemu" */
	char kind_text[64];	/* the kind file's line: "container docker" */
	char class[16];		/* "cpu" */
	char mode[16];		/* current choice of the mode file */
	char placement[128];	/* "HOST/CPUS" from "host=HOST cpus=CPUS" */
	char placement_text[128];	/* the placement file's line */
	char prefetch[16];	/* current choice of the prefetch file */
	double v[F_COUNT];
	unsigned have;		/* bit (1 << field) set when v[field] was read */
};

struct host {
	double v[H_COUNT];
	unsigned have;
};

struct frame {
	struct host host;
	struct row *rows;
	size_t n;	/* rows shown */
	size_t n_all;	/* workloads read, before any filter */
};

static inline bool row_has(const struct row *r, enum field f) { return r->have & (1u << f); }
static inline bool host_has(const struct host *h, enum host_field f) { return h->have & (1u << f); }

/* Read every workload of the adaptfs mount MOUNT into F (previous contents freed).
 * A workload that vanishes while it is read is left out. Returns 0, or -errno when MOUNT is
 * not a readable adaptfs mount (no host/stat): then F is empty. */
int sample_read(const char *mount, struct frame *f);
void frame_free(struct frame *f);
