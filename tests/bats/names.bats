#!/usr/bin/env bats
# Hostile cgroup names and paths: a long path never addresses another
# workload. Each test's cgroups live under a slice of their own, shown
# through a [discovery] pattern.

setup_file() {
	load lib/mount
	load lib/containers
	# unique per run: another engineer's tests may share the machine. Long,
	# so that workloads under it have long paths but short names (a
	# directory name is cut at 199 bytes, a path never).
	TOP=/adtnames-$$-$RANDOM
	SLICE=$TOP/$(printf '%*s' 200 '' | tr ' ' s)
	export TOP SLICE
	# a state dir of its own: pins are journaled there
	STATE=$BATS_FILE_TMPDIR/state
	export STATE
	printf '[adaptfs]\nstate_dir = %s\n[discovery]\npattern = %s/*/*\n' "$STATE" "$TOP" \
		> "$BATS_FILE_TMPDIR/adaptfs.conf"
	adaptfs_mount --interval 0.5 --config "$BATS_FILE_TMPDIR/adaptfs.conf"
}

teardown_file() {
	load lib/containers
	teardown_all
	# the daemon running now (a test restarts it), as adaptfs_mount recorded it
	unset ADAPTFS_PID ADAPTFS_MNT
	adaptfs_umount
}

setup() {
	load lib/mount
	load lib/containers
	# cpuset among the controllers so that teardown removes what pinning creates
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids cpuset unified"
}

teardown() {
	teardown_all
	# cpuset cgroups a test made by hand, deepest last in the list
	local i
	for ((i = ${#CPUSET_DIRS[@]} - 1; i >= 0; i--)); do
		rmdir "${CPUSET_DIRS[i]}" 2>/dev/null || true
	done
	# symlinks a test planted in the journal
	rm -f "${PLANTED[@]}"
}

cpus_allowed() { awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$1/status"; }

# pad N -> N times "a"
pad() { printf '%*s' "$1" '' | tr ' ' a; }

@test "a pin of a workload whose cgroup path extends another's 255 bytes pins it, not the other" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	all=$(cat /sys/devices/system/cpu/online)
	# short's path is 255 bytes; long's is short's plus "bb": cut to 255
	# bytes (a 256-byte field) long's path was short's
	short=$(pad $((255 - ${#SLICE} - 1)))
	long=${short}bb
	[ "${#short}" -gt 10 ] && [ "${#short}" -lt 60 ]
	CG_PATH="$SLICE/$short" cg_spawn short sleep 1000
	CG_PATH="$SLICE/$long" cg_spawn long sleep 1000
	wait_for -t 5 test -d "$ADAPTFS_MNT/$short"
	wait_for -t 5 test -d "$ADAPTFS_MNT/$long"
	wait_for -t 5 grep -q "cpus=$all" "$ADAPTFS_MNT/$long/placement"
	echo "cpus=1" > "$ADAPTFS_MNT/$long/placement"
	[ "$(cpus_allowed "$(cg_pid long)")" = 1 ]
	[ "$(cpus_allowed "$(cg_pid short)")" = "$all" ]
	[ "$(cat "$(cg_dir short cpuset)/cpuset.cpus")" = "$all" ]
	[ "$(cat "$ADAPTFS_MNT/$long/placement")" = "host=$(hostname) cpus=1" ]
	# and the other way round
	echo "cpus=0" > "$ADAPTFS_MNT/$short/placement"
	[ "$(cpus_allowed "$(cg_pid short)")" = 0 ]
	[ "$(cpus_allowed "$(cg_pid long)")" = 1 ]
}

# no_raw_bytes FILE: no control byte but newline, no DEL, valid UTF-8
no_raw_bytes() {
	python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
bad = [b for b in data if (b < 0x20 and b != 0x0a) or b == 0x7f]
data.decode('utf-8')
sys.exit(1 if bad else 0)
PY
}

@test "control and non-UTF-8 bytes of a cgroup name and of a write reach events and the log escaped" {
	command -v python3 || skip "python3 not installed"
	evil=$'evil\e[31m\tx\xff'
	CG_PATH="$TOP/h/$evil" cg_spawn evil sleep 1000
	# the directory name is sanitized; the event shows the cgroup path
	d=$ADAPTFS_MNT/evil__31m_x_
	wait_for -t 5 test -d "$d" || { ls "$ADAPTFS_MNT" | cat -A; cat -A "$ADAPTFS_MNT/events"; false; }
	wait_for -t 5 grep -qF 'evil\x1b[31m\x09x\xff)' "$ADAPTFS_MNT/events"
	run bash -c "printf 'cpus=\e[2J\x01\xff\n' > '$d/placement'"
	[ "$status" -ne 0 ]
	grep -qF "'cpus=\\x1b[2J\\x01\\xff' refused: Invalid argument" "$ADAPTFS_MNT/events"
	no_raw_bytes "$ADAPTFS_MNT/events"
	grep -qF 'evil\x1b[31m\x09x\xff' "$ADAPTFS_LOG"
	grep -qF "'cpus=\\x1b[2J\\x01\\xff' refused" "$ADAPTFS_LOG"
	no_raw_bytes "$ADAPTFS_LOG"
}

@test "a pin the kernel refuses (a cpuset without memory nodes) fails with its errno and says so" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	[ -d /sys/fs/cgroup/cpuset ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] || skip "needs v1 cpuset"
	all=$(cat /sys/devices/system/cpu/online)
	# the workload is not in the cpuset hierarchy; its cpuset cgroup exists
	# with CPUs but no memory nodes, so it takes no task
	CG_CONTROLLERS="cpuacct cpu memory blkio pids unified" CG_PATH="$TOP/m/nomems" cg_spawn nomems sleep 1000
	CPUSET_DIRS=()
	cs=/sys/fs/cgroup/cpuset
	for rel in "$TOP" "$TOP/m" "$TOP/m/nomems"; do
		[ -d "$cs$rel" ] && continue
		mkdir "$cs$rel"
		CPUSET_DIRS+=("$cs$rel")
		cat "$cs$(dirname "$rel")/cpuset.cpus" > "$cs$rel/cpuset.cpus"
		[ "$rel" = "$TOP/m/nomems" ] || cat "$cs$(dirname "$rel")/cpuset.mems" > "$cs$rel/cpuset.mems"
	done
	[ -z "$(cat "$cs$TOP/m/nomems/cpuset.mems")" ]
	wait_for -t 5 test -d "$ADAPTFS_MNT/nomems"
	run bash -c "echo cpus=1 > '$ADAPTFS_MNT/nomems/placement'"
	[ "$status" -ne 0 ]
	[[ $output == *"No space left on device"* ]]
	grep -q "nomems: placement: pinning to cpus 1 failed: No space left on device; placement unchanged" "$ADAPTFS_MNT/events"
	[ "$(cpus_allowed "$(cg_pid nomems)")" = "$all" ]
	[ "$(cat "$cs$TOP/m/nomems/cpuset.cpus")" = "$all" ]
}

# in_cpuset NAME CPUSETDIR: every process of NAME's cgroup is in the cpuset.
# The workload's list is read before and after the cpuset's: a process
# forked in between was born where its parent already was, and one that
# exited in between (the forker, told to stop) is on the first list only.
in_cpuset() {
	local procs=$(cg_dir "$1" cpuacct)/cgroup.procs before inside after counts out
	# one pass over the lists: a forker adds thousands while this runs
	before=$(cat "$procs")
	inside=$(cat "$2/cgroup.procs")
	after=$(cat "$procs")
	counts=$({ sed 's/^/in /' <<<"$inside"; sed 's/^/after /' <<<"$after"
		sed 's/^/before /' <<<"$before"; } | awk '
		$1 == "in" { inside[$2] = 1; next }
		$1 == "after" { alive[$2] = 1; next }
		{ n++ } ($2 in alive) && !($2 in inside) { out++ }
		END { print out + 0, n + 0 }')
	out=${counts% *}
	echo "$out of ${counts#* } outside $2" >&2
	[ "$out" -eq 0 ]
}

# v1 cpuset, the workload outside any cpuset of its own (as engines that
# make none leave it); the cpusets a pin makes are removed in teardown
pin_setup() {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	[ -d /sys/fs/cgroup/cpuset ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] || skip "needs v1 cpuset"
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids unified"
	CPUSET_DIRS=("/sys/fs/cgroup/cpuset$TOP" "/sys/fs/cgroup/cpuset$TOP/$1" "/sys/fs/cgroup/cpuset$TOP/$1/$2")
	CS=${CPUSET_DIRS[2]}
}

@test "a pin while the workload forks ends with every process, old and new, in the cpuset" {
	pin_setup f forker
	ready=$BATS_TEST_TMPDIR/ready stop=$BATS_TEST_TMPDIR/stop
	# 500 processes, then a forker (a higher pid, moved last) that forks
	# until told to stop: what it forks during the pin is born outside
	CG_PATH="$TOP/f/forker" cg_spawn forker bash -c "
		for i in \$(seq 500); do sleep 1000 & done
		(touch '$ready'; while [ ! -e '$stop' ]; do sleep 1000 & done) &
		wait"
	wait_for -t 20 test -e "$ready"
	wait_for -t 5 test -d "$ADAPTFS_MNT/forker"
	echo "cpus=1" > "$ADAPTFS_MNT/forker/placement"
	in_cpuset forker "$CS"
	touch "$stop"
	in_cpuset forker "$CS"
	[ "$(cat "$CS/cpuset.cpus")" = 1 ]
	[ "$(cpus_allowed "$(cg_pid forker)")" = 1 ]
	[ -z "$(ls -A "$STATE/journal")" ]
}

# fnv1a64 KEY: the pin journal's name for a workload's cgroup path
pin_journal() {
	python3 -c '
import sys
h = 0xcbf29ce484222325
for b in sys.argv[1].encode():
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
print("pin-%016x" % h)' "$1"
}

@test "a symlink planted as a pin's journal file is not followed: the file it names is untouched" {
	command -v python3 || skip "python3 not installed"
	pin_setup s victim
	CG_PATH="$TOP/s/victim" cg_spawn victim sleep 1000
	wait_for -t 5 test -d "$ADAPTFS_MNT/victim"
	id=$(pin_journal "$TOP/s/victim")
	echo precious > "$BATS_TEST_TMPDIR/target"
	echo precious > "$BATS_TEST_TMPDIR/target2"
	mkdir -p -m 0700 "$STATE/journal"
	PLANTED=("$STATE/journal/$id.new" "$STATE/journal/$id")
	ln -s "$BATS_TEST_TMPDIR/target" "$STATE/journal/$id.new"
	ln -s "$BATS_TEST_TMPDIR/target2" "$STATE/journal/$id"
	echo "cpus=1" > "$ADAPTFS_MNT/victim/placement"
	[ "$(cpus_allowed "$(cg_pid victim)")" = 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
	[ "$(cat "$BATS_TEST_TMPDIR/target2")" = precious ]
	[ ! -e "$STATE/journal/$id.new" ] && [ ! -L "$STATE/journal/$id.new" ]
}

@test "a pin cut by kill -9 of the daemon is completed at the next start" {
	command -v python3 || skip "python3 not installed"
	pin_setup k big
	ready=$BATS_TEST_TMPDIR/ready
	# enough processes that moving them takes a while
	CG_PATH="$TOP/k/big" cg_spawn big bash -c "for i in \$(seq 2000); do sleep 1000 & done; touch '$ready'; wait"
	wait_for -t 60 test -e "$ready"
	wait_for -t 5 test -d "$ADAPTFS_MNT/big"
	conf=$BATS_FILE_TMPDIR/adaptfs.conf
	j=$STATE/journal/$(pin_journal "$TOP/k/big")
	bash -c "echo cpus=1 > '$ADAPTFS_MNT/big/placement'" 2>/dev/null &
	writer=$!
	# the intent is journaled before the first change: kill there (a
	# busy loop: the pin may not last the 50 ms of a wait_for round)
	deadline=$(($(_adapt_now_us) + 20000000))
	until [ -f "$j" ]; do
		(($(_adapt_now_us) < deadline)) || { echo "no pin journal" >&2; false; }
	done
	kill -KILL "$ADAPTFS_PID"
	wait "$writer" || true
	[ -f "$j" ]
	in_cpuset big "$CS" 2> "$BATS_TEST_TMPDIR/at-kill" || true
	# how far it had got (in the output of a failing test)
	cat "$BATS_TEST_TMPDIR/at-kill"
	adaptfs_umount || true
	adaptfs_mount --interval 0.5 --config "$conf"
	# completed before any new pin can run, as the mount serves
	wait_for -t 60 test ! -e "$j"
	grep -q "placement: the pin of $TOP/k/big to cpus 1, cut by a restart, completed" "$ADAPTFS_MNT/events"
	in_cpuset big "$CS"
	[ "$(cat "$CS/cpuset.cpus")" = 1 ]
}
