#!/usr/bin/env bats
# runc and crun containers started for real on a pure cgroup v2 host (the
# guest of tests/v2/run): each runtime's own cgroup, found through its state
# dir (runc's state.json, crun's status).

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

# RUNTIME: a container of it in a systemd-style scope is found there, kind
# names the runtime, its figures come from that cgroup, and it goes with it
found_with_figures_and_gone() {
	local rt=$1 name=v2$1 pid
	RUNC_CGROUPS_PATH=/system.slice/$rt-$name.scope "${rt}_up" "$name"
	pid=$("${rt}_pid" "$name")
	grep -qx "0::/system.slice/$rt-$name.scope" "/proc/$pid/cgroup"
	wait_for -t 10 test -d "$ADAPTFS_MNT/$name"
	assert_equal "$(cat "$ADAPTFS_MNT/$name/kind")" "container $rt"
	wait_for -t 5 grep -q '^total [1-9]' "$ADAPTFS_MNT/$name/threads"
	wait_for -t 5 grep -q '^current_bytes [1-9]' "$ADAPTFS_MNT/$name/memory"
	"${rt}_down" "$name"
	wait_for -t 10 test ! -e "$ADAPTFS_MNT/$name"
}

@test "a runc container on cgroup v2 is found in runc's cgroup, with its figures, and goes with it" {
	found_with_figures_and_gone runc
}

@test "a crun container on cgroup v2 is found in crun's cgroup, with its figures, and goes with it" {
	found_with_figures_and_gone crun
}
