#include "proc.h"
#include "parse.h"
#include "util.h"

#include <limits.h>
#include <sys/stat.h>

/* A process's file from the directory held for its main thread,
 * /proc/PID/task/PID: its /proc/PID/io sums every thread's. */
#define OF_PROCESS(file) "../../" file

static int cmp_tid(const void *a, const void *b)
{
	pid_t x = ((const struct tid_value *)a)->tid, y = ((const struct tid_value *)b)->tid;

	return (x > y) - (x < y);
}

/* The last sweep's entry of tid (entries sorted by tid), or NULL. */
static struct tid_value *carried(const struct task_carry *c, pid_t tid)
{
	struct tid_value key = { .tid = tid };

	return c->n ? bsearch(&key, c->v, c->n, sizeof *c->v, cmp_tid) : NULL;
}

/* The /proc/TID directory held for tid since the last sweep, handed over. */
static struct kept_dir take_dir(struct task_carry *c, pid_t tid)
{
	struct tid_value *o = carried(c, tid);
	struct kept_dir d = KEPT_DIR_INIT;

	if (o) {
		d = o->dir;
		o->dir = KEPT_DIR_INIT;
	}
	return d;
}

static void close_dirs(struct tid_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kept_dir_close(&v[i].dir);
}

void task_carry_free(struct task_carry *c)
{
	close_dirs(c->v, c->n);
	free(c->v);
	*c = (struct task_carry){0};
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

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/* tids sorted, each once (racing readers of tasks files can list a thread
 * twice); returns how many. */
static size_t unique_tids(const struct pid_list *tids, pid_t *out)
{
	size_t n = 0;

	memcpy_safe(out, tids->v, tids->n * sizeof *out);
	qsort_safe(out, tids->n, sizeof *out, cmp_pid);
	for (size_t i = 0; i < tids->n; i++)
		if (n == 0 || out[n - 1] != out[i])
			out[n++] = out[i];
	return n;
}

/* Read one thread's figures into *v; false if it is gone. Its directory is
 * taken from the carry or opened: the thread's own, /proc/TID/task/TID, as
 * /proc/TID/stat sums the whole thread group (a walk over every thread, so
 * reading each thread's would cost O(threads^2) a sample). */
static bool read_task(const char *proc_root, pid_t tid, struct task_carry *carry,
		      struct tid_value *v)
{
	char path[PATH_MAX], buf[1024];
	struct kept_dir dir = take_dir(carry, tid);
	struct proc_stat ps;
	uint64_t run_ns, wait_ns;

	snprintf(path, sizeof path, "%s/%d/task/%d", proc_root, tid, tid);
	if (kept_dir_read(&dir, path, "stat", buf, sizeof buf) < 0 ||
	    proc_stat_parse(buf, &ps) < 0) {
		kept_dir_close(&dir);
		return false;	/* exited between listing and reading */
	}
	if (kept_dir_read(&dir, path, "schedstat", buf, sizeof buf) < 0 ||
	    schedstat_parse(buf, &run_ns, &wait_ns) < 0)
		wait_ns = 0;
	*v = (struct tid_value){ tid, wait_ns, ps.have_blkio ? ps.blkio_ticks : 0, ps.state == 'R',
				 dir };
	return true;
}

void proc_sample_tasks(const char *proc_root, const struct pid_list *tids, bool delayacct,
		       uint64_t budget_usec, struct task_carry *carry, struct metric_set *m)
{
	pid_t *ids = xcalloc(tids->n, sizeof *ids);
	size_t n = unique_tids(tids, ids), first = 0, j, k = 0, sampled = 0;
	struct tid_value *cur = xcalloc(n, sizeof *cur);	/* by index in ids; tid 0: none */
	uint64_t wait = 0, blkio = 0, running = 0, deadline = now_usec() + budget_usec;

	/* Read in turn from the cursor on (wrapping) while the budget lasts. */
	while (first < n && ids[first] < carry->cursor)
		first++;
	if (first == n)
		first = 0;
	for (j = 0; j < n; j++) {
		size_t i = (first + j) % n;

		if (j >= PROC_TASK_MIN_READS && j % 16 == 0 && now_usec() >= deadline)
			break;
		sampled += read_task(proc_root, ids[i], carry, &cur[i]);
	}
	carry->cursor = j < n ? ids[(first + j) % n] : 0;
	for (size_t left = j; left < n; left++) {
		size_t i = (first + left) % n;
		struct tid_value *o = carried(carry, ids[i]);

		/* its figures of its last turn; a new thread counts from its first */
		if (o) {
			cur[i] = *o;
			o->dir = KEPT_DIR_INIT;
		}
	}
	free(ids);
	for (size_t i = 0; i < n; i++)
		if (cur[i].tid)
			cur[k++] = cur[i];
	carry_bank_exited(carry, cur, k);
	for (size_t i = 0; i < k; i++) {
		wait += cur[i].wait_ns;
		blkio += cur[i].blkio_ticks;
		running += cur[i].running;
	}
	close_dirs(carry->v, carry->n);	/* exited threads' */
	free(carry->v);
	carry->v = cur;
	carry->n = k;

	/* listed, less those that exited before they could be read */
	metric_set(m, M_THREADS_TOTAL, (double)(n - (j - sampled)));
	metric_set(m, M_THREADS_SAMPLED, (double)sampled);
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
		struct tid_value *t = carried(carry, pids->v[i]);
		struct kept_dir own = KEPT_DIR_INIT, *dir = t ? &t->dir : &own;
		uint64_t v[2];
		ssize_t r;

		snprintf(path, sizeof path, "%s/%d/task/%d", proc_root, pids->v[i], pids->v[i]);
		r = kept_dir_read(dir, path, OF_PROCESS("io"), buf, sizeof buf);
		kept_dir_close(&own);
		if (r < 0 || kv_get_u64(buf, keys[0], &v[0]) < 0 || kv_get_u64(buf, keys[1], &v[1]) < 0)
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

void proc_sample_net(const char *proc_root, const struct pid_list *pids, struct task_carry *carry,
		     ino_t host_netns, struct metric_set *m)
{
	for (size_t i = 0; i < pids->n; i++) {
		char path[PATH_MAX], buf[16384];
		struct tid_value *t = carried(carry, pids->v[i]);
		struct kept_dir own = KEPT_DIR_INIT, *dir = t ? &t->dir : &own;
		struct stat ns;
		uint64_t rx, tx;
		ssize_t r;
		int fd;

		snprintf(path, sizeof path, "%s/%d/task/%d", proc_root, pids->v[i], pids->v[i]);
		if (kept_dir_stat(dir, path, OF_PROCESS("ns/net"), &ns) < 0) {
			kept_dir_close(&own);
			continue;
		}
		if (ns.st_ino == host_netns) {
			kept_dir_close(&own);
			return;
		}
		/* One line per device: a long list takes more than one read. */
		fd = kept_dir_fd(dir, path, false);
		r = fd < 0 ? fd : read_file_at(fd, OF_PROCESS("net/dev"), buf, sizeof buf);
		kept_dir_done(dir, fd);
		kept_dir_close(&own);
		if (r < 0 || netdev_parse(buf, &rx, &tx) < 0)
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

uint64_t proc_start_time(const char *proc_root, pid_t pid)
{
	char path[PATH_MAX], buf[1024];
	struct proc_stat ps;

	snprintf(path, sizeof path, "%s/%d/stat", proc_root, pid);
	if (pid <= 0 || read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0 ||
	    ps.state == 'Z' || ps.state == 'X')
		return 0;
	return ps.starttime;
}

bool proc_delayacct_enabled(const char *proc_root)
{
	char path[PATH_MAX], buf[16];

	snprintf(path, sizeof path, "%s/sys/kernel/task_delayacct", proc_root);
	return read_file(path, buf, sizeof buf) > 0 && buf[0] == '1';
}
