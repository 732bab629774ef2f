/* The managed workloads' state file, the contract between the actuator that
 * writes it and the backend that samples from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "managed_impl.h"
#include "managed_state.h"
#include "testutil.h"
#include "trust.h"
#include "util.h"

#include <fcntl.h>

static void state_reads_back_what_was_written(void **state)
{
	const struct managed_state in[] = {
		{ .vm = false, .running = true, .pid = 4242, .pid_start = 987654, .cgroup = "/adaptfs-web",
		  .switches = 0, .setting = RECIPE_AUTO },
		{ .vm = true, .running = true, .pid = 77, .switches = 3, .downtime_usec = 2412345,
		  .setting = RECIPE_VM, .cpus = "0-3,6" },
		{ .vm = true, .running = false, .pid = 0, .switches = 1, .downtime_usec = 1 },
		{ .vm = false, .running = true, .pid = 9, .cgroup = "/adaptfs-web", .switches = 2,
		  .downtime_usec = 412000, .quiesce_usec = 10000, .handover_usec = 9000,
		  .ready_usec = 393000, .warm = true,
		  .standby = { .present = true, .vm = true, .ready = true, .pid = 31, .pid_start = 5,
			       .cgroup = "/adaptfs-web.vm" } },
		{ .vm = true, .running = true, .pid = 31, .standby = { .present = true, .pid = 12,
		  .cgroup = "/adaptfs-web" } },
	};
	(void)state;

	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		struct strbuf sb = {0};
		struct managed_state out;

		managed_state_format(&in[i], &sb);
		assert_int_equal(managed_state_parse(sb.buf, &out), 0);
		assert_int_equal(out.vm, in[i].vm);
		assert_int_equal(out.running, in[i].running);
		assert_int_equal(out.pid, in[i].pid);
		assert_string_equal(out.cgroup, in[i].cgroup);
		assert_int_equal(out.switches, in[i].switches);
		assert_int_equal(out.downtime_usec, in[i].downtime_usec);
		assert_int_equal(out.pid_start, in[i].pid_start);
		assert_int_equal(out.setting, in[i].setting);
		assert_string_equal(out.cpus, in[i].cpus);
		assert_int_equal(out.quiesce_usec, in[i].quiesce_usec);
		assert_int_equal(out.handover_usec, in[i].handover_usec);
		assert_int_equal(out.ready_usec, in[i].ready_usec);
		assert_int_equal(out.warm, in[i].warm);
		assert_int_equal(out.standby.present, in[i].standby.present);
		assert_int_equal(out.standby.vm, in[i].standby.vm);
		assert_int_equal(out.standby.ready, in[i].standby.ready);
		assert_int_equal(out.standby.pid, in[i].standby.pid);
		assert_int_equal(out.standby.pid_start, in[i].standby.pid_start);
		assert_string_equal(out.standby.cgroup, in[i].standby.cgroup);
		strbuf_free(&sb);
	}
}

/* A host short of memory drops standbys first (adaptfs-workloads(5)). */
static void standbys_go_below_a_tenth_of_memory_available(void **state)
{
	uint64_t mib = 0;
	(void)state;

	assert_true(mstandby_memory_short("MemTotal: 1048576 kB\nMemFree: 1 kB\n"
					  "MemAvailable: 102400 kB\n", &mib));
	assert_int_equal(mib, 100);
	assert_false(mstandby_memory_short("MemTotal: 1048576 kB\nMemAvailable: 110000 kB\n", &mib));
	assert_int_equal(mib, 107);
	/* a kernel without MemAvailable: never short */
	assert_false(mstandby_memory_short("MemTotal: 1048576 kB\nMemFree: 1 kB\n", &mib));
}

static void malformed_state_is_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"kind lxc\nrunning 1\npid 1\ncgroup /x\n",
		"kind container\nrunning 1\npid 1\n",		/* a container needs its cgroup */
		"kind vm\nrunning 1\n",
		"kind vm\nrunning 1\npid -4\n",
		"kind vm\nrunning 1\npid 99999999999\n",
		"running 1\npid 1\n",
		"kind vm\nrunning 1\npid 1\nsetting sometimes\n",
		"kind vm\nrunning 1\npid 1\ncpus 3-1\n",
		"kind vm\nrunning 1\npid 1\ncpus \n",
		"kind vm\nrunning 1\npid 1\nstandby lxc\nstandby_cgroup /x\n",
		"kind vm\nrunning 1\npid 1\nstandby container\nstandby_pid 3\n",	/* no cgroup */
		"kind vm\nrunning 1\npid 1\nstandby vm\nstandby_pid 99999999999\nstandby_cgroup /x\n",
	};
	struct managed_state out;
	(void)state;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(managed_state_parse(bad[i], &out), -EINVAL);
}

/* The state names the process a later adaptfs adopts and is written as
 * root: planted symlinks at state or state.new are replaced, never followed,
 * and a symlink is never read as the state. */
static void state_file_is_written_and_read_without_following_symlinks(void **state)
{
	char *dir = tu_tmpdir(), victim[PATH_MAX], path[PATH_MAX], text[64];
	int dfd;
	(void)state;

	snprintf(victim, sizeof victim, "%s/victim", dir);
	FILE *f = fopen(victim, "w");
	assert_non_null(f);
	fputs("untouched\n", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/state", dir);
	assert_int_equal(symlink(victim, path), 0);
	dfd = trust_open_dir(AT_FDCWD, dir, 0700, false);
	assert_true(dfd >= 0);
	/* read through the symlink: refused */
	assert_int_equal(trust_read_at(dfd, "state", text, sizeof text), -ELOOP);
	snprintf(path, sizeof path, "%s/state.new", dir);
	assert_int_equal(symlink(victim, path), 0);
	assert_int_equal(trust_write_at(dfd, "state", "kind vm\nrunning 1\npid 7\n"), 0);
	assert_int_equal(trust_read_at(dfd, "state", text, sizeof text), 0);
	assert_string_equal(text, "kind vm\nrunning 1\npid 7\n");
	assert_int_equal(read_file(victim, text, sizeof text), 10);
	assert_string_equal(text, "untouched\n");
	/* a directory that is a symlink is not opened */
	snprintf(path, sizeof path, "%s/link", dir);
	assert_int_equal(symlink(dir, path), 0);
	assert_true(trust_open_dir(AT_FDCWD, path, 0700, false) < 0);
	close(dfd);
	tu_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_reads_back_what_was_written),
		cmocka_unit_test(malformed_state_is_refused),
		cmocka_unit_test(standbys_go_below_a_tenth_of_memory_available),
		cmocka_unit_test(state_file_is_written_and_read_without_following_symlinks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
