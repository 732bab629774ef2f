#!/usr/bin/env bats
# Control files: placement (CPU pinning), mode, prefetch; their errors and
# who may write them.

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
}

teardown() {
	teardown_all
}

wl() { echo "$ADAPTFS_MNT/$(cg_id "$1" | cut -c1-12)"; }

# cpus_allowed PID -> Cpus_allowed_list of the process
cpus_allowed() { awk '/^Cpus_allowed_list/ { print $2 }' "/proc/$1/status"; }

@test "placement reads host and effective CPUs and writes back what it reads" {
	cg_spawn p0 sleep 1000
	d=$(wl p0)
	wait_for -t 5 test -d "$d"
	all=$(cat /sys/devices/system/cpu/online)
	# a cgroup seen between its mkdir and its cpuset's first write has no CPUs yet
	# (placement then reads host= alone); they show at a following sample
	wait_for -t 5 grep -qx "host=$(hostname) cpus=$all" "$d/placement"
	# what you read you can write back
	cat "$d/placement" > "$d/placement"
	[ "$(cat "$d/placement")" = "host=$(hostname) cpus=$all" ]
}

@test "cpus= pins a container's processes; the write returns once it shows" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	cg_spawn pin bash -c 'while :; do sleep 0.1; done'
	d=$(wl pin)
	wait_for -t 5 test -d "$d"
	echo "cpus=1" > "$d/placement"
	[ "$(cat "$d/placement")" = "host=$(hostname) cpus=1" ]
	[ "$(cpus_allowed "$(cg_pid pin)")" = 1 ]
	# children started afterwards inherit it
	grep -q "placement: pinned to cpus 1" "$ADAPTFS_MNT/events"
	echo "cpus=0-1" > "$d/placement"
	[ "$(cpus_allowed "$(cg_pid pin)")" = 0-1 ]
}

@test "placement errors: syntax EINVAL, offline CPU ERANGE, unknown host EINVAL; nothing changes" {
	cg_spawn perr sleep 1000
	d=$(wl perr)
	wait_for -t 5 test -d "$d"
	before=$(cat "$d/placement")
	run bash -c "echo 'cpus=3-1' > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	run bash -c "echo 'cpus=0-4000' > '$d/placement'"
	[[ "$output" == *"Numerical result out of range"* ]]
	run bash -c "echo 'cpus=$(nproc)' > '$d/placement'"
	[[ "$output" == *"Numerical result out of range"* ]]
	run bash -c "echo 'host=elsewhere' > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	run bash -c "echo 'zone=1' > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	# two lines in one write(2) (cat writes its buffer at once; printf would split)
	printf 'cpus=0\ncpus=1\n' > "$BATS_TEST_TMPDIR/two"
	run bash -c "cat '$BATS_TEST_TMPDIR/two' > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	[ "$(cat "$d/placement")" = "$before" ]
	grep -q "placement: 'host=elsewhere' refused: Invalid argument (unknown host" "$ADAPTFS_MNT/events"
	grep -q "placement: 'cpus=0-4000' refused: Numerical result out of range" "$ADAPTFS_MNT/events"
}

@test "mode reads [container]; rewriting it is a no-op, switching a discovered workload or auto on an engine that cannot move is EOPNOTSUPP" {
	cg_spawn m0 sleep 1000
	d=$(wl m0)
	wait_for -t 5 test -d "$d"
	[ "$(cat "$d/mode")" = "[container] vm auto" ]
	echo container > "$d/mode"
	run bash -c "echo vm > '$d/mode'"
	[[ "$output" == *"Operation not supported"* ]]
	run bash -c "echo sideways > '$d/mode'"
	[[ "$output" == *"Invalid argument"* ]]
	# auto lets the policy move it: not for an engine that cannot move
	run bash -c "echo auto > '$d/mode'"
	[[ "$output" == *"Operation not supported"* ]]
	[ "$(cat "$d/mode")" = "[container] vm auto" ]
	grep -q "mode: 'auto' refused: Operation not supported (this engine has no migration" "$ADAPTFS_MNT/events"
	grep -q "mode: 'vm' refused: Operation not supported" "$ADAPTFS_MNT/events"
}

@test "prefetch toggles with on/off/1/0 and reads back in sysfs style" {
	cg_spawn f0 sleep 1000
	d=$(wl f0)
	wait_for -t 5 test -d "$d"
	[ "$(cat "$d/prefetch")" = "on [off]" ]
	echo on > "$d/prefetch"
	[ "$(cat "$d/prefetch")" = "[on] off" ]
	echo 0 > "$d/prefetch"
	[ "$(cat "$d/prefetch")" = "on [off]" ]
	echo 1 > "$d/prefetch"
	[ "$(cat "$d/prefetch")" = "[on] off" ]
	grep -q '^prefetch_triggers 0$' "$d/stat"
	run bash -c "echo maybe > '$d/prefetch'"
	[[ "$output" == *"Invalid argument"* ]]
	run bash -c "printf 'o\0n' > '$d/prefetch'"
	[[ "$output" == *"Invalid argument"* ]]
	run bash -c "head -c 70000 /dev/zero | tr '\0' a > '$d/prefetch'"
	[ "$status" -ne 0 ]
	[ "$(cat "$d/prefetch")" = "[on] off" ]
	grep -q "^adapt_prefetch_triggers_total{workload=\"$(basename "$d")\"" "$ADAPTFS_MNT/metrics.prom"
}

@test "a non-root user reads control files but cannot write them" {
	cg_spawn u0 sleep 1000
	d=$(wl u0)
	wait_for -t 5 test -d "$d"
	[ "$(stat -c %a "$d/prefetch")" = 644 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$d/prefetch"
	[ "$status" -eq 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo on > '$d/prefetch'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	[ "$(cat "$d/prefetch")" = "on [off]" ]
}
