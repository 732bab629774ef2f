#!/usr/bin/env bats
# A managed workload's mode switch on a pure cgroup v2 host (the guest of
# tests/v2/run): a busybox httpd recipe runs as a runc container in
# /adaptfs-NAME, switches to a QEMU microvm in /adaptfs-NAME.vm (TCG inside
# the TCG guest: its boot takes a minute or more) and back, while a client
# polls it; the data directory keeps what both modes wrote. It is pinned to
# CPU 1 first (placement cpus=), which its cgroup's cpuset.cpus, and then
# every QEMU thread, keep across both switches. The host's version of this,
# and what else mode does, is tests/bats/mode.bats and managed_pin.bats.

bats_load_library bats-support
bats_load_library bats-assert
load lib
load ../bats/lib/containers
load ../bats/lib/mount
load ../bats/lib/managed

BR=adt-br0
WEB=10.234.0.10
# the nested guest boots in 60-90 s on an idle 2-core host
SWITCH_TIMEOUT=300

st() { echo "$BATS_FILE_TMPDIR"; }

# the kernel and initramfs tests/v2/run booted this guest with, or made here
vm_dir() {
	local d=$BATS_TEST_DIRNAME/../../build/v2vm
	if [[ ! -f $d/vmlinux || ! -f $d/initramfs.cpio ]]; then
		d=$(st)/vm
		"$BATS_TEST_DIRNAME/../../etc/adaptfs-mkinitrd" "$d" >"$(st)/mkinitrd.log" 2>&1 ||
			{ cat "$(st)/mkinitrd.log" >&2; return 1; }
	fi
	echo "$d"
}

setup_file() {
	local d vm
	[[ -f $V2_ROOT/cgroup.controllers && ! -d $V2_ROOT/cpu ]] ||
		skip "not a pure cgroup v2 host: run through tests/v2/run"
	d=$(st)
	mkdir -p "$d/recipes" "$d/run" "$d/web-data"
	vm=$(vm_dir) || return 1
	_adapt_busybox_rootfs "$d/web-root"
	echo "adt-web-page-$$" >"$d/web-data/index.html"
	cat >"$d/adaptfs.conf" <<-EOF
		[managed]
		recipes = $d/recipes
		run_dir = $d/run
		bridge = $BR
		bridge_address = 10.234.0.1/24
		bridge_mac = 02:ad:00:00:ea:01
		kernel = $vm/vmlinux
		initrd = $vm/initramfs.cpio
	EOF
	# cold switches: a VM standby's QEMU, started paused, does not answer
	# QMP within its timeout under TCG inside TCG
	managed_web_recipe "$d/recipes/adt-web.conf" "$d/web-root" "$d/web-data" "$WEB/24" 240 "standby = no"
	ADAPTFS_STOP_TIMEOUT=60 adaptfs_mount --interval 0.5 --config "$d/adaptfs.conf"
}

teardown_file() {
	poller_stop "$(st)/poll.log"
	[[ -f $(st)/adaptfs.conf ]] || return 0
	managed_teardown "$(st)/adaptfs.conf" "$(st)/run" "$BR" adt-web
}

teardown() {
	poller_stop "$(st)/poll.log"
}

oks_after() { tail -n +"$(($1 + 1))" "$(st)/poll.log" | grep -c ' ok$'; }
polled_ok_after() { [ "$(oks_after "$1")" -gt 0 ]; }
poll_lines() { wc -l <"$(st)/poll.log"; }
# the nested guest's first answer took 3.5 s (its httpd paged in over 9p)
answers() { timeout 15 busybox wget -q -O - "http://$WEB:8080/index.html" | grep -q adt-web-page; }
kind_is() { [ "$(cat "$ADAPTFS_MNT/adt-web/kind")" = "$1" ]; }
stat_is() { grep -qx "$1 $2" "$ADAPTFS_MNT/adt-web/stat"; }
write_mode() { timeout "$SWITCH_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$1" "$ADAPTFS_MNT/adt-web/mode"; }
boots() { wc -l <"$(st)/web-data/boots"; }
# PID's cgroup, as /proc/PID/cgroup names it on v2
cgroup_of() { sed -n 's/^0:://p' "/proc/$1/cgroup"; }
qemu_pid() { pgrep -f -- "-name adaptfs-adt-web,"; }
events_tail() { tail -n 8 "$ADAPTFS_MNT/events"; }
placement_cpus() { sed -n 's/.* cpus=//p' "$ADAPTFS_MNT/adt-web/placement"; }
# every thread of PID allowed exactly LIST
threads_on() { # PID LIST
	assert_equal "$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/"$1"/task/*/status | sort -u)" "$2"
}

@test "a managed recipe pinned to CPU 1 switches container -> vm -> container on cgroup v2 under a polling client, pinned throughout; data survives" {
	wait_for -t 60 kind_is "container adaptfs"
	wait_for -t 20 answers
	# runc's cgroupfs driver made the container's cgroup at the v2 root
	assert_equal "$(cgroup_of "$(runc_pid adaptfs-adt-web)")" /adaptfs-adt-web
	[ "$(nproc --all)" -ge 2 ] || { echo "tests/v2/run boots the guest with -smp 2, this one has one CPU"; false; }
	run bash -c 'echo cpus=1 > "$1"' _ "$ADAPTFS_MNT/adt-web/placement"
	[ "$status" -eq 0 ] || { echo "$output"; events_tail; false; }
	assert_equal "$(cat "$V2_ROOT/adaptfs-adt-web/cpuset.cpus")" 1
	assert_equal "$(cat "$V2_ROOT/adaptfs-adt-web/cpuset.cpus.effective")" 1
	assert_equal "$(placement_cpus)" 1
	boots0=$(boots)
	poller_start "http://$WEB:8080/index.html" adt-web-page 0.2 "$(st)/poll.log"
	wait_for -t 10 polled_ok_after 0

	n=$(poll_lines)
	run write_mode vm
	[ "$status" -eq 0 ] || { echo "$output"; events_tail; adaptfs_log; false; }
	kind_is "vm adaptfs"
	assert_equal "$(cat "$ADAPTFS_MNT/adt-web/mode")" "container [vm] auto"
	answers || { tail -n 20 "$(st)/poll.log"; events_tail; false; }
	wait_for -t 10 polled_ok_after "$n"
	assert_equal "$(boots)" $((boots0 + 1))
	grep -Eq "adt-web: mode: now vm \(downtime [0-9]+\.[0-9]+ s\)" "$ADAPTFS_MNT/events"
	# QEMU in the VM's own cgroup beside the container's, which is gone
	assert_equal "$(cgroup_of "$(qemu_pid)")" /adaptfs-adt-web.vm
	[ ! -e "$V2_ROOT/adaptfs-adt-web" ]
	# born pinned: every QEMU thread on CPU 1
	threads_on "$(qemu_pid)" 1
	assert_equal "$(placement_cpus)" 1
	# sampled as a VM: the QEMU process's CPU time
	wait_for -t 10 grep -q '^usage_usec [1-9]' "$ADAPTFS_MNT/adt-web/cpu"
	wait_for -t 10 stat_is mode_switches 1

	n=$(poll_lines)
	run write_mode container
	[ "$status" -eq 0 ] || { echo "$output"; events_tail; adaptfs_log; false; }
	kind_is "container adaptfs"
	answers
	wait_for -t 10 polled_ok_after "$n"
	assert_equal "$(boots)" $((boots0 + 2))
	grep -Eq "adt-web: mode: now container \(downtime [0-9]+\.[0-9]+ s\)" "$ADAPTFS_MNT/events"
	assert_equal "$(cgroup_of "$(runc_pid adaptfs-adt-web)")" /adaptfs-adt-web
	# created pinned from the bundle
	assert_equal "$(cat "$V2_ROOT/adaptfs-adt-web/cpuset.cpus")" 1
	assert_equal "$(placement_cpus)" 1
	# QEMU gone, and its cgroup with it
	run qemu_pid
	[ "$status" -ne 0 ]
	wait_for -t 10 test ! -e "$V2_ROOT/adaptfs-adt-web.vm"
	wait_for -t 10 stat_is mode_switches 2
	# the page never changed: the data directory is the same in both modes
	answers
}
