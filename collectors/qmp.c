#include "qmp.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define OPEN_RETRY_USEC 10000

int qmp_parse_message(const char *buf, size_t len, json_t **msg, size_t *used)
{
	const char *nl = memchr(buf, '\n', len);
	json_error_t err;

	if (!nl)
		return len > QMP_MAX_MESSAGE ? -EPROTO : -EAGAIN;
	if ((size_t)(nl - buf) > QMP_MAX_MESSAGE)
		return -EPROTO;
	*msg = json_loadb(buf, (size_t)(nl - buf), 0, &err);
	if (!*msg || !json_is_object(*msg)) {
		json_decref(*msg);
		*msg = NULL;
		return -EPROTO;
	}
	*used = (size_t)(nl - buf) + 1;
	return 0;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = now_usec();

	return now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
}

/* Next message that is not an asynchronous event. */
static int qmp_receive(struct qmp *q, json_t **msg, uint64_t deadline)
{
	for (;;) {
		size_t used;
		int r = q->in.len ? qmp_parse_message(q->in.buf, q->in.len, msg, &used) : -EAGAIN;

		if (r == 0) {
			memmove(q->in.buf, q->in.buf + used, q->in.len - used);
			q->in.len -= used;
			if (json_object_get(*msg, "event")) {
				json_decref(*msg);
				/* a failure next must not leave the caller a freed
				 * message (qmp_open releases its greeting either way) */
				*msg = NULL;
				continue;
			}
			return 0;
		}
		if (r != -EAGAIN)
			return r;

		struct pollfd pfd = { q->fd, POLLIN, 0 };
		char buf[4096];
		ssize_t n;

		r = poll(&pfd, 1, remaining_ms(deadline));
		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return errno == EINTR ? -ETIMEDOUT : -errno;
		n = read(q->fd, buf, sizeof buf);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		strbuf_append(&q->in, buf, (size_t)n);
	}
}

static int qmp_send(struct qmp *q, const char *text, uint64_t deadline)
{
	size_t len = strlen(text), off = 0;

	while (off < len) {
		struct pollfd pfd = { q->fd, POLLOUT, 0 };
		ssize_t n;

		if (poll(&pfd, 1, remaining_ms(deadline)) <= 0)
			return -ETIMEDOUT;
		n = send(q->fd, text + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n > 0)
			off += (size_t)n;
	}
	return 0;
}

static int qmp_call(struct qmp *q, const char *command, json_t *args, json_t **ret, uint64_t deadline)
{
	json_t *req = json_pack("{s:s}", "execute", command), *reply = NULL;
	char *text;
	int r;

	if (args)
		json_object_set(req, "arguments", args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return -ENOMEM;
	r = qmp_send(q, text, deadline);
	free(text);
	if (r == 0)
		r = qmp_send(q, "\n", deadline);
	if (r == 0)
		r = qmp_receive(q, &reply, deadline);
	if (r < 0)
		return r;
	if (json_object_get(reply, "error")) {
		r = -EREMOTEIO;
	} else if (!json_object_get(reply, "return")) {
		r = -EPROTO;
	} else if (ret) {
		*ret = json_incref(json_object_get(reply, "return"));
	}
	json_decref(reply);
	return r;
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	json_t *greeting = NULL;
	int r;

	qmp_close(q);
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (q->fd < 0)
		return -errno;
	/* A unix connect does not wait for accept(): a full backlog says EAGAIN. */
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		r = -errno;
		qmp_close(q);
		return r;
	}
	r = qmp_receive(q, &greeting, deadline);
	if (r == 0 && !json_object_get(greeting, "QMP"))
		r = -EPROTO;
	json_decref(greeting);
	if (r == 0)
		r = qmp_call(q, "qmp_capabilities", NULL, NULL, deadline);
	if (r < 0)
		qmp_close(q);
	return r;
}

int qmp_open_wait(struct qmp *q, const char *path, int timeout_ms, int wait_ms)
{
	uint64_t end = now_usec() + (uint64_t)wait_ms * 1000;
	int r;

	while ((r = qmp_open(q, path, timeout_ms)) < 0 && now_usec() < end)
		usleep(OPEN_RETRY_USEC);
	return r;
}

int qmp_execute(struct qmp *q, const char *command, json_t *args, json_t **ret, int timeout_ms)
{
	if (q->fd < 0)
		return -ENOTCONN;
	return qmp_call(q, command, args, ret, now_usec() + (uint64_t)timeout_ms * 1000);
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	strbuf_free(&q->in);
}
