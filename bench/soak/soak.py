#!/usr/bin/python3
"""The soak's readers and writer, and the summary of its samples (bench/soak/run.sh).

  soak.py reader MNT PREFIX OUTDIR N        read every file of every workload until OUTDIR/stop
  soak.py writer MNT PREFIX OUTDIR CPUS     toggle prefetch and placement cpus on random
                                            workloads named PREFIX* until OUTDIR/stop
  soak.py progress OUTDIR                   "READS READ_ERRORS WRITES WRITE_ERRORS" so far
  soak.py summary OUTDIR DURATION WARMUP    results table and verdict (markdown) on stdout

Readers and the writer append every unexpected outcome to OUTDIR/errors as one line,
"SECONDS ROLE PATH OP ERRNO", and keep a running tally in OUTDIR/ROLE.json (rewritten every
2 s and at the end). Expected: ENOENT anywhere (a workload vanished between listing and
reading), EBUSY for placement writes (another action on that workload is queued or running).
"""
import errno
import json
import os
import random
import sys
import time

ROOT_FILES = ("events", "metrics.prom", "hosts")
WORKLOAD_FILES = ("kind", "cpu", "io", "threads", "sched_wait", "major_faults", "memory",
                  "pressure", "class", "stat", "placement", "mode", "prefetch", "migration")
# read latency histogram: bucket upper bounds in ms
BUCKETS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, float("inf"))
# The sampler holds up to four cgroup directories per container and /proc/TID of each of
# its threads: the soak's workloads run one or two threads each.
HELD_PER_WORKLOAD = 8


class Tally:
    def __init__(self, outdir, role):
        self.outdir, self.role = outdir, role
        self.t0 = time.monotonic()
        self.counts = {}
        self.hist = [0] * len(BUCKETS)
        self.max_ms = 0.0
        self.errors = open(os.path.join(outdir, "errors"), "a", buffering=1)
        self.last_dump = 0.0

    def count(self, key):
        self.counts[key] = self.counts.get(key, 0) + 1

    def latency(self, ms):
        for i, b in enumerate(BUCKETS):
            if ms <= b:
                self.hist[i] += 1
                break
        self.max_ms = max(self.max_ms, ms)

    def error(self, path, op, err):
        self.count(op + " " + err)
        self.errors.write("%.1f %s %s %s %s\n" % (time.monotonic() - self.t0, self.role, path, op, err))

    def dump(self, force=False):
        now = time.monotonic()
        if not force and now - self.last_dump < 2:
            return
        self.last_dump = now
        tmp = os.path.join(self.outdir, self.role + ".json.tmp")
        with open(tmp, "w") as f:
            json.dump({"counts": self.counts, "hist": self.hist, "max_ms": self.max_ms,
                       "seconds": now - self.t0}, f)
        os.rename(tmp, os.path.join(self.outdir, self.role + ".json"))


def ename(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def read_whole(path):
    with open(path, "rb", buffering=0) as f:
        parts = []
        while True:
            b = f.read(1 << 20)
            if not b:
                return b"".join(parts)
            parts.append(b)


def reader(mnt, prefix, outdir, n):
    t = Tally(outdir, "reader%s" % n)
    stop = os.path.join(outdir, "stop")
    while not os.path.exists(stop):
        try:
            names = os.listdir(mnt)
        except OSError as e:
            t.error(mnt, "listdir", ename(e))
            time.sleep(0.1)
            continue
        t.count("listdir")
        paths = [os.path.join(mnt, f) for f in ROOT_FILES]
        try:
            paths += [os.path.join(mnt, "host", f) for f in sorted(os.listdir(os.path.join(mnt, "host")))]
        except OSError as e:
            t.error(mnt + "/host", "listdir", ename(e))
        random.shuffle(names)
        for name in names:
            if name in ROOT_FILES or name in ("host", "metrics.prom"):
                continue
            d = os.path.join(mnt, name)
            try:
                files = os.listdir(d)
            except OSError as e:
                if e.errno != errno.ENOENT:
                    t.error(d, "listdir", ename(e))
                else:
                    t.count("listdir ENOENT")
                continue
            if name.startswith(prefix) and sorted(files) != sorted(WORKLOAD_FILES):
                t.error(d, "listdir", "FILES:" + ",".join(sorted(files)))
            paths += [os.path.join(d, f) for f in files]
        for p in paths:
            if os.path.exists(stop):
                break
            a = time.monotonic()
            try:
                text = read_whole(p)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    t.count("read ENOENT")
                else:
                    t.error(p, "read", ename(e))
                continue
            t.latency((time.monotonic() - a) * 1000)
            t.count("read")
            if text and not text.endswith(b"\n"):
                t.error(p, "read", "TORN")
            t.dump()
    t.dump(force=True)


def writer(mnt, prefix, outdir, cpus):
    t = Tally(outdir, "writer")
    stop = os.path.join(outdir, "stop")
    choices = cpus.split()
    while not os.path.exists(stop):
        try:
            names = [n for n in os.listdir(mnt) if n.startswith(prefix)]
        except OSError as e:
            t.error(mnt, "listdir", ename(e))
            time.sleep(0.1)
            continue
        if not names:
            time.sleep(0.1)
            continue
        name = random.choice(names)
        if random.random() < 0.5:
            what, text = "prefetch", random.choice(("on", "off"))
            allowed = (errno.ENOENT,)
        else:
            what, text = "placement", "cpus=" + random.choice(choices)
            allowed = (errno.ENOENT, errno.EBUSY)
        p = os.path.join(mnt, name, what)
        a = time.monotonic()
        try:
            fd = os.open(p, os.O_WRONLY)
            try:
                os.write(fd, (text + "\n").encode())
            finally:
                os.close(fd)
            t.count(what + " OK")
            t.latency((time.monotonic() - a) * 1000)
        except OSError as e:
            if e.errno in allowed:
                t.count(what + " " + ename(e))
            else:
                t.error(p, "write '%s'" % text, ename(e))
        t.dump()
    t.dump(force=True)


def progress(outdir):
    reads = writes = 0
    for fn in os.listdir(outdir):
        if not fn.endswith(".json"):
            continue
        try:
            with open(os.path.join(outdir, fn)) as f:
                c = json.load(f)["counts"]
        except (OSError, ValueError):
            continue
        if fn.startswith("reader"):
            reads += c.get("read", 0)
        elif fn.startswith("writer"):
            writes += sum(v for k, v in c.items() if k.endswith(" OK"))
    rerr = werr = 0
    try:
        with open(os.path.join(outdir, "errors")) as f:
            for line in f:
                role = line.split()[1]
                if role.startswith("reader"):
                    rerr += 1
                else:
                    werr += 1
    except OSError:
        pass
    print(reads, rerr, writes, werr)


def slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def summary(outdir, duration, warmup):
    rows = []
    with open(os.path.join(outdir, "samples.tsv")) as f:
        head = f.readline().split()
        for line in f:
            v = line.split()
            if len(v) == len(head):
                rows.append(dict(zip(head, (float(x) for x in v))))
    tallies = {}
    for fn in sorted(os.listdir(outdir)):
        if fn.endswith(".json") and (fn.startswith("reader") or fn.startswith("writer")):
            with open(os.path.join(outdir, fn)) as f:
                tallies[fn[:-5]] = json.load(f)
    try:
        with open(os.path.join(outdir, "errors")) as f:
            errors = f.read().splitlines()
    except OSError:
        errors = []
    with open(os.path.join(outdir, "run.env")) as f:
        env = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)

    w = [r for r in rows if r["t_s"] >= warmup]
    out = []
    p = out.append
    p("| t (s) | workloads | daemon RSS (kB) | fds | held dirs | threads | reads | read errors | writes | write errors | churned |")
    p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        p("| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %d |" % (
            r["t_s"], r["workloads"], r["rss_kb"], r["fds"], r["held"], r["threads"], r["reads"],
            r["read_errors"], r["writes"], r["write_errors"], r["churned"]))
    p("")
    ok = True
    rss_slope = slope([r["t_s"] for r in w], [r["rss_kb"] for r in w]) * 60
    fd_slope = slope([r["t_s"] for r in w], [r["fds"] for r in w]) * 60
    span = (w[-1]["t_s"] - w[0]["t_s"]) if len(w) > 1 else 0
    rss_med = sorted(r["rss_kb"] for r in w)[len(w) // 2] if w else 0
    rss_growth = rss_slope * span / 60
    rss_flat = bool(w) and abs(rss_growth) <= 0.05 * rss_med
    fds = [r["fds"] for r in w]
    # Files open for a moment (the sampler's walk, the prefetch engine's and the
    # jobs' reads) move the count by a few at any sample: a leak is a creep, so
    # the last third's peak may not pass the first third's by more than 2.
    third = max(len(fds) // 3, 1)
    fd_flat = bool(w) and abs(fd_slope * span / 60) < 2 and max(fds[-third:]) <= max(fds[:third]) + 2
    # Held directories follow the workloads (a few per container, one per thread): per
    # workload they must neither creep up nor exceed what the workloads' threads explain.
    per_wl = [r["held"] / max(r["workloads"], 1) for r in w]
    held_slope = slope([r["t_s"] for r in w], per_wl) * 60
    held_ok = bool(w) and max(per_wl) <= HELD_PER_WORKLOAD and abs(held_slope * span / 60) < 0.5
    counts = {}
    hist = [0] * len(BUCKETS)
    max_ms = {"reader": 0.0, "writer": 0.0}
    for name, t in tallies.items():
        role = "writer" if name == "writer" else "reader"
        for k, v in t["counts"].items():
            counts[(role, k)] = counts.get((role, k), 0) + v
        if role == "reader":
            hist = [a + b for a, b in zip(hist, t["hist"])]
        max_ms[role] = max(max_ms[role], t["max_ms"])
    total = sum(hist)

    def pct(q):
        acc = 0
        for b, c in zip(BUCKETS, hist):
            acc += c
            if total and acc >= q * total:
                return "≤ %g ms" % b if b != float("inf") else "> 5 s"
        return "-"

    p("Summary (slopes by least squares over t ≥ %d s, %d samples):" % (warmup, len(w)))
    p("")
    p("| figure | value |")
    p("|---|---|")
    p("| duration | %d s (%s) |" % (duration, env.get("WHEN", "")))
    p("| workloads churned (one stopped and one started per second) | %d |" % (rows[-1]["churned"] if rows else 0))
    p("| workloads shown at the end (this soak's / all on the host) | %d / %d |" % (
        rows[-1]["mine"] if rows else 0, rows[-1]["workloads"] if rows else 0))
    p("| reads (4 readers, every file of every workload) | %d, %.0f/s |" % (
        counts.get(("reader", "read"), 0), counts.get(("reader", "read"), 0) / max(duration, 1)))
    p("| reads ENOENT (workload gone between listing and reading) | %d |" % (
        counts.get(("reader", "read ENOENT"), 0) + counts.get(("reader", "listdir ENOENT"), 0)))
    p("| read latency median / p99 / max | %s / %s / %.1f ms |" % (pct(0.5), pct(0.99), max_ms["reader"]))
    for k in ("prefetch OK", "prefetch ENOENT", "placement OK", "placement EBUSY", "placement ENOENT"):
        p("| writes %s | %d |" % (k, counts.get(("writer", k), 0)))
    p("| unexpected errors (reads and writes) | %d |" % len(errors))
    p("| daemon RSS min / median / max | %d / %d / %d kB |" % (
        min(r["rss_kb"] for r in w), rss_med, max(r["rss_kb"] for r in w)) if w else "| daemon RSS | - |")
    p("| daemon RSS slope | %+.1f kB/min (%+.0f kB over %d s, %.1f %% of the median) |" % (
        rss_slope, rss_growth, span, 100 * rss_growth / rss_med if rss_med else 0))
    p("| daemon fds min / max, slope (held directories apart) | %d / %d, %+.3f fds/min |" % (min(fds), max(fds), fd_slope) if w else "| fds | - |")
    p("| held directories per workload min / max, slope | %.2f / %.2f, %+.4f /min |" % (
        min(per_wl), max(per_wl), held_slope) if w else "| held directories | - |")
    p("| daemon log lines other than events | %s |" % env.get("LOG_NOISE", "?"))
    p("| daemon log lines garbled (two threads writing stderr at once) | %s |" % env.get("LOG_GARBLED", "?"))
    p("| daemon exit after SIGTERM | %s |" % env.get("EXIT", "?"))
    p("| cgroups left in the slice after every workload stopped | %s %s |" % (
        env.get("LEFTOVER", "?"), env.get("LEFTOVER_PATHS", "").strip()))
    p("")
    if errors:
        ok = False
        p("Unexpected errors (first 20):")
        p("")
        p("```")
        out.extend(errors[:20])
        p("```")
        p("")
    verdict = []
    verdict.append("no unexpected read or write error" if not errors else "%d unexpected errors" % len(errors))
    verdict.append("RSS flat (fitted growth within 5 % of the median)" if rss_flat else "RSS NOT flat")
    verdict.append("fds flat" if fd_flat else "fds NOT flat")
    verdict.append("held directories follow the workloads" if held_ok else
                   "held directories do NOT follow the workloads")
    daemon_ok = env.get("EXIT") == "0, unmounted" and env.get("ALIVE") == "yes"
    verdict.append("daemon up throughout and exited 0" if daemon_ok else
                   "daemon: alive throughout=%s, exit=%s" % (env.get("ALIVE"), env.get("EXIT")))
    if env.get("LEFTOVER") != "0":
        verdict.append("%s cgroups left behind" % env.get("LEFTOVER"))
    ok = ok and rss_flat and fd_flat and held_ok and daemon_ok and env.get("LEFTOVER") == "0"
    p("**Verdict: %s** — %s." % ("PASS" if ok else "FAIL", "; ".join(verdict)))
    print("\n".join(out))
    return 0 if ok else 1


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "reader":
        reader(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "writer":
        writer(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif cmd == "progress":
        progress(sys.argv[2])
    elif cmd == "summary":
        sys.exit(summary(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        sys.exit(__doc__)
