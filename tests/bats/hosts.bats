#!/usr/bin/env bats
# Peer hosts from the config: the hosts file, probing through the transport,
# and what placement host= refuses before moving anything.

setup_file() {
	load lib/mount
	load lib/containers
	# unique per run: another engineer's tests may share the machine
	PEER_NS=adt-peer1-$$
	echo "$PEER_NS" > "$BATS_FILE_TMPDIR/peer_ns"
	ip netns add "$PEER_NS"
	ip -n "$PEER_NS" link set lo up
	cfg=$BATS_FILE_TMPDIR/adaptfs.conf
	cat > "$cfg" <<CONF
[host peer1]
address = 10.232.0.2
transport = ip netns exec $PEER_NS
[host dead]
address = 10.232.0.9
transport = false
[host slow]
address = 10.232.0.10
transport = sleep 30;
CONF
	adaptfs_mount --interval 0.5 --config "$cfg"
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
	ip netns del "$(cat "$BATS_FILE_TMPDIR/peer_ns")" 2>/dev/null || true
}

setup() {
	load lib/mount
	load lib/containers
}

teardown() {
	teardown_all
}

@test "hosts lists every peer with its address, cores and reachability" {
	wait_for -t 10 grep -qx "peer1 address=10.232.0.2 cores=$(nproc) reachable=yes" "$ADAPTFS_MNT/hosts"
	wait_for -t 10 grep -qx "dead address=10.232.0.9 reachable=no" "$ADAPTFS_MNT/hosts"
	# a transport that hangs is given up after its deadline, never blocking the tree
	wait_for -t 15 grep -qx "slow address=10.232.0.10 reachable=no" "$ADAPTFS_MNT/hosts"
	grep -q "^host$" <(ls "$ADAPTFS_MNT")
	grep -q "^hosts$" <(ls "$ADAPTFS_MNT")
	timeout 2 cat "$ADAPTFS_MNT/host/cores"
}

@test "placement host= a peer: EOPNOTSUPP for an engine that cannot move, an unreachable one EHOSTUNREACH, an unknown one EINVAL" {
	cg_spawn mover sleep 1000
	d=$ADAPTFS_MNT/$(cg_id mover | cut -c1-12)
	wait_for -t 5 test -d "$d"
	wait_for -t 10 grep -q "dead .*reachable=no" "$ADAPTFS_MNT/hosts"
	before=$(cat "$d/placement")
	run bash -c "echo host=peer1 > '$d/placement'"
	[[ "$output" == *"Operation not supported"* ]]
	grep -q "placement: 'host=peer1' refused: Operation not supported (this engine has no migration" "$ADAPTFS_MNT/events"
	run bash -c "echo host=peer1 cpus=0 > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	# cpus= with a peer is bad input, refused before the peer is asked
	# (adaptfs.5), even when that peer does not answer
	run bash -c "echo host=dead cpus=0 > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	grep -q "placement: 'host=dead cpus=0' refused: Invalid argument (cpus= is for this host" "$ADAPTFS_MNT/events"
	run bash -c "echo host=dead > '$d/placement'"
	[[ "$output" == *"No route to host"* ]]
	run bash -c "echo host=nowhere > '$d/placement'"
	[[ "$output" == *"Invalid argument"* ]]
	# this host by name is where it already is
	echo "host=$(hostname)" > "$d/placement"
	[ "$(cat "$d/placement")" = "$before" ]
	grep -q "placement: 'host=dead' refused: No route to host" "$ADAPTFS_MNT/events"
}

@test "a [host] section without a transport is a config error" {
	bad=$BATS_TEST_TMPDIR/bad.conf
	printf '[host x]\naddress = 10.0.0.1\n' > "$bad"
	run "$ADAPTFS_BIN" -f --config "$bad" "$BATS_TEST_TMPDIR"
	[ "$status" -eq 1 ]
	[[ "$output" == *"[host x] needs both address and transport"* ]]
}
