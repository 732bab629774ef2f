/* What users may write to control files: the pure parsers behind placement,
 * mode and prefetch, the cpuset list format, and the prefetch policy's
 * learning, ordering and budget arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "cpulist.h"
#include "prefetch_policy.h"
#include "prefetch_readback.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int line_of(const char *in, size_t len, char *out)
{
	return control_line(in, len, out, CONTROL_MAX_LINE + 1);
}

static void control_line_strips_and_refuses_junk(void **state)
{
	char out[CONTROL_MAX_LINE + 1];
	char *big = malloc(65536);

	(void)state;
	assert_int_equal(line_of("  on \n", 6, out), 0);
	assert_string_equal(out, "on");
	assert_int_equal(line_of("\t\n", 2, out), 0);
	assert_string_equal(out, "");			/* whitespace only: empty line */
	assert_int_equal(line_of("o\0n\n", 4, out), -EINVAL);	/* NUL byte */
	assert_int_equal(line_of("on\noff\n", 7, out), -EINVAL);	/* several lines */
	memset(big, 'a', 65536);
	assert_int_equal(line_of(big, 65536, out), -EINVAL);	/* 64 KiB line */
	assert_int_equal(line_of(big, CONTROL_MAX_LINE, out), 0);
	free(big);
}

static void prefetch_accepts_on_off_and_digits_only(void **state)
{
	static const struct { const char *in; int r; bool on; } cases[] = {
		{ "on", 0, true }, { "off", 0, false }, { "1", 0, true }, { "0", 0, false },
		{ "", -EINVAL, false }, { "ON", -EINVAL, false }, { "yes", -EINVAL, false },
		{ "on off", -EINVAL, false }, { "2", -EINVAL, false }, { "\xff\xfe", -EINVAL, false },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		bool on = !cases[i].on;

		assert_int_equal(control_parse_prefetch(cases[i].in, &on), cases[i].r);
		if (cases[i].r == 0)
			assert_int_equal(on, cases[i].on);
	}
}

static void mode_accepts_the_three_words(void **state)
{
	enum mode m;

	(void)state;
	assert_int_equal(control_parse_mode("container", &m), 0);
	assert_int_equal(m, MODE_CONTAINER);
	assert_int_equal(control_parse_mode("vm", &m), 0);
	assert_int_equal(m, MODE_VM);
	assert_int_equal(control_parse_mode("auto", &m), 0);
	assert_int_equal(m, MODE_AUTO);
	assert_int_equal(control_parse_mode("[vm]", &m), -EINVAL);
	assert_int_equal(control_parse_mode("", &m), -EINVAL);
	assert_int_equal(control_parse_mode("vm auto", &m), -EINVAL);
}

static void placement_table(void **state)
{
	static const struct { const char *in; int r; bool host, cpus; const char *h; const char *list; } cases[] = {
		{ "host=a cpus=0-1", 0, true, true, "a", "0-1" },
		{ "cpus=0-3,6 host=b.lan", 0, true, true, "b.lan", "0-3,6" },
		{ "cpus=2", 0, false, true, NULL, "2" },
		{ "host=node-1", 0, true, false, "node-1", NULL },
		{ "cpus=0  host=x", 0, true, true, "x", "0" },
		{ "", -EINVAL, false, false, NULL, NULL },
		{ "host=", -EINVAL, false, false, NULL, NULL },
		{ "cpus=", -EINVAL, false, false, NULL, NULL },
		{ "cpus=3-1", -EINVAL, false, false, NULL, NULL },
		{ "cpus=0-99999", -ERANGE, false, false, NULL, NULL },
		{ "cpus=99999999999999999999", -ERANGE, false, false, NULL, NULL },
		{ "cpus=1,,2", -EINVAL, false, false, NULL, NULL },
		{ "cpus=-1", -EINVAL, false, false, NULL, NULL },
		{ "cpus=1 cpus=2", -EINVAL, false, false, NULL, NULL },		/* duplicate key */
		{ "host=a host=b", -EINVAL, false, false, NULL, NULL },
		{ "zone=eu", -EINVAL, false, false, NULL, NULL },			/* unknown key */
		{ "host=a/../b", -EINVAL, false, false, NULL, NULL },
		{ "host=\xc3\xa9t\xe9", -EINVAL, false, false, NULL, NULL },	/* non-ASCII, non-UTF-8 */
		{ "host=a;rm", -EINVAL, false, false, NULL, NULL },
		{ "cpus", -EINVAL, false, false, NULL, NULL },
	};
	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		struct placement_req req;
		int r = control_parse_placement(cases[i].in, &req);

		if (r != cases[i].r)
			fail_msg("'%s': got %d, want %d", cases[i].in, r, cases[i].r);
		if (r)
			continue;
		assert_int_equal(req.has_host, cases[i].host);
		assert_int_equal(req.has_cpus, cases[i].cpus);
		if (cases[i].h)
			assert_string_equal(req.host, cases[i].h);
		if (cases[i].list) {
			char buf[64];

			cpulist_format(&req.cpus, buf, sizeof buf);
			assert_string_equal(buf, cases[i].list);
		}
	}
}

static void cpulist_round_trips_and_truncates_whole_entries(void **state)
{
	cpu_set_t set;
	char buf[8];

	(void)state;
	assert_int_equal(cpulist_parse("0,2-4,7", 7, &set), 0);
	assert_int_equal(CPU_COUNT(&set), 5);
	assert_int_equal(cpulist_parse("0,1,2,3", 7, &set), 0);
	cpulist_format(&set, buf, sizeof buf);
	assert_string_equal(buf, "0-3");
	assert_int_equal(cpulist_parse("0,2,4,6,8,10", 12, &set), 0);
	cpulist_format(&set, buf, sizeof buf);	/* "0,2,4,6" fits 8 bytes with NUL */
	assert_string_equal(buf, "0,2,4,6");
	CPU_ZERO(&set);
	cpulist_format(&set, buf, sizeof buf);
	assert_string_equal(buf, "");
}

static void learning_orders_the_sibling_that_faults_next_first(void **state)
{
	struct prefetch_learn l = {0};
	struct prefetch_target t[] = {
		{ .pid = 10, .comm = "ruby", .swap_bytes = 50 << 20 },
		{ .pid = 11, .comm = "mariadbd", .swap_bytes = 10 << 20 },
		{ .pid = 12, .comm = "cron", .swap_bytes = 90 << 20 },
	};

	(void)state;
	/* Unlearned: the most swapped-out first. */
	prefetch_order(&l, "httpd", t, N(t));
	assert_string_equal(t[0].comm, "cron");
	/* httpd's page-ins are followed by mariadbd's, twice by ruby's once. */
	learn_follow(&l, "httpd", "mariadbd");
	learn_follow(&l, "httpd", "mariadbd");
	learn_follow(&l, "httpd", "ruby");
	prefetch_order(&l, "httpd", t, N(t));
	assert_string_equal(t[0].comm, "mariadbd");
	assert_string_equal(t[1].comm, "ruby");
	assert_string_equal(t[2].comm, "cron");
	/* What follows another trigger is learned apart. */
	prefetch_order(&l, "ruby", t, N(t));
	assert_string_equal(t[0].comm, "cron");
	/* A process never follows itself. */
	learn_follow(&l, "ruby", "ruby");
	assert_int_equal(l.follows[learn_index(&l, "ruby")][learn_index(&l, "ruby")], 0);
}

static void learning_table_fills_without_overflow(void **state)
{
	struct prefetch_learn l = {0};
	char name[16];

	(void)state;
	for (int i = 0; i < LEARN_NAMES; i++) {
		snprintf(name, sizeof name, "p%d", i);
		assert_int_equal(learn_index(&l, name), i);
	}
	assert_int_equal(learn_index(&l, "one-too-many"), -1);
	learn_follow(&l, "p0", "one-too-many");	/* ignored, no crash */
	assert_int_equal(learn_index(&l, "p3"), 3);
}

static void budget_is_headroom_minus_margin_capped_by_tokens(void **state)
{
	const uint64_t M = 1 << 20;

	(void)state;
	assert_int_equal(prefetch_budget(800 * M, 700 * M, 0, 16 * M, 1000 * M), 84 * M);
	assert_int_equal(prefetch_budget(800 * M, 790 * M, 0, 16 * M, 1000 * M), 0);	/* inside margin */
	assert_int_equal(prefetch_budget(800 * M, 900 * M, 0, 16 * M, 1000 * M), 0);	/* over limit */
	assert_int_equal(prefetch_budget(800 * M, 100 * M, 0, 16 * M, 5 * M), 5 * M);	/* rate */
	assert_int_equal(prefetch_budget(0, 100 * M, 300 * M, 16 * M, 1000 * M), 284 * M); /* no limit */
}

static void tokens_refill_at_rate_up_to_one_second(void **state)
{
	(void)state;
	assert_true(prefetch_tokens(0, 1000, 500000) == 500);
	assert_true(prefetch_tokens(900, 1000, 500000) == 1000);
	assert_true(prefetch_tokens(-200, 1000, 100000) == -100);	/* overdraft repaid first */
}

static void smaps_lists_swapped_ranges_and_skips_special_ones(void **state)
{
	const char *text =
		"00400000-00452000 r-xp 00000000 08:02 173521 /usr/bin/dbus-daemon\n"
		"Size:                328 kB\n"
		"Swap:                  0 kB\n"
		"SwapPss:               0 kB\n"
		"7f0000000000-7f0006400000 rw-p 00000000 00:00 0 \n"
		"Size:             102400 kB\n"
		"Swap:              81920 kB\n"
		"7f1000000000-7f1002000000 rw-s 00000000 00:01 4242 /dev/shm/x (deleted)\n"
		"Swap:              32768 kB\n"
		"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n"
		"Swap:                  4 kB\n";
	struct swapped_range r[4];

	(void)state;
	assert_int_equal(smaps_swapped(text, r, 4), 2);
	assert_int_equal(r[0].start, 0x7f0000000000UL);
	assert_int_equal(r[0].swap_bytes, 81920ULL * 1024);
	assert_int_equal(r[1].end, 0x7f1002000000UL);	/* shmem counts too */
	assert_int_equal(smaps_swapped(text, r, 1), 1);	/* bounded */
	assert_int_equal(smaps_swapped("Swap: 4 kB\n", r, 4), -EINVAL);	/* no VMA yet */
	assert_int_equal(smaps_swapped("0-1000 rw-p 0 0:0 0\nSwap: lots\n", r, 4), -EINVAL);
	assert_int_equal(smaps_swapped("2000-1000 rw-p 0 0:0 0\n", r, 4), -EINVAL);
	assert_int_equal(smaps_swapped("", r, 4), 0);
}

static void plan_truncates_at_a_page_and_keeps_the_order(void **state)
{
	struct rb_run runs[3] = {
		{ .pid = 1, .map = true, .start = 0x10000, .len = 8192 },
		{ .pid = 1, .map = true, .start = 0x20000, .len = 16384 },
		{ .pid = 2, .map = true, .start = 0x30000, .len = 4096 },
	};
	struct rb_plan p = { .runs = runs, .n = 3, .bytes = 28672 };

	(void)state;
	readback_plan_truncate(&p, 40000);	/* more than it has: unchanged */
	assert_int_equal(p.n, 3);
	assert_int_equal(p.bytes, 28672);
	readback_plan_truncate(&p, 10000);	/* into the second run, rounded up to its page */
	assert_int_equal(p.n, 2);
	assert_int_equal(runs[1].len, 4096);
	assert_int_equal(p.bytes, 10000);
	readback_plan_truncate(&p, 0);
	assert_int_equal(p.n, 0);
	assert_int_equal(p.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(control_line_strips_and_refuses_junk),
		cmocka_unit_test(prefetch_accepts_on_off_and_digits_only),
		cmocka_unit_test(mode_accepts_the_three_words),
		cmocka_unit_test(placement_table),
		cmocka_unit_test(cpulist_round_trips_and_truncates_whole_entries),
		cmocka_unit_test(learning_orders_the_sibling_that_faults_next_first),
		cmocka_unit_test(learning_table_fills_without_overflow),
		cmocka_unit_test(budget_is_headroom_minus_margin_capped_by_tokens),
		cmocka_unit_test(tokens_refill_at_rate_up_to_one_second),
		cmocka_unit_test(smaps_lists_swapped_ranges_and_skips_special_ones),
		cmocka_unit_test(plan_truncates_at_a_page_and_keeps_the_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
