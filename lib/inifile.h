/* INI files read with libinih, as adaptfs.conf(5) and recipes are: line
 * numbers that name the refused key's own line, "FILE:LINE: reason"
 * errors, and only files that root alone can change, in directories that
 * root alone can change (lib/trust.h): they say what root will do. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Take one key: 0, -ENOENT for an unknown key, another -errno for a bad
 * value. */
typedef int (*ini_set_fn)(void *user, const char *section, const char *name, const char *value);

/* Read f, opened from path. 0, or < 0 with err set. */
int ini_file_parse(FILE *f, const char *path, ini_set_fn set, void *user, char *err, size_t errlen);

/* Helpers for set functions: -ERANGE for a number that is not one or out
 * of [min, max] (or not whole, for ini_parse_uint); -EINVAL for a path
 * that is not absolute or a switch that is neither yes nor no. */
int ini_parse_double(const char *s, double min, double max, double *out);
int ini_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);
int ini_parse_yes_no(const char *s, bool *out);
void ini_set_str(char **dst, const char *v);
int ini_set_path(char **dst, const char *v);
