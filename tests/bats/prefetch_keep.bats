#!/usr/bin/env bats
# The prefetch settings written to NAME/prefetch outlive a restart of
# adaptfs: kept in STATE_DIR/prefetch, given back to the same workloads by
# the next daemon, forgotten with workloads that went.

setup() {
	load lib/mount
	load lib/containers
	STATE=$BATS_TEST_TMPDIR/state
	CONF=$BATS_TEST_TMPDIR/adaptfs.conf
	printf '[prefetch]\ndefault = off\n' >"$CONF"
}

teardown() {
	teardown_all
	adaptfs_umount
}

# start [CONFIG]: adaptfs on STATE, its config CONFIG (default $CONF)
start() { adaptfs_mount --interval 0.5 --state-dir "$STATE" -c "${1:-$CONF}"; }
restart() { adaptfs_umount && start "$@"; }

wl() { echo "$ADAPTFS_MNT/$(cg_id "$1" | cut -c1-12)"; }
kept() { grep -qx "$1 [a-z]* $(cg_path "$2")" "$STATE/prefetch"; }
setting_is() { [ "$(cat "$(wl "$1")/prefetch")" = "$2" ]; }

@test "settings written before a restart are the settings after it, over the config's default; events says so" {
	cg_spawn on_w sleep 1000
	cg_spawn off_w sleep 1000
	cg_spawn plain sleep 1000
	start
	for n in on_w off_w plain; do wait_for -t 5 test -d "$(wl $n)"; done
	echo on >"$(wl on_w)/prefetch"
	echo on >"$(wl off_w)/prefetch"
	echo off >"$(wl off_w)/prefetch"
	# kept by the time the write returns
	kept on on_w
	kept off off_w
	not grep -q "$(cg_path plain)" "$STATE/prefetch"
	# the next daemon turns prefetch on for every container: the written settings win
	printf '[prefetch]\ndefault = on\n' >"$BATS_TEST_TMPDIR/on.conf"
	restart "$BATS_TEST_TMPDIR/on.conf"
	for n in on_w off_w plain; do wait_for -t 5 test -d "$(wl $n)"; done
	setting_is on_w "[on] off"
	setting_is off_w "on [off]"
	setting_is plain "[on] off"
	grep -q "$(basename "$(wl on_w)"): prefetch: on, as written before adaptfs restarted" "$ADAPTFS_MNT/events"
	grep -q "$(basename "$(wl off_w)"): prefetch: off, as written before adaptfs restarted" "$ADAPTFS_MNT/events"
	# and the one after that, on the default config, still has them
	restart
	wait_for -t 5 test -d "$(wl off_w)"
	setting_is on_w "[on] off"
	setting_is off_w "on [off]"
	setting_is plain "on [off]"
}

@test "a container that goes, while adaptfs runs or while it is down, leaves the file; one at its path later starts from the default" {
	cg_spawn stays sleep 1000
	cg_spawn goes_up sleep 1000
	cg_spawn goes_down sleep 1000
	start
	for n in stays goes_up goes_down; do
		wait_for -t 5 test -d "$(wl $n)"
		echo on >"$(wl $n)/prefetch"
		kept on $n
	done
	path_up=$(cg_path goes_up) path_down=$(cg_path goes_down) name_down=$(cg_id goes_down | cut -c1-12)
	cg_kill goes_up
	wait_for -t 5 sh -c "! grep -qF '$path_up' '$STATE/prefetch'"
	adaptfs_umount
	cg_kill goes_down
	grep -qF "$path_down" "$STATE/prefetch"
	start
	wait_for -t 5 sh -c "! grep -qF '$path_down' '$STATE/prefetch'"
	kept on stays
	setting_is stays "[on] off"
	CG_PATH=$path_down cg_spawn goes_down sleep 1000
	wait_for -t 5 test -d "$ADAPTFS_MNT/$name_down"
	[ "$(cat "$ADAPTFS_MNT/$name_down/prefetch")" = "on [off]" ]
}

@test "a kept file with lines that are no setting: those are left out and logged, the others given back" {
	cg_spawn w sleep 1000
	mkdir -m 0755 "$STATE"
	printf 'maybe docker /x\non\non docker\n\non docker %s\nhalf' "$(cg_path w)" >"$STATE/prefetch"
	start
	wait_for -t 5 test -d "$(wl w)"
	setting_is w "[on] off"
	grep -q "prefetch: not a setting, left out: maybe docker /x" "$ADAPTFS_LOG"
	grep -q "prefetch: not a setting, left out: half" "$ADAPTFS_LOG"
}
