/* The destination command line of a live migration (qemu_argv_incoming):
 * per-host files move into the run directory, everything else stays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_argv.h"

static void build(struct argv_list *l, const char *const *args)
{
	*l = (struct argv_list){0};
	for (; *args; args++)
		argv_list_add(l, *args);
}

/* The value after option o in l, NULL if absent; the nth occurrence. */
static const char *value_of(const struct argv_list *l, const char *o, unsigned nth)
{
	for (size_t i = 0; i + 1 < l->n; i++)
		if (strcmp(l->v[i], o) == 0 && nth-- == 0)
			return l->v[i + 1];
	return NULL;
}

static bool has(const struct argv_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

static void host_files_move_devices_stay(void **state)
{
	static const char *const src[] = {
		"qemu-system-x86_64", "-M", "microvm", "-nodefaults", "-name", "g1,debug-threads=on",
		"-qmp", "unix:/run/a/g1.qmp,server=on,wait=off",
		"-chardev", "socket,id=ctl,path=/run/a/ctl,,x.sock,server=on,wait=off",
		"-mon", "chardev=ctl,mode=control", "-serial", "file:/var/log/g1.log",
		"-drive", "id=d0,file=/shared/g1.raw,format=raw,if=none",
		"-netdev", "tap,id=n0,ifname=vt1,script=no,downscript=no",
		"-pidfile", "/run/a/g1.pid", "-daemonize", NULL,
	};
	struct argv_list in, out;

	(void)state;
	build(&in, src);
	assert_int_equal(qemu_argv_incoming(&in, "/st/run", "tcp:10.0.0.2:4444", &out), 0);
	assert_string_equal(out.v[0], "qemu-system-x86_64");
	assert_string_equal(value_of(&out, "-M", 0), "microvm");
	assert_true(has(&out, "-nodefaults"));
	assert_string_equal(value_of(&out, "-name", 0), "g1,debug-threads=on");
	assert_string_equal(value_of(&out, "-qmp", 0), "unix:/st/run/f0,server=on,wait=off");
	/* an escaped comma belongs to the path that is replaced */
	assert_string_equal(value_of(&out, "-chardev", 0), "socket,id=ctl,path=/st/run/f1,server=on,wait=off");
	assert_string_equal(value_of(&out, "-mon", 0), "chardev=ctl,mode=control");
	assert_string_equal(value_of(&out, "-serial", 0), "file:/st/run/f2");
	assert_string_equal(value_of(&out, "-drive", 0), "id=d0,file=/shared/g1.raw,format=raw,if=none");
	assert_string_equal(value_of(&out, "-netdev", 0), "tap,id=n0,ifname=vt1,script=no,downscript=no");
	assert_string_equal(value_of(&out, "-pidfile", 0), "/st/run/qemu.pid");
	assert_null(value_of(&out, "-pidfile", 1));
	assert_string_equal(value_of(&out, "-incoming", 0), "tcp:10.0.0.2:4444");
	assert_string_equal(value_of(&out, "-qmp", 1), "unix:/st/run/" QEMU_CTL_SOCKET ",server=on,wait=off");
	assert_string_equal(out.v[out.n - 4], "-incoming");
	/* -daemonize exactly once */
	unsigned d = 0;
	for (size_t i = 0; i < out.n; i++)
		d += strcmp(out.v[i], "-daemonize") == 0;
	assert_int_equal(d, 1);
	argv_list_free(&in);
	argv_list_free(&out);
}

static void a_second_hop_drops_the_first_hops_incoming_and_monitor(void **state)
{
	static const char *const src[] = {
		"qemu-system-x86_64", "-qmp", "unix:/b/run/f0,server=on,wait=off",
		"-daemonize", "-pidfile", "/b/run/qemu.pid", "-incoming", "tcp:10.0.0.2:4444",
		"-qmp", "unix:/b/run/" QEMU_CTL_SOCKET ",server=on,wait=off", NULL,
	};
	struct argv_list in, out;

	(void)state;
	build(&in, src);
	assert_int_equal(qemu_argv_incoming(&in, "/c/run", "tcp:10.0.0.3:5555", &out), 0);
	assert_string_equal(value_of(&out, "-qmp", 0), "unix:/c/run/f0,server=on,wait=off");
	assert_string_equal(value_of(&out, "-qmp", 1), "unix:/c/run/" QEMU_CTL_SOCKET ",server=on,wait=off");
	assert_null(value_of(&out, "-qmp", 2));
	assert_string_equal(value_of(&out, "-incoming", 0), "tcp:10.0.0.3:5555");
	assert_null(value_of(&out, "-incoming", 1));
	argv_list_free(&in);
	argv_list_free(&out);
}

static void double_dash_options_and_empty_argv(void **state)
{
	static const char *const src[] = { "qemu-kvm", "--pidfile", "/x.pid", "--qmp", "unix:/q", NULL };
	struct argv_list in, out, empty = {0};

	(void)state;
	build(&in, src);
	assert_int_equal(qemu_argv_incoming(&in, "/r", "tcp:h:1", &out), 0);
	assert_string_equal(value_of(&out, "--qmp", 0), "unix:/r/f0");
	assert_false(has(&out, "/x.pid"));
	argv_list_free(&out);
	assert_int_equal(qemu_argv_incoming(&empty, "/r", "tcp:h:1", &out), -EINVAL);
	argv_list_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(host_files_move_devices_stay),
		cmocka_unit_test(a_second_hop_drops_the_first_hops_incoming_and_monitor),
		cmocka_unit_test(double_dash_options_and_empty_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
