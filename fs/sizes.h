/* What the kernel was told about each file's size. A file whose text has the
 * length the kernel believes can be read through the page cache (one round
 * trip, EOF known without asking); any other read takes direct I/O, so a
 * cached size never truncates or pads live text. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A lookup or getattr reply told the kernel len, rendered from snapshot seq. */
void sizes_told(uint64_t ino, size_t len, uint64_t seq);
bool sizes_lookup(uint64_t ino, size_t *len, uint64_t *seq);
/* Opens served through the page cache; those inodes are invalidated when a
 * new snapshot arrives, so that a reader keeping the file open sees it. */
void sizes_cached_open(uint64_t ino, int delta);
size_t sizes_cached_inodes(uint64_t *out, size_t max);
/* The kernel dropped the inode: the next open must not trust an old size. */
void sizes_forget(uint64_t ino);
