#!/usr/bin/env bats
# A managed workload whose name a discovered workload already holds: it is
# listed as NAME.adaptfs (adaptfs(5), NAMES), and everything that acts on it
# (its mode and prefetch files, the auto policy, the kept prefetch setting)
# finds it by its recipe name, never the discovered workload of that name,
# and its events are under the name it is shown as.
#
# The discovered one is a sleep in a systemd-nspawn layout cgroup named
# adn-spin; the recipe adn-spin spins a CPU in a busybox container on bridge
# adn-br0 (10.241.0.1/24). What the daemon makes for it is adaptfs-adn-spin
# (runc container, netns, cgroups; adaptfs-adn-spin.vm: QEMU's);
# teardown_file removes all of it.

BR=adn-br0
# QEMU under TCG boots in seconds, slower on a loaded 2-core machine
SWITCH_TIMEOUT=240

st() { echo "$BATS_FILE_TMPDIR"; }

setup_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	local d
	d=$(st)
	managed_setup "$d" "$BR" 10.241.0.1/24 02:ad:00:00:ef:01
	managed_quick_policy "$d/adaptfs.conf"
	managed_spin_recipe "$d/recipes/adn-spin.conf" "$d/spin-root" "$d/spin-data" 10.241.0.10/24 \
		"standby = no"
	# there first, so it keeps the name
	CG_PATH="/machine.slice/systemd-nspawn@adn-spin.service" cg_spawn adn-spin sleep 1000
	managed_mount --interval 0.5 --config "$d/adaptfs.conf"
}

teardown_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	managed_teardown "$(st)/adaptfs.conf" "$(st)/run" "$BR" adn-spin
}

setup() {
	load lib/mount
	load lib/containers
	load lib/managed
}

teardown() {
	managed_umount_restarted
}

kind_is() { [ "$(cat "$ADAPTFS_MNT/$1/kind")" = "$2" ]; }
write_ctl() { timeout "$SWITCH_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$3" "$ADAPTFS_MNT/$1/$2"; }
show() { tail -n 20 "$ADAPTFS_MNT/events"; }
# NAME's own (not NAME.adaptfs's) events that match PATTERN, printed
events_of() { grep -F " $1: " "$ADAPTFS_MNT/events" | grep "$2"; }

@test "the managed workload is NAME.adaptfs; its mode and prefetch files act on it, kept by its recipe name" {
	wait_for -t 60 kind_is adn-spin.adaptfs "container adaptfs" || { show; false; }
	kind_is adn-spin "container systemd-nspawn"
	[ "$(cat "$ADAPTFS_MNT/adn-spin.adaptfs/mode")" = "[container] vm auto" ]
	run write_ctl adn-spin.adaptfs prefetch on
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(cat "$ADAPTFS_MNT/adn-spin.adaptfs/prefetch")" = "[on] off" ]
	grep -qx "on adaptfs adn-spin" "$(st)/adaptfs-state/prefetch"
	# the discovered one is untouched, and still refuses to switch
	[ "$(cat "$ADAPTFS_MNT/adn-spin/prefetch")" = "on [off]" ]
	run write_ctl adn-spin mode vm
	[ "$status" -ne 0 ]
}

@test "the auto policy switches the managed workload, not the discovered one of its name" {
	wait_for -t 60 kind_is adn-spin.adaptfs "container adaptfs" || { show; false; }
	run write_ctl adn-spin.adaptfs mode auto
	[ "$status" -eq 0 ] || { show; false; }
	wait_for -t "$SWITCH_TIMEOUT" kind_is adn-spin.adaptfs "vm adaptfs" || { show; adaptfs_log; false; }
	grep -q "adn-spin.adaptfs: policy: switch to vm: " "$ADAPTFS_MNT/events"
	wait_for -t "$SWITCH_TIMEOUT" grep -Eq "adn-spin.adaptfs: mode: now vm \(downtime [0-9.]+ s\)" \
		"$ADAPTFS_MNT/events" || { show; false; }
	kind_is adn-spin "container systemd-nspawn"
	# its events are its own directory's: none are the discovered one's
	grep -q "adn-spin.adaptfs: mode: switching container -> vm" "$ADAPTFS_MNT/events"
	not events_of adn-spin "policy:\|mode: switching\|mode: now"
}

@test "once the discovered one is gone, the next adaptfs lists the workload as NAME with its prefetch setting" {
	wait_for -t 60 test -d "$ADAPTFS_MNT/adn-spin.adaptfs"
	cg_kill adn-spin
	ADAPTFS_STOP_TIMEOUT=60 adaptfs_umount
	ADAPTFS_STOP_TIMEOUT=60 adaptfs_mount --interval 0.5 --config "$(st)/adaptfs.conf"
	wait_for -t 60 test -d "$ADAPTFS_MNT/adn-spin" || { show; false; }
	[ ! -e "$ADAPTFS_MNT/adn-spin.adaptfs" ]
	[[ $(cat "$ADAPTFS_MNT/adn-spin/kind") == *" adaptfs" ]]
	[ "$(cat "$ADAPTFS_MNT/adn-spin/prefetch")" = "[on] off" ]
	grep -q "adn-spin: prefetch: on, as written before adaptfs restarted" "$ADAPTFS_MNT/events"
}
