#!/usr/bin/python3
# A stand-in for a QEMU process with a misbehaving QMP monitor, for tests/bats/faults.bats.
#
# Run it through a symlink named qemu-system-x86_64 to the python3 binary, so that its
# command name (/proc/PID/comm, from the name exec'd) is what the QEMU collector looks for
# and its command line carries the options it parses:
#
#   ln -s /usr/bin/python3 DIR/qemu-system-x86_64
#   DIR/qemu-system-x86_64 fake-qemu.py MODE LOG -name NAME -qmp unix:SOCK,server=on,wait=off
#
# It serves SOCK (any number of clients at once: every adaptfs on the host discovers it) and
# appends "connect PID" (the client's pid, from SO_PEERCRED) and "close PID" to LOG. MODE:
#   hang     accept and never answer nor close
#   garbage  send 64 KiB of binary junk and broken JSON lines, then hold the connection
#   huge     send one 8 MiB line without a newline (as fast as the client reads), then hold
#   badjson  a proper greeting and qmp_capabilities reply, then replies of the wrong shape
#            to every command in turn (wrong types, reals, huge numbers, errors, a 600 KiB
#            list, deep nesting last); "reply N" in LOG as each goes out
#   negative the same greeting, then block counters below zero for every command
#   none     no socket at all (the -qmp path does not exist)
# SIGTERM ends it.
import json
import os
import signal
import socket
import struct
import sys
import threading

signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

mode, log = sys.argv[1], sys.argv[2]
sock = None
for i, a in enumerate(sys.argv):
    if a == "-qmp" and i + 1 < len(sys.argv):
        sock = sys.argv[i + 1][len("unix:"):].split(",")[0]
lock = threading.Lock()


def note(text):
    with lock, open(log, "a") as f:
        f.write(text + "\n")


# Well-formed JSON of the wrong shape first (the client keeps coming back every sample), then
# what it must refuse as a protocol error (after which it leaves the socket alone for a while).
BAD_REPLIES = [
    b'{"return": 5}\n',
    b'{"return": [{"stats": null}, 7, "x", {"stats": {"rd_bytes": "str"}}]}\n',
    b'{"return": [{"stats": {"rd_bytes": 1e308, "wr_bytes": 1.5, "rd_operations": {}, "wr_operations": []}}]}\n',
    b'{"error": {"class": "GenericError", "desc": "no"}}\n',
    b'{"return": {"stats": {"stat-major-faults": "many"}}}\n',
    b'{"return": [' + b'{"stats": {"rd_bytes": 1}},' * 20000 + b'{}]}\n',
    b'{"return": {"stats": {"stat-major-faults": -7}}}\n',
    b'{"return": [{"stats": {"rd_bytes": 9223372036854775807}}, {"stats": {"rd_bytes": 9223372036854775807}}]}\n',
    b'{"event": "X", "data": ' + b'[' * 5000 + b']' * 5000 + b'}\n',
]
# mode negative: counters below zero, every time
NEGATIVE = b'{"return": [{"stats": {"rd_bytes": -1, "wr_bytes": -5, "rd_operations": -1, "wr_operations": -1}}]}\n'
replies = 0


def serve(c):
    try:
        cred = c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", cred)[0]
    except OSError:
        pid = 0
    note("connect %d" % pid)
    try:
        if mode == "garbage":
            junk = bytes(range(256)) * 128 + b"{{{ not json }}}\n\x00\xff\xfe\n" * 1024
            c.sendall(junk[:65536])
        elif mode == "huge":
            chunk = b"x" * 65536
            for _ in range(128):
                c.sendall(chunk)
        elif mode in ("badjson", "negative"):
            c.sendall(json.dumps({"QMP": {"version": {}, "capabilities": []}}).encode() + b"\n")
            global replies
            buf = b""
            while True:
                data = c.recv(4096)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if b"qmp_capabilities" in line:
                        c.sendall(b'{"return": {}}\n')
                    else:
                        with lock:
                            r = NEGATIVE if mode == "negative" else BAD_REPLIES[replies % len(BAD_REPLIES)]
                            replies += 1
                        note("reply %d" % replies)
                        c.sendall(r)
        # hang, and every mode once done: hold the connection until the client leaves
        while c.recv(4096):
            pass
    except OSError:
        pass
    note("close %d" % pid)
    c.close()


if mode != "none":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.listen(64)
    note("listening")
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
else:
    note("listening")
    signal.pause()
