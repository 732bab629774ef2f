#!/usr/bin/env bats
# Workloads in engines' cgroup layouts with real processes: discovery, naming,
# and that every figure moves when the real thing happens.

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
}

teardown() {
	teardown_all
}

# key KEY FILE -> the value of KEY in flat-keyed FILE
key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }

# wl NAME: the workload directory of a cg_spawn'ed docker-layout cgroup (12-char id)
wl() { echo "$ADAPTFS_MNT/$(cg_id "$1" | cut -c1-12)"; }

# at_least A B: A >= B for decimals
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
between() { awk -v a="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(a + 0 >= lo + 0 && a + 0 <= hi + 0) }'; }
key_at_least() { local v; v=$(key "$1" "$2") && at_least "$v" "$3"; }

@test "a docker-layout cgroup appears with every file, and goes when removed" {
	cg_spawn idle sleep 1000
	d=$(wl idle)
	wait_for -t 5 test -d "$d"
	# the cgroup's controllers appear one by one: its figures follow within an interval
	for f in kind cpu io threads sched_wait major_faults class stat; do
		wait_for -t 5 grep -q . "$d/$f"
	done
	[ "$(cat "$d/kind")" = "container docker" ]
	key total "$d/threads"
	grep -q "$(basename "$d"): appeared (container docker" "$ADAPTFS_MNT/events"
	# an open file of a vanished workload reads ENOENT, not stale numbers
	exec 5< "$d/cpu"
	cg_kill idle
	wait_for -t 5 test ! -e "$d"
	run cat "$d/cpu"
	[ "$status" -ne 0 ]
	run bash -c 'cat <&5'
	exec 5<&-
	[ "$status" -ne 0 ]
	[[ "$output" == *"No such file or directory"* ]]
	grep -q "$(basename "$d"): disappeared" "$ADAPTFS_MNT/events"
}

@test "discovery is event-driven: a new cgroup is listable well before the rescan" {
	# rescan_interval is 10 s by default: appearing within 5 s proves inotify
	cg_spawn fresh sleep 1000
	wait_for -t 5 test -d "$(wl fresh)"
}

@test "podman and systemd-nspawn layouts are named by their engines" {
	CG_PATH='/machine.slice/libpod-{id}.scope' cg_spawn pod sleep 1000
	CG_PATH='/machine.slice/systemd-nspawn@box\x2done.service' cg_spawn nspawn sleep 1000
	wait_for -t 5 test -d "$ADAPTFS_MNT/box-one"
	[ "$(cat "$ADAPTFS_MNT/box-one/kind")" = "container systemd-nspawn" ]
	pod=$ADAPTFS_MNT/$(cg_id pod | cut -c1-12)
	wait_for -t 5 test -d "$pod"
	[ "$(cat "$pod/kind")" = "container podman" ]
}

@test "one spinning process reads usage_percent 80-120 and parallelism near 1" {
	cg_spawn spin bash -c 'while :; do :; done'
	d=$(wl spin)
	wait_for -t 5 test -d "$d"
	# let a few full intervals pass, then take one consistent stat snapshot
	wait_for -t 10 key_at_least usage_percent "$d/cpu" 80
	stat=$(cat "$d/stat")
	u=$(echo "$stat" | awk '$1 == "cpu_usage_percent" { print $2 }')
	p=$(echo "$stat" | awk '$1 == "threads_parallelism" { print $2 }')
	between "$u" 80 120
	between "$p" 0.80 1.20
	[ "$(key running "$d/threads")" -ge 0 ]
}

@test "two spinning tasks sharing one CPU show run-queue wait" {
	cg_spawn crowd taskset -c 0 bash -c 'while :; do :; done & while :; do :; done'
	d=$(wl crowd)
	wait_for -t 5 test -d "$d"
	wait_for -t 5 key_at_least wait_usec "$d/sched_wait" 100000
	# each waits about half the time: about 100 percent of one thread in total
	wait_for -t 5 key_at_least wait_percent "$d/sched_wait" 40
	[ "$(key total "$d/threads")" -eq 2 ]
}

@test "an idle process is class idle" {
	cg_spawn sleeper sleep 1000
	d=$(wl sleeper)
	wait_for -t 5 test -d "$d"
	wait_for -t 3 grep -q usage_percent "$d/cpu"
	[ "$(cat "$d/class")" = "idle mode=container" ]
}

@test "a CPU load (stress-ng) is class cpu" {
	cg_spawn burner stress-ng --cpu 1 --timeout 60
	d=$(wl burner)
	wait_for -t 5 test -d "$d"
	wait_for -t 15 grep -q '^cpu mode=' "$d/class"
}

@test "direct disk I/O raises io bytes and is class io" {
	f=$BATS_FILE_TMPDIR/ddfile
	cg_spawn disk bash -c "while :; do dd if=/dev/zero of=$f bs=1M count=32 oflag=direct status=none; dd if=$f of=/dev/null bs=1M iflag=direct status=none; done"
	d=$(wl disk)
	wait_for -t 5 test -d "$d"
	wait_for -t 5 key_at_least write_bytes "$d/io" $((32 * 1024 * 1024))
	wait_for -t 5 key_at_least read_bytes "$d/io" $((32 * 1024 * 1024))
	wait_for -t 8 grep -q '^io mode=container' "$d/class"
	cg_kill disk
	rm -f "$f"
}

@test "metrics.prom parses and carries every workload" {
	cg_spawn p1 sleep 1000
	cg_spawn p2 sleep 1000
	wait_for -t 5 test -d "$(wl p1)"
	wait_for -t 5 test -d "$(wl p2)"
	for n in $(ls "$ADAPTFS_MNT"); do
		case $n in events|host|hosts|metrics.prom) continue ;; esac
		# other workloads on the host may come and go meanwhile
		wait_for -t 2 sh -c "! test -d '$ADAPTFS_MNT/$n' || grep -q '^adapt_class{workload=\"$n\"' '$ADAPTFS_MNT/metrics.prom'"
	done
	grep -q "^adapt_cpu_usage_seconds_total{workload=\"$(basename "$(wl p1)")\",kind=\"container\",engine=\"docker\"} " "$ADAPTFS_MNT/metrics.prom"
	if command -v promtool >/dev/null; then
		promtool check metrics < "$ADAPTFS_MNT/metrics.prom"
	fi
}

@test "events supports poll(): a reader is woken by a new workload" {
	command -v python3 || skip "python3 not installed"
	events_poller "$BATS_TEST_TMPDIR/poll.out"
	cg_spawn pollme sleep 1000
	wait "$EVENTS_POLLER"
	grep -q woken "$BATS_TEST_TMPDIR/poll.out"
}

@test "events poll() blocks while nothing new arrives, however often it times out" {
	command -v python3 || skip "python3 not installed"
	# A poll(100 ms) loop for 4 s: each wake-up must bring a new line (other
	# cgroups on the host may come and go); before the fix, after ~32
	# timeouts every poll returned at once, thousands of empty wake-ups.
	python3 - "$ADAPTFS_MNT/events" > "$BATS_TEST_TMPDIR/loop.out" <<'PY'
import select, sys, time
with open(sys.argv[1], 'rb', buffering=0) as f:
    last = f.read()
    p = select.poll()
    p.register(f, select.POLLIN)
    timeouts = empty = new = 0
    end = time.monotonic() + 4
    while time.monotonic() < end:
        if not p.poll(100):
            timeouts += 1
            continue
        f.seek(0)
        text = f.read()
        if text == last:
            empty += 1
        else:
            new += 1
        last = text
    print(f"timeouts {timeouts} empty {empty} new {new}")
PY
	cat "$BATS_TEST_TMPDIR/loop.out"
	read -r _ timeouts _ empty _ new < "$BATS_TEST_TMPDIR/loop.out"
	[ "$empty" -eq 0 ]
	[ "$timeouts" -ge 20 ]
	# and after all those timeouts a new event still wakes a poller
	events_poller "$BATS_TEST_TMPDIR/poll.out"
	cg_spawn pollagain sleep 1000
	wait "$EVENTS_POLLER"
	grep -q woken "$BATS_TEST_TMPDIR/poll.out"
}

@test "reads across fast snapshot swaps are never torn, and a kept-open file stays live" {
	cg_spawn churn bash -c 'while :; do :; done'
	d=$(wl churn)
	wait_for -t 5 test -d "$d"
	wait_for -t 3 grep -q usage_percent "$d/cpu"
	# 0.5 s interval here: 3000 reads span several swaps; digits roll over often
	for i in $(seq 1 3000); do
		out=$(cat "$d/cpu")
		[ "$(echo "$out" | grep -Ec '^(usage_percent [0-9]+\.[0-9]{2}|(usage|user|system)_usec [0-9]+)$')" -eq 4 ] || {
			echo "torn read $i: $out"; return 1; }
	done
	# a reader that keeps the file open sees new snapshots at offset 0
	python3 - "$d/cpu" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
def usec():
    text = os.pread(fd, 4096, 0).decode()
    return int(dict(l.split() for l in text.splitlines())["usage_usec"])
first = usec()
deadline = time.time() + 5
while usec() == first:
    if time.time() > deadline:
        sys.exit("usage_usec did not move on a kept-open file")
    time.sleep(0.05)
PY
}

@test "concurrent readers of a big metrics.prom across snapshot swaps always get it whole" {
	for i in 1 2 3 4 5 6; do cg_spawn "many$i" sleep 1000; done
	wait_for -t 3 test -d "$(wl many6)"
	reader() {
		for n in $(seq 1 150); do
			cat "$ADAPTFS_MNT/metrics.prom" > "$BATS_TEST_TMPDIR/r$1"
			# whole: ends with a newline and with the last family's last line
			[ "$(tail -c1 "$BATS_TEST_TMPDIR/r$1" | od -An -c | tr -d ' ')" = '\n' ] || return 1
			tail -1 "$BATS_TEST_TMPDIR/r$1" | grep -Eq '^adapt_class\{.*\} 1$' || return 1
		done
	}
	pids=()
	for r in 1 2 3 4; do reader "$r" 3>&- & pids+=($!); done
	for p in "${pids[@]}"; do wait "$p"; done
	promtool check metrics < "$BATS_TEST_TMPDIR/r1"
}
