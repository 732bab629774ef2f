#!/usr/bin/env python3
"""Service B of the paper: allocate MIB MiB, write every page once, then hold it.

usage: hog.py MIB READYFILE
Writes READYFILE (its pid) once every page is written, then sleeps until killed."""
import mmap, os, signal, sys

mib, ready = int(sys.argv[1]), sys.argv[2]
size = mib << 20
mem = mmap.mmap(-1, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
page = mmap.PAGESIZE
for off in range(0, size, page):
    mem[off:off + 4] = b"hog!"		# 4 bytes into every page, as in the paper
with open(ready, "w") as f:
    f.write("%d\n" % os.getpid())
while True:
    signal.pause()
