#!/usr/bin/env bats
# Running as a daemon: pid file, signals, configuration reload, install.

setup() {
	load lib/mount
	load lib/containers
	MNT=$(mktemp -d /tmp/adaptfs-daemon.XXXXXX)
	PIDFILE=$BATS_TEST_TMPDIR/adaptfs.pid
}

teardown() {
	if [ -n "${LISTENER:-}" ] && _adapt_pid_alive "$LISTENER"; then kill "$LISTENER"; fi
	if [ -n "${FG_PID:-}" ] && _adapt_pid_alive "$FG_PID"; then
		kill -KILL "$FG_PID"
		wait_for -t 5 _adapt_pid_gone "$FG_PID" || true
	fi
	if [ -f "$PIDFILE" ]; then
		kill "$(cat "$PIDFILE")" 2>/dev/null || true
		wait_for -t 5 test ! -f "$PIDFILE" || true
	fi
	if adaptfs_mounted "$MNT"; then fusermount3 -u -z "$MNT"; fi
	rmdir "$MNT" 2>/dev/null || true
	teardown_all
}

# start_logged STREAM LOG: a foreground daemon on MNT with JOURNAL_STREAM=STREAM and
# its stderr appended to LOG, once it says it mounted (pid in FG_PID); stop_logged ends it
start_logged() {
	JOURNAL_STREAM=$1 "$ADAPTFS_BIN" -f --interval 0.5 "$MNT" 2>> "$2" 3>&- &
	FG_PID=$!
	wait_for -t 5 grep -q "mounted at" "$2"
	cat "$2"
}

stop_logged() {
	kill -TERM "$FG_PID"
	wait_for -t 5 _adapt_pid_gone "$FG_PID"
}

@test "without -f it daemonizes, writes its pid file, and SIGTERM unmounts cleanly" {
	run "$ADAPTFS_BIN" --pidfile "$PIDFILE" --interval 0.5 "$MNT"
	[ "$status" -eq 0 ]
	wait_for -t 5 test -s "$PIDFILE"
	pid=$(cat "$PIDFILE")
	wait_for -t 5 test -e "$MNT/host/cores"
	grep -q " $MNT fuse.adaptfs " /proc/mounts
	grep -q "allow_other" <(grep " $MNT " /proc/mounts)
	grep -q "default_permissions" <(grep " $MNT " /proc/mounts)
	kill -TERM "$pid"
	wait_for -t 5 _adapt_pid_gone "$pid"
	! grep -q " $MNT " /proc/mounts
	[ ! -e "$PIDFILE" ]
}

@test "after kill -9 a new daemon detaches the dead mount, says so, and mounts" {
	"$ADAPTFS_BIN" -f --interval 0.5 "$MNT" > "$BATS_TEST_TMPDIR/first.log" 2>&1 3>&- &
	FG_PID=$!
	wait_for -t 5 test -e "$MNT/host/cores"
	kill -KILL "$FG_PID"
	wait_for -t 5 _adapt_pid_gone "$FG_PID"
	# the dead mount is still there: every access fails, with ENOTCONN, or
	# ECONNABORTED when the kernel aborted a request in flight at the kill
	adaptfs_mounted "$MNT"
	run stat "$MNT"
	[ "$status" -ne 0 ]
	[[ $output == *"Transport endpoint is not connected"* ||
	   $output == *"Software caused connection abort"* ]]
	run "$ADAPTFS_BIN" --pidfile "$PIDFILE" --interval 0.5 "$MNT"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"mount point $MNT: detached a stale FUSE mount (its daemon is gone)"* ]]
	wait_for -t 5 test -s "$PIDFILE"
	wait_for -t 5 test -e "$MNT/host/cores"
	[ "$(grep -c " $MNT fuse.adaptfs " /proc/mounts)" -eq 1 ]
	# and it stops cleanly, leaving nothing mounted
	pid=$(cat "$PIDFILE")
	kill -TERM "$pid"
	wait_for -t 5 _adapt_pid_gone "$pid"
	! adaptfs_mounted "$MNT"
}

@test "SIGTERM while a peer's probe hangs: the probe is killed, the daemon exits well within the probe's 3 s deadline" {
	conf=$BATS_TEST_TMPDIR/adaptfs.conf
	# the transport never answers: the probe waits out its deadline unless stopped
	printf '[host mute]\naddress = 192.0.2.1\ntransport = exec sleep 60 ||\n' >"$conf"
	"$ADAPTFS_BIN" -f --interval 0.5 --config "$conf" "$MNT" 2>"$BATS_TEST_TMPDIR/log" &
	FG_PID=$!
	wait_for -t 5 test -d "$MNT/host"
	# the probe is under way: the daemon's child runs the transport
	wait_for -t 5 sh -c "grep -l '^PPid:[[:space:]]*$FG_PID\$' /proc/[0-9]*/status | xargs -r grep -l '^Name:[[:space:]]*sleep' | grep -q ."
	t0=$(_adapt_now_us)
	kill -TERM "$FG_PID"
	wait_for -t 5 _adapt_pid_gone "$FG_PID"
	ms=$((($(_adapt_now_us) - t0) / 1000))
	echo "exited $ms ms after SIGTERM"
	wait "$FG_PID"
	[ "$ms" -lt 2000 ] || { cat "$BATS_TEST_TMPDIR/log"; false; }
	! adaptfs_mounted "$MNT"
}

@test "a mount point given relative to the working directory is unmounted on SIGTERM" {
	# the daemon works in /: a relative path kept as given named the wrong place
	cd "$(dirname "$MNT")"
	"$ADAPTFS_BIN" --pidfile "$PIDFILE" --interval 0.5 "$(basename "$MNT")"
	wait_for -t 5 test -e "$MNT/host/cores"
	pid=$(cat "$PIDFILE")
	kill -TERM "$pid"
	wait_for -t 5 _adapt_pid_gone "$pid"
	! grep -q " $MNT " /proc/mounts
}

@test "SIGHUP reloads the config: a new discovery pattern takes effect" {
	cfg=$BATS_TEST_TMPDIR/adaptfs.conf
	printf '[discovery]\nrescan_interval = 600\n' > "$cfg"
	"$ADAPTFS_BIN" --pidfile "$PIDFILE" --config "$cfg" --interval 0.5 "$MNT"
	wait_for -t 5 test -e "$MNT/host/cores"
	CG_PATH='/adapttest.slice/job-{id}' cg_spawn job sleep 1000
	name=job-$(cg_id job)
	# not an engine layout: not shown until a pattern says so
	[ ! -e "$MNT/$name" ]
	printf '[discovery]\nrescan_interval = 600\npattern = /adapttest.slice/job-*\n' > "$cfg"
	kill -HUP "$(cat "$PIDFILE")"
	wait_for -t 3 test -d "$MNT/$name"
	[ "$(cat "$MNT/$name/kind")" = "container cgroup" ]
	grep -q "configuration reloaded from $cfg" "$MNT/events"
	# a broken file on reload keeps the running configuration and says so
	printf '[discovery\n' > "$cfg"
	kill -HUP "$(cat "$PIDFILE")"
	wait_for -t 3 grep -q "configuration reload failed" "$MNT/events"
	[ -d "$MNT/$name" ]
}

@test "-o passes mount options through to FUSE" {
	"$ADAPTFS_BIN" --pidfile "$PIDFILE" -o ro "$MNT"
	wait_for -t 5 test -e "$MNT/host/cores"
	grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]'
}

@test "make install puts the daemon and man pages under DESTDIR" {
	dest=$BATS_TEST_TMPDIR/root
	make -C "$BATS_TEST_DIRNAME/../.." install DESTDIR="$dest" PREFIX=/usr > /dev/null
	[ -x "$dest/usr/sbin/adaptfs" ]
	[ -f "$dest/usr/share/man/man8/adaptfs.8" ]
	[ -f "$dest/usr/share/man/man5/adaptfs.5" ]
	[ -f "$dest/usr/share/man/man5/adaptfs.conf.5" ]
	"$dest/usr/sbin/adaptfs" --version
}

@test "adaptfs-migrate, run on peers, links no FUSE and none of the daemon's front end" {
	bin=$BATS_TEST_DIRNAME/../../adaptfs-migrate
	run ldd "$bin"
	[ "$status" -eq 0 ]
	[[ $output == *libjansson* ]]
	[[ $output != *libfuse* && $output != *liburing* ]]
	run nm "$bin"
	[[ $output == *qemu_incoming* ]]
	[[ $output != *fuse_session* && $output != *sampler_start* && $output != *snapshot_get* ]]
}

@test "man pages render without warnings" {
	command -v man || skip "man-db not installed"
	for page in adaptfs.8 adaptfs.5 adaptfs.conf.5; do
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$BATS_TEST_DIRNAME/../../man/$page" 2>&1 >/dev/null)
		[ -z "$out" ] || { echo "$page: $out"; return 1; }
	done
}

@test "tells systemd READY=1 once mounted, as Type=notify expects" {
	command -v python3 || skip "python3 not installed"
	sock=$BATS_TEST_TMPDIR/notify.sock
	python3 - "$sock" > "$BATS_TEST_TMPDIR/notify.out" 3>&- <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
print(s.recv(4096).decode(), flush=True)
PY
	listener=$!
	wait_for -t 5 test -S "$sock"
	NOTIFY_SOCKET=$sock "$ADAPTFS_BIN" -f --pidfile "$PIDFILE" "$MNT" 3>&- 2>/dev/null &
	wait "$listener"
	grep -q "READY=1" "$BATS_TEST_TMPDIR/notify.out"
	test -e "$MNT/host/cores"
	grep -q 'Type=notify' "$BATS_TEST_DIRNAME/../../etc/adaptfs.service"
}

@test "on a stderr that is the journal each line carries its syslog priority as <N>" {
	log=$BATS_TEST_TMPDIR/journal.log
	: > "$log"
	stream=$(stat -c %d:%i "$log")
	cfg=$BATS_TEST_TMPDIR/bad.conf
	printf '[adaptfs]\nno_such_key = 1\n' > "$cfg"
	# an error: <3> (LOG_ERR), so that journalctl -p err shows it
	status=0
	JOURNAL_STREAM=$stream "$ADAPTFS_BIN" -f --config "$cfg" "$MNT" 2>> "$log" || status=$?
	cat "$log"
	[ "$status" -eq 1 ]
	grep -qx "<3>adaptfs: $cfg:2: unknown key 'no_such_key' in section \[adaptfs\]" "$log"
	# information: <6> (LOG_INFO), on every line of a running daemon
	: > "$log"
	start_logged "$stream" "$log"
	grep -qx "<6>adaptfs: mounted at $MNT" "$log"
	! grep -v '^<[0-7]>adaptfs: ' "$log"
	stop_logged
}

@test "--log-level-prefix asks for <N> on any stderr" {
	cfg=$BATS_TEST_TMPDIR/bad.conf
	printf '[adaptfs]\nno_such_key = 1\n' > "$cfg"
	run "$ADAPTFS_BIN" -f --log-level-prefix --config "$cfg" "$MNT"
	[ "$status" -eq 1 ]
	[ "$output" = "<3>adaptfs: $cfg:2: unknown key 'no_such_key' in section [adaptfs]" ]
	run "$ADAPTFS_BIN" --log-level-prefix -f "$MNT/no-such-dir"
	[ "$status" -eq 1 ]
	[[ $output == *"<3>adaptfs: mount point $MNT/no-such-dir: No such file or directory"* ]]
}

@test "without JOURNAL_STREAM, or when it names another file, lines carry no <N>" {
	log=$BATS_TEST_TMPDIR/plain.log
	other=$BATS_TEST_TMPDIR/other
	: > "$other"
	cfg=$BATS_TEST_TMPDIR/bad.conf
	printf '[adaptfs]\nno_such_key = 1\n' > "$cfg"
	run "$ADAPTFS_BIN" -f --config "$cfg" "$MNT"
	[ "$status" -eq 1 ]
	[[ $output == "adaptfs: $cfg:2: unknown key"* ]]
	# a child whose stderr was redirected inherits the variable, not the stream
	JOURNAL_STREAM=$(stat -c %d:%i "$other") run "$ADAPTFS_BIN" -f --config "$cfg" "$MNT"
	[ "$status" -eq 1 ]
	[[ $output == "adaptfs: $cfg:2: unknown key"* ]]
	start_logged "$(stat -c %d:%i "$other")" "$log"
	grep -qx "adaptfs: mounted at $MNT" "$log"
	! grep -q '^<' "$log"
	stop_logged
}

@test "--check-config exits 0 on a good file and mounts nothing" {
	cfg=$BATS_TEST_TMPDIR/good.conf
	printf '[adaptfs]\ninterval = 2\n[discovery]\nrescan_interval = 600\n' > "$cfg"
	run "$ADAPTFS_BIN" --check-config "$cfg"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$ADAPTFS_BIN" --check-config="$cfg"
	[ "$status" -eq 0 ]
	# -c names it as for the daemon
	run "$ADAPTFS_BIN" -c "$cfg" --check-config
	[ "$status" -eq 0 ]
	# the shipped example is valid
	run "$ADAPTFS_BIN" --check-config "$BATS_TEST_DIRNAME/../../etc/adaptfs.conf"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q " fuse.adaptfs " <(grep " $MNT " /proc/mounts)
}

@test "--check-config exits 1 with FILE:LINE: REASON for a bad key, section or value" {
	cfg=$BATS_TEST_TMPDIR/bad.conf
	printf '[adaptfs]\ninterval = 1\nno_such_key = 1\n' > "$cfg"
	run "$ADAPTFS_BIN" --check-config "$cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "$cfg:3: unknown key 'no_such_key' in section [adaptfs]" ]
	printf '# a comment\n[no_such_section]\nkey = 1\n' > "$cfg"
	run "$ADAPTFS_BIN" --check-config "$cfg"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == "$cfg:3: "*"no_such_section"* ]]
	printf '[adaptfs]\ninterval = soon\n' > "$cfg"
	run "$ADAPTFS_BIN" --check-config "$cfg"
	[ "$status" -eq 1 ]
	[ "$output" = "$cfg:2: bad value for key 'interval' in section [adaptfs]" ]
	run "$ADAPTFS_BIN" --check-config "$BATS_TEST_TMPDIR/missing.conf"
	[ "$status" -eq 1 ]
	[ "$output" = "$BATS_TEST_TMPDIR/missing.conf: No such file or directory" ]
}

@test "the unit's ExecReload checks the configuration before it sends SIGHUP" {
	unit=$BATS_TEST_DIRNAME/../../etc/adaptfs.service
	run grep '^ExecReload=' "$unit"
	[ "${lines[0]}" = "ExecReload=/usr/sbin/adaptfs --check-config" ]
	[ "${lines[1]}" = 'ExecReload=/bin/kill -HUP $MAINPID' ]
	[ "${#lines[@]}" -eq 2 ]
}

# N or more lines of FILE are exactly LINE
_lines_at_least() { [ "$(grep -cx "$2" "$3")" -ge "$1" ]; }
# after its first N lines, FILE has a line "quiet" (the listener heard nothing for 1.5 s)
_quiet_after() { tail -n +"$(($1 + 1))" "$2" | grep -qx quiet; }

@test "WATCHDOG=1 reaches systemd while the sampler keeps to its schedule, and stops when it hangs" {
	command -v python3 || skip "python3 not installed"
	sock=$BATS_TEST_TMPDIR/notify.sock
	out=$BATS_TEST_TMPDIR/notify.out
	# every datagram on a line; "quiet" after 1.5 s without one
	python3 - "$sock" > "$out" 3>&- <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1.5)
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        print(s.recv(4096).decode(), flush=True)
    except socket.timeout:
        print("quiet", flush=True)
PY
	LISTENER=$!
	wait_for -t 5 test -S "$sock"
	cfg=$BATS_TEST_TMPDIR/adaptfs.conf
	printf '[adaptfs]\ninterval = 0.2\n' > "$cfg"
	log=$BATS_TEST_TMPDIR/adaptfs.log
	NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 "$ADAPTFS_BIN" -f --config "$cfg" "$MNT" 2> "$log" 3>&- &
	FG_PID=$!
	# WatchdogSec=1s: a ping every 0.5 s
	wait_for -t 10 _lines_at_least 4 WATCHDOG=1 "$out"
	grep -q "watchdog: WATCHDOG=1 every 0.50 s while the sampler keeps to its schedule" "$log"
	# Hang the sampler: after a reload its rounds open a FIFO for /proc/stat,
	# which blocks until a writer comes.
	proc=$BATS_TEST_TMPDIR/proc
	mkdir "$proc"
	mkfifo "$proc/stat"
	printf '[adaptfs]\ninterval = 0.2\n[discovery]\nproc_root = %s\n' "$proc" > "$cfg"
	kill -HUP "$FG_PID"
	# a writer's open returns once the sampler has opened the FIFO: it is stuck there
	timeout 10 sh -c 'echo > "$1"' sh "$proc/stat"
	n=$(wc -l < "$out")
	# released once, it finishes that round and blocks at the next: the pings stop
	wait_for -t 10 _quiet_after "$n" "$out"
	cat "$out"
	# while the FUSE threads still answer: only the watchdog shows the hang
	_adapt_pid_alive "$FG_PID"
	test -s "$MNT/host/cores"
	# (teardown kills it, as systemd would once WatchdogSec= passed)
	grep -qx 'WatchdogSec=30s' "$BATS_TEST_DIRNAME/../../etc/adaptfs.service"
}

# the unit as make install puts it under $1, its commands pointing there
_installed_unit() {
	make -C "$BATS_TEST_DIRNAME/../.." install DESTDIR="$1" PREFIX=/usr > /dev/null
	# verify runs the unit's commands' paths on this host: the installed adaptfs
	sed "s|/usr/sbin/adaptfs|$1/usr/sbin/adaptfs|" "$1/lib/systemd/system/adaptfs.service" \
		> "$BATS_TEST_TMPDIR/adaptfs.service"
}

@test "systemd-analyze verify passes on the installed unit, man pages included" {
	dest=$BATS_TEST_TMPDIR/root
	_installed_unit "$dest"
	# (systemd is not PID 1 here: verify reads the unit offline)
	MANPATH=$dest/usr/share/man run systemd-analyze verify "$BATS_TEST_TMPDIR/adaptfs.service"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the systemd-analyze security exposure in adaptfs.8 is the unit's" {
	dest=$BATS_TEST_TMPDIR/root
	_installed_unit "$dest"
	score=$(systemd-analyze security --offline=true "$BATS_TEST_TMPDIR/adaptfs.service" |
		sed -n 's/.*Overall exposure level for adaptfs.service: \([0-9.]*\) .*/\1/p')
	echo "measured: $score"
	[ -n "$score" ]
	grep -q "overall exposure $score " "$BATS_TEST_DIRNAME/../../man/adaptfs.8"
}

@test "under the unit's CapabilityBoundingSet the daemon mounts, serves and shows a workload" {
	unit=$BATS_TEST_DIRNAME/../../etc/adaptfs.service
	caps=$(sed -n 's/^CapabilityBoundingSet=~//p' "$unit")
	[ -n "$caps" ]
	# "CAP_SYS_TIME CAP_SYS_MODULE" -> "-sys_time,-sys_module", as setpriv takes them
	drop=$(echo "$caps" | tr 'A-Z ' 'a-z,' | sed 's/cap_/-/g')
	log=$BATS_TEST_TMPDIR/adaptfs.log
	setpriv --bounding-set "$drop" "$ADAPTFS_BIN" -f --interval 0.5 "$MNT" 2> "$log" 3>&- &
	FG_PID=$!
	wait_for -t 10 test -e "$MNT/host/cores"
	# the bounding set is the unit's: CAP_SYS_MODULE (16) and CAP_SYS_TIME (25) gone
	bnd=$((16#$(awk '$1 == "CapBnd:" { print $2 }' "/proc/$FG_PID/status")))
	[ $(((bnd >> 16) & 1)) -eq 0 ]
	[ $(((bnd >> 25) & 1)) -eq 0 ]
	cg_spawn capjob sleep 1000
	name=$(cg_id capjob | cut -c1-12)
	wait_for -t 5 test -d "$MNT/$name"
	[ "$(cat "$MNT/$name/kind")" = "container docker" ]
	kill -TERM "$FG_PID"
	wait_for -t 5 _adapt_pid_gone "$FG_PID"
	! grep -q 'Operation not permitted' "$log"
}
