/* cpuset list format ("0-3,6"): the syntax of cpuset.cpus and placement. */
#pragma once

#include <sched.h>
#include <stddef.h>

/* Parse a list into set. -EINVAL on bad syntax (empty, "3-1", junk),
 * -ERANGE for a CPU number >= CPU_SETSIZE. Pure. */
int cpulist_parse(const char *s, size_t len, cpu_set_t *set);
/* Format set as a list with ranges; "" for an empty set. */
void cpulist_format(const cpu_set_t *set, char *buf, size_t size);
