/* Text of adapttop's lines, shared by the batch printer and the curses screen: the host
 * summary, the column titles and one line per workload, every value a single word. */
#pragma once

#include "sample.h"

#include <stddef.h>

/* Widths of the columns whose text varies: fitted to a frame's longest value. */
struct layout {
	int name_w, kind_w, place_w;
};

/* Fit LAYOUT to frame F; values wider than MAX_W are cut (curses), 0 = never cut (batch). */
void layout_fit(struct layout *l, const struct frame *f, int max_w);
void format_header(const struct layout *l, char *buf, size_t size);
void format_row(const struct layout *l, const struct row *r, char *buf, size_t size);
void format_host(const struct host *h, char *buf, size_t size);
/* 1536 -> "1.5K", 3e9 -> "2.8G" (powers of 1024), 512 -> "512". */
void format_bytes(double v, char *buf, size_t size);
