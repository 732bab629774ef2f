#!/usr/bin/env python3
"""Measurement helpers for bench/prefetch/run.sh (root).

probe.py sample OUT PROCS...      every 100 ms (PF_SAMPLE_MS), until SIGTERM, append
                                  "t pid comm majflt" for every pid listed in the
                                  cgroup.procs files PROCS, and "t - vmstat pswpin"
                                  (t: wall-clock seconds, time.time()).
probe.py mem PID...               print "swap_kib rss_kib" summed over PIDs' smaps.
probe.py before PID STATE         remember which pages of PID are in swap (pagemap bit
                                  62), clear its referenced bits (clear_refs 1); print
                                  "swap_kib rss_kib swapped_pages".
probe.py after PID STATE          print "swapped_in referenced_kib still_swapped":
                                  pages that were in swap before and are mapped now
                                  (the request brought them back, by fault or by a
                                  prefetch it then touched), the anonymous memory the
                                  request referenced, and pages still in swap.
probe.py majflt PID...            print each "pid comm majflt".
probe.py stacks OUT READY PID...  every 10 ms until SIGTERM, the kernel stack of each
                                  thread of the PIDs that is blocked (state D) or running
                                  (R); creates READY once started; at the end OUT gets
                                  "count comm state signature" lines: samples per stack
                                  (scheduler frames left out, 6 frames), comm the process's.
probe.py sched PID STATE          first call: remember every thread's schedstat; second
                                  call: print "run_ms wait_ms" (on CPU, waiting for a CPU)
                                  of the thread that ran most in between, and its wall
                                  time off both ("blocked_ms": I/O, locks, sleeping).
"""
import array, os, signal, struct, sys, time

PAGE = os.sysconf("SC_PAGE_SIZE")


def majflt(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")].replace(" ", "_")
    return comm, int(s[s.rindex(")") + 2:].split()[9])


def smaps_totals(pid, keys=("Swap", "Rss", "Referenced", "Anonymous")):
    tot = dict.fromkeys(keys, 0)
    try:
        with open("/proc/%s/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in tot:
                    tot[k] += int(v.split()[0])
    except OSError:
        pass
    return tot


def vmas(pid):
    out = []
    with open("/proc/%s/maps" % pid) as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else ""
            if name in ("[vsyscall]", "[vvar]", "[vdso]", "[vvar_vclock]"):
                continue
            if hi - lo > (8 << 30):		# a huge reservation: nothing of it is touched
                continue
            out.append((lo, hi))
    return out


def pagemap_scan(pid, ranges, want):
    """Yield page addresses whose pagemap entry satisfies want(entry)."""
    fd = os.open("/proc/%s/pagemap" % pid, os.O_RDONLY)
    try:
        for lo, hi in ranges:
            n = (hi - lo) // PAGE
            off = 0
            while off < n:
                cnt = min(n - off, 1 << 16)
                try:
                    buf = os.pread(fd, cnt * 8, (lo // PAGE + off) * 8)
                except OSError:
                    break
                a = array.array("Q")
                a.frombytes(buf[: len(buf) // 8 * 8])
                for i, e in enumerate(a):
                    if e and want(e):
                        yield lo + (off + i) * PAGE
                off += cnt
    finally:
        os.close(fd)


SWAPPED = 1 << 62
PRESENT = 1 << 63


def cmd_before(pid, state):
    addrs = array.array("Q", pagemap_scan(pid, vmas(pid), lambda e: e & SWAPPED))
    with open(state, "wb") as f:
        addrs.tofile(f)
    t = smaps_totals(pid)
    with open("/proc/%s/clear_refs" % pid, "w") as f:
        f.write("1\n")
    print(t["Swap"], t["Rss"], len(addrs))


def cmd_after(pid, state):
    before = array.array("Q")
    with open(state, "rb") as f:
        before.frombytes(f.read())
    before = set(before)
    present = set(pagemap_scan(pid, vmas(pid), lambda e: e & PRESENT))
    still = set(pagemap_scan(pid, vmas(pid), lambda e: e & SWAPPED))
    t = smaps_totals(pid)
    print(len(before & present), t["Referenced"], len(before & still))


def cmd_sample(out, procs):
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    step = float(os.environ.get("PF_SAMPLE_MS", "100")) / 1000
    with open(out, "a") as f:
        nxt = time.time()
        while not stop:
            t = time.time()
            pids = set()
            for p in procs:
                try:
                    with open(p) as pf:
                        pids.update(pf.read().split())
                except OSError:
                    pass
            for pid in sorted(pids, key=int):
                m = majflt(pid)
                if m:
                    f.write("%.3f %s %s %d\n" % (t, pid, m[0], m[1]))
            with open("/proc/vmstat") as vf:
                for line in vf:
                    if line.startswith("pswpin "):
                        f.write("%.3f - vmstat %s\n" % (t, line.split()[1]))
            f.flush()
            nxt += step
            time.sleep(max(0.0, nxt - time.time()))


def schedstat(pid):
    out = {}
    for tid in os.listdir("/proc/%s/task" % pid):
        try:
            with open("/proc/%s/task/%s/schedstat" % (pid, tid)) as f:
                run, wait, _ = f.read().split()
            out[tid] = (int(run), int(wait))
        except (OSError, ValueError):
            pass
    return out


def cmd_sched(pid, state):
    now = schedstat(pid)
    t = time.time()
    if not os.path.exists(state):
        with open(state, "w") as f:
            f.write("%f\n" % t)
            for tid, (run, wait) in now.items():
                f.write("%s %d %d\n" % (tid, run, wait))
        return
    with open(state) as f:
        t0 = float(f.readline())
        old = {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in f}
    os.unlink(state)
    best = max(now, key=lambda tid: now[tid][0] - old.get(tid, (0, 0))[0])
    run = (now[best][0] - old.get(best, (0, 0))[0]) / 1e6
    wait = (now[best][1] - old.get(best, (0, 0))[1]) / 1e6
    print("%.0f %.0f %.0f" % (run, wait, (t - t0) * 1000 - run - wait))


GENERIC = ("schedule", "__schedule", "io_schedule", "schedule_timeout", "schedule_preempt_disabled",
           "do_syscall_64", "entry_SYSCALL_64_after_hwframe", "asm_exc_page_fault", "exc_page_fault",
           "io_schedule_timeout", "preempt_schedule_irq", "asm_sysvec_apic_timer_interrupt")


def cmd_stacks(out, ready, pids):
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    comms = {}
    for pid in pids:
        try:
            with open("/proc/%s/comm" % pid) as f:
                comms[pid] = f.read().strip().replace(" ", "_")
        except OSError:
            pass
    open(ready, "w").close()
    counts = {}
    while not stop:
        tids = []
        for pid in comms:
            try:
                tids += [(pid, t) for t in os.listdir("/proc/%s/task" % pid)]
            except OSError:
                pass
        for pid, tid in tids:
            try:
                with open("/proc/%s/task/%s/stat" % (pid, tid)) as f:
                    st = f.read()
                state = st[st.rindex(")") + 2]
                if state not in "DR":
                    continue
                with open("/proc/%s/task/%s/stack" % (pid, tid)) as f:
                    frames = [l.split("]", 1)[1].strip().split("+")[0] for l in f if "]" in l]
            except (OSError, ValueError, IndexError):
                continue
            frames = [x for x in frames if x not in GENERIC][:6]
            if not frames:
                continue
            sig = comms[pid] + " " + state + " " + ";".join(frames)
            counts[sig] = counts.get(sig, 0) + 1
        time.sleep(0.01)
    with open(out, "w") as f:
        for sig, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            f.write("%d %s\n" % (n, sig))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sample":
        cmd_sample(args[0], args[1:])
    elif cmd == "mem":
        s = r = 0
        for pid in args:
            t = smaps_totals(pid)
            s, r = s + t["Swap"], r + t["Rss"]
        print(s, r)
    elif cmd == "before":
        cmd_before(args[0], args[1])
    elif cmd == "after":
        cmd_after(args[0], args[1])
    elif cmd == "stacks":
        cmd_stacks(args[0], args[1], args[2:])
    elif cmd == "sched":
        cmd_sched(args[0], args[1])
    elif cmd == "majflt":
        for pid in args:
            m = majflt(pid)
            if m:
                print(pid, m[0], m[1])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
