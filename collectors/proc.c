#include "proc.h"
#include "parse.h"
#include "util.h"

#include <limits.h>
#include <sys/stat.h>

void task_carry_free(struct task_carry *c)
{
	free(c->v);
	*c = (struct task_carry){0};
}

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = ((const struct tid_value *)a)->tid, y = ((const struct tid_value *)b)->tid;

	return (x > y) - (x < y);
}

/* Bank the figures of threads in old that are gone (or whose tid was reused,
 * seen as a counter going backwards) from cur. Both sorted by tid. */
static void carry_bank_exited(struct task_carry *c, const struct tid_value *cur, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < c->n; i++) {
		const struct tid_value *o = &c->v[i];

		while (j < n && cur[j].tid < o->tid)
			j++;
		if (j < n && cur[j].tid == o->tid && cur[j].wait_ns >= o->wait_ns &&
		    cur[j].blkio_ticks >= o->blkio_ticks)
			continue;
		c->dead_wait_ns += o->wait_ns;
		c->dead_blkio_ticks += o->blkio_ticks;
	}
}

void proc_sample_tasks(const char *proc_root, const struct pid_list *tids, bool delayacct,
		       struct task_carry *carry, struct metric_set *m)
{
	struct tid_value *cur = xcalloc(tids->n, sizeof *cur);
	uint64_t wait = 0, blkio = 0, running = 0;
	size_t n = 0;

	for (size_t i = 0; i < tids->n; i++) {
		char path[PATH_MAX], buf[1024];
		struct proc_stat ps;
		uint64_t run_ns, wait_ns;

		snprintf(path, sizeof path, "%s/%d/stat", proc_root, tids->v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0)
			continue;	/* exited between listing and reading */
		snprintf(path, sizeof path, "%s/%d/schedstat", proc_root, tids->v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || schedstat_parse(buf, &run_ns, &wait_ns) < 0)
			wait_ns = 0;
		cur[n++] = (struct tid_value){ tids->v[i], wait_ns, ps.have_blkio ? ps.blkio_ticks : 0 };
		running += ps.state == 'R';
	}
	qsort(cur, n, sizeof *cur, cmp_tid);
	/* A thread listed twice (racing readers of tasks files) counts once. */
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || cur[u - 1].tid != cur[i].tid)
			cur[u++] = cur[i];
	n = u;
	carry_bank_exited(carry, cur, n);
	for (size_t i = 0; i < n; i++) {
		wait += cur[i].wait_ns;
		blkio += cur[i].blkio_ticks;
	}
	free(carry->v);
	carry->v = cur;
	carry->n = n;

	metric_set(m, M_THREADS_TOTAL, (double)n);
	metric_set(m, M_THREADS_RUNNING, (double)running);
	metric_set(m, M_SCHED_WAIT_USEC, (double)((wait + carry->dead_wait_ns) / 1000));
	if (delayacct)
		metric_set(m, M_IO_DELAY_USEC, (double)(blkio + carry->dead_blkio_ticks) * 1e6 /
						   (double)sysconf(_SC_CLK_TCK));
}

void proc_sample_io(const char *proc_root, const struct pid_list *pids, struct task_carry *carry,
		    struct metric_set *m)
{
	static const char *const keys[2] = { "read_bytes:", "write_bytes:" };
	static const int metric[2] = { M_IO_READ_BYTES, M_IO_WRITE_BYTES };
	uint64_t sum[2] = { 0, 0 };
	bool any = pids->n == 0;	/* no process has done no I/O */

	for (size_t i = 0; i < pids->n; i++) {
		char path[PATH_MAX], buf[512];
		uint64_t v[2];

		snprintf(path, sizeof path, "%s/%d/io", proc_root, pids->v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || kv_get_u64(buf, keys[0], &v[0]) < 0 ||
		    kv_get_u64(buf, keys[1], &v[1]) < 0)
			continue;
		sum[0] += v[0];
		sum[1] += v[1];
		any = true;
	}
	if (!any)
		return;
	for (int k = 0; k < 2; k++) {
		if (sum[k] + carry->io_offset[k] < carry->io_last[k])
			carry->io_offset[k] = carry->io_last[k] - sum[k];
		carry->io_last[k] = sum[k] + carry->io_offset[k];
		metric_set(m, metric[k], (double)carry->io_last[k]);
	}
}

ino_t proc_netns_inode(const char *proc_root, pid_t pid)
{
	char path[PATH_MAX];
	struct stat st;

	if (pid > 0)
		snprintf(path, sizeof path, "%s/%d/ns/net", proc_root, pid);
	else
		snprintf(path, sizeof path, "%s/self/ns/net", proc_root);
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

void proc_sample_net(const char *proc_root, const struct pid_list *pids, ino_t host_netns,
		     struct metric_set *m)
{
	for (size_t i = 0; i < pids->n; i++) {
		char path[PATH_MAX], buf[16384];
		ino_t ns = proc_netns_inode(proc_root, pids->v[i]);
		uint64_t rx, tx;

		if (ns == 0)
			continue;
		if (ns == host_netns)
			return;
		snprintf(path, sizeof path, "%s/%d/net/dev", proc_root, pids->v[i]);
		if (read_file(path, buf, sizeof buf) < 0 || netdev_parse(buf, &rx, &tx) < 0)
			continue;
		metric_set(m, M_IO_NET_RX_BYTES, (double)rx);
		metric_set(m, M_IO_NET_TX_BYTES, (double)tx);
		return;
	}
}

bool proc_gone(const char *proc_root, pid_t pid)
{
	char path[PATH_MAX], buf[1024];
	struct proc_stat ps;

	snprintf(path, sizeof path, "%s/%d/stat", proc_root, pid);
	return pid <= 0 || read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0 ||
	       ps.state == 'Z' || ps.state == 'X';
}

bool proc_delayacct_enabled(const char *proc_root)
{
	char path[PATH_MAX], buf[16];

	snprintf(path, sizeof path, "%s/sys/kernel/task_delayacct", proc_root);
	return read_file(path, buf, sizeof buf) > 0 && buf[0] == '1';
}
