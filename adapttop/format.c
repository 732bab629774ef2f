#include "format.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static int fit(int cur, const char *s, int max)
{
	int n = (int)strlen(s);

	if (max > 0 && n > max)
		n = max;
	return n > cur ? n : cur;
}

void layout_fit(struct layout *l, const struct frame *f, int max_w)
{
	l->name_w = 4;		/* "NAME" */
	l->kind_w = 4;		/* "KIND" */
	l->place_w = 9;		/* "PLACEMENT" */
	for (size_t i = 0; i < f->n; i++) {
		l->name_w = fit(l->name_w, f->rows[i].name, max_w);
		l->kind_w = fit(l->kind_w, f->rows[i].kind, max_w);
		l->place_w = fit(l->place_w, f->rows[i].placement, max_w);
	}
}

void format_bytes(double v, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (v >= 1024 && u < (int)sizeof(units) - 2) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, size, "%.0f", v);
	else
		snprintf(buf, size, v < 9.95 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static const char *dash(const char *s)
{
	return *s ? s : "-";
}

static void fmt_num(const struct row *r, enum field f, const char *fmt, char *buf, size_t size)
{
	if (row_has(r, f))
		snprintf(buf, size, fmt, r->v[f]);
	else
		snprintf(buf, size, "-");
}

static void fmt_bytes_field(const struct row *r, enum field f, char *buf, size_t size)
{
	if (row_has(r, f))
		format_bytes(r->v[f], buf, size);
	else
		snprintf(buf, size, "-");
}

/* "READ/WRITE" per second; "-" when neither direction is known. */
static void fmt_pair(const struct row *r, enum field a, enum field b, char *buf, size_t size)
{
	char x[16], y[16];

	if (!row_has(r, a) && !row_has(r, b)) {
		snprintf(buf, size, "-");
		return;
	}
	fmt_bytes_field(r, a, x, sizeof(x));
	fmt_bytes_field(r, b, y, sizeof(y));
	snprintf(buf, size, "%s/%s", x, y);
}

/* The memory a standby holds, "boot" while a VM standby boots, "-" for none. */
static void fmt_standby(const struct row *r, char *buf, size_t size)
{
	if (row_has(r, F_SB_READY) && r->v[F_SB_READY] == 0)
		snprintf(buf, size, "boot");
	else
		fmt_bytes_field(r, F_SB_MEM, buf, size);
}

#define COLS_FMT "%-*.*s %-*.*s %7s %5s %6s %13s %13s %8s %6s %-6s %-9s %-*.*s %-8s %s"

void format_header(const struct layout *l, char *buf, size_t size)
{
	snprintf(buf, size, COLS_FMT, l->name_w, l->name_w, "NAME", l->kind_w, l->kind_w, "KIND",
		 "CPU%", "PAR", "WAIT%", "IO r/w", "NET rx/tx", "MAJFLT/s", "MEM", "CLASS", "MODE",
		 l->place_w, l->place_w, "PLACEMENT", "PREFETCH", "STANDBY");
}

void format_row(const struct layout *l, const struct row *r, char *buf, size_t size)
{
	char cpu[16], par[16], wait[16], io[32], net[32], flt[16], mem[16], standby[16];

	fmt_num(r, F_CPU, "%.2f", cpu, sizeof(cpu));
	fmt_num(r, F_PAR, "%.2f", par, sizeof(par));
	fmt_num(r, F_WAIT, "%.2f", wait, sizeof(wait));
	fmt_pair(r, F_IO_R, F_IO_W, io, sizeof(io));
	fmt_pair(r, F_NET_RX, F_NET_TX, net, sizeof(net));
	fmt_num(r, F_MAJFLT, "%.1f", flt, sizeof(flt));
	fmt_bytes_field(r, F_MEM, mem, sizeof(mem));
	fmt_standby(r, standby, sizeof(standby));
	snprintf(buf, size, COLS_FMT, l->name_w, l->name_w, r->name, l->kind_w, l->kind_w,
		 dash(r->kind), cpu, par, wait, io, net, flt, mem, dash(r->class), dash(r->mode),
		 l->place_w, l->place_w, dash(r->placement), dash(r->prefetch), standby);
}

void format_host(const struct host *h, char *buf, size_t size)
{
	char total[16] = "-", avail[16] = "-", cores[16] = "-", cpu[16] = "-";
	char load[48] = "-";

	if (host_has(h, H_CORES))
		snprintf(cores, sizeof(cores), "%.0f", h->v[H_CORES]);
	if (host_has(h, H_CPU))
		snprintf(cpu, sizeof(cpu), "%.2f%%", h->v[H_CPU]);
	if (host_has(h, H_LOAD1) && host_has(h, H_LOAD5) && host_has(h, H_LOAD15))
		snprintf(load, sizeof(load), "%.2f %.2f %.2f", h->v[H_LOAD1], h->v[H_LOAD5],
			 h->v[H_LOAD15]);
	if (host_has(h, H_MEM_TOTAL))
		format_bytes(h->v[H_MEM_TOTAL], total, sizeof(total));
	if (host_has(h, H_MEM_AVAIL))
		format_bytes(h->v[H_MEM_AVAIL], avail, sizeof(avail));
	snprintf(buf, size, "host: cores %s  cpu %s  load %s  memory %s total, %s available",
		 cores, cpu, load, total, avail);
}
