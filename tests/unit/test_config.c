/* adaptfs.conf loading: defaults, valid files, and the messages a user sees
 * for mistakes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config.h"
#include "testutil.h"

struct ctx {
	char *dir;
	char path[PATH_MAX];
	struct config cfg;
	char err[512];
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof *c);

	c->dir = tu_tmpdir();
	snprintf(c->path, sizeof c->path, "%s/adaptfs.conf", c->dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	config_free(&c->cfg);
	tu_rm_rf(c->dir);
	free(c->dir);
	free(c);
	return 0;
}

static int load(struct ctx *c, const char *text)
{
	tu_write(text, "%s", c->path);
	c->err[0] = '\0';
	return config_load(&c->cfg, c->path, true, c->err, sizeof c->err);
}

static void check_defaults(const struct config *cfg)
{
	assert_float_equal(cfg->interval, 1.0, 1e-12);
	assert_float_equal(cfg->rescan_interval, 10.0, 1e-12);
	assert_string_equal(cfg->cgroup_root, "/sys/fs/cgroup");
	assert_string_equal(cfg->proc_root, "/proc");
	assert_string_equal(cfg->run_root, "/run");
	assert_string_equal(cfg->state_dir, "/var/lib/adaptfs");
	assert_int_equal(cfg->n_patterns, 0);
	assert_int_equal(cfg->class.window, 5);
	assert_float_equal(cfg->class.hysteresis, 1.2, 1e-12);
	assert_float_equal(cfg->class.cpu_percent, 50.0, 1e-12);
	assert_float_equal(cfg->class.io_bytes_per_sec, 1048576, 1e-12);
	assert_float_equal(cfg->class.io_wait_percent, 20.0, 1e-12);
	assert_float_equal(cfg->class.net_bytes_per_sec, 1048576, 1e-12);
	assert_float_equal(cfg->class.major_faults_per_sec, 50.0, 1e-12);
	assert_int_equal(cfg->class.cpu_mode, CPU_MODE_AUTO);
	assert_string_equal(cfg->managed.recipes, "/etc/adaptfs/workloads.d");
	assert_string_equal(cfg->managed.run_dir, "/run/adaptfs");
	assert_string_equal(cfg->managed.bridge, "adaptbr0");
	assert_string_equal(cfg->managed.bridge_address, "");
	assert_string_equal(cfg->managed.bridge_mac, "02:ad:00:00:00:01");
	assert_string_equal(cfg->managed.kernel, "/var/lib/adaptfs/vm/vmlinux");
	assert_string_equal(cfg->managed.initrd, "/var/lib/adaptfs/vm/initramfs.cpio");
	assert_string_equal(cfg->managed.qemu, "qemu-system-x86_64");
	assert_string_equal(cfg->managed.runc, "runc");
	assert_true(cfg->io_uring);
	assert_true(cfg->policy.enabled);
	assert_float_equal(cfg->policy.interval, 5, 1e-12);
	assert_float_equal(cfg->policy.stable, 30, 1e-12);
	assert_float_equal(cfg->policy.cooldown, 60, 1e-12);
	assert_float_equal(cfg->policy.overload, 1.25, 1e-12);
	assert_float_equal(cfg->policy.min_gain, 0.25, 1e-12);
	assert_float_equal(cfg->policy.settle, 60, 1e-12);
	assert_float_equal(cfg->migration.downtime_ms, 30, 1e-12);
	assert_float_equal(cfg->migration.max_bandwidth, 0, 1e-12);
	assert_int_equal(cfg->migration.converge, CONVERGE_NONE);
	assert_float_equal(cfg->migration.postcopy_after, 2, 1e-12);
}

static void migration_section_sets_every_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[migration]\n"
				 "lxc_path = /srv/lxc\n"
				 "timeout = 60\n"
				 "downtime_ms = 20\n"
				 "max_bandwidth = 67108864\n"
				 "converge = postcopy\n"
				 "postcopy_after = 0.5\n"), 0);
	assert_string_equal(c->cfg.migration.lxc_path, "/srv/lxc");
	assert_float_equal(c->cfg.migration.timeout, 60, 1e-12);
	assert_float_equal(c->cfg.migration.downtime_ms, 20, 1e-12);
	assert_float_equal(c->cfg.migration.max_bandwidth, 67108864, 1e-12);
	assert_int_equal(c->cfg.migration.converge, CONVERGE_POSTCOPY);
	assert_float_equal(c->cfg.migration.postcopy_after, 0.5, 1e-12);
	config_free(&c->cfg);
	assert_int_equal(load(c, "[migration]\nconverge = none\n"), 0);
	assert_int_equal(c->cfg.migration.converge, CONVERGE_NONE);
}

static void managed_section_sets_every_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[managed]\n"
				 "recipes = /srv/recipes\n"
				 "run_dir = /tmp/run-adaptfs\n"
				 "bridge = adt-br0\n"
				 "bridge_address = 10.234.0.1/24\n"
				 "bridge_mac = 02:ad:00:00:01:01\n"
				 "kernel = /srv/vm/vmlinux\n"
				 "initrd = /srv/vm/initramfs.cpio\n"
				 "qemu = /usr/local/bin/qemu-system-x86_64\n"
				 "runc = crun\n"), 0);
	assert_string_equal(c->cfg.managed.recipes, "/srv/recipes");
	assert_string_equal(c->cfg.managed.run_dir, "/tmp/run-adaptfs");
	assert_string_equal(c->cfg.managed.bridge, "adt-br0");
	assert_string_equal(c->cfg.managed.bridge_address, "10.234.0.1/24");
	assert_string_equal(c->cfg.managed.bridge_mac, "02:ad:00:00:01:01");
	assert_string_equal(c->cfg.managed.kernel, "/srv/vm/vmlinux");
	assert_string_equal(c->cfg.managed.initrd, "/srv/vm/initramfs.cpio");
	assert_string_equal(c->cfg.managed.qemu, "/usr/local/bin/qemu-system-x86_64");
	assert_string_equal(c->cfg.managed.runc, "crun");
}

static void libvirt_section_sets_every_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[adaptfs]\n"), 0);
	assert_string_equal(c->cfg.libvirt.uri, "qemu:///system");
	assert_string_equal(c->cfg.libvirt.virsh, "virsh");
	config_free(&c->cfg);
	assert_int_equal(load(c, "[libvirt]\n"
				 "uri = qemu:///system?socket=/tmp/lv/libvirt-sock\n"
				 "virsh = /usr/local/bin/virsh\n"), 0);
	assert_string_equal(c->cfg.libvirt.uri, "qemu:///system?socket=/tmp/lv/libvirt-sock");
	assert_string_equal(c->cfg.libvirt.virsh, "/usr/local/bin/virsh");
}

static void no_path_gives_defaults(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(config_load(&c->cfg, NULL, false, c->err, sizeof c->err), 0);
	check_defaults(&c->cfg);
	assert_null(c->cfg.path);
}

static void empty_file_gives_defaults(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "; nothing set\n"), 0);
	check_defaults(&c->cfg);
	assert_string_equal(c->cfg.path, c->path);
}

static void valid_file_sets_every_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[adaptfs]\n"
				 "interval = 0.5\n"
				 "state_dir = /srv/adaptfs\n"
				 "\n"
				 "# discovery\n"
				 "[discovery]\n"
				 "rescan_interval = 30\n"
				 "cgroup_root = /tmp/cg\n"
				 "proc_root = /tmp/proc\n"
				 "run_root = /tmp/run\n"
				 "pattern = /batch.slice/*\n"
				 "[class]\n"
				 "window = 10\n"
				 "hysteresis = 1.5\n"
				 "cpu_percent = 80\n"
				 "io_bytes_per_sec = 2097152\n"
				 "io_wait_percent = 10\n"
				 "net_bytes_per_sec = 1e7\n"
				 "major_faults_per_sec = 100\n"
				 "cpu_mode = vm\n"), 0);
	assert_float_equal(c->cfg.interval, 0.5, 1e-12);
	assert_string_equal(c->cfg.state_dir, "/srv/adaptfs");
	assert_float_equal(c->cfg.rescan_interval, 30, 1e-12);
	assert_string_equal(c->cfg.cgroup_root, "/tmp/cg");
	assert_string_equal(c->cfg.proc_root, "/tmp/proc");
	assert_string_equal(c->cfg.run_root, "/tmp/run");
	assert_int_equal(c->cfg.n_patterns, 1);
	assert_string_equal(c->cfg.patterns[0], "/batch.slice/*");
	assert_int_equal(c->cfg.class.window, 10);
	assert_float_equal(c->cfg.class.hysteresis, 1.5, 1e-12);
	assert_float_equal(c->cfg.class.cpu_percent, 80, 1e-12);
	assert_float_equal(c->cfg.class.io_bytes_per_sec, 2097152, 1e-12);
	assert_float_equal(c->cfg.class.io_wait_percent, 10, 1e-12);
	assert_float_equal(c->cfg.class.net_bytes_per_sec, 1e7, 1e-6);
	assert_float_equal(c->cfg.class.major_faults_per_sec, 100, 1e-12);
	assert_int_equal(c->cfg.class.cpu_mode, CPU_MODE_VM);
}

static void cpu_mode_accepts_its_three_words(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[class]\ncpu_mode = container\n"), 0);
	assert_int_equal(c->cfg.class.cpu_mode, CPU_MODE_CONTAINER);
	config_free(&c->cfg);
	assert_int_equal(load(c, "[class]\ncpu_mode = auto\n"), 0);
	assert_int_equal(c->cfg.class.cpu_mode, CPU_MODE_AUTO);
}

static void policy_section_sets_every_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[policy]\n"
				 "enabled = no\n"
				 "interval = 2\n"
				 "stable = 10\n"
				 "cooldown = 20\n"
				 "overload = 1.5\n"
				 "min_gain = 0.5\n"
				 "settle = 30\n"), 0);
	assert_false(c->cfg.policy.enabled);
	assert_float_equal(c->cfg.policy.interval, 2, 1e-12);
	assert_float_equal(c->cfg.policy.stable, 10, 1e-12);
	assert_float_equal(c->cfg.policy.cooldown, 20, 1e-12);
	assert_float_equal(c->cfg.policy.overload, 1.5, 1e-12);
	assert_float_equal(c->cfg.policy.min_gain, 0.5, 1e-12);
	assert_float_equal(c->cfg.policy.settle, 30, 1e-12);
	config_free(&c->cfg);
	assert_int_equal(load(c, "[policy]\nenabled = yes\n"), 0);
	assert_true(c->cfg.policy.enabled);
}

static void io_uring_switches_off(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[adaptfs]\nio_uring = no\n"), 0);
	assert_false(c->cfg.io_uring);
	config_free(&c->cfg);
	assert_int_equal(load(c, "[adaptfs]\nio_uring = yes\n"), 0);
	assert_true(c->cfg.io_uring);
}

static void repeated_pattern_keys_accumulate(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(load(c, "[discovery]\n"
				 "pattern = /a.slice/*\n"
				 "pattern = /b.slice/*.scope\n"
				 "pattern = /c\n"), 0);
	assert_int_equal(c->cfg.n_patterns, 3);
	assert_string_equal(c->cfg.patterns[0], "/a.slice/*");
	assert_string_equal(c->cfg.patterns[1], "/b.slice/*.scope");
	assert_string_equal(c->cfg.patterns[2], "/c");
}

static void unknown_key_names_file_line_key_and_section(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(c, "[adaptfs]\ninterval = 2\n\n[class]\nwindow = 3\nx = 1\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:6: unknown key 'x' in section [class]", c->path);
	assert_string_equal(c->err, want);
}

static void unknown_section_is_reported_as_unknown_key(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(c, "[nope]\ny = 1\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:2: unknown key 'y' in section [nope]", c->path);
	assert_string_equal(c->err, want);
}

static void first_error_wins(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(c, "[adaptfs]\nbogus = 1\ninterval = -3\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:2: unknown key 'bogus' in section [adaptfs]", c->path);
	assert_string_equal(c->err, want);
}

static void bad_values_are_rejected_with_their_line(void **state)
{
	static const struct { const char *text, *key, *section; int line; } cases[] = {
		{ "[adaptfs]\ninterval = abc\n", "interval", "adaptfs", 2 },
		{ "[adaptfs]\ninterval = 0\n", "interval", "adaptfs", 2 },
		{ "[adaptfs]\ninterval = 1s\n", "interval", "adaptfs", 2 },
		{ "[adaptfs]\ninterval = nan\n", "interval", "adaptfs", 2 },
		{ "[adaptfs]\ninterval = inf\n", "interval", "adaptfs", 2 },
		{ "[adaptfs]\nstate_dir = relative/dir\n", "state_dir", "adaptfs", 2 },
		{ "[discovery]\ncgroup_root = sys/fs/cgroup\n", "cgroup_root", "discovery", 2 },
		{ "[discovery]\npattern = *.scope\n", "pattern", "discovery", 2 },
		{ "[discovery]\nrescan_interval = 0.01\n", "rescan_interval", "discovery", 2 },
		{ "[class]\n\nwindow = 2.5\n", "window", "class", 3 },
		{ "[class]\nwindow = 0\n", "window", "class", 2 },
		{ "[class]\nwindow = 601\n", "window", "class", 2 },
		{ "[class]\nhysteresis = 0.9\n", "hysteresis", "class", 2 },
		{ "[class]\ncpu_percent = 0\n", "cpu_percent", "class", 2 },
		{ "[class]\ncpu_mode = fast\n", "cpu_mode", "class", 2 },
		{ "[class]\ncpu_mode =\n", "cpu_mode", "class", 2 },
		{ "[managed]\nrecipes = workloads.d\n", "recipes", "managed", 2 },
		{ "[managed]\nbridge = a-very-long-bridge0\n", "bridge", "managed", 2 },
		{ "[managed]\nbridge = br/0\n", "bridge", "managed", 2 },
		{ "[managed]\nbridge_address = 10.234.0.1\n", "bridge_address", "managed", 2 },
		{ "[managed]\nbridge_address = 10.234.0.256/24\n", "bridge_address", "managed", 2 },
		{ "[managed]\nbridge_mac = 01:00:00:00:00:01\n", "bridge_mac", "managed", 2 },
		{ "[managed]\nkernel =\n", "kernel", "managed", 2 },
		{ "[policy]\nenabled = 1\n", "enabled", "policy", 2 },
		{ "[adaptfs]\nio_uring = auto\n", "io_uring", "adaptfs", 2 },
		{ "[policy]\ninterval = 0.01\n", "interval", "policy", 2 },
		{ "[policy]\noverload = 0.9\n", "overload", "policy", 2 },
		{ "[policy]\nmin_gain = 0\n", "min_gain", "policy", 2 },
		{ "[policy]\ncooldown = -1\n", "cooldown", "policy", 2 },
		{ "[migration]\nconverge = auto\n", "converge", "migration", 2 },
		{ "[migration]\npostcopy_after = 0\n", "postcopy_after", "migration", 2 },
		{ "[migration]\nmax_bandwidth = -1\n", "max_bandwidth", "migration", 2 },
		{ "[libvirt]\nuri =\n", "uri", "libvirt", 2 },
	};
	struct ctx *c = *state;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char want[PATH_MAX + 128];

		assert_int_equal(load(c, cases[i].text), -EINVAL);
		snprintf(want, sizeof want, "%s:%d: bad value for key '%s' in section [%s]", c->path,
			 cases[i].line, cases[i].key, cases[i].section);
		assert_string_equal(c->err, want);
		config_free(&c->cfg);
	}
}

static void syntax_error_names_its_line(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(load(c, "[adaptfs]\ninterval = 1\nthis line has no equals sign\n"), -EINVAL);
	snprintf(want, sizeof want, "%s:3: syntax error", c->path);
	assert_string_equal(c->err, want);
}

static void missing_file_is_fine_unless_required(void **state)
{
	struct ctx *c = *state;
	char want[PATH_MAX + 64];

	assert_int_equal(config_load(&c->cfg, c->path, false, c->err, sizeof c->err), 0);
	check_defaults(&c->cfg);
	config_free(&c->cfg);
	c->err[0] = '\0';
	assert_int_equal(config_load(&c->cfg, c->path, true, c->err, sizeof c->err), -ENOENT);
	snprintf(want, sizeof want, "%s: %s", c->path, strerror(ENOENT));
	assert_string_equal(c->err, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(no_path_gives_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(empty_file_gives_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(valid_file_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(cpu_mode_accepts_its_three_words, setup, teardown),
		cmocka_unit_test_setup_teardown(policy_section_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(io_uring_switches_off, setup, teardown),
		cmocka_unit_test_setup_teardown(repeated_pattern_keys_accumulate, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_key_names_file_line_key_and_section, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_section_is_reported_as_unknown_key, setup, teardown),
		cmocka_unit_test_setup_teardown(first_error_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(managed_section_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(libvirt_section_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(migration_section_sets_every_key, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_values_are_rejected_with_their_line, setup, teardown),
		cmocka_unit_test_setup_teardown(syntax_error_names_its_line, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_file_is_fine_unless_required, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
