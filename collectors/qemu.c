/* The QEMU backend: every qemu-system-* process is a VM workload ("vm qemu",
 * or "vm libvirt" when libvirt started it). Figures come from the host side:
 * the process and its vCPU threads in /proc, QMP for block I/O and balloon
 * statistics, the tap devices for network. */
#include "qemu.h"
#include "backend.h"
#include "cpulist.h"
#include "log.h"
#include "managed_state.h"
#include "parse.h"
#include "proc.h"
#include "procwatch.h"
#include "qmp.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>

#define QMP_TIMEOUT_MS 50
#define QMP_RETRY_USEC (10 * USEC_PER_SEC)
/* a command line read whole (QEMU's run to a few KiB; libvirt's longer) */
#define CMDLINE_MAX 65536

/* One element of a QEMU option string ("a=1,b=x,,y": elements are split by
 * single commas, ",," is a literal comma) into out, unescaped and cut to
 * size. Returns where the next element starts, or NULL after the last. */
static const char *opt_next(const char *p, char *out, size_t size)
{
	size_t n = 0;

	for (; *p; p++) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++;	/* ",," is one comma */
		}
		if (n + 1 < size)
			out[n++] = *p;
	}
	out[n] = '\0';
	return *p ? p + 1 : NULL;
}

/* The first element of an option string, whole, or -ENAMETOOLONG (out "").
 * A cut name or QMP path could be another guest's. */
static int opt_first(const char *p, char *out, size_t size)
{
	char elem[4096];

	opt_next(p, elem, sizeof elem);
	return path_printf(out, size, "%s", elem);
}

/* Value of key=VALUE in an option string, copied to out. */
static int opt_get(const char *opts, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key);

	for (const char *p = opts; p;) {
		char elem[512];

		p = opt_next(p, elem, sizeof elem);
		if (strncmp(elem, key, kl) == 0 && elem[kl] == '=') {
			if (strlen(elem + kl + 1) >= size)
				return -ENAMETOOLONG;
			strcpy(out, elem + kl + 1);
			return 0;
		}
	}
	return -ENOENT;
}

/* "unix:PATH,server,nowait" or "unix:path=PATH,..." */
static void parse_qmp_arg(const char *v, struct qemu_cmdline *c)
{
	if (!startswith(v, "unix:"))
		return;
	v += 5;
	if (opt_get(v, "path", c->qmp, sizeof c->qmp) != -ENOENT)
		return;	/* found, or too long: no QMP rather than a cut path */
	opt_first(v, c->qmp, sizeof c->qmp);
}

int qemu_cmdline_parse(const char *argv, size_t len, struct qemu_cmdline *c)
{
	const char *args[512];
	size_t n = 0;
	/* -chardev socket,id=X,path=P + -mon chardev=X,mode=control is QMP too */
	char chardev_ids[8][64], chardev_paths[8][256];
	size_t n_chardevs = 0;

	*c = (struct qemu_cmdline){0};
	for (size_t off = 0; off < len && n < ARRAY_SIZE(args);) {
		const char *a = argv + off;
		size_t l = strnlen(a, len - off);

		if (off + l >= len && argv[len - 1] != '\0')
			return -EINVAL;	/* truncated: last argument not terminated */
		args[n++] = a;
		off += l + 1;
	}
	if (n == 0)
		return -EINVAL;
	for (size_t i = 1; i + 1 < n; i++) {
		const char *o = args[i], *v = args[i + 1];
		char buf[256];

		if (o[0] == '-' && o[1] == '-')
			o++;	/* QEMU accepts --name as -name */
		if (strcmp(o, "-name") == 0) {
			if (opt_get(v, "guest", c->name, sizeof c->name) == 0)
				c->libvirt = 1;
			else
				opt_first(v, c->name, sizeof c->name);
		} else if (strcmp(o, "-qmp") == 0) {
			parse_qmp_arg(v, c);
		} else if (strcmp(o, "-chardev") == 0 && startswith(v, "socket,") &&
			   n_chardevs < ARRAY_SIZE(chardev_ids) &&
			   opt_get(v, "id", chardev_ids[n_chardevs], sizeof chardev_ids[0]) == 0 &&
			   opt_get(v, "path", chardev_paths[n_chardevs], sizeof chardev_paths[0]) == 0) {
			n_chardevs++;
		} else if (strcmp(o, "-mon") == 0 && opt_get(v, "mode", buf, sizeof buf) == 0 &&
			   strcmp(buf, "control") == 0 && opt_get(v, "chardev", buf, sizeof buf) == 0) {
			for (size_t k = 0; k < n_chardevs; k++)
				if (strcmp(chardev_ids[k], buf) == 0 && !c->qmp[0])
					snprintf(c->qmp, sizeof c->qmp, "%.*s", (int)sizeof c->qmp - 1,
						 chardev_paths[k]);
		} else if ((strcmp(o, "-netdev") == 0 && startswith(v, "tap,")) ||
			   (strcmp(o, "-net") == 0 && startswith(v, "tap,"))) {
			if (c->n_taps < QEMU_MAX_TAPS &&
			    opt_get(v, "ifname", c->taps[c->n_taps], sizeof c->taps[0]) == 0)
				c->n_taps++;
		} else if (strcmp(o, "-device") == 0 && startswith(v, "virtio-balloon")) {
			opt_get(v, "id", c->balloon, sizeof c->balloon);
		}
	}
	return 0;
}

struct qemu_state {
	struct qemu_cmdline cmd;
	bool parsed;
	struct qmp qmp;
	uint64_t qmp_retry_at;	/* after a failure, leave the socket alone until then */
	bool qmp_answered;	/* QMP gave block counters once: the only io source */
	/* Its last block counters (-1: none) and when QMP gave them: shown
	 * while QMP does not answer, and the base of the first rate after. */
	double held[4];
	uint64_t held_usec;
	bool held_shown;
	bool proc_io_shown;	/* a sample showed /proc/PID/io before QMP first answered */
	bool balloon_polling;
	struct task_carry carry;
};

static bool is_qemu_comm(const char *comm)
{
	return startswith(comm, "qemu-system-") || startswith(comm, "qemu-kvm");
}

static ssize_t read_cmdline(const char *proc_root, pid_t pid, char *buf, size_t size)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof path, "%s/%d/cmdline", proc_root, pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size);
	return n < 0 ? -errno : n;
}

int qemu_cmdline_of(const char *proc_root, pid_t pid, struct qemu_cmdline *out)
{
	_cleanup_free_ char *args = xmalloc(CMDLINE_MAX);
	ssize_t n = read_cmdline(proc_root, pid, args, CMDLINE_MAX);

	if (n <= 0)
		return n < 0 ? (int)n : -ENOENT;
	return qemu_cmdline_parse(args, (size_t)n, out);
}

/* Most processes are not QEMU. A process is looked at while young (its
 * first YOUNG_LOOKS samples: a fork about to exec QEMU, a guest still
 * setting up), while it is a guest, and while it is QEMU outside the scope
 * (moved into it, it appears at the next sample). Where the proc connector reports
 * new processes, those it reports are the young ones and /proc is walked
 * (looking at every process) only every RECHECK_EVERY rescan intervals and
 * after the kernel dropped reports. Where it does not, /proc is walked on
 * every sample, a process is young from its first walk on, and every
 * RECHECK_EVERY-th walk looks at every process. */
#define YOUNG_LOOKS 3
#define RECHECK_EVERY 10

struct seen_pid {
	pid_t pid;
	unsigned young_until;	/* looked at while looks < young_until */
	bool guest;		/* was a guest at the last look: always looked at */
	bool outside;		/* was QEMU outside the scope: looked at until moved in */
};

static struct seen_pid *seen;	/* sorted by pid */
static size_t n_seen;
static unsigned looks, walks;
static int watch_fd = -1;
static uint64_t next_walk;	/* with the connector: the next walk of /proc */
static bool reports_lost;	/* the last drain lost reports */
/* The pids the connector reported since the last look (a tsearch tree). */
static void *reported;

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static const struct seen_pid *seen_find(pid_t pid)
{
	return n_seen ? bsearch(&pid, seen, n_seen, sizeof *seen, cmp_pid) : NULL;
}

static bool lively(const struct seen_pid *s)
{
	return s->guest || s->outside || looks < s->young_until;
}

static int cmp_set_pid(const void *a, const void *b)
{
	intptr_t x = (intptr_t)a, y = (intptr_t)b;

	return (x > y) - (x < y);
}

static bool was_reported(pid_t pid)
{
	return tfind((void *)(intptr_t)pid, &reported, cmp_set_pid) != NULL;
}

static void no_free(void *p)
{
	(void)p;
}

static void reports_clear(void)
{
	tdestroy(reported, no_free);
	reported = NULL;
}

static void add_reported(const void *node, VISIT which, void *pids)
{
	if (which == postorder || which == leaf)
		pid_list_add(pids, (pid_t)(intptr_t)*(void *const *)node);
}

static void on_report(const struct procwatch_event *ev, void *userdata)
{
	const struct seen_pid *parent;

	(void)userdata;
	/* A fork is worth a look where its parent is: -daemonize forks twice
	 * and never execs. */
	if (ev->kind == PROCWATCH_FORK) {
		parent = seen_find(ev->parent);
		if (!(parent && lively(parent)) && !was_reported(ev->parent))
			return;
	}
	if (!tsearch((void *)(intptr_t)ev->pid, &reported, cmp_set_pid))
		abort();
}

static bool worth_a_look(pid_t pid, bool everyone, struct seen_pid *now)
{
	const struct seen_pid *old = seen_find(pid);
	bool fresh = watch_fd < 0 ? !old : was_reported(pid);

	now->pid = pid;
	now->young_until = fresh ? looks + YOUNG_LOOKS : old ? old->young_until : 0;
	now->guest = old && old->guest;
	now->outside = old && old->outside;
	return lively(now) || everyone;
}

/* -daemonize: for a moment the waiting parent and the daemonized child
 * (a grandchild, reparented) run the same command line. Two real guests
 * never do (their sockets and names would clash), so of guests with equal
 * command lines only the one with the most threads is the guest. */
struct twin_key {
	uint64_t hash;		/* FNV-1a of the command line */
	uint64_t threads;
	pid_t pid;
};

/* What a look at a process found. */
enum look { NO_GUEST, GUEST, OUTSIDE_SCOPE };

static enum look add_guest(const struct backend_env *env, pid_t pid, struct found_list *out,
			   struct twin_key *twin)
{
	char path[PATH_MAX], buf[512], key[16];
	_cleanup_free_ char *args = xmalloc(CMDLINE_MAX);	/* the sampler's and the rescan's */
	struct qemu_cmdline c;
	struct proc_stat ps;
	ssize_t n;

	snprintf(path, sizeof path, "%s/%d/comm", env->cfg->proc_root, pid);
	if (read_file(path, buf, sizeof buf) < 0 || !is_qemu_comm(buf))
		return NO_GUEST;
	/* A guest that quit may linger as a zombie: it is gone. */
	snprintf(path, sizeof path, "%s/%d/stat", env->cfg->proc_root, pid);
	if (read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0 ||
	    ps.state == 'Z' || ps.state == 'X')
		return NO_GUEST;
	if (!cgroup_pid_in_scope(env->cfg->proc_root, pid, env->cfg->scope))
		return OUTSIDE_SCOPE;	/* another host's guest (see [discovery] scope) */
	n = read_cmdline(env->cfg->proc_root, pid, args, CMDLINE_MAX);
	if (n <= 0 || qemu_cmdline_parse(args, (size_t)n, &c) < 0)
		return NO_GUEST;
	if (startswith(c.name, MANAGED_PREFIX))
		return NO_GUEST;	/* shown by the managed backend */
	*twin = (struct twin_key){ fnv1a(args, (size_t)n), ps.num_threads, pid };
	snprintf(key, sizeof key, "%d", pid);
	if (!c.name[0])
		snprintf(c.name, sizeof c.name, "qemu-%d", pid);
	found_add(out, key, xstrdup(c.name), engine_get(c.libvirt ? "libvirt" : "qemu"), true);
	return GUEST;
}

/* Of the guests found since index first, leave out every one that has a
 * twin (same command line) with more threads, or as many and a higher pid. */
static void drop_twins(struct found_list *out, size_t first, const struct twin_key *keys, size_t n)
{
	size_t kept = first;

	for (size_t i = first; i < out->n; i++) {
		const struct twin_key *me = &keys[i - first];
		bool lesser = false;

		for (size_t j = 0; j < n && !lesser; j++)
			lesser = keys[j].hash == me->hash && keys[j].pid != me->pid &&
				 (keys[j].threads > me->threads ||
				  (keys[j].threads == me->threads && keys[j].pid > me->pid));
		if (lesser) {
			free(out->v[i].key);
			free(out->v[i].name);
		} else {
			out->v[kept++] = out->v[i];
		}
	}
	out->n = kept;
}

/* Every process in /proc. */
static void list_proc(const char *proc_root, struct pid_list *out)
{
	_cleanup_closedir_ DIR *d = opendir(proc_root);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (isdigit((unsigned char)de->d_name[0]))
			pid_list_add(out, (pid_t)atoi(de->d_name));
}

/* Looks at the processes in pids (sorted), adds the guests among them to
 * out and remembers what it saw for the next look. */
static void look_at(const struct backend_env *env, const struct pid_list *pids, bool everyone,
		    struct found_list *out)
{
	struct seen_pid *now = xcalloc(pids->n + 1, sizeof *now);
	struct twin_key *keys = NULL;
	size_t first = out->n, n_keys = 0, cap_keys = 0, n = 0;

	for (size_t i = 0; i < pids->n; i++) {
		struct seen_pid *s = &now[n];

		if (worth_a_look(pids->v[i], everyone, s)) {
			GROW(keys, cap_keys, n_keys + 1);
			enum look l = add_guest(env, s->pid, out, &keys[n_keys]);

			s->guest = l == GUEST;
			s->outside = l == OUTSIDE_SCOPE;
			n_keys += s->guest;
		}
		/* without reports, a process missing here is a new one next time */
		n += watch_fd < 0 || lively(s);
	}
	drop_twins(out, first, keys, n_keys);
	free(keys);
	free(seen);
	seen = now;
	n_seen = n;
}

/* Sorted, each once. */
static void pid_list_settle(struct pid_list *l)
{
	size_t n = 0;

	qsort_safe(l->v, l->n, sizeof *l->v, cmp_pid);
	for (size_t i = 0; i < l->n; i++)
		if (n == 0 || l->v[n - 1] != l->v[i])
			l->v[n++] = l->v[i];
	l->n = n;
}

static void qemu_discover(const struct backend_env *env, struct found_list *out)
{
	struct pid_list pids = {0};
	bool walk = true, everyone;

	looks++;
	if (watch_fd >= 0) {
		uint64_t now = now_usec();
		int r = procwatch_drain(watch_fd, on_report, NULL);

		/* logged where a run of lossy samples begins */
		if (r < 0 && !reports_lost)
			log_info("proc connector: %s, walking /proc", r == -ENOBUFS ?
				 "the kernel dropped process reports (socket full)" : strerror(-r));
		reports_lost = r < 0;
		walk = r < 0 || now >= next_walk;
		if (walk)
			next_walk = now + (uint64_t)(RECHECK_EVERY * env->cfg->rescan_interval * 1e6);
		everyone = walk;
	} else {
		everyone = ++walks % RECHECK_EVERY == 0;
	}
	if (walk) {
		list_proc(env->cfg->proc_root, &pids);
	} else {
		for (size_t i = 0; i < n_seen; i++)
			if (lively(&seen[i]))
				pid_list_add(&pids, seen[i].pid);
		twalk_r(reported, add_reported, &pids);
	}
	pid_list_settle(&pids);
	look_at(env, &pids, everyone, out);
	pid_list_free(&pids);
	reports_clear();
}

void qemu_vcpu_threads(const char *proc_root, pid_t pid, struct pid_list *out)
{
	char path[PATH_MAX];
	_cleanup_closedir_ DIR *d = NULL;
	struct pid_list all = {0};
	struct dirent *de;

	snprintf(path, sizeof path, "%s/%d/task", proc_root, pid);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char comm[64];
		pid_t tid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		tid = (pid_t)atoi(de->d_name);
		pid_list_add(&all, tid);
		snprintf(path, sizeof path, "%s/%d/task/%d/comm", proc_root, pid, tid);
		if (read_file(path, comm, sizeof comm) > 0 && startswith(comm, "CPU ") && strchr(comm, '/'))
			pid_list_add(out, tid);
	}
	if (out->n == 0) {
		pid_list_free(out);
		*out = all;
	} else {
		pid_list_free(&all);
	}
}

/* CPU time of threads, in usec, from their stat files. */
static double threads_cpu_usec(const char *proc_root, pid_t pid, const struct pid_list *tids)
{
	double tick = 1e6 / (double)sysconf(_SC_CLK_TCK), sum = 0;

	for (size_t i = 0; i < tids->n; i++) {
		char path[PATH_MAX], buf[1024];
		struct proc_stat ps;

		snprintf(path, sizeof path, "%s/%d/task/%d/stat", proc_root, pid, tids->v[i]);
		if (read_file(path, buf, sizeof buf) > 0 && proc_stat_parse(buf, &ps) == 0)
			sum += (double)(ps.utime + ps.stime) * tick;
	}
	return sum;
}

static void sample_process(const char *proc_root, pid_t pid, struct metric_set *m)
{
	double tick = 1e6 / (double)sysconf(_SC_CLK_TCK);
	char path[PATH_MAX], buf[1024];
	struct proc_stat ps;

	snprintf(path, sizeof path, "%s/%d/stat", proc_root, pid);
	if (read_file(path, buf, sizeof buf) < 0 || proc_stat_parse(buf, &ps) < 0)
		return;
	metric_set(m, M_CPU_USER_USEC, (double)ps.utime * tick);
	metric_set(m, M_CPU_SYSTEM_USEC, (double)ps.stime * tick);
	metric_set(m, M_CPU_USAGE_USEC, (double)(ps.utime + ps.stime) * tick);
	metric_set(m, M_MAJFLT_TOTAL, (double)ps.majflt);
	/* Guest RAM the host holds for it now. */
	snprintf(path, sizeof path, "%s/%d/status", proc_root, pid);
	uint64_t rss;
	char status[4096];
	if (read_file(path, status, sizeof status) > 0 && meminfo_get_bytes(status, "VmRSS", &rss) == 0)
		metric_set(m, M_MEM_CURRENT_BYTES, (double)rss);
}

/* Guest network as the guest sees it: what the tap sends, the guest receives. */
/* A tap's counters from the QEMU process's own /proc/PID/net/dev: that
 * follows the process's network namespace, /sys/class/net the reader's.
 * The host's tx is the guest's rx. */
static void sample_taps(const char *proc_root, pid_t pid, const struct qemu_cmdline *c,
			struct metric_set *m)
{
	char path[PATH_MAX], buf[16384];

	snprintf(path, sizeof path, "%s/%d/net/dev", proc_root, pid);
	if (c->n_taps == 0 || read_file(path, buf, sizeof buf) < 0)
		return;
	for (size_t i = 0; i < c->n_taps; i++) {
		uint64_t host_rx, host_tx;

		if (netdev_parse_iface(buf, c->taps[i], &host_rx, &host_tx) < 0)
			continue;
		metric_add(m, M_IO_NET_RX_BYTES, (double)host_tx);
		metric_add(m, M_IO_NET_TX_BYTES, (double)host_rx);
	}
}

static const int block_metrics[4] = { M_IO_READ_BYTES, M_IO_WRITE_BYTES, M_IO_READ_OPS, M_IO_WRITE_OPS };
static const int block_rates[4] = {
	M_IO_READ_BYTES_PER_SEC, M_IO_WRITE_BYTES_PER_SEC, M_IO_READ_OPS_PER_SEC, M_IO_WRITE_OPS_PER_SEC,
};

/* After samples that showed held counters, the first fresh one's rates
 * span the time since the counters were last measured, not one interval. */
static void rates_across_gap(struct qemu_state *st, struct metric_set *m, uint64_t now)
{
	double dt = (double)(now - st->held_usec) / 1e6;

	for (size_t k = 0; k < ARRAY_SIZE(block_metrics); k++)
		if (st->held[k] >= 0 && metric_has(m, block_metrics[k]) &&
		    m->v[block_metrics[k]] >= st->held[k] && dt > 0)
			metric_set(m, block_rates[k], (m->v[block_metrics[k]] - st->held[k]) / dt);
}

static int sample_blockstats(struct qemu_state *st, struct metric_set *m)
{
	json_t *ret = NULL, *dev;
	size_t i;
	int r = qmp_execute(&st->qmp, "query-blockstats", NULL, &ret, QMP_TIMEOUT_MS);

	if (r < 0)
		return r;
	static const char *const keys[ARRAY_SIZE(block_metrics)] = {
		"rd_bytes", "wr_bytes", "rd_operations", "wr_operations",
	};

	json_array_foreach(ret, i, dev) {
		json_t *s = json_object_get(dev, "stats");

		/* Counters only: a negative or non-integer value is not one. */
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			json_t *v = json_object_get(s, keys[k]);

			if (json_is_integer(v) && json_integer_value(v) >= 0)
				metric_add(m, block_metrics[k], (double)json_integer_value(v));
		}
	}
	json_decref(ret);
	return 0;
}

/* The guest's own major faults from virtio-balloon statistics. */
static int sample_balloon(struct qemu_state *st, struct metric_set *m)
{
	char path[128];
	json_t *ret = NULL, *v;
	int r;

	snprintf(path, sizeof path, "/machine/peripheral/%s", st->cmd.balloon);
	if (!st->balloon_polling) {
		json_t *args = json_pack("{s:s,s:s,s:i}", "path", path,
					 "property", "guest-stats-polling-interval", "value", 1);

		r = qmp_execute(&st->qmp, "qom-set", args, NULL, QMP_TIMEOUT_MS);
		json_decref(args);
		if (r < 0)
			return r;
		st->balloon_polling = true;
	}
	json_t *args = json_pack("{s:s,s:s}", "path", path, "property", "guest-stats");
	r = qmp_execute(&st->qmp, "qom-get", args, &ret, QMP_TIMEOUT_MS);
	json_decref(args);
	if (r < 0)
		return r;
	v = json_object_get(json_object_get(ret, "stats"), "stat-major-faults");
	/* 2^64 - 1 (seen as -1) until the guest's first report */
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		metric_set(m, M_MAJFLT_GUEST_TOTAL, (double)json_integer_value(v));
	json_decref(ret);
	return 0;
}

/* QMP figures, or host-side process I/O where no QMP socket answers. A socket
 * that fails or times out is left alone for QMP_RETRY_USEC. */
static void sample_qmp(struct qemu_state *st, const char *proc_root, pid_t pid, struct metric_set *m)
{
	uint64_t now = now_usec();
	int r = -ENOTCONN;

	/* A QMP socket serves one client at a time: connect for the sample and
	 * let go, so the guest's manager is never locked out by us. */
	if (st->cmd.qmp[0] && now >= st->qmp_retry_at) {
		r = qmp_open(&st->qmp, st->cmd.qmp, QMP_TIMEOUT_MS);
		if (r == 0)
			r = sample_blockstats(st, m);
		if (r == 0 && st->cmd.balloon[0] && sample_balloon(st, m) == -ETIMEDOUT)
			r = -ETIMEDOUT;
		qmp_close(&st->qmp);
		if (r < 0 && r != -EREMOTEIO)
			st->qmp_retry_at = now + QMP_RETRY_USEC;
	}
	if (r == 0) {
		if (st->held_shown)
			rates_across_gap(st, m, now);
		/* The process's bytes before, QEMU's now: no rate spans the two. */
		if (st->proc_io_shown && !st->qmp_answered)
			for (size_t k = 0; k < ARRAY_SIZE(block_rates); k++)
				metric_set(m, block_rates[k], 0);
		for (size_t k = 0; k < ARRAY_SIZE(block_metrics); k++)
			st->held[k] = metric_has(m, block_metrics[k]) ? m->v[block_metrics[k]] : -1;
		st->held_usec = now;
		st->held_shown = false;
		st->qmp_answered = true;
		return;
	}
	/* Never mix sources: once QMP gave the block counters, a sample without
	 * QMP shows its last ones (rates 0 meanwhile) instead of the process's. */
	if (st->qmp_answered) {
		for (size_t k = 0; k < ARRAY_SIZE(block_metrics); k++)
			if (st->held[k] >= 0)
				metric_set(m, block_metrics[k], st->held[k]);
		st->held_shown = true;
		return;
	}
	struct pid_list self = { .v = &pid, .n = 1 };

	proc_sample_io(proc_root, &self, &st->carry, m);
	st->proc_io_shown = true;
}

void qemu_sample_pid(const struct backend_env *env, pid_t pid, void **state, struct metric_set *m)
{
	struct qemu_state *st = *state;
	const char *proc = env->cfg->proc_root;
	struct pid_list vcpus = {0};

	if (!st) {
		*state = st = xcalloc(1, sizeof *st);
		st->qmp = (struct qmp)QMP_INIT;
		st->parsed = qemu_cmdline_of(proc, pid, &st->cmd) == 0;
	}
	qemu_vcpu_threads(proc, pid, &vcpus);
	proc_sample_tasks(proc, &vcpus, false, PROC_TASK_BUDGET_USEC, &st->carry, m);
	metric_set(m, M_PARALLEL_USEC, threads_cpu_usec(proc, pid, &vcpus));
	sample_process(proc, pid, m);
	sample_taps(proc, pid, &st->cmd, m);
	sample_qmp(st, proc, pid, m);
	pid_list_free(&vcpus);
}

static void qemu_sample(const struct backend_env *env, const struct found *w, void **state,
			struct metric_set *m)
{
	qemu_sample_pid(env, w->pid, state, m);
}

void qemu_state_free(void *state)
{
	struct qemu_state *st = state;

	if (!st)
		return;
	qmp_close(&st->qmp);
	task_carry_free(&st->carry);
	free(st);
}

/* A VM runs where its vCPU threads may run: the union of their affinities. */
int qemu_cpus_pid(const char *proc_root, pid_t pid, char *buf, size_t size)
{
	struct pid_list vcpus = {0};
	cpu_set_t any;
	int found = 0;

	CPU_ZERO(&any);
	qemu_vcpu_threads(proc_root, pid, &vcpus);
	for (size_t i = 0; i < vcpus.n; i++) {
		cpu_set_t set;

		if (sched_getaffinity(vcpus.v[i], sizeof set, &set) == 0) {
			CPU_OR(&any, &any, &set);
			found = 1;
		}
	}
	pid_list_free(&vcpus);
	if (!found)
		return -ENOENT;
	cpulist_format(&any, buf, size);
	return 0;
}

static int qemu_cpus(const struct backend_env *env, const struct found *w, char *buf, size_t size)
{
	return qemu_cpus_pid(env->cfg->proc_root, w->pid, buf, size);
}

/* New processes from the proc connector where the kernel reports them to
 * us; a /proc other than the kernel's own (a test's fixture tree) is walked. */
static int qemu_init(const struct backend_env *env)
{
	if (strcmp(env->cfg->proc_root, "/proc") != 0)
		return 0;
	watch_fd = procwatch_open();
	if (watch_fd < 0)
		log_info("proc connector unavailable (%s): QEMU guests are looked for by walking /proc every sample",
			 strerror(-watch_fd));
	else
		log_info("proc connector: QEMU guests are looked for among the processes it reports");
	next_walk = 0;
	return 0;
}

static void qemu_fini(void)
{
	procwatch_close(watch_fd);
	watch_fd = -1;
	free(seen);
	seen = NULL;
	n_seen = 0;
	reports_clear();
}

const struct backend qemu_backend = {
	.name = "qemu",
	.init = qemu_init,
	.fini = qemu_fini,
	.discover = qemu_discover,
	.discover_every_sweep = true,
	.sample = qemu_sample,
	.state_free = qemu_state_free,
	.cpus = qemu_cpus,
};
