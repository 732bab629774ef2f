#!/usr/bin/env python3
"""Turn bench/prefetch/run.sh's raw results into the table, the targets and the plot.

usage: report.py TMPDIR OUT PNG HERE < meta      (OUT empty: print the table only)
TMPDIR/runs.tsv has one "key=value ..." line per run; TMPDIR/samples/runN-MODE.txt the
100 ms samples ("t pid comm majflt", "t - vmstat pswpin") and runN-MODE.txt.req the
request's start and end (wall clock). HERE/analysis.md, if present, is appended to OUT.
"""
import os, statistics, subprocess, sys

from runs import read_meta, read_runs

tmp, out, png, here = sys.argv[1:5]
meta = read_meta(sys.stdin)
runs = read_runs(tmp)

ideal = [r for r in runs if r["mode"] == "ideal"]
off = [r for r in runs if r["mode"] == "off"]
on = [r for r in runs if r["mode"] == "on"]
ideal_ms = statistics.median(r["lat_ms"] for r in ideal) if ideal else float("nan")
MIB = 1 << 20


def med(rs, k):
    return statistics.median(r[k] for r in rs) if rs else float("nan")


def sw_total(r):		# swap-in pages from B's start to the end of the record
    return r["sw_pre"] + r["sw_after"]


for r in runs:
    if "q_run_ms" in r and r.get("q_ms", -1) >= 0:	# blocked: the query's time neither on nor waiting for a CPU
        r["q_blocked_ms"] = max(0.0, r["q_ms"] - r["q_run_ms"] - r["q_wait_ms"])
    r["sw_total"] = sw_total(r)
    r["rf_total"] = r.get("rf_pre", 0) + r.get("rf_after", 0)
    if "sz_pre" in r:
        r["sz_total"] = r["sz_pre"] + r["sz_after"]
    r["ws_from_swap"] = 100.0 * r["swapped_in"] * 4 / r["ref_kib"] if r["ref_kib"] else 0


COLS = [
    ("run", lambda r: "%d %s" % (r["n"], r["mode"])),
    ("latency ms", lambda r: "%.0f" % r["lat_ms"]),
    ("ideal ms", lambda r: "%.0f" % ideal_ms),
    ("MariaDB query ms", lambda r: "%.0f" % r.get("q_ms", -1)),
    ("busiest mariadbd thread: on CPU / CPU wait / blocked ms", lambda r: "%.0f / %.0f / %.0f" % (
        r.get("q_run_ms", -1), r.get("q_wait_ms", -1), r.get("q_blocked_ms", -1))),
    ("mariadbd majflt", lambda r: "%d" % r["m_maj"]),
    ("httpd majflt", lambda r: "%d" % r["h_maj"]),
    ("ruby majflt", lambda r: "%d" % r["r_maj"]),
    ("mariadbd Swap before MiB", lambda r: "%.0f" % (r["m_swap_kib"] / 1024)),
    ("request's pages from swap MiB (% of its working set)",
     lambda r: "%.0f (%.0f%%)" % (r["swapped_in"] * 4 / 1024, r["ws_from_swap"])),
    ("swap-in during request MiB: read / zero-filled / cgroup refaults", lambda r: "%.0f / %s / %.0f" % (
        r["sw_req"] * 4 / 1024, "%.0f" % (r["sz_req"] * 4 / 1024) if "sz_req" in r else "–",
        r.get("rf_req", 0) * 4 / 1024)),
    ("swap-in B start→+%ss MiB: read / zero-filled / cgroup refaults" % meta.get("after", "10"),
     lambda r: "%.0f / %s / %.0f" % (r["sw_total"] * 4 / 1024, "%.0f" % (r["sz_total"] * 4 / 1024)
                                    if "sz_total" in r else "–", r.get("rf_total", 0) * 4 / 1024)),
    ("B swapped out during request MiB", lambda r: "%.0f" % (r.get("b_out_kib", 0) / 1024)),
    ("prefetch triggers before / during", lambda r: "%d / %d" % (r["pf_pre_trig"], r["pf_req_trig"])),
    ("prefetch_bytes before / during MiB",
     lambda r: "%.0f / %.0f" % (r["pf_pre_bytes"] / MIB, r["pf_req_bytes"] / MIB)),
    ("load1", lambda r: "%.1f" % r.get("load", 0)),
]


def table(rs):
    lines = ["| " + " | ".join(c for c, _ in COLS) + " |", "|" + "---|" * len(COLS)]
    for r in rs:
        lines.append("| " + " | ".join(fn(r) for _, fn in COLS) + " |")
    for name, grp in (("median off", off), ("median on", on)):
        if not grp:
            continue
        m = {k: med(grp, k) for k in grp[0] if isinstance(grp[0][k], (int, float))}
        m["n"], m["mode"] = 0, ""
        row = [name] + [fn(m) for _, fn in COLS[1:]]
        lines.append("| **" + "** | **".join(row) + "** |")
    return "\n".join(lines)


def verdict(ok):
    return "**met**" if ok else "**missed**"


targets = []
if off and on:
    moff, mon = med(off, "m_maj"), med(on, "m_maj")
    cut = 100.0 * (1 - mon / moff) if moff else 0.0
    targets.append("1. MariaDB major faults during the request −90%% or more: median %d off → %d on, "
                   "%+.1f%%: %s%s." % (moff, mon, -cut, verdict(cut >= 90),
                                      "" if cut >= 90 else " by %.1f points" % (90 - cut)))
    loff, lon = med(off, "lat_ms"), med(on, "lat_ms")
    speed = loff / lon if lon else 0
    gap = 100.0 * (loff - lon) / (loff - ideal_ms) if loff > ideal_ms else 0.0
    ok = speed >= 2 and gap >= 50
    targets.append("2. Median first request ≥ 2× faster than off and ≥ 50%% of the gap to the ideal "
                   "closed: median %.0f ms off → %.0f ms on (ideal %.0f ms): %.2f× faster, %.0f%% of the "
                   "gap closed: %s." % (loff, lon, ideal_ms, speed, gap, verdict(ok)))
    slowest = max(r["lat_ms"] for r in on)
    targets.append("3. No on-run slower than the median off-run: the on-runs took %.0f–%.0f ms, the "
                   "median off-run %.0f ms: %s." % (min(r["lat_ms"] for r in on), slowest, loff,
                                                     verdict(slowest <= loff)))
    toff, ton = med(off, "sw_total"), med(on, "sw_total")
    qoff, qon = med(off, "sw_req"), med(on, "sw_req")
    roff, ron = med(off, "rf_total"), med(on, "rf_total")
    extra = 100.0 * (ton - toff) / toff if toff else 0.0
    extra_req = 100.0 * (qon - qoff) / qoff if qoff else 0.0
    extra_rf = 100.0 * (ron - roff) / roff if roff else 0.0
    zero = ""
    if "sz_total" in off[0] and "sz_total" in on[0]:
        zero = (" Zero-filled pages (`swpin_zero`: swapped in without I/O) from B's start to the end: "
                "%.0f MiB off, %.0f MiB on." % (med(off, "sz_total") * 4 / 1024, med(on, "sz_total") * 4 / 1024))
    targets.append("4. Extra swap-in I/O ≤ 10%% beyond what the request needed (what it needed: the "
                   "off runs' swap-in reads): pages read from the swap device (`pswpin`) from B's start "
                   "to %s s after the request, median %.0f MiB off → %.0f MiB on, %+.1f%%: %s%s. The "
                   "request's own window only: %.0f → %.0f MiB, %+.0f%%. Counted by the cgroups instead "
                   "(anon refaults into A and B, zero-filled pages included): %.0f → %.0f MiB, %+.0f%%.%s"
                   % (meta.get("after", "10"), toff * 4 / 1024, ton * 4 / 1024, extra,
                      verdict(extra <= 10), " (by %.1f points)" % (10 - extra) if extra <= 10
                      else " by %.0f points" % (extra - 10),
                      qoff * 4 / 1024, qon * 4 / 1024, extra_req,
                      roff * 4 / 1024, ron * 4 / 1024, extra_rf, zero))


CATS = [  # (name, test on the signature); the first that matches wins
    ("reclaim: making room under the memory limits (scanning, swapping out)",
     lambda g: "reclaim_throttle" in g or "try_to_free_mem_cgroup_pages" in g or "shrink_" in g
     or "try_charge" in g),
    ("swap-in: racing another reader for the same swap slot (__read_swap_cache_async)",
     lambda g: g.startswith("__read_swap_cache_async")),
    ("swap-in: waiting for the page's read to finish (folio lock in do_swap_page)",
     lambda g: "do_swap_page" in g and "folio" in g and "wait" in g),
    ("swap-in: other (issuing the read, mapping)", lambda g: "do_swap_page" in g or "swap" in g),
    ("runnable, preempted (waiting for a CPU)", lambda g: g.startswith("exit_to_user_mode_loop")
     or g.startswith("irqentry_exit_to_user_mode")),
    ("other (futex, poll, other faults)", lambda g: True),
]


ENGINE_CATS = [
    ("read-back: reclaim to make room (charging the read-back pages to A under the full parent)",
     lambda g: "try_to_free_mem_cgroup_pages" in g or "shrink_" in g or "try_charge" in g
     or "reclaim_throttle" in g or "swapin_charge" in g),
    ("read-back (process_madvise WILLNEED): reading pages into the swap cache",
     lambda g: "madvise" in g or "swapin_walk" in g or "read_swap_cache" in g),
    ("reading /proc (smaps, stat)", lambda g: "smap" in g or "proc_" in g or "seq_read" in g),
    ("runnable, preempted (waiting for a CPU)", lambda g: g.startswith("exit_to_user_mode_loop")
     or g.startswith("irqentry_exit_to_user_mode")),
    ("other (FUSE requests, sampling, sleeping between passes)", lambda g: True),
]


def stack_summary(rs, comm, cats):
    """Samples of COMM's threads in D (blocked) or R with a kernel stack, by category."""
    tot = {}
    n = 0
    for r in rs:
        path = os.path.join(tmp, "samples", "run%d-%s.txt.stacks" % (r["n"], r["mode"]))
        if not os.path.exists(path):
            continue
        n += 1
        for line in open(path):
            parts = line.split(" ", 3)
            if len(parts) < 4 or parts[1] != comm:
                continue
            for name, test in cats:
                if test(parts[3].strip()):
                    tot[name] = tot.get(name, 0) + int(parts[0])
                    break
    return n, tot


def stack_table(comm="mariadbd", cats=CATS, label="mariadbd's threads"):
    groups = [("ideal", ideal), ("off", off), ("on", on)]
    sums = {g: stack_summary(rs, comm, cats) for g, rs in groups}
    if not any(t for _, t in sums.values()):
        return ""
    lines = ["| kernel stacks of %s (D or R) | " % label + " | ".join(
        "%s (%d runs)" % (g, sums[g][0]) for g, _ in groups) + " |", "|---|---|---|---|"]
    for name, _ in cats:
        if any(name in sums[g][1] for g, _ in groups):
            lines.append("| %s | %s |" % (name, " | ".join(
                "%.0f" % (sums[g][1].get(name, 0) / max(1, sums[g][0])) for g, _ in groups)))
    return "\n".join(lines)


def series(r):
    """100 ms bins relative to the request's start: t, httpd, ruby, mariadbd, pswpin MiB."""
    base = os.path.join(tmp, "samples", "run%d-%s.txt" % (r["n"], r["mode"]))
    t0 = float(open(base + ".req").read().split()[0])
    last, rows = {}, {}
    group = {"apache2": 1, "query.cgi": 2, "ruby": 2, "mariadbd": 3}
    for line in open(base):
        t, pid, comm, v = line.split()
        t, v = float(t), int(v)
        b = round((t - t0) * 10) / 10
        key = (pid, comm)
        row = rows.setdefault(b, [0, 0, 0, 0])
        if comm == "vmstat":
            if key in last:
                row[3] += (v - last[key]) * 4 / 1024
        elif comm in group:
            row[group[comm] - 1] += v - last.get(key, v)
        last[key] = v
    return sorted(rows.items())


def pick(rs):		# the run whose latency is the group's median (nearest)
    m = med(rs, "lat_ms")
    return min(rs, key=lambda r: abs(r["lat_ms"] - m))


def plot(png):
    sel = [("off", pick(off)), ("on", pick(on))]
    files = []
    for name, r in sel:
        dat = os.path.join(os.path.dirname(png), "%s-%s.dat" % (os.path.basename(png)[:-4], name))
        with open(dat, "w") as f:
            f.write("# run %d (%s), latency %.0f ms; t (s from the request), major faults per 100 ms "
                    "of httpd, ruby, mariadbd; pswpin MiB per 100 ms\n" % (r["n"], name, r["lat_ms"]))
            for t, v in series(r):
                f.write("%.1f %d %d %d %.2f\n" % (t, v[0], v[1], v[2], v[3]))
        files.append((name, r, dat))
    gp = os.path.join(here, "faults.gp")
    xmax = max(r["lat_ms"] for _, r, _ in files) / 1000 + 4
    args = ["gnuplot", "-e", "png='%s'; off='%s'; on='%s'; offt='%s'; ont='%s'; xmax=%.1f; offend=%.2f; "
            "onend=%.2f" % (png, files[0][2], files[1][2],
        "prefetch off (run %d, %.0f ms)" % (files[0][1]["n"], files[0][1]["lat_ms"]),
        "prefetch on (run %d, %.0f ms)" % (files[1][1]["n"], files[1][1]["lat_ms"]),
        max(11.0, xmax), files[0][1]["lat_ms"] / 1000, files[1][1]["lat_ms"] / 1000), gp]
    subprocess.run(args, check=True)
    return files


tbl = table(runs)
if not out:
    print(tbl)
    print()
    print(stack_table())
    print(stack_table("adaptfs", ENGINE_CATS, "adaptfs's threads"))
    print()
    print("\n".join(targets))
    sys.exit(0)

files = plot(png) if off and on and png else []
with open(out, "w") as f:
    w = f.write
    slow = meta.get("delay", "0") not in ("", "0")
    w("# bench/prefetch — the second paper's experiment, with and without sibling prefetch%s\n\n"
      % (" — slow swap device (+%s µs per I/O)" % meta["delay"] if slow else ""))
    w("Machine: %s. Date: %s. Commit (HEAD when run): %s. Produced by `bench/prefetch/run.sh` (see its head for "
      "the knobs); figures of another run or machine differ: compare within this table.\n\n"
      % (meta.get("machine"), meta.get("date"), meta.get("commit")))
    w("## Method\n\n")
    w("- Memory: %s (v1 memory cgroups, cgroup `/adaptbench.PID`, A = `svc_a`, B = `svc_b`). "
      "Swap: %s.\n" % (meta.get("limits"), meta.get("swap")))
    w("- Service A, all inside `svc_a`: Apache httpd 2.4 (mpm prefork, own config, 127.0.0.1) "
      "running `query.cgi` (ruby 3.1 + ruby-mysql2) which streams `SELECT e.first_name, "
      "e.last_name, t.title, t.from_date FROM employees e JOIN titles t ON t.emp_no = e.emp_no "
      "WHERE t.title = 'Engineer'` from MariaDB 10.11 (own datadir and socket, "
      "`--innodb-buffer-pool-size=655M`, O_DIRECT) and prints the count and the first 20 rows. "
      "Database (gendb.py): %s.\n" % meta.get("db"))
    w("- Service B (`hog.py`, in `svc_b`): writes 4 bytes into every page of its memory once, "
      "then holds it.\n")
    w("- Each run: new `svc_a`/`svc_b`; start httpd, start MariaDB, two warm-up requests, 2 s; "
      "squeeze A into swap (its limit set to %s MiB for a moment, then back: A idled while "
      "B worked), start B and wait until it has written every page, %s s; then one request "
      "with curl; %s s more. Per-process major faults (`/proc/PID/stat`) of every process of A "
      "every 100 ms from B's start; exact counts around the request (mariadbd and httpd read "
      "before and after, ruby's from the CGI itself at its exit). The `ideal` run skips the "
      "squeeze and B: the same request without memory pressure.\n"
      % (meta.get("squeeze", "64"), meta.get("settle"), meta.get("after")))
    w("- Prefetch: adaptfs (`--interval 1`, `[discovery] pattern = /adaptbench.PID/*`, "
      "`[prefetch]` at its defaults) mounted for the whole benchmark; in the `on` runs "
      "`echo on > MNT/svc_a/prefetch` as soon as `svc_a` appears, before httpd starts: it stays "
      "on for the whole run, as in use. Runs alternate off, on, off, on, ….\n")
    w("- Columns: *request's pages from swap* = mariadbd pages that were in swap just before the "
      "request and mapped just after it (pagemap), and what share they are of the memory the "
      "request referenced (smaps Referenced after clear_refs); it shows how much of the "
      "database's working set had to come back from swap. *swap-in*: pages read from the swap "
      "device (`pswpin`), pages swapped in without I/O because the kernel had found them "
      "zero-filled at swap-out (`swpin_zero`), both host-wide from `/proc/vmstat` (other work on "
      "the shared machine moves them too; it swaps little), and anon pages brought back into A "
      "and B as the parent cgroup counts them (`total_workingset_refault_anon`: prefetched pages "
      "are charged to their owner, so they count; zero-filled ones too); during the request, "
      "and from B's start to %s s after the request (the engine also prefetches before the "
      "request, on housekeeping faults). *MariaDB query ms* is the request's Query_time in "
      "MariaDB's slow log (long_query_time=0). *load1*: the host's 1-minute load average at the "
      "request: other engineers' work shares these 2 CPUs. *busiest mariadbd thread*: the "
      "thread that ran most during the request (the query's), from its schedstat: time on a "
      "CPU, time runnable but waiting for one, and the rest of the query's time (MariaDB query "
      "ms minus both), when it was blocked (swap-in I/O, page locks of pages a prefetch is still reading, reclaim "
      "waits). *B swapped out*: growth of B's `swap` in its memory.stat during the request. "
      "*prefetch_bytes* and triggers are from `MNT/svc_a/stat`, before and during the request.\n\n"
      % meta.get("after"))
    w("## Results\n\n")
    w(tbl + "\n\n")
    if files:
        w("![major faults per 100 ms](%s)\n\n" % os.path.basename(png))
        w("`%s`: per-process major faults per 100 ms around the request (t = 0) in the off and on "
          "runs nearest their medians (runs %d and %d; the data: `%s`, `%s`), with host swap-in "
          "MiB per 100 ms; the dashed line is the end of the request.\n\n" % (os.path.basename(png), files[0][1]["n"], files[1][1]["n"],
                                   os.path.basename(files[0][2]), os.path.basename(files[1][2])))
    st = stack_table()
    st2 = stack_table("adaptfs", ENGINE_CATS, "adaptfs's threads (the prefetch engine)")
    if st2:
        st += "\n\n" + st2
    if st:
        w("Where mariadbd's threads were during the request: samples (every ~10 ms, per run, "
          "averaged over the runs of each kind) of the kernel stacks (`/proc/PID/task/TID/stack`) "
          "of its threads that were blocked (D) or runnable (R: running, or waiting for a CPU), by "
          "what the stack shows; threads sleeping (S) are not sampled. adaptfs's counts are all "
          "its threads (the engine, the sampler, FUSE workers).\n\n")
        w(st + "\n\n")
    w("## Targets (issue 19)\n\n" + "\n".join(targets) + "\n\n")
    a = os.path.join(here, "analysis%s.md" % ("-slow" if meta.get("delay", "0") not in ("", "0") else ""))
    if os.path.exists(a):
        w(open(a).read())
print(tbl)
print("\n".join(targets))
