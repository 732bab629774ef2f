/* Run a program (no shell) and wait for it, bounded by a deadline. */
#pragma once

#include <sys/types.h>

/* argv[0] is looked up in PATH. fds < 0 mean /dev/null. Output past out's
 * size is dropped; out (if not NULL) is NUL-terminated. Returns the exit
 * status, 128 + signal, or -errno (-ETIMEDOUT: killed at the deadline). */
int spawn_wait(const char *const argv[], int stdin_fd, char *out, size_t size, int timeout_ms);
/* The same with stdout and stderr both into out (for error messages). */
int spawn_run(const char *const argv[], char *out, size_t size, int timeout_ms);
/* Start argv with fds as its stdin/stdout (< 0: /dev/null); its pid. */
pid_t spawn_start(const char *const argv[], int stdin_fd, int stdout_fd);
/* Start argv with stdin /dev/null and stdout and stderr to log_fd. */
pid_t spawn_start_log(const char *const argv[], int log_fd);
/* The same in a session of its own, for a program that outlives the daemon:
 * a ^C on the daemon's terminal or a signal to its process group misses it. */
pid_t spawn_start_detached(const char *const argv[], int log_fd);
/* Wait for pid up to timeout_ms, then SIGKILL it. Status as spawn_wait;
 * -ECHILD for a pid that is not a child (it is not killed). */
int spawn_reap(pid_t pid, int timeout_ms);

/* Raise the daemon's soft limit of open files to the hard one (it holds a
 * directory per sampled thread); the new soft limit. Programs started
 * later get the old one back (spawn_child_reset). */
long spawn_raise_fd_limit(void);
/* In a forked child before exec, its stdin, stdout and stderr in place:
 * default SIGPIPE, no blocked signals (the daemon's threads block SIGHUP,
 * SIGTERM and SIGINT), the file limit the daemon was started with, and no
 * other open file. */
void spawn_child_reset(void);
