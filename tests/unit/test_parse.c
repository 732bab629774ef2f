/* The bounded parsers of collectors/parse.h: good input gives the figures,
 * malformed or truncated input is -EINVAL and never a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every prefix of a well-formed text, cut anywhere, parses or fails cleanly:
 * run each under valgrind/ASan and the parser never reads past the NUL. */
static void each_prefix(const char *text, void (*fn)(const char *))
{
	size_t len = strlen(text);

	for (size_t i = 0; i <= len; i++) {
		char *cut = malloc(i + 1);

		assert_non_null(cut);
		memcpy(cut, text, i);
		cut[i] = '\0';
		fn(cut);
		free(cut);
	}
}

/* ---- flat keyed ------------------------------------------------------ */

static const char memory_stat_v1[] =
	"cache 4096\n"
	"pgmajfault 3\n"
	"hierarchical_memory_limit 9223372036854771712\n"
	"total_cache 8192\n"
	"total_pgmajfault 17\n";

static void kv_get_u64_reads_value_of_exact_key(void **state)
{
	static const struct { const char *text, *key; int rc; uint64_t v; } cases[] = {
		{ memory_stat_v1, "pgmajfault", 0, 3 },
		{ memory_stat_v1, "total_pgmajfault", 0, 17 },
		{ memory_stat_v1, "hierarchical_memory_limit", 0, 9223372036854771712ULL },
		{ "usage_usec 100\nuser_usec 60\nsystem_usec 40\n", "user_usec", 0, 60 },
		{ "usage_usec 100\nuser_usec 60\nsystem_usec 40", "system_usec", 0, 40 },
		{ "a\t7\n", "a", 0, 7 },
		{ "user 100\nsystem 50\n", "user", 0, 100 },
		/* A key must not match the start of a longer key, nor the tail of one. */
		{ "total_pgmajfault 17\n", "pgmajfault", -EINVAL, 0 },
		{ "pgmajfault_x 5\n", "pgmajfault", -EINVAL, 0 },
		{ "user_usec 60\n", "user", -EINVAL, 0 },
		/* malformed or truncated */
		{ "", "a", -EINVAL, 0 },
		{ "a", "a", -EINVAL, 0 },
		{ "a ", "a", -EINVAL, 0 },
		{ "a \n", "a", -EINVAL, 0 },
		{ "a x\n", "a", -EINVAL, 0 },
		{ "a 12x\n", "a", -EINVAL, 0 },
		{ "a -5\n", "a", -EINVAL, 0 },
		{ "a 99999999999999999999999\n", "a", -EINVAL, 0 },
		{ "a:5\n", "a", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		uint64_t v = 0xdead;
		int rc = kv_get_u64(cases[i].text, cases[i].key, &v);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].v);
	}
}

static void kv_get_double_reads_decimal_values(void **state)
{
	static const struct { const char *text, *key; int rc; double v; } cases[] = {
		{ "avg 1.25\n", "avg", 0, 1.25 },
		{ "x 3\navg 0.50\n", "avg", 0, 0.5 },
		{ "avg -2.5\n", "avg", 0, -2.5 },
		{ "avg abc\n", "avg", -EINVAL, 0 },
		{ "avg 1.5x\n", "avg", -EINVAL, 0 },
		{ "avg\n", "avg", -EINVAL, 0 },
		{ "avg10 1\n", "avg", -EINVAL, 0 },
		{ "", "avg", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		double v = -1;
		int rc = kv_get_double(cases[i].text, cases[i].key, &v);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_float_equal(v, cases[i].v, 1e-9);
	}
}

static const char meminfo[] =
	"MemTotal:       16318480 kB\n"
	"MemFree:         1234567 kB\n"
	"MemAvailable:    8000000 kB\n"
	"Buffers:          100000 kB\n"
	"Cached:          4000000 kB\n"
	"SwapCached:        12345 kB\n"
	"SwapTotal:       2097148 kB\n"
	"SwapFree:        2097000 kB\n"
	"HugePages_Total:       4\n";

static void meminfo_get_bytes_converts_kb_and_keeps_plain_counts(void **state)
{
	static const struct { const char *key; int rc; uint64_t v; } cases[] = {
		{ "MemTotal", 0, 16318480ULL * 1024 },
		{ "MemFree", 0, 1234567ULL * 1024 },
		{ "Cached", 0, 4000000ULL * 1024 },	/* not SwapCached */
		{ "SwapCached", 0, 12345ULL * 1024 },
		{ "SwapFree", 0, 2097000ULL * 1024 },
		{ "HugePages_Total", 0, 4 },
		{ "Mem", -EINVAL, 0 },
		{ "Hugepagesize", -EINVAL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		uint64_t v = 0;
		int rc = meminfo_get_bytes(meminfo, cases[i].key, &v);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_int_equal(v, cases[i].v);
	}
}

static void meminfo_get_bytes_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"", "MemTotal:", "MemTotal:   \n", "MemTotal: kB\n", "MemTotal 123 kB\n",
		"MemTotal: -5 kB\n",
	};
	uint64_t v;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(meminfo_get_bytes(bad[i], "MemTotal", &v), -EINVAL);
}

/* ---- /proc/PID/stat ------------------------------------------------- */

/* Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt(12)
 * cmajflt utime(14) stime(15) cutime cstime priority nice num_threads(20) itrealvalue
 * starttime vsize rss rsslim startcode endcode startstack kstkesp kstkeip signal
 * blocked sigignore sigcatch wchan nswap cnswap exit_signal processor rt_priority
 * policy delayacct_blkio_ticks(42) guest_time cguest_time ... */
#define STAT_TAIL                                                                        \
	" 1 1234 1234 0 -1 4194560 5000 0 42 0 700 300 0 0 20 0 4 0 12345 1000000 250 " \
	"18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 9 0 0 0 0 0 0 0 0 0 0\n"

static void proc_stat_parse_counts_fields_after_the_last_paren(void **state)
{
	static const struct { const char *text; char st; } cases[] = {
		{ "1234 (bash) S" STAT_TAIL, 'S' },
		{ "4321 (CPU 0/TCG) R" STAT_TAIL, 'R' },
		{ "99 (a) b () D" STAT_TAIL, 'D' },
		{ "99 (a) b () S) R" STAT_TAIL, 'R' },
		{ "7 () Z" STAT_TAIL, 'Z' },
		{ "7 ((sd-pam)) S" STAT_TAIL, 'S' },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct proc_stat ps;

		assert_int_equal(proc_stat_parse(cases[i].text, &ps), 0);
		assert_int_equal(ps.state, cases[i].st);
		assert_int_equal(ps.ppid, 1);
		assert_int_equal(ps.majflt, 42);
		assert_int_equal(ps.utime, 700);
		assert_int_equal(ps.stime, 300);
		assert_int_equal(ps.num_threads, 4);
		assert_int_equal(ps.starttime, 12345);
		assert_true(ps.have_blkio);
		assert_int_equal(ps.blkio_ticks, 9);
	}
}

static void proc_stat_parse_without_blkio_field_leaves_it_out(void **state)
{
	/* Old kernels stop before field 42. */
	const char *text = "1 (init) S 0 1 1 0 -1 4194560 5000 0 42 0 700 300 0 0 20 0 4 0 12345\n";
	struct proc_stat ps;

	(void)state;
	assert_int_equal(proc_stat_parse(text, &ps), 0);
	assert_int_equal(ps.num_threads, 4);
	assert_int_equal(ps.starttime, 12345);
	assert_false(ps.have_blkio);
}

static void proc_stat_parse_rejects_short_and_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"",
		"1234",
		"1234 (bash",
		"1234 (bash)",
		"1234 (bash) ",
		"1234 (bash) S",
		"1234 (bash) S 1 1234 1234 0 -1 4194560 5000 0 42 0 700\n",
		"1234 (bash)S 1 1234 1234 0 -1 4194560 5000 0 42 0 700 300 0 0 20 0 4 0 1\n",
		"1234 (bash) 5 1 1234 1234 0 -1 4194560 5000 0 42 0 700 300 0 0 20 0 4 0 1\n",
		"1234 (bash) S 1 x 1234 0 -1 4194560 5000 0 42 0 700 300 0 0 20 0 4 0 1\n",
		"1234 (bash) S 1 - 1234 0 -1 4194560 5000 0 42 0 700 300 0 0 20 0 4 0 1\n",
	};
	struct proc_stat ps;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(proc_stat_parse(bad[i], &ps), -EINVAL);
}

static void proc_stat_cut(const char *t)
{
	struct proc_stat ps;
	int rc = proc_stat_parse(t, &ps);

	assert_true(rc == 0 || rc == -EINVAL);
}

static void proc_stat_parse_survives_every_truncation(void **state)
{
	(void)state;
	each_prefix("4321 (CPU 0/TCG) R" STAT_TAIL, proc_stat_cut);
}

/* ---- schedstat ------------------------------------------------------ */

static void schedstat_parse_reads_run_and_wait(void **state)
{
	static const struct { const char *text; int rc; uint64_t run, wait; } cases[] = {
		{ "123456789 987654321 4242\n", 0, 123456789, 987654321 },
		{ "0 0 0", 0, 0, 0 },
		{ "5 6", 0, 5, 6 },
		{ "", -EINVAL, 0, 0 },
		{ "123", -EINVAL, 0, 0 },
		{ "123 ", -EINVAL, 0, 0 },
		{ "123\n456 7\n", -EINVAL, 0, 0 },
		{ "abc 1 2\n", -EINVAL, 0, 0 },
		{ "1 -2 3\n", -EINVAL, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		uint64_t run = 0, wait = 0;

		assert_int_equal(schedstat_parse(cases[i].text, &run, &wait), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(run, cases[i].run);
			assert_int_equal(wait, cases[i].wait);
		}
	}
}

/* ---- blkio v1 ------------------------------------------------------- */

static const char blkio_bytes[] =
	"8:16 Read 4096\n"
	"8:16 Write 8192\n"
	"8:16 Sync 12288\n"
	"8:16 Async 0\n"
	"8:16 Discard 0\n"
	"8:16 Total 12288\n"
	"8:0 Read 100\n"
	"8:0 Write 200\n"
	"8:0 Sync 300\n"
	"8:0 Async 0\n"
	"8:0 Discard 0\n"
	"8:0 Total 300\n"
	"Total 12588\n";

static void blkio_v1_parse_sums_read_and_write_over_devices(void **state)
{
	uint64_t r = 0, w = 0;

	(void)state;
	assert_int_equal(blkio_v1_parse(blkio_bytes, &r, &w), 0);
	assert_int_equal(r, 4196);
	assert_int_equal(w, 8392);
	/* A cgroup that never did I/O has only the Total line. */
	assert_int_equal(blkio_v1_parse("Total 0\n", &r, &w), 0);
	assert_int_equal(r, 0);
	assert_int_equal(w, 0);
	assert_int_equal(blkio_v1_parse("", &r, &w), 0);
}

static void blkio_v1_parse_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"8:0 Read\n",
		"8:0\n",
		"Read 100\n",
		"Total\n",
		"8:0 Read 100\n8:0 Write\n",
		"garbage\n",
		"8:0 Read 1000000000000000000000000000000000000000000000000000000000000000000000000"
		"00000000000000000000000000000000000000000000000000000000000000000000000000000\n",
	};
	uint64_t r, w;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(blkio_v1_parse(bad[i], &r, &w), -EINVAL);
}

static void blkio_cut(const char *t)
{
	uint64_t r, w;
	int rc = blkio_v1_parse(t, &r, &w);

	assert_true(rc == 0 || rc == -EINVAL);
}

static void blkio_v1_parse_survives_every_truncation(void **state)
{
	(void)state;
	each_prefix(blkio_bytes, blkio_cut);
}

/* ---- io.stat v2 ----------------------------------------------------- */

static const char io_stat[] =
	"8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
	"8:0 rbytes=90112 wbytes=0 rios=22 wios=0 dbytes=0 dios=0\n";

static void iostat_v2_parse_sums_counters_over_devices(void **state)
{
	struct blk_counters c;

	(void)state;
	assert_int_equal(iostat_v2_parse(io_stat, &c), 0);
	assert_int_equal(c.read_bytes, 1459200 + 90112);
	assert_int_equal(c.write_bytes, 314773504);
	assert_int_equal(c.read_ops, 214);
	assert_int_equal(c.write_ops, 353);
	/* No I/O yet: an empty file. */
	assert_int_equal(iostat_v2_parse("", &c), 0);
	assert_int_equal(c.read_bytes + c.write_bytes + c.read_ops + c.write_ops, 0);
	/* Keys in any order, unknown keys skipped. */
	assert_int_equal(iostat_v2_parse("259:0 dios=1 wios=2 cost.usage=5 rbytes=7\n", &c), 0);
	assert_int_equal(c.read_bytes, 7);
	assert_int_equal(c.write_ops, 2);
}

static void iostat_v2_parse_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"rbytes=1 wbytes=2\n",
		"8:0\n",
		"8:0 rbytes=x wbytes=2\n",
		"8:0 rbytes=-1\n",
	};
	struct blk_counters c;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(iostat_v2_parse(bad[i], &c), -EINVAL);
}

static void iostat_cut(const char *t)
{
	struct blk_counters c;
	int rc = iostat_v2_parse(t, &c);

	assert_true(rc == 0 || rc == -EINVAL);
}

static void iostat_v2_parse_survives_every_truncation(void **state)
{
	(void)state;
	each_prefix(io_stat, iostat_cut);
}

/* ---- net/dev -------------------------------------------------------- */

static const char net_dev[] =
	"Inter-|   Receive                                                |  Transmit\n"
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
	"    lo: 9999999    1000    0    0    0     0          0         0  9999999    1000    0    0    0     0       0          0\n"
	"  eth0: 1000000    2000    0    0    0     0          0         0   500000    1500    0    0    0     0       0          0\n"
	"  eth1:     234       2    0    0    0     0          0         0       66       1    0    0    0     0       0          0\n";

static void netdev_parse_sums_all_interfaces_but_lo(void **state)
{
	uint64_t rx = 0, tx = 0;

	(void)state;
	assert_int_equal(netdev_parse(net_dev, &rx, &tx), 0);
	assert_int_equal(rx, 1000234);
	assert_int_equal(tx, 500066);
}

static void netdev_parse_with_only_lo_gives_zero(void **state)
{
	const char text[] =
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n";
	uint64_t rx = 1, tx = 1;

	(void)state;
	assert_int_equal(netdev_parse(text, &rx, &tx), 0);
	assert_int_equal(rx, 0);
	assert_int_equal(tx, 0);
}

static void netdev_parse_rejects_missing_header_and_short_rows(void **state)
{
	static const char *const bad[] = {
		"",
		"Inter-|   Receive\n",
		"Inter-|\n face |\n  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
		"Inter-|\n face |\n  eth0: 1 2 3 4 5 6 7 8\n",
		"Inter-|\n face |\n  eth0: 1 2 3 x 5 6 7 8 9 10\n",
	};
	uint64_t rx, tx;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(netdev_parse(bad[i], &rx, &tx), -EINVAL);
}

static void netdev_cut(const char *t)
{
	uint64_t rx, tx;
	int rc = netdev_parse(t, &rx, &tx);

	assert_true(rc == 0 || rc == -EINVAL);
}

static void netdev_parse_survives_every_truncation(void **state)
{
	(void)state;
	each_prefix(net_dev, netdev_cut);
}

/* ---- PSI ------------------------------------------------------------ */

static const char psi_io[] =
	"some avg10=1.50 avg60=0.75 avg300=0.10 total=123456\n"
	"full avg10=0.25 avg60=0.05 avg300=0.00 total=65432\n";

static void psi_parse_reads_some_and_full_lines(void **state)
{
	double avg10 = -1;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(psi_parse(psi_io, "some", &avg10, &total), 0);
	assert_float_equal(avg10, 1.5, 1e-9);
	assert_int_equal(total, 123456);
	assert_int_equal(psi_parse(psi_io, "full", &avg10, &total), 0);
	assert_float_equal(avg10, 0.25, 1e-9);
	assert_int_equal(total, 65432);
	/* cpu.pressure before 5.13 has no full line. */
	assert_int_equal(psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", "full",
				   &avg10, &total), -EINVAL);
}

static void psi_parse_rejects_malformed_lines(void **state)
{
	static const char *const bad[] = {
		"",
		"some\n",
		"some avg10=\n",
		"some avg10=x avg60=0 avg300=0 total=1\n",
		"some avg60=1.00 avg300=0 total=1\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00\n",
		/* total must come from the same line */
		"some avg10=1.00 avg60=0.00 avg300=0.00\nfull avg10=0 avg60=0 avg300=0 total=5\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=\n",
		"some avg10=1.00 avg60=0.00 avg300=0.00 total=-1\n",
	};
	double avg10;
	uint64_t total;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(psi_parse(bad[i], "some", &avg10, &total), -EINVAL);
}

static void psi_cut(const char *t)
{
	double avg10;
	uint64_t total;
	int rc = psi_parse(t, "full", &avg10, &total);

	assert_true(rc == 0 || rc == -EINVAL);
}

static void psi_parse_survives_every_truncation(void **state)
{
	(void)state;
	each_prefix(psi_io, psi_cut);
}

/* ---- /proc/stat, loadavg -------------------------------------------- */

static void proc_cpu_parse_reads_the_aggregate_line(void **state)
{
	const char text[] = "cpu  10132153 290696 3084719 46828483 16683 0 25195 7 0 0\n"
			    "cpu0 1393280 32966 572056 13343292 6130 0 17875 0 0 0\n";
	struct proc_cpu c;

	(void)state;
	assert_int_equal(proc_cpu_parse(text, &c), 0);
	assert_int_equal(c.user, 10132153);
	assert_int_equal(c.nice, 290696);
	assert_int_equal(c.system, 3084719);
	assert_int_equal(c.idle, 46828483);
	assert_int_equal(c.iowait, 16683);
	assert_int_equal(c.irq, 0);
	assert_int_equal(c.softirq, 25195);
	assert_int_equal(c.steal, 7);
}

static void proc_cpu_parse_rejects_other_lines_and_short_ones(void **state)
{
	static const char *const bad[] = {
		"", "cpu", "cpu ", "cpu0 1 2 3 4 5 6 7 8\n", "intr 1 2 3\n",
		"cpu  1 2 3 4 5 6 7\n", "cpu  1 2 3 x 5 6 7 8\n",
	};
	struct proc_cpu c;

	(void)state;
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(proc_cpu_parse(bad[i], &c), -EINVAL);
}

static void loadavg_parse_reads_loads_and_threads(void **state)
{
	struct loadavg l;
	static const char *const bad[] = {
		"", "0.50", "0.50 0.40 0.30", "0.50 0.40 0.30 2", "0.50 0.40 0.30 2/", "a b c 1/2 3",
	};

	(void)state;
	assert_int_equal(loadavg_parse("0.50 1.25 2.00 3/456 7890\n", &l), 0);
	assert_float_equal(l.load1, 0.5, 1e-9);
	assert_float_equal(l.load5, 1.25, 1e-9);
	assert_float_equal(l.load15, 2.0, 1e-9);
	assert_int_equal(l.running, 3);
	assert_int_equal(l.threads, 456);
	for (size_t i = 0; i < N(bad); i++)
		assert_int_equal(loadavg_parse(bad[i], &l), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kv_get_u64_reads_value_of_exact_key),
		cmocka_unit_test(kv_get_double_reads_decimal_values),
		cmocka_unit_test(meminfo_get_bytes_converts_kb_and_keeps_plain_counts),
		cmocka_unit_test(meminfo_get_bytes_rejects_malformed_lines),
		cmocka_unit_test(proc_stat_parse_counts_fields_after_the_last_paren),
		cmocka_unit_test(proc_stat_parse_without_blkio_field_leaves_it_out),
		cmocka_unit_test(proc_stat_parse_rejects_short_and_malformed_lines),
		cmocka_unit_test(proc_stat_parse_survives_every_truncation),
		cmocka_unit_test(schedstat_parse_reads_run_and_wait),
		cmocka_unit_test(blkio_v1_parse_sums_read_and_write_over_devices),
		cmocka_unit_test(blkio_v1_parse_rejects_malformed_lines),
		cmocka_unit_test(blkio_v1_parse_survives_every_truncation),
		cmocka_unit_test(iostat_v2_parse_sums_counters_over_devices),
		cmocka_unit_test(iostat_v2_parse_rejects_malformed_lines),
		cmocka_unit_test(iostat_v2_parse_survives_every_truncation),
		cmocka_unit_test(netdev_parse_sums_all_interfaces_but_lo),
		cmocka_unit_test(netdev_parse_with_only_lo_gives_zero),
		cmocka_unit_test(netdev_parse_rejects_missing_header_and_short_rows),
		cmocka_unit_test(netdev_parse_survives_every_truncation),
		cmocka_unit_test(psi_parse_reads_some_and_full_lines),
		cmocka_unit_test(psi_parse_rejects_malformed_lines),
		cmocka_unit_test(psi_parse_survives_every_truncation),
		cmocka_unit_test(proc_cpu_parse_reads_the_aggregate_line),
		cmocka_unit_test(proc_cpu_parse_rejects_other_lines_and_short_ones),
		cmocka_unit_test(loadavg_parse_reads_loads_and_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
