#!/usr/bin/python3
"""adaptfs-watch.py — print a workload's class, mode or placement each time it changes.

    adaptfs-watch.py [-n COUNT] [-t SECONDS] FILE...

FILE is /adapt/NAME/class, /adapt/NAME/mode or /adapt/NAME/placement (several at once).
At start it prints each file's value, then again each time one changes, one line each:

    2026-12-06T12:40:01.123Z /adapt/web/placement host=node1 cpus=1

It waits in poll(2) for POLLPRI, as for a cgroup's cgroup.events: adaptfs adds POLLPRI and
POLLERR when the file reads differently from what this open last read, within one sampling
interval; inotify sees nothing on a FUSE mount. A workload that goes away wakes it too:
"FILE gone (ERROR)", and that file is no longer watched.

-n COUNT: exit 0 after COUNT changes. -t SECONDS: exit 1 when no change comes for that long.
Exit status 1 as well when every watched workload is gone, 2 for a usage error or a file
that cannot be read at start. Python 3 standard library only.
"""
import argparse
import os
import select
import sys
import time


def now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (t % 1 * 1000)


def read_value(fd):
    """The whole file from offset 0 (adaptfs renders it anew there), as one line."""
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return data.decode(errors="replace").strip()
        data += chunk


def main():
    ap = argparse.ArgumentParser(description="print adaptfs class, mode or placement changes")
    ap.add_argument("-n", type=int, metavar="COUNT", help="exit 0 after COUNT changes")
    ap.add_argument("-t", type=float, metavar="SECONDS", help="exit 1 after SECONDS without one")
    ap.add_argument("files", nargs="+", metavar="FILE")
    a = ap.parse_args()
    if (a.n is not None and a.n < 1) or (a.t is not None and a.t <= 0):
        ap.error("-n and -t take a positive number")

    poller = select.poll()
    watched = {}
    for path in a.files:
        try:
            fd = os.open(path, os.O_RDONLY)
            value = read_value(fd)
        except OSError as e:
            print("adaptfs-watch: %s: %s" % (path, e.strerror), file=sys.stderr)
            return 2
        watched[fd] = path
        poller.register(fd, select.POLLPRI)
        print(now(), path, value, flush=True)

    changes = 0
    while watched:
        ready = poller.poll(None if a.t is None else a.t * 1000)
        if not ready:
            return 1
        for fd, _ in ready:
            try:
                print(now(), watched[fd], read_value(fd), flush=True)
            except OSError as e:
                print(now(), watched[fd], "gone (%s)" % e.strerror, flush=True)
                poller.unregister(fd)
                os.close(fd)
                del watched[fd]
                continue
            changes += 1
            if a.n is not None and changes >= a.n:
                return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
