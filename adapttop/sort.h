/* Which rows and in what order: a name filter, and one sort key per viewer key
 * (c p w i n f m N, and P and M as in top), reversible. */
#pragma once

#include "sample.h"

enum sort_key { SORT_CPU, SORT_PAR, SORT_WAIT, SORT_IO, SORT_NET, SORT_MAJFLT, SORT_MEM, SORT_NAME };

/* The sort key of viewer key CH ('c', 'N', ...), or -1. */
int sort_key_from_char(int ch);
/* "cpu", "name", ... for the header line. */
const char *sort_key_name(enum sort_key k);

/* Figures sort largest first, names A to Z; REVERSE turns either round. Rows that lack the
 * figure go last either way; ties are broken by name. */
void sort_rows(struct row *rows, size_t n, enum sort_key k, bool reverse);

/* Keep only the rows whose name contains SUBSTR (all when SUBSTR is NULL or ""). */
void rows_filter(struct frame *f, const char *substr);
