/* adapttop -o json: one JSON object per workload of a frame, one a line (JSON Lines). */
#pragma once

#include "sample.h"

#include <stdint.h>
#include <stdio.h>

/* Print the rows of F, read at wall time TIMESTAMP_USEC in iteration ITERATION (from 1), to
 * OUT. Returns 0, or -ENOMEM. */
int json_print_frame(const struct frame *f, long iteration, uint64_t timestamp_usec, FILE *out);
