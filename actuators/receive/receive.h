/* adaptfs-migrate(8): the destination end of a migration, run on the peer
 * through its transport by the source's adaptfs. It speaks lines on
 * standard output; its standard input is the source's: a tar stream, or
 * commands, and end of input before "done" means the source gave up. */
#pragma once

#include "config.h"
#include "migrate.h"

#include <stdbool.h>

/* Each returns the process exit status. */
int qemu_incoming(const struct config *cfg, int argc, char **argv);
int qemu_status(const struct config *cfg, const char *name);
int qemu_abort(const struct config *cfg, const char *name);
/* restore: start from the CRIU images in NAME/LXC_CHECKPOINT_DIR. */
int lxc_receive(const struct config *cfg, const char *name, const char *src_path, bool restore);
int criu_check(void);
int lxc_status(const struct config *cfg, const char *name);
int lxc_abort(const struct config *cfg, const char *name);

/* One protocol line on standard output, flushed. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A workload name that is safe as one path component. */
bool name_ok(const char *name);
