/* Regressions: each test proves a bug once found in the code (truncated and
 * signed numbers, a single spike flipping the class, an unreadable config,
 * co-mounted cpu,cpuacct hiding runc containers, a tiny sanitize buffer, an
 * nspawn machine named qemu*, an empty tasks list, a spawn that failed
 * before it ran). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "cgroup.h"
#include "classify.h"
#include "config.h"
#include "discover.h"
#include "parse.h"
#include "proc.h"
#include "sampler.h"
#include "spawn.h"
#include "testutil.h"
#include "util.h"

#include <sys/resource.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* BUG 1 (parse.c): a value cut off after "key=" in io.stat, and negative or
 * trailing-garbage numbers in the sscanf-based parsers, are accepted. */
static void truncated_and_signed_numbers_are_einval(void **state)
{
	struct blk_counters c;
	struct proc_cpu pc;
	struct loadavg l;
	uint64_t r, w;

	(void)state;
	assert_int_equal(iostat_v2_parse("8:0 rbytes=\n", &c), -EINVAL);
	assert_int_equal(iostat_v2_parse("8:0 rbytes=1 wbytes=", &c), -EINVAL);
	assert_int_equal(iostat_v2_parse("8:0 rbytes=12x\n", &c), -EINVAL);
	assert_int_equal(blkio_v1_parse("8:0 Read -5\n", &r, &w), -EINVAL);
	assert_int_equal(blkio_v1_parse("8:0 Read 12x\n", &r, &w), -EINVAL);
	assert_int_equal(netdev_parse("a\nb\n eth0: -1 2 3 4 5 6 7 8 9 10\n", &r, &w), -EINVAL);
	assert_int_equal(proc_cpu_parse("cpu  -1 2 3 4 5 6 7 8\n", &pc), -EINVAL);
	assert_int_equal(loadavg_parse("0.5 0.4 0.3 -1/5 6\n", &l), -EINVAL);
}

/* BUG 2 (classify.c): one large spike flips the class (EWMA of an unbounded
 * score: alpha * score beats hysteresis * 1.0 as soon as score > 3.6). */
static void one_large_spike_does_not_flip_an_idle_workload(void **state)
{
	const struct class_config cc = { .window = 5, .hysteresis = 1.2, .cpu_percent = 50,
					 .io_bytes_per_sec = 1048576, .io_wait_percent = 20,
					 .net_bytes_per_sec = 1048576, .major_faults_per_sec = 50 };
	struct class_state st = {0};
	struct metric_set idle = {0}, spike = {0};

	(void)state;
	metric_set(&idle, M_CPU_USAGE_PERCENT, 1);
	metric_set(&spike, M_CPU_USAGE_PERCENT, 800);	/* 8 CPUs busy for one interval */
	for (int i = 0; i < 20; i++)
		classify_update(&st, &cc, &idle);
	assert_int_equal(classify_update(&st, &cc, &spike), CLASS_IDLE);
}

/* BUG 3 (config.c): a config path that cannot be read (here: a directory)
 * silently loads the defaults. */
static void unreadable_config_is_an_error(void **state)
{
	char *dir = tu_tmpdir();
	struct config cfg;
	char err[256] = "";
	int rc;

	(void)state;
	rc = config_load(&cfg, dir, true, err, sizeof err);
	config_free(&cfg);
	tu_rm_rf(dir);
	free(dir);
	assert_true(rc < 0);
}

/* BUG 4 (cgroup.c/discover.c): on hosts that co-mount cpu,cpuacct with
 * cpuacct a symlink (Debian, Ubuntu, Fedora in hybrid mode), runc records
 * /sys/fs/cgroup/cpu,cpuacct/... but discovery walks .../cpuacct, so no
 * runc container is ever matched to its state. */
static void runc_state_matches_through_comounted_cpuacct_symlink(void **state)
{
	char *tmp = tu_tmpdir(), root[PATH_MAX / 2], run[PATH_MAX / 2], link[PATH_MAX], json[4 * PATH_MAX];
	struct cgroup_layout L;
	struct config cfg;
	struct found_list out = {0};

	(void)state;
	snprintf(root, sizeof root, "%s/cg", tmp);
	snprintf(run, sizeof run, "%s/run", tmp);
	tu_write("9\n", "%s/cpu,cpuacct/ctr9/tasks", root);
	tu_mkdirs("%s/memory/ctr9", root);
	snprintf(link, sizeof link, "%s/cpuacct", root);
	assert_int_equal(symlink("cpu,cpuacct", link), 0);
	snprintf(link, sizeof link, "%s/cpu", root);
	assert_int_equal(symlink("cpu,cpuacct", link), 0);
	snprintf(json, sizeof json,
		 "{\"id\":\"ctr9\",\"cgroup_paths\":{\"cpu\":\"%s/cpu,cpuacct/ctr9\","
		 "\"cpuacct\":\"%s/cpu,cpuacct/ctr9\",\"memory\":\"%s/memory/ctr9\"}}",
		 root, root, root);
	tu_write(json, "%s/runc/ctr9/state.json", run);
	assert_int_equal(cgroup_layout_detect(root, &L), 0);
	cfg = (struct config){ .cgroup_root = root, .run_root = run };
	assert_int_equal(discover_containers(&L, &cfg, -1, NULL, &out), 0);
	size_t n = out.n;
	found_list_free(&out);
	cgroup_layout_free(&L);
	tu_rm_rf(tmp);
	free(tmp);
	assert_int_equal(n, 1);
}

/* BUG 5 (sampler.c): workload_name_sanitize writes past out when size < 2
 * and the name starts with '.' or is empty (run under valgrind/ASan). */
static void sanitize_never_writes_past_a_tiny_buffer(void **state)
{
	char *out = malloc(1);

	(void)state;
	workload_name_sanitize(".", out, 1);
	assert_string_equal(out, "");
	free(out);
}

/* BUG 6 (engines.c, minor): an nspawn machine whose name starts with "qemu"
 * is taken for a libvirt guest; libvirt's scopes are machine-qemu\x2dN\x2d. */
static void nspawn_machine_named_qemu_something_is_a_container(void **state)
{
	char *name = NULL;
	const struct engine *e = engine_match("machine.slice", "machine-qemubox.scope", &name);

	(void)state;
	assert_non_null(e);
	assert_string_equal(e->name, "systemd-nspawn");
	assert_string_equal(name, "qemubox");
	free(name);
}

/* BUG (issue 17 item 8): control and non-UTF-8 bytes from cgroup names and
 * control-file writes reached events and the log raw. */
static void escape_controls_and_invalid_utf8(void **state)
{
	char out[64];

	(void)state;
	str_escape("a\x1b[2J\tb\xff\n\x7f", out, sizeof out);
	assert_string_equal(out, "a\\x1b[2J\\x09b\\xff\\x0a\\x7f");
	/* valid UTF-8 stays; C1 controls, overlong forms and surrogates do not */
	str_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", out, sizeof out);
	assert_string_equal(out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	str_escape("\xc2\x9b\xc0\xaf\xed\xa0\x80", out, sizeof out);
	assert_string_equal(out, "\\xc2\\x9b\\xc0\\xaf\\xed\\xa0\\x80");
	/* a truncated sequence at the end, and a cut never inside an escape */
	str_escape("ab\xe2\x82", out, sizeof out);
	assert_string_equal(out, "ab\\xe2\\x82");
	assert_int_equal(str_escape("ab\x01", out, 6), 2);
	assert_string_equal(out, "ab");
}

/* BUG 7 (proc.c): a cgroup whose last task just left has an empty tasks
 * list, NULL and 0; copying it passed NULL to memcpy, which UBSan aborts on:
 * the daemon died the first sample after a container appeared. */
static void empty_tasks_list_samples_zero_threads(void **state)
{
	struct pid_list none = { 0 };
	struct task_carry carry = { 0 };
	struct metric_set m = { 0 };

	(void)state;
	proc_sample_tasks("/nonexistent", &none, false, PROC_TASK_BUDGET_USEC, &carry, &m);
	assert_true(metric_has(&m, M_THREADS_TOTAL));
	assert_true(m.v[M_THREADS_TOTAL] == 0);
	task_carry_free(&carry);
}

/* BUG 8 (prefetch.c, snapshot.c): two of four hand-written FNV-1a copies
 * started from a mistyped offset basis (1469598103934665603, a digit short).
 * One helper now, checked against the published test vectors; a pin's
 * journal name must not change (names.bats computes it too). */
static void fnv1a_matches_the_reference_vectors(void **state)
{
	(void)state;
	assert_true(fnv1a_str("") == 0xcbf29ce484222325ULL);
	assert_true(fnv1a_str("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(fnv1a_str("foobar") == 0x85944171f73967e8ULL);
	assert_true(fnv1a("a\0b", 3) != fnv1a_str("a"));
}

/* BUG 9 (spawn.c): a command that could not be started (no pipe: out of
 * file descriptors) left its output buffer as it was, and managed_net's
 * mrun then looked for a newline in uninitialised stack. */
static void output_is_empty_when_the_command_never_ran(void **state)
{
	const char *const argv[] = { "true", NULL };
	struct rlimit old, none = { 0, 0 };
	char out[64];
	int r;

	(void)state;
	memset(out, 'x', sizeof out);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	none.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
	r = spawn_run(argv, out, sizeof out, 1000);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(r, -EMFILE);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(truncated_and_signed_numbers_are_einval),
		cmocka_unit_test(one_large_spike_does_not_flip_an_idle_workload),
		cmocka_unit_test(unreadable_config_is_an_error),
		cmocka_unit_test(runc_state_matches_through_comounted_cpuacct_symlink),
		cmocka_unit_test(sanitize_never_writes_past_a_tiny_buffer),
		cmocka_unit_test(nspawn_machine_named_qemu_something_is_a_container),
		cmocka_unit_test(escape_controls_and_invalid_utf8),
		cmocka_unit_test(empty_tasks_list_samples_zero_threads),
		cmocka_unit_test(fnv1a_matches_the_reference_vectors),
		cmocka_unit_test(output_is_empty_when_the_command_never_ran),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
