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
	printf '[discovery]\npattern = %s/*/*\n' "$TOP" > "$BATS_FILE_TMPDIR/adaptfs.conf"
	adaptfs_mount --interval 0.5 --config "$BATS_FILE_TMPDIR/adaptfs.conf"
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
}

teardown() {
	teardown_all
	# cpuset cgroups a test made by hand, deepest last in the list
	local i
	for ((i = ${#CPUSET_DIRS[@]} - 1; i >= 0; i--)); do
		rmdir "${CPUSET_DIRS[i]}" 2>/dev/null || true
	done
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
