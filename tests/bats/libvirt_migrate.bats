#!/usr/bin/env bats
# placement host=PEER on libvirt's guests goes through libvirt: two test hosts (lib/hosts.bash),
# each with a libvirtd of its own in its network namespace (lib/libvirt.bash), each adaptfs
# given its libvirtd ([libvirt] uri) and hA's the URI of hB's ([host hB] libvirt_uri, over
# TCP). A TCG guest serving HTTP on hA's bridge moves to hB live by virsh migrate --p2p while
# a client in a third namespace keeps asking it.
#
# Needs what lib/hosts.bash and lib/libvirt.bash need. Skips, saying why, when libvirt cannot
# run here.
#   bats --timing tests/bats/libvirt_migrate.bats

bats_load_library bats-support
bats_load_library bats-assert

setup_file() {
	load lib/hosts
	load lib/libvirt
	export LV_SKIP LV_SERIAL_DIR
	LV_SKIP=$(lv_why_not)
	[[ -z $LV_SKIP ]] || return 0
	vm_image_build
	hosts_up hA hB
	# the console file is the same path on both ends, as the domain's XML travels
	LV_SERIAL_DIR=$ADAPT_HOSTS_DIR/shared
	mkdir -p "$LV_SERIAL_DIR"
	local h
	for h in hA hB; do
		LV_SKIP=$(lv_start "$(host_dir "$h")/libvirt" "$h") || return 0
		printf '[libvirt]\nuri = %s\n' "$(lv_uri "$(host_dir "$h")/libvirt")" >>"$(host_conf "$h")"
	done
	sed -i "/^\[host hB\]\$/a libvirt_uri = qemu+tcp://$(host_addr hB)/system" "$(host_conf hA)"
	grep -q '^libvirt_uri = ' "$(host_conf hA)"
	host_restart hA
	host_restart hB
}

teardown_file() {
	load lib/hosts
	load lib/libvirt
	local h
	for h in hA hB; do
		[[ -d $(host_dir "$h" 2>/dev/null)/libvirt ]] && lv_stop "$(host_dir "$h")/libvirt"
	done
	hosts_down
}

setup() {
	[[ -z $LV_SKIP ]] || skip "$LV_SKIP"
	load lib/hosts
	load lib/libvirt
}

lv() { local h=$1; shift; lv_virsh "$(host_dir "$h")/libvirt" "$@"; }

# guest_up H NAME IP: a transient domain on H's libvirtd serving HTTP at IP, once it is ready
guest_up() {
	local h=$1 name=$2 ip=$3 xml
	xml=$(host_dir "$h")/libvirt/$name.xml
	lv_domain_xml "$name" httpd "$(printf '02:ad:0a:e9:00:%02x' "${ip##*.}")" "$ip" >"$xml"
	lv "$h" create "$xml" >/dev/null
	wait_for -t 60 grep -q "$VM_READY_MARKER" "$LV_SERIAL_DIR/$name.serial.log"
}

# reload H: SIGHUP to H's adaptfs, back once it says it read its configuration again
reload() {
	local ev n0
	ev=$(host_mnt "$1")/events
	n0=$(grep -c 'configuration reloaded' "$ev" || true)
	kill -HUP "$(host_daemon_pid "$1")"
	wait_for -t 10 sh -c "[ \$(grep -c 'configuration reloaded' '$ev') -gt $n0 ]"
}

# running H NAME: libvirt on H runs NAME
running() { [ "$(lv "$1" domstate "$2" 2>/dev/null)" = running ]; }
# runs_after_move H NAME: ... once the move's last step has reached it (a
# domstate in the moment after the source's virsh returns may still fail).
# A guest whose kernel broke after the move is QEMU's TCG pre-copy, not
# adaptfs's doing or libvirt's: skip, saying so.
runs_after_move() {
	local crash log=$LV_SERIAL_DIR/$2.serial.log
	wait_for -t 10 running "$1" "$2" && return 0
	echo "libvirt on $1: $(lv "$1" domstate --reason "$2" 2>&1)"
	tail -n 5 "$log" | tr -d '\r'
	crash=$(guest_crash_line "$log") &&
		skip "the guest's kernel broke after a completed move ($crash): QEMU's TCG pre-copy, adaptfs.conf(5) BUGS"
	return 1
}

@test "a libvirt guest moves live to the peer's libvirtd: the client sees at most the downtime, the guest keeps its uptime" {
	local a b ip=$HOSTS_NET.180 out before after line downtime longest
	a=$(host_mnt hA) b=$(host_mnt hB)
	guest_up hA lvg1 "$ip"
	wait_for -t 10 test -d "$a/lvg1"
	[ "$(cat "$a/lvg1/kind")" = "vm libvirt" ]
	out=$BATS_TEST_TMPDIR/client
	host_client_bg adt-cli "http://$ip:8080/index.html" "$out" >/dev/null
	wait_for -t 20 grep -q ' ok$' "$out"
	before=$(uptime_of "$ip")

	echo host=hB >"$a/lvg1/placement"
	grep lvg1 "$a/events"
	# libvirt on both ends says where it runs; adaptfs's trees follow
	runs_after_move hB lvg1
	! lv hA domstate lvg1 2>/dev/null
	[ "$(pgrep -fc -- "-name guest=lvg1,")" -eq 1 ]
	wait_for -t 10 test -d "$b/lvg1"
	wait_for -t 10 test ! -e "$a/lvg1"
	[ "$(cut -d' ' -f1 "$b/lvg1/placement")" = "host=hB" ]
	after=$(uptime_of "$ip")
	awk -v a="$after" -v b="$before" 'BEGIN { exit !(a > b) }'

	wait_for -t 5 client_past "$out" $(($(date +%s%3N) + 500))
	host_client_stop "$HOST_CLIENT_PID"
	line=$(grep 'lvg1: placement: moved to hB live (libvirt) in' "$a/events")
	downtime=$(sed 's/.*downtime \([0-9]*\) ms.*/\1/' <<<"$line")
	longest=$(client_longest_gap "$out")
	echo "downtime ${downtime} ms, longest client error stretch ${longest} ms"
	[ "$longest" -le $((downtime + 1000)) ]
	[ "$(awk '$1 == "migrations" { print $2 }' "$a/host/stat")" = 1 ]
	# the downtime libvirt measured
	[ "$(awk '$1 == "migration_last_downtime_usec" { print $2 }' "$a/host/stat")" = "$((downtime * 1000))" ]
}

# key K of FILE is a number above N
key_above() { awk -v k="$1" -v n="$3" '$1 == k && $2 ~ /^[0-9]+$/ && $2 > n { ok = 1 } END { exit !ok }' "$2"; }

@test "while libvirt moves it, NAME/migration shows libvirt's figures, and events its phases" {
	local a conf ip=$HOSTS_NET.183 writer sent
	a=$(host_mnt hA) conf=$(host_conf hA)
	guest_up hA lvg4 "$ip"
	wait_for -t 10 test -d "$a/lvg4"
	# 16 MiB/s: the copy of its 128 MiB takes seconds
	cp "$conf" "$BATS_TEST_TMPDIR/conf.orig"
	printf '[migration]\nmax_bandwidth = 16777216\n' >>"$conf"
	reload hA
	( echo host=hB >"$a/lvg4/placement" ) 2>/dev/null &
	writer=$!
	wait_for -t 30 grep -qx 'phase active' "$a/lvg4/migration"
	grep -qx 'host hB' "$a/lvg4/migration"
	key_above total_bytes "$a/lvg4/migration" $((100 << 20))
	sent=$(awk '$1 == "sent_bytes" { print $2 }' "$a/lvg4/migration")
	wait_for -t 10 key_above sent_bytes "$a/lvg4/migration" "$sent"
	wait "$writer"
	cp "$BATS_TEST_TMPDIR/conf.orig" "$conf"
	reload hA
	grep 'lvg4: placement: moving to hB: active$' "$a/events"
	grep 'lvg4: placement: moved to hB live (libvirt)' "$a/events"
	runs_after_move hB lvg4
	lv hB destroy lvg4 >/dev/null
}

@test "without the peer's libvirt_uri a libvirt guest is not moved: EOPNOTSUPP, the reason in events" {
	local a conf ip=$HOSTS_NET.181
	a=$(host_mnt hA) conf=$(host_conf hA)
	guest_up hA lvg2 "$ip"
	wait_for -t 10 test -d "$a/lvg2"
	sed -i '/^libvirt_uri = /d' "$conf"
	reload hA
	run bash -c "echo host=hB > '$a/lvg2/placement'"
	grep lvg2 "$a/events"
	sed -i "/^\[host hB\]\$/a libvirt_uri = qemu+tcp://$(host_addr hB)/system" "$conf"
	reload hA
	assert_failure
	assert_output --partial "Operation not supported"
	grep -q "lvg2: placement: 'host=hB' refused: .*no libvirt_uri" "$a/events"
	running hA lvg2
	lv hA destroy lvg2 >/dev/null
}

# last: it stops hB's libvirtd
@test "a move libvirt cannot make (the peer's libvirtd is down): the write fails with virsh's reason, the guest runs on here" {
	local a ip=$HOSTS_NET.182 out pid
	a=$(host_mnt hA)
	guest_up hA lvg3 "$ip"
	wait_for -t 10 test -d "$a/lvg3"
	out=$BATS_TEST_TMPDIR/client
	host_client_bg adt-cli "http://$ip:8080/index.html" "$out" >/dev/null
	wait_for -t 20 grep -q ' ok$' "$out"
	pid=$(<"$(host_dir hB)/libvirt/libvirtd.pid")
	kill -TERM "$pid"
	wait_for -t 10 _adapt_pid_gone "$pid"

	run bash -c "echo host=hB > '$a/lvg3/placement'"
	assert_failure
	grep "lvg3: placement: moving to hB failed: .*; it runs here, unchanged" "$a/events"
	running hA lvg3
	test -d "$a/lvg3"
	# it still answers here
	wait_for -t 5 client_past "$out" $(($(date +%s%3N) + 500))
	host_client_stop "$HOST_CLIENT_PID"
	[ "$(tail -n1 "$out" | cut -d' ' -f2)" = ok ]
}
