#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static struct rlimit fd_limit_at_start;
static bool fd_limit_raised;

long spawn_raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return 1024;
	fd_limit_at_start = r;
	r.rlim_cur = r.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &r) < 0)
		return (long)fd_limit_at_start.rlim_cur;
	fd_limit_raised = true;
	return (long)r.rlim_cur;
}

void spawn_child_reset(void)
{
	sigset_t none;

	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A program that select()s or closes every fd up to the limit would
	 * not expect the daemon's. */
	if (fd_limit_raised)
		setrlimit(RLIMIT_NOFILE, &fd_limit_at_start);
	/* Only stdin, stdout and stderr: a file the daemon opened without
	 * O_CLOEXEC, or one it was started with (a test runner's pipe), would
	 * be held open for as long as a QEMU or runc lives. */
	close_range(3, ~0U, 0);
}

/* stderr_fd < 0: the daemon's stderr. */
static pid_t spawn_fds(const char *const argv[], int stdin_fd, int stdout_fd, int stderr_fd,
		       bool session)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid < 0 ? -errno : pid;
	int null = open("/dev/null", O_RDWR);

	if (session)
		setsid();
	dup2(stdin_fd >= 0 ? stdin_fd : null, STDIN_FILENO);
	dup2(stdout_fd >= 0 ? stdout_fd : null, STDOUT_FILENO);
	if (stderr_fd >= 0)
		dup2(stderr_fd, STDERR_FILENO);
	spawn_child_reset();
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

pid_t spawn_start(const char *const argv[], int stdin_fd, int stdout_fd)
{
	return spawn_fds(argv, stdin_fd, stdout_fd, -1, false);
}

pid_t spawn_start_log(const char *const argv[], int log_fd)
{
	return spawn_fds(argv, -1, log_fd, log_fd, false);
}

pid_t spawn_start_detached(const char *const argv[], int log_fd)
{
	return spawn_fds(argv, -1, log_fd, log_fd, true);
}

static int decode(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int spawn_reap(pid_t pid, int timeout_ms)
{
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return decode(status);
		if (r < 0 && errno != EINTR)
			return -errno;	/* not ours to kill: its pid may be another's now */
		if (now_usec() >= deadline)
			break;
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

static int wait_output(const char *const argv[], int stdin_fd, bool with_stderr, char *out,
		       size_t size, int timeout_ms)
{
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	int fds[2] = { -1, -1 };
	size_t len = 0;
	pid_t pid;

	if (out && size)
		out[0] = '\0';	/* a caller reads it on every failure */
	if (out && pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = spawn_fds(argv, stdin_fd, fds[1], with_stderr ? fds[1] : -1, false);
	if (fds[1] >= 0)
		close(fds[1]);
	if (pid < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		return pid;
	}
	while (out && now_usec() < deadline) {
		struct pollfd pfd = { fds[0], POLLIN, 0 };
		char sink[256];
		ssize_t n;

		if (poll(&pfd, 1, (int)((deadline - now_usec()) / 1000) + 1) <= 0)
			break;
		n = len + 1 < size ? read(fds[0], out + len, size - 1 - len) : read(fds[0], sink, sizeof sink);
		if (n <= 0)
			break;
		if (len + 1 < size)
			len += (size_t)n;
	}
	if (out) {
		out[len] = '\0';
		close(fds[0]);
	}
	uint64_t now = now_usec();

	return spawn_reap(pid, now < deadline ? (int)((deadline - now) / 1000) : 0);
}

int spawn_wait(const char *const argv[], int stdin_fd, char *out, size_t size, int timeout_ms)
{
	return wait_output(argv, stdin_fd, false, out, size, timeout_ms);
}

int spawn_run(const char *const argv[], char *out, size_t size, int timeout_ms)
{
	return wait_output(argv, -1, true, out, size, timeout_ms);
}
