#!/usr/bin/env bats
# [discovery] scope: an adaptfs instance owns one cgroup subtree (one "host"
# of several on a machine) and shows neither containers nor QEMU guests
# outside it.

setup_file() {
	load lib/mount
	load lib/containers
	cfg=$BATS_FILE_TMPDIR/adaptfs.conf
	printf '[discovery]\nscope = /adt-scope/\n' > "$cfg"
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

@test "containers below the scope are shown, those outside are not" {
	CG_PATH='/adt-scope/docker/{id}' cg_spawn inside sleep 1000
	cg_spawn outside sleep 1000
	in=$ADAPTFS_MNT/$(cg_id inside | cut -c1-12)
	out=$ADAPTFS_MNT/$(cg_id outside | cut -c1-12)
	wait_for -t 5 test -d "$in"
	# the outside one is older than the last sweep that listed the inside one
	[ ! -e "$out" ]
	grep -q "^$(cg_id inside | cut -c1-12)$" <(ls "$ADAPTFS_MNT")
}

@test "a QEMU process is shown only while its cgroup is inside the scope" {
	[[ -x /usr/bin/qemu-system-x86_64 ]] || skip "qemu-system-x86 is not installed"
	local qemu=(/usr/bin/qemu-system-x86_64 -M microvm -accel tcg -m 32 -nodefaults
		-no-user-config -display none -S)
	# a sibling path that only shares the prefix is outside
	CG_PATH='/adt-scope-x/{id}' cg_spawn guest_out "${qemu[@]}" -name scopeout
	CG_PATH='/adt-scope/{id}' cg_spawn guest_in "${qemu[@]}" -name scopein
	wait_for -t 10 test -d "$ADAPTFS_MNT/scopein"
	# the older guest was looked at (and is, every sample, while it is outside)
	[ ! -e "$ADAPTFS_MNT/scopeout" ]
	# moved into the scope, it appears
	echo "$(cg_pid guest_out)" > "$(cg_dir guest_in cpuacct)/cgroup.procs"
	wait_for -t 15 test -d "$ADAPTFS_MNT/scopeout"
}
