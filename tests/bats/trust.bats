#!/usr/bin/env bats
# Trust like sshd's StrictModes (issue 17 item 6): the configuration, the
# recipes, the state and run directories, and every directory above them,
# must be writable by root alone, or nothing in them is acted on.

setup() {
	load lib/mount
	# root's, 0755, under the sticky /tmp that bats puts it in
	T=$BATS_TEST_TMPDIR/trust
	mkdir -m 0755 "$T" "$T/bin"
	MNT=$(mktemp -d /tmp/adaptfs-trust.XXXXXX)
	MARK=$T/transport-ran
	# a transport that says it ran
	printf '#!/bin/sh\ntouch %s\nexit 1\n' "$MARK" > "$T/bin/transport"
	chmod 0755 "$T/bin/transport"
}

teardown() {
	if [ -n "${FG_PID:-}" ] && _adapt_pid_alive "$FG_PID"; then
		kill -TERM "$FG_PID"
		wait_for -t 5 _adapt_pid_gone "$FG_PID" || kill -KILL "$FG_PID" || true
	fi
	if adaptfs_mounted "$MNT"; then fusermount3 -u -z "$MNT"; fi
	rmdir "$MNT" 2>/dev/null || true
	# nobody's files go with the test's directory
	rm -rf "$T"
}

peer_conf() {
	printf '[adaptfs]\nstate_dir = %s/state\n[managed]\nrun_dir = %s/run\n' "$T" "$T"
	printf '[host peer1]\naddress = 192.0.2.1\ntransport = %s/bin/transport\n' "$T"
}

# start DAEMON-ARGS...: the daemon in the foreground with at most 10 s to
# refuse; one that mounted instead is stopped by timeout's SIGTERM.
start() {
	run timeout 10 "$ADAPTFS_BIN" -f --interval 0.5 "$@" "$MNT"
}

@test "a config owned by nobody, even 0644, is refused at start and its transport never runs" {
	peer_conf > "$T/adaptfs.conf"
	chown nobody "$T/adaptfs.conf"
	chmod 0644 "$T/adaptfs.conf"
	start --config "$T/adaptfs.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/adaptfs.conf: is owned by uid $(id -u nobody), not root: refusing it (chown root)"* ]]
	[ ! -e "$MARK" ]
}

@test "a group-writable config, or one in a directory nobody owns, is refused" {
	peer_conf > "$T/adaptfs.conf"
	chmod 0664 "$T/adaptfs.conf"
	start --config "$T/adaptfs.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/adaptfs.conf: is writable by its group: refusing it (chmod g-w)"* ]]
	mkdir -m 0755 "$T/etc"
	peer_conf > "$T/etc/adaptfs.conf"
	chown nobody "$T/etc"
	start --config "$T/etc/adaptfs.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/etc/adaptfs.conf: its directory $T/etc is owned by uid $(id -u nobody), not root: refusing it (chown root $T/etc)"* ]]
	[ ! -e "$MARK" ]
}

@test "a config that becomes nobody's is refused on SIGHUP, with the reason in events" {
	printf '[adaptfs]\nstate_dir = %s/state\n[managed]\nrun_dir = %s/run\n' "$T" "$T" > "$T/adaptfs.conf"
	"$ADAPTFS_BIN" -f --interval 0.5 --config "$T/adaptfs.conf" "$MNT" 2>"$T/log" &
	FG_PID=$!
	wait_for -t 5 test -e "$MNT/host/cores"
	peer_conf > "$T/adaptfs.conf"
	chown nobody "$T/adaptfs.conf"
	kill -HUP "$FG_PID"
	wait_for -t 5 grep -qF "configuration reload failed: $T/adaptfs.conf: is owned by uid $(id -u nobody), not root: refusing it (chown root); keeping the running one" "$MNT/events"
	grep -qF "is owned by uid $(id -u nobody), not root" "$T/log"
	# the peer of the refused file was never taken
	! grep -q peer1 "$MNT/hosts"
}

@test "a group-writable state dir, or one nobody owns, is refused at start" {
	peer_conf > "$T/adaptfs.conf"
	mkdir -m 0775 "$T/state"
	chmod 0775 "$T/state"	# whatever the umask
	start --config "$T/adaptfs.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/state: is writable by its group: refusing it (chmod g-w)"* ]]
	# nobody's, with a journal planted in it that would run the transport
	chmod 0755 "$T/state"
	mkdir -m 0700 "$T/state/journal"
	printf 'engine=lxc\nname=x\nlxc_path=/nonexistent\ntransport=%s/bin/transport\nhost=peer1\nphase=stopped\n' \
		"$T" > "$T/state/journal/migrate-lxc-x"
	chown -R nobody "$T/state"
	start --config "$T/adaptfs.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/state: is owned by uid $(id -u nobody), not root: refusing it (chown root)"* ]]
	[ ! -e "$MARK" ]
}

@test "a run dir to be made under a group-writable directory is refused" {
	mkdir -m 0775 "$T/var"
	chmod 0775 "$T/var"
	printf '[managed]\nrun_dir = %s/var/run/adaptfs\n' "$T" > "$T/adaptfs.conf"
	start --config "$T/adaptfs.conf"
	[ "$status" -eq 1 ]
	[[ $output == *"$T/var/run/adaptfs: its directory $T/var is writable by its group: refusing it (chmod g-w $T/var)"* ]]
}

@test "a recipe owned by nobody is refused and not started" {
	mkdir -m 0755 "$T/recipes"
	printf '[workload]\nrootfs = /\ncommand = %s/bin/transport\n' "$T" > "$T/recipes/trustx$$.conf"
	chown nobody "$T/recipes/trustx$$.conf"
	printf '[adaptfs]\nstate_dir = %s/state\n[managed]\nrun_dir = %s/run\nrecipes = %s/recipes\n' \
		"$T" "$T" "$T" > "$T/adaptfs.conf"
	"$ADAPTFS_BIN" -f --interval 0.5 --config "$T/adaptfs.conf" "$MNT" 2>"$T/log" &
	FG_PID=$!
	wait_for -t 5 test -e "$MNT/host/cores"
	wait_for -t 5 grep -qF "recipe refused: $T/recipes/trustx$$.conf: is owned by uid $(id -u nobody), not root" "$MNT/events"
	[ ! -e "$MNT/trustx$$" ]
	[ ! -e "$T/run/workloads/trustx$$" ]
}
