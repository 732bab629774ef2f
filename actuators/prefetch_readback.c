/* The read-back of one prefetch trigger: its plan (built on the engine
 * thread) and its worker (a process tree of its own). See prefetch_readback.h. */
#include "prefetch_readback.h"
#include "prefetch_policy.h"
#include "strbuf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_process_madvise
#define SYS_process_madvise 440
#endif

#define PAGE 4096u
#define PM_SWAP (1ULL << 62)
#define MAX_VMAS 4096
#define PAGEMAP_BATCH 8192		/* entries read at once: 32 MiB of address space */
#define ROOM_STEP (32u << 20)		/* bytes reclaimed per write: others go on between */
#define SCRATCH_BYTES (256u << 10)	/* process_vm_readv's landing buffer */
#define RB_NICE 5

/* The plan. */

static int read_smaps(const char *proc_root, pid_t pid, struct swapped_range *out, size_t max)
{
	char path[PATH_MAX], buf[65536];
	_cleanup_fclose_ FILE *f = NULL;
	struct strbuf text = {0};
	size_t got;
	int r;

	snprintf(path, sizeof path, "%s/%d/smaps", proc_root, pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while ((got = fread(buf, 1, sizeof buf, f)) > 0)
		strbuf_append(&text, buf, got);
	r = text.buf ? smaps_swapped(text.buf, out, max) : 0;
	strbuf_free(&text);
	return r;
}

uint64_t readback_swap_bytes(const char *proc_root, pid_t pid)
{
	_cleanup_free_ struct swapped_range *ranges = xcalloc(MAX_VMAS, sizeof *ranges);
	uint64_t sum = 0;
	int n = read_smaps(proc_root, pid, ranges, MAX_VMAS);

	for (int i = 0; i < n; i++)
		sum += ranges[i].swap_bytes;
	return sum;
}

static bool plan_add(struct rb_plan *p, pid_t pid, bool map, uintptr_t start, uint64_t len)
{
	if (p->n == RB_MAX_RUNS)
		return false;
	p->runs[p->n++] = (struct rb_run){ .pid = pid, .map = map, .start = start, .len = len };
	p->bytes += len;
	return true;
}

/* The swapped pages of one mapping, as runs, up to *left bytes. Returns the
 * bytes the page map shows in swap (0: it shows none, as for shmem on
 * kernels whose page map does not report a shared page's swap entry). */
static uint64_t plan_mapping(struct rb_plan *p, int pagemap, pid_t pid,
			     const struct swapped_range *r, uint64_t *left)
{
	static uint64_t pm[PAGEMAP_BATCH];
	uintptr_t run_start = 0;
	uint64_t run_len = 0, found = 0;

	for (uintptr_t va = r->start; va < r->end && *left;) {
		size_t n = (r->end - va) / PAGE;
		ssize_t got;

		if (n > PAGEMAP_BATCH)
			n = PAGEMAP_BATCH;
		got = pread(pagemap, pm, n * sizeof *pm, (off_t)(va / PAGE * sizeof *pm));
		if (got <= 0)
			break;
		n = (size_t)got / sizeof *pm;
		for (size_t i = 0; i < n && *left; i++, va += PAGE) {
			if (!(pm[i] & PM_SWAP))
				continue;
			found += PAGE;
			*left -= PAGE < *left ? PAGE : *left;
			if (run_len && run_start + run_len == va) {
				run_len += PAGE;
				continue;
			}
			if (run_len && !plan_add(p, pid, true, run_start, run_len))
				return found;
			run_start = va;
			run_len = PAGE;
		}
		if ((size_t)got / sizeof *pm < n)
			break;
	}
	if (run_len)
		plan_add(p, pid, true, run_start, run_len);
	return found;
}

uint64_t readback_plan_process(struct rb_plan *p, const char *proc_root, pid_t pid, uint64_t budget)
{
	_cleanup_free_ struct swapped_range *ranges = xcalloc(MAX_VMAS, sizeof *ranges);
	char path[PATH_MAX];
	_cleanup_close_ int pagemap = -1;
	uint64_t before = p->bytes, left = budget;
	int n = read_smaps(proc_root, pid, ranges, MAX_VMAS);

	snprintf(path, sizeof path, "%s/%d/pagemap", proc_root, pid);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < n && left; i++) {
		uint64_t in_map = pagemap >= 0 ? plan_mapping(p, pagemap, pid, &ranges[i], &left) : 0;

		/* smaps counts swap the page map does not show (shmem): ask the
		 * whole mapping back, from its start, without mapping it (reading
		 * a hole of shmem would allocate it). */
		if (!in_map) {
			uint64_t len = ranges[i].end - ranges[i].start, take = ranges[i].swap_bytes;

			if (take > left) {
				len = (uint64_t)((double)len * (double)left / (double)take) & ~(uint64_t)(PAGE - 1);
				take = left;
			}
			if (!len || !plan_add(p, pid, false, ranges[i].start, len))
				break;
			left -= take;	/* against the budget it costs its swap */
		}
	}
	return p->bytes - before;
}

void readback_plan_truncate(struct rb_plan *p, uint64_t bytes)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < p->n && sum < bytes; i++) {
		if (sum + p->runs[i].len > bytes)
			p->runs[i].len = (bytes - sum + PAGE - 1) & ~(uint64_t)(PAGE - 1);
		sum += p->runs[i].len;
	}
	p->n = i;
	p->bytes = sum < bytes ? sum : bytes;
}

void readback_plan_join(struct rb_plan *p, const char *proc_root, const char *cgroup_root, bool v2,
			pid_t pid)
{
	char path[PATH_MAX], buf[4096];

	p->n_join = 0;
	snprintf(path, sizeof path, "%s/%d/cgroup", proc_root, pid);
	if (read_file(path, buf, sizeof buf) <= 0)
		return;
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line && p->n_join < RB_MAX_JOIN;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ctrls = strchr(line, ':'), *rel = ctrls ? strchr(ctrls + 1, ':') : NULL;
		char *dst = p->join[p->n_join];

		if (!rel)
			continue;
		*ctrls++ = '\0';
		*rel++ = '\0';
		if (v2 ? strcmp(line, "0") != 0
		       : !(strcmp(ctrls, "cpu") == 0 || strcmp(ctrls, "cpuacct") == 0 ||
			   strcmp(ctrls, "cpu,cpuacct") == 0 || strcmp(ctrls, "cpuacct,cpu") == 0))
			continue;
		if (path_printf(dst, PATH_MAX, "%s%s%s%s/cgroup.procs", cgroup_root, v2 ? "" : "/",
				v2 ? "" : ctrls, rel) == 0 && access(dst, W_OK) == 0)
			p->n_join++;
	}
}

/* The worker. */

/* The next chunk of the plan from run and off: runs of one process and one
 * kind, at most RB_CHUNK_BYTES and IOV_MAX ranges. Returns the ranges. */
static size_t next_chunk(const struct rb_plan *p, size_t *run, uint64_t *off, struct iovec *iov,
			 pid_t *pid, bool *map)
{
	size_t n = 0;
	uint64_t bytes = 0;

	while (*run < p->n && n < IOV_MAX && bytes < RB_CHUNK_BYTES) {
		const struct rb_run *r = &p->runs[*run];
		uint64_t take = r->len - *off;

		if (n && (r->pid != *pid || r->map != *map))
			break;
		*pid = r->pid;
		*map = r->map;
		if (take > RB_CHUNK_BYTES - bytes)
			take = RB_CHUNK_BYTES - bytes;
		iov[n++] = (struct iovec){ (void *)(r->start + *off), take };
		bytes += take;
		*off += take;
		if (*off == r->len) {
			(*run)++;
			*off = 0;
		}
	}
	return n;
}

struct chunk {
	struct iovec iov[IOV_MAX];
	size_t n;
	pid_t pid;
	bool map;
};

/* This reader's next chunk: every readers-th of the plan, from index k. */
static bool mine(const struct rb_plan *p, size_t *run, uint64_t *off, size_t *index, size_t k,
		 size_t readers, struct chunk *c)
{
	for (;;) {
		c->n = next_chunk(p, run, off, c->iov, &c->pid, &c->map);
		if (!c->n)
			return false;
		if ((*index)++ % readers == k)
			return true;
	}
}

static uint64_t chunk_bytes(const struct chunk *c)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < c->n; i++)
		sum += c->iov[i].iov_len;
	return sum;
}

/* Under a full ancestor, wait until the chunk fits in the room made so far.
 * Pages read ahead of the room fill the ancestor, and its reclaim then takes
 * from every child: the pages just read back too. */
static void wait_for_room(const struct rb_plan *p, struct rb_progress *pr, uint64_t bytes)
{
	const struct timespec tick = { 0, 1000 * 1000 };

	for (;;) {
		uint64_t asked = atomic_load(&pr->asked);

		if (!p->n_room || atomic_load(&pr->room_made) ||
		    asked + bytes <= p->room_free + atomic_load(&pr->room)) {
			if (atomic_compare_exchange_weak(&pr->asked, &asked, asked + bytes))
				return;
			continue;
		}
		nanosleep(&tick, NULL);
	}
}

/* Start the chunk's reads (process_madvise stops at the first range that
 * fails: then the rest one by one). */
static void ask(const struct rb_plan *p, struct rb_progress *pr, const struct chunk *c)
{
	int pidfd;

	wait_for_room(p, pr, chunk_bytes(c));
	pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);

	if (pidfd < 0)
		return;
	if (syscall(SYS_process_madvise, pidfd, c->iov, c->n, MADV_WILLNEED, 0) < 0)
		for (size_t i = 0; i < c->n; i++)
			syscall(SYS_process_madvise, pidfd, c->iov + i, 1, MADV_WILLNEED, 0);
	close(pidfd);
}

/* Map the chunk into its owner by reading it: each page waits for its read
 * and is faulted in on the owner's behalf. Returns the bytes read; a range
 * that fails (unmapped since) is skipped. */
static uint64_t map_in(const struct chunk *c, char *scratch)
{
	struct iovec remote[IOV_MAX];
	uint64_t done = 0;
	size_t i = 0;
	uint64_t off = 0;

	while (i < c->n) {
		struct iovec local = { scratch, SCRATCH_BYTES };
		size_t n = c->n - i;
		uint64_t want = 0;
		ssize_t r;

		memcpy(remote, c->iov + i, n * sizeof *remote);
		remote[0].iov_base = (char *)remote[0].iov_base + off;
		remote[0].iov_len -= off;
		for (size_t k = 0; k < n && want < SCRATCH_BYTES; k++)
			want += remote[k].iov_len;
		if (want > SCRATCH_BYTES)
			want = SCRATCH_BYTES;
		r = process_vm_readv(c->pid, &local, 1, remote, n, 0);
		if (r < 0) {
			if (errno == ESRCH)
				break;
			r = 0;
		}
		done += (uint64_t)r;
		/* advance by what was read */
		for (uint64_t adv = (uint64_t)r; adv && i < c->n;) {
			uint64_t rest = c->iov[i].iov_len - off;

			if (adv < rest) {
				off += adv;
				adv = 0;
			} else {
				adv -= rest;
				i++;
				off = 0;
			}
		}
		if ((uint64_t)r < want && i < c->n) {	/* stopped at a bad page: skip its range */
			i++;
			off = 0;
		}
	}
	return done;
}

static void reader(const struct rb_plan *p, size_t k, size_t readers, struct rb_progress *pr,
		   uint64_t started)
{
	static struct chunk a, b;
	struct chunk *cur = &a, *next = &b;
	size_t run = 0, index = 0;
	uint64_t off = 0;
	char *scratch = mmap(NULL, SCRATCH_BYTES, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool have = mine(p, &run, &off, &index, k, readers, cur);

	if (scratch == MAP_FAILED)
		return;
	if (have)
		ask(p, pr, cur);
	while (have) {
		bool more = mine(p, &run, &off, &index, k, readers, next);
		struct chunk *t;

		if (more)
			ask(p, pr, next);	/* its reads go out while this one is mapped */
		atomic_fetch_add(&pr->read, cur->map ? map_in(cur, scratch) : chunk_bytes(cur));
		if (!atomic_load(&pr->first_usec))
			atomic_store(&pr->first_usec, now_usec() - started + 1);
		t = cur;
		cur = next;
		next = t;
		have = more;
	}
}

static int write_str(const char *path, const char *s)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return write(fd, s, strlen(s)) < 0 ? -errno : 0;
}

static uint64_t cgroup_u64(const char *dir, const char *file)
{
	char path[PATH_MAX + 32], buf[64];
	unsigned long long v = 0;

	if (path_printf(path, sizeof path, "%s/%s", dir, file) == 0 && read_file(path, buf, sizeof buf) > 0)
		sscanf(buf, "%llu", &v);
	return v;
}

/* Take room->bytes from an idle cgroup, ROOM_STEP at a time. v2 asks
 * memory.reclaim; v1 has no such file: the limit is lowered below the usage
 * (the kernel reclaims before it takes a limit) and put back at once. */
static void make_room(const struct rb_room *room, struct rb_progress *pr)
{
	char path[PATH_MAX + 32], v[32];
	uint64_t left = room->bytes;

	while (left) {
		uint64_t step = left < ROOM_STEP ? left : ROOM_STEP;
		uint64_t before = cgroup_u64(room->dir, room->v2 ? "memory.current" : "memory.usage_in_bytes");
		uint64_t after;
		int r;

		if (room->v2) {
			snprintf(v, sizeof v, "%lu", step);
			path_printf(path, sizeof path, "%s/memory.reclaim", room->dir);
			r = write_str(path, v);
		} else {
			if (before <= step)
				break;
			path_printf(path, sizeof path, "%s/memory.limit_in_bytes", room->dir);
			snprintf(v, sizeof v, "%lu", before - step);
			r = write_str(path, v);
			snprintf(v, sizeof v, "%lu", room->limit);
			write_str(path, v);
		}
		after = cgroup_u64(room->dir, room->v2 ? "memory.current" : "memory.usage_in_bytes");
		if (after < before)
			atomic_fetch_add(&pr->room, before - after);
		if (r < 0 || after >= before)
			break;	/* nothing more to take */
		left -= before - after < left ? before - after : left;
	}
}

static void worker(const struct rb_plan *p, struct rb_progress *pr, uint64_t started, size_t readers)
{
	for (size_t i = 0; i < p->n_join; i++)
		write_str(p->join[i], "0");
	/* Inside the container, below its own threads: the request that paged
	 * in goes first, the read-back takes the CPU it leaves. */
	setpriority(PRIO_PROCESS, 0, RB_NICE);
	for (size_t k = 0; k < readers; k++) {
		pid_t pid = fork();

		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			reader(p, k, readers, pr, started);
			_exit(0);
		}
	}
	for (size_t i = 0; i < p->n_room; i++)
		make_room(&p->room[i], pr);
	atomic_store(&pr->room_made, true);	/* what it could not make, it will not */
	while (wait(NULL) > 0 || errno == EINTR)
		;
}

int readback_start(const struct rb_plan *p, struct rb_job *job)
{
	struct rb_progress *pr = mmap(NULL, sizeof *pr, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN) - 1;	/* one CPU left for the container itself */
	size_t readers = cpus < 1 ? 1 : cpus > RB_MAX_READERS ? RB_MAX_READERS : (size_t)cpus;
	uint64_t started = now_usec();
	pid_t parent = getpid(), pid;

	if (pr == MAP_FAILED)
		return -errno;
	/* The engine thread forks: from here to _exit the child runs only this
	 * code, which takes no lock another thread may have held (no malloc,
	 * no stdio streams: system calls, and formatting into buffers). */
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		munmap(pr, sizeof *pr);
		return r;
	}
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		setpgid(0, 0);	/* the engine stops it and its readers as one group */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == parent)
			worker(p, pr, started, readers);
		_exit(0);
	}
	setpgid(pid, pid);
	*job = (struct rb_job){ .pid = pid, .progress = pr, .started_usec = started, .n_room = p->n_room };
	memcpy_safe(job->room, p->room, p->n_room * sizeof *p->room);
	return 0;
}

bool readback_reap(struct rb_job *job, bool kill_first)
{
	if (!job->pid)
		return true;
	if (kill_first)
		kill(-job->pid, SIGKILL);
	if (waitpid(job->pid, NULL, kill_first ? 0 : WNOHANG) != job->pid)
		return false;
	if (kill_first)	/* its readers, now orphans of the group */
		kill(-job->pid, SIGKILL);
	/* A worker killed between lowering a v1 limit and putting it back. */
	for (size_t i = 0; i < job->n_room; i++) {
		char path[PATH_MAX + 32], v[32];

		if (job->room[i].v2 || cgroup_u64(job->room[i].dir, "memory.limit_in_bytes") == job->room[i].limit)
			continue;
		path_printf(path, sizeof path, "%s/memory.limit_in_bytes", job->room[i].dir);
		snprintf(v, sizeof v, "%lu", job->room[i].limit);
		write_str(path, v);
	}
	job->pid = 0;
	return true;
}
