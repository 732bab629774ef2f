#!/usr/bin/env bats
# placement cpus= on a managed workload (adaptfs(5), placement; MANAGED
# WORKLOADS): the pin reaches every instance of it that exists (the runc
# container's cpuset, every thread of the VM's QEMU, and its standby), each
# instance started later is born pinned, and the pin outlives a restart of
# adaptfs. A refused write changes nothing, one the VM's cpuset does not
# allow included.
#
# Everything here is named adp-*: bridge adp-br0 (10.239.0.1/24), recipe
# adp-web (10.239.0.10, standby = yes). What the daemon makes for it is
# adaptfs-adp-web (runc container, netns, cgroups; adaptfs-adp-web.vm:
# QEMU's cgroups) and adapt<hash>[v] interfaces on adp-br0; teardown_file
# removes all of it even if a test failed half way.

BR=adp-br0
WEB=10.239.0.10
SWITCH_TIMEOUT=240

st() { echo "$BATS_FILE_TMPDIR"; }

setup_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	local d
	d=$(st)
	managed_setup "$d" "$BR" 10.239.0.1/24 02:ad:00:00:ed:01
	managed_web_files "$d" "adp-web-page-$$"
	managed_web_recipe "$d/recipes/adp-web.conf" "$d/web-root" "$d/web-data" "$WEB/24" 180 "standby = yes"
	managed_mount --interval 0.5 --config "$d/adaptfs.conf"
}

teardown_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	managed_teardown "$(st)/adaptfs.conf" "$(st)/run" "$BR" adp-web
}

setup() {
	load lib/mount
	load lib/containers
	load lib/managed
	# two CPUs at least, or a pin cannot be told from none
	[ "$(nproc --all)" -ge 2 ] || skip "one CPU online: nothing to pin to apart"
}

teardown() {
	managed_umount_restarted
	teardown_all
}

W() { echo "$ADAPTFS_MNT/adp-web"; }
kind_is() { [ "$(cat "$(W)/kind")" = "$1" ]; }
answers() { timeout 3 busybox wget -q -O - "http://$WEB:8080/index.html" | grep -q adp-web-page; }
stat_key() { awk -v k="$1" '$1 == k { print $2 }' "$(W)/stat"; }
state_key() { awk -v k="$1" '$1 == k { print $2 }' "$(st)/run/workloads/adp-web/state"; }
standby_ready() { [ "$(stat_key standby_ready)" = 1 ]; }
said() { grep -qF "adp-web: $1" "$ADAPTFS_LOG"; }
write_ctl() { timeout "$SWITCH_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$2" "$(W)/$1"; }
daemon_gone() { ! kill -0 "$1" 2>/dev/null; }
show() { tail -n 20 "$ADAPTFS_MNT/events"; cat "$(st)/run/workloads/adp-web/state"; }

placement_cpus() { sed -n 's/.* cpus=//p' "$(W)/placement"; }
# The container's own cpuset (runc's cgroupfs driver: /adaptfs-NAME).
container_cpus() {
	local f=/sys/fs/cgroup/cpuset/adaptfs-adp-web/cpuset.cpus
	[[ -e $f ]] || f=/sys/fs/cgroup/adaptfs-adp-web/cpuset.cpus
	cat "$f"
}
# The cpuset of the VM's QEMU (/adaptfs-NAME.vm, beside the container's).
vm_cpuset_file() {
	local f=/sys/fs/cgroup/cpuset/adaptfs-adp-web.vm/cpuset.cpus
	[[ -e $f ]] || f=/sys/fs/cgroup/adaptfs-adp-web.vm/cpuset.cpus
	echo "$f"
}
# Every thread of PID allowed exactly LIST.
threads_on() { # PID LIST
	local got
	got=$(awk '$1 == "Cpus_allowed_list:" { print $2 }' /proc/"$1"/task/*/status | sort -u)
	[ -n "$got" ] && [ "$got" = "$2" ] || { echo "threads of $1: $got, want $2"; return 1; }
}
# The switch the test asks for, to the standby once it is ready.
switch_to() { # MODE
	wait_for -t "$SWITCH_TIMEOUT" standby_ready || { show; false; }
	run write_ctl mode "$1"
	[ "$status" -eq 0 ] || { show; adaptfs_log; false; }
	kind_is "$1 adaptfs"
	wait_for -t 10 answers
}

@test "a managed container pinned with cpus=: its cpuset, its VM standby's QEMU threads and placement show it; the state keeps it" {
	wait_for -t 60 kind_is "container adaptfs"
	wait_for -t 10 answers
	wait_for -t "$SWITCH_TIMEOUT" standby_ready || { show; false; }
	standby=$(state_key standby_pid)
	[ -n "$standby" ]

	run write_ctl placement cpus=1
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(placement_cpus)" = 1 ]
	[ "$(container_cpus)" = 1 ]
	threads_on "$standby" 1
	[ "$(state_key cpus)" = 1 ]
	said "placement: pinned to cpus 1"
	# the same container, serving on
	[ "$(stat_key mode_switches)" = 0 ]
	answers
}

@test "a refused pin of a managed workload changes nothing: a CPU not online is ERANGE, an unknown host EINVAL" {
	wait_for -t 60 kind_is "container adaptfs"
	before=$(cat "$(W)/placement")
	state=$(state_key cpus)
	run write_ctl placement "cpus=$(nproc --all)"
	[ "$status" -ne 0 ]
	[[ $output == *"Numerical result out of range"* ]]
	run write_ctl placement "host=adp-nowhere"
	[ "$status" -ne 0 ]
	[[ $output == *"Invalid argument"* ]]
	[ "$(cat "$(W)/placement")" = "$before" ]
	[ "$(state_key cpus)" = "$state" ]
	grep -q "adp-web: placement: 'host=adp-nowhere' refused: Invalid argument (unknown host" "$ADAPTFS_MNT/events"
}

@test "a pin the VM standby's cpuset does not allow is ERANGE: neither instance changes, events say why" {
	wait_for -t 60 kind_is "container adaptfs"
	wait_for -t "$SWITCH_TIMEOUT" standby_ready || { show; false; }
	run write_ctl placement cpus=1
	[ "$status" -eq 0 ] || { show; false; }
	standby=$(state_key standby_pid)
	vmset=$(vm_cpuset_file)
	# the standby QEMU's cpuset narrowed to CPU 0 behind adaptfs's back
	echo 0 >"$vmset"
	threads_on "$standby" 0
	run write_ctl placement cpus=1
	echo 0-1 >"$vmset"
	[ "$status" -ne 0 ]
	[[ $output == *"Numerical result out of range"* ]]
	said "placement: cannot pin QEMU (pid $standby): its cpuset does not allow all of these CPUs"
	said "placement: pinning to cpus 1 failed: Numerical result out of range; placement unchanged"
	# the container was never touched, the pin kept is the old one
	[ "$(container_cpus)" = 1 ]
	[ "$(state_key cpus)" = 1 ]
}

@test "the pin follows switches both ways, a re-pin of the VM reaches its container standby, and it outlives a restart of adaptfs" {
	wait_for -t 60 kind_is "container adaptfs"
	run write_ctl placement cpus=1
	[ "$status" -eq 0 ] || { show; false; }

	# the VM it switches to is the standby pinned above; the container
	# prepared as the new standby is created pinned
	switch_to vm
	qemu=$(state_key pid)
	threads_on "$qemu" 1
	[ "$(placement_cpus)" = 1 ]
	wait_for -t "$SWITCH_TIMEOUT" said "standby: container created" || { show; false; }
	[ "$(container_cpus)" = 1 ]

	run write_ctl placement cpus=0
	[ "$status" -eq 0 ] || { show; false; }
	threads_on "$qemu" 0
	[ "$(container_cpus)" = 0 ]
	[ "$(placement_cpus)" = 0 ]

	# a restart: the same QEMU adopted, the pin kept for what starts next
	kill -TERM "$ADAPTFS_PID"
	wait_for -t 30 daemon_gone "$ADAPTFS_PID"
	adaptfs_umount >/dev/null 2>&1 || true
	ADAPTFS_STOP_TIMEOUT=60 adaptfs_mount --interval 0.5 --config "$(st)/adaptfs.conf"
	wait_for -t 30 said "adopted: running as vm, pid $qemu" || { show; adaptfs_log; false; }
	[ "$(state_key cpus)" = 0 ]
	[ "$(placement_cpus)" = 0 ]

	switch_to container
	[ "$(container_cpus)" = 0 ]
	[ "$(placement_cpus)" = 0 ]
	threads_on "$(state_key pid)" 0
}
