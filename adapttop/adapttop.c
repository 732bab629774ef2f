/* adapttop(1): a live viewer of an adaptfs mount, one row per container and VM. Options,
 * the first read of the mount, and batch mode; the curses screen is in screen.c. */
#include "format.h"
#include "json.h"
#include "sample.h"
#include "screen.h"
#include "sort.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef ADAPTFS_VERSION
#define ADAPTFS_VERSION "0.1"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: adapttop [OPTIONS]\n"
		"Show every container and VM of an adaptfs mount live, one row each.\n\n"
		"  -m, --mount DIR       the adaptfs mount (default /adapt)\n"
		"  -d, --delay SECONDS   seconds between refreshes (default 1)\n"
		"  -b, --batch           print plain text frames instead of the screen (the\n"
		"                        default when standard output is not a terminal)\n"
		"  -n, --iterations N    stop after N frames (default: run on)\n"
		"  -o, --output FORMAT   text (frames, the default) or json (one object per\n"
		"                        workload per frame, one a line; implies -b)\n"
		"  -s, --sort KEY        sort by c or P (cpu) p(arallelism) w(ait) i(o) n(et)\n"
		"                        f(aults) m or M (memory) or N(ame) (default c)\n"
		"  -r, --reverse         reverse the order\n"
		"  -f, --filter TEXT     only workloads whose name contains TEXT\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n\n"
		"Keys: c P p w i n f m M N sort, r reverse, Up/Down/j/k select, Left/Right scroll,\n"
		"/ find, \\ filter, t toggle prefetch, o cycle mode (each asks y/n), q quit.\n"
		"See adapttop(1).\n");
}

static int parse_args(int argc, char **argv, struct view_options *o, bool *batch, long *count,
		      bool *json)
{
	static const struct option longopts[] = {
		{ "mount", required_argument, NULL, 'm' },
		{ "delay", required_argument, NULL, 'd' },
		{ "batch", no_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "sort", required_argument, NULL, 's' },
		{ "reverse", no_argument, NULL, 'r' },
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c, k;

	while ((c = getopt_long(argc, argv, "m:d:bn:o:s:rf:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->mount = optarg;
			break;
		case 'd':
			errno = 0;
			o->delay = strtod(optarg, &end);
			if (errno || *end || !isfinite(o->delay) || o->delay < 0.1 || o->delay > 3600) {
				fprintf(stderr, "adapttop: -d %s: give seconds from 0.1 to 3600\n", optarg);
				return -1;
			}
			break;
		case 'b':
			*batch = true;
			break;
		case 'n':
			errno = 0;
			*count = strtol(optarg, &end, 10);
			if (errno || *end || *count < 1) {
				fprintf(stderr, "adapttop: -n %s: give a count of 1 or more\n", optarg);
				return -1;
			}
			break;
		case 'o':
			if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
				fprintf(stderr, "adapttop: -o %s: give text or json\n", optarg);
				return -1;
			}
			*json = strcmp(optarg, "json") == 0;
			break;
		case 's':
			k = strlen(optarg) == 1 ? sort_key_from_char(optarg[0]) : -1;
			if (k < 0) {
				fprintf(stderr, "adapttop: -s %s: one of c P p w i n f m M N\n", optarg);
				return -1;
			}
			o->sort = (enum sort_key)k;
			break;
		case 'r':
			o->reverse = true;
			break;
		case 'f':
			o->filter = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("adapttop " ADAPTFS_VERSION "\n");
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "adapttop: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Say why MOUNT cannot be read, in the terms of the user's likely mistake. */
static void report_mount_error(const char *mount, int err)
{
	struct stat st;

	if (err == -ENOENT && stat(mount, &st) == 0)
		fprintf(stderr, "adapttop: %s is not an adaptfs mount (no %s/host/stat); "
				"is adaptfs running? Use -m to name its mount point\n", mount, mount);
	else if (err == -ENOTCONN)
		fprintf(stderr, "adapttop: %s: %s (the adaptfs daemon has exited)\n", mount,
			strerror(-err));
	else
		fprintf(stderr, "adapttop: cannot read the adaptfs mount %s: %s\n", mount,
			strerror(-err));
}

static void batch_print(const struct view_options *o, const struct frame *f)
{
	char line[2048];
	struct layout l;

	screen_title(o, f, line, sizeof(line));
	puts(line);
	format_host(&f->host, line, sizeof(line));
	puts(line);
	putchar('\n');
	layout_fit(&l, f, 0);
	format_header(&l, line, sizeof(line));
	puts(line);
	for (size_t i = 0; i < f->n; i++) {
		format_row(&l, &f->rows[i], line, sizeof(line));
		puts(line);
	}
	putchar('\n');
	fflush(stdout);
}

static void sleep_seconds(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t wall_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Frames like top -b: title, host line, blank, column titles, rows, blank; or with JSON
 * one object per row, stamped with the time the frame was read. */
static int batch_run(const struct view_options *o, long count, bool json)
{
	struct frame f = { 0 };
	uint64_t t;
	int r;

	for (long i = 0; count == 0 || i < count; i++) {
		if (i)
			sleep_seconds(o->delay);
		t = wall_usec();
		r = sample_read(o->mount, &f);
		if (r < 0) {
			report_mount_error(o->mount, r);
			return 1;
		}
		rows_filter(&f, o->filter);
		sort_rows(f.rows, f.n, o->sort, o->reverse);
		if (!json)
			batch_print(o, &f);
		else if (json_print_frame(&f, i + 1, t, stdout) < 0) {
			fprintf(stderr, "adapttop: out of memory\n");
			frame_free(&f);
			return 1;
		}
	}
	frame_free(&f);
	return 0;
}

int main(int argc, char **argv)
{
	struct view_options o = { .mount = "/adapt", .delay = 1, .sort = SORT_CPU };
	struct frame f = { 0 };
	bool batch = false, json = false;
	long count = 0;
	int r;

	if (parse_args(argc, argv, &o, &batch, &count, &json) < 0)
		return 2;
	/* into a pipe or a file, frames are text, never terminal escapes */
	if (!isatty(STDOUT_FILENO) || json)
		batch = true;
	o.iterations = count;
	if (batch)
		return batch_run(&o, count, json);
	/* before curses takes the terminal: a wrong mount is a plain message and status 1 */
	r = sample_read(o.mount, &f);
	frame_free(&f);
	if (r < 0) {
		report_mount_error(o.mount, r);
		return 1;
	}
	return screen_run(&o);
}
