#!/usr/bin/env bats
# Following events: its size is the bytes of every event so far, reads go by offset over the
# kept lines, so tail -f and tail -F print what is added; a reader that falls behind goes on
# at the oldest kept line.

setup_file() {
	load lib/mount
	load lib/containers
	adaptfs_mount --interval 0.5
	CG_PATH="/machine.slice/systemd-nspawn@flw_w.service" cg_spawn flw_w sleep 1000
	wait_for -t 5 test -d "$ADAPTFS_MNT/flw_w"
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
}

setup() {
	load lib/mount
	TAIL_PID=
}

# the tail a test started, by pid
teardown() {
	if [[ -n $TAIL_PID ]]; then
		kill -TERM "$TAIL_PID" 2>/dev/null || true
		wait_for -t 5 _adapt_pid_gone "$TAIL_PID" || kill -KILL "$TAIL_PID" 2>/dev/null || true
	fi
}

size() { stat -c %s "$ADAPTFS_MNT/events"; }
size_above() { (($(size) > $1)); }
# the size is the length of the text (true while no line was dropped; retried, as the host's
# other workloads can add a line between the two reads)
size_is_text() { [ "$(size)" -eq "$(cat "$ADAPTFS_MNT/events" | wc -c)" ]; }
# emit one event: a refused write to placement logs "placement: 'TEXT' refused: ..."
emit() { echo "$1" >"$ADAPTFS_MNT/flw_w/placement" 2>/dev/null || true; }

# start_tail OPTS...: tail OPTS on events in the background, output in $OUT, errors in $ERR
start_tail() {
	OUT=$BATS_TEST_TMPDIR/tail.out ERR=$BATS_TEST_TMPDIR/tail.err
	timeout 30 tail "$@" "$ADAPTFS_MNT/events" </dev/null >"$OUT" 2>"$ERR" 3>&- &
	TAIL_PID=$!
	# -n 1: once its first line is out, tail has taken the size it follows from
	wait_for -t 5 test -s "$OUT"
}

@test "events' size is the bytes of its lines and grows with each event" {
	local s
	s=$(size)
	wait_for -t 3 size_is_text
	emit flw-grow-1
	wait_for -t 3 size_above "$s"
	grep -q "placement: 'flw-grow-1' refused" "$ADAPTFS_MNT/events"
	wait_for -t 3 size_is_text
}

@test "tail -f prints an event emitted after it started, and no truncation" {
	start_tail -n 1 -f
	emit "flw-f-$$"
	wait_for -t 10 grep -q "placement: 'flw-f-$$' refused" "$OUT"
	emit "flw-f2-$$"
	wait_for -t 10 grep -q "placement: 'flw-f2-$$' refused" "$OUT"
	! grep -q truncated "$ERR"
	# each line once
	[ "$(grep -c "flw-f-$$" "$OUT")" -eq 1 ]
}

@test "tail -F prints an event emitted after it started" {
	start_tail -n 1 -F
	emit "flw-F-$$"
	wait_for -t 10 grep -q "placement: 'flw-F-$$' refused" "$OUT"
	! grep -q truncated "$ERR"
}

@test "a reader that falls behind the kept lines goes on at the oldest kept line" {
	local out=$BATS_TEST_TMPDIR/behind.out
	emit flw-before
	# a reader that has read to the end, then sleeps while 600 events (more than the 512
	# kept) go by: its next read starts at a whole line, the oldest kept one, and it reads
	# the kept lines once each, in order
	python3 - "$ADAPTFS_MNT/events" "$ADAPTFS_MNT/flw_w/placement" "$out" <<'PY'
import os, sys
ev, ctl, out = sys.argv[1:]
fd = os.open(ev, os.O_RDONLY)
while os.read(fd, 65536):
    pass
for i in range(600):
    # one write(2) each: a buffered file would write again at close
    c = os.open(ctl, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(c, b"flw-burst-%d\n" % i)
    except OSError:
        pass
    os.close(c)
data = b""
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    data += b
os.close(fd)
open(out, "wb").write(data)
PY
	[ "$(wc -l <"$out")" -ge 512 ]
	head -1 "$out" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z [^ ]+: '
	! grep -vEq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$out"
	[ -z "$(sort "$out" | uniq -d)" ]
	# the bursts it got are consecutive and end with the last
	grep -o "'flw-burst-[0-9]*'" "$out" | tr -dc '0-9\n' |
		awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad || prev != 599 }'
	! grep -q "flw-before" "$out"
	# cat from offset 0 on a log that has dropped lines: the 512 kept ones
	[ "$(cat "$ADAPTFS_MNT/events" | wc -l)" -eq 512 ]
	(($(size) > $(cat "$ADAPTFS_MNT/events" | wc -c)))
}

@test "poll on events wakes for a new event after reading to the end" {
	events_poller "$BATS_TEST_TMPDIR/poll.out"
	emit flw-poll
	wait "$EVENTS_POLLER"
	grep -qx woken "$BATS_TEST_TMPDIR/poll.out"
}
