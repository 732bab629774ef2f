/* Inside the managed-workload actuator: one workload, the configuration
 * its parts run with, and the parts (network, runc, QEMU, readiness). */
#pragma once

#include "managed.h"
#include "managed_state.h"

#include <limits.h>
#include <sys/types.h>

/* The [managed] keys, copied so that a reload never changes them under a
 * running start or switch. */
struct managed_env {
	char run_dir[256];		/* adaptfs.conf keeps it shorter */
	char bridge[16];
	char bridge_address[32];
	char bridge_mac[18];
	char kernel[PATH_MAX], initrd[PATH_MAX];
	char qemu[256], runc[256];
	char scope[256];		/* the cgroup subtree this adaptfs owns ("" = all) */
	double interval;		/* the sampler's: how often standbys are checked */
	bool kvm;
};

/* What is ours of one instance of a workload: the one running, or its
 * standby (the other mode's, prepared). A switch to the standby swaps them. */
struct mw_proc {
	pid_t qemu;			/* our child while it is a VM */
	bool adopted;			/* a QEMU an earlier adaptfs started */
	bool frozen;			/* quiesced for a switch: killed, never asked to stop */
};

struct mw {
	struct recipe r;
	char dir[512];			/* RUN_DIR/workloads/NAME */
	char id[64];			/* MANAGED_PREFIX NAME: runc id, netns, QEMU -name */
	char ifname[16];		/* host side of the container's veth */
	char tapname[16];		/* the VM's tap */
	enum recipe_mode setting;
	char cpus[MANAGED_CPUS_MAX];	/* its pin (placement cpus=), "" for none */
	struct managed_state st;	/* st.standby: the other instance */
	struct mw_proc run, other;
	bool want_standby;		/* the policy is about to switch it (M.lock) */
	uint64_t standby_since_usec;	/* when the standby was started */
	uint64_t standby_retry_usec;	/* no standby is prepared before */
	bool busy;			/* a start, stop or switch runs */
	bool stepping;			/* a standby step runs (the manager's) */
	bool gone;			/* its recipe was removed */
};

/* Each returns 0 or -errno with a reason for events in why. */
int mnet_bridge(const struct managed_env *e, char *why, size_t n);
/* The host side of a standby's link is left down (it holds the workload's
 * MAC too): it takes the address over with mnet_link_up. */
int mnet_veth(const struct managed_env *e, struct mw *w, bool up, char *why, size_t n);
int mnet_tap(const struct managed_env *e, struct mw *w, bool up, char *why, size_t n);
int mnet_link_up(const char *ifname, bool up);
/* A gratuitous ARP for the address from the container's eth0: the bridge
 * learns its new port before the first reply. */
int mnet_garp(const struct mw *w);
/* Refuse (on) or accept again new TCP connections to w's address. */
int mnet_refuse_new(const struct mw *w, bool on, char *why, size_t n);
void mnet_veth_down(struct mw *w);
void mnet_tap_down(struct mw *w);

int mrunc_start(const struct managed_env *e, struct mw *w, char *why, size_t n);
/* A standby: `runc create`, its init waiting, its link down (st.standby). */
int mrunc_prepare(const struct managed_env *e, struct mw *w, char *why, size_t n);
/* The running instance, a created standby until now: its link up with a
 * gratuitous ARP; then `runc start`. */
int mrunc_take_address(struct mw *w, char *why, size_t n);
int mrunc_go(const struct managed_env *e, struct mw *w, char *why, size_t n);
/* Freeze (runc pause) or thaw the running container. */
int mrunc_freeze(const struct managed_env *e, struct mw *w, bool frozen, char *why, size_t n);
void mrunc_stop(const struct managed_env *e, struct mw *w);
/* runc update --cpuset-cpus: the container (running or standby) pinned. */
int mrunc_pin(const struct managed_env *e, struct mw *w, const char *list, char *why, size_t n);
/* runc state: 0 and the init's pid if w's container runs, else -ENOENT. */
int mrunc_running(const struct managed_env *e, const struct mw *w, pid_t *pid);
/* The OCI config.json of w's container (jansson), exposed for tests. */
int mrunc_write_bundle(const struct mw *w, const char *path);

int mvm_start(const struct managed_env *e, struct mw *w, char *why, size_t n);
/* A standby: the guest boots with its link off up to the exec of the
 * command, where it waits for the link (st.standby). */
int mvm_prepare(const struct managed_env *e, struct mw *w, char *why, size_t n);
/* The standby booted to its wait: pause it (QMP stop). 1 when done, 0 while
 * it boots, -errno if it cannot be a standby. */
int mvm_standby_settle(struct mw *w, char *why, size_t n);
/* The running VM, a paused standby until now: its tap up, its link on
 * (QMP set_link) and running (cont). */
int mvm_go(struct mw *w, char *why, size_t n);
/* Pause (QMP stop) or resume the running VM. */
int mvm_freeze(struct mw *w, bool frozen, char *why, size_t n);
void mvm_stop(const struct managed_env *e, struct mw *w);
bool mvm_alive(struct mw *w);
/* What the guest's /init prints (adaptfs-mkinitrd(8)): before the exec of
 * the command, and as a standby when it waits for its link. */
#define VM_EXEC_MARKER "ADAPTFS-EXEC"
#define VM_STANDBY_MARKER "ADAPTFS-STANDBY"
bool mvm_console_has(const struct mw *w, const char *marker);
void mvm_exit_reason(const struct mw *w, char *why, size_t n);

/* managed_cgroup() of w: its container's (/ID) or its QEMU's (/ID.vm). */
void mcg_path(const struct mw *w, bool vm, char *out, size_t size);
/* QEMU's own cgroup /ID.vm in every hierarchy (managed_cgroup.c). */
int mcg_enter(const struct managed_env *e, const struct mw *w, pid_t pid, char *why, size_t n);
void mcg_remove(const struct managed_env *e, const struct mw *w);
/* Freeze or thaw the container's cgroup /ID as runc pause and resume do,
 * without starting runc: the v1 freezer, or cgroup2's cgroup.freeze. */
int mcg_freeze(const struct mw *w, bool frozen);

/* Pin every instance of w that exists (running, standby) to cpus (list:
 * the same, formatted); on failure each is as it was (managed_pin.c). */
int mpin_apply(const struct managed_env *e, struct mw *w, const cpu_set_t *cpus, const char *list,
	       char *why, size_t n);
/* Every thread of pid gets cpus, round after round until a round finds
 * none left: a thread made meanwhile by one not yet pinned is born with the
 * old affinity. -ERANGE where its cpuset allows none or only part of cpus
 * (the kernel would narrow them). */
int mpin_threads(pid_t pid, const cpu_set_t *cpus);

/* Wait until w passes its readiness checks, its engine dies (alive() false)
 * or ready_timeout passes. */
int mready_wait(struct mw *w, bool (*alive)(struct mw *w), char *why, size_t n);

/* managed.c's, for its parts: stop the running instance; whether it runs;
 * write the state file. */
void mw_stop(const struct managed_env *e, struct mw *w);
bool mw_alive(struct mw *w);
void mw_save(struct mw *w);
/* An event about w under the name it is shown as: NAME.adaptfs while a
 * discovered workload holds NAME (NAME until it is first shown). */
void mw_event(const struct mw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A switch done now: started at t0, the old side quiesced at t1, the new
 * side launched or given the address at t2 (w->st's split). */
void mw_switched(struct mw *w, uint64_t t0, uint64_t t1, uint64_t t2, bool warm);

/* Warm standby (managed_standby.c); w is busy (ours) in each. */
/* Check, prepare, settle or drop w's standby; true if its state changed.
 * want: w->want_standby, read under M.lock (the policy sets it any time). */
bool mstandby_step(const struct managed_env *e, struct mw *w, bool want);
/* A VM standby still booting: worth a check sooner than every interval. */
bool mstandby_booting(const struct mw *w);
void mstandby_drop(const struct managed_env *e, struct mw *w);
/* From /proc/meminfo's text: MemAvailable under 10% of MemTotal, when no
 * standby is kept (*avail_mib set). Pure. */
bool mstandby_memory_short(const char *meminfo, uint64_t *avail_mib);
/* Switch to the standby: 0 (times in w->st), -EAGAIN if there is none to
 * use (nothing changed), or -errno with the old instance serving again. */
int mstandby_switch(const struct managed_env *e, struct mw *w, char *why, size_t n);

/* Run argv (no shell), its output into why on failure. */
int mrun(const char *const argv[], char *why, size_t n);
