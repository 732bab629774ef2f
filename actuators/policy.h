/* The auto policy: the first paper's rules as a pure function of what the
 * sampler saw. Run each workload in the mode where it runs best (class cpu
 * -> vm where VMs run CPU work well, class net -> container), and never let
 * a host run more parallelism than it has cores (move workloads to the peer
 * with the most spare cores, keeping workloads that talk to each other
 * together). Only workloads set to auto are acted on; all of them count
 * towards a host's demand. */
#pragma once

#include "config.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct policy_wl {
	const char *name;
	double parallelism;		/* threads.parallelism: CPUs it keeps busy */
	double wait;			/* sched_wait.wait_percent / 100: CPUs more it waited for */
	bool is_auto;			/* the policy may act on it */
	bool can_move;			/* its engine can move to a peer */
	bool switchable;		/* it has a container and a VM mode (managed) */
	bool vm;			/* its mode now */
	enum wl_class class;
	uint64_t class_since_usec;	/* its class has been what it is since */
	uint64_t last_action_usec;	/* its last action here, or its arrival */
	int group;			/* workloads that talk share a group id; < 0: none */
};

struct policy_peer {
	const char *name;
	bool reachable;
	int cores;			/* 0: unknown */
	double demand;			/* what runs there as far as we know */
};

struct policy_input {
	const struct policy_config *cfg;
	const struct class_config *class_cfg;	/* cpu_mode: where a VM runs CPU work best */
	bool kvm;			/* hardware virtualization runs guests here */
	uint64_t now_usec;
	int cores;			/* this host's */
	const struct policy_wl *wl;
	size_t n;
	const struct policy_peer *peers;
	size_t n_peers;
};

enum policy_verb { POLICY_MOVE, POLICY_MODE };

struct policy_decision {
	enum policy_verb verb;
	size_t wl;			/* index into input.wl */
	size_t peer;			/* MOVE: index into input.peers */
	bool vm;			/* MODE: the mode to switch to */
	char reason[320];
};

/* A workload's demand on its host: the CPUs it used plus those it waited for. */
double policy_wl_demand(const struct policy_wl *w);
/* The decisions for in, into out (at most max); returns how many. Mode
 * switches for switchable auto workloads whose class has been stable, then
 * at most one move (a workload, or a group whole) per call: the next call
 * sees its effect. */
size_t policy_decide(const struct policy_input *in, struct policy_decision *out, size_t max);
/* Whether w's class points at its other mode, stable or not yet: a switch
 * may come, so its standby is worth preparing. */
bool policy_switch_ahead(const struct policy_input *in, const struct policy_wl *w);
