#!/usr/bin/env python3
"""The read-back budget sweep of bench/prefetch/run.sh (BUDGETS=...): first-request
latency and extra swap-in I/O against [prefetch] max_bytes_per_trigger.

usage: report_budget.py TMPDIR OUT PNG < meta      (OUT empty: print the table only)
TMPDIR/runs.tsv has one "key=value ..." line per run (run.sh's run_one), with
budget_mib the cap of the adaptfs that served the run (0: none)."""
import os, statistics, subprocess, sys

from runs import read_meta, read_runs

tmp, out, png = sys.argv[1:4]
meta = read_meta(sys.stdin)
runs = read_runs(tmp)

PAGE_MIB = 4096 / (1 << 20)


def med(rs, f):
    return statistics.median(f(r) for r in rs)


def swapin_mib(r):	# pages read from swap, B's start to 10 s after the request
    return (r["sw_pre"] + r["sw_after"]) * PAGE_MIB


ideal = [r for r in runs if r["mode"] == "ideal"]
off = [r for r in runs if r["mode"] == "off"]
on = [r for r in runs if r["mode"] == "on"]
ideal_ms = med(ideal, lambda r: r["lat_ms"]) if ideal else float("nan")
off_ms = med(off, lambda r: r["lat_ms"])
off_sw = med(off, swapin_mib)
budgets = sorted({r["budget_mib"] for r in on}, key=lambda b: (b == 0, b))

rows = []
head = ("| read-back budget per trigger | runs | first request ms: median (min–max) | × faster than off "
        "| gap to ideal closed | mariadbd majflt | swap-in read MiB | extra vs off | asked back MiB |\n"
        "|---|---|---|---|---|---|---|---|---|\n")
line = "| %s | %d | %.0f (%.0f–%.0f) | %s | %s | %.0f | %.0f | %s | %.0f |\n"
tbl = head + line % ("prefetch off", len(off), off_ms, min(r["lat_ms"] for r in off),
                     max(r["lat_ms"] for r in off), "1.00×", "0%", med(off, lambda r: r["m_maj"]),
                     off_sw, "0%", 0)
for b in budgets:
    rs = [r for r in on if r["budget_mib"] == b]
    ms = med(rs, lambda r: r["lat_ms"])
    sw = med(rs, swapin_mib)
    asked = med(rs, lambda r: r["pf_bytes"] / (1 << 20))
    gap = (off_ms - ms) / (off_ms - ideal_ms) * 100 if off_ms > ideal_ms else float("nan")
    label = "no cap (the budget alone)" if b == 0 else "%d MiB" % b
    tbl += line % (label, len(rs), ms, min(r["lat_ms"] for r in rs), max(r["lat_ms"] for r in rs),
                   "%.2f×" % (off_ms / ms), "%.0f%%" % gap, med(rs, lambda r: r["m_maj"]), sw,
                   "%+.0f%%" % ((sw - off_sw) / off_sw * 100), asked)
    rows.append((b, asked, ms, (sw - off_sw) / off_sw * 100))
tbl += "| ideal (no memory pressure) | %d | %.0f | | | 0 | 0 | | |\n" % (len(ideal), ideal_ms)

if not out:
    print(tbl)
    sys.exit(0)

dat = os.path.join(tmp, "budget.dat")
capped = [b for b, _, _, _ in rows if b]
nocap_x = 2 * max(capped) if capped else 1
with open(dat, "w") as f:	# budget MiB (no cap: twice the largest cap), ms, extra %, label
    for b, asked, ms, extra in rows:
        f.write("%d %.1f %.1f \"%s\"\n" % (b or nocap_x, ms, extra, "no cap" if b == 0 else "%d MiB" % b))
subprocess.run(["gnuplot", "-e", "png='%s'; dat='%s'; offms=%.1f; idealms=%.1f" % (png, dat, off_ms, ideal_ms),
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "budget.gp")], check=True)

with open(out, "w") as f:
    f.write("# bench/prefetch — first request and extra swap-in against the read-back budget\n\n")
    f.write("Machine: %s. Date: %s. Commit (HEAD when run): %s. Produced by "
            "`BUDGETS=\"...\" bench/prefetch/run.sh` (see its head); the set-up, the request "
            "and the columns are those of `results.md`.\n\n" % (meta["machine"], meta["date"], meta["commit"]))
    f.write("- Swap: %s. Database: %s. Limits: %s. Squeeze: A to %s MiB before B starts.\n"
            % (meta["swap"], meta["db"], meta["limits"], meta["squeeze"]))
    f.write("- Each round: one run with prefetch off, then one with prefetch on per budget "
            "(`[prefetch] max_bytes_per_trigger`, adaptfs restarted with it; rounds in the same order). "
            "*swap-in read*: pages read from the swap device (`pswpin`, host-wide) from B's start to "
            "10 s after the request; *extra vs off*: against the off-runs' median; *asked back*: "
            "`prefetch_bytes` over the run (housekeeping triggers before the request included).\n\n")
    f.write(tbl)
    f.write("\n![first request and extra swap-in against the budget](budget.png)\n")
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis-budget.md")
    if os.path.exists(analysis):
        f.write("\n" + open(analysis).read())
