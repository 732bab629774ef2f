#!/usr/bin/env bats
# The daemon itself: mounting, the tree, the host files, errors users can cause.

load lib/mount

setup_file() {
	load lib/mount
	adaptfs_mount --interval 0.5
}

teardown_file() {
	adaptfs_umount
}

@test "help and version print and exit 0" {
	run "$ADAPTFS_BIN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Usage: adaptfs"* ]]
	run "$ADAPTFS_BIN" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^adaptfs\ [0-9] ]]
}

@test "top level lists events, host and metrics.prom" {
	run ls "$ADAPTFS_MNT"
	[[ "$output" == *events* ]]
	[[ "$output" == *host* ]]
	[[ "$output" == *metrics.prom* ]]
}

@test "host files are flat keyed with the host's figures" {
	run cat "$ADAPTFS_MNT/host/cores"
	[ "$output" = "online $(nproc)" ]
	total=$(( $(awk '/^MemTotal/ {print $2}' /proc/meminfo) * 1024 ))
	grep -qx "total_bytes $total" "$ADAPTFS_MNT/host/memory"
	grep -Eq '^load1 [0-9]+\.[0-9]{2}$' "$ADAPTFS_MNT/host/load"
	wait_for grep -Eq '^usage_percent [0-9]+\.[0-9]{2}$' "$ADAPTFS_MNT/host/cpu"
	# stat carries every figure of the other host files, prefixed with the file name
	grep -qx "memory_total_bytes $total" "$ADAPTFS_MNT/host/stat"
	grep -qx "cores_online $(nproc)" "$ADAPTFS_MNT/host/stat"
	# every line of every flat-keyed file is "key value"
	for f in cores cpu load memory pressure stat; do
		run awk 'NF != 2 || $1 !~ /^[a-z0-9_]+$/ { bad = 1 } END { exit bad }' "$ADAPTFS_MNT/host/$f"
		[ "$status" -eq 0 ]
	done
}

@test "files are read-only: writing gets EACCES, creating gets EPERM" {
	run bash -c "echo 1 > '$ADAPTFS_MNT/host/cpu'"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run touch "$ADAPTFS_MNT/newfile"
	[ "$status" -ne 0 ]
	run mkdir "$ADAPTFS_MNT/newdir"
	[[ "$output" == *"Operation not permitted"* ]]
	run rm -f "$ADAPTFS_MNT/events"
	[ "$status" -ne 0 ]
	# and the daemon is still serving
	grep -q '^online ' "$ADAPTFS_MNT/host/cores"
}

@test "unknown paths are ENOENT" {
	run cat "$ADAPTFS_MNT/no-such-workload/cpu"
	[ "$status" -ne 0 ]
	[[ "$output" == *"No such file or directory"* ]]
	run cat "$ADAPTFS_MNT/host/no-such-file"
	[[ "$output" == *"No such file or directory"* ]]
}

@test "permissions: 0444 files and 0555 directories, readable by a non-root user" {
	[ "$(stat -c %a "$ADAPTFS_MNT/host/cpu")" = 444 ]
	[ "$(stat -c %a "$ADAPTFS_MNT/host")" = 555 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$ADAPTFS_MNT/host/cores"
	[ "$status" -eq 0 ]
	[ "$output" = "online $(nproc)" ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups sh -c "echo x > '$ADAPTFS_MNT/host/cpu'"
	[ "$status" -ne 0 ]
}

@test "events records the mount; poll wakes on a new event" {
	grep -q "adaptfs: mounted at $ADAPTFS_MNT" "$ADAPTFS_MNT/events"
	grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z ' "$ADAPTFS_MNT/events"
}

@test "metrics.prom parses with promtool and has the host" {
	command -v promtool || skip "promtool (Debian package prometheus) not installed"
	grep -q '^adapt_host_cores ' "$ADAPTFS_MNT/metrics.prom"
	run promtool check metrics < "$ADAPTFS_MNT/metrics.prom"
	# promtool exits 0 for clean input; lint warnings would be printed
	[ "$status" -eq 0 ]
}

@test "a missing mount point is a clear error and exit status 1" {
	run "$ADAPTFS_BIN" -f /nonexistent/adaptfs-mnt
	[ "$status" -eq 1 ]
	[[ "$output" == *"mount point /nonexistent/adaptfs-mnt: No such file or directory"* ]]
}

@test "a corrupt config names file, line and key, and exits 1" {
	cfg=$BATS_TEST_TMPDIR/bad.conf
	printf '[adaptfs]\ninterval = 1\n[class]\nbogus_key = 3\n' > "$cfg"
	run "$ADAPTFS_BIN" -f --config "$cfg" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$cfg:4: unknown key 'bogus_key' in section [class]"* ]]
	printf '[adaptfs]\ninterval = fast\n' > "$cfg"
	run "$ADAPTFS_BIN" -f --config "$cfg" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$cfg:2: bad value for key 'interval' in section [adaptfs]"* ]]
	run "$ADAPTFS_BIN" -f --config "$BATS_TEST_TMPDIR/missing.conf" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"missing.conf: No such file or directory"* ]]
	# a syntax error before a bad key: each error names its own line
	printf '[adaptfs]\nnovalue\nfoo = 1\n' > "$cfg"
	run "$ADAPTFS_BIN" -f --config "$cfg" "$BATS_TEST_TMPDIR"
	[[ "$output" == *"$cfg:2: syntax error"* ]]
}

@test "a world-writable config is refused: whoever could write it could act as root" {
	cfg=$BATS_TEST_TMPDIR/open.conf
	printf '[adaptfs]\ninterval = 1\n' > "$cfg"
	chmod 0666 "$cfg"
	run "$ADAPTFS_BIN" -f --config "$cfg" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$cfg: is world-writable: refusing it"* ]]
}

@test "a second adaptfs on the same mount point refuses" {
	run "$ADAPTFS_BIN" -f "$ADAPTFS_MNT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already served by another adaptfs"* ]]
	grep -q '^online ' "$ADAPTFS_MNT/host/cores"
}
