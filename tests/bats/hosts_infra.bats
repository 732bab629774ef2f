#!/usr/bin/env bats
# Proves the multi-host harness (lib/hosts.bash, helpers/hostexec) that the migration tests use:
# three hosts (netns + cgroup scope + adaptfs each) on one switch, a QEMU guest on hA serving
# HTTP to a client namespace, an LXC container on hB with its cgroup under the scope, hostexec
# itself, a daemon restart after SIGKILL, and hosts_down leaving nothing behind. Needs root,
# qemu-system-x86, linux-image-amd64, busybox-static, lxc, lxc-templates, python3, fuse3.
#   bats tests/bats/hosts_infra.bats

bats_load_library bats-support
bats_load_library bats-assert
load lib/hosts

setup_file() {
    [[ $EUID -eq 0 ]] || return 0
    vm_image_build
    hosts_up hA hB hC
}

teardown_file() {
    hosts_down
}

setup() {
    [[ $EUID -eq 0 ]] || skip "needs root"
}

# the inode of a network namespace, as /proc/PID/ns/net names it
ns_ino() { stat -Lc %i "/run/netns/$1"; }
pid_in_ns() { [[ $(stat -Lc %i "/proc/$1/ns/net") == $(ns_ino "$2") ]]; }
# every line of /proc/PID/cgroup ends in /adt-HOST or below
pid_in_scope() { ! awk -F: -v s="/adt-$2" '$3 != s && index($3, s "/") != 1 { bad = 1 } END { exit !bad }' "/proc/$1/cgroup"; }

# MNT shows guest NAME (as NAME, or NAME.qemu after a name collision)
has_vm() { [[ -d $1/$2 || -d $1/$2.qemu ]]; }
# (busybox 1.35's wget -T segfaults here: the deadline comes from timeout(1))
cli_get() { timeout 3 nsenter --net=/run/netns/adt-cli busybox wget -q -O - "$1"; }
# the guest's uptime in seconds, over HTTP from the client namespace
guest_uptime() { cli_get "http://$1:8080/uptime" | cut -d' ' -f1; }
uptime_above() { # IP SECONDS
    local u
    u=$(guest_uptime "$1") && [[ -n $u ]] && awk -v a="$2" -v b="$u" 'BEGIN { exit !(b > a) }'
}

@test "hosts come up, each with its own adaptfs mounted, outside its scope, in its netns" {
    local h n=0 pid
    for h in hA hB hC; do
        n=$((n + 1))
        adaptfs_mounted "$(host_mnt "$h")"
        [ -e "$(host_mnt "$h")/host/cores" ]
        [ "$(host_addr "$h")" = "10.233.0.$n" ]
        pid=$(host_daemon_pid "$h")
        _adapt_pid_alive "$pid"
        pid_in_ns "$pid" "adt-$h"
        run pid_in_scope "$pid" "$h"
        assert_failure
        run grep -q ":/adt-$h" "/proc/$pid/cgroup"
        assert_failure
        [ -d "/sys/fs/cgroup/cpu/adt-$h" ]
        [ -d "/sys/fs/cgroup/unified/adt-$h" ]
        grep -qx "host_name = $h" "$(host_conf "$h")"
        grep -qx "scope = /adt-$h" "$(host_conf "$h")"
        grep -qx "lxc_path = $(host_dir "$h")/lxc" "$(host_conf "$h")"
    done
    # each daemon reaches its peers through hostexec (its transport)
    wait_for -t 15 grep -qx "hB address=10.233.0.2 cores=$(nproc) reachable=yes" "$(host_mnt hA)/hosts"
    wait_for -t 15 grep -qx "hC address=10.233.0.3 cores=$(nproc) reachable=yes" "$(host_mnt hA)/hosts"
    wait_for -t 15 grep -qx "hA address=10.233.0.1 cores=$(nproc) reachable=yes" "$(host_mnt hC)/hosts"
    run cat "$(host_mnt hB)/hosts"
    assert_output --partial "hA address=10.233.0.1"
    refute_output --partial "hB address"
}

@test "hosts ping each other over the switch; bridges keep their fixed MACs" {
    local a b
    for a in hA hB hC; do
        for b in hA hB hC; do
            [[ $a == "$b" ]] && continue
            run nsenter --net="/run/netns/adt-$a" busybox ping -c 1 -W 2 "$(host_addr "$b")"
            assert_success
        done
    done
    for b in hA hB hC; do
        run nsenter --net=/run/netns/adt-cli busybox ping -c 1 -W 2 "$(host_addr "$b")"
        assert_success
    done
    run ip -n adt-cli -br addr show dev eth0
    assert_output --partial "10.233.0.200/24"
    run ip -n adt-hB -br link show dev br0
    assert_output --partial "02:ad:0a:e9:01:02"
    # nothing of ours in the root namespace
    run ip -br addr
    refute_output --partial "10.233.0."
}

@test "hostexec: netns and cgroup scope, stdin/stdout and exit status pass through" {
    local he=$BATS_TEST_DIRNAME/helpers/hostexec
    run "$he" hB sh -c 'cat /proc/self/cgroup; stat -Lc "ns %i" /proc/self/ns/net'
    assert_success
    assert_line "ns $(ns_ino adt-hB)"
    # every hierarchy (v1 controllers, name=systemd, cgroup2)
    run awk -F: '/^[0-9]+:/ && $3 != "/adt-hB" { print "outside: " $0 }' <<<"$output"
    assert_output ""
    run "$he" hB cat /proc/self/cgroup
    assert_line "0::/adt-hB"
    assert_line --regexp '^[0-9]+:cpuset:/adt-hB$'
    assert_line --regexp '^[0-9]+:name=systemd:/adt-hB$'

    # stdin and stdout, byte for byte (1 MiB of random data)
    head -c 1048576 /dev/urandom >"$BATS_TEST_TMPDIR/in"
    "$he" hA cat <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
    cmp "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/out"
    run bash -c "echo hello | '$he' hC tr a-z A-Z"
    assert_output HELLO

    # exit status, and what the adaptfs transport does with it (sh -c "TRANSPORT cmd")
    run "$he" hA sh -c 'exit 42'
    assert_equal "$status" 42
    run sh -c "$he hC nproc"
    assert_success
    assert_output "$(nproc)"

    # environment: the host's config, the repository's binaries first in PATH
    run "$he" hC sh -c 'echo "$ADAPTFS_CONFIG"; command -v adaptfs'
    assert_line "$(host_conf hC)"
    assert_line "$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/adaptfs"

    # the host's own devices under /sys/class/net, the cgroup mounts still there
    run "$he" hA ls /sys/class/net
    assert_line br0
    assert_line up0
    refute_line eth0
    "$he" hA test -f /sys/fs/cgroup/cpu/adt-hA/cgroup.procs

    # unknown host
    run "$he" nosuchhost true
    assert_equal "$status" 125
}

@test "a VM on hA serves HTTP to the client namespace and its uptime grows" {
    local pid ip out up1 up2
    run host_vm_up hA web1
    assert_success
    assert_output --partial "web1 host=hA pid="
    pid=$(host_vm_pid hA web1)
    ip=$(host_vm_ip hA web1)
    [ "$ip" = 10.233.0.101 ]
    [ "$(host_vm_mac hA web1)" = 02:ad:0a:e9:00:65 ]
    pid_in_ns "$pid" adt-hA
    pid_in_scope "$pid" hA
    [ -S "$(host_vm_qmp hA web1)" ]
    [ "$(host_vm_disk hA web1)" = "$ADAPT_HOSTS_DIR/shared/web1.raw" ]
    run host_vm_qmp_cmd hA web1 '{"execute":"query-status"}'
    assert_output --partial '"running": true'
    # the tap is on hA's br0
    run ip -n adt-hA -d link show dev "$(host_vm_tap hA web1)"
    assert_output --partial "master br0"

    wait_for -t 10 cli_get "http://$ip:8080/index.html"
    run cli_get "http://$ip:8080/index.html"
    assert_output "adaptfs-vm web1"
    up1=$(guest_uptime "$ip")
    [[ $up1 =~ ^[0-9]+\.[0-9]+$ ]]
    wait_for -t 5 uptime_above "$ip" "$up1"

    # the client loop: one line per request, ok while the guest answers
    out=$BATS_TEST_TMPDIR/client.log
    host_client_bg adt-cli "http://$ip:8080/uptime" "$out" >/dev/null
    pid=$HOST_CLIENT_PID
    wait_for -t 10 awk 'END { exit !(NR >= 20) }' "$out"
    host_client_stop "$pid"
    _adapt_pid_gone "$pid"
    # 13 digits: milliseconds since the epoch (no {13}: mawk has no intervals)
    run awk '$2 != "ok" || $1 !~ /^[0-9]+$/ || length($1) != 13' "$out"
    assert_output ""
    # about 50 ms apart (median gap; a loaded machine may stretch single ones)
    run bash -c "awk 'NR > 1 { print \$1 - p } { p = \$1 }' '$out' | sort -n | awk '{ d[NR] = \$1 } END { print d[int((NR + 1) / 2)] }'"
    (( output >= 40 && output <= 100 ))

    # hA's adaptfs shows the guest, hB's (another scope) does not. QEMU is found by the
    # process-table scan: up to one rescan (10 s) after it started. Open issue (adaptfs, not
    # this harness): the -daemonize parent and child QEMU share -name for a moment; a sweep in
    # that window names the guest web1.qemu for good (the parent's "web1" disappears).
    wait_for -t 15 has_vm "$(host_mnt hA)" web1
    [ -d "$(host_mnt hA)/web1" ] || echo "# adaptfs on hA named the guest $(ls "$(host_mnt hA)" | grep '^web1' | tr '\n' ' ')(daemonize collision)" >&3
    run has_vm "$(host_mnt hB)" web1
    assert_failure
}

@test "an LXC container on hB is reachable and its cgroups are under /adt-hB" {
    local pid ip d
    host_lxc_up hB ct1
    ip=$(host_lxc_ip hB ct1)
    [ "$ip" = 10.233.0.151 ]
    for d in cpu memory pids unified; do
        [ -d "/sys/fs/cgroup/$d/adt-hB/lxc.payload.ct1" ]
        [ ! -e "/sys/fs/cgroup/$d/lxc.payload.ct1" ]
    done
    pid=$(host_lxc_pid hB ct1)
    grep -q ':/adt-hB/lxc.payload.ct1' "/proc/$pid/cgroup"
    pid_in_scope "$pid" hB
    run nsenter --net=/run/netns/adt-cli busybox ping -c 1 -W 2 "$ip"
    assert_success
    run nsenter --net=/run/netns/adt-hA busybox ping -c 1 -W 2 "$ip"
    assert_success
    run host_lxc_exec hB ct1 cat /sys/class/net/eth0/address
    assert_output 02:ad:0a:e9:00:97
    # only hostexec of hB reaches its command socket (abstract socket, per netns)
    run hostexec hB lxc-info -P "$(host_dir hB)/lxc" -n ct1 -sH
    assert_output RUNNING
    wait_for -t 15 test -d "$(host_mnt hB)/ct1"
    [ ! -e "$(host_mnt hA)/ct1" ]
}

@test "host_restart brings back a daemon killed with SIGKILL" {
    local old new
    old=$(host_daemon_pid hC)
    kill -KILL "$old"
    wait_for -t 5 _adapt_pid_gone "$old"
    host_restart hC
    new=$(host_daemon_pid hC)
    [ "$new" != "$old" ]
    _adapt_pid_alive "$new"
    pid_in_ns "$new" adt-hC
    timeout 2 cat "$(host_mnt hC)/host/cores"
    run awk -v m="$(host_mnt hC)" '$5 == m' /proc/self/mountinfo
    [ "${#lines[@]}" -eq 1 ]
}

@test "hosts_down leaves nothing behind" {
    local pids=() p h leaks=() out holder
    for h in hA hB hC; do
        pids+=("$(host_daemon_pid "$h")")
        pids+=($(_hosts_cg_pids "$h"))
    done
    # a client still running, a stray process in a scope and one in a namespace
    host_client_bg adt-cli "http://$(host_vm_ip hA web1):8080/" "$BATS_TEST_TMPDIR/c2.log" >/dev/null
    pids+=("$HOST_CLIENT_PID")
    "$HOSTEXEC" hB sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
    pids+=("$!")
    nsenter --net=/run/netns/adt-hC sleep 1000 </dev/null >/dev/null 2>&1 3>&- &
    pids+=("$!")
    wait_for -t 5 pid_in_scope "${pids[-2]}" hB
    ((${#pids[@]} >= 8))

    holder=$(cat "$(_hosts_holder_file)")
    # -k: keep the lock while looking for leftovers (another run waiting for it would set its
    # own hosts up at once)
    hosts_down -k

    for p in "${pids[@]}"; do
        _adapt_pid_alive "$p" && leaks+=("process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)")
    done
    out=$(ip netns list | awk '$1 ~ /^adt-(sw|cli|h[ABC])$/')
    [[ -z $out ]] || leaks+=("netns: $out")
    out=$(ls -d /sys/fs/cgroup/*/adt-h[ABC] 2>/dev/null || true)
    [[ -z $out ]] || leaks+=("cgroups: $out")
    out=$(awk -v d="$ADAPT_HOSTS_DIR" 'index($5, d) == 1' /proc/self/mountinfo)
    [[ -z $out ]] || leaks+=("mounts: $out")
    [[ ! -e $ADAPT_HOSTS_DIR ]] || leaks+=("$ADAPT_HOSTS_DIR")
    if ((${#leaks[@]})); then
        printf 'leaked: %s\n' "${leaks[@]}"
        return 1
    fi
    hosts_down
    # the lock is released (its holder gone), and hosts_down is idempotent
    _adapt_pid_gone "$holder"
    [[ $(cat "$HOSTS_LOCK.owner" 2>/dev/null) != "$holder" ]]
    hosts_down
}
