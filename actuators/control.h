/* Control files: parse -> validate -> queue. Every write is one line; the
 * parsers are pure and table-tested; errors are the errnos of design.md
 * (EINVAL syntax, ERANGE value, EBUSY in progress, EOPNOTSUPP not for this
 * workload) and every refusal is also a line in events. */
#pragma once

#include "config.h"
#include "snapshot.h"

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

enum control_file { CTL_PLACEMENT, CTL_MODE, CTL_PREFETCH };
enum mode { MODE_CONTAINER, MODE_VM, MODE_AUTO };

#define CONTROL_MAX_LINE 4096

struct placement_req {
	bool has_host, has_cpus;
	char host[64];
	cpu_set_t cpus;
};

/* One line, surrounding whitespace stripped, into out (NUL-terminated).
 * -EINVAL for NUL bytes, several lines, or more than CONTROL_MAX_LINE. */
int control_line(const char *buf, size_t len, char *out, size_t size);
int control_parse_prefetch(const char *line, bool *on);
int control_parse_mode(const char *line, enum mode *mode);
int control_parse_placement(const char *line, struct placement_req *req);

/* Called once with the outcome of a queued write (0 or -errno). */
typedef void (*control_done_fn)(void *ctx, int err);

/* Act on a write of buf to file f of workload w (from snapshot s).
 * < 0: refused (nothing changed); 0: queued, done() follows from a worker;
 * 1: done at once. */
int control_write(const struct snapshot *s, const struct wl_view *w, enum control_file f,
		  const char *buf, size_t len, control_done_fn done, void *ctx);

/* Start and stop the actuator workers (the daemon recovers interrupted
 * migrations from the journal before, see migrate_recover). */
int control_start(const struct config *cfg);
void control_stop(void);
