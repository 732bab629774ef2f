#!/usr/bin/env bats
# A runc container started for real on a pure cgroup v2 host (the guest of
# tests/v2/run): runc's own cgroup, found through its state dir.

bats_load_library bats-support
bats_load_library bats-assert
load lib
load ../bats/lib/containers
load ../bats/lib/mount

setup_file() {
	v2_mount
}

teardown_file() {
	adaptfs_umount
}

teardown() {
	teardown_all
}

@test "a runc container on cgroup v2 is found in runc's cgroup, with its figures, and goes with it" {
	RUNC_CGROUPS_PATH=/system.slice/runc-v2c.scope runc_up v2c
	pid=$(runc_pid v2c)
	grep -qx "0::/system.slice/runc-v2c.scope" "/proc/$pid/cgroup"
	wait_for -t 10 test -d "$ADAPTFS_MNT/v2c"
	assert_equal "$(cat "$ADAPTFS_MNT/v2c/kind")" "container runc"
	wait_for -t 5 grep -q '^total [1-9]' "$ADAPTFS_MNT/v2c/threads"
	wait_for -t 5 grep -q '^current_bytes [1-9]' "$ADAPTFS_MNT/v2c/memory"
	runc_down v2c
	wait_for -t 10 test ! -e "$ADAPTFS_MNT/v2c"
}
