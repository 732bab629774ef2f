#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static bool use_syslog;

void log_open(bool to_syslog)
{
	use_syslog = to_syslog;
	if (use_syslog)
		openlog("adaptfs", LOG_PID, LOG_DAEMON);
}

void log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(prio, fmt, ap);
	} else {
		char line[1024];

		/* One write per line: threads log concurrently. */
		vsnprintf(line, sizeof line, fmt, ap);
		fprintf(stderr, "adaptfs: %s\n", line);
	}
	va_end(ap);
}
