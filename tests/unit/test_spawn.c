/* What a started program inherits from the daemon: its stdin, stdout and
 * stderr, and no other open file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "spawn.h"

static void a_program_gets_no_file_of_the_daemons_but_its_stdio(void **state)
{
	/* no O_CLOEXEC, as a file the daemon was started with */
	int leaked = open("/dev/null", O_RDONLY);
	char check[64], out[64];
	const char *argv[] = { "sh", "-c", check, NULL };

	(void)state;
	assert_true(leaked > 2);
	snprintf(check, sizeof check, "test ! -e /proc/$$/fd/%d && test -e /proc/$$/fd/1", leaked);
	assert_int_equal(spawn_wait(argv, -1, out, sizeof out, 5000), 0);
	close(leaked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_program_gets_no_file_of_the_daemons_but_its_stdio),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
