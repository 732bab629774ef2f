#include "log.h"
#include "util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static bool use_syslog;
static bool level_prefix;

/* systemd sets JOURNAL_STREAM=DEV:INODE for a stdout/stderr connected to
 * the journal (systemd.exec(5)). Only fd 2 itself counts: a child whose
 * stderr was redirected elsewhere inherits the variable but not the stream. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char end;

	if (!env || sscanf(env, "%ju:%ju%c", &dev, &ino, &end) != 2 || fstat(2, &st) < 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void log_open(bool to_syslog, bool always_prefix)
{
	use_syslog = to_syslog;
	level_prefix = !to_syslog && (always_prefix || stderr_is_journal());
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
	else if (level_prefix)	/* the journal reads the priority from "<N>" (sd-daemon(3)) */
		fprintf(stderr, "<%d>adaptfs: %s\n", LOG_PRI(prio), line);
	else	/* one write per line: threads log concurrently */
		fprintf(stderr, "adaptfs: %s\n", line);
}
