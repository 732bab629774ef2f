#!/usr/bin/env python3
"""bare_migrate.py — one QEMU live migration done the way a person would script it with QMP.

The baseline of bench/migrate: no adaptfs, python3 stdlib only.

    bare_migrate.py --hostexec HOSTEXEC --dst-host hB --dst-addr 10.233.0.2 --dst-dir DIR
                    --src-pid PID --args ARGS [--src-ctl SOCK] [--qemu qemu-system-x86_64]
                    [--tap TAP] [--bridge br0] [--port 4444] [--downtime-limit 300]
                    [--max-bandwidth BYTES] [--capability CAP]... [--multifd N]
                    [--outside-throttle] [--poll 0.02] [--timeout 120]

ARGS is the guest's QEMU command line without the program, one argument a line (what
tests/bats/lib/hosts.bash's host_vm_args prints). Steps, all timed:
  1. the guest's tap on the destination: created in the destination's network namespace
     (adt-HOST) if it is not there, and made a port of --bridge (as host_tap_add does);
  2. the destination QEMU: `HOSTEXEC HOST QEMU ARGS...` with the per-host files moved into
     --dst-dir (-qmp unix:DIR/NAME.qmp, the monitor chardev id=ctl at DIR/NAME.ctl, the serial
     file DIR/NAME.serial; any -daemonize/-pidfile/-incoming of ARGS dropped), plus
     -daemonize -pidfile DIR/NAME.pid -incoming tcp:ADDR:PORT (returns once QEMU listens);
     with --multifd N also -global migration.x-multifd=on and migration.multifd-channels=N
     (the capability must be on at the destination before the stream arrives);
  3. on the source's private QMP monitor (the chardev id=ctl of its command line, or
     --src-ctl): migrate-set-parameters downtime-limit (and max-bandwidth, if given: QEMU's
     default cap is 128 MiB/s; multifd-channels with --multifd), the capabilities (multifd
     on with --multifd, else off), migrate tcp:ADDR:PORT, then query-migrate every --poll s
     until completed (or --timeout s: the migration is cancelled, exit status 3);
  4. query-status on the destination's monitor every --poll s until "running";
  5. quit the source, and wait until its process is gone (a zombie counts as gone).
--outside-throttle (issue 23: auto-converge without QEMU's cpu-throttle) holds the guest's vCPU
threads (query-cpus-fast's thread-id) to a share of one CPU with SCHED_DEADLINE from outside
QEMU, its migration thread untouched: stepped as QEMU's auto-converge steps its own (20%, then
+10% per pass that does not converge, i.e. each dirty-sync-count past the second, up to 99%),
and undone (the threads' own policy and nice back) however step 3 ends.
total_ms spans 1 to 5 (what adaptfs's write to placement covers). Prints one JSON line:
total_ms, downtime_ms (query-migrate), setup_ms (1-2), migrate_ms (3), resume_ms (4),
quit_ms (5), query_total_ms (query-migrate total-time), pid (the destination QEMU; null if it
has exited by then), ctl, passes (dirty-sync-count) and throttle_max (%, 0 without
--outside-throttle).
Exit status 1 on any failure (the source is left as it is: the caller's teardown cleans up),
3 when --timeout ran out (the migration cancelled, the source running on).
"""
import argparse
import ctypes
import json
import os
import socket
import subprocess
import sys
import time


class QMP:
    def __init__(self, path, timeout=5.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""
        greeting = json.loads(self._line())
        if "QMP" not in greeting:
            raise RuntimeError("%s: not a QMP greeting" % path)
        self.cmd("qmp_capabilities")

    def _line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("QMP connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args is not None:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m = json.loads(self._line())
            if "return" in m:
                return m["return"]
            if "error" in m:
                raise RuntimeError("QMP %s: %s" % (name, m["error"].get("desc", m["error"])))
            # an event: skip

    def close(self):
        self.s.close()


class SchedAttr(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("policy", ctypes.c_uint32), ("flags", ctypes.c_uint64),
                ("nice", ctypes.c_int32), ("priority", ctypes.c_uint32), ("runtime", ctypes.c_uint64),
                ("deadline", ctypes.c_uint64), ("period", ctypes.c_uint64)]


class OutsideThrottle:
    """The guest's vCPU threads held to (100 - percent)% of a CPU each: SCHED_DEADLINE with
    runtime (100 - percent)% of PERIOD_NS, a hard cap the kernel enforces per thread."""
    PERIOD_NS = 50000000
    SCHED_DEADLINE = 6
    SYS_SETATTR, SYS_GETATTR = 314, 315     # x86_64

    def __init__(self, qmp):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.tids = [c["thread-id"] for c in qmp.cmd("query-cpus-fast")]
        self.saved = {}
        for t in self.tids:
            a = SchedAttr()
            if self.libc.syscall(self.SYS_GETATTR, t, ctypes.byref(a), ctypes.sizeof(a), 0) != 0:
                raise OSError(ctypes.get_errno(), "sched_getattr %d" % t)
            self.saved[t] = a
        self.percent = 0

    def _set(self, tid, a):
        a.size = ctypes.sizeof(a)
        if self.libc.syscall(self.SYS_SETATTR, tid, ctypes.byref(a), 0) != 0:
            raise OSError(ctypes.get_errno(), "sched_setattr %d" % tid)

    def hold(self, percent):
        run = self.PERIOD_NS * (100 - percent) // 100
        for t in self.tids:
            self._set(t, SchedAttr(policy=self.SCHED_DEADLINE, runtime=run, deadline=self.PERIOD_NS,
                                   period=self.PERIOD_NS))
        self.percent = percent

    def step(self):
        """QEMU's defaults: cpu-throttle-initial 20, cpu-throttle-increment 10, max 99."""
        self.hold(20 if not self.percent else min(self.percent + 10, 99))

    def undo(self):
        for t, a in self.saved.items():
            # a fair thread's runtime reads back as its slice: 0 is the default one
            a.runtime = a.deadline = a.period = 0
            a.flags &= 1    # SCHED_FLAG_RESET_ON_FORK; no clamps (a size-48 attr)
            try:
                self._set(t, a)
            except OSError:
                pass    # the thread is gone: the source quit


def opt_path(value, key="path"):
    for part in value.split(","):
        if part.startswith(key + "="):
            return part[len(key) + 1:]
    return None


def set_opt(value, key, new):
    return ",".join(key + "=" + new if p.startswith(key + "=") else p for p in value.split(","))


def ctl_of(argv):
    """The path of the chardev id=ctl (a QMP monitor) in a QEMU argument list."""
    for i, a in enumerate(argv[:-1]):
        v = argv[i + 1]
        if a.lstrip("-") == "chardev" and v.startswith("socket,") and "id=ctl" in v.split(","):
            return opt_path(v)
    return None


def dest_args(args, d, name, addr, port, multifd):
    out, i = [], 0
    while i < len(args):
        o = args[i]
        v = args[i + 1] if i + 1 < len(args) else None
        if o == "-daemonize":
            i += 1
            continue
        if o in ("-pidfile", "-incoming"):
            i += 2
            continue
        if o == "-qmp" and v.startswith("unix:"):
            rest = v[5:].split(",", 1)
            v = "unix:%s/%s.qmp%s" % (d, name, "," + rest[1] if len(rest) > 1 else "")
        elif o == "-chardev" and v.startswith("socket,") and "id=ctl" in v.split(","):
            v = set_opt(v, "path", "%s/%s.ctl" % (d, name))
        elif o == "-serial" and v.startswith("file:"):
            v = "file:%s/%s.serial" % (d, name)
        out.append(o)
        if v is not None and o.startswith("-") and i + 1 < len(args) and not v.startswith("-"):
            out.append(v)
            i += 2
        else:
            i += 1
    if multifd:
        out += ["-global", "migration.x-multifd=on",
                "-global", "migration.multifd-channels=%d" % multifd]
    return out + ["-daemonize", "-pidfile", "%s/%s.pid" % (d, name),
                  "-incoming", "tcp:%s:%d" % (addr, port)]


def gone(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return True
    return st[st.rindex(")") + 2] in "ZX"


def ms(a, b):
    return round((b - a) * 1000.0, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hostexec", required=True)
    p.add_argument("--dst-host", required=True)
    p.add_argument("--dst-addr", required=True)
    p.add_argument("--dst-dir", required=True)
    p.add_argument("--src-pid", type=int, required=True)
    p.add_argument("--args", required=True)
    p.add_argument("--src-ctl")
    p.add_argument("--qemu", default="qemu-system-x86_64")
    p.add_argument("--tap")
    p.add_argument("--bridge", default="br0")
    p.add_argument("--port", type=int, default=4444)
    p.add_argument("--downtime-limit", type=int, default=300)
    p.add_argument("--max-bandwidth", type=int)
    p.add_argument("--capability", action="append", default=[])
    p.add_argument("--multifd", type=int, default=0)
    p.add_argument("--outside-throttle", action="store_true")
    p.add_argument("--poll", type=float, default=0.02)
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args()

    with open(a.args) as f:
        args = [l.rstrip("\n") for l in f if l.strip()]
    name = None
    for i, o in enumerate(args[:-1]):
        if o == "-name":
            name = args[i + 1].split(",")[0]
    if not name:
        sys.exit("bare_migrate: no -name in %s" % a.args)
    with open("/proc/%d/cmdline" % a.src_pid, "rb") as f:
        src_argv = [x.decode() for x in f.read().split(b"\0") if x]
    src_ctl = a.src_ctl or ctl_of(src_argv)
    if not src_ctl:
        sys.exit("bare_migrate: no chardev id=ctl on the command line of pid %d" % a.src_pid)
    ns = "adt-" + a.dst_host
    os.makedirs(a.dst_dir, exist_ok=True)
    dargs = dest_args(args, a.dst_dir, name, a.dst_addr, a.port, a.multifd)
    dst_ctl = "%s/%s.ctl" % (a.dst_dir, name)
    end = time.monotonic() + a.timeout

    t0 = time.monotonic()
    # 1. the tap on the destination's bridge
    if a.tap:
        have = subprocess.run(["ip", "-n", ns, "link", "show", "dev", a.tap],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        if not have:
            subprocess.run(["ip", "-n", ns, "tuntap", "add", "dev", a.tap, "mode", "tap"], check=True)
        subprocess.run(["ip", "-n", ns, "link", "set", "dev", a.tap, "master", a.bridge, "up"], check=True)
    # 2. the destination QEMU, listening (-daemonize returns once it does)
    with open(os.path.join(a.dst_dir, "qemu.log"), "ab") as log:
        r = subprocess.run([a.hostexec, a.dst_host, a.qemu] + dargs, stdin=subprocess.DEVNULL,
                           stdout=log, stderr=log, close_fds=True)
    if r.returncode != 0:
        sys.exit("bare_migrate: the destination QEMU did not start (status %d, see %s/qemu.log)"
                 % (r.returncode, a.dst_dir))
    t1 = time.monotonic()
    # 3. migrate
    src = QMP(src_ctl)
    params = {"downtime-limit": a.downtime_limit}
    if a.max_bandwidth:
        params["max-bandwidth"] = a.max_bandwidth
    if a.multifd:
        params["multifd-channels"] = a.multifd
    src.cmd("migrate-set-parameters", params)
    # multifd set either way: a guest that came in by a multifd move has it on
    # (the destination's -global), and the destination here may not
    caps = [{"capability": c, "state": True} for c in a.capability]
    caps.append({"capability": "multifd", "state": a.multifd > 0})
    src.cmd("migrate-set-capabilities", {"capabilities": caps})
    throttle = OutsideThrottle(src) if a.outside_throttle else None
    passes = 0
    src.cmd("migrate", {"uri": "tcp:%s:%d" % (a.dst_addr, a.port)})
    try:
        while True:
            q = src.cmd("query-migrate")
            s = q.get("status")
            n = q.get("ram", {}).get("dirty-sync-count", 0)
            if s == "completed":
                passes = max(passes, n)
                break
            if s in ("failed", "cancelled"):
                sys.exit("bare_migrate: migration %s: %s" % (s, q.get("error-desc", "")))
            if time.monotonic() > end:
                src.cmd("migrate_cancel")
                print(json.dumps({"timeout_s": a.timeout, "status": s, "passes": passes,
                                  "throttle_max": throttle.percent if throttle else 0}))
                sys.exit(3)
            # the first sync starts the move, the second ends the bulk pass: each later one
            # is a pass that did not fit the downtime limit
            if throttle and n > passes and n > 2:
                throttle.step()
            passes = max(passes, n)
            time.sleep(a.poll)
    finally:
        if throttle:
            throttle.undo()
    t2 = time.monotonic()
    # 4. the destination runs
    dst = QMP(dst_ctl)
    while dst.cmd("query-status").get("status") != "running":
        if time.monotonic() > end:
            sys.exit("bare_migrate: the destination does not run")
        time.sleep(a.poll)
    dst.close()
    t3 = time.monotonic()
    # 5. the source goes
    try:
        src.cmd("quit")
    except (EOFError, OSError):
        pass
    src.close()
    while not gone(a.src_pid):
        if time.monotonic() > end:
            sys.exit("bare_migrate: the source QEMU %d does not exit" % a.src_pid)
        time.sleep(a.poll)
    t4 = time.monotonic()

    try:
        with open("%s/%s.pid" % (a.dst_dir, name)) as f:
            pid = int(f.read().strip())
    except FileNotFoundError:
        pid = None      # it ran, and exited since (with -no-reboot: the guest reset)
    print(json.dumps({
        "total_ms": ms(t0, t4), "downtime_ms": q.get("downtime"), "setup_ms": ms(t0, t1),
        "migrate_ms": ms(t1, t2), "resume_ms": ms(t2, t3), "quit_ms": ms(t3, t4),
        "query_total_ms": q.get("total-time"), "pid": pid, "ctl": dst_ctl,
        "passes": passes, "throttle_max": throttle.percent if throttle else 0}))


if __name__ == "__main__":
    main()
