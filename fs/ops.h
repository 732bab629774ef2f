/* The FUSE front: low-level operations over the node table and snapshots. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops adaptfs_ops;

/* Wire the session to snapshot publication and events: invalidates kernel
 * dentries of vanished workloads and wakes poll()ers of events. */
void ops_attach_session(struct fuse_session *se);
void ops_detach_session(void);
/* Members of gid may write control files too (0664); 0: root only (0644). */
void ops_set_control_group(gid_t gid);
/* At exit, after the loop: free files the kernel never released. */
void ops_free_open_files(void);
