/* FUSE requests over io_uring where the kernel offers it (Linux 6.14+ with
 * fuse.enable_uring=1), under libfuse as its custom I/O. */
#pragma once

#include <stdbool.h>

#include "ops.h"

/* After fuse_session_mount(), before the loop: take the ring at INIT if the
 * kernel offers it and want is set. */
int uring_attach(struct fuse_session *se, bool want);
/* After the loop: stop the queue threads and free the rings. */
void uring_stop(void);
