/* The host's own figures: cores, cpu, load, memory, pressure. */
#pragma once

#include "metrics.h"

void host_sample(const char *proc_root, struct metric_set *m);
