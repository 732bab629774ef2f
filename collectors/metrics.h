/* The metric catalogue: one table drives every flat-keyed file, the stat file
 * and metrics.prom, so a figure has one name, one unit and one definition. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum wl_metric {
	M_CPU_USAGE_PERCENT,
	M_CPU_USAGE_USEC,
	M_CPU_USER_USEC,
	M_CPU_SYSTEM_USEC,
	M_IO_READ_BYTES,
	M_IO_WRITE_BYTES,
	M_IO_READ_OPS,
	M_IO_WRITE_OPS,
	M_IO_READ_BYTES_PER_SEC,
	M_IO_WRITE_BYTES_PER_SEC,
	M_IO_READ_OPS_PER_SEC,
	M_IO_WRITE_OPS_PER_SEC,
	M_IO_NET_RX_BYTES,
	M_IO_NET_TX_BYTES,
	M_IO_NET_RX_PACKETS,
	M_IO_NET_TX_PACKETS,
	M_IO_NET_RX_BYTES_PER_SEC,
	M_IO_NET_TX_BYTES_PER_SEC,
	M_IO_WAIT_PERCENT,
	M_IO_DELAY_USEC,		/* hidden: the counter behind wait_percent */
	M_THREADS_TOTAL,
	M_THREADS_SAMPLED,
	M_THREADS_RUNNING,
	M_THREADS_PARALLELISM,
	M_PARALLEL_USEC,		/* hidden: CPU time of the threads that count for
					 * parallelism (a VM's vCPUs; all of a container) */
	M_SCHED_WAIT_PERCENT,
	M_SCHED_WAIT_USEC,
	M_SCHED_PRESSURE_SOME_AVG10,
	M_MAJFLT_TOTAL,
	M_MAJFLT_PER_SEC,
	M_MAJFLT_GUEST_TOTAL,
	M_MEM_CURRENT_BYTES,
	M_MEM_LIMIT_BYTES,
	M_MEM_OOM_KILLS,
	M_PSI_CPU_SOME_AVG10,		/* cgroup v2: the workload's own PSI */
	M_PSI_CPU_SOME_USEC,
	M_PSI_CPU_FULL_AVG10,
	M_PSI_CPU_FULL_USEC,
	M_PSI_IO_SOME_AVG10,
	M_PSI_IO_SOME_USEC,
	M_PSI_IO_FULL_AVG10,
	M_PSI_IO_FULL_USEC,
	M_PSI_MEMORY_SOME_AVG10,
	M_PSI_MEMORY_SOME_USEC,
	M_PSI_MEMORY_FULL_AVG10,
	M_PSI_MEMORY_FULL_USEC,
	M_MODE_SWITCHES,		/* managed workloads: switches between modes */
	M_MODE_DOWNTIME_USEC,		/* ... and the downtime of the last one, */
	M_MODE_QUIESCE_USEC,		/* split: old side quiesced, */
	M_MODE_HANDOVER_USEC,		/* address handed over, */
	M_MODE_READY_USEC,		/* new side ready */
	M_MODE_WARM,			/* 1: the last switch used a standby */
	M_STANDBY_READY,		/* the other mode's instance: 0 preparing, 1 ready */
	M_STANDBY_MEMORY_BYTES,		/* ... the memory and CPU it holds */
	M_STANDBY_CPU_USEC,
	M_WL_COUNT
};

enum host_metric {
	H_CORES,
	H_CPU_USAGE_PERCENT,
	H_CPU_USAGE_USEC,
	H_CPU_USER_USEC,
	H_CPU_SYSTEM_USEC,
	H_CPU_IOWAIT_USEC,
	H_CPU_STEAL_USEC,
	H_LOAD1,
	H_LOAD5,
	H_LOAD15,
	H_LOAD_RUNNING,
	H_LOAD_THREADS,
	H_MEM_TOTAL_BYTES,
	H_MEM_FREE_BYTES,
	H_MEM_AVAILABLE_BYTES,
	H_MEM_CACHED_BYTES,
	H_MEM_SWAP_TOTAL_BYTES,
	H_MEM_SWAP_FREE_BYTES,
	H_PSI_CPU_SOME_AVG10,
	H_PSI_IO_SOME_AVG10,
	H_PSI_IO_FULL_AVG10,
	H_PSI_MEMORY_SOME_AVG10,
	H_PSI_MEMORY_FULL_AVG10,
	H_COUNT
};

enum metric_fmt { FMT_INT, FMT_DEC2 };

struct metric_def {
	const char *file;	/* the flat-keyed file it appears in, NULL = hidden */
	const char *key;	/* key in that file; in stat: FILE_KEY */
	enum metric_fmt fmt;
	int rate_of;		/* >= 0: derived as rate of that counter ... */
	double rate_scale;	/* ... per second, times this */
	const char *prom;	/* metrics.prom name without adapt_ prefix, NULL = not exported */
	bool counter;		/* prom counter (gets _total) or gauge */
	double prom_scale;	/* e.g. usec -> seconds */
	const char *help;
};

/* A set of values; a metric not provided by the backend is absent, never 0. */
struct metric_set {
	uint64_t present;
	double v[64];
};

_Static_assert(M_WL_COUNT <= 64 && H_COUNT <= 64, "a metric_set holds 64 metrics");

extern const struct metric_def wl_metrics[M_WL_COUNT];
extern const struct metric_def host_metrics[H_COUNT];

static inline void metric_set(struct metric_set *s, int m, double v)
{
	s->v[m] = v;
	s->present |= 1ULL << m;
}

static inline void metric_add(struct metric_set *s, int m, double v)
{
	metric_set(s, m, ((s->present >> m) & 1 ? s->v[m] : 0) + v);
}

static inline bool metric_has(const struct metric_set *s, int m)
{
	return (s->present >> m) & 1;
}

/* Fill every rate metric of cur from the counter deltas against prev over
 * dt_usec. A counter that went backwards (counter reset) yields no rate; a
 * rate cur already has (its backend measured it) is kept. */
void metrics_derive_rates(const struct metric_def *defs, int n,
			  const struct metric_set *prev, struct metric_set *cur, uint64_t dt_usec);
