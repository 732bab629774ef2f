/* Readiness: a TCP connect from the host to the workload's address and
 * port, and/or a command that exits 0; without either, the engine's own
 * word (runc started it; the VM's /init reached the exec). */
#include "managed_impl.h"
#include "spawn.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#define POLL_USEC 50000
#define PORT_POLL_USEC 10000	/* a refused connect is cheap; a switch waits for it */
#define CONNECT_TIMEOUT_MS 200

static bool tcp_answers(const char *address, unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd pfd = { fd, POLLOUT, 0 };
	int err = 0;
	socklen_t len = sizeof err;

	if (fd < 0 || inet_pton(AF_INET, address, &sa.sin_addr) != 1)
		return false;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
		return true;
	if (errno != EINPROGRESS || poll(&pfd, 1, CONNECT_TIMEOUT_MS) != 1)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

static bool command_passes(const struct mw *w, int timeout_ms)
{
	char name[96], address[48];
	const char *argv[] = { "env", name, address, "/bin/sh", "-c", w->r.ready_command, NULL };

	snprintf(name, sizeof name, "ADAPTFS_NAME=%s", w->r.name);
	snprintf(address, sizeof address, "ADAPTFS_ADDRESS=%s", w->r.address);
	return spawn_wait(argv, -1, NULL, 0, timeout_ms) == 0;
}

static bool ready(const struct mw *w, int timeout_ms)
{
	if (w->r.ready_port && !tcp_answers(w->r.address, w->r.ready_port))
		return false;
	if (w->r.ready_command && !command_passes(w, timeout_ms))
		return false;
	if (!w->r.ready_port && !w->r.ready_command && w->st.vm)
		return mvm_console_has(w, VM_EXEC_MARKER);
	return true;
}

int mready_wait(struct mw *w, bool (*alive)(struct mw *w), char *why, size_t n)
{
	uint64_t end = now_usec() + (uint64_t)(w->r.ready_timeout * 1e6);

	for (;;) {
		uint64_t now = now_usec();

		if (!alive(w)) {
			if (w->st.vm)
				mvm_exit_reason(w, why, n);
			else
				snprintf(why, n, "the container's command exited (see %s/runc.log)", w->dir);
			return -EIO;
		}
		if (ready(w, now < end ? (int)((end - now) / 1000) + 1 : 1))
			return 0;
		if (now_usec() >= end) {
			snprintf(why, n, "not ready within %.1f s", w->r.ready_timeout);
			return -ETIMEDOUT;
		}
		usleep(w->r.ready_command ? POLL_USEC : PORT_POLL_USEC);
	}
}
