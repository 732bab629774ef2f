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
	bool kvm;
};

struct mw {
	struct recipe r;
	char dir[512];			/* RUN_DIR/workloads/NAME */
	char id[64];			/* MANAGED_PREFIX NAME: runc id, netns, QEMU -name */
	char ifname[16];		/* host side: veth (container) or tap (VM) */
	enum recipe_mode setting;
	struct managed_state st;
	pid_t qemu;			/* our child while it runs as a VM */
	bool adopted;			/* its QEMU was started by an earlier adaptfs */
	bool busy;			/* a start, stop or switch runs */
	bool gone;			/* its recipe was removed */
};

/* Each returns 0 or -errno with a reason for events in why. */
int mnet_bridge(const struct managed_env *e, char *why, size_t n);
int mnet_veth(const struct managed_env *e, struct mw *w, char *why, size_t n);
int mnet_tap(const struct managed_env *e, struct mw *w, char *why, size_t n);
void mnet_down(struct mw *w);

int mrunc_start(const struct managed_env *e, struct mw *w, char *why, size_t n);
void mrunc_stop(const struct managed_env *e, struct mw *w);
/* runc state: 0 and the init's pid if w's container runs, else -ENOENT. */
int mrunc_running(const struct managed_env *e, const struct mw *w, pid_t *pid);
/* The OCI config.json of w's container (jansson), exposed for tests. */
int mrunc_write_bundle(const struct mw *w, const char *path);

int mvm_start(const struct managed_env *e, struct mw *w, char *why, size_t n);
void mvm_stop(const struct managed_env *e, struct mw *w);
bool mvm_alive(struct mw *w);
void mvm_exit_reason(const struct mw *w, char *why, size_t n);

/* QEMU's own cgroup /ID in every hierarchy (managed_cgroup.c). */
int mcg_enter(const struct managed_env *e, const struct mw *w, pid_t pid, char *why, size_t n);
void mcg_remove(const struct managed_env *e, const struct mw *w);

/* Wait until w passes its readiness checks, its engine dies (alive() false)
 * or ready_timeout passes. */
int mready_wait(struct mw *w, bool (*alive)(struct mw *w), char *why, size_t n);

/* Run argv (no shell), its output into why on failure. */
int mrun(const char *const argv[], char *why, size_t n);
