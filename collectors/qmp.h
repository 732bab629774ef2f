/* A QMP client that never stalls the sampler: a non-blocking unix socket,
 * every exchange bounded by a deadline, replies parsed with jansson. */
#pragma once

#include "strbuf.h"

#include <jansson.h>
#include <stddef.h>

#define QMP_MAX_MESSAGE (1 << 20)

struct qmp {
	int fd;
	struct strbuf in;	/* bytes received, not yet parsed */
};

#define QMP_INIT { .fd = -1 }

/* Connect, read the greeting, negotiate capabilities. 0 or -errno
 * (-ETIMEDOUT when the peer does not answer in time). */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);
/* The same, tried again for up to wait_ms (0: once) while QEMU has not made
 * its socket yet or another client holds it. */
int qmp_open_wait(struct qmp *q, const char *path, int timeout_ms, int wait_ms);
/* Run one command; args is borrowed (the caller still owns it), *ret
 * gets the "return" value (a new reference, the caller's to release).
 * -EREMOTEIO on an error reply, -ETIMEDOUT, -EPROTO on garbage. */
int qmp_execute(struct qmp *q, const char *command, json_t *args, json_t **ret, int timeout_ms);
void qmp_close(struct qmp *q);

/* Pure: parse the first complete message (one JSON object ending in a
 * newline) of buf. 0 with *msg and *used set; -EAGAIN if incomplete;
 * -EPROTO if it is not a JSON object or longer than QMP_MAX_MESSAGE. */
int qmp_parse_message(const char *buf, size_t len, json_t **msg, size_t *used);
