/* Per-thread figures from /proc: thread count and states, run-queue wait,
 * block I/O delay, and network counters seen from a workload's namespace. */
#pragma once

#include "cgroup.h"
#include "keptdir.h"
#include "metrics.h"

#include <stdbool.h>
#include <sys/types.h>

struct tid_value {
	pid_t tid;
	uint64_t wait_ns;
	uint64_t blkio_ticks;
	bool running;		/* state R when last read */
	struct kept_dir dir;	/* /proc/TID/task/TID, held from sweep to sweep */
};

/* Threads come and go; their past wait must not vanish from a counter that
 * promises to be monotonic. The carry remembers each thread's last figures
 * and banks those of threads that exited. Its /proc/TID directories stay
 * open until the thread is gone; task_carry_free closes them. */
struct task_carry {
	struct tid_value *v;
	size_t n;
	uint64_t dead_wait_ns;
	uint64_t dead_blkio_ticks;
	pid_t cursor;		/* the first tid of the next sample's window */
	/* Block I/O bytes: a process reaped outside the workload takes its
	 * counts along; the offsets keep the sums from going backwards. */
	uint64_t io_last[2], io_offset[2];
};
void task_carry_free(struct task_carry *c);

/* A sample reads two files of each thread, 20-30 us a thread here: it reads
 * a workload's threads in turn by tid for budget_usec (at least
 * PROC_TASK_MIN_READS of them), and the threads left count with the figures
 * of their last turn, so that thousands of threads do not stretch the
 * interval. */
#define PROC_TASK_BUDGET_USEC 20000
#define PROC_TASK_MIN_READS 64

/* threads.total/sampled/running, sched_wait.wait_usec and (with delayacct)
 * io delay. */
void proc_sample_tasks(const char *proc_root, const struct pid_list *tids, bool delayacct,
		       uint64_t budget_usec, struct task_carry *carry, struct metric_set *m);

/* io read_bytes/write_bytes summed over the processes' /proc/PID/io (bytes
 * they caused to be read from or sent to storage, direct I/O included). The
 * counts of reaped children move to their parent, so the sum holds. */
void proc_sample_io(const char *proc_root, const struct pid_list *pids, struct task_carry *carry,
		    struct metric_set *m);

/* net rx/tx of the first process in pids that has its own network namespace
 * (a workload sharing the host's namespace has no net figures of its own). */
void proc_sample_net(const char *proc_root, const struct pid_list *pids, struct task_carry *carry,
		     ino_t host_netns, struct metric_set *m);

ino_t proc_netns_inode(const char *proc_root, pid_t pid);
/* No such process, or a zombie (a daemonized QEMU or LXC monitor is reaped
 * by PID 1, which may take its time): it no longer runs. */
bool proc_gone(const char *proc_root, pid_t pid);
/* pid's start time (clock ticks after boot), 0 if it is gone or a zombie:
 * with the pid, it names one process for good. */
uint64_t proc_start_time(const char *proc_root, pid_t pid);
bool proc_delayacct_enabled(const char *proc_root);
