#!/usr/bin/env python3
"""A sibling process for the prefetch tests: holds MiB of anonymous or shmem
memory, touches every page once, says so, then on each SIGUSR1 touches every
page again and reports the major faults that cost it.

usage: memtouch.py NAME anon|shmem MIB DIR
Writes DIR/NAME.ready once allocated; appends "majflt usec" lines to
DIR/NAME.result after each touch on SIGUSR1."""
import ctypes, mmap, os, signal, sys, time

name, kind, mib, outdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME: siblings learn by name
size = mib << 20
if kind == "shmem":
    fd = os.memfd_create(name)
    os.ftruncate(fd, size)
    mem = mmap.mmap(fd, size, mmap.MAP_SHARED)
else:
    mem = mmap.mmap(-1, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
page = mmap.PAGESIZE
for off in range(0, size, page):
    mem[off] = 1

def majflt():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[9])

def touch(signum, frame):
    m0, t0 = majflt(), time.monotonic()
    total = 0
    for off in range(0, size, page):
        total += mem[off]
    with open(os.path.join(outdir, name + ".result"), "a") as f:
        f.write("%d %d\n" % (majflt() - m0, (time.monotonic() - t0) * 1e6))

signal.signal(signal.SIGUSR1, touch)
with open(os.path.join(outdir, name + ".ready"), "w") as f:
    f.write("%d\n" % os.getpid())
while True:
    signal.pause()
