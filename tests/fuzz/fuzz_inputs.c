/* libFuzzer target over everything that parses outside input: what users
 * write to control files, and what the kernel, QEMU and runtimes hand us
 * (a QEMU command line also as a migration's destination rewrites it).
 * The first byte picks the parser; the rest is its input. No crash, leak,
 * hang or sanitizer report is allowed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "cpulist.h"
#include "parse.h"
#include "prefetch_policy.h"
#include "qemu.h"
#include "qemu_argv.h"
#include "qmp.h"

static void parse_as_control(const char *text, size_t len)
{
	char line[CONTROL_MAX_LINE + 1];
	struct placement_req req;
	enum mode mode;
	bool on;

	if (control_line(text, len, line, sizeof line) < 0)
		return;
	control_parse_prefetch(line, &on);
	control_parse_mode(line, &mode);
	control_parse_placement(line, &req);
}

static void parse_as_kernel_text(uint8_t which, const char *s)
{
	struct proc_stat ps;
	struct blk_counters bc;
	struct proc_cpu pc;
	struct loadavg la;
	struct swapped_range r[16];
	uint64_t a, b;
	double d;

	switch (which % 10) {
	case 0: proc_stat_parse(s, &ps); break;
	case 1: schedstat_parse(s, &a, &b); break;
	case 2: blkio_v1_parse(s, &a, &b); break;
	case 3: iostat_v2_parse(s, &bc); break;
	case 4: netdev_parse(s, &a, &b); break;
	case 5: psi_parse(s, "some", &d, &a); break;
	case 6: proc_cpu_parse(s, &pc); loadavg_parse(s, &la); break;
	case 7: kv_get_u64(s, "pgmajfault", &a); meminfo_get_bytes(s, "MemTotal", &a); break;
	case 8: smaps_swapped(s, r, 16); break;
	default: {
		cpu_set_t set;
		char buf[64];

		if (cpulist_parse(s, strlen(s), &set) == 0)
			cpulist_format(&set, buf, sizeof buf);
	}
	}
}

/* A QEMU command line as /proc/PID/cmdline gives it, and as a migration's
 * destination rewrites it. */
static void parse_as_qemu_argv(const char *blob, size_t len)
{
	struct argv_list in = {0}, out;
	struct qemu_cmdline c;

	qemu_cmdline_parse(blob, len, &c);
	for (size_t i = 0; i < len; i += strlen(blob + i) + 1)
		argv_list_add(&in, blob + i);
	if (qemu_argv_incoming(&in, "/run/x", "tcp:10.0.0.2:4444", &out) == 0)
		argv_list_free(&out);
	argv_list_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		parse_as_control(text, size - 1);	/* may hold NULs: length-bounded */
		break;
	case 1:
		parse_as_kernel_text(data[0] / 4, text);
		break;
	case 2:
		parse_as_qemu_argv(text, size - 1);
		break;
	default: {
		json_t *msg = NULL;
		size_t used;

		if (qmp_parse_message(text, size - 1, &msg, &used) == 0)
			json_decref(msg);
	}
	}
	free(text);
	return 0;
}
