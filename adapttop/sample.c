#include "sample.h"

#include "flat.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>

const char *const field_keys[F_COUNT] = {
	[F_CPU] = "cpu_usage_percent",
	[F_PAR] = "threads_parallelism",
	[F_WAIT] = "sched_wait_percent",
	[F_IO_R] = "io_read_bytes_per_sec",
	[F_IO_W] = "io_write_bytes_per_sec",
	[F_NET_RX] = "io_net_rx_bytes_per_sec",
	[F_NET_TX] = "io_net_tx_bytes_per_sec",
	[F_MAJFLT] = "major_faults_per_sec",
	[F_MEM] = "memory_current_bytes",
	[F_SB_MEM] = "standby_memory_bytes",
	[F_SB_CPU] = "standby_cpu_usec",
	[F_SB_READY] = "standby_ready",
	[F_STAMP] = "timestamp_usec",
};

static const char *const host_keys[H_COUNT] = {
	[H_CORES] = "cores_online",
	[H_CPU] = "cpu_usage_percent",
	[H_LOAD1] = "load1",
	[H_LOAD5] = "load5",
	[H_LOAD15] = "load15",
	[H_MEM_TOTAL] = "memory_total_bytes",
	[H_MEM_AVAIL] = "memory_available_bytes",
};

/* A workload's stat is a few hundred bytes; the control files one line. */
#define TEXT_MAX 16384

static ssize_t read_wl_file(int dirfd, const char *wl, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];

	if (path_printf(path, sizeof(path), "%s/%s", wl, file) < 0)
		return -ENAMETOOLONG;
	return read_file_at(dirfd, path, buf, size);
}

/* "container docker" -> "container/docker": one word per column in batch output. */
static void set_kind(struct row *r, const char *text)
{
	flat_line(text, r->kind_text, sizeof(r->kind_text));
	snprintf(r->kind, sizeof(r->kind), "%s", r->kind_text);
	for (char *p = r->kind; *p; p++)
		if (*p == ' ' || *p == '\t')
			*p = '/';
}

/* "host=HOST cpus=CPUS" -> "HOST/CPUS", "host=HOST" (not pinned) -> "HOST"; anything else
 * is shown as its one line with blanks as ',' so that it stays one word. */
static void set_placement(struct row *r, const char *text)
{
	char line[sizeof(r->placement)], host[64] = "", cpus[64] = "", extra;
	int n;

	flat_line(text, line, sizeof(line));
	snprintf(r->placement_text, sizeof(r->placement_text), "%s", line);
	n = sscanf(line, "host=%63s cpus=%63s %c", host, cpus, &extra);
	if (n == 2) {
		snprintf(r->placement, sizeof(r->placement), "%s/%s", host, cpus);
		return;
	}
	if (n == 1 && sscanf(line, "host=%*s %c", &extra) < 1) {
		snprintf(r->placement, sizeof(r->placement), "%s", host);
		return;
	}
	for (char *p = line; *p; p++)
		if (*p == ' ' || *p == '\t')
			*p = ',';
	snprintf(r->placement, sizeof(r->placement), "%s", line);
}

/* Returns 0, or -errno when the workload is gone (or never was one): then skip it. */
static int row_read(int dirfd, const char *name, struct row *r)
{
	char text[TEXT_MAX];

	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", name);
	/* kind and stat are what make a workload; without them it has vanished */
	if (read_wl_file(dirfd, name, "kind", text, sizeof(text)) < 0)
		return -ENOENT;
	set_kind(r, text);
	if (read_wl_file(dirfd, name, "stat", text, sizeof(text)) < 0)
		return -ENOENT;
	for (int f = 0; f < F_COUNT; f++)
		if (flat_get(text, field_keys[f], &r->v[f]) == 0)
			r->have |= 1u << f;
	/* the rest is optional: a missing file or key shows as "-" */
	if (read_wl_file(dirfd, name, "class", text, sizeof(text)) >= 0)
		sscanf(text, "%15s", r->class);
	if (read_wl_file(dirfd, name, "mode", text, sizeof(text)) >= 0)
		flat_choice(text, r->mode, sizeof(r->mode));
	if (read_wl_file(dirfd, name, "prefetch", text, sizeof(text)) >= 0)
		flat_choice(text, r->prefetch, sizeof(r->prefetch));
	if (read_wl_file(dirfd, name, "placement", text, sizeof(text)) >= 0)
		set_placement(r, text);
	return 0;
}

static int host_read(int dirfd, struct host *h)
{
	char text[TEXT_MAX];
	ssize_t n = read_file_at(dirfd, "host/stat", text, sizeof(text));

	memset(h, 0, sizeof(*h));
	if (n < 0)
		return (int)n;
	for (int f = 0; f < H_COUNT; f++)
		if (flat_get(text, host_keys[f], &h->v[f]) == 0)
			h->have |= 1u << f;
	return 0;
}

/* Names that are files or the host, not workloads (design: reserved top-level names). */
static bool is_workload_entry(const struct dirent *de)
{
	if (de->d_name[0] == '.' || strcmp(de->d_name, "host") == 0)
		return false;
	return de->d_type == DT_DIR || de->d_type == DT_UNKNOWN;
}

int sample_read(const char *mount, struct frame *f)
{
	_cleanup_close_ int dirfd = -1;
	_cleanup_closedir_ DIR *dir = NULL;
	size_t cap = 0;
	struct dirent *de;
	int r;

	frame_free(f);
	/* opened anew each time: a remount on the same path is followed */
	dirfd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	r = host_read(dirfd, &f->host);
	if (r < 0)
		return r;
	dir = opendir(mount);
	if (!dir)
		return -errno;
	while ((errno = 0, de = readdir(dir))) {
		if (!is_workload_entry(de))
			continue;
		GROW(f->rows, cap, f->n + 1);
		if (row_read(dirfd, de->d_name, &f->rows[f->n]) == 0)
			f->n++;
	}
	if (errno) {
		r = -errno;
		frame_free(f);
		return r;
	}
	f->n_all = f->n;
	return 0;
}

void frame_free(struct frame *f)
{
	free(f->rows);
	memset(f, 0, sizeof(*f));
}
