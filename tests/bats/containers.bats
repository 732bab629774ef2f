#!/usr/bin/env bats
# Real containers (LXC, runc) and real servers: discovery by engine name,
# network and memory figures.

setup_file() {
	load lib/mount
	load lib/containers
	adaptfs_mount --interval 0.5
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
	load lib/swap
	swap_release
}

setup() {
	load lib/mount
	load lib/containers
}

teardown() {
	teardown_all
	if [ -n "${NS:-}" ]; then
		ip netns del "$NS" 2>/dev/null || true
		ip link del "${NS}h" 2>/dev/null || true
	fi
	if [ -n "${LOADPID:-}" ]; then
		kill "$LOADPID" 2>/dev/null || true
		wait "$LOADPID" 2>/dev/null || true
	fi
}

key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }
key_at_least() { local v; v=$(key "$1" "$2") && awk -v a="$v" -v b="$3" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

all_files_present() {
	for f in kind cpu io threads sched_wait major_faults class stat; do
		wait_for -t 5 grep -q . "$1/$f" || { echo "empty: $1/$f" >&2; return 1; }
	done
}

@test "an LXC container started after mount appears by its name, and goes when stopped" {
	lxc_up adt-lxc1
	wait_for -t 5 test -d "$ADAPTFS_MNT/adt-lxc1"
	[ "$(cat "$ADAPTFS_MNT/adt-lxc1/kind")" = "container lxc" ]
	all_files_present "$ADAPTFS_MNT/adt-lxc1"
	wait_for -t 3 key_at_least total "$ADAPTFS_MNT/adt-lxc1/threads" 1
	lxc_down adt-lxc1
	wait_for -t 5 test ! -e "$ADAPTFS_MNT/adt-lxc1"
}

@test "a runc container is named from runc's state dir" {
	runc_up adt-runc1
	wait_for -t 5 test -d "$ADAPTFS_MNT/adt-runc1"
	[ "$(cat "$ADAPTFS_MNT/adt-runc1/kind")" = "container runc" ]
	all_files_present "$ADAPTFS_MNT/adt-runc1"
	runc_down adt-runc1
	wait_for -t 5 test ! -e "$ADAPTFS_MNT/adt-runc1"
}

@test "traffic over the container's veth raises its net bytes" {
	runc_up adt-net1
	d=$ADAPTFS_MNT/adt-net1
	wait_for -t 5 test -d "$d"
	wait_for -t 3 key net_rx_bytes "$d/io"
	tx0=$(key net_tx_bytes "$d/io")
	runc_exec_bg adt-net1 sh -c 'head -c 4194304 /dev/zero > /tmp/big; exec httpd -f -p 8080 -h /tmp'
	ip=$(runc_ip adt-net1)
	wait_for -t 5 busybox wget -q -O /dev/null "http://$ip:8080/big"
	wait_for -t 3 key_at_least net_tx_bytes "$d/io" $((tx0 + 4000000))
	key_at_least net_rx_bytes "$d/io" 1
}

@test "nginx serving wrk in a container is class net" {
	command -v nginx && command -v wrk || skip "nginx or wrk not installed"
	NS=adt-ngx$$
	dir=$BATS_TEST_TMPDIR
	ip netns add "$NS"
	ip link add "${NS}h" type veth peer name eth0 netns "$NS"
	ip addr add 10.231.1.1/30 dev "${NS}h"
	ip link set "${NS}h" up
	ip -n "$NS" addr add 10.231.1.2/30 dev eth0
	ip -n "$NS" link set eth0 up
	ip -n "$NS" link set lo up
	mkdir -p "$dir/www"
	head -c 1048576 /dev/urandom > "$dir/www/big"
	cat > "$dir/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $dir/tmp;
	proxy_temp_path $dir/tmp;
	fastcgi_temp_path $dir/tmp;
	uwsgi_temp_path $dir/tmp;
	scgi_temp_path $dir/tmp;
	server { listen 10.231.1.2:8080; root $dir/www; }
}
CONF
	mkdir -p "$dir/tmp"
	cg_spawn web ip netns exec "$NS" nginx -c "$dir/nginx.conf"
	d=$ADAPTFS_MNT/$(cg_id web | cut -c1-12)
	wait_for -t 5 busybox wget -q -O /dev/null http://10.231.1.2:8080/big
	wrk -t1 -c4 -d20s http://10.231.1.2:8080/big > /dev/null 3>&- &
	LOADPID=$!
	wait_for -t 5 key_at_least net_tx_bytes_per_sec "$d/io" 10000000
	wait_for -t 10 grep -q '^net mode=container' "$d/class"
}

@test "a process paging back swapped-out memory raises major_faults and is class memory" {
	load lib/swap
	swap_ensure
	# 200 MiB touched over and over inside a 64 MiB limit: it lives by swapping. The limit
	# goes on before stress-ng allocates (it waits on a fifo): lowering a limit under a
	# fast-growing usage can fail with EBUSY when reclaim does not keep up.
	local gate=$BATS_TEST_TMPDIR/gate
	mkfifo "$gate"
	cg_spawn thrash sh -c 'read -r _ < "$0" && exec stress-ng --vm 1 --vm-bytes 200M --vm-keep --timeout 60' "$gate"
	echo $((64 * 1024 * 1024)) > "$(cg_dir thrash memory)/memory.limit_in_bytes"
	timeout 5 sh -c 'echo go > "$0"' "$gate"
	d=$ADAPTFS_MNT/$(cg_id thrash | cut -c1-12)
	wait_for -t 5 test -d "$d"
	wait_for -t 10 key_at_least total "$d/major_faults" 1000
	wait_for -t 5 key_at_least per_sec "$d/major_faults" 50
	wait_for -t 10 grep -q '^memory mode=container' "$d/class"
}
