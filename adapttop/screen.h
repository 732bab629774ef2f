/* The interactive viewer: a curses screen refreshed from the mount, with keys to sort,
 * select a workload and write its control files. */
#pragma once

#include "sort.h"

struct view_options {
	const char *mount;
	double delay;		/* seconds between reads of the mount */
	enum sort_key sort;
	bool reverse;
	const char *filter;	/* show only workloads whose name contains it (NULL/"": all) */
	long iterations;	/* -n: frames to show before quitting, 0 = until q */
};

/* Run until the user quits. Returns the process exit status. */
int screen_run(const struct view_options *o);

/* The title line of a frame, as batch mode prints it too. */
void screen_title(const struct view_options *o, const struct frame *f, char *buf, size_t size);
