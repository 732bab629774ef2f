#!/usr/bin/env bats
# [adaptfs] group: its members may write control files, nobody else.

setup_file() {
	load lib/mount
	cfg=$BATS_FILE_TMPDIR/adaptfs.conf
	printf '[adaptfs]\ngroup = nogroup\n' > "$cfg"
	adaptfs_mount --interval 0.5 --config "$cfg"
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

@test "a configured group may write control files, not metric files" {
	cg_spawn g0 sleep 1000
	d=$ADAPTFS_MNT/$(cg_id g0 | cut -c1-12)
	wait_for -t 5 test -d "$d"
	[ "$(stat -c '%a %G' "$d/prefetch")" = "664 nogroup" ]
	setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo on > '$d/prefetch'"
	[ "$(cat "$d/prefetch")" = "[on] off" ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo x > '$d/cpu'"
	[ "$status" -ne 0 ]
	# another unprivileged user outside the group still cannot
	run setpriv --reuid=65533 --regid=65533 --clear-groups sh -c "echo off > '$d/prefetch'"
	[ "$status" -ne 0 ]
	[ "$(cat "$d/prefetch")" = "[on] off" ]
}

@test "a group that does not exist is a config error" {
	cfg=$BATS_TEST_TMPDIR/bad.conf
	printf '[adaptfs]\ngroup = no-such-group-here\n' > "$cfg"
	run "$ADAPTFS_BIN" -f --config "$cfg" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bad value for key 'group'"* ]]
}
