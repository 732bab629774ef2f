/* adaptfs.conf(5): the daemon's INI configuration, loaded with libinih. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum cpu_mode { CPU_MODE_AUTO, CPU_MODE_VM, CPU_MODE_CONTAINER };

struct class_config {
	unsigned window;		/* samples averaged before classifying */
	double hysteresis;		/* a new class must beat the current by this factor */
	double cpu_percent;		/* usage_percent that scores 1.0 for cpu */
	double io_bytes_per_sec;	/* block read+write rate that scores 1.0 for io */
	double io_wait_percent;		/* io.wait_percent that scores 1.0 for io */
	double net_bytes_per_sec;	/* net rx+tx rate that scores 1.0 for net */
	double major_faults_per_sec;	/* major fault rate that scores 1.0 for memory */
	enum cpu_mode cpu_mode;		/* recommended mode for class cpu */
};

struct prefetch_config {
	bool enabled;			/* default for containers */
	char **patterns;		/* workload names that default to on */
	size_t n_patterns;
	double margin_bytes;		/* headroom kept free below the limit */
	double cooldown_ms;		/* per container, between two prefetches */
	double max_bytes_per_sec;	/* per container rate limit */
	double max_bytes_per_trigger;	/* a read-back's cap; 0: none */
	double defer_ms;		/* a page-in turned down for room waits this long for it */
	double poll_ms;			/* fault detection period */
	double window_ms;		/* faults this soon after a trigger follow it */
	double min_faults;		/* fewer in a burst, while pushed to swap: no trigger */
	double thrash_full_avg10;	/* PSI memory full above this: thrashing */
};

/* [migration]: moving workloads to and from peers. */
enum converge { CONVERGE_NONE, CONVERGE_AUTO, CONVERGE_POSTCOPY };
struct migration_config {
	char *lxc_path;			/* where containers moved here are unpacked */
	double timeout;			/* seconds a migration may take in all */
	double downtime_ms;		/* QEMU's allowed stop-and-copy downtime */
	double max_bandwidth;		/* bytes/s a QEMU migration may use; 0: the link's */
	enum converge converge;		/* what makes a guest that outruns the link move */
	double postcopy_after;		/* seconds of pre-copy before post-copy */
};

/* [managed]: workloads adaptfs starts from recipes (adaptfs-workloads(5)). */
struct managed_config {
	char *recipes;			/* directory of NAME.conf recipes */
	char *run_dir;			/* bundles, sockets, logs, state files */
	char *bridge;			/* bridge the workloads' interfaces join */
	char *bridge_address;		/* A.B.C.D/LEN given to a bridge we create; "" none */
	char *bridge_mac;		/* fixed, or it changes with its ports */
	char *kernel, *initrd;		/* what a managed VM boots */
	char *qemu, *runc;		/* programs, looked up in PATH */
};

/* [policy]: the auto policy (actuators/policy.h). Times in seconds. */
struct policy_config {
	bool enabled;			/* run the policy thread at all */
	double interval;		/* between two decisions */
	double stable;			/* a class must hold this long before a mode switch */
	double cooldown;		/* after an action on a workload (or its arrival) */
	double overload;		/* over-packed: demand > cores * overload */
	double min_gain;		/* a move must cut the overload by this many cores */
	double settle;			/* a move's demand counts against the peer this long */
};

/* [libvirt]: libvirt's guests, acted on through libvirt (virsh). */
struct libvirt_config {
	char *uri;			/* this host's libvirtd */
	char *virsh;			/* the program, looked up in PATH */
};

/* [host NAME]: a peer host placement may move workloads to. */
struct peer {
	char *name;
	char *address;
	char *transport;	/* command prefix that runs a command there */
	char *libvirt_uri;	/* its libvirtd, as this host's libvirtd reaches it; NULL: none */
};

struct config {
	char *path;
	char *host_name;		/* this host in placement (default: hostname) */
	char *group;			/* may write control files too; NULL: root only */
	double interval;		/* seconds between snapshots */
	double rescan_interval;		/* seconds between full discovery walks */
	bool io_uring;			/* serve FUSE over io_uring where offered */
	char *cgroup_root;
	char *proc_root;
	char *run_root;
	char *state_dir;
	char *scope;			/* cgroup subtree this host owns ("" = all) */
	char **patterns;		/* extra cgroup globs, relative to the hierarchy */
	size_t n_patterns;
	struct class_config class;
	struct prefetch_config prefetch;
	struct peer *peers;
	size_t n_peers;
	struct migration_config migration;
	struct managed_config managed;
	struct policy_config policy;
	struct libvirt_config libvirt;
};

#define CONFIG_DEFAULT_PATH "/etc/adaptfs/adaptfs.conf"

/* Defaults, then the file at path if given. A missing file is an error only
 * when required. On error, err holds "FILE:LINE: reason" for the user. */
int config_load(struct config *cfg, const char *path, bool required, char *err, size_t errlen);
void config_free(struct config *cfg);
