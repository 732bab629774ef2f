#include "transport.h"
#include "spawn.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

int transport_spawn(const char *transport, const char *cmd, int stdin_fd, struct transport_proc *p)
{
	int in[2] = { -1, -1 }, out[2];
	_cleanup_free_ char *line = NULL;

	if (asprintf(&line, "%s %s", transport, cmd) < 0)
		return -ENOMEM;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (stdin_fd < 0 && pipe2(in, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -errno;
	}
	*p = (struct transport_proc){ .in = in[1], .out = out[0] };
	p->pid = fork();
	if (p->pid < 0) {
		int e = errno;

		close(out[0]);
		close(out[1]);
		if (in[0] >= 0) {
			close(in[0]);
			close(in[1]);
		}
		return -e;
	}
	if (p->pid == 0) {
		dup2(stdin_fd >= 0 ? stdin_fd : in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		setpgid(0, 0);
		spawn_child_reset();
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	setpgid(p->pid, p->pid);	/* no race with the child's own call */
	close(out[1]);
	if (in[0] >= 0)
		close(in[0]);
	return 0;
}

int transport_read_line(struct transport_proc *p, char *line, size_t size, int timeout_ms)
{
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;

	for (;;) {
		char *nl = memchr(p->buf, '\n', p->len);
		struct pollfd pfd = { p->out, POLLIN, 0 };
		uint64_t now;
		ssize_t n;

		if (nl) {
			size_t n_line = (size_t)(nl - p->buf);

			snprintf(line, size, "%.*s", (int)n_line, p->buf);
			p->len -= n_line + 1;
			memmove(p->buf, nl + 1, p->len);
			return 0;
		}
		if (p->len == sizeof p->buf)
			p->len = 0;	/* a line longer than we care for: drop it */
		now = now_usec();
		if (now >= deadline)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)((deadline - now + 999) / 1000));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		n = read(p->out, p->buf + p->len, sizeof p->buf - p->len);
		if (n == 0)
			return -EPIPE;
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
		if (n > 0)
			p->len += (size_t)n;
	}
}

int transport_write(struct transport_proc *p, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(p->in, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int transport_finish(struct transport_proc *p, int timeout_ms)
{
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	int status = 0;
	pid_t r;

	if (p->in >= 0)
		close(p->in);
	p->in = -1;
	while ((r = waitpid(p->pid, &status, WNOHANG)) == 0 && now_usec() < deadline) {
		struct pollfd pfd = { p->out, POLLIN, 0 };
		char sink[512];

		/* keep its output flowing so it can exit */
		if (poll(&pfd, 1, 10) > 0 && read(p->out, sink, sizeof sink) == 0)
			usleep(1000);
	}
	kill(-p->pid, SIGKILL);	/* what is left of the group */
	if (r == 0)
		waitpid(p->pid, &status, 0);
	close(p->out);
	p->out = -1;
	if (r == 0)
		return -ETIMEDOUT;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int transport_run(const char *transport, const char *cmd, char *line, size_t size, int timeout_ms)
{
	struct transport_proc p;
	uint64_t start = now_usec();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), r;
	int left;

	if (null < 0)
		return -errno;
	r = transport_spawn(transport, cmd, null, &p);
	close(null);
	if (r < 0)
		return r;
	if (line) {
		line[0] = '\0';
		transport_read_line(&p, line, size, timeout_ms);
	}
	left = timeout_ms - (int)((now_usec() - start) / 1000);
	return transport_finish(&p, left > 0 ? left : 0);
}
