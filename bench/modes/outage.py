#!/usr/bin/env python3
"""bench/modes/outage.py - the client side and the report of bench/modes/outage.sh.

  outage.py client ADDRESS PORT LOG     ask for /index.html every 20 ms until killed;
                                        LOG gets "T_SENT T_DONE ok|wrong|fail [WHY]" lines
  outage.py report CLIENT_LOG SWITCHES STANDBY_MEM OUT
                                        SWITCHES: "RUN DIRECTION T_WRITE T_RETURN DOWNTIME
                                        QUIESCE HANDOVER READY WARM" lines (outage.sh; times
                                        of adaptfs in us, from stat);
                                        STANDBY_MEM: "vm|container BYTES" lines

The outage of a switch is what a client sees: the longest gap between two answers
around it, from the last answer before the write to the first ones after it returned.
"""
import socket
import statistics
import sys
import time

PERIOD = 0.020
TIMEOUT = 1.0
EXPECT = b"adaptfs-outage-page"


def ask(address, port):
    try:
        s = socket.create_connection((address, port), timeout=TIMEOUT)
    except socket.timeout:
        raise OSError("connect-timeout")
    with s:
        s.settimeout(TIMEOUT)
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    if not data:
        raise OSError("closed")	# by a server that went away: no answer, not a wrong one
    return EXPECT in data


def client(address, port, log):
    out = open(log, "a", buffering=1)
    nxt = time.time()
    while True:
        t0 = time.time()
        why = ""
        try:
            verdict = "ok" if ask(address, int(port)) else "wrong"
        except OSError as e:
            verdict, why = "fail", " " + (str(e) if str(e) in ("connect-timeout", "closed") else type(e).__name__)
        out.write(f"{t0:.6f} {time.time():.6f} {verdict}{why}\n")
        nxt += PERIOD
        time.sleep(max(0.0, nxt - time.time()))
        if time.time() - nxt > 1:
            nxt = time.time()


def percentile(values, p):
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def outage(answers, t_write, t_return):
    """The longest gap between consecutive answers from the last one before the
    write to the first one at least 0.5 s after the write returned."""
    before = [t for t in answers if t <= t_write]
    if not before:
        return None
    span = [before[-1]]
    for t in answers[len(before):]:
        span.append(t)
        if t >= t_return + 0.5:
            break
    if len(span) < 2:
        return None
    return max(b - a for a, b in zip(span, span[1:]))


def report(client_log, switches_log, mem_log, out):
    answers, wrong = [], []
    for line in open(client_log):
        _, done, verdict = line.split()[:3]
        if verdict == "ok":
            answers.append(float(done))
        elif verdict == "wrong":
            wrong.append(float(done))
    rows = {}
    for line in open(switches_log):
        run, direction, tw, tr, down, q, h, r, warm = line.split()
        gap = outage(answers, float(tw), float(tr))
        rows.setdefault((run, direction.replace("->", " -> ")), []).append(
            dict(gap=gap, down=int(down) / 1e6, q=int(q) / 1e6, h=int(h) / 1e6, r=int(r) / 1e6,
                 warm=warm == "1"))
    mem = {}
    for line in open(mem_log):
        kind, b = line.split()
        mem.setdefault(kind, []).append(int(b))

    targets = {"container -> vm": 0.4, "vm -> container": 0.15}
    lines = ["| standby | direction | switches | warm | outage median (s) | p90 (s) | p90 / median "
             "| min – max (s) | adaptfs downtime median (s) | quiesce / hand-over / ready, medians (s) "
             "| target median | met |",
             "|---|---|---:|---:|---:|---:|---:|---|---:|---|---:|---|"]
    verdicts = []
    for (run, direction), rs in rows.items():
        gaps = [x["gap"] for x in rs if x["gap"] is not None]
        if not gaps:
            continue
        med = statistics.median(gaps)
        p90 = percentile(gaps, 90)
        target = targets[direction]
        met = med <= target and p90 <= 1.5 * med
        if run == "yes":
            verdicts.append((direction, met, med, p90))
        lines.append(
            f"| {run} | {direction} | {len(rs)} | {sum(x['warm'] for x in rs)} | {med:.3f} | {p90:.3f} "
            f"| {p90 / med:.2f} | {min(gaps):.3f} – {max(gaps):.3f} "
            f"| {statistics.median(x['down'] for x in rs):.3f} "
            f"| {statistics.median(x['q'] for x in rs):.3f} / {statistics.median(x['h'] for x in rs):.3f} "
            f"/ {statistics.median(x['r'] for x in rs):.3f} "
            f"| ≤ {target} | {'yes' if met else 'no' if run == 'yes' else '–'} |")
    lines.append("")
    lines.append(f"Wrong answers (a reply that is not the page): **{len(wrong)}** of "
                 f"{len(answers) + len(wrong)} replies.")
    lines.append("")
    lines.append("| standby held | samples | median memory (MiB) | min – max (MiB) |")
    lines.append("|---|---:|---:|---|")
    for kind, v in sorted(mem.items()):
        lines.append(f"| {kind} | {len(v)} | {statistics.median(v) / 2**20:.1f} "
                     f"| {min(v) / 2**20:.1f} – {max(v) / 2**20:.1f} |")
    lines.append("")
    for direction, met, med, p90 in verdicts:
        lines.append(f"**{direction}, standby on:** median {med:.3f} s, p90 {p90:.3f} s "
                     f"({p90 / med:.2f}× the median): target "
                     f"{'met' if met else 'NOT met'}.")
        lines.append("")
    lines.append("## Each switch")
    lines.append("")
    lines.append("| standby | direction | # | warm | outage (s) | adaptfs downtime (s) | quiesce | hand-over | ready |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (run, direction), rs in rows.items():
        for i, x in enumerate(rs, 1):
            gap = f"{x['gap']:.3f}" if x["gap"] is not None else "–"
            lines.append(f"| {run} | {direction} | {i} | {int(x['warm'])} | {gap} | {x['down']:.3f} "
                         f"| {x['q']:.3f} | {x['h']:.3f} | {x['r']:.3f} |")
    text = "\n".join(lines) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        with open(out, "a") as f:
            f.write(text)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "client":
        client(*sys.argv[2:])
    elif len(sys.argv) == 6 and sys.argv[1] == "report":
        report(*sys.argv[2:])
    else:
        sys.exit(__doc__)
