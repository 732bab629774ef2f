/* adaptfs-migrate: see receive.h and adaptfs-migrate(8). */
#include "receive.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

bool name_ok(const char *name)
{
	return *name && strlen(name) < 128 && name[0] != '.' &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		       strlen(name);
}

static int usage(void)
{
	fprintf(stderr,
		"usage: adaptfs-migrate qemu-incoming NAME ADDRESS [postcopy] [TAP=BRIDGE...]\n"
		"       adaptfs-migrate qemu-status|qemu-abort NAME\n"
		"       adaptfs-migrate lxc-receive NAME SOURCE_LXC_PATH [restore]\n"
		"       adaptfs-migrate lxc-status|lxc-abort NAME\n"
		"       adaptfs-migrate criu-check\n"
		"The configuration is $ADAPTFS_CONFIG or " CONFIG_DEFAULT_PATH ".\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = getenv("ADAPTFS_CONFIG");
	struct config cfg;
	char err[512];
	int r;

	if (argc == 2 && strcmp(argv[1], "criu-check") == 0)
		return criu_check();
	if (argc < 3)
		return usage();
	if (!name_ok(argv[2])) {
		say("error bad name");
		return 2;
	}
	if (config_load(&cfg, path ? path : CONFIG_DEFAULT_PATH, path != NULL, err, sizeof err) < 0) {
		say("error %s", err);
		return 1;
	}
	if (strcmp(argv[1], "qemu-incoming") == 0 && argc >= 4)
		r = qemu_incoming(&cfg, argc - 2, argv + 2);
	else if (strcmp(argv[1], "qemu-status") == 0)
		r = qemu_status(&cfg, argv[2]);
	else if (strcmp(argv[1], "qemu-abort") == 0)
		r = qemu_abort(&cfg, argv[2]);
	else if (strcmp(argv[1], "lxc-receive") == 0 && (argc == 4 || argc == 5))
		r = lxc_receive(&cfg, argv[2], argv[3], argc == 5 && strcmp(argv[4], "restore") == 0);
	else if (strcmp(argv[1], "lxc-status") == 0)
		r = lxc_status(&cfg, argv[2]);
	else if (strcmp(argv[1], "lxc-abort") == 0)
		r = lxc_abort(&cfg, argv[2]);
	else
		r = usage();
	config_free(&cfg);
	return r;
}
