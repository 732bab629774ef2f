/* What a started program inherits from the daemon (its stdin, stdout and
 * stderr, and no other open file), and reaping only what is ours. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
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

/* A sleep started by a child of ours that waits for it: alive, and not
 * our child. *parent is that child, to be reaped once the sleep ends. */
static pid_t grandchild(pid_t *parent)
{
	int fds[2];
	pid_t g = -1;

	assert_int_equal(pipe(fds), 0);
	*parent = fork();
	assert_true(*parent >= 0);
	if (*parent == 0) {
		g = fork();
		if (g == 0) {
			execlp("sleep", "sleep", "60", (char *)NULL);
			_exit(127);
		}
		if (write(fds[1], &g, sizeof g) != sizeof g)
			_exit(1);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &g, sizeof g), sizeof g);
	close(fds[0]);
	return g;
}

static void reaping_a_pid_that_is_not_a_child_kills_nothing(void **state)
{
	pid_t parent, g = grandchild(&parent);

	(void)state;
	assert_int_equal(spawn_reap(g, 0), -ECHILD);
	assert_int_equal(kill(g, 0), 0);
	kill(g, SIGKILL);
	waitpid(parent, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_program_gets_no_file_of_the_daemons_but_its_stdio),
		cmocka_unit_test(reaping_a_pid_that_is_not_a_child_kills_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
