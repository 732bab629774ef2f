/* Bounded parsers for the kernel's text formats. Pure functions over a
 * NUL-terminated buffer: malformed or truncated input is -EINVAL, never a crash. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* Flat keyed ("key value" per line, cgroup style; also "Key: value kB" with sep ':'). */
int kv_get_u64(const char *text, const char *key, uint64_t *out);
int kv_get_double(const char *text, const char *key, double *out);
/* /proc/meminfo style: "Key:   123 kB" -> bytes. */
int meminfo_get_bytes(const char *text, const char *key, uint64_t *out);

struct proc_stat {
	char state;
	pid_t ppid;
	uint64_t majflt;
	uint64_t utime, stime;		/* clock ticks */
	uint64_t num_threads;
	uint64_t starttime;		/* clock ticks after boot */
	uint64_t blkio_ticks;		/* delayacct_blkio_ticks */
	int have_blkio;
};
/* /proc/PID/stat: fields counted after the LAST ')' (comm may hold anything). */
int proc_stat_parse(const char *text, struct proc_stat *out);

/* /proc/PID/schedstat: "run_ns wait_ns timeslices". */
int schedstat_parse(const char *text, uint64_t *run_ns, uint64_t *wait_ns);

struct blk_counters {
	uint64_t read_bytes, write_bytes, read_ops, write_ops;
};
/* v1 blkio.throttle.io_service_bytes / io_serviced: "MAJ:MIN Read N" lines; sums Read and Write. */
int blkio_v1_parse(const char *text, uint64_t *read, uint64_t *write);
/* v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ..." summed over devices. */
int iostat_v2_parse(const char *text, struct blk_counters *out);

/* /proc/PID/net/dev: rx and tx bytes summed over all interfaces but lo. */
int netdev_parse(const char *text, uint64_t *rx, uint64_t *tx);
/* The same for interface only (-ENOENT if it is not listed). */
int netdev_parse_iface(const char *text, const char *only, uint64_t *rx, uint64_t *tx);

/* PSI: line "some avg10=.. avg60=.. avg300=.. total=N" (which = "some" or "full"). */
int psi_parse(const char *text, const char *which, double *avg10, uint64_t *total_usec);

struct proc_cpu {
	uint64_t user, nice, system, idle, iowait, irq, softirq, steal;	/* ticks */
};
/* /proc/stat aggregate "cpu " line. */
int proc_cpu_parse(const char *text, struct proc_cpu *out);

struct loadavg {
	double load1, load5, load15;
	uint64_t running, threads;
};
int loadavg_parse(const char *text, struct loadavg *out);
