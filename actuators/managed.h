/* Managed workloads (adaptfs-workloads(5)): started from recipes at mount
 * and on SIGHUP, stopped at exit, switched between container (runc) and
 * lightweight VM (QEMU microvm) on request. Switches block: call them from a
 * job worker, never from a FUSE thread. */
#pragma once

#include "config.h"
#include "recipe.h"

#include <stdbool.h>

int managed_start(const struct config *cfg);
/* Take the [managed] keys of cfg and read the recipes again. */
void managed_reload(const struct config *cfg);
/* Stop every managed workload, then the manager. */
void managed_stop(void);

/* The mode setting and the mode it runs in now. -ENOENT: not managed. */
int managed_mode(const char *name, enum recipe_mode *setting, bool *vm);
/* A write of the mode file: store the setting; container or vm switches to
 * it if it runs in the other. -EBUSY while another switch of it runs, -EIO
 * if the new mode failed (it runs in its old mode again). */
int managed_set_mode(const char *name, enum recipe_mode m);
/* For a policy: run in vm or container mode now; the setting (auto) is
 * left as it is. Same errors. */
int managed_switch(const char *name, bool vm);
