/* fs/budget.c: what open files pin, per user. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "budget.h"

#include <errno.h>

static void one_open_always_fits_and_the_next_past_the_budget_is_emfile(void **state)
{
	bool first;

	(void)state;
	/* a text bigger than the whole budget: the first open is allowed */
	assert_int_equal(budget_charge(1000, BUDGET_PER_USER + 1, &first), 0);
	assert_int_equal(budget_charge(1000, 1, &first), -EMFILE);
	assert_true(first);
	assert_int_equal(budget_charge(1000, 1, &first), -EMFILE);
	assert_false(first);	/* one event per crossing, not per open */
	assert_int_equal(budget_of(1000), BUDGET_PER_USER + 1);
	budget_release(1000, BUDGET_PER_USER + 1);
	assert_int_equal(budget_of(1000), 0);
	assert_int_equal(budget_charge(1000, 1, &first), 0);
	budget_release(1000, 1);
}

static void users_are_charged_apart_and_root_never_refused(void **state)
{
	bool first;

	(void)state;
	assert_int_equal(budget_charge(1, BUDGET_PER_USER, &first), 0);
	assert_int_equal(budget_charge(2, BUDGET_PER_USER, &first), 0);
	assert_int_equal(budget_charge(0, BUDGET_PER_USER, &first), 0);
	assert_int_equal(budget_charge(0, BUDGET_PER_USER, &first), 0);
	/* a re-render of an open file is charged, never refused */
	budget_force(1, 100);
	assert_int_equal(budget_of(1), BUDGET_PER_USER + 100);
	budget_release(1, BUDGET_PER_USER + 100);
	budget_release(2, BUDGET_PER_USER);
	budget_release(0, 2 * (size_t)BUDGET_PER_USER);
	assert_int_equal(budget_of(1) + budget_of(2) + budget_of(0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_open_always_fits_and_the_next_past_the_budget_is_emfile),
		cmocka_unit_test(users_are_charged_apart_and_root_never_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
