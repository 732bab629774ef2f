/* Warm standby (adaptfs-workloads(5), standby =): the other mode's instance
 * of a running workload, kept prepared so that a switch is a hand-over, not
 * a boot. A VM standby has booted up to the exec of the command, its link
 * off and its tap down, and is paused; a container standby is created, its
 * init waiting for `runc start`, its veth down. A switch refuses new
 * connections and lets the running instance answer those it has, quiesces
 * it (freezer, QMP stop), takes its link down, brings the standby's up (same
 * address and MAC, a gratuitous ARP) and starts it; the old one is stopped
 * once the new one is ready, or resumed if it fails. */
#include "managed_impl.h"
#include "events.h"
#include "parse.h"
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <sys/wait.h>

/* A standby that failed to come up is not tried again sooner. */
#define RETRY_USEC (30 * USEC_PER_SEC)
/* Standbys go first when the host runs short: below this share of memory
 * available, none is kept. */
#define MIN_AVAILABLE_PERCENT 10
/* A switch lets the old instance answer what it accepted before it is
 * quiesced, for at most DRAIN_MAX_USEC. A VM's sockets are the guest's: it
 * is done once its tap has been quiet for DRAIN_QUIET_USEC, longer than a
 * TCG guest takes to answer a small request (p99 32 ms, max 70 ms here). */
#define DRAIN_MAX_USEC (300 * 1000)
#define DRAIN_QUIET_USEC (60 * 1000)
#define DRAIN_POLL_USEC 5000

static const char *mode_word(bool vm)
{
	return vm ? "vm" : "container";
}

/* The standby becomes the running instance and the running one the
 * standby: how a switch turns over, and how a standby is stopped with the
 * running instance's stop. */
static void swap_instances(struct mw *w)
{
	struct managed_state *st = &w->st;
	struct managed_standby *sb = &st->standby;
	struct managed_standby was = { .present = st->running, .vm = st->vm, .ready = true,
				       .pid = st->pid, .pid_start = st->pid_start };
	struct mw_proc p = w->run;

	mcg_path(w, st->vm, was.cgroup, sizeof was.cgroup);
	st->vm = sb->vm;
	st->running = sb->present;
	st->pid = sb->pid;
	st->pid_start = sb->pid_start;
	if (sb->vm)
		st->cgroup[0] = '\0';
	else
		snprintf(st->cgroup, sizeof st->cgroup, "%s", sb->cgroup);
	*sb = was;
	w->run = w->other;
	w->other = p;
}

void mstandby_drop(const struct managed_env *e, struct mw *w)
{
	if (!w->st.standby.present)
		return;
	swap_instances(w);
	mw_stop(e, w);
	swap_instances(w);
	w->st.standby = (struct managed_standby){0};
	w->other = (struct mw_proc){0};
}

static bool standby_alive(struct mw *w)
{
	const struct managed_standby *sb = &w->st.standby;
	int status;

	if (w->other.qemu > 0 && waitpid(w->other.qemu, &status, WNOHANG) != 0)
		w->other.qemu = 0;	/* reaped: never signal that pid again */
	return sb->pid_start && proc_start_time("/proc", sb->pid) == sb->pid_start;
}

bool mstandby_memory_short(const char *meminfo, uint64_t *avail_mib)
{
	uint64_t total, avail;

	if (meminfo_get_bytes(meminfo, "MemTotal", &total) < 0 ||
	    meminfo_get_bytes(meminfo, "MemAvailable", &avail) < 0)
		return false;
	*avail_mib = avail >> 20;
	return avail * 100 < total * MIN_AVAILABLE_PERCENT;
}

static bool host_short(uint64_t *avail_mib)
{
	char text[4096];

	return read_file("/proc/meminfo", text, sizeof text) >= 0 &&
	       mstandby_memory_short(text, avail_mib);
}

static bool wanted(const struct mw *w, bool want)
{
	if (!w->st.running)
		return false;
	return w->r.standby == STANDBY_YES ||
	       (w->r.standby == STANDBY_AUTO && w->setting == RECIPE_AUTO && want);
}

static void prepare(const struct managed_env *e, struct mw *w)
{
	bool vm = !w->st.vm;
	char why[512];
	int r;

	w->standby_since_usec = now_usec();
	r = vm ? mvm_prepare(e, w, why, sizeof why) : mrunc_prepare(e, w, why, sizeof why);
	if (r < 0) {
		mw_event(w, "standby: cannot prepare a %s: %.200s; tried again in %d s",
			 mode_word(vm), why, (int)(RETRY_USEC / USEC_PER_SEC));
		mstandby_drop(e, w);
		w->standby_retry_usec = now_usec() + RETRY_USEC;
		return;
	}
	if (!vm)
		mw_event(w, "standby: container created (pid %d)", (int)w->st.standby.pid);
}

/* A VM standby booting: paused once it waits for its link. */
static void settle(const struct managed_env *e, struct mw *w)
{
	char why[512];
	int r = mvm_standby_settle(w, why, sizeof why);

	if (r > 0) {
		w->st.standby.ready = true;
		mw_event(w, "standby: vm ready (pid %d, paused at its link)",
			 (int)w->st.standby.pid);
		return;
	}
	if (r == 0) {
		if (now_usec() - w->standby_since_usec < (uint64_t)(w->r.ready_timeout * 1e6))
			return;
		snprintf(why, sizeof why, "not at its link within ready_timeout (%.1f s)",
			 w->r.ready_timeout);
	}
	mw_event(w, "standby: the vm cannot serve as one: %.200s", why);
	mstandby_drop(e, w);
	w->standby_retry_usec = now_usec() + RETRY_USEC;
}

bool mstandby_step(const struct managed_env *e, struct mw *w, bool want)
{
	struct managed_standby *sb = &w->st.standby;
	uint64_t avail_mib = 0;
	bool short_of_memory;

	if (!sb->present && !wanted(w, want))
		return false;	/* most workloads, every round: nothing to read */
	short_of_memory = host_short(&avail_mib);
	if (sb->present && !standby_alive(w)) {
		mw_event(w, "standby: the %s (pid %d) is gone; the next switch boots cold "
			 "until another is ready", mode_word(sb->vm), (int)sb->pid);
		mstandby_drop(e, w);
		return true;
	}
	if (sb->present && short_of_memory) {
		mw_event(w, "standby: dropped, the host is short of memory (%llu MiB available)",
			 (unsigned long long)avail_mib);
		mstandby_drop(e, w);
		return true;
	}
	if (sb->present && !wanted(w, want)) {
		mw_event(w, "standby: dropped, no switch is expected");
		mstandby_drop(e, w);
		return true;
	}
	if (sb->present && sb->vm && !sb->ready) {
		settle(e, w);
		return true;
	}
	if (!sb->present && wanted(w, want) && !short_of_memory && now_usec() >= w->standby_retry_usec) {
		prepare(e, w);
		return true;
	}
	return false;
}

bool mstandby_booting(const struct mw *w)
{
	return w->st.standby.present && !w->st.standby.ready;
}

/* Sockets of the container's network namespace that still owe an answer:
 * established (accepted or not), half-open, or closing with data to send;
 * loopback ones aside. */
static int open_connections(pid_t pid)
{
	static const char *const files[] = { "tcp", "tcp6" };
	int count = 0;

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char path[64], line[256];
		_cleanup_fclose_ FILE *f = NULL;

		snprintf(path, sizeof path, "/proc/%d/net/%s", (int)pid, files[i]);
		f = fopen(path, "re");
		if (!f && errno == ENOENT)
			continue;	/* no IPv6 in it */
		if (!f)
			return -errno;
		while (fgets(line, sizeof line, f)) {
			char local[64];
			unsigned st;

			if (sscanf(line, " %*u: %63s %*s %x", local, &st) != 2)
				continue;	/* the header */
			if (startswith(local, "0100007F:") || startswith(local, "00000000000000000000000001000000:"))
				continue;
			/* ESTABLISHED, SYN_RECV, FIN_WAIT1, CLOSE_WAIT, LAST_ACK, CLOSING */
			if (st == 0x1 || st == 0x3 || st == 0x4 || st == 0x8 || st == 0x9 || st == 0xb)
				count++;
		}
	}
	return count;
}

/* Packets through the tap, both ways: what a guest's open connections make. */
static uint64_t tap_packets(const struct mw *w)
{
	static const char *const keys[] = { "rx_packets", "tx_packets" };
	uint64_t sum = 0;

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char path[128], text[32];

		snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", w->tapname, keys[i]);
		if (read_file(path, text, sizeof text) > 0)
			sum += strtoull(text, NULL, 10);
	}
	return sum;
}

/* New connections are refused: let the old instance finish the ones it has. */
static void drain(const struct mw *w)
{
	uint64_t start = now_usec(), quiet_since = start, seen = tap_packets(w);

	while (now_usec() - start < DRAIN_MAX_USEC) {
		if (!w->st.vm && open_connections(w->st.pid) <= 0)
			return;
		if (w->st.vm) {
			uint64_t p = tap_packets(w);

			if (p != seen) {
				seen = p;
				quiet_since = now_usec();
			} else if (now_usec() - quiet_since >= DRAIN_QUIET_USEC) {
				return;
			}
		}
		usleep(DRAIN_POLL_USEC);
	}
}

static int freeze(const struct managed_env *e, struct mw *w, bool frozen, char *why, size_t n)
{
	return w->st.vm ? mvm_freeze(w, frozen, why, n) : mrunc_freeze(e, w, frozen, why, n);
}

static const char *link_of(const struct mw *w)
{
	return w->st.vm ? w->tapname : w->ifname;
}

/* The old instance back in service after its successor failed. */
static void roll_back(const struct managed_env *e, struct mw *w)
{
	char why[512];

	mw_stop(e, w);
	swap_instances(w);
	w->st.standby = (struct managed_standby){0};
	w->other = (struct mw_proc){0};
	mnet_link_up(link_of(w), true);
	if (freeze(e, w, false, why, sizeof why) < 0)
		mw_event(w, "mode: cannot resume the %s: %.200s", mode_word(w->st.vm), why);
}

/* The refusal of new connections lifted; said if it stays (its own reason:
 * the switch's is kept for the switch). */
static void accept_again(const struct mw *w)
{
	char why[256];

	if (mnet_refuse_new(w, false, why, sizeof why) < 0)
		mw_event(w, "mode: new connections are still refused: %.200s", why);
}

int mstandby_switch(const struct managed_env *e, struct mw *w, char *why, size_t n)
{
	uint64_t t0 = now_usec(), t1, t2;
	bool refused;
	int r;

	if (!w->st.running || !w->st.standby.present || !standby_alive(w))
		return -EAGAIN;
	refused = mnet_refuse_new(w, true, why, n) == 0;
	if (refused)
		drain(w);
	else
		mw_event(w, "mode: new connections are not refused while it drains: %.200s", why);
	r = freeze(e, w, true, why, n);
	if (r < 0) {
		if (refused)
			accept_again(w);
		return -EAGAIN;		/* it still serves: a cold switch stops it */
	}
	mnet_link_up(link_of(w), false);	/* its bridge port forgets the MAC */
	t1 = now_usec();
	swap_instances(w);
	/* A VM runs at once: it takes a while before it listens, and a new
	 * connection refused here meanwhile is as good as one it refuses. */
	r = w->st.vm ? mvm_go(w, why, n) : mrunc_take_address(w, why, n);
	/* The address is the standby's: a new connection now reaches it and
	 * is refused there until it listens. */
	if (refused)
		accept_again(w);
	t2 = now_usec();
	if (r == 0 && !w->st.vm)
		r = mrunc_go(e, w, why, n);
	if (r == 0) {
		mw_save(w);	/* a daemon killed now leaves the new one to adopt */
		r = mready_wait(w, mw_alive, why, n);
	}
	if (r < 0) {
		roll_back(e, w);
		mw_save(w);
		return r;
	}
	mw_switched(w, t0, t1, t2, true);
	mstandby_drop(e, w);	/* the old one, quiesced: killed, never resumed */
	return 0;
}
