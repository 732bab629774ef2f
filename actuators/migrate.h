/* placement host=PEER: move a workload to a peer host with its engine's
 * own machinery over the peer's transport: QEMU live migration, LXC cold
 * (stop, tar, start there). Each move is journaled (journal.h). */
#pragma once

#include "actstate.h"
#include "config.h"
#include "engine.h"

#include <stdbool.h>
#include <stdint.h>

/* Where a container's CRIU images travel, inside its LXC directory. */
#define LXC_CHECKPOINT_DIR ".adaptfs-checkpoint"

struct migration {
	char name[256];		/* the workload's name: the guest's -name, the container's */
	char key[256];		/* its collector key: QEMU pid, or cgroup path */
	pid_t pid;		/* the key as a pid, for QEMU */
	const struct engine *engine;	/* one that can move */
	char host[64];		/* the peer */
	char address[128];
	char transport[1024];
	char libvirt_uri[512];	/* the peer's libvirtd, for libvirt's guests; "" if none */
};

/* Copy the [migration] settings and paths (state_dir, proc_root) from cfg
 * (at start and on SIGHUP); cgroups are found through actuator_layout(). */
void migrate_configure(const struct config *cfg);
/* Fill m's host, address, transport and libvirt_uri from the [host NAME]
 * section (as the peer prober has it); -EINVAL if there is none. */
int migrate_peer(const char *host, struct migration *m);
/* Move m. 0 or -errno; the reason is in events either way. */
int migrate_run(const struct migration *m);
/* Finish or undo what a killed daemon left in the journal. */
void migrate_recover(void);

/* Counters for host/stat. */
void migrate_get_stats(struct migrate_stats *out);

/* The move of the workload with collector key key: false if none runs. */
bool migrate_get_progress(const char *key, struct migrate_progress *out);

/* Internal, per engine: migrate_qemu.c and migrate_lxc.c. */
struct migrate_ctx {
	const struct migration *m;
	const char *state_dir;
	const char *proc_root;
	char id[300];		/* journal entry */
	struct migration_config settings;	/* [migration] for this move; no lxc_path */
	bool keep_journal;	/* outcome unknown: left for the next start */
	bool images;		/* LXC: stopped by a CRIU checkpoint */
	uint64_t total_usec, downtime_usec;	/* measured */
	char how[128];		/* "live", "cold (why not live)" */
	char why[640];		/* a failure's reason */
	struct migrate_progress progress;	/* the engine's; published by migrate_publish */
	struct migrate_progress shown;		/* what readers see, under migrate.c's lock */
	struct migrate_ctx *next;		/* in the list of moves under way */
	unsigned max_throttle_percent;
	bool postcopy;		/* switched: from here no way back */
};
/* Publish c->progress for NAME/migration; an events line when the phase
 * or the guest's throttling changed. */
void migrate_publish(struct migrate_ctx *c);
int migrate_qemu(struct migrate_ctx *c);
int migrate_lxc(struct migrate_ctx *c);
int migrate_libvirt(struct migrate_ctx *c);
/* Settle a journal entry left by a killed daemon; false: keep it. */
bool recover_qemu(const char *text, const char *proc_root);
bool recover_lxc(const char *text);
/* Shell-quote s into out ('...'), for commands run through a transport. */
void shell_quote(const char *s, char *out, size_t size);
