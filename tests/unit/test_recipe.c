/* Recipes (adaptfs-workloads(5)): good files, defaults, and the FILE:LINE
 * messages a user sees for mistakes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "recipe.h"
#include "testutil.h"

struct ctx {
	char *dir;
	char path[PATH_MAX];
	struct recipe r;
	char err[512];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);

	c->dir = tu_tmpdir();
	snprintf(c->path, sizeof c->path, "%s/web.conf", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	recipe_free(&c->r);
	tu_rm_rf(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

static int load(struct ctx *c, const char *text)
{
	tu_write(text, "%s", c->path);
	c->err[0] = '\0';
	return recipe_load(c->path, &c->r, c->err, sizeof c->err);
}

#define MINIMAL "[workload]\nrootfs = /srv/web\ncommand = httpd -f\naddress = 10.234.0.10\n"

static void minimal_recipe_gets_defaults(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, MINIMAL), 0);
	assert_string_equal(c->r.name, "web");
	assert_string_equal(c->r.rootfs, "/srv/web");
	assert_int_equal(c->r.argc, 2);
	assert_string_equal(c->r.argv[0], "httpd");
	assert_string_equal(c->r.argv[1], "-f");
	assert_null(c->r.argv[2]);
	assert_string_equal(c->r.address, "10.234.0.10");
	assert_int_equal(c->r.prefix_len, 24);
	assert_string_equal(c->r.gateway, "");
	assert_int_equal(c->r.cpus, 1);
	assert_int_equal(c->r.memory_bytes, 128ULL << 20);
	assert_null(c->r.data);
	assert_string_equal(c->r.data_mount, "/data");
	assert_int_equal(c->r.ready_port, 0);
	assert_null(c->r.ready_command);
	assert_float_equal(c->r.ready_timeout, 60, 1e-12);
	assert_float_equal(c->r.stop_timeout, 10, 1e-12);
	assert_int_equal(c->r.mode, RECIPE_CONTAINER);
	assert_null(c->r.kernel);
	/* derived, locally administered, unicast */
	assert_true(strncmp(c->r.mac, "02:ad:", 6) == 0);
	assert_int_equal(strlen(c->r.mac), 17);
}

static void full_recipe_sets_every_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "# a web server\n"
				 "[workload]\n"
				 "rootfs = /srv/web\n"
				 "command = /bin/sh -c 'echo \"hi there\" > /data/x; exec httpd -f'\n"
				 "env = LANG=C\n"
				 "env = GREETING=a=b\n"
				 "cpus = 2\n"
				 "memory = 256M\n"
				 "address = 10.234.0.11/16\n"
				 "gateway = 10.234.0.1\n"
				 "mac = 02:AD:00:00:00:0b\n"
				 "data = /srv/web-data\n"
				 "data_mount = /var/www\n"
				 "ready_port = 8080\n"
				 "ready_command = wget -q -O- http://$ADAPTFS_ADDRESS:8080/\n"
				 "ready_timeout = 90\n"
				 "stop_timeout = 3\n"
				 "mode = vm\n"
				 "[vm]\n"
				 "kernel = /boot/vmlinux\n"
				 "initrd = /boot/initrd.cpio\n"
				 "append = quiet\n"), 0);
	assert_int_equal(c->r.argc, 3);
	assert_string_equal(c->r.argv[2], "echo \"hi there\" > /data/x; exec httpd -f");
	assert_int_equal(c->r.n_env, 2);
	assert_string_equal(c->r.env[1], "GREETING=a=b");
	assert_int_equal(c->r.cpus, 2);
	assert_int_equal(c->r.memory_bytes, 256ULL << 20);
	assert_string_equal(c->r.address, "10.234.0.11");
	assert_int_equal(c->r.prefix_len, 16);
	assert_string_equal(c->r.gateway, "10.234.0.1");
	assert_string_equal(c->r.mac, "02:ad:00:00:00:0b");
	assert_string_equal(c->r.data, "/srv/web-data");
	assert_string_equal(c->r.data_mount, "/var/www");
	assert_int_equal(c->r.ready_port, 8080);
	assert_string_equal(c->r.ready_command, "wget -q -O- http://$ADAPTFS_ADDRESS:8080/");
	assert_float_equal(c->r.ready_timeout, 90, 1e-12);
	assert_float_equal(c->r.stop_timeout, 3, 1e-12);
	assert_int_equal(c->r.mode, RECIPE_VM);
	assert_string_equal(c->r.kernel, "/boot/vmlinux");
	assert_string_equal(c->r.initrd, "/boot/initrd.cpio");
	assert_string_equal(c->r.append, "quiet");
}

static void mode_accepts_auto(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, MINIMAL "mode = auto\n"), 0);
	assert_int_equal(c->r.mode, RECIPE_AUTO);
}

static void standby_defaults_to_auto_and_takes_yes_and_no(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, MINIMAL), 0);
	assert_int_equal(c->r.standby, STANDBY_AUTO);
	recipe_free(&c->r);
	assert_int_equal(load(c, MINIMAL "standby = yes\n"), 0);
	assert_int_equal(c->r.standby, STANDBY_YES);
	recipe_free(&c->r);
	assert_int_equal(load(c, MINIMAL "standby = no\n"), 0);
	assert_int_equal(c->r.standby, STANDBY_NO);
	assert_string_equal(recipe_standby_name(c->r.standby), "no");
}

static void bad_values_name_their_line(void **state)
{
	static const struct { const char *line, *key; } bad[] = {
		{ "cpus = 0", "cpus" }, { "cpus = 1.5", "cpus" }, { "memory = 1M", "memory" },
		{ "memory = 12X", "memory" }, { "address = 10.234.0.300", "address" },
		{ "address = 10.234.0.1/33", "address" }, { "gateway = here", "gateway" },
		{ "mac = 03:00:00:00:00:01", "mac" }, { "mac = 02:00:00:00:00", "mac" },
		{ "rootfs = relative/dir", "rootfs" }, { "data_mount = /", "data_mount" },
		{ "ready_port = 70000", "ready_port" }, { "mode = lxc", "mode" },
		{ "command = sh -c 'unterminated", "command" }, { "env = NOVALUE", "env" },
		{ "stop_timeout = -1", "stop_timeout" }, { "standby = maybe", "standby" },
	};
	struct ctx *c = *state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[512], want[PATH_MAX + 128];

		snprintf(text, sizeof text, MINIMAL "\n%s\n", bad[i].line);
		assert_int_equal(load(c, text), -EINVAL);
		snprintf(want, sizeof want, "%s:6: bad value for key '%s' in section [workload]", c->path,
			 bad[i].key);
		assert_string_equal(c->err, want);
	}
}

static void unknown_key_and_section_are_reported(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 128];

	assert_int_equal(load(c, MINIMAL "colour = blue\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:5: unknown key 'colour' in section [workload]", c->path);
	assert_string_equal(c->err, want);
	assert_int_equal(load(c, MINIMAL "[container]\nrootfs = /x\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:6: unknown key 'rootfs' in section [container]", c->path);
	assert_string_equal(c->err, want);
}

static void syntax_error_names_its_line(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(c, MINIMAL "[vm\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:5: syntax error", c->path);
	assert_string_equal(c->err, want);
}

static void missing_required_key_is_named(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(c, "[workload]\nrootfs = /srv/web\naddress = 10.234.0.2\n"), -EINVAL);
	snprintf(want, sizeof want, "%s: missing key 'command' in section [workload]", c->path);
	assert_string_equal(c->err, want);
}

static void file_name_must_be_a_name_dot_conf(void **state)
{
	struct ctx *c = *state;

	snprintf(c->path, sizeof c->path, "%s/web server.conf", c->dir);
	assert_int_equal(load(c, MINIMAL), -EINVAL);
	assert_non_null(strstr(c->err, "the name must be NAME.conf"));
	snprintf(c->path, sizeof c->path, "%s/web.ini", c->dir);
	assert_int_equal(load(c, MINIMAL), -EINVAL);
}

static void missing_file_says_so(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	snprintf(c->path, sizeof c->path, "%s/none.conf", c->dir);
	assert_int_equal(recipe_load(c->path, &c->r, c->err, sizeof c->err), -ENOENT);
	snprintf(want, sizeof want, "%s: No such file or directory", c->path);
	assert_string_equal(c->err, want);
}

/* It says what root runs: a file anyone may rewrite is refused. */
static void world_writable_recipe_is_refused(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	tu_write(MINIMAL, "%s", c->path);
	assert_int_equal(chmod(c->path, 0666), 0);
	assert_int_equal(recipe_load(c->path, &c->r, c->err, sizeof c->err), -EPERM);
	snprintf(want, sizeof want, "%s: is world-writable: refusing it (chmod o-w)", c->path);
	assert_string_equal(c->err, want);
}

static void command_splits_like_sh(void **state)
{
	static const struct { const char *in; size_t n; const char *w[4]; } ok[] = {
		{ "a  b\tc", 3, { "a", "b", "c" } },
		{ "'a b' \"c d\"", 2, { "a b", "c d" } },
		{ "a\\ b", 1, { "a b" } },
		{ "x'y'\"z\"", 1, { "xyz" } },
		{ "\"a\\\"b\\\\c\\n\"", 1, { "a\"b\\c\\n" } },
		{ "''", 1, { "" } },
	};
	static const char *const bad[] = { "", "   ", "'open", "\"open", "end\\" };
	(void)state;

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		char **v;
		size_t n;

		assert_int_equal(recipe_split_command(ok[i].in, &v, &n), 0);
		assert_int_equal(n, ok[i].n);
		for (size_t k = 0; k < n; k++)
			assert_string_equal(v[k], ok[i].w[k]);
		assert_null(v[n]);
		recipe_free_words(v, n);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char **v;
		size_t n;

		assert_int_equal(recipe_split_command(bad[i], &v, &n), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(minimal_recipe_gets_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(full_recipe_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(standby_defaults_to_auto_and_takes_yes_and_no, setup, teardown),
		cmocka_unit_test_setup_teardown(mode_accepts_auto, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_values_name_their_line, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_key_and_section_are_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(syntax_error_names_its_line, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_required_key_is_named, setup, teardown),
		cmocka_unit_test_setup_teardown(file_name_must_be_a_name_dot_conf, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_file_says_so, setup, teardown),
		cmocka_unit_test_setup_teardown(world_writable_recipe_is_refused, setup, teardown),
		cmocka_unit_test(command_splits_like_sh),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
