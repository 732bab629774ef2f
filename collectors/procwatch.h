/* New processes as the kernel's proc connector reports them (netlink), so
 * the QEMU backend looks at the few processes that could have become a
 * guest since its last look instead of walking /proc every sample. */
#pragma once

#include <sys/types.h>

enum procwatch_kind {
	PROCWATCH_EXEC,		/* pid exec'd a program */
	PROCWATCH_FORK,		/* pid is a new process (not a thread), forked by parent */
	PROCWATCH_COMM,		/* pid renamed itself */
};

struct procwatch_event {
	enum procwatch_kind kind;
	pid_t pid;
	pid_t parent;		/* PROCWATCH_FORK only */
};

typedef void (*procwatch_fn)(const struct procwatch_event *ev, void *userdata);

/* Subscribes and waits for the kernel's acknowledgement. Returns the
 * socket, or -errno when the kernel reports nothing to this process: no
 * CAP_NET_ADMIN, a network or pid namespace other than the initial one
 * (the acknowledgement never comes), no CONFIG_PROC_EVENTS. */
int procwatch_open(void);
/* Hands every event queued since the last call to fn (oldest first).
 * Returns 0; -ENOBUFS when the kernel dropped events because the socket
 * was full (whatever happened meanwhile is unknown); other -errno. */
int procwatch_drain(int fd, procwatch_fn fn, void *userdata);
void procwatch_close(int fd);
