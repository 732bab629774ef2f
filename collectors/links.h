/* Which containers talk to each other: TCP connections between their
 * addresses, read from /proc/PID/net/{tcp,tcp6} of a process of each
 * container (per network namespace). The policy keeps such groups on one
 * host. VMs' addresses are not known to the host: they are in no group. */
#pragma once

#include "cgroup.h"
#include "snapshot.h"

#include <stddef.h>
#include <stdint.h>

/* An IPv6 address; IPv4 as v4-mapped (::ffff:a.b.c.d). */
struct link_addr {
	uint8_t b[16];
};

struct link_addrs {
	struct link_addr *v;
	size_t n, cap;
};
void link_addrs_free(struct link_addrs *l);

/* Remote addresses of the connections in /proc/net/tcp (v6 = false) or tcp6
 * text that are ESTABLISHED or TIME_WAIT (closed within a minute: clients
 * that open a connection per request are seldom seen established). -EINVAL
 * for a malformed line. */
int links_parse_tcp(const char *text, bool v6, struct link_addrs *remote);
/* The namespace's own addresses: "/32 host LOCAL" entries of
 * /proc/net/fib_trie, and /proc/net/if_inet6; loopback left out. */
int links_parse_fib_trie(const char *text, struct link_addrs *local);
int links_parse_if_inet6(const char *text, struct link_addrs *local);

/* Union of workloads i, j where one's remote is the other's local: group[i]
 * = the smallest index of its group, -1 for a workload that talks to none. */
void links_group(size_t n, const struct link_addrs *local, const struct link_addrs *remote,
		 int *group);

/* The groups of s's workloads (group[i] for s->wl[i]): reads the proc files
 * (under proc_root) of one process of each container (found through L;
 * NULL: none) that has a network namespace of its own. */
void links_collect(const struct cgroup_layout *L, const char *proc_root, const struct snapshot *s,
		   int *group);
