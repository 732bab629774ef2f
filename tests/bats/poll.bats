#!/usr/bin/env bats
# poll(2) on a workload's class, mode and placement, as on a cgroup's cgroup.events: always
# readable, and POLLPRI | POLLERR once the file reads differently from what that open last
# read; never a wake-up without a change. Driven for real: a pin, a write of auto, a workload
# that starts spinning, a workload that goes away. etc/examples/adaptfs-watch.py is the
# poller of most tests.

INTERVAL_MS=500

setup_file() {
	load lib/mount
	load lib/containers
	adaptfs_mount --interval 0.5
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
}

setup() {
	load lib/mount
	load lib/containers
	# cpuset among the controllers so that teardown removes what pinning creates
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids cpuset unified"
	WATCH=$_ADAPT_REPO_ROOT/etc/examples/adaptfs-watch.py
	STARTED=()
}

teardown() {
	stop_started
	teardown_all
}

now_ms() { date +%s%3N; }

# spawn_named NAME CMD...: a workload in the systemd-nspawn layout, named NAME
spawn_named() {
	local name=$1
	shift
	CG_PATH="${SPAWN_PATH:-/machine.slice/systemd-nspawn@$name.service}" cg_spawn "$name" "$@"
	# a loaded host (other tests' hundreds of cgroups) can take seconds to discover it
	wait_for -t 15 test -d "$ADAPTFS_MNT/$name"
}

# watch_start OUT ARGS...: adaptfs-watch.py ARGS in the background, its lines in OUT; returns once
# it printed the value of every file it watches (one line each). Its pid in WATCH_PID.
watch_start() {
	local out=$1 files=0 a
	shift
	for a in "$@"; do [[ $a == "$ADAPTFS_MNT"/* ]] && files=$((files + 1)); done
	python3 "$WATCH" "$@" </dev/null >"$out" 2>&1 3>&- &
	WATCH_PID=$!
	STARTED+=("$WATCH_PID")
	wait_for -t 5 eval "[ \$(wc -l <'$out') -ge $files ]"
}

# iso_ms TIME: the milliseconds since the Epoch of adaptfs-watch's "2026-...Z"
iso_ms() { date -d "$1" +%s%3N; }

# poll_raw OUT FILE EVENTS TIMEOUT_MS: in the background, python3 opens FILE, reads it, says
# "ready", then one poll(2) for EVENTS (names joined by |); writes "revents A|B ms T" (T: the
# wall time of the wake-up) or "timeout" to OUT. Its pid in RAW_PID.
poll_raw() {
	python3 - "$@" <<'PY' 3>&- &
import os, select, sys, time
out, path, events, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
names = ["POLLIN", "POLLPRI", "POLLOUT", "POLLERR", "POLLHUP", "POLLNVAL", "POLLRDNORM"]
fd = os.open(path, os.O_RDONLY)
while os.read(fd, 4096):
    pass
p = select.poll()
mask = 0
for e in events.split("|"):
    mask |= getattr(select, e)
p.register(fd, mask)
with open(out, "w") as f:
    print("ready", file=f, flush=True)
    r = p.poll(timeout)
    if not r:
        print("timeout", file=f, flush=True)
    else:
        got = "|".join(n for n in names if r[0][1] & getattr(select, n))
        print("revents %s ms %d" % (got, time.time() * 1000), file=f, flush=True)
PY
	RAW_PID=$!
	STARTED+=("$RAW_PID")
	wait_for -t 5 grep -q ready "$1"
}

@test "placement: a poller for POLLPRI wakes with POLLPRI|POLLERR within one interval of a pin, and reads the new value" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs to pin to one"
	spawn_named adt_poll_pin sleep 1000
	f=$ADAPTFS_MNT/adt_poll_pin/placement
	all=$(cat /sys/devices/system/cpu/online)
	wait_for -t 5 grep -qx "host=$(hostname) cpus=$all" "$f"

	# readable at once, as cgroup.events: POLLIN never waits
	poll_raw "$BATS_TEST_TMPDIR/in" "$f" POLLIN 5000
	wait "$RAW_PID"
	grep -q '^revents POLLIN ms' "$BATS_TEST_TMPDIR/in"

	poll_raw "$BATS_TEST_TMPDIR/pri" "$f" POLLPRI 10000
	watch_start "$BATS_TEST_TMPDIR/watch" -n 1 -t 10 "$f"
	start=$(now_ms)
	echo cpus=1 >"$f"
	returned=$(now_ms)
	wait "$RAW_PID"
	wait "$WATCH_PID"
	cat "$BATS_TEST_TMPDIR/pri" "$BATS_TEST_TMPDIR/watch"
	read -r _ revents _ woke < <(tail -1 "$BATS_TEST_TMPDIR/pri")
	[ "$revents" = "POLLPRI|POLLERR" ]
	echo "write took $((returned - start)) ms; the poller woke $((woke - start)) ms after it began"
	((woke <= returned + INTERVAL_MS))
	# the watcher's second line is the new value, as the file reads it
	[ "$(wc -l <"$BATS_TEST_TMPDIR/watch")" -eq 2 ]
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/watch" | cut -d' ' -f3-)" = "$(cat "$f")" ]
	[ "$(cat "$f")" = "host=$(hostname) cpus=1" ]
}

@test "no change, no wake-up: a timed poll on placement, mode and class times out while the mount is busy" {
	spawn_named adt_poll_calm sleep 1000
	spawn_named adt_poll_other sleep 1000
	d=$ADAPTFS_MNT/adt_poll_calm
	all=$(cat /sys/devices/system/cpu/online)
	wait_for -t 5 grep -qx "host=$(hostname) cpus=$all" "$d/placement"
	wait_for -t 10 grep -q '^idle ' "$d/class"
	poll_raw "$BATS_TEST_TMPDIR/raw" "$d/placement" POLLPRI 3000
	watch_start "$BATS_TEST_TMPDIR/watch" -t 3 "$d/placement" "$d/mode" "$d/class"
	# around it: new snapshots every interval, events (a refused write to the same file, a
	# write of its current value) and a change to another workload
	echo bogus >"$d/placement" 2>/dev/null || true
	cat "$d/placement" >"$d/placement"
	echo container >"$d/mode"
	echo on >"$ADAPTFS_MNT/adt_poll_other/prefetch"
	st=0
	wait "$WATCH_PID" || st=$?
	[ "$st" -eq 1 ]
	wait "$RAW_PID"
	cat "$BATS_TEST_TMPDIR/watch" "$BATS_TEST_TMPDIR/raw"
	[ "$(cat "$BATS_TEST_TMPDIR/raw")" = $'ready\ntimeout' ]
	# the three starting values and nothing else
	[ "$(wc -l <"$BATS_TEST_TMPDIR/watch")" -eq 3 ]
	grep -q "placement: 'bogus' refused" "$ADAPTFS_MNT/events"
}

@test "mode: a poller wakes within one interval of a write of auto, with the new value" {
	# an LXC-layout cgroup: a discovered lxc container, whose mode takes auto
	SPAWN_PATH=/lxc.payload.adt_poll_mode spawn_named adt_poll_mode sleep 1000
	f=$ADAPTFS_MNT/adt_poll_mode/mode
	[ "$(cat "$ADAPTFS_MNT/adt_poll_mode/kind")" = "container lxc" ]
	[ "$(cat "$f")" = "[container] vm auto" ]
	watch_start "$BATS_TEST_TMPDIR/watch" -n 1 -t 10 "$f"
	start=$(now_ms)
	echo auto >"$f"
	returned=$(now_ms)
	wait "$WATCH_PID"
	cat "$BATS_TEST_TMPDIR/watch"
	line=$(sed -n 2p "$BATS_TEST_TMPDIR/watch")
	[ "$(cut -d' ' -f3- <<<"$line")" = "container vm [auto]" ]
	woke=$(iso_ms "$(cut -d' ' -f1 <<<"$line")")
	echo "the watcher woke $((woke - start)) ms after the write began, $((woke - returned)) ms after it returned"
	# the write wakes pollers before it returns; the watcher's clock reads to the millisecond
	((woke <= returned + INTERVAL_MS))
	# and back: one more change
	watch_start "$BATS_TEST_TMPDIR/watch2" -n 1 -t 10 "$f"
	echo container >"$f"
	wait "$WATCH_PID"
	[ "$(sed -n 2p "$BATS_TEST_TMPDIR/watch2" | cut -d' ' -f3-)" = "[container] vm auto" ]
}

@test "class: a poller wakes when an idle workload starts spinning and turns cpu" {
	go=$BATS_TEST_TMPDIR/go
	spawn_named adt_poll_class bash -c "while [ ! -e '$go' ]; do sleep 0.2; done; while :; do :; done"
	f=$ADAPTFS_MNT/adt_poll_class/class
	wait_for -t 10 grep -q '^idle ' "$f"
	watch_start "$BATS_TEST_TMPDIR/watch" -n 1 -t 60 "$f"
	touch "$go"
	wait "$WATCH_PID"
	cat "$BATS_TEST_TMPDIR/watch"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/watch")" -eq 2 ]
	new=$(sed -n 2p "$BATS_TEST_TMPDIR/watch" | cut -d' ' -f3-)
	[[ $new == "cpu mode="* ]]
	[ "$new" = "$(cat "$f")" ]
}

@test "a workload that goes away wakes its pollers; the read then fails with ENOENT" {
	spawn_named adt_poll_gone sleep 1000
	f=$ADAPTFS_MNT/adt_poll_gone/placement
	poll_raw "$BATS_TEST_TMPDIR/raw" "$f" POLLPRI 10000
	watch_start "$BATS_TEST_TMPDIR/watch" -t 10 "$f"
	cg_kill adt_poll_gone
	st=0
	wait "$WATCH_PID" || st=$?
	cat "$BATS_TEST_TMPDIR/watch"
	# every watched workload gone: status 1
	[ "$st" -eq 1 ]
	grep -q "placement gone (No such file or directory)$" "$BATS_TEST_TMPDIR/watch"
	wait "$RAW_PID"
	grep -q '^revents POLLPRI|POLLERR ms' "$BATS_TEST_TMPDIR/raw"
}

@test "adaptfs-watch.py: usage errors and an unreadable file are status 2" {
	run python3 "$WATCH" -n 0 "$ADAPTFS_MNT/events"
	[ "$status" -eq 2 ]
	run python3 "$WATCH" "$ADAPTFS_MNT/nosuch/placement"
	[ "$status" -eq 2 ]
	[[ $output == *"nosuch/placement: No such file or directory" ]]
}
