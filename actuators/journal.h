/* The migration journal: one small file per action in flight under
 * STATE_DIR/journal, rewritten atomically at each phase, so that a daemon
 * killed in the middle can finish or undo the action when it starts again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Write "key=value\n" text as the entry id. 0 or -errno (ENOSPC, EROFS:
 * the action must not start). */
int journal_write(const char *state_dir, const char *id, const char *text);
void journal_remove(const char *state_dir, const char *id);
/* Is there an entry id (one a restart has not settled yet)? */
bool journal_has(const char *state_dir, const char *id);
/* Call fn for every entry left behind. */
void journal_each(const char *state_dir, void (*fn)(const char *id, const char *text, void *ctx),
		  void *ctx);
/* The value of key in an entry's text into out; -ENOENT if absent. Pure. */
int journal_get(const char *text, const char *key, char *out, size_t size);
