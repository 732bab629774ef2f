/* The classifier: per-sample scores, EWMA smoothing, hysteresis, and the
 * cpu -> vm recommendation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "classify.h"

static const struct class_config defaults = {
	.window = 5,
	.hysteresis = 1.2,
	.cpu_percent = 50.0,
	.io_bytes_per_sec = 1048576,
	.io_wait_percent = 20.0,
	.net_bytes_per_sec = 1048576,
	.major_faults_per_sec = 50.0,
	.cpu_mode = CPU_MODE_AUTO,
};

static struct metric_set idle_sample(void)
{
	struct metric_set m = {0};

	metric_set(&m, M_CPU_USAGE_PERCENT, 1.0);
	metric_set(&m, M_IO_READ_BYTES_PER_SEC, 0);
	metric_set(&m, M_IO_WRITE_BYTES_PER_SEC, 0);
	return m;
}

static struct metric_set cpu_sample(double percent)
{
	struct metric_set m = idle_sample();

	metric_set(&m, M_CPU_USAGE_PERCENT, percent);
	return m;
}

static void scores_are_metric_over_threshold_and_idle_is_one(void **state)
{
	struct metric_set m = {0};
	double s[CLASS_COUNT];

	(void)state;
	metric_set(&m, M_CPU_USAGE_PERCENT, 25.0);
	metric_set(&m, M_IO_READ_BYTES_PER_SEC, 1048576);
	metric_set(&m, M_IO_WRITE_BYTES_PER_SEC, 1048576);
	metric_set(&m, M_IO_NET_RX_BYTES_PER_SEC, 262144);
	metric_set(&m, M_IO_NET_TX_BYTES_PER_SEC, 262144);
	metric_set(&m, M_MAJFLT_PER_SEC, 5.0);
	classify_scores(&defaults, &m, s);
	assert_float_equal(s[CLASS_IDLE], 1.0, 1e-9);
	assert_float_equal(s[CLASS_CPU], 0.5, 1e-9);
	assert_float_equal(s[CLASS_IO], 2.0, 1e-9);
	assert_float_equal(s[CLASS_NET], 0.5, 1e-9);
	assert_float_equal(s[CLASS_MEMORY], 0.1, 1e-9);
}

static void io_score_is_the_larger_of_bandwidth_and_wait(void **state)
{
	struct metric_set m = {0};
	double s[CLASS_COUNT];

	(void)state;
	metric_set(&m, M_IO_READ_BYTES_PER_SEC, 524288);
	metric_set(&m, M_IO_WAIT_PERCENT, 60.0);
	classify_scores(&defaults, &m, s);
	assert_float_equal(s[CLASS_IO], 3.0, 1e-9);
}

/* 20 % used and 40 % waited for: it wants 60 % of a CPU, not idle. */
static void cpu_score_counts_the_run_queue_wait(void **state)
{
	struct metric_set m = {0};
	double s[CLASS_COUNT];

	(void)state;
	metric_set(&m, M_CPU_USAGE_PERCENT, 20.0);
	metric_set(&m, M_SCHED_WAIT_PERCENT, 40.0);
	classify_scores(&defaults, &m, s);
	assert_float_equal(s[CLASS_CPU], 1.2, 1e-9);
	assert_true(s[CLASS_CPU] > s[CLASS_IDLE]);
}

static void absent_metrics_score_zero(void **state)
{
	struct metric_set m = {0};
	double s[CLASS_COUNT];

	(void)state;
	classify_scores(&defaults, &m, s);
	assert_float_equal(s[CLASS_IDLE], 1.0, 1e-9);
	for (int k = CLASS_CPU; k < CLASS_COUNT; k++)
		assert_float_equal(s[k], 0.0, 1e-9);
}

static void memory_pressure_zeroes_the_io_score(void **state)
{
	struct metric_set m = {0};
	double s[CLASS_COUNT];

	(void)state;
	/* Swap-in traffic: block reads from page faults. */
	metric_set(&m, M_IO_READ_BYTES_PER_SEC, 8.0 * 1048576);
	metric_set(&m, M_MAJFLT_PER_SEC, 200.0);
	classify_scores(&defaults, &m, s);
	assert_float_equal(s[CLASS_MEMORY], 4.0, 1e-9);
	assert_float_equal(s[CLASS_IO], 0.0, 1e-9);

	/* Below the fault threshold, io keeps its score. */
	metric_set(&m, M_MAJFLT_PER_SEC, 10.0);
	classify_scores(&defaults, &m, s);
	assert_float_equal(s[CLASS_IO], 8.0, 1e-9);
}

static void decide_keeps_current_unless_beaten_by_hysteresis(void **state)
{
	double s[CLASS_COUNT] = { [CLASS_IDLE] = 1.0, [CLASS_CPU] = 1.1 };

	(void)state;
	assert_int_equal(classify_decide(&defaults, CLASS_IDLE, s), CLASS_IDLE);
	s[CLASS_CPU] = 1.21;
	assert_int_equal(classify_decide(&defaults, CLASS_IDLE, s), CLASS_CPU);
	/* From cpu, io must beat cpu's score by the factor too. */
	s[CLASS_IO] = 1.3;
	assert_int_equal(classify_decide(&defaults, CLASS_CPU, s), CLASS_CPU);
	s[CLASS_IO] = 1.5;
	assert_int_equal(classify_decide(&defaults, CLASS_CPU, s), CLASS_IO);
}

static void ewma_converges_to_a_constant_score(void **state)
{
	struct class_state st = {0};
	struct metric_set m = cpu_sample(25.0);	/* score 0.5 */

	(void)state;
	for (int i = 0; i < 10; i++)
		classify_update(&st, &defaults, &m);
	m = cpu_sample(150.0);			/* score 3.0 */
	double prev = st.smoothed[CLASS_CPU];
	for (int i = 0; i < 60; i++) {
		classify_update(&st, &defaults, &m);
		assert_true(st.smoothed[CLASS_CPU] >= prev);
		assert_true(st.smoothed[CLASS_CPU] <= 3.0 + 1e-9);
		prev = st.smoothed[CLASS_CPU];
	}
	assert_float_equal(st.smoothed[CLASS_CPU], 3.0, 1e-6);
	assert_int_equal(st.samples, 70);
}

static void first_sample_seeds_the_average(void **state)
{
	struct class_state st = {0};
	struct metric_set m = cpu_sample(100.0);

	(void)state;
	classify_update(&st, &defaults, &m);
	assert_float_equal(st.smoothed[CLASS_CPU], 2.0, 1e-9);
}

static void one_spike_does_not_flip_an_idle_workload(void **state)
{
	struct class_state st = {0};
	struct metric_set idle = idle_sample(), spike = cpu_sample(150.0);

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_int_equal(classify_update(&st, &defaults, &idle), CLASS_IDLE);
	assert_int_equal(classify_update(&st, &defaults, &spike), CLASS_IDLE);
	for (int i = 0; i < 20; i++)
		assert_int_equal(classify_update(&st, &defaults, &idle), CLASS_IDLE);
}

static void sustained_cpu_load_flips_to_cpu_and_back_to_idle(void **state)
{
	struct class_state st = {0};
	struct metric_set idle = idle_sample(), busy = cpu_sample(150.0);
	int flipped = -1, back = -1;

	(void)state;
	for (int i = 0; i < 10; i++)
		classify_update(&st, &defaults, &idle);
	for (int i = 0; i < 20; i++)
		if (classify_update(&st, &defaults, &busy) == CLASS_CPU && flipped < 0)
			flipped = i;
	assert_int_equal(st.current, CLASS_CPU);
	/* Not on the first busy sample (hysteresis), but within the window. */
	assert_in_range(flipped, 1, (int)defaults.window);
	for (int i = 0; i < 30; i++)
		if (classify_update(&st, &defaults, &idle) == CLASS_IDLE && back < 0)
			back = i;
	assert_int_equal(st.current, CLASS_IDLE);
	assert_in_range(back, 1, 3 * (int)defaults.window);
}

static void sustained_swapping_classifies_memory_not_io(void **state)
{
	struct class_state st = {0};
	struct metric_set m = {0};

	(void)state;
	metric_set(&m, M_IO_READ_BYTES_PER_SEC, 16.0 * 1048576);
	metric_set(&m, M_MAJFLT_PER_SEC, 500.0);
	for (int i = 0; i < 20; i++)
		classify_update(&st, &defaults, &m);
	assert_int_equal(st.current, CLASS_MEMORY);
}

static void sustained_network_traffic_classifies_net(void **state)
{
	struct class_state st = {0};
	struct metric_set m = idle_sample();

	(void)state;
	metric_set(&m, M_IO_NET_RX_BYTES_PER_SEC, 4.0 * 1048576);
	metric_set(&m, M_IO_NET_TX_BYTES_PER_SEC, 1.0 * 1048576);
	for (int i = 0; i < 20; i++)
		classify_update(&st, &defaults, &m);
	assert_int_equal(st.current, CLASS_NET);
}

static void recommend_vm_follows_cpu_mode_for_cpu_class_only(void **state)
{
	struct class_config c = defaults;

	(void)state;
	c.cpu_mode = CPU_MODE_AUTO;
	assert_true(classify_recommend_vm(&c, CLASS_CPU, true));
	assert_false(classify_recommend_vm(&c, CLASS_CPU, false));
	c.cpu_mode = CPU_MODE_VM;
	assert_true(classify_recommend_vm(&c, CLASS_CPU, true));
	assert_true(classify_recommend_vm(&c, CLASS_CPU, false));
	c.cpu_mode = CPU_MODE_CONTAINER;
	assert_false(classify_recommend_vm(&c, CLASS_CPU, true));
	assert_false(classify_recommend_vm(&c, CLASS_CPU, false));
	for (int mode = CPU_MODE_AUTO; mode <= CPU_MODE_CONTAINER; mode++) {
		c.cpu_mode = (enum cpu_mode)mode;
		for (int k = 0; k < CLASS_COUNT; k++)
			if (k != CLASS_CPU) {
				assert_false(classify_recommend_vm(&c, (enum wl_class)k, true));
				assert_false(classify_recommend_vm(&c, (enum wl_class)k, false));
			}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scores_are_metric_over_threshold_and_idle_is_one),
		cmocka_unit_test(io_score_is_the_larger_of_bandwidth_and_wait),
		cmocka_unit_test(cpu_score_counts_the_run_queue_wait),
		cmocka_unit_test(absent_metrics_score_zero),
		cmocka_unit_test(memory_pressure_zeroes_the_io_score),
		cmocka_unit_test(decide_keeps_current_unless_beaten_by_hysteresis),
		cmocka_unit_test(ewma_converges_to_a_constant_score),
		cmocka_unit_test(first_sample_seeds_the_average),
		cmocka_unit_test(one_spike_does_not_flip_an_idle_workload),
		cmocka_unit_test(sustained_cpu_load_flips_to_cpu_and_back_to_idle),
		cmocka_unit_test(sustained_swapping_classifies_memory_not_io),
		cmocka_unit_test(sustained_network_traffic_classifies_net),
		cmocka_unit_test(recommend_vm_follows_cpu_mode_for_cpu_class_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
