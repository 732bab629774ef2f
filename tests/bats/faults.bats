#!/usr/bin/env bats
# Faults (issue 9, part 3): what breaks under the daemon — cgroups removed under open files,
# unreadable or garbage sources, misbehaving QMP monitors, missing engine binaries, a
# read-only or full state directory, SIGKILL in the middle of placement writes, a busy mount
# point at exit, two daemons racing for one mount point, hostile workload names — and that
# adaptfs keeps serving, reports cleanly and leaves every workload where it was.
#
# Every test starts its own daemon (most need their own configuration) and cleans up what it
# made, even when it fails: the cgroups through lib/containers' registry, everything else
# (bind mounts, fake QEMU processes, extra daemons, tmpfs) through `defer`, run in reverse
# order by teardown before the daemon is stopped.

setup() {
	export ADAPTFS_MOUNT_TIMEOUT=${ADAPTFS_MOUNT_TIMEOUT:-10}
	export ADAPTFS_STOP_TIMEOUT=${ADAPTFS_STOP_TIMEOUT:-10}
	load lib/mount
	load lib/containers
	# cpuset among the controllers: placement writes need it, and teardown removes it
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids cpuset unified"
	# this test's cgroups live under a slice of their own, shown through a [discovery] pattern
	SLICE=/adaptfaults-$$-$BATS_TEST_NUMBER
	# short: unix socket paths must fit in 108 bytes
	TMP=$(mktemp -d /tmp/adf.XXXXXX)
	FAKE_N=0
	DEFERRED=$BATS_TEST_TMPDIR/deferred
	: >"$DEFERRED"
	PY=/usr/bin/python3
	[ -x "$PY" ] || PY=$(command -v python3)
	HELPERS=$BATS_TEST_DIRNAME/helpers
}

teardown() {
	local rc=0 i lines=()
	mapfile -t lines <"$DEFERRED"
	for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
		eval "${lines[i]}" || { echo "teardown: failed: ${lines[i]}" >&2; rc=1; }
	done
	adaptfs_umount >/dev/null 2>&1 || true
	teardown_all || rc=1
	rm -rf "$TMP"
	return $rc
}

# defer CMD [ARGS...]: run CMD at teardown (last deferred first), whatever happens
defer() { printf '%q ' "$@" >>"$DEFERRED"; echo >>"$DEFERRED"; }

# conf LINE...: a configuration file showing this test's slice, plus LINEs (section lines
# included); prints its path
conf() {
	local f=$BATS_TEST_TMPDIR/adaptfs.conf
	{
		echo '[discovery]'
		echo "pattern = $SLICE/*"
		printf '%s\n' "$@"
	} >"$f"
	echo "$f"
}

# spawn NAME CMD...: a cgroup $SLICE/NAME running CMD, shown as workload NAME
spawn() { CG_PATH="$SLICE/{name}" cg_spawn "$@"; }

# key KEY FILE -> the value of KEY in flat-keyed FILE
key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }
# for wait_for, which runs a command again and again (not a $(...) expanded once)
key_moved() { [ "$(key "$1" "$2" 2>/dev/null)" != "$3" ]; }
text_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
cwd_is() { [ "$(readlink "/proc/$1/cwd")" = "$2" ]; }
has_key() { grep -q "^$1 " "$2"; }
lacks_key() { ! grep -q "^$1 " "$2"; }
# instrumented PID: the daemon runs under ASan, TSan or valgrind
instrumented() { grep -qE 'libasan|libtsan|valgrind|vgpreload' "/proc/$1/maps"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpus_allowed() { awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$1/status"; }

# write_errno FILE TEXT: one write(2) of TEXT to FILE; prints OK or the errno's name
write_errno() {
	"$PY" -c '
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY)
    try:
        os.write(fd, sys.argv[2].encode())
    finally:
        os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$1" "$2"
}

# write_fd_errno FD TEXT: the same through an fd this shell holds open
write_fd_errno() {
	"$PY" -c '
import errno, os, sys
try:
    os.write(int(sys.argv[1]), sys.argv[2].encode())
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))' "$1" "$2"
}

# median_read_ms FILE N: open+read+close FILE N times, 20 ms apart; prints the median in ms
median_read_ms() {
	"$PY" -c '
import os, statistics, sys, time
t = []
for _ in range(int(sys.argv[2])):
    a = time.monotonic()
    with open(sys.argv[1], "rb", buffering=0) as f:
        assert f.read(65536), "empty read"
    t.append((time.monotonic() - a) * 1000)
    time.sleep(0.02)
print("%.2f" % statistics.median(t))' "$1" "$2"
}

# the sampler publishes: host/stat timestamp_usec moves
sampler_alive() {
	local t0
	t0=$(key timestamp_usec "$ADAPTFS_MNT/host/stat")
	wait_for -t 5 key_moved timestamp_usec "$ADAPTFS_MNT/host/stat" "$t0"
}

# log lines other than the events (appeared/disappeared of the host's other workloads, ...)
log_noise() { grep -v -E ': (appeared \(|disappeared$|placement: |prefetch: )' "$ADAPTFS_LOG" | wc -l; }

# fake_vm MODE NAME [EXTRA QEMU ARGS...]: a process named qemu-system-x86_64 whose command line
# carries -name NAME -qmp unix:SOCK, serving SOCK as MODE (see helpers/fake-qemu.py).
# Sets FAKE_PID, FAKE_LOG, FAKE_SOCK.
fake_vm() {
	local mode=$1 name=$2
	shift 2
	local stem=$TMP/vm$((++FAKE_N))
	mkdir -p "$TMP/bin"
	ln -sf "$(readlink -f "$PY")" "$TMP/bin/qemu-system-x86_64"
	FAKE_SOCK=$stem.qmp
	FAKE_LOG=$stem.log
	: >"$FAKE_LOG"
	"$TMP/bin/qemu-system-x86_64" "$HELPERS/fake-qemu.py" "$mode" "$FAKE_LOG" \
		-name "$name,debug-threads=on" -qmp "unix:$FAKE_SOCK,server=on,wait=off" "$@" \
		</dev/null >>"$stem.out" 2>&1 3>&- &
	FAKE_PID=$!
	disown "$FAKE_PID" # no "Killed" notice; bash still reaps it
	defer stop_pid "$FAKE_PID"
	wait_for -t 10 grep -q '^listening$' "$FAKE_LOG"
	[ "$(cat "/proc/$FAKE_PID/comm")" = qemu-system-x86 ]
}

# unbind PATH: unmount whatever is mounted on PATH (a file or a directory), stacked ones too
mounted_on() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }
unbind() {
	local i
	for i in 1 2 3 4; do
		mounted_on "$1" || return 0
		umount "$1" || return 1
	done
	not mounted_on "$1"
}

# stop_pid PID: SIGKILL a process this test started, and reap it
stop_pid() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	wait_for -t 5 _adapt_pid_gone "$1"
}

# ---------------------------------------------------------------- cgroups vanish ------------

@test "ten files held open read ENOENT or EOF once their cgroups are removed, never stale figures" {
	files=(kind cpu io threads sched_wait major_faults class stat placement mode)
	for i in $(seq 0 9); do spawn "w$i" sleep 1000; done
	adaptfs_mount --interval 0.5 -c "$(conf)"
	for i in $(seq 0 9); do
		wait_for -t 10 grep -q . "$ADAPTFS_MNT/w$i/${files[i]}"
	done
	# one process holds the 10 files open (plus w0/stat half read), checks each has text,
	# then waits for the go and reads every one again
	paths=()
	for i in $(seq 0 9); do paths+=("$ADAPTFS_MNT/w$i/${files[i]}"); done
	"$PY" - "$TMP" "${paths[@]}" "$ADAPTFS_MNT/w0/stat" >"$TMP/holder.out" 2>&1 3>&- <<'PY' &
import errno, os, sys, time
tmp, paths = sys.argv[1], sys.argv[2:]
fds = [os.open(p, os.O_RDONLY) for p in paths]
for p, fd in zip(paths, fds[:-1]):
    assert os.pread(fd, 65536, 0), "no text in " + p
half = os.read(fds[-1], 16)          # a read loop past offset 0
open(tmp + "/ready", "w").close()
while not os.path.exists(tmp + "/go"):
    time.sleep(0.05)

def outcome(fn):
    try:
        data = fn()
        return "EOF" if not data else "DATA " + data[:40].decode(errors="replace").replace("\n", "|")
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

for p, fd in zip(paths, fds[:-1]):
    print("pread", p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1], outcome(lambda: os.pread(fd, 65536, 0)))
    print("read", p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1], outcome(lambda: os.read(fd, 65536)))
# the half-read file may give the rest of its text; from offset 0 it must not
print("rest", outcome(lambda: os.read(fds[-1], 65536)).split(" ")[0])
print("pread-half", outcome(lambda: os.pread(fds[-1], 65536, 0)))
for fd in fds:
    os.close(fd)
print("closed")
PY
	holder=$!
	defer stop_pid "$holder"
	wait_for -t 10 test -e "$TMP/ready"
	for i in $(seq 0 9); do cg_kill "w$i"; done
	for i in $(seq 0 9); do wait_for -t 5 test ! -e "$ADAPTFS_MNT/w$i"; done
	touch "$TMP/go"
	wait "$holder"
	cat "$TMP/holder.out"
	grep -q '^closed$' "$TMP/holder.out"
	# every read from offset 0 after the removal: ENOENT or EOF, never text
	not grep -E '^(pread|read|pread-half) .*DATA' "$TMP/holder.out"
	[ "$(grep -cE '^(pread|read) .* (ENOENT|EOF)$' "$TMP/holder.out")" -eq 20 ]
	grep -qE '^pread-half (ENOENT|EOF)$' "$TMP/holder.out"
	grep -qE '^rest (DATA|EOF|ENOENT)$' "$TMP/holder.out"
	# the daemon lives and keeps serving: new workloads appear, the host reads
	spawn w10 sleep 1000
	wait_for -t 10 test -d "$ADAPTFS_MNT/w10"
	grep -q '^online ' "$ADAPTFS_MNT/host/cores"
	grep -q 'w3: disappeared' "$ADAPTFS_MNT/events"
	sampler_alive
	adaptfs_umount
}

@test "readers racing the removal of their cgroup get whole text, ENOENT or EOF, never an error of another kind" {
	for i in 0 1 2 3; do spawn "r$i" sleep 1000; done
	adaptfs_mount --interval 0.2 -c "$(conf)"
	for i in 0 1 2 3; do wait_for -t 10 grep -q usage_usec "$ADAPTFS_MNT/r$i/cpu"; done
	"$PY" - "$ADAPTFS_MNT" "$TMP/stop" >"$TMP/race.out" 2>&1 3>&- <<'PY' &
import errno, os, sys
mnt, stop = sys.argv[1], sys.argv[2]
bad, reads = [], 0
while not os.path.exists(stop):
    for w in ("r0", "r1", "r2", "r3"):
        for f in ("cpu", "stat", "threads", "placement"):
            try:
                with open("%s/%s/%s" % (mnt, w, f), "rb", buffering=0) as fh:
                    text = fh.read(65536)
                reads += 1
                if text and not text.endswith(b"\n"):
                    bad.append("torn %s/%s %r" % (w, f, text[-20:]))
            except OSError as e:
                if e.errno != errno.ENOENT:
                    bad.append("%s/%s %s" % (w, f, errno.errorcode.get(e.errno, e.errno)))
print("reads", reads)
for b in bad[:20]:
    print("BAD", b)
PY
	reader=$!
	defer stop_pid "$reader"
	sleep 1
	for i in 0 1 2 3; do cg_kill "r$i"; sleep 0.3; done
	for i in 0 1 2 3; do wait_for -t 5 test ! -e "$ADAPTFS_MNT/r$i"; done
	touch "$TMP/stop"
	wait "$reader"
	cat "$TMP/race.out"
	not grep -q '^BAD' "$TMP/race.out"
	[ "$(awk '$1 == "reads" { print $2 }' "$TMP/race.out")" -gt 50 ]
	sampler_alive
	adaptfs_umount
}

# ---------------------------------------------------------------- a source unreadable -------

@test "an unreadable, empty or garbage memory.stat leaves out major_faults only, for that workload only, quietly" {
	spawn victim bash -c 'while :; do sleep 0.01; done'
	spawn bystander sleep 1000
	adaptfs_mount --interval 0.5 -c "$(conf)"
	v=$ADAPTFS_MNT/victim b=$ADAPTFS_MNT/bystander
	wait_for -t 10 has_key total "$v/major_faults"
	wait_for -t 10 has_key total "$b/major_faults"
	ms=/sys/fs/cgroup/memory$SLICE/victim/memory.stat
	[ -f "$ms" ]
	noise0=$(log_noise)

	# 1. reading it fails (EINVAL: a write-only cgroupfs file bound over it)
	defer unbind "$ms"
	mount --bind /sys/fs/cgroup/memory/cgroup.event_control "$ms"
	not cat "$ms" >/dev/null 2>&1
	wait_for -t 5 lacks_key total "$v/major_faults"
	lacks_key major_faults_total "$v/stat"
	# the workload's other figures go on
	u0=$(key usage_usec "$v/cpu")
	wait_for -t 5 key_moved usage_usec "$v/cpu" "$u0"
	has_key total "$v/threads"
	has_key current_bytes "$v/memory"
	# the other workload is unaffected
	has_key total "$b/major_faults"
	grep -q "^adapt_major_faults_total{workload=\"bystander\"" "$ADAPTFS_MNT/metrics.prom"
	not grep -q "^adapt_major_faults_total{workload=\"victim\"" "$ADAPTFS_MNT/metrics.prom"
	umount "$ms"

	# 2. empty
	mount --bind /dev/null "$ms"
	sleep 1.5
	lacks_key total "$v/major_faults"
	has_key usage_usec "$v/cpu"
	umount "$ms"

	# 3. garbage: negative, non-numeric, binary, 256 KiB
	{
		printf 'total_pgmajfault -5\npgmajfault notanumber\ncache 1\n'
		head -c 262144 /dev/urandom
	} >"$TMP/garbage.stat"
	mount --bind "$TMP/garbage.stat" "$ms"
	sleep 1.5
	lacks_key total "$v/major_faults"
	has_key usage_usec "$v/cpu"
	has_key total "$b/major_faults"
	umount "$ms"

	# back to normal: the figure returns
	wait_for -t 5 has_key total "$v/major_faults"
	sampler_alive
	# at most one line of log for all of it
	noise1=$(log_noise)
	if ((noise1 - noise0 > 1)); then
		echo "log grew by $((noise1 - noise0)) lines:"
		cat "$ADAPTFS_LOG"
		return 1
	fi
	adaptfs_umount
}

# ---------------------------------------------------------------- QMP misbehaving ----------

# poll_shapes DIR: in the background until $TMP/stop-poll exists, read DIR's io, major_faults
# and stat every 50 ms and note every line that is not "key value" with an integer or two
# decimals (negative numbers, exponents, garbage); output in $TMP/shapes.out. Sets POLLER.
poll_shapes() {
	"$PY" - "$1" "$TMP/stop-poll" >"$TMP/shapes.out" 2>&1 3>&- <<'PY' &
import os, re, sys, time
vm, stop = sys.argv[1], sys.argv[2]
good = re.compile(rb"^[a-z_0-9]+ [0-9]+(\.[0-9][0-9])?$")
bad, reads = {}, 0
while not os.path.exists(stop):
    for f in ("io", "major_faults", "stat"):
        try:
            with open(vm + "/" + f, "rb", buffering=0) as fh:
                text = fh.read(65536)
        except OSError:
            continue
        reads += 1
        for line in text.splitlines():
            if not good.match(line):
                k = f + ": " + line.decode(errors="replace")
                bad[k] = bad.get(k, 0) + 1
    time.sleep(0.05)
print("reads", reads)
for k, v in bad.items():
    print("BAD", k, "(%d reads)" % v)
PY
	POLLER=$!
	defer stop_pid "$POLLER"
}

# qmp_fault MODE: a fake VM serving MODE next to a container; the VM shows, its process
# figures go on and stay well-formed, our daemon connected and let go, reads of the container
# stay fast, the sampler keeps publishing, the daemon's memory stays bounded.
qmp_fault() {
	local mode=$1 name rss0 rss1 med vm
	spawn ref sleep 1000
	adaptfs_mount --interval 0.5 -c "$(conf)"
	wait_for -t 10 has_key usage_usec "$ADAPTFS_MNT/ref/cpu"
	rss0=$(rss_kb "$ADAPTFS_PID")
	name=fakevm-$mode-$$
	vm=$ADAPTFS_MNT/$name
	poll_shapes "$vm"
	fake_vm "$mode" "$name" -device virtio-balloon-device,id=balloon0
	wait_for -t 10 test -d "$vm"
	[ "$(cat "$vm/kind")" = "vm qemu" ]
	# our daemon (not only the host's other adaptfs instances) connected, and let go
	wait_for -t 10 grep -qx "connect $ADAPTFS_PID" "$FAKE_LOG"
	wait_for -t 10 grep -qx "close $ADAPTFS_PID" "$FAKE_LOG"
	wait_for -t 5 has_key usage_usec "$vm/cpu"
	has_key total "$vm/threads"
	med=$(median_read_ms "$ADAPTFS_MNT/ref/cpu" 100)
	echo "median read of another workload's cpu: $med ms"
	awk -v m="$med" 'BEGIN { exit !(m < 50) }'
	if [ "$mode" = negative ]; then
		wait_for -t 10 grep -qx 'reply 3' "$FAKE_LOG"
		sleep 1
	fi
	if [ "$mode" = badjson ]; then
		# every reply in turn, the deeply nested one (a protocol error) last
		wait_for -t 30 grep -qx 'reply 9' "$FAKE_LOG"
		sleep 1
	fi
	touch "$TMP/stop-poll"
	wait "$POLLER"
	cat "$TMP/shapes.out"
	[ "$(awk '$1 == "reads" { print $2 }' "$TMP/shapes.out")" -gt 10 ]
	not grep -q '^BAD' "$TMP/shapes.out"
	sampler_alive
	rss1=$(rss_kb "$ADAPTFS_PID")
	echo "daemon RSS: $rss0 kB before the fake VM, $rss1 kB after"
	# (under ASan its quarantine keeps freed memory, TSan's shadow grows with
	# every allocation: RSS says nothing there)
	instrumented "$ADAPTFS_PID" || ((rss1 - rss0 < 16384))
	_adapt_pid_alive "$ADAPTFS_PID"
}

@test "a QMP socket that accepts and never answers: the VM shows, nothing else waits" {
	qmp_fault hang
	adaptfs_umount
}

@test "a QMP socket that sends binary garbage: refused as a protocol error, nothing else disturbed" {
	qmp_fault garbage
	adaptfs_umount
}

@test "a QMP socket that sends an 8 MiB line without a newline: memory stays bounded" {
	qmp_fault huge
	adaptfs_umount
}

@test "QMP replies of the wrong shape (types, reals, huge numbers, errors, deep nesting) show no garbage" {
	qmp_fault badjson
	if command -v promtool >/dev/null; then
		promtool check metrics <"$ADAPTFS_MNT/metrics.prom"
	fi
	adaptfs_umount
}

@test "QMP block counters below zero are left out, not shown negative" {
	qmp_fault negative
	adaptfs_umount
}

@test "a -qmp path with no socket behind it: the VM shows with its process figures" {
	spawn ref sleep 1000
	adaptfs_mount --interval 0.5 -c "$(conf)"
	fake_vm none "fakevm-none-$$"
	vm=$ADAPTFS_MNT/fakevm-none-$$
	wait_for -t 10 test -d "$vm"
	wait_for -t 5 has_key usage_usec "$vm/cpu"
	# no QMP: I/O from the process's /proc/PID/io instead
	wait_for -t 5 has_key read_bytes "$vm/io"
	sampler_alive
	adaptfs_umount
}

# ---------------------------------------------------------------- engines without binaries --

@test "runc and crun containers are found from their state alone, with no engine binary on PATH" {
	spawn rc1 sleep 1000
	spawn cr1 sleep 1000
	run_root=$TMP/run
	id=ctr-$$
	mkdir -p "$run_root/runc/$id" "$run_root/crun/c$id" "$run_root/runc/ghost-$$" "$run_root/runc/junk-$$"
	cat >"$run_root/runc/$id/state.json" <<EOF
{"id": "$id", "init_process_pid": $(cg_pid rc1), "cgroup_paths": {
  "cpu": "/sys/fs/cgroup/cpu$SLICE/rc1", "cpuacct": "/sys/fs/cgroup/cpuacct$SLICE/rc1",
  "memory": "/sys/fs/cgroup/memory$SLICE/rc1", "cpuset": "/sys/fs/cgroup/cpuset$SLICE/rc1"}}
EOF
	echo "{\"id\": \"c$id\", \"cgroup-path\": \"$SLICE/cr1\"}" >"$run_root/crun/c$id/status"
	# a container whose cgroup is gone (runc delete never ran), and a corrupt state file
	echo "{\"cgroup_paths\": {\"cpuacct\": \"/sys/fs/cgroup/cpuacct$SLICE/ghost\"}}" >"$run_root/runc/ghost-$$/state.json"
	printf '{"cgroup_paths": {"cpuacct": ' >"$run_root/runc/junk-$$/state.json"
	printf '#!/bin/sh\nPATH=/nonexistent exec %q "$@"\n' "$ADAPTFS_BIN" >"$TMP/adaptfs-nopath"
	chmod +x "$TMP/adaptfs-nopath"
	# no pattern: only the engines' state names these cgroups
	printf '[discovery]\nrun_root = %s\n' "$run_root" >"$BATS_TEST_TMPDIR/run.conf"
	ADAPTFS_BIN=$TMP/adaptfs-nopath adaptfs_mount --interval 0.5 -c "$BATS_TEST_TMPDIR/run.conf"
	[ "$(tr '\0' '\n' <"/proc/$ADAPTFS_PID/environ" | grep '^PATH=')" = PATH=/nonexistent ]
	wait_for -t 10 test -d "$ADAPTFS_MNT/$id"
	wait_for -t 10 test -d "$ADAPTFS_MNT/c$id"
	[ "$(cat "$ADAPTFS_MNT/$id/kind")" = "container runc" ]
	[ "$(cat "$ADAPTFS_MNT/c$id/kind")" = "container crun" ]
	wait_for -t 5 has_key usage_usec "$ADAPTFS_MNT/$id/cpu"
	[ ! -e "$ADAPTFS_MNT/ghost-$$" ]
	[ ! -e "$ADAPTFS_MNT/junk-$$" ]
	# placement needs cgroupfs only
	[ "$(write_errno "$ADAPTFS_MNT/$id/placement" cpus=0)" = OK ]
	[ "$(cat "$ADAPTFS_MNT/$id/placement")" = "host=$(hostname) cpus=0" ]
	[ "$(cpus_allowed "$(cg_pid rc1)")" = 0 ]
	# the state going away (runc delete) takes the container out of the tree
	rm -rf "${run_root:?}/runc/$id"
	wait_for -t 15 test ! -e "$ADAPTFS_MNT/$id"
	sampler_alive
	adaptfs_umount
}

@test "placement on a VM whose QEMU process vanished fails with ESRCH or ENOENT, and the daemon lives" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	adaptfs_mount --interval 0.5 -c "$(conf)"
	name=fakevm-gone-$$
	fake_vm none "$name"
	vm=$ADAPTFS_MNT/$name
	wait_for -t 10 test -d "$vm"
	[ "$(write_errno "$vm/placement" cpus=1)" = OK ]
	[ "$(cpus_allowed "$FAKE_PID")" = 1 ]
	exec {pfd}>"$vm/placement"
	defer eval "exec $pfd>&-"
	stop_pid "$FAKE_PID"
	# at once (still in the snapshot: no thread left), then once it left the tree
	r=$(write_fd_errno "$pfd" cpus=0)
	echo "write right after the kill: $r"
	[[ $r == ESRCH || $r == ENOENT ]]
	wait_for -t 5 test ! -e "$vm"
	r=$(write_fd_errno "$pfd" cpus=0)
	echo "write after it left the tree: $r"
	[ "$r" = ENOENT ]
	sampler_alive
	exec {pfd}>&-
	adaptfs_umount
}

# ---------------------------------------------------------------- state directory ----------

# a v1 pin journals; where it cannot, events say so (v2: one write, no journal)
no_journal_said() {
	[ -e /sys/fs/cgroup/cgroup.controllers ] ||
		grep -q "p: placement: pinning to cpus 0 without a journal" "$ADAPTFS_MNT/events"
}

@test "a read-only state directory: the daemon starts, serves and places (a pin that cannot be journaled runs without one, a prefetch setting is not kept; each says so)" {
	spawn p sleep 1000
	mkdir "$TMP/state"
	defer unbind "$TMP/state"
	mount -t tmpfs -o ro,size=1m,mode=0755 adaptfs-faults-state "$TMP/state"
	adaptfs_mount --interval 0.5 -c "$(conf '[adaptfs]' "state_dir = $TMP/state")"
	wait_for -t 10 test -d "$ADAPTFS_MNT/p"
	[ "$(write_errno "$ADAPTFS_MNT/p/placement" cpus=0)" = OK ]
	no_journal_said
	[ "$(write_errno "$ADAPTFS_MNT/p/prefetch" on)" = OK ]
	grep -q "prefetch: settings not kept across a restart: $TMP/state/prefetch: Read-only file system" "$ADAPTFS_MNT/events"
	adaptfs_umount
}

@test "a full state directory: the daemon starts, serves and places (a pin that cannot be journaled runs without one, a prefetch setting is not kept; each says so)" {
	spawn p sleep 1000
	mkdir "$TMP/state"
	defer unbind "$TMP/state"
	mount -t tmpfs -o size=64k,mode=0755 adaptfs-faults-state "$TMP/state"
	not dd if=/dev/zero of="$TMP/state/fill" bs=4k count=1000 status=none 2>/dev/null
	adaptfs_mount --interval 0.5 -c "$(conf '[adaptfs]' "state_dir = $TMP/state")"
	wait_for -t 10 test -d "$ADAPTFS_MNT/p"
	[ "$(write_errno "$ADAPTFS_MNT/p/placement" cpus=0)" = OK ]
	no_journal_said
	[ "$(write_errno "$ADAPTFS_MNT/p/prefetch" on)" = OK ]
	grep -q "prefetch: settings not kept across a restart: $TMP/state/prefetch: No space left on device" "$ADAPTFS_MNT/events"
	adaptfs_umount
}

@test "a move left in the journal whose peer does not answer: it is settled before the mount, no reader waits on it" {
	mkdir -p "$TMP/state/journal"
	# the transport tells when it runs, then answers nothing for 3 s
	printf '%s\n' engine=lxc name=ghost "lxc_path=$TMP/lxc" host=hZ \
		"transport=sh -c 'touch $TMP/asked; sleep 3' #" phase=starting \
		>"$TMP/state/journal/migrate-lxc-ghost"
	mkdir "$TMP/mnt"
	ADAPTFS_LOG=$(_adapt_state)/adaptfs.log
	"$ADAPTFS_BIN" -f -c "$(conf '[adaptfs]' "state_dir = $TMP/state")" "$TMP/mnt" \
		</dev/null >>"$ADAPTFS_LOG" 2>&1 3>&- &
	ADAPTFS_PID=$! ADAPTFS_MNT=$TMP/mnt
	export ADAPTFS_PID ADAPTFS_MNT ADAPTFS_LOG
	echo "$ADAPTFS_PID $TMP/mnt $ADAPTFS_LOG" >"$(_adaptfs_statefile)"
	wait_for -t 5 test -e "$TMP/asked"
	# while the peer is asked, the mount point is a plain directory: a reader gets its answer
	not mountpoint -q "$TMP/mnt"
	timeout 1 ls "$TMP/mnt" >/dev/null
	not timeout 1 stat "$TMP/mnt/host/cores" 2>/dev/null
	wait_for -t 10 _adaptfs_ready "$TMP/mnt"
	grep -q "ghost: placement: an interrupted move to hZ cannot be settled: the peer does not answer" "$TMP/mnt/events"
	# undecided: kept for the next start
	[ -e "$TMP/state/journal/migrate-lxc-ghost" ]
	adaptfs_umount
}

# ---------------------------------------------------------------- SIGKILL and restart ------

# start_on MNT ARGS...: an adaptfs on an existing mount point, as adaptfs_mount starts one
# (the same state directory: a restart finds the journal the killed daemon left)
start_on() {
	local mnt=$1
	shift
	ADAPTFS_MOUNT_AT=$mnt adaptfs_mount "$@"
}

@test "SIGKILL during placement writes, restart on the same mount point: the workload runs on a valid CPU set in one cpuset (a pin that cannot be journaled runs without one, and says so)" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	spawn pinned bash -c 'while :; do sleep 0.05; done'
	cfg=$(conf)
	adaptfs_mount --interval 0.5 -c "$cfg"
	mnt=$ADAPTFS_MNT
	online=$(cat /sys/devices/system/cpu/online)
	cs=/sys/fs/cgroup/cpuset$SLICE/pinned
	wait_for -t 10 test -d "$mnt/pinned"
	for round in 1 2 3; do
		"$PY" - "$mnt/pinned/placement" >"$TMP/writer.$round" 2>&1 3>&- <<'PY' &
import errno, os, sys
seen = {}
i = 0
while True:
    cpus = ("0", "1", "0-1")[i % 3]
    i += 1
    try:
        fd = os.open(sys.argv[1], os.O_WRONLY)
        try:
            os.write(fd, ("cpus=%s\n" % cpus).encode())
            r = "OK"
        finally:
            os.close(fd)
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    seen[r] = seen.get(r, 0) + 1
    if r in ("ENOTCONN", "ECONNABORTED") or i > 100000:
        break
for k, v in sorted(seen.items()):
    print(k, v)
PY
		writer=$!
		defer stop_pid "$writer"
		# some writes in, then at a random point of one
		wait_for -t 10 grep -q 'pinned: placement: pinned' "$mnt/events"
		sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
		kill -KILL "$ADAPTFS_PID"
		wait "$ADAPTFS_PID" 2>/dev/null || true
		wait "$writer"
		echo "round $round, writes:" $(cat "$TMP/writer.$round")
		# every write either worked, found another in flight, or saw the connection go
		not grep -vE '^(OK|EBUSY|ENOTCONN|ECONNABORTED) [0-9]+$' "$TMP/writer.$round"
		grep -qE '^(ENOTCONN|ECONNABORTED) ' "$TMP/writer.$round"
		# the dead mount comes off without force
		fusermount3 -u "$mnt"
		not adaptfs_mounted "$mnt"
		# the workload still runs, on a valid non-empty set of online CPUs, in one cpuset
		_adapt_pid_alive "$(cg_pid pinned)"
		cpus=$(cat "$cs/cpuset.effective_cpus")
		echo "cpuset.cpus after the kill: $cpus"
		[ -n "$cpus" ]
		"$PY" -c '
import sys
def expand(s):
    r = set()
    for part in s.split(","):
        lo, _, hi = part.partition("-")
        r.update(range(int(lo), int(hi or lo) + 1))
    return r
sys.exit(not expand(sys.argv[1]) <= expand(sys.argv[2]))' "$cpus" "$online"
		for p in $(cat "/sys/fs/cgroup/cpuacct$SLICE/pinned/cgroup.procs"); do
			in=$(awk -F: '$2 == "cpuset" { print $3 }' "/proc/$p/cgroup" 2>/dev/null) || true
			a=$(cpus_allowed "$p" 2>/dev/null) || true
			# a sleep that exited meanwhile (a zombie's cgroups are the root's): the living count
			_adapt_pid_alive "$p" || continue
			[ "$in" = "$SLICE/pinned" ]
			[ "$a" = "$cpus" ]
		done
		# a new daemon on the same mount point serves it, placement as the kernel has it;
		# a kill between a pin's journal entry and its end is completed at the start
		# (placement_recover, before the first snapshot), to the CPUs that pin asked
		start_on "$mnt" --interval 0.5 -c "$cfg"
		wait_for -t 10 test -d "$mnt/pinned"
		now=$(cat "$cs/cpuset.effective_cpus")
		if [ "$now" != "$cpus" ]; then
			echo "the restart completed a pin: cpuset.cpus $now"
			grep -q "placement: the pin of $SLICE/pinned to cpus $now, cut by a restart, completed" "$mnt/events"
		fi
		wait_for -t 5 text_is "$mnt/pinned/placement" "host=$(hostname) cpus=$now"
	done
	[ "$(write_errno "$mnt/pinned/placement" cpus=0-1)" = OK ]
	[ "$(cat "$cs/cpuset.effective_cpus")" = 0-1 ]
	adaptfs_umount
}

@test "one writer's placement writes in sequence never get EBUSY: the action's slot is free once its write returned" {
	spawn seq sleep 1000
	adaptfs_mount --interval 0.2 -c "$(conf)"
	wait_for -t 10 test -d "$ADAPTFS_MNT/seq"
	"$PY" - "$ADAPTFS_MNT/seq/placement" >"$TMP/seq.out" <<'PY'
import errno, os, sys
seen = {}
for i in range(40):
    try:
        fd = os.open(sys.argv[1], os.O_WRONLY)
        try:
            os.write(fd, ("cpus=%s\n" % ("0", "0-1")[i % 2]).encode())
            r = "OK"
        finally:
            os.close(fd)
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    seen[r] = seen.get(r, 0) + 1
for k, v in sorted(seen.items()):
    print(k, v)
PY
	cat "$TMP/seq.out"
	[ "$(cat "$TMP/seq.out")" = "OK 40" ]
	adaptfs_umount
}

# ---------------------------------------------------------------- exit with a busy mount ----

@test "SIGTERM with a shell's cwd inside the mount: the daemon exits 0 at once, the mount is detached" {
	adaptfs_mount --interval 0.5
	mnt=$ADAPTFS_MNT pid=$ADAPTFS_PID
	(cd "$mnt/host" && exec sleep 1000) </dev/null >/dev/null 2>&1 3>&- &
	holder=$!
	defer stop_pid "$holder"
	wait_for -t 5 cwd_is "$holder" "$mnt/host"
	# and a file held open
	exec {hfd}<"$mnt/host/cpu"
	defer eval "exec $hfd<&-"
	kill -TERM "$pid"
	wait_for -t 5 _adapt_pid_gone "$pid"
	st=0
	wait "$pid" || st=$?
	echo "exit status $st"
	[ "$st" -eq 0 ] || { adaptfs_log; false; }
	# root's libfuse unmounts lazily: gone from the namespace although still in use
	not adaptfs_mounted "$mnt"
	[ -d "$mnt" ]
	[ ! -e "$mnt/host" ]
	# the holder's cwd now points into a dead connection: an error, not a hang
	run timeout -s KILL 5 ls "/proc/$holder/cwd/"
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 137 ]
	run timeout -s KILL 5 bash -c "cat <&$hfd"
	echo "$output"
	[ "$status" -ne 137 ]
	# the mount point is reusable at once
	stop_pid "$holder"
	exec {hfd}<&-
	start_on "$mnt" --interval 0.5
	grep -q '^online ' "$mnt/host/cores"
	adaptfs_umount
}

# ---------------------------------------------------------------- two daemons, one mount ----

@test "two adaptfs started at once on one mount point: exactly one serves, the other refuses" {
	for round in $(seq 1 10); do
		mnt=$(mktemp -d /tmp/adaptfs-mnt.XXXXXX)
		defer rmdir "$mnt"
		"$ADAPTFS_BIN" -f --interval 0.5 "$mnt" </dev/null >"$TMP/a.$round" 2>&1 3>&- &
		a=$!
		"$ADAPTFS_BIN" -f --interval 0.5 "$mnt" </dev/null >"$TMP/b.$round" 2>&1 3>&- &
		b=$!
		defer stop_mount "$mnt"
		defer stop_pid "$b"
		defer stop_pid "$a"
		# one of them exits: give both time to mount and start serving
		wait_for -t 10 either_gone "$a" "$b" || true
		n=$(awk -v d="$mnt" '$5 == d' /proc/self/mountinfo | wc -l)
		echo "round $round: $n mount(s) at $mnt; a alive: $(_adapt_pid_alive "$a" && echo y || echo n), b alive: $(_adapt_pid_alive "$b" && echo y || echo n)"
		cat "$TMP/a.$round" "$TMP/b.$round" | grep -v ': appeared (' || true
		[ "$n" -eq 1 ]
		if _adapt_pid_alive "$a"; then live=$a dead=$b log=$TMP/b.$round; else live=$b dead=$a log=$TMP/a.$round; fi
		not _adapt_pid_alive "$dead"
		st=0
		wait "$dead" || st=$?
		[ "$st" -eq 1 ]
		grep -Eq "already served by another adaptfs|another adaptfs is starting on" "$log"
		wait_for -t 10 grep -q '^online ' "$mnt/host/cores"
		kill -TERM "$live"
		wait_for -t 10 _adapt_pid_gone "$live"
		st=0
		wait "$live" || st=$?
		[ "$st" -eq 0 ]
		not adaptfs_mounted "$mnt"
	done
}

either_gone() { _adapt_pid_gone "$1" || _adapt_pid_gone "$2"; }

# stop_mount MNT: detach every mount left stacked on MNT
stop_mount() {
	local i
	for i in 1 2 3 4; do
		adaptfs_mounted "$1" || return 0
		fusermount3 -u -z "$1" 2>/dev/null || umount -l "$1" || true
	done
	! adaptfs_mounted "$1"
}

# ---------------------------------------------------------------- hostile names ------------

@test "hostile workload names from cgroups, systemd escapes, QEMU -name and runc ids are made safe" {
	cg=/sys/fs/cgroup/cpuacct$SLICE
	long=$(printf 'x%.0s' $(seq 1 250))
	# cgroupfs refuses a newline in a name (EINVAL); the engines' own names can carry one
	names=('a;rm -rf x' '$(id)' 'sp ace' $'ta\tb' 'q"uo\te' 'host' 'hosts' 'events' 'metrics.prom'
		'a_b' 'a;b' "$long" $'caf\xc3\xa9' '*' '-rf' 'ok.name+1@h:=2'
		"systemd-nspawn@\\x2e\\x2e\\x2f\\x2e\\x2e\\x2fetc$$.service"
		"systemd-nspawn@evil\\x0aline$$.service" "systemd-nspawn@.hidden$$.service" 'runcnl')
	mkdir -p "$cg"
	defer rmdir "$cg"
	for n in "${names[@]}"; do
		mkdir "$cg/$n"
		defer rmdir "$cg/$n"
	done
	# a runc id with a newline
	mkdir -p "$TMP/run/runc/"$'r\nc'"$$"
	echo "{\"cgroup_paths\": {\"cpuacct\": \"$cg/runcnl\"}}" >"$TMP/run/runc/"$'r\nc'"$$/state.json"
	adaptfs_mount --interval 0.5 -c "$(conf "run_root = $TMP/run")"
	# a QEMU -name with a newline and a way up
	fake_vm none $'../../vm\nname'"$$"
	expect=('a_rm_-rf_x' '__id_' 'sp_ace' 'ta_b' 'q_uo_te' 'host.cgroup' 'hosts.cgroup'
		'events.cgroup' 'metrics.prom.cgroup' "${long:0:199}" 'caf__' '_' '-rf'
		'ok.name+1@h:=2' "_.._.._etc$$" "evil_line$$" "_.hidden$$" "r_c$$" "_.._.._vm_name$$")
	for e in "${expect[@]}"; do
		wait_for -t 10 test -d "$ADAPTFS_MNT/$e"
		cat "$ADAPTFS_MNT/$e/kind"
	done
	[ "$(cat "$ADAPTFS_MNT/_.._.._etc$$/kind")" = "container systemd-nspawn" ]
	[ "$(cat "$ADAPTFS_MNT/r_c$$/kind")" = "container runc" ]
	[ "$(cat "$ADAPTFS_MNT/_.._.._vm_name$$/kind")" = "vm qemu" ]
	[ "$(cat "$ADAPTFS_MNT/a_rm_-rf_x/kind")" = "container cgroup" ]
	# 'a_b' and 'a;b' meet at a_b: one of them gets the engine suffix
	wait_for -t 5 test -d "$ADAPTFS_MNT/a_b"
	wait_for -t 5 test -d "$ADAPTFS_MNT/a_b.cgroup"
	# every name in the root is safe: the allowed bytes only, no dot first
	run bash -c "ls -1A '$ADAPTFS_MNT' | grep -vE '^[A-Za-z0-9_+@:=-][A-Za-z0-9._+@:=-]*\$'"
	echo "$output"
	[ -z "$output" ]
	[ "$(ls -1A "$ADAPTFS_MNT" | wc -l)" -eq "$(ls -1A "$ADAPTFS_MNT" | sort -u | wc -l)" ]
	# nothing outside the mount was named or touched through a name
	[ ! -e "$ADAPTFS_MNT/../etc$$" ]
	# every workload's files read
	for e in "${expect[@]}"; do
		cat "$ADAPTFS_MNT/$e/stat" "$ADAPTFS_MNT/$e/placement" >/dev/null
	done
	# events stay one event a line, whatever the cgroup path or the engine's name holds
	run grep -vE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$ADAPTFS_MNT/events"
	echo "$output"
	[ -z "$output" ]
	# Prometheus labels carry the safe names and the file parses
	for e in "${expect[@]}"; do
		grep -qF "adapt_class{workload=\"$e\"," "$ADAPTFS_MNT/metrics.prom"
	done
	if command -v promtool >/dev/null; then
		promtool check metrics <"$ADAPTFS_MNT/metrics.prom"
	fi
	adaptfs_umount
}

@test "a cgroup whose name starts with a dot is found by a pattern, shown with a leading underscore" {
	cg=/sys/fs/cgroup/cpuacct$SLICE
	mkdir -p "$cg/..evil" "$cg/.hidden"
	defer rmdir "$cg"
	defer rmdir "$cg/..evil" "$cg/.hidden"
	adaptfs_mount --interval 0.5 -c "$(conf)"
	wait_for -t 10 test -d "$ADAPTFS_MNT/_..evil"
	wait_for -t 10 test -d "$ADAPTFS_MNT/_.hidden"
	adaptfs_umount
}
