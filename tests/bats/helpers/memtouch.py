#!/usr/bin/env python3
"""A sibling process for the prefetch tests: holds MiB of anonymous or shmem
memory, writes a byte of its own into every page once, says so, then on each
SIGUSR1 reads every page again and reports the major faults and time that
cost it, and how many pages did not hold what it wrote.

usage: memtouch.py NAME anon|shmem|file MIB DIR
file: a file DIR/NAME.data written with write(2) and mapped shared, only read:
its pages are clean, so paging them out drops them at once and the next
touch reads them from the disk (major faults with nothing put in swap).
Writes DIR/NAME.ready once allocated; appends "majflt usec bad_pages" lines
to DIR/NAME.result after each touch on SIGUSR1. On SIGUSR2 it pages its
memory out (MADV_PAGEOUT: to swap, its siblings left where they are) and
appends a line to DIR/NAME.out."""
import ctypes, mmap, os, signal, sys, time

name, kind, mib, outdir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME: siblings learn by name
size = mib << 20
page = mmap.PAGESIZE

def mark(off):
    return (off // page * 7 + len(name)) % 251 + 1

if kind == "file":
    fd = os.open(os.path.join(outdir, name + ".data"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    for off in range(0, size, page):
        os.write(fd, bytes([mark(off)]) + bytes(page - 1))
    os.fsync(fd)
    mem = mmap.mmap(fd, size, mmap.MAP_SHARED)  # writable for ctypes, never written: clean
    for off in range(0, size, page):
        mem[off]
else:
    if kind == "shmem":
        fd = os.memfd_create(name)
        os.ftruncate(fd, size)
        mem = mmap.mmap(fd, size, mmap.MAP_SHARED)
    else:
        mem = mmap.mmap(-1, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for off in range(0, size, page):
        mem[off] = mark(off)

def majflt():
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[9])

def touch(signum, frame):
    m0, t0 = majflt(), time.monotonic()
    bad = 0
    for off in range(0, size, page):
        bad += mem[off] != mark(off)
    usec = (time.monotonic() - t0) * 1e6
    with open(os.path.join(outdir, name + ".result"), "a") as f:
        f.write("%d %d %d\n" % (majflt() - m0, usec, bad))

MADV_PAGEOUT = 21  # Linux 5.4; not in every Python's mmap module
libc = ctypes.CDLL(None, use_errno=True)
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
base = ctypes.addressof(ctypes.c_char.from_buffer(mem))
if kind == "file":
    libc.madvise(base, size, 1)  # MADV_RANDOM: no readahead, a major fault per page

def page_out(signum, frame):
    if libc.madvise(base, size, MADV_PAGEOUT) != 0:
        raise OSError(ctypes.get_errno(), "madvise(MADV_PAGEOUT)")
    with open(os.path.join(outdir, name + ".out"), "a") as f:
        f.write("paged out\n")

signal.signal(signal.SIGUSR1, touch)
signal.signal(signal.SIGUSR2, page_out)
with open(os.path.join(outdir, name + ".ready"), "w") as f:
    f.write("%d\n" % os.getpid())
while True:
    signal.pause()
