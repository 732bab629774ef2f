/* The destination QEMU of a live migration runs the source's command line
 * with -incoming. What belongs to the source's host (its sockets, pid file,
 * logs) moves into the destination's run directory; the rest (machine,
 * devices, disks on shared storage, taps by name) stays the same. */
#pragma once

#include <stddef.h>

/* The receiver's private QMP socket in the run directory. */
#define QEMU_CTL_SOCKET "adaptfs-ctl.sock"

struct argv_list {
	char **v;
	size_t n, cap;
};

/* Build out from the source's argv (in): per-host files into run_dir,
 * -daemonize and -pidfile run_dir/qemu.pid added, any old -incoming
 * dropped, -incoming uri and -qmp run_dir/QEMU_CTL_SOCKET added. Pure. 0, or -EINVAL for an argv that is
 * not a QEMU command line (empty). */
int qemu_argv_incoming(const struct argv_list *in, const char *run_dir, const char *uri,
		       struct argv_list *out);
void argv_list_add(struct argv_list *l, const char *s);
void argv_list_free(struct argv_list *l);
