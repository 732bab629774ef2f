#include "log.h"
#include "util.h"

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
	char raw[1024], line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	/* Paths and names from outside are escaped (\xNN) as in events. */
	str_escape(raw, line, sizeof line);
	if (use_syslog)
		syslog(prio, "%s", line);
	else	/* one write per line: threads log concurrently */
		fprintf(stderr, "adaptfs: %s\n", line);
}
