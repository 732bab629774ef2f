#!/usr/bin/env bats
# Managed workloads (adaptfs-workloads(5)) and their mode file: a busybox
# httpd recipe switches container -> VM -> container under a polling client,
# a VM that cannot boot falls back to the container with EIO, and discovered
# workloads still refuse to switch.
#
# Everything here is named adt-*: bridge adt-br0 (10.234.0.1/24), recipes
# adt-web (10.234.0.10) and adt-badvm (10.234.0.11). What the daemon makes
# for them is adaptfs-adt-* (runc containers, netns, cgroups, QEMU -name)
# and adapt<hash> interfaces on adt-br0; they outlive the daemon, so
# teardown_file stops them (adaptfs --stop-workloads) and removes anything
# left even if that failed.

BR=adt-br0
WEB=10.234.0.10
BAD=10.234.0.11
SPIN=10.234.0.12
# QEMU under TCG boots in seconds, slower on a loaded 2-core machine
SWITCH_TIMEOUT=240

st() { echo "$BATS_FILE_TMPDIR"; }

setup_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	local d
	d=$(st)
	managed_setup "$d" "$BR" 10.234.0.1/24 02:ad:00:00:ea:01
	managed_web_files "$d" "adt-web-page-$$"
	mkdir -p "$d/bad-data"
	_adapt_busybox_rootfs "$d/bad-root"
	echo "adt-bad-page-$$" >"$d/bad-data/index.html"
	managed_quick_policy "$d/adaptfs.conf"
	managed_web_recipe "$d/recipes/adt-web.conf" "$d/web-root" "$d/web-data" "$WEB/24" 180
	managed_web_recipe "$d/recipes/adt-badvm.conf" "$d/bad-root" "$d/bad-data" "$BAD/24" 60 \
		"[vm]" "kernel = /nonexistent/adt-vmlinux"
	# auto from the start: the policy decides its mode by its class (cpu here)
	managed_spin_recipe "$d/recipes/adt-spin.conf" "$d/spin-root" "$d/spin-data" "$SPIN/24" "mode = auto"
	managed_mount --interval 0.5 --config "$d/adaptfs.conf"
}

teardown_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	kill_poller
	managed_teardown "$(st)/adaptfs.conf" "$(st)/run" "$BR" adt-web adt-badvm adt-spin
}

setup() {
	load lib/mount
	load lib/containers
	load lib/managed
}

teardown() {
	teardown_all
}

start_poller() { poller_start "http://$WEB:8080/index.html" adt-web-page 0.1 "$(st)/poll.log"; }
kill_poller() { poller_stop "$(st)/poll.log"; }

# "ok" lines in the poll log after line N
oks_after() { tail -n +"$(($1 + 1))" "$(st)/poll.log" | grep -c ' ok$'; }
polled_ok_after() { [ "$(oks_after "$1")" -gt 0 ]; }
poll_lines() { wc -l <"$(st)/poll.log"; }
answers() { timeout 3 busybox wget -q -O - "http://$1:8080/index.html" | grep -q "$2"; }
kind_is() { [ "$(cat "$ADAPTFS_MNT/$1/kind")" = "$2" ]; }
stat_is() { grep -qx "$2 $3" "$ADAPTFS_MNT/$1/stat"; }
write_mode() { timeout "$SWITCH_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$2" "$ADAPTFS_MNT/$1/mode"; }

@test "managed recipes start as containers, listed once under their recipe name" {
	wait_for -t 60 kind_is adt-web "container adaptfs"
	wait_for -t 60 kind_is adt-badvm "container adaptfs"
	wait_for -t 10 answers "$WEB" adt-web-page
	[ "$(cat "$ADAPTFS_MNT/adt-web/mode")" = "[container] vm auto" ]
	# not a second time by the containers (runc, cgroup) backend
	[ ! -e "$ADAPTFS_MNT/adaptfs-adt-web" ]
	run grep -c 'adapt_class{workload="[^"]*adt-web' "$ADAPTFS_MNT/metrics.prom"
	[ "$output" = 1 ]
	grep -q "adt-web: started as container" "$ADAPTFS_MNT/events"
}

@test "adt-web switches container -> vm -> container under a polling client; data survives" {
	wait_for -t 60 kind_is adt-web "container adaptfs"
	wait_for -t 10 answers "$WEB" adt-web-page
	boots0=$(wc -l <"$(st)/web-data/boots")
	start_poller
	wait_for -t 10 polled_ok_after 0

	n=$(poll_lines)
	run write_mode adt-web vm
	[ "$status" -eq 0 ] || { cat "$ADAPTFS_MNT/events" | tail -5; adaptfs_log; false; }
	kind_is adt-web "vm adaptfs"
	[ "$(cat "$ADAPTFS_MNT/adt-web/mode")" = "container [vm] auto" ]
	# the same address answers, served by the VM from the data directory
	answers "$WEB" adt-web-page
	wait_for -t 10 polled_ok_after "$n"
	# the VM's start wrote into the data directory, next to the container's line
	[ "$(wc -l <"$(st)/web-data/boots")" -eq $((boots0 + 1)) ]
	grep -Eq "adt-web: mode: now vm \(downtime [0-9]+\.[0-9]+ s\)" "$ADAPTFS_MNT/events"
	wait_for -t 10 stat_is adt-web mode_switches 1
	grep -Eq '^mode_downtime_usec [1-9][0-9]*$' "$ADAPTFS_MNT/adt-web/stat"
	# sampled as a VM now: the QEMU process's CPU time
	wait_for -t 10 grep -q '^usage_usec' "$ADAPTFS_MNT/adt-web/cpu"
	# and not shown again by the QEMU backend (it would take QEMU's -name)
	[ ! -e "$ADAPTFS_MNT/adaptfs-adt-web" ]
	run grep -c 'adapt_class{workload="[^"]*adt-web' "$ADAPTFS_MNT/metrics.prom"
	[ "$output" = 1 ]

	n=$(poll_lines)
	run write_mode adt-web container
	[ "$status" -eq 0 ] || { cat "$ADAPTFS_MNT/events" | tail -5; false; }
	kind_is adt-web "container adaptfs"
	answers "$WEB" adt-web-page
	wait_for -t 10 polled_ok_after "$n"
	[ "$(wc -l <"$(st)/web-data/boots")" -eq $((boots0 + 2)) ]
	wait_for -t 10 stat_is adt-web mode_switches 2
	grep -Eq "adt-web: mode: now container \(downtime [0-9]+\.[0-9]+ s\)" "$ADAPTFS_MNT/events"
	kill_poller
}

@test "auto is stored as the setting; kind keeps the running mode" {
	wait_for -t 60 kind_is adt-web "container adaptfs"
	# auto acts on the class: wait until it no longer counts the CPU of the
	# VM that ran before (one cgroup for both modes, so one history)
	wait_for -t 60 grep -q " mode=container$" "$ADAPTFS_MNT/adt-web/class"
	write_mode adt-web auto
	[ "$(cat "$ADAPTFS_MNT/adt-web/mode")" = "container vm [auto]" ]
	kind_is adt-web "container adaptfs"
	grep -q "adt-web: mode: auto" "$ADAPTFS_MNT/events"
	# what you read you can write back
	cat "$ADAPTFS_MNT/adt-web/mode" >/dev/null
	write_mode adt-web container
	[ "$(cat "$ADAPTFS_MNT/adt-web/mode")" = "[container] vm auto" ]
	run write_mode adt-web fast
	[ "$status" -ne 0 ]
	[[ $output == *"Invalid argument"* ]]
}

@test "a VM that cannot boot: the write fails with EIO and it runs as a container again" {
	wait_for -t 60 kind_is adt-badvm "container adaptfs"
	wait_for -t 10 answers "$BAD" adt-bad-page
	run write_mode adt-badvm vm
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	kind_is adt-badvm "container adaptfs"
	[ "$(cat "$ADAPTFS_MNT/adt-badvm/mode")" = "[container] vm auto" ]
	answers "$BAD" adt-bad-page
	grep -q "adt-badvm: mode: vm failed to start: QEMU exited: .*adt-vmlinux" "$ADAPTFS_MNT/events"
	grep -q "adt-badvm: mode: running as container again" "$ADAPTFS_MNT/events"
	# no QEMU of it is left behind
	run pgrep -f -- "-name adaptfs-adt-badvm"
	[ "$status" -ne 0 ]
}

@test "writing mode to a discovered workload is EOPNOTSUPP" {
	cg_spawn adt-disc sleep 1000
	d=$ADAPTFS_MNT/$(cg_id adt-disc | cut -c1-12)
	wait_for -t 10 test -d "$d"
	[ "$(cat "$d/kind")" = "container docker" ]
	run write_mode "${d##*/}" vm
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not supported"* ]]
	grep -q "mode: 'vm' refused: Operation not supported" "$ADAPTFS_MNT/events"
	[ "$(cat "$d/mode")" = "[container] vm auto" ]
}

@test "the auto policy switches a CPU-bound auto recipe to a VM where the class recommends it, once" {
	wait_for -t 60 test -d "$ADAPTFS_MNT/adt-spin"
	[ "$(cat "$ADAPTFS_MNT/adt-spin/mode")" = "container vm [auto]" ]
	wait_for -t "$SWITCH_TIMEOUT" kind_is adt-spin "vm adaptfs" || { tail -n 20 "$ADAPTFS_MNT/events"; false; }
	grep -q "adt-spin: policy: switch to vm: " "$ADAPTFS_MNT/events"
	# standby = auto (the default): a VM was prepared while the class
	# pointed at it, before the policy's stable time was up, and served
	grep -q "adt-spin: mode: switching container -> vm (to its standby)" "$ADAPTFS_MNT/events" ||
		{ grep adt-spin "$ADAPTFS_MNT/events"; false; }
	# kind is vm once QEMU runs; the switch is done when the guest is ready
	wait_for -t "$SWITCH_TIMEOUT" grep -Eq "adt-spin: mode: now vm \(downtime [0-9.]+ s\)" "$ADAPTFS_MNT/events"
	# still auto, and it stays a VM: its class (cpu) still recommends one
	[ "$(cat "$ADAPTFS_MNT/adt-spin/mode")" = "container vm [auto]" ]
	wait_for -t 30 grep -q "^cpu mode=vm" "$ADAPTFS_MNT/adt-spin/class"
	[ "$(grep -c "adt-spin: policy: switch to" "$ADAPTFS_MNT/events")" = 1 ]
}

@test "a recipe removed (and SIGHUP) while its workload switches is stopped once the switch ends" {
	wait_for -t 60 test -d "$ADAPTFS_MNT/adt-web"
	kind_is adt-web "container adaptfs" || write_mode adt-web container
	( write_mode adt-web vm ) &
	writer=$!
	wait_for -t 30 grep -q "adt-web: mode: switching container -> vm" "$ADAPTFS_MNT/events"
	mv "$(st)/recipes/adt-web.conf" "$(st)/adt-web.conf.removed"
	kill -HUP "$ADAPTFS_PID"
	wait "$writer" || true
	wait_for -t 60 grep -q "adt-web: recipe removed: stopping it" "$ADAPTFS_MNT/events"
	wait_for -t 30 sh -c "! test -e '$ADAPTFS_MNT/adt-web'"
	! answers "$WEB" adt-web-page
}
