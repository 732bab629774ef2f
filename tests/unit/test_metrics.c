/* metrics_derive_rates and the metric catalogue's own consistency. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "metrics.h"

static void rates_are_counter_deltas_per_second_times_scale(void **state)
{
	struct metric_set prev = {0}, cur = {0};

	(void)state;
	metric_set(&prev, M_CPU_USAGE_USEC, 1000000);
	metric_set(&cur, M_CPU_USAGE_USEC, 1000000 + 750000);	/* 0.75 s of CPU ... */
	metric_set(&prev, M_IO_READ_BYTES, 4096);
	metric_set(&cur, M_IO_READ_BYTES, 4096 + 2 * 1048576);
	metric_set(&prev, M_MAJFLT_TOTAL, 10);
	metric_set(&cur, M_MAJFLT_TOTAL, 30);
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &prev, &cur, 500000);	/* ... in 0.5 s */
	assert_true(metric_has(&cur, M_CPU_USAGE_PERCENT));
	assert_float_equal(cur.v[M_CPU_USAGE_PERCENT], 150.0, 1e-9);
	assert_float_equal(cur.v[M_IO_READ_BYTES_PER_SEC], 4.0 * 1048576, 1e-6);
	assert_float_equal(cur.v[M_MAJFLT_PER_SEC], 40.0, 1e-9);
}

/* Whatever counter the catalogue derives each rate from. */
static void check_every_rate(const struct metric_def *defs, int n)
{
	for (int m = 0; m < n; m++) {
		struct metric_set prev = {0}, cur = {0};
		int c = defs[m].rate_of;

		if (c < 0)
			continue;
		metric_set(&prev, c, 1000);
		metric_set(&cur, c, 1000 + 3000000);
		metrics_derive_rates(defs, n, &prev, &cur, 2000000);
		assert_true(metric_has(&cur, m));
		assert_float_equal(cur.v[m], 1500000.0 * defs[m].rate_scale, 1e-9);
	}
}

static void every_rate_is_its_counters_delta_per_second_times_scale(void **state)
{
	(void)state;
	check_every_rate(wl_metrics, M_WL_COUNT);
	check_every_rate(host_metrics, H_COUNT);
}

static void parallelism_of_two_busy_cpus_is_two(void **state)
{
	struct metric_set prev = {0}, cur = {0};
	int c = wl_metrics[M_THREADS_PARALLELISM].rate_of;

	(void)state;
	assert_true(c >= 0);
	metric_set(&prev, c, 0);
	metric_set(&cur, c, 2000000);	/* usec of CPU in one second */
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &prev, &cur, 1000000);
	assert_float_equal(cur.v[M_THREADS_PARALLELISM], 2.0, 1e-9);
}

static void a_counter_that_did_not_move_gives_a_zero_rate(void **state)
{
	struct metric_set prev = {0}, cur = {0};

	(void)state;
	metric_set(&prev, M_IO_WRITE_BYTES, 123);
	metric_set(&cur, M_IO_WRITE_BYTES, 123);
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &prev, &cur, 1000000);
	assert_true(metric_has(&cur, M_IO_WRITE_BYTES_PER_SEC));
	assert_float_equal(cur.v[M_IO_WRITE_BYTES_PER_SEC], 0.0, 1e-12);
}

static void a_counter_reset_gives_no_rate(void **state)
{
	struct metric_set prev = {0}, cur = {0};

	(void)state;
	metric_set(&prev, M_SCHED_WAIT_USEC, 900000);
	metric_set(&cur, M_SCHED_WAIT_USEC, 1000);
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &prev, &cur, 1000000);
	assert_false(metric_has(&cur, M_SCHED_WAIT_PERCENT));
}

static void absent_counters_give_no_rate(void **state)
{
	struct metric_set prev = {0}, cur = {0};

	(void)state;
	/* Present now but not before (first sample, or backend appeared). */
	metric_set(&cur, M_IO_NET_RX_BYTES, 5000);
	/* Present before but not now (backend gone). */
	metric_set(&prev, M_IO_NET_TX_BYTES, 5000);
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &prev, &cur, 1000000);
	assert_false(metric_has(&cur, M_IO_NET_RX_BYTES_PER_SEC));
	assert_false(metric_has(&cur, M_IO_NET_TX_BYTES_PER_SEC));
	assert_int_equal(cur.present, 1ULL << M_IO_NET_RX_BYTES);
}

static void no_previous_sample_or_zero_interval_gives_no_rates(void **state)
{
	struct metric_set prev = {0}, cur = {0};

	(void)state;
	metric_set(&prev, M_CPU_USAGE_USEC, 1);
	metric_set(&cur, M_CPU_USAGE_USEC, 2);
	metrics_derive_rates(wl_metrics, M_WL_COUNT, NULL, &cur, 1000000);
	assert_false(metric_has(&cur, M_CPU_USAGE_PERCENT));
	metrics_derive_rates(wl_metrics, M_WL_COUNT, &prev, &cur, 0);
	assert_false(metric_has(&cur, M_CPU_USAGE_PERCENT));
}

static void host_rates_derive_from_host_counters(void **state)
{
	struct metric_set prev = {0}, cur = {0};

	(void)state;
	metric_set(&prev, H_CPU_USAGE_USEC, 0);
	metric_set(&cur, H_CPU_USAGE_USEC, 4000000);	/* four CPUs busy for a second */
	metrics_derive_rates(host_metrics, H_COUNT, &prev, &cur, 1000000);
	assert_float_equal(cur.v[H_CPU_USAGE_PERCENT], 400.0, 1e-9);
}

static void check_catalogue(const struct metric_def *defs, int n)
{
	for (int i = 0; i < n; i++) {
		const struct metric_def *d = &defs[i];

		assert_non_null(d->key);
		assert_true(d->rate_of < n);
		if (d->rate_of >= 0) {
			assert_int_equal(defs[d->rate_of].rate_of, -1);	/* rate of a counter */
			assert_true(d->rate_scale > 0);
			assert_false(d->counter);
		}
		if (d->prom) {
			assert_non_null(d->help);
			assert_true(d->prom_scale > 0);
			for (int j = 0; j < i; j++)
				if (defs[j].prom)
					assert_string_not_equal(defs[j].prom, d->prom);
		}
		for (int j = 0; j < i; j++)
			if (d->file && defs[j].file && strcmp(d->file, defs[j].file) == 0)
				assert_string_not_equal(defs[j].key, d->key);
	}
}

static void catalogue_has_unique_names_and_rates_of_counters(void **state)
{
	(void)state;
	assert_true(M_WL_COUNT <= 64 && H_COUNT <= 64);	/* present is a 64-bit mask */
	check_catalogue(wl_metrics, M_WL_COUNT);
	check_catalogue(host_metrics, H_COUNT);
}

static void metric_add_starts_from_zero_when_absent(void **state)
{
	struct metric_set m = {0};

	(void)state;
	metric_add(&m, M_THREADS_TOTAL, 3);
	metric_add(&m, M_THREADS_TOTAL, 4);
	assert_true(metric_has(&m, M_THREADS_TOTAL));
	assert_float_equal(m.v[M_THREADS_TOTAL], 7.0, 1e-12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rates_are_counter_deltas_per_second_times_scale),
		cmocka_unit_test(every_rate_is_its_counters_delta_per_second_times_scale),
		cmocka_unit_test(parallelism_of_two_busy_cpus_is_two),
		cmocka_unit_test(a_counter_that_did_not_move_gives_a_zero_rate),
		cmocka_unit_test(a_counter_reset_gives_no_rate),
		cmocka_unit_test(absent_counters_give_no_rate),
		cmocka_unit_test(no_previous_sample_or_zero_interval_gives_no_rates),
		cmocka_unit_test(host_rates_derive_from_host_counters),
		cmocka_unit_test(catalogue_has_unique_names_and_rates_of_counters),
		cmocka_unit_test(metric_add_starts_from_zero_when_absent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
