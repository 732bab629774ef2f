/* The prefetch settings written to NAME/prefetch, kept in STATE_DIR/prefetch
 * so that a restarted adaptfs gives each back to its workload: a line
 * "on|off ENGINE ID" per setting (ID: the workload's key, the cgroup of a
 * container or the recipe name of a managed workload), the file rewritten whole at each change. */
#pragma once

#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>

struct prefetch_kept {
	bool on;
	char *ident;		/* "ENGINE ID", as prefetch_keep_ident */
};

/* What names w in the file, into buf: -EINVAL for a workload without a
 * stable one (no key, or one with a newline), -ENAMETOOLONG. */
int prefetch_keep_ident(const struct wl_view *w, char *buf, size_t size);
/* The settings in text (lines that are not a setting are left out, and
 * logged); their number, *out malloc'd. */
size_t prefetch_keep_parse(const char *text, struct prefetch_kept **out);
void prefetch_kept_free(struct prefetch_kept *v, size_t n);
/* The file in state_dir, parsed; 0 settings when there is none. */
size_t prefetch_keep_load(const char *state_dir, struct prefetch_kept **out);
/* Replace the file by text: 0 or -errno (EROFS, ENOSPC, EPERM). */
int prefetch_keep_save(const char *state_dir, const char *text);
