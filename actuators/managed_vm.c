/* VM mode: a QEMU microvm booting the configured kernel and initramfs
 * (adaptfs-mkinitrd(8)), with the recipe's rootfs as its virtio-9p root,
 * the data directory as a second 9p share, and the command handed to the
 * guest's /init in a third, read-only one. The command is the guest's only
 * application: /init execs it as PID 1 after switch_root. QEMU is our
 * child (no -daemonize), so we reap it at once; in a session of its own, it
 * outlives us, and the next adaptfs adopts it by pid and start time. */
#include "managed_impl.h"
#include "cpulist.h"
#include "log.h"
#include "proc.h"
#include "qmp.h"
#include "spawn.h"
#include "strbuf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define QUIT_WAIT_USEC (5 * USEC_PER_SEC)
#define QMP_TIMEOUT_MS 2000
#define QMP_START_WAIT_MS 5000	/* for QEMU to create its QMP socket */

/* A word for sh, in single quotes. */
static void sh_quote(struct strbuf *sb, const char *s)
{
	strbuf_append(sb, "'", 1);
	for (; *s; s++)
		if (*s == '\'')
			strbuf_append(sb, "'\\''", 4);
		else
			strbuf_append(sb, s, 1);
	strbuf_append(sb, "'", 1);
}

/* guest/run, sourced by the guest's /init: the environment and "$@". */
static int write_guest_run(const struct mw *w)
{
	struct strbuf sb = {0};
	char path[PATH_MAX];
	int r = 0;

	for (size_t i = 0; i < w->r.n_env; i++) {
		strbuf_append(&sb, "export ", 7);
		sh_quote(&sb, w->r.env[i]);
		strbuf_append(&sb, "\n", 1);
	}
	strbuf_append(&sb, "set --", 6);
	for (size_t i = 0; i < w->r.argc; i++) {
		strbuf_append(&sb, " ", 1);
		sh_quote(&sb, w->r.argv[i]);
	}
	strbuf_append(&sb, "\n", 1);
	snprintf(path, sizeof path, "%s/guest/run", w->dir);
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	if (!f || fwrite(sb.buf, 1, sb.len, f) != sb.len)
		r = -EIO;
	strbuf_free(&sb);
	return r;
}

/* QEMU option values: a comma is written ",,". */
static void opt_escape(char *out, size_t size, const char *prefix, const char *path,
		       const char *suffix)
{
	size_t o = (size_t)snprintf(out, size, "%s", prefix);

	for (; *path && o + 2 < size; path++) {
		out[o++] = *path;
		if (*path == ',')
			out[o++] = ',';
	}
	snprintf(out + o, size - o, "%s", suffix);
}

/* Last line of a log, for a reason in events. */
static void last_line(const char *path, char *out, size_t size)
{
	char text[4096];
	ssize_t n = read_file(path, text, sizeof text);
	char *end, *start;

	out[0] = '\0';
	if (n < 0) {
		/* longer than the buffer: its tail */
		_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
		off_t len = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

		if (len <= 0 || (n = pread(fd, text, sizeof text - 1, len > 4095 ? len - 4095 : 0)) <= 0)
			return;
		text[n] = '\0';
	}
	for (end = text + strlen(text); end > text && (end[-1] == '\n' || end[-1] == '\r'); end--)
		*(end - 1) = '\0';
	start = strrchr(text, '\n');
	snprintf(out, size, "%s", start ? start + 1 : text);
}

/* QEMU for w, our child in a session of its own; for a standby paused at
 * its start (-S) and with its tap down. Its pid. */
static pid_t qemu_launch(const struct managed_env *e, struct mw *w, bool standby, char *why,
			 size_t n)
{
	const struct recipe *r = &w->r;
	const char *kernel = r->kernel ? r->kernel : e->kernel;
	const char *initrd = r->initrd ? r->initrd : e->initrd;
	char guest[PATH_MAX], qmp[PATH_MAX + 32], logpath[PATH_MAX], console[PATH_MAX + 16];
	char name[96], mem[32], smp[16], append[1024], root[PATH_MAX + 96], data[PATH_MAX + 96];
	char share[PATH_MAX + 96], net[96], dev[96];
	_cleanup_close_ int log = -1;
	cpu_set_t cpus;
	pid_t pid;
	int ret;

	if (w->cpus[0] && cpulist_parse(w->cpus, strlen(w->cpus), &cpus) < 0) {
		snprintf(why, n, "its pin is not a CPU list: %s", w->cpus);
		return -EINVAL;
	}
	snprintf(guest, sizeof guest, "%s/guest", w->dir);
	mkdir(guest, 0700);
	if (write_guest_run(w) < 0) {
		snprintf(why, n, "cannot write %s/run", guest);
		return -EIO;
	}
	if (r->data && mkdir(r->data, 0755) < 0 && errno != EEXIST) {
		snprintf(why, n, "data directory %s: %s", r->data, strerror(errno));
		return -errno;
	}
	snprintf(name, sizeof name, "%s,debug-threads=on", w->id);
	snprintf(mem, sizeof mem, "%lluM", (unsigned long long)(r->memory_bytes >> 20));
	snprintf(smp, sizeof smp, "%u", r->cpus);
	opt_escape(qmp, sizeof qmp, "unix:", w->dir, "/qmp.sock,server=on,wait=off");
	snprintf(logpath, sizeof logpath, "%s/qemu.log", w->dir);
	opt_escape(console, sizeof console, "file:", w->dir, "/console.log");
	snprintf(append, sizeof append,
		 "console=ttyS0 tsc_early_khz=2000000 panic=-1 quiet adaptfs.ip=%s/%u%s%s "
		 "adaptfs.name=%s%s%s%s%s%s",
		 r->address, r->prefix_len, r->gateway[0] ? " adaptfs.gw=" : "", r->gateway, r->name,
		 standby ? " adaptfs.standby=1" : "",
		 r->data ? " adaptfs.data=" : "", r->data ? r->data_mount : "",
		 r->append ? " " : "", r->append ? r->append : "");
	opt_escape(root, sizeof root, "local,id=root,security_model=passthrough,path=", r->rootfs, "");
	opt_escape(data, sizeof data, "local,id=data,security_model=passthrough,path=",
		   r->data ? r->data : "/", "");
	opt_escape(share, sizeof share, "local,id=adaptfs,security_model=passthrough,readonly=on,path=",
		   guest, "");
	snprintf(net, sizeof net, "tap,id=n0,ifname=%s,script=no,downscript=no", w->tapname);
	snprintf(dev, sizeof dev, "virtio-net-device,netdev=n0,mac=%s", r->mac);

	const char *argv[64] = {
		e->qemu, "-M", "microvm", "-accel", e->kvm ? "kvm" : "tcg", "-m", mem, "-smp", smp,
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-name", name, "-qmp", qmp, "-serial", console,
		"-kernel", kernel, "-initrd", initrd, "-append", append,
		"-fsdev", root, "-device", "virtio-9p-device,fsdev=root,mount_tag=root",
		"-fsdev", share, "-device", "virtio-9p-device,fsdev=adaptfs,mount_tag=adaptfs",
		"-netdev", net, "-device", dev,
		"-device", "virtio-balloon-device,id=balloon0",
	};
	size_t argc = 0;

	while (argv[argc])
		argc++;
	if (standby)
		argv[argc++] = "-S";
	if (r->data) {
		argv[argc++] = "-fsdev";
		argv[argc++] = data;
		argv[argc++] = "-device";
		argv[argc++] = "virtio-9p-device,fsdev=data,mount_tag=data";
	}
	ret = mnet_tap(e, w, !standby, why, n);
	if (ret < 0)
		return ret;
	snprintf(logpath, sizeof logpath, "%s/console.log", w->dir);
	unlink(logpath);
	snprintf(logpath, sizeof logpath, "%s/qemu.log", w->dir);
	log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	pid = spawn_start_detached(argv, log);
	if (pid < 0) {
		snprintf(why, n, "cannot start %s: %s", e->qemu, strerror(-pid));
		mnet_tap_down(w);
		return pid;
	}
	/* Not fatal: it runs, only in our cgroup, where a stop of the service
	 * that runs adaptfs may take it along. */
	if (mcg_enter(e, w, pid, why, n) < 0)
		log_warn("%s: %s", r->name, why);
	/* After the move: entering a cpuset resets a task's CPU affinity. */
	ret = w->cpus[0] ? mpin_threads(pid, &cpus) : 0;
	if (ret < 0) {
		snprintf(why, n, "cannot pin QEMU to cpus %s: %s", w->cpus,
			 ret == -ERANGE ? "its cpuset does not allow all of them" : strerror(-ret));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		mcg_remove(e, w);
		mnet_tap_down(w);
		return ret;
	}
	return pid;
}

int mvm_start(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	pid_t pid = qemu_launch(e, w, false, why, n);

	if (pid < 0)
		return pid;
	w->run = (struct mw_proc){ .qemu = pid };
	w->st = (struct managed_state){ .vm = true, .running = true, .pid = pid,
					.pid_start = proc_start_time("/proc", pid),
					.switches = w->st.switches, .downtime_usec = w->st.downtime_usec };
	return 0;
}

/* QMP commands (args may be NULL) in one session on w's socket, which
 * QEMU may still be creating; stops at the first that fails. */
static int qmp_run(const struct mw *w, const char *const cmds[], json_t *const args[], size_t k,
		   int wait_ms, char *why, size_t n)
{
	char path[PATH_MAX];
	struct qmp q = QMP_INIT;
	size_t i = 0;
	int r;

	snprintf(path, sizeof path, "%s/qmp.sock", w->dir);
	r = qmp_open_wait(&q, path, QMP_TIMEOUT_MS, wait_ms);
	while (r == 0 && i < k) {
		json_t *ret = NULL;

		r = qmp_execute(&q, cmds[i], args[i], &ret, QMP_TIMEOUT_MS);
		json_decref(ret);
		if (r == 0)
			i++;
	}
	qmp_close(&q);
	if (r < 0)	/* the command that failed, or the first if the connect did */
		snprintf(why, n, "QMP %s: %s", cmds[i], strerror(-r));
	return r;
}

static int qmp_one(const struct mw *w, const char *cmd, char *why, size_t n)
{
	json_t *none = NULL;

	return qmp_run(w, &cmd, &none, 1, 0, why, n);
}

/* The guest's link on or off, then running. */
static int link_and_run(const struct mw *w, bool up, int wait_ms, char *why, size_t n)
{
	static const char *const cmds[] = { "set_link", "cont" };
	json_t *args[] = { json_pack("{s:s,s:b}", "name", "n0", "up", up), NULL };
	int r = qmp_run(w, cmds, args, 2, wait_ms, why, n);

	json_decref(args[0]);
	return r;
}

/* Link off before the guest runs a single instruction: it waits for its
 * link before it runs the command, so the two never serve at once. */
int mvm_prepare(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	pid_t pid = qemu_launch(e, w, true, why, n);
	struct managed_standby *sb = &w->st.standby;

	if (pid < 0)
		return pid;
	w->other = (struct mw_proc){ .qemu = pid };
	*sb = (struct managed_standby){ .present = true, .vm = true, .pid = pid,
					.pid_start = proc_start_time("/proc", pid) };
	mcg_path(w, true, sb->cgroup, sizeof sb->cgroup);
	return link_and_run(w, false, QMP_START_WAIT_MS, why, n);
}

int mvm_standby_settle(struct mw *w, char *why, size_t n)
{
	if (mvm_console_has(w, VM_STANDBY_MARKER))
		return qmp_one(w, "stop", why, n) < 0 ? -EIO : 1;
	if (mvm_console_has(w, VM_EXEC_MARKER)) {
		snprintf(why, n, "its initramfs ran the command without waiting: "
			 "made by an adaptfs-mkinitrd older than standby support");
		return -EOPNOTSUPP;
	}
	return 0;
}

int mvm_go(struct mw *w, char *why, size_t n)
{
	int r = mnet_link_up(w->tapname, true);

	if (r < 0) {
		snprintf(why, n, "cannot set %s up: %s", w->tapname, strerror(-r));
		return r;
	}
	r = link_and_run(w, true, 0, why, n);
	if (r == 0)
		w->run.frozen = false;
	return r;
}

int mvm_freeze(struct mw *w, bool frozen, char *why, size_t n)
{
	int r = qmp_one(w, frozen ? "stop" : "cont", why, n);

	if (r == 0)
		w->run.frozen = frozen;
	return r;
}

/* The QEMU an earlier adaptfs started, still that process (not a reuse of
 * its pid). */
static bool adopted_alive(const struct mw *w)
{
	return w->st.pid_start && proc_start_time("/proc", w->st.pid) == w->st.pid_start;
}

/* Not our child: signal it while it is the same process, and watch it go. */
static void stop_adopted(struct mw *w)
{
	uint64_t end = now_usec() + QUIT_WAIT_USEC;

	if (adopted_alive(w))
		kill(w->st.pid, SIGTERM);
	while (adopted_alive(w)) {
		if (now_usec() >= end) {
			kill(w->st.pid, SIGKILL);
			end = now_usec() + QUIT_WAIT_USEC;
		}
		usleep(20000);
	}
	w->run.adopted = false;
}

/* QEMU exits cleanly on SIGTERM, like QMP quit; the guest's files are on
 * 9p without a guest cache, so nothing written is lost. */
void mvm_stop(const struct managed_env *e, struct mw *w)
{
	uint64_t end = now_usec() + QUIT_WAIT_USEC;
	int status;

	if (w->run.adopted)
		stop_adopted(w);
	if (w->run.qemu > 0) {
		kill(w->run.qemu, SIGTERM);
		while (waitpid(w->run.qemu, &status, WNOHANG) == 0) {
			if (now_usec() >= end) {
				kill(w->run.qemu, SIGKILL);
				waitpid(w->run.qemu, &status, 0);
				break;
			}
			usleep(20000);
		}
	}
	w->run = (struct mw_proc){0};
	mcg_remove(e, w);
	mnet_tap_down(w);
	w->st.running = false;
	w->st.pid = 0;
}

bool mvm_alive(struct mw *w)
{
	int status;

	if (w->run.adopted)
		return adopted_alive(w);
	if (w->run.qemu > 0 && waitpid(w->run.qemu, &status, WNOHANG) != 0)
		w->run.qemu = 0;	/* reaped: never signal that pid again */
	return w->run.qemu > 0;
}

bool mvm_console_has(const struct mw *w, const char *marker)
{
	char path[PATH_MAX + 16], text[65536];

	snprintf(path, sizeof path, "%s/console.log", w->dir);
	/* a console longer than the buffer is past the markers anyway */
	ssize_t len = read_file(path, text, sizeof text);
	return len == -EFBIG || (len > 0 && strstr(text, marker));
}

/* Why it exited, from its own log or else the guest's console. */
void mvm_exit_reason(const struct mw *w, char *why, size_t n)
{
	char path[PATH_MAX + 16], line[256];

	snprintf(path, sizeof path, "%s/qemu.log", w->dir);
	last_line(path, line, sizeof line);
	if (!line[0]) {
		snprintf(path, sizeof path, "%s/console.log", w->dir);
		last_line(path, line, sizeof line);
	}
	snprintf(why, n, "QEMU exited: %s", line[0] ? line : "no output");
}
