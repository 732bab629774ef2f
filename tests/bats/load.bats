#!/usr/bin/env bats
# Load: the daemon under everything at once for LOAD_SECONDS (default 60) — readers of every
# file (one of them nobody, holding files open up to its budget), a poll() follower of events,
# cgroups coming and going, bad and good writes to every control file — then it must still
# serve, and exit 0 on SIGTERM. `make check-asan` runs this file against the ASan + UBSan
# build, where any report aborts the daemon or fails its exit status (leaks included): the
# load is what lets such reports meet the code paths of a long-running daemon.

LOAD_SECONDS=${LOAD_SECONDS:-60}
LOAD_WORKLOADS=12

setup_file() {
	export ADAPTFS_MOUNT_TIMEOUT=${ADAPTFS_MOUNT_TIMEOUT:-10}
	export ADAPTFS_STOP_TIMEOUT=${ADAPTFS_STOP_TIMEOUT:-20}
	load lib/mount
	load lib/containers
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids cpuset unified"
	export SLICE=/adaptload-$$
	local i conf=$BATS_FILE_TMPDIR/adaptfs.conf
	printf '[discovery]\npattern = %s/*\n' "$SLICE" >"$conf"
	for ((i = 0; i < LOAD_WORKLOADS; i++)); do
		CG_PATH="$SLICE/{name}" cg_spawn "w$i" bash -c 'while :; do sleep 0.05; done'
	done
}

teardown_file() {
	load lib/mount
	load lib/containers
	local p rc=0
	[[ ! -f $BATS_FILE_TMPDIR/loops ]] || while read -r p; do
		kill -KILL "$p" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/loops"
	adaptfs_umount || rc=1
	teardown_all || rc=1
	return $rc
}

setup() {
	load lib/mount
	load lib/containers
	PY=/usr/bin/python3
}

# readers STOP ERR: read every file of the tree (directories listed, texts read whole, some
# from offset 0 twice on one open) until STOP exists; unexpected errors to ERR
readers() {
	local stop=$1 err=$2 d f x
	while [[ ! -e $stop ]]; do
		for d in "$ADAPTFS_MNT" "$ADAPTFS_MNT"/*; do
			if [[ -d $d ]]; then
				for f in "$d"/*; do
					[[ ! -f $f ]] || { read -r -d '' x <"$f"; } 2>>"$err" || :
				done
			else
				{ read -r -d '' x <"$d"; } 2>>"$err" || :
			fi
		done
	done
}

# churn STOP: workloads come and go (one new, one old removed, round after round)
churn() {
	local stop=$1 n=0
	while [[ ! -e $stop ]]; do
		CG_PATH="$SLICE/{name}" cg_spawn "c$n" sleep 600 >/dev/null 2>&1 || true
		((n < 2)) || cg_kill "c$((n - 2))" >/dev/null 2>&1 || true
		n=$((n + 1))
	done
}

# writer STOP: bad input (and some good) to every control file of random workloads
writer() {
	"$PY" - "$ADAPTFS_MNT" "$1" <<'PY'
import os, random, sys
mnt, stop = sys.argv[1], sys.argv[2]
bad = [b"", b"\n", b"cpus=", b"cpus=999999", b"cpus=1-0", b"cpus=0,,1", b"host=nowhere",
       b"host=", b"cpus=0 host=x y", b"\xff\xfe\x01\x1b[31m", b"x" * 5000, b"cpus=0\x00-1",
       b"vm", b"auto", b"container", b"bogus", b"on", b"off", b"[on] off", b"on\non",
       b"cpus=0", b"cpus=0-1"]
while not os.path.exists(stop):
    try:
        names = [n for n in os.listdir(mnt) if os.path.isdir(os.path.join(mnt, n))
                 and n not in ("host",)]
    except OSError:
        continue
    for n in random.sample(names, min(4, len(names))):
        for f in ("placement", "mode", "prefetch"):
            try:
                fd = os.open(os.path.join(mnt, n, f), os.O_WRONLY)
                try:
                    os.write(fd, random.choice(bad))
                finally:
                    os.close(fd)
            except OSError:
                pass
PY
}

# follower STOP: poll() on events with short timeouts, reading what arrives
follower() {
	"$PY" - "$ADAPTFS_MNT/events" "$1" <<'PY'
import os, select, sys
with open(sys.argv[1], "rb", buffering=0) as f:
    p = select.poll()
    p.register(f, select.POLLIN)
    while not os.path.exists(sys.argv[2]):
        if p.poll(100):
            f.read(65536)
PY
}

# holder (as nobody, which cannot see the stop file: stopped by SIGTERM): opens files and keeps
# them, closing all when refused (EMFILE, the budget's or its own fd limit's)
holder() {
	# exec: the background job's pid is python's, so SIGTERM and teardown reach it
	exec setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$PY" - "$ADAPTFS_MNT" <<'PY'
import errno, os, random, sys
mnt = sys.argv[1]
held = []
while True:
    try:
        d = random.choice([mnt] + [os.path.join(mnt, n) for n in os.listdir(mnt)
                                   if os.path.isdir(os.path.join(mnt, n))])
        f = os.path.join(d, random.choice(os.listdir(d)))
        held.append(os.open(f, os.O_RDONLY))
        os.read(held[-1], 4096)
    except OSError as e:
        if e.errno == errno.EMFILE:
            for fd in held:
                os.close(fd)
            held = []
PY
}

@test "${LOAD_SECONDS} s of readers, a follower, nobody holding files, churn and bad writes: the daemon serves on and exits 0" {
	local S=$BATS_FILE_TMPDIR stop=$BATS_FILE_TMPDIR/stop i pids=()
	# started here, not in setup_file: this shell collects its exit status
	adaptfs_mount --interval 0.25 -c "$S/adaptfs.conf"
	wait_for -t 10 test -d "$ADAPTFS_MNT/w$((LOAD_WORKLOADS - 1))"
	rm -f "$stop"
	: >"$S/loops"
	for i in 1 2 3; do
		: >"$S/readers.$i.err"
		readers "$stop" "$S/readers.$i.err" </dev/null >/dev/null 2>&1 3>&- &
		pids+=($!)
	done
	churn "$stop" </dev/null >/dev/null 2>&1 3>&- &
	pids+=($!)
	writer "$stop" >"$S/writer.out" 2>&1 3>&- &
	pids+=($!)
	follower "$stop" >"$S/follower.out" 2>&1 3>&- &
	pids+=($!)
	holder >"$S/holder.out" 2>&1 3>&- &
	holder=$!
	printf '%s\n' "${pids[@]}" "$holder" >"$S/loops"
	# the load runs for its time (a duration, not a wait for readiness), the daemon watched
	for ((i = 0; i < LOAD_SECONDS; i++)); do
		_adapt_pid_alive "$ADAPTFS_PID" || break
		sleep 1
	done
	touch "$stop"
	kill -TERM "$holder"
	for i in "${pids[@]}"; do wait "$i" || echo "loop $i exited with $?"; done
	wait "$holder" || true
	: >"$S/loops"
	cat "$S/writer.out" "$S/follower.out" "$S/holder.out"
	echo "events: $(wc -l <"$ADAPTFS_MNT/events") kept; read errors other than ENOENT:"
	! cat "$S"/readers.*.err | grep -v 'No such file or directory' | sort | uniq -c | grep .
	_adapt_pid_alive "$ADAPTFS_PID"
	# it still serves: a new snapshot, every file of a workload that stayed
	t0=$(awk '$1 == "timestamp_usec" { print $2 }' "$ADAPTFS_MNT/host/stat")
	wait_for -t 5 sh -c "[ \"\$(awk '\$1 == \"timestamp_usec\" { print \$2 }' '$ADAPTFS_MNT/host/stat')\" != '$t0' ]"
	cat "$ADAPTFS_MNT/w0/stat" >/dev/null
	! grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$ADAPTFS_LOG"
	# and exits 0 on SIGTERM: under ASan, a leak or a late report fails the status
	adaptfs_umount || { tail -n 60 "$ADAPTFS_LOG"; return 1; }
}
