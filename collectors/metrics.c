#include "metrics.h"

#include <stddef.h>

#define RATE(of, scale) .rate_of = (of), .rate_scale = (scale)
#define NORATE .rate_of = -1, .rate_scale = 0

const struct metric_def wl_metrics[M_WL_COUNT] = {
	[M_CPU_USAGE_PERCENT] = { "cpu", "usage_percent", FMT_DEC2, RATE(M_CPU_USAGE_USEC, 1e-4),
		"cpu_usage_percent", false, 1, "CPU use over the last interval, 100 = one CPU." },
	[M_CPU_USAGE_USEC] = { "cpu", "usage_usec", FMT_INT, NORATE,
		"cpu_usage_seconds", true, 1e-6, "CPU time used." },
	[M_CPU_USER_USEC] = { "cpu", "user_usec", FMT_INT, NORATE,
		"cpu_user_seconds", true, 1e-6, "CPU time used in user mode." },
	[M_CPU_SYSTEM_USEC] = { "cpu", "system_usec", FMT_INT, NORATE,
		"cpu_system_seconds", true, 1e-6, "CPU time used in kernel mode." },
	[M_IO_READ_BYTES] = { "io", "read_bytes", FMT_INT, NORATE,
		"io_read_bytes", true, 1, "Bytes read from block devices." },
	[M_IO_WRITE_BYTES] = { "io", "write_bytes", FMT_INT, NORATE,
		"io_write_bytes", true, 1, "Bytes written to block devices." },
	[M_IO_READ_OPS] = { "io", "read_ops", FMT_INT, NORATE,
		"io_read_ops", true, 1, "Block read requests." },
	[M_IO_WRITE_OPS] = { "io", "write_ops", FMT_INT, NORATE,
		"io_write_ops", true, 1, "Block write requests." },
	[M_IO_READ_BYTES_PER_SEC] = { "io", "read_bytes_per_sec", FMT_DEC2, RATE(M_IO_READ_BYTES, 1),
		NULL, false, 1, NULL },
	[M_IO_WRITE_BYTES_PER_SEC] = { "io", "write_bytes_per_sec", FMT_DEC2, RATE(M_IO_WRITE_BYTES, 1),
		NULL, false, 1, NULL },
	[M_IO_READ_OPS_PER_SEC] = { "io", "read_ops_per_sec", FMT_DEC2, RATE(M_IO_READ_OPS, 1),
		NULL, false, 1, NULL },
	[M_IO_WRITE_OPS_PER_SEC] = { "io", "write_ops_per_sec", FMT_DEC2, RATE(M_IO_WRITE_OPS, 1),
		NULL, false, 1, NULL },
	[M_IO_NET_RX_BYTES] = { "io", "net_rx_bytes", FMT_INT, NORATE,
		"net_rx_bytes", true, 1, "Bytes received on the workload's network interfaces." },
	[M_IO_NET_TX_BYTES] = { "io", "net_tx_bytes", FMT_INT, NORATE,
		"net_tx_bytes", true, 1, "Bytes sent on the workload's network interfaces." },
	[M_IO_NET_RX_PACKETS] = { "io", "net_rx_packets", FMT_INT, NORATE,
		"net_rx_packets", true, 1, "Packets received on the workload's network interfaces." },
	[M_IO_NET_TX_PACKETS] = { "io", "net_tx_packets", FMT_INT, NORATE,
		"net_tx_packets", true, 1, "Packets sent on the workload's network interfaces." },
	[M_IO_NET_RX_BYTES_PER_SEC] = { "io", "net_rx_bytes_per_sec", FMT_DEC2, RATE(M_IO_NET_RX_BYTES, 1),
		NULL, false, 1, NULL },
	[M_IO_NET_TX_BYTES_PER_SEC] = { "io", "net_tx_bytes_per_sec", FMT_DEC2, RATE(M_IO_NET_TX_BYTES, 1),
		NULL, false, 1, NULL },
	[M_IO_WAIT_PERCENT] = { "io", "wait_percent", FMT_DEC2, RATE(M_IO_DELAY_USEC, 1e-4),
		"io_wait_percent", false, 1, "Time blocked on block I/O over the last interval, 100 = one thread." },
	[M_IO_DELAY_USEC] = { NULL, "io_delay_usec", FMT_INT, NORATE, NULL, false, 1, NULL },
	[M_THREADS_TOTAL] = { "threads", "total", FMT_INT, NORATE,
		"threads", false, 1, "Threads in the workload." },
	[M_THREADS_SAMPLED] = { "threads", "sampled", FMT_INT, NORATE,
		"threads_sampled", false, 1, "Threads read at the sample; fewer than threads: running and sched_wait are estimates." },
	[M_THREADS_RUNNING] = { "threads", "running", FMT_INT, NORATE,
		"threads_running", false, 1, "Threads runnable (state R) at the sample." },
	[M_THREADS_PARALLELISM] = { "threads", "parallelism", FMT_DEC2, RATE(M_PARALLEL_USEC, 1e-6),
		"parallelism", false, 1, "CPU time per wall time over the last interval, 2 = two CPUs busy." },
	[M_PARALLEL_USEC] = { NULL, "parallel_usec", FMT_INT, NORATE, NULL, false, 1, NULL },
	[M_SCHED_WAIT_PERCENT] = { "sched_wait", "wait_percent", FMT_DEC2, RATE(M_SCHED_WAIT_USEC, 1e-4),
		"sched_wait_percent", false, 1, "Run-queue wait over the last interval, 100 = one thread waiting." },
	[M_SCHED_WAIT_USEC] = { "sched_wait", "wait_usec", FMT_INT, NORATE,
		"sched_wait_seconds", true, 1e-6, "Time the workload's threads waited on a run queue." },
	[M_SCHED_PRESSURE_SOME_AVG10] = { "sched_wait", "pressure_some_avg10", FMT_DEC2, NORATE,
		"cpu_pressure_some_avg10", false, 1, "PSI cpu some avg10 of the workload's cgroup." },
	[M_MAJFLT_TOTAL] = { "major_faults", "total", FMT_INT, NORATE,
		"major_faults", true, 1, "Major page faults (page-ins from disk or swap)." },
	[M_MAJFLT_PER_SEC] = { "major_faults", "per_sec", FMT_DEC2, RATE(M_MAJFLT_TOTAL, 1),
		NULL, false, 1, NULL },
	[M_MAJFLT_GUEST_TOTAL] = { "major_faults", "guest_total", FMT_INT, NORATE,
		"guest_major_faults", true, 1, "Major faults inside the guest (virtio-balloon statistics)." },
	[M_MEM_CURRENT_BYTES] = { "memory", "current_bytes", FMT_INT, NORATE,
		"memory_current_bytes", false, 1, "Memory the workload uses now." },
	[M_MEM_LIMIT_BYTES] = { "memory", "limit_bytes", FMT_INT, NORATE,
		"memory_limit_bytes", false, 1, "Memory limit of the workload, where one is set." },
	/* file "mode": shown in stat only (mode itself is a control file) */
	[M_MODE_SWITCHES] = { "mode", "switches", FMT_INT, NORATE,
		"mode_switches", true, 1, "Switches of a managed workload between container and VM." },
	[M_MODE_DOWNTIME_USEC] = { "mode", "downtime_usec", FMT_INT, NORATE,
		"mode_downtime_seconds", false, 1e-6, "Downtime of the last switch between container and VM." },
};

const struct metric_def host_metrics[H_COUNT] = {
	[H_CORES] = { "cores", "online", FMT_INT, NORATE,
		"host_cores", false, 1, "Online CPUs." },
	[H_CPU_USAGE_PERCENT] = { "cpu", "usage_percent", FMT_DEC2, RATE(H_CPU_USAGE_USEC, 1e-4),
		"host_cpu_usage_percent", false, 1, "Host CPU use over the last interval, 100 = one CPU." },
	[H_CPU_USAGE_USEC] = { "cpu", "usage_usec", FMT_INT, NORATE,
		"host_cpu_usage_seconds", true, 1e-6, "Host CPU time used (not idle, not iowait)." },
	[H_CPU_USER_USEC] = { "cpu", "user_usec", FMT_INT, NORATE,
		"host_cpu_user_seconds", true, 1e-6, "Host CPU time in user mode (incl. nice)." },
	[H_CPU_SYSTEM_USEC] = { "cpu", "system_usec", FMT_INT, NORATE,
		"host_cpu_system_seconds", true, 1e-6, "Host CPU time in kernel mode (incl. irq)." },
	[H_CPU_IOWAIT_USEC] = { "cpu", "iowait_usec", FMT_INT, NORATE,
		"host_cpu_iowait_seconds", true, 1e-6, "Host CPU time idle waiting for I/O." },
	[H_CPU_STEAL_USEC] = { "cpu", "steal_usec", FMT_INT, NORATE,
		"host_cpu_steal_seconds", true, 1e-6, "Host CPU time stolen by the hypervisor." },
	[H_LOAD1] = { "load", "load1", FMT_DEC2, NORATE, "host_load1", false, 1, "1-minute load average." },
	[H_LOAD5] = { "load", "load5", FMT_DEC2, NORATE, "host_load5", false, 1, "5-minute load average." },
	[H_LOAD15] = { "load", "load15", FMT_DEC2, NORATE, "host_load15", false, 1, "15-minute load average." },
	[H_LOAD_RUNNING] = { "load", "running", FMT_INT, NORATE,
		"host_threads_running", false, 1, "Runnable threads on the host." },
	[H_LOAD_THREADS] = { "load", "threads", FMT_INT, NORATE,
		"host_threads", false, 1, "Threads on the host." },
	[H_MEM_TOTAL_BYTES] = { "memory", "total_bytes", FMT_INT, NORATE,
		"host_memory_total_bytes", false, 1, "Physical memory." },
	[H_MEM_FREE_BYTES] = { "memory", "free_bytes", FMT_INT, NORATE,
		"host_memory_free_bytes", false, 1, "Unused memory." },
	[H_MEM_AVAILABLE_BYTES] = { "memory", "available_bytes", FMT_INT, NORATE,
		"host_memory_available_bytes", false, 1, "Memory available without swapping." },
	[H_MEM_CACHED_BYTES] = { "memory", "cached_bytes", FMT_INT, NORATE,
		"host_memory_cached_bytes", false, 1, "Page cache." },
	[H_MEM_SWAP_TOTAL_BYTES] = { "memory", "swap_total_bytes", FMT_INT, NORATE,
		"host_swap_total_bytes", false, 1, "Swap space." },
	[H_MEM_SWAP_FREE_BYTES] = { "memory", "swap_free_bytes", FMT_INT, NORATE,
		"host_swap_free_bytes", false, 1, "Unused swap space." },
	[H_PSI_CPU_SOME_AVG10] = { "pressure", "cpu_some_avg10", FMT_DEC2, NORATE,
		"host_pressure_cpu_some_avg10", false, 1, "PSI cpu some avg10." },
	[H_PSI_IO_SOME_AVG10] = { "pressure", "io_some_avg10", FMT_DEC2, NORATE,
		"host_pressure_io_some_avg10", false, 1, "PSI io some avg10." },
	[H_PSI_IO_FULL_AVG10] = { "pressure", "io_full_avg10", FMT_DEC2, NORATE,
		"host_pressure_io_full_avg10", false, 1, "PSI io full avg10." },
	[H_PSI_MEMORY_SOME_AVG10] = { "pressure", "memory_some_avg10", FMT_DEC2, NORATE,
		"host_pressure_memory_some_avg10", false, 1, "PSI memory some avg10." },
	[H_PSI_MEMORY_FULL_AVG10] = { "pressure", "memory_full_avg10", FMT_DEC2, NORATE,
		"host_pressure_memory_full_avg10", false, 1, "PSI memory full avg10." },
};

void metrics_derive_rates(const struct metric_def *defs, int n,
			  const struct metric_set *prev, struct metric_set *cur, uint64_t dt_usec)
{
	if (!prev || dt_usec == 0)
		return;
	for (int m = 0; m < n; m++) {
		int c = defs[m].rate_of;

		/* A rate the backend gave itself (over a span it knows better) stands. */
		if (c < 0 || metric_has(cur, m) || !metric_has(prev, c) || !metric_has(cur, c) ||
		    cur->v[c] < prev->v[c])
			continue;
		metric_set(cur, m, (cur->v[c] - prev->v[c]) * 1e6 / (double)dt_usec * defs[m].rate_scale);
	}
}
