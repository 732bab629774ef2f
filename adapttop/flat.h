/* Parsers for the text of adaptfs files: flat keyed ("key value" lines) and sysfs-style
 * choice lists ("[container] vm auto"). Pure functions over a NUL-terminated buffer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* The value of KEY in flat keyed TEXT. Returns 0, -ENOENT if no line has that key, -EINVAL
 * if its value is not a number. */
int flat_get(const char *text, const char *key, double *out);

/* The current choice of a control file: the bracketed word of "[a] b c", else the first
 * word ("on"). Copies it into OUT (truncated to SIZE-1). Returns 0 or -EINVAL (empty). */
int flat_choice(const char *text, char *out, size_t size);

/* The first line of TEXT, trailing blanks dropped, into OUT. */
void flat_line(const char *text, char *out, size_t size);
