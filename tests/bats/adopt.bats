#!/usr/bin/env bats
# Managed workloads outlive the daemon (adaptfs-workloads(5), LIFE ACROSS
# RESTARTS): a runc container started from a recipe keeps running and
# answering when adaptfs gets SIGTERM or SIGKILL; the next adaptfs on the
# same mount point adopts it (same pid, counters go on, mode setting kept);
# one that died meanwhile is reported and started again; one whose recipe
# went is stopped; adaptfs --stop-workloads stops them and leaves nothing.
#
# The same for a QEMU microvm (TCG): its QMP socket is reconnected.
#
# Everything here is named adk-*: bridge adk-br0 (10.236.0.1/24), recipes
# adk-web (10.236.0.10, container) and adk-vm (10.236.0.11, VM; its own
# configuration vm.conf, recipes and run dir). What the daemon makes for them
# is adaptfs-adk-* (runc container, netns, cgroups, QEMU -name) and
# adapt<hash> interfaces on adk-br0; teardown_file removes all of it even if
# a test failed half way.

BR=adk-br0
WEB=10.236.0.10
VM=10.236.0.11
# QEMU under TCG boots in seconds, slower on a loaded 2-core machine
BOOT_TIMEOUT=240

st() { echo "$BATS_FILE_TMPDIR"; }
conf() { echo "$(st)/adaptfs.conf"; }
vmconf() { echo "$(st)/vm.conf"; }
# What runs of either configuration left running, stopped.
stop_workloads() {
	local c
	for c in "$(conf)" "$(vmconf)"; do
		"$BATS_TEST_DIRNAME/../../adaptfs" -c "$c" --stop-workloads 2>/dev/null || true
	done
}

setup_file() {
	load lib/mount
	load lib/containers
	_adapt_need runc jq ip || skip "runc, jq and ip are needed"
	local d
	d=$(st)
	mkdir -p "$d/recipes" "$d/run" "$d/web-data"
	_adapt_busybox_rootfs "$d/web-root"
	echo "adk-web-page-$$" >"$d/web-data/index.html"
	cat >"$(conf)" <<-EOF
		[managed]
		recipes = $d/recipes
		run_dir = $d/run
		bridge = $BR
		bridge_address = 10.236.0.1/24
		bridge_mac = 02:ad:00:00:eb:01
		kernel = $d/vm/vmlinux
		initrd = $d/vm/initramfs.cpio
	EOF
	write_recipe
	export ADAPTFS_MOUNT_AT=$d/mnt
	# the VM: its own recipes and run dir, on the same bridge
	mkdir -p "$d/vm-recipes" "$d/vm-run" "$d/vm-data"
	"$BATS_TEST_DIRNAME/../../etc/adaptfs-mkinitrd" "$d/vm" >"$d/mkinitrd.log" 2>&1 ||
		{ cat "$d/mkinitrd.log" >&2; return 1; }
	_adapt_busybox_rootfs "$d/vm-root"
	echo "adk-vm-page-$$" >"$d/vm-data/index.html"
	sed -e "s|$d/recipes|$d/vm-recipes|" -e "s|$d/run|$d/vm-run|" "$(conf)" >"$(vmconf)"
	local cmd='/bin/sh -c '\''trap "exit 0" TERM; echo start >> /data/boots; httpd -p 8080 -h /data; while :; do sleep 1 & wait $!; done'\'''
	cat >"$d/vm-recipes/adk-vm.conf" <<-EOF
		[workload]
		rootfs = $d/vm-root
		command = $cmd
		address = $VM/24
		data = $d/vm-data
		ready_port = 8080
		ready_timeout = $BOOT_TIMEOUT
		stop_timeout = 2
		mode = vm
	EOF
}

# A web server that burns a little CPU at each start (so that a counter
# that started again from zero would show) and logs each start.
write_recipe() {
	local cmd='/bin/sh -c '\''trap "exit 0" TERM; echo start >> /data/boots; i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; httpd -p 8080 -h /data; while :; do sleep 1 & wait $!; done'\'''
	cat >"$(st)/recipes/adk-web.conf" <<-EOF
		[workload]
		rootfs = $(st)/web-root
		command = $cmd
		address = $WEB/24
		data = $(st)/web-data
		ready_port = 8080
		ready_command = test ! -e $(st)/hold
		ready_timeout = 60
		stop_timeout = 2
	EOF
}

teardown_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	local rc=0
	adaptfs_umount || rc=1
	stop_workloads
	# the safety net, should --stop-workloads have failed
	managed_kill_leftovers "$(st)/"
	managed_remove adk-web adk-vm || rc=1
	managed_remove_bridge "$BR" || rc=1
	[[ -d $(st)/mnt ]] && ! adaptfs_mounted "$(st)/mnt" && rmdir "$(st)/mnt"
	teardown_all || rc=1
	return $rc
}

setup() {
	load lib/mount
	load lib/containers
}

teardown() {
	adaptfs_umount || true
	rm -f "$(st)/hold"
	# a failed test may leave its workload half way (a VM of adk-web): the
	# next test starts from nothing rather than failing after it
	[[ -n ${BATS_TEST_COMPLETED:-} ]] || stop_workloads
	teardown_all
}

W() { echo "$ADAPTFS_MNT/adk-web"; }
# An event of ours, from the daemon's log: events keeps the last 512 lines,
# which the containers of tests running at the same time can push out.
said() { grep -qF -- "$1" "$ADAPTFS_LOG"; }
# A failing wait: the log, and our lines in events (one there but not in
# the log would be a lost log line).
diag() { adaptfs_log; grep -F ' adk-' "$ADAPTFS_MNT/events" >&2 || true; }
answers() { timeout 3 busybox wget -q -O - "http://$WEB:8080/index.html" | grep -q adk-web-page; }
kind_is() { [ "$(cat "$(W)/kind" 2>/dev/null)" = "$1" ]; }
runc_pid_of() { runc state adaptfs-adk-web 2>/dev/null | jq -r 'select(.status == "running") | .pid'; }
usage_usec() { awk '$1 == "usage_usec" { print $2 }' "$(W)/cpu"; }
has_usage() { [ -n "$(usage_usec)" ]; }
ready() { wait_for -t 90 kind_is "container adaptfs" && wait_for -t 30 answers && wait_for -t 10 has_usage; }
# Out of the daemon's cgroup (which a service manager stops with it):
# /adaptfs-NAME in every hierarchy (a VM's QEMU: /adaptfs-NAME.vm).
in_own_cgroups() { ! awk -F: -v cg="/adaptfs-$2" '$3 != cg { bad = 1 } END { exit !bad }' "/proc/$1/cgroup"; }
daemon_gone() { ! kill -0 "$1" 2>/dev/null; }
mode_is() { [ "$(cat "$(W)/mode")" = "$1" ]; }

# Stop the daemon with SIG (not through adaptfs_umount, which would also
# clean up after it); then adaptfs_umount only reaps it and frees the mount.
stop_daemon() {
	local pid=$ADAPTFS_PID
	kill "-$1" "$pid"
	wait_for -t 30 daemon_gone "$pid"
	adaptfs_umount >/dev/null 2>&1 || true
}

@test "a container survives SIGTERM of adaptfs and is adopted as it runs, on the same mount point" {
	adaptfs_mount --config "$(conf)"
	ready || { diag; false; }
	pid=$(runc_pid_of)
	[ -n "$pid" ]
	in_own_cgroups "$pid" adk-web || { cat "/proc/$pid/cgroup"; false; }
	echo auto >"$(W)/mode"
	[ "$(cat "$(W)/mode")" = "container vm [auto]" ]
	boots=$(wc -l <"$(st)/web-data/boots")
	before=$(usage_usec)
	[ "$before" -gt 0 ]

	stop_daemon TERM
	# it runs on, and still serves
	[ "$(runc_pid_of)" = "$pid" ]
	answers

	adaptfs_mount --config "$(conf)"
	[ "$ADAPTFS_MNT" = "$(st)/mnt" ]
	wait_for -t 30 said "adk-web: adopted: running as container, pid $pid"
	wait_for -t 10 kind_is "container adaptfs"
	wait_for -t 10 has_usage
	[ "$(runc_pid_of)" = "$pid" ]
	# not started again: the same process, one boot, its cgroup's CPU time goes on
	[ "$(wc -l <"$(st)/web-data/boots")" -eq "$boots" ]
	[ "$(usage_usec)" -ge "$before" ]
	# the kept setting, in the snapshot the adoption asked for
	wait_for -t 5 mode_is "container vm [auto]"
	! said "adk-web: started as"
	answers
	echo container >"$(W)/mode"
}

@test "a container survives kill -9 of adaptfs and is adopted" {
	adaptfs_mount --config "$(conf)"
	ready
	pid=$(runc_pid_of)
	before=$(usage_usec)
	boots=$(wc -l <"$(st)/web-data/boots")

	stop_daemon KILL
	[ "$(runc_pid_of)" = "$pid" ]
	answers

	adaptfs_mount --config "$(conf)"
	wait_for -t 30 said "adk-web: adopted: running as container, pid $pid"
	wait_for -t 10 has_usage
	[ "$(usage_usec)" -ge "$before" ]
	[ "$(wc -l <"$(st)/web-data/boots")" -eq "$boots" ]
	[ "$(cat "$(W)/mode")" = "[container] vm auto" ]
	answers
}

@test "a container that died while adaptfs was down is reported and started again" {
	adaptfs_mount --config "$(conf)"
	ready
	pid=$(runc_pid_of)
	boots=$(wc -l <"$(st)/web-data/boots")
	stop_daemon TERM
	runc kill adaptfs-adk-web KILL
	wait_for -t 10 _runc_gone_or_stopped adaptfs-adk-web

	adaptfs_mount --config "$(conf)"
	wait_for -t 30 said "adk-web: container (pid $pid) stopped while adaptfs was not running"
	wait_for -t 90 said "adk-web: started as container"
	ready
	new=$(runc_pid_of)
	[ -n "$new" ] && [ "$new" != "$pid" ]
	[ "$(wc -l <"$(st)/web-data/boots")" -eq $((boots + 1)) ]
}

@test "kill -9 in the middle of a switch to a VM: the next adaptfs adopts the QEMU it started, no container runs" {
	[[ -e /dev/net/tun ]] || skip "no /dev/net/tun for the VM's tap"
	adaptfs_mount --config "$(conf)"
	ready
	# the VM never gets ready while $(st)/hold exists: the switch waits
	touch "$(st)/hold"
	( timeout "$BOOT_TIMEOUT" bash -c 'echo vm >"$1"' _ "$(W)/mode" ) 2>/dev/null &
	writer=$!
	# the QEMU is started and recorded before the readiness wait
	wait_for -t 60 grep -qx "kind vm" "$(st)/run/workloads/adk-web/state"
	qpid=$(awk '$1 == "pid" { print $2 }' "$(st)/run/workloads/adk-web/state")
	[ -z "$(runc_pid_of)" ]
	stop_daemon KILL
	wait "$writer" || true
	rm "$(st)/hold"
	! said "adk-web: mode: now vm"
	kill -0 "$qpid"

	adaptfs_mount --config "$(conf)"
	wait_for -t 30 said "adk-web: adopted: running as vm, pid $qpid" || { diag; false; }
	wait_for -t 10 kind_is "vm adaptfs"
	[ -z "$(runc_pid_of)" ]
	# the setting stayed container (the switch never returned): writing it switches back
	timeout "$BOOT_TIMEOUT" bash -c 'echo container >"$1"' _ "$(W)/mode"
	kind_is "container adaptfs"
	wait_for -t 10 _adapt_pid_gone "$qpid"
	wait_for -t 30 answers
}

@test "--stop-workloads is refused while adaptfs manages them, and then stops them leaving nothing" {
	adaptfs_mount --config "$(conf)"
	ready
	pid=$(runc_pid_of)
	veth=$(ip -o link show master "$BR" | awk -F': ' '{ print $2 }' | cut -d@ -f1)
	[ -n "$veth" ]
	run "$BATS_TEST_DIRNAME/../../adaptfs" -c "$(conf)" --stop-workloads
	[ "$status" -eq 1 ]
	[[ $output == *"an adaptfs manages these workloads: stop it first"* ]]
	[ "$(runc_pid_of)" = "$pid" ]

	stop_daemon TERM
	run "$BATS_TEST_DIRNAME/../../adaptfs" -c "$(conf)" --stop-workloads
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"adk-web: stopping it (container, pid $pid)"* ]]
	! kill -0 "$pid" 2>/dev/null
	! runc state adaptfs-adk-web >/dev/null 2>&1
	[ ! -e /run/netns/adaptfs-adk-web ]
	! ip link show dev "$veth" >/dev/null 2>&1
	for c in /sys/fs/cgroup/*/adaptfs-adk-web /sys/fs/cgroup/adaptfs-adk-web; do
		[ ! -d "$c" ]
	done
	[ ! -e "$(st)/run/workloads/adk-web/state" ]
	[ -z "$(find "$(st)/run" -type s)" ]
	# nothing left that a run of it started
	! pgrep -f -- "$(st)/"
	# and the next adaptfs starts it afresh
	adaptfs_mount --config "$(conf)"
	wait_for -t 90 said "adk-web: started as container"
	! said "adk-web: adopted"
}

@test "a recipe removed while adaptfs was down: its workload is stopped at start" {
	adaptfs_mount --config "$(conf)"
	ready
	pid=$(runc_pid_of)
	stop_daemon TERM
	mv "$(st)/recipes/adk-web.conf" "$(st)/adk-web.conf.removed"
	adaptfs_mount --config "$(conf)"
	wait_for -t 30 said "adk-web: recipe removed (or refused) while adaptfs was not running"
	wait_for -t 30 said "adk-web: stopping it (container, pid $pid)"
	wait_for -t 10 daemon_gone "$pid"
	! runc state adaptfs-adk-web >/dev/null 2>&1
	[ ! -e /run/netns/adaptfs-adk-web ]
	[ ! -e "$ADAPTFS_MNT/adk-web" ]
	mv "$(st)/adk-web.conf.removed" "$(st)/recipes/adk-web.conf"
}

vm_answers() { timeout 3 busybox wget -q -O - "http://$VM:8080/index.html" | grep -q adk-vm-page; }
qemu_pid() { pgrep -f -- "-name adaptfs-adk-vm,"; }
V() { echo "$ADAPTFS_MNT/adk-vm"; }
has_guest_faults() { grep -q '^guest_total ' "$(V)/major_faults"; }
vm_usage_usec() { awk '$1 == "usage_usec" { print $2 }' "$(V)/cpu"; }

@test "a QEMU microvm survives SIGTERM and kill -9 of adaptfs, in cgroups of its own, and is adopted with its QMP socket" {
	[[ -e /dev/net/tun ]] || skip "no /dev/net/tun for the VM's tap"
	adaptfs_mount --config "$(vmconf)"
	wait_for -t "$BOOT_TIMEOUT" said "adk-vm: started as vm" ||
		{ diag; cat "$(st)/vm-run/workloads/adk-vm/console.log"; false; }
	wait_for -t 10 vm_answers
	pid=$(qemu_pid)
	[ -n "$pid" ]
	in_own_cgroups "$pid" adk-vm.vm || { cat "/proc/$pid/cgroup"; false; }
	wait_for -t 30 has_guest_faults
	before=$(vm_usage_usec)
	boots=$(wc -l <"$(st)/vm-data/boots")

	for sig in TERM KILL; do
		stop_daemon "$sig"
		[ "$(qemu_pid)" = "$pid" ]
		vm_answers
		[ -S "$(st)/vm-run/workloads/adk-vm/qmp.sock" ]
		adaptfs_mount --config "$(vmconf)"
		wait_for -t 30 said "adk-vm: adopted: running as vm, pid $pid" ||
			{ diag; cat "$(st)/vm-run/workloads/adk-vm/state"; false; }
		wait_for -t 10 grep -qx "vm adaptfs" "$(V)/kind"
		[ "$(cat "$(V)/mode")" = "container [vm] auto" ]
		# QMP answers the new daemon: the guest's own fault count is back
		wait_for -t 30 has_guest_faults
		[ "$(vm_usage_usec)" -ge "$before" ]
		[ "$(wc -l <"$(st)/vm-data/boots")" -eq "$boots" ]
		vm_answers
	done

	# the explicit stop: nothing left (no QEMU, tap, cgroups, socket)
	tap=$(ip -o link show master "$BR" | awk -F': ' '{ print $2 }' | cut -d@ -f1)
	[ -n "$tap" ]
	stop_daemon TERM
	run "$BATS_TEST_DIRNAME/../../adaptfs" -c "$(vmconf)" --stop-workloads
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"adk-vm: stopping it (vm, pid $pid)"* ]]
	wait_for -t 10 _adapt_pid_gone "$pid"
	! ip link show dev "$tap" >/dev/null 2>&1
	for c in /sys/fs/cgroup/*/adaptfs-adk-vm.vm /sys/fs/cgroup/adaptfs-adk-vm.vm; do
		[ ! -d "$c" ]
	done
	[ -z "$(find "$(st)/vm-run" -type s)" ]
	! pgrep -f -- "-name adaptfs-adk-vm,"
}
