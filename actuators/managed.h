/* Managed workloads (adaptfs-workloads(5)): started from recipes at mount
 * and on SIGHUP, left running at exit and adopted by the next adaptfs,
 * switched between container (runc) and lightweight VM (QEMU microvm) on
 * request. Switches block: call them from a job worker, never from a FUSE
 * thread. */
#pragma once

#include "config.h"
#include "recipe.h"

#include <sched.h>
#include <stdbool.h>

int managed_start(const struct config *cfg);
/* Take the [managed] keys of cfg and read the recipes again. */
void managed_reload(const struct config *cfg);
/* Stop the manager; the workloads run on, for the next adaptfs to adopt. */
void managed_stop(void);
/* adaptfs --stop-workloads: stop every workload an adaptfs left running
 * under cfg's run_dir, while none runs there (-EBUSY if one does). */
int managed_stop_workloads(const struct config *cfg);

/* The mode setting (kind says what runs now). -ENOENT: not managed. */
int managed_mode(const char *name, enum recipe_mode *setting);
/* A write of the mode file: store the setting; container or vm switches to
 * it if it runs in the other. -EBUSY while another switch of it runs, -EIO
 * if the new mode failed (it runs in its old mode again). */
int managed_set_mode(const char *name, enum recipe_mode m);
/* A write of placement cpus=: pin it now, in whichever mode it runs and its
 * standby, and every instance started later. -EBUSY while a switch of it
 * runs, -ERANGE for CPUs its cpuset does not allow; on failure it runs
 * where it did. */
int managed_pin(const char *name, const cpu_set_t *cpus);
/* For a policy: run in vm or container mode now; the setting (auto) is
 * left as it is. Same errors. */
int managed_switch(const char *name, bool vm);
/* For a policy: a switch of this auto workload may come soon (or no
 * longer), so keep its standby ready (standby = auto). */
void managed_want_standby(const char *name, bool want);
