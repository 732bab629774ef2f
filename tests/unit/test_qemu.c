/* What a QEMU command line says about a guest (qemu_cmdline_parse), QMP
 * message framing (qmp_parse_message): valid, error, truncated and huge, and
 * qmp_open against a peer that breaks the protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qemu.h"
#include "qmp.h"
#include "testutil.h"

/* Build a NUL-separated argv blob like /proc/PID/cmdline from a NULL-terminated list. */
static size_t argv_blob(char *buf, size_t size, const char *const *args)
{
	size_t len = 0;

	for (; *args; args++) {
		size_t l = strlen(*args) + 1;

		assert_true(len + l <= size);
		memcpy(buf + len, *args, l);
		len += l;
	}
	return len;
}

static void cmdline_gives_name_qmp_taps_and_balloon(void **state)
{
	static const char *const args[] = {
		"qemu-system-x86_64", "-M", "microvm", "-name", "web,debug-threads=on",
		"-qmp", "unix:/run/vm/web.qmp,server=on,wait=off",
		"-netdev", "tap,id=n0,ifname=tapweb0,script=no", "-device", "virtio-net-device,netdev=n0",
		"-device", "virtio-balloon-device,id=balloon0", NULL,
	};
	char buf[1024];
	struct qemu_cmdline c;

	(void)state;
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, args), &c), 0);
	assert_string_equal(c.name, "web");
	assert_string_equal(c.qmp, "/run/vm/web.qmp");
	assert_int_equal(c.n_taps, 1);
	assert_string_equal(c.taps[0], "tapweb0");
	assert_string_equal(c.balloon, "balloon0");
	assert_false(c.libvirt);
}

static void cmdline_understands_libvirt_and_chardev_monitors(void **state)
{
	static const char *const args[] = {
		"/usr/bin/qemu-system-x86_64", "-name", "guest=db,debug-threads=on",
		"-chardev", "socket,id=charmonitor,path=/var/lib/libvirt/qemu/domain-1-db/monitor.sock,server=on,wait=off",
		"-mon", "chardev=charmonitor,id=monitor,mode=control", NULL,
	};
	char buf[1024];
	struct qemu_cmdline c;

	(void)state;
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, args), &c), 0);
	assert_string_equal(c.name, "db");
	assert_true(c.libvirt);
	assert_string_equal(c.qmp, "/var/lib/libvirt/qemu/domain-1-db/monitor.sock");
}

/* QEMU doubles a comma inside an option value: libvirt names domains freely. */
static void cmdline_unescapes_doubled_commas(void **state)
{
	static const char *const a1[] = { "qemu", "-name", "guest=db,,b,debug-threads=on", NULL };
	static const char *const a2[] = { "qemu", "-name", "a,,b,,,debug-threads=on",
					   "-qmp", "unix:/tmp/x,,y.sock,server=on", NULL };
	char buf[256];
	struct qemu_cmdline c;

	(void)state;
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, a1), &c), 0);
	assert_string_equal(c.name, "db,b");
	assert_true(c.libvirt);
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, a2), &c), 0);
	assert_string_equal(c.name, "a,b,");
	assert_string_equal(c.qmp, "/tmp/x,y.sock");
}

/* A name or QMP path longer than its field is dropped, never cut: a cut
 * path could be another guest's socket. */
static void cmdline_drops_too_long_name_and_qmp(void **state)
{
	char name[300], qmp[320], qmp_opt[360], qmp_path[340];
	const char *args[] = { "qemu-system-x86_64", "-name", name, "-qmp", qmp, NULL };
	const char *args2[] = { "qemu-system-x86_64", "-qmp", qmp_opt, NULL };
	char buf[2048];
	struct qemu_cmdline c;

	(void)state;
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	snprintf(qmp, sizeof qmp, "unix:/run/%0290d", 7);
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, args), &c), 0);
	assert_string_equal(c.name, "");
	assert_string_equal(c.qmp, "");
	snprintf(qmp_path, sizeof qmp_path, "/run/%0290d", 7);
	snprintf(qmp_opt, sizeof qmp_opt, "unix:path=%s,server=on", qmp_path);
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, args2), &c), 0);
	assert_string_equal(c.qmp, "");
}

static void cmdline_old_qmp_spelling_and_no_name(void **state)
{
	static const char *const args[] = {
		"qemu-system-x86_64", "-qmp", "unix:/tmp/q.sock,server,nowait", "-name", NULL,
	};
	char buf[256];
	struct qemu_cmdline c;

	(void)state;
	/* "-name" as the last argument has no value: ignored, not read past the end */
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, args), &c), 0);
	assert_string_equal(c.qmp, "/tmp/q.sock");
	assert_string_equal(c.name, "");
}

static void cmdline_rejects_truncated_and_empty(void **state)
{
	const char blob[] = { 'q', 'e', 'm', 'u', 0, '-', 'n', 'a' };	/* no final NUL */
	struct qemu_cmdline c;
	char big[300], buf[512];
	const char *args[] = { "qemu", "-name", big, NULL };

	(void)state;
	assert_int_equal(qemu_cmdline_parse(blob, sizeof blob, &c), -EINVAL);
	assert_int_equal(qemu_cmdline_parse(blob, 0, &c), -EINVAL);
	/* an over-long name is dropped (the guest is then named qemu-PID),
	 * never cut: two guests cut to one name would be confused */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(qemu_cmdline_parse(buf, argv_blob(buf, sizeof buf, args), &c), 0);
	assert_string_equal(c.name, "");
}

static void qmp_message_parses_replies_and_events(void **state)
{
	const char *text = "{\"return\": {\"status\": \"running\"}}\r\n{\"event\": \"STOP\"}\r\n";
	json_t *msg = NULL;
	size_t used;

	(void)state;
	assert_int_equal(qmp_parse_message(text, strlen(text), &msg, &used), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(msg, "return"), "status")),
			    "running");
	json_decref(msg);
	assert_int_equal(qmp_parse_message(text + used, strlen(text) - used, &msg, &used), 0);
	assert_non_null(json_object_get(msg, "event"));
	json_decref(msg);
}

static void qmp_message_error_reply_is_an_object(void **state)
{
	const char *text = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}}\n";
	json_t *msg = NULL;
	size_t used;

	(void)state;
	assert_int_equal(qmp_parse_message(text, strlen(text), &msg, &used), 0);
	assert_non_null(json_object_get(msg, "error"));
	json_decref(msg);
}

static void qmp_message_truncated_garbage_and_huge(void **state)
{
	json_t *msg = NULL;
	size_t used;
	char *huge;

	(void)state;
	assert_int_equal(qmp_parse_message("{\"return\": {", 12, &msg, &used), -EAGAIN);
	assert_int_equal(qmp_parse_message("{\"return\": {\n", 13, &msg, &used), -EPROTO);
	assert_int_equal(qmp_parse_message("[1, 2]\n", 7, &msg, &used), -EPROTO);
	assert_int_equal(qmp_parse_message("\x01\xff garbage\n", 11, &msg, &used), -EPROTO);
	assert_null(msg);
	huge = malloc(QMP_MAX_MESSAGE + 2);
	memset(huge, ' ', QMP_MAX_MESSAGE + 1);
	huge[QMP_MAX_MESSAGE + 1] = '\n';
	assert_int_equal(qmp_parse_message(huge, QMP_MAX_MESSAGE + 2, &msg, &used), -EPROTO);
	/* without a newline, a buffer past the limit is refused rather than grown */
	assert_int_equal(qmp_parse_message(huge, QMP_MAX_MESSAGE + 1, &msg, &used), -EPROTO);
	free(huge);
}

/* A peer that sends one line and hangs up. */
static void *say_and_hang_up(void *arg)
{
	static const char line[] = "{\"event\": \"STOP\", \"timestamp\": "
				   "{\"seconds\": 1, \"microseconds\": 2}}\n";
	int fd = accept(*(int *)arg, NULL, NULL);

	if (fd >= 0) {
		if (write(fd, line, sizeof line - 1) < 0)
			perror("write");
		close(fd);
	}
	return NULL;
}

/* The collector connects to the QMP socket named on any qemu-system-*
 * command line, so the other end may be anyone's: an event before the
 * greeting, then EOF, is a failed connect, never a freed message released
 * again (a use after free: ASan stops there, a plain build writes to freed
 * memory). */
static void qmp_open_survives_an_event_before_the_greeting(void **state)
{
	char *dir = tu_tmpdir();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct qmp q = QMP_INIT;
	pthread_t peer;
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)state;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/qmp.sock", dir);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(pthread_create(&peer, NULL, say_and_hang_up, &lfd), 0);
	assert_int_equal(qmp_open(&q, sa.sun_path, 2000), -ECONNRESET);
	assert_int_equal(q.fd, -1);
	pthread_join(peer, NULL);
	close(lfd);
	tu_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cmdline_gives_name_qmp_taps_and_balloon),
		cmocka_unit_test(cmdline_understands_libvirt_and_chardev_monitors),
		cmocka_unit_test(cmdline_unescapes_doubled_commas),
		cmocka_unit_test(cmdline_old_qmp_spelling_and_no_name),
		cmocka_unit_test(cmdline_drops_too_long_name_and_qmp),
		cmocka_unit_test(cmdline_rejects_truncated_and_empty),
		cmocka_unit_test(qmp_message_parses_replies_and_events),
		cmocka_unit_test(qmp_message_error_reply_is_an_object),
		cmocka_unit_test(qmp_message_truncated_garbage_and_huge),
		cmocka_unit_test(qmp_open_survives_an_event_before_the_greeting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
