/* Running a command on a peer host: "TRANSPORT COMMAND" through /bin/sh,
 * in a process group of its own (a hung ssh is killed whole), talking over
 * its standard input and output. Every read has a deadline. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct transport_proc {
	pid_t pid;
	int in;			/* its standard input; -1 once closed */
	int out;		/* its standard output */
	char buf[4096];		/* read ahead of the current line */
	size_t len;
};

/* Start "transport cmd". stdin_fd >= 0 is given as its standard input
 * (p->in is then -1); else p->in is a pipe. Standard error goes to ours. */
int transport_spawn(const char *transport, const char *cmd, int stdin_fd, struct transport_proc *p);
/* Next line of its output without the newline. -ETIMEDOUT after
 * timeout_ms, -EPIPE at end of output. */
int transport_read_line(struct transport_proc *p, char *line, size_t size, int timeout_ms);
int transport_write(struct transport_proc *p, const char *buf, size_t len);
/* Close its input, wait up to timeout_ms for it to exit (then kill the
 * group). Returns its exit status, or -ETIMEDOUT if it had to be killed. */
int transport_finish(struct transport_proc *p, int timeout_ms);
/* Run to completion: the first line of output into line (may be NULL).
 * Returns the exit status, or -errno. */
int transport_run(const char *transport, const char *cmd, char *line, size_t size, int timeout_ms);
