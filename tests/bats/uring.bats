#!/usr/bin/env bats
# FUSE requests over io_uring: with the fuse module's enable_uring set, every
# request of the tree is answered by the per-CPU ring threads, and reads,
# late replies, errors, poll and shutdown behave as over /dev/fuse.
# The module parameter is set for this file and put back after it.

PARAM=/sys/module/fuse/parameters/enable_uring

setup_file() {
	load lib/mount
	load lib/containers
	[ -w "$PARAM" ] || return 0
	cat "$PARAM" > "$BATS_FILE_TMPDIR/enable_uring.was"
	echo Y > "$PARAM"
	adaptfs_mount --interval 0.5
}

teardown_file() {
	load lib/mount
	load lib/containers
	teardown_all
	adaptfs_umount
	if [ -f "$BATS_FILE_TMPDIR/enable_uring.was" ]; then
		cat "$BATS_FILE_TMPDIR/enable_uring.was" > "$PARAM"
	fi
}

setup() {
	load lib/mount
	load lib/containers
	[ -w "$PARAM" ] || skip "no $PARAM: this kernel has no FUSE over io_uring (Linux 6.14+, CONFIG_FUSE_IO_URING)"
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids cpuset unified"
}

teardown() {
	teardown_all
	# a test that mounted a daemon of its own stops it (the file's is stopped in teardown_file)
	if [ -n "${OWN_MOUNT:-}" ]; then adaptfs_umount; fi
}

wl() { echo "$ADAPTFS_MNT/$(cg_id "$1" | cut -c1-12)"; }

# switches PID NAME: voluntary context switches of PID's threads called NAME*
switches() {
	local t n=0 v
	for t in /proc/"$1"/task/*; do
		[[ $(cat "$t/comm" 2>/dev/null) == "$2"* ]] || continue
		v=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null) || continue
		n=$((n + ${v:-0}))
	done
	echo "$n"
}

possible_cpus() { local p; p=$(cat /sys/devices/system/cpu/possible); echo $((${p##*[-,]} + 1)); }

@test "reads are answered by one pinned ring thread per possible CPU, not by the /dev/fuse threads" {
	grep -q "adaptfs: serving requests over io_uring ($(possible_cpus) queues)" "$ADAPTFS_MNT/events"
	rings=0
	for t in /proc/"$ADAPTFS_PID"/task/*; do
		name=$(cat "$t/comm")
		[[ $name == adapt-ring* ]] || continue
		rings=$((rings + 1))
		[ "$(awk '/^Cpus_allowed_list/ { print $2 }' "$t/status")" = "${name#adapt-ring}" ]
	done
	[ "$rings" -eq "$(possible_cpus)" ]
	ring0=$(switches "$ADAPTFS_PID" adapt-ring)
	dev0=$(switches "$ADAPTFS_PID" adaptfs)
	for i in $(seq 300); do cat "$ADAPTFS_MNT/host/cpu" > /dev/null; done
	ring1=$(switches "$ADAPTFS_PID" adapt-ring)
	dev1=$(switches "$ADAPTFS_PID" adaptfs)
	echo "ring threads: +$((ring1 - ring0)) switches, /dev/fuse threads: +$((dev1 - dev0))"
	# 300 × OPEN, READ, READ(EOF), RELEASE: each wakes a ring thread
	[ $((ring1 - ring0)) -ge 600 ]
	[ $((dev1 - dev0)) -lt 100 ]
}

# same_lines_bytewise FILE: FILE read a byte per read(2) (kept in small) has
# as many lines as FILE read whole
same_lines_bytewise() {
	dd if="$1" bs=1 status=none > "$BATS_TEST_TMPDIR/small"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/small")" -eq "$(wc -l < "$1")" ]
}

@test "every file reads whole, also in 1-byte reads at growing offsets" {
	cg_spawn walk sleep 1000
	d=$(wl walk)
	wait_for -t 5 test -d "$d"
	# from its second sample on a workload has its rates: the line counts of
	# two opens (two snapshots) compared below no longer change with it
	wait_for -t 5 grep -q usage_percent "$d/cpu"
	find "$ADAPTFS_MNT" -type f -print0 | xargs -0 cat > /dev/null
	for f in "$d/stat" "$ADAPTFS_MNT/metrics.prom"; do
		# dd reads one byte per read(2): a READ per offset, all from one open's
		# text; the whole read is another open, and a workload of an earlier
		# test going in between changes metrics.prom: both again until one
		# snapshot served both
		wait_for -t 10 same_lines_bytewise "$f"
		! grep -qaP '\x00' "$BATS_TEST_TMPDIR/small"
		[ "$(tail -c 1 "$BATS_TEST_TMPDIR/small" | od -An -tx1 | tr -d ' ')" = 0a ]
	done
	dd if="$d/stat" bs=1 status=none | grep -Eq '^timestamp_usec [0-9]+$'
}

@test "8 concurrent readers each get whole texts, and a kept-open file re-read at 0 stays live" {
	cg_spawn busy bash -c 'while :; do :; done'
	d=$(wl busy)
	wait_for -t 5 grep -q usage_percent "$d/cpu"
	python3 - "$d/cpu" <<'PY'
import os, sys, threading, time
path, bad = sys.argv[1], []
def reader():
    for _ in range(500):
        with open(path, 'rb') as f:
            t = f.read()
        lines = t.decode().splitlines()
        if b'\0' in t or len(lines) != 4 or not t.endswith(b'\n'):
            bad.append(t)
ts = [threading.Thread(target=reader) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
fd = os.open(path, os.O_RDONLY)
first = os.pread(fd, 4096, 0)
deadline = time.monotonic() + 5
while os.pread(fd, 4096, 0) == first and time.monotonic() < deadline:
    time.sleep(0.1)
live = os.pread(fd, 4096, 0) != first
os.close(fd)
print("bad reads:", len(bad), bad[:2], "live:", live)
sys.exit(1 if bad or not live else 0)
PY
}

@test "a bad write gets its errno over the ring; a pinning write is answered late, by the actuator" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	cg_spawn pinme bash -c 'while :; do sleep 0.1; done'
	d=$(wl pinme)
	wait_for -t 5 test -d "$d"
	run bash -c "echo 'cpus=3-1' > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	grep -q "placement: 'cpus=3-1' refused: Invalid argument" "$ADAPTFS_MNT/events"
	echo "cpus=1" > "$d/placement"
	[ "$(awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$(cg_pid pinme)/status")" = 1 ]
	echo "cpus=0-1" > "$d/placement"
}

@test "events poll() wakes over the ring (the wake-up goes through /dev/fuse)" {
	events_poller "$BATS_TEST_TMPDIR/poll.out"
	cg_spawn wakeme sleep 1000
	wait "$EVENTS_POLLER"
	grep -q woken "$BATS_TEST_TMPDIR/poll.out"
}

@test "SIGTERM with 4 readers looping: the daemon unmounts and exits 0; io_uring=no stays on /dev/fuse" {
	for i in 1 2 3 4; do
		(while [ ! -e "$BATS_TEST_TMPDIR/stop" ]; do cat "$ADAPTFS_MNT/host/stat" > /dev/null 2>&1; done) &
	done
	wait_for -t 5 test "$(switches "$ADAPTFS_PID" adapt-ring)" -gt 100
	pid=$ADAPTFS_PID log=$ADAPTFS_LOG
	# fails on a non-zero exit, a daemon that outlives SIGTERM or a mount left behind
	adaptfs_umount
	! _adapt_pid_alive "$pid"
	! grep -i "io_uring queue" "$log"
	touch "$BATS_TEST_TMPDIR/stop"
	wait
	printf '[adaptfs]\nio_uring = no\n' > "$BATS_TEST_TMPDIR/adaptfs.conf"
	adaptfs_mount --interval 0.5 --config "$BATS_TEST_TMPDIR/adaptfs.conf"
	OWN_MOUNT=1
	cat "$ADAPTFS_MNT/host/cpu" > /dev/null
	grep -q "mounted at" "$ADAPTFS_MNT/events"
	! grep -q "io_uring" "$ADAPTFS_MNT/events"
	! grep -q adapt-ring /proc/"$ADAPTFS_PID"/task/*/comm
}
