/* The prefetch engine's reads of the host, over tests/fixtures/prefetch/:
 * a container's processes and their fault counters, its budget, and its
 * processes' swapped memory from smaps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "layout.h"
#include "prefetch_impl.h"
#include "util.h"

#define ROOT FIXTURES "/prefetch"
#define MiB (1ULL << 20)

static int engine_up(void **state)
{
	struct config cfg = {
		.cgroup_root = ROOT "/cgroup",
		.proc_root = ROOT "/proc",
		.state_dir = ROOT "/state",	/* none: no setting kept */
		.prefetch = { .margin_bytes = 64.0 * MiB, .max_bytes_per_sec = 256.0 * MiB },
	};

	(void)state;
	if (actuator_layout_init(cfg.cgroup_root) < 0)
		return -1;
	return prefetch_start(&cfg);
}

static int engine_down(void **state)
{
	(void)state;
	prefetch_stop();
	actuator_layout_fini();
	return 0;
}

static const struct proc_seen *seen(const struct pf_state *s, pid_t pid)
{
	for (size_t i = 0; i < s->n_procs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

static void scan_lists_the_subtree_with_counters_and_names(void **state)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	struct prefetch_stats d = {0};

	(void)state;
	/* the first look: no earlier counters, so no faulter */
	assert_int_equal(prefetch_scan_processes(s, "/web.slice/app", now_usec(), &d), 0);
	/* 404 is listed in workers/ but has no /proc entry: it exited */
	assert_int_equal(s->n_procs, 3);
	assert_non_null(seen(s, 401));
	assert_int_equal(seen(s, 401)->majflt, 120);
	assert_string_equal(seen(s, 401)->comm, "nginx");
	assert_int_equal(seen(s, 402)->majflt, 300);
	assert_string_equal(seen(s, 402)->comm, "php-fpm");
	assert_int_equal(seen(s, 403)->majflt, 40);
	assert_string_equal(seen(s, 403)->comm, "php-worker");
	assert_null(seen(s, 404));
	assert_int_equal(d.sibling_faults, 0);
}

static void scan_names_the_largest_increase_and_counts_siblings_in_the_window(void **state)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	struct prefetch_stats d = {0};
	uint64_t now = now_usec();

	(void)state;
	prefetch_scan_processes(s, "/web.slice/app", now, &d);
	/* since the last look: nginx +10, php-fpm +50, php-worker +5 */
	for (size_t i = 0; i < s->n_procs; i++)
		s->procs[i].majflt -= s->procs[i].pid == 401 ? 10 : s->procs[i].pid == 402 ? 50 : 5;
	/* nginx's page-in triggered a read-back a moment ago */
	s->trigger_pid = 401;
	snprintf(s->trigger_comm, sizeof s->trigger_comm, "nginx");
	s->window_until = now + USEC_PER_SEC;
	assert_int_equal(prefetch_scan_processes(s, "/web.slice/app", now, &d), 402);
	assert_int_equal(d.sibling_faults, 55);	/* the trigger's own 10 are not a sibling's */
	assert_int_equal(seen(s, 402)->majflt, 300);
	assert_int_equal(s->learn.follows[learn_index(&s->learn, "nginx")]
					  [learn_index(&s->learn, "php-fpm")], 1);
	/* no fault since: nobody to name, nothing more to count */
	assert_int_equal(prefetch_scan_processes(s, "/web.slice/app", now, &d), 0);
	assert_int_equal(d.sibling_faults, 55);
}

/* The fixture's app has 900 MiB in memory. */
static void a_shrink_since_an_earlier_look_holds_page_ins_back_for_a_second(void **state)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	uint64_t now = now_usec();

	(void)state;
	/* the first look has nothing to compare with */
	assert_false(prefetch_pushed(s, "/web.slice/app", now));
	assert_int_equal(s->usage_seen, 900 * MiB);
	/* a look 300 ms ago saw 20 MiB more */
	s->usage_seen += 20 * MiB;
	s->usage_seen_at = now - 300 * 1000;
	assert_true(prefetch_pushed(s, "/web.slice/app", now));
	assert_string_equal(s->why, "its memory shrank 0 ms ago, to 900 MiB");
	/* the page-in weighed later in the same pass: same clock, same push */
	assert_true(prefetch_pushed(s, "/web.slice/app", now));
	assert_true(prefetch_pushed(s, "/web.slice/app", now + 999 * 1000));
	assert_false(prefetch_pushed(s, "/web.slice/app", now + 1000 * 1000));
}

static void scan_leaves_out_the_readback_worker_and_its_children(void **state)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	struct prefetch_stats d = {0};

	(void)state;
	s->job.pid = 402;	/* 403's parent */
	prefetch_scan_processes(s, "/web.slice/app", now_usec(), &d);
	assert_int_equal(s->n_procs, 1);
	assert_non_null(seen(s, 401));
}

static void scan_of_a_missing_cgroup_finds_nobody(void **state)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	struct prefetch_stats d = {0};

	(void)state;
	assert_int_equal(prefetch_scan_processes(s, "/gone", now_usec(), &d), 0);
	assert_int_equal(s->n_procs, 0);
}

/* A bucket full since long ago holds one second's worth: 256 MiB. */
static uint64_t budget_with_full_bucket(const char *rel, double *tokens)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	uint64_t b;

	s->tokens_at = now_usec() - 10 * USEC_PER_SEC;
	b = prefetch_budget_now(s, rel);
	*tokens = s->tokens;
	return b;
}

static void budget_is_the_room_below_the_limit_less_the_margin(void **state)
{
	double tokens;

	(void)state;
	/* 1024 MiB limit, 900 MiB used, 64 MiB margin */
	assert_int_equal(budget_with_full_bucket("/web.slice/app", &tokens), 60 * MiB);
	assert_true(tokens == 256.0 * MiB);
}

static void budget_without_a_limit_is_the_hosts_available_memory(void **state)
{
	double tokens;

	(void)state;
	/* memory.max "max": MemAvailable 200 MiB less the margin */
	assert_int_equal(budget_with_full_bucket("/db", &tokens), 136 * MiB);
}

static void budget_is_capped_by_the_rate_limit(void **state)
{
	_cleanup_free_ struct pf_state *s = xcalloc(1, sizeof *s);
	double tokens;

	(void)state;
	/* 3 GiB of room, one second's tokens */
	assert_int_equal(budget_with_full_bucket("/batch", &tokens), 256 * MiB);
	/* an empty bucket just now: at most what a few microseconds refill */
	s->tokens_at = now_usec();
	assert_true(prefetch_budget_now(s, "/batch") < MiB);
}

static void smaps_swap_is_summed_without_the_kernels_mappings(void **state)
{
	(void)state;
	/* 3072 + 1024 kB; the 4 kB of [vsyscall] do not count */
	assert_int_equal(readback_swap_bytes(ROOT "/proc", 401), 4 * MiB);
	assert_int_equal(readback_swap_bytes(ROOT "/proc", 402), 6 * MiB);
	assert_int_equal(readback_swap_bytes(ROOT "/proc", 403), 0);
	/* cut short, and absent */
	assert_int_equal(readback_swap_bytes(ROOT "/proc", 501), 0);
	assert_int_equal(readback_swap_bytes(ROOT "/proc", 404), 0);
}

/* No page map in the fixture: each swapped mapping is asked back whole,
 * not mapped, as shmem's is. */
static void smaps_mappings_are_planned_in_address_order_within_budget(void **state)
{
	_cleanup_free_ struct rb_run *runs = xcalloc(RB_MAX_RUNS, sizeof *runs);
	struct rb_plan p = { .runs = runs };

	(void)state;
	assert_int_equal(readback_plan_process(&p, ROOT "/proc", 401, 64 * MiB), 6 * MiB);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.runs[0].pid, 401);
	assert_false(p.runs[0].map);
	assert_int_equal(p.runs[0].start, 0x7f0000000000);
	assert_int_equal(p.runs[0].len, 4 * MiB);
	assert_int_equal(p.runs[1].start, 0x7f0000800000);
	assert_int_equal(p.runs[1].len, 2 * MiB);

	/* 2 of the first mapping's 3 MiB of swap: two thirds of it, in pages */
	p = (struct rb_plan){ .runs = runs };
	assert_int_equal(readback_plan_process(&p, ROOT "/proc", 401, 2 * MiB), 2793472);
	assert_int_equal(p.n, 1);

	p = (struct rb_plan){ .runs = runs };
	assert_int_equal(readback_plan_process(&p, ROOT "/proc", 501, 64 * MiB), 0);
	assert_int_equal(p.n, 0);
}

static void the_worker_joins_the_faulters_cgroup(void **state)
{
	struct rb_plan p = {0};

	(void)state;
	readback_plan_join(&p, ROOT "/proc", ROOT "/cgroup", true, 403);
	assert_int_equal(p.n_join, 1);
	assert_string_equal(p.join[0], ROOT "/cgroup/web.slice/app/workers/cgroup.procs");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scan_lists_the_subtree_with_counters_and_names),
		cmocka_unit_test(scan_names_the_largest_increase_and_counts_siblings_in_the_window),
		cmocka_unit_test(a_shrink_since_an_earlier_look_holds_page_ins_back_for_a_second),
		cmocka_unit_test(scan_leaves_out_the_readback_worker_and_its_children),
		cmocka_unit_test(scan_of_a_missing_cgroup_finds_nobody),
		cmocka_unit_test(budget_is_the_room_below_the_limit_less_the_margin),
		cmocka_unit_test(budget_without_a_limit_is_the_hosts_available_memory),
		cmocka_unit_test(budget_is_capped_by_the_rate_limit),
		cmocka_unit_test(smaps_swap_is_summed_without_the_kernels_mappings),
		cmocka_unit_test(smaps_mappings_are_planned_in_address_order_within_budget),
		cmocka_unit_test(the_worker_joins_the_faulters_cgroup),
	};
	return cmocka_run_group_tests(tests, engine_up, engine_down);
}
