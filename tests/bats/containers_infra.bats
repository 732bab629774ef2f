#!/usr/bin/env bats
# Proves the bats helpers themselves (lib/containers.bash, lib/mount.bash) work on this host:
# real LXC and runc containers with TCP reachable addresses, plain docker-like cgroups with
# real processes, and the mount/umount helpers (against helpers/fake-adaptfs, a tmpfs stand-in,
# so that these tests do not depend on the daemon). Needs root.
#   bats tests/bats/containers_infra.bats

bats_load_library bats-support
bats_load_library bats-assert
load lib/containers
load lib/mount

LXC_NAME=adt-infra-lxc
RUNC_NAME=adt-infra-runc

setup_file() {
    [[ $EUID -eq 0 ]] || return 0
    # a workload shared by all tests: per-test teardown_all must leave it alone
    cg_spawn shared sleep 1000
    cg_id shared >>"$BATS_FILE_TMPDIR/cg-ids"
}

setup() {
    [[ $EUID -eq 0 ]] || skip "needs root"
}

teardown() {
    teardown_all
    adaptfs_umount >/dev/null 2>&1 || true
}

# Nothing these tests created may be left once the file is done.
teardown_file() {
    local leaks=() d id
    # file scope: setup_file's objects, then the bridge once unused. (bats does not stop
    # teardown_file at a failing command, so collect the status.)
    teardown_all || leaks+=("teardown_all failed (see above)")
    [[ -e /var/lib/lxc/$LXC_NAME ]] && leaks+=("/var/lib/lxc/$LXC_NAME")
    [[ -e /run/runc/$RUNC_NAME ]] && leaks+=("/run/runc/$RUNC_NAME")
    [[ -e /run/netns/adt-$RUNC_NAME ]] && leaks+=("netns adt-$RUNC_NAME")
    for d in /sys/fs/cgroup/*/lxc.payload.$LXC_NAME /sys/fs/cgroup/*/lxc.monitor.$LXC_NAME \
        /sys/fs/cgroup/*/$RUNC_NAME /sys/fs/cgroup/*/lxc.pivot; do
        [[ -e $d ]] && leaks+=("$d")
    done
    if [[ -f $BATS_FILE_TMPDIR/cg-ids ]]; then
        while read -r id; do
            for d in /sys/fs/cgroup/*/docker/"$id" /sys/fs/cgroup/*/machine.slice/libpod-"$id".scope \
                /sys/fs/cgroup/cpuset/adt-infra/"$id"; do
                [[ -e $d ]] && leaks+=("$d")
            done
        done <"$BATS_FILE_TMPDIR/cg-ids"
    fi
    # the bridge goes once no helper-owned address is left (other users may hold some)
    if ip link show dev adapttest0 >/dev/null 2>&1 && [[ ! -s /run/adaptfs-tests/addrs ]]; then
        leaks+=("bridge adapttest0")
    fi
    if ((${#leaks[@]})); then
        printf 'leaked: %s\n' "${leaks[@]}" >&3
        return 1
    fi
}

# send a line to IP:PORT where `nc -l` listens inside the container, check it arrived
tcp_roundtrip() { # EXEC_FN EXEC_BG_FN NAME IP
    local exec=$1 exec_bg=$2 name=$3 ip=$4
    "$exec_bg" "$name" sh -c 'nc -l -p 9000 >/tmp/got'
    wait_for sh -c "echo hello-$name | busybox nc -w 1 $ip 9000"
    wait_for "$exec" "$name" grep -qx "hello-$name" /tmp/got

    "$exec_bg" "$name" sh -c "echo page-$name >/tmp/index.html; exec httpd -f -p 8080 -h /tmp"
    wait_for busybox wget -q -O /dev/null "http://$ip:8080/index.html"
    run busybox wget -q -O - "http://$ip:8080/index.html"
    assert_success
    assert_output "page-$name"
}

@test "lxc_up: busybox container runs in lxc.payload.NAME and is reachable over TCP" {
    lxc_up "$LXC_NAME"
    run lxc-info -n "$LXC_NAME" -sH
    assert_output RUNNING

    local pid c
    pid=$(lxc_pid "$LXC_NAME")
    for c in cpu cpuacct memory blkio pids; do
        assert [ -d "/sys/fs/cgroup/$c/lxc.payload.$LXC_NAME" ]
        run grep -qx "$pid" "/sys/fs/cgroup/$c/lxc.payload.$LXC_NAME/cgroup.procs"
        assert_success
    done

    run lxc_exec "$LXC_NAME" hostname
    assert_output "$LXC_NAME"
    assert_equal "$(lxc_ip "$LXC_NAME")" "$(awk '$2 == "lxc" && $3 == n { print "10.231.0." $1 }' n="$LXC_NAME" /run/adaptfs-tests/addrs)"
    tcp_roundtrip lxc_exec lxc_exec_bg "$LXC_NAME" "$(lxc_ip "$LXC_NAME")"

    lxc_down "$LXC_NAME"
    run lxc-info -n "$LXC_NAME"
    assert_failure
    assert [ ! -e "/sys/fs/cgroup/cpu/lxc.payload.$LXC_NAME" ]
}

@test "runc_up: busybox bundle runs in cgroup /NAME, state.json exists, reachable over TCP" {
    runc_up "$RUNC_NAME"
    assert [ -f "/run/runc/$RUNC_NAME/state.json" ]
    run jq -r .status < <(runc state "$RUNC_NAME")
    assert_output running

    local pid c
    pid=$(runc_pid "$RUNC_NAME")
    for c in cpu cpuacct memory blkio pids unified; do
        run grep -qx "$pid" "/sys/fs/cgroup/$c/$RUNC_NAME/cgroup.procs"
        assert_success
    done
    run grep -c ":/$RUNC_NAME\$" "/proc/$pid/cgroup"
    assert_output 10 # every hierarchy on this host, cgroup2 included

    tcp_roundtrip runc_exec runc_exec_bg "$RUNC_NAME" "$(runc_ip "$RUNC_NAME")"

    runc_down "$RUNC_NAME"
    assert [ ! -e "/run/runc/$RUNC_NAME" ]
    assert [ ! -e "/sys/fs/cgroup/cpu/$RUNC_NAME" ]
    assert [ ! -e "/run/netns/adt-$RUNC_NAME" ]
}

@test "lxc and runc containers side by side get distinct addresses and reach each other" {
    lxc_up "$LXC_NAME"
    runc_up "$RUNC_NAME"
    local a b
    a=$(lxc_ip "$LXC_NAME")
    b=$(runc_ip "$RUNC_NAME")
    assert [ "$a" != "$b" ]
    runc_exec_bg "$RUNC_NAME" sh -c 'echo from-runc >/tmp/index.html; exec httpd -f -p 8080 -h /tmp'
    wait_for lxc_exec "$LXC_NAME" wget -q -O /dev/null "http://$b:8080/index.html"
    run lxc_exec "$LXC_NAME" wget -q -O - "http://$b:8080/index.html"
    assert_output from-runc
}

@test "cg_spawn: process and its children live in /docker/<64-hex-id> of every controller" {
    cg_spawn web bash -c 'sleep 1000 & sleep 1000 & wait'
    local id pid c
    id=$(cg_id web)
    pid=$(cg_pid web)
    echo "$id" >>"$BATS_FILE_TMPDIR/cg-ids"
    assert_regex "$id" '^[0-9a-f]{64}$'
    assert_equal "$(cg_path web)" "/docker/$id"
    for c in cpuacct cpu memory blkio pids unified; do
        run grep -qx "$pid" "/sys/fs/cgroup/$c/docker/$id/cgroup.procs"
        assert_success
    done
    run grep -E "^[0-9]+:(cpu|cpuacct|memory|blkio|pids):/docker/$id\$" "/proc/$pid/cgroup"
    assert_equal "${#lines[@]}" 5
    # the children were forked after the move, so they are members too
    wait_for sh -c "[ \$(wc -l <$(cg_dir web pids)/cgroup.procs) -eq 3 ]"

    cg_kill web
    run _adapt_pid_alive "$pid"
    assert_failure
    assert [ ! -e "/sys/fs/cgroup/memory/docker/$id" ]
}

@test "cg_spawn: CG_PATH template gives podman/nspawn-like layouts; teardown_all removes them" {
    CG_PATH='/machine.slice/libpod-{id}.scope' cg_spawn pod sleep 1000
    CG_PATH='/machine.slice/systemd-nspawn@{name}.service' CG_CONTROLLERS='cpu memory' \
        cg_spawn nsp sleep 1000
    local id
    id=$(cg_id pod)
    echo "$id" >>"$BATS_FILE_TMPDIR/cg-ids"
    run grep -qx "$(cg_pid pod)" "/sys/fs/cgroup/cpuacct/machine.slice/libpod-$id.scope/cgroup.procs"
    assert_success
    run grep -qx "$(cg_pid nsp)" "/sys/fs/cgroup/memory/machine.slice/systemd-nspawn@nsp.service/cgroup.procs"
    assert_success
    assert [ ! -e /sys/fs/cgroup/pids/machine.slice/systemd-nspawn@nsp.service ]
    # a short-lived command is placed too (readiness is signalled before exec)
    cg_spawn quick true
    # left for teardown_all
}

@test "cg_spawn: CG_CONTROLLERS with cpuset gets usable cpus/mems on every new level" {
    CG_PATH='/adt-infra/{id}' CG_CONTROLLERS='cpuset cpu' cg_spawn pinned sleep 1000
    local id dir
    id=$(cg_id pinned)
    echo "$id" >>"$BATS_FILE_TMPDIR/cg-ids"
    dir=$(cg_dir pinned cpuset)
    assert_equal "$dir" "/sys/fs/cgroup/cpuset/adt-infra/$id"
    assert_equal "$(cat "$dir/cpuset.cpus")" "$(cat /sys/fs/cgroup/cpuset/cpuset.cpus)"
    echo 0 >"$dir/cpuset.cpus"
    run grep Cpus_allowed_list "/proc/$(cg_pid pinned)/status"
    assert_output --regexp ':[[:space:]]+0$'
}

@test "the workload started in setup_file survives the per-test teardowns" {
    run _adapt_pid_alive "$(cg_pid shared)"
    assert_success
    run grep -qx "$(cg_pid shared)" "/sys/fs/cgroup/cpu/docker/$(cg_id shared)/cgroup.procs"
    assert_success
}

@test "down helpers are idempotent and accept unknown names" {
    run lxc_down adt-infra-never
    assert_success
    run runc_down adt-infra-never
    assert_success
    run cg_kill adt-infra-never
    assert_success
    run teardown_all
    assert_success
}

@test "wait_for: succeeds when the command does, times out with a message" {
    local f=$BATS_TEST_TMPDIR/flag
    (sleep 0.2 && touch "$f") 3>&- &
    wait_for -t 5 test -e "$f"
    run wait_for -t 0.3 false
    assert_failure
    assert_output --partial "wait_for: timed out after 0.3s: false"
}

@test "adaptfs_mount/adaptfs_umount: starts the daemon on a fresh mount point and stops it" {
    ADAPTFS_BIN=$BATS_TEST_DIRNAME/helpers/fake-adaptfs
    export FAKE_ADAPTFS_ARGS=$BATS_TEST_TMPDIR/args
    adaptfs_mount --config /dev/null
    assert [ -e "$ADAPTFS_MNT/host/cores" ]
    adaptfs_mounted
    run cat "$FAKE_ADAPTFS_ARGS"
    assert_output "$(printf '%s\n' -f --interval 1 --state-dir "$(_adapt_state)/adaptfs-state" --config /dev/null "$ADAPTFS_MNT")"
    local mnt=$ADAPTFS_MNT pid=$ADAPTFS_PID
    adaptfs_umount
    assert_equal "$ADAPTFS_EXIT_STATUS" 0
    assert [ ! -e "/proc/$pid" ]
    run adaptfs_mounted "$mnt"
    assert_failure
    assert [ ! -e "$mnt" ]
    # idempotent
    adaptfs_umount
}

@test "adaptfs_umount: falls back to SIGKILL and a lazy unmount, and reports it" {
    ADAPTFS_BIN=$BATS_TEST_DIRNAME/helpers/fake-adaptfs
    ADAPTFS_STOP_TIMEOUT=0.5
    export FAKE_ADAPTFS_MODE=ignore-term
    adaptfs_mount --interval 2
    local mnt=$ADAPTFS_MNT
    run adaptfs_umount # in a subshell: variables stay, so check the effects
    assert_failure
    assert_output --partial "after SIGTERM; sending SIGKILL"
    assert_output --partial "still mounted"
    run adaptfs_mounted "$mnt"
    assert_failure
    assert [ ! -e "$mnt" ]
    unset ADAPTFS_PID ADAPTFS_MNT
}

@test "adaptfs_mount: fails fast with the log when the daemon exits" {
    ADAPTFS_BIN=$BATS_TEST_DIRNAME/helpers/fake-adaptfs
    export FAKE_ADAPTFS_MODE=die
    run adaptfs_mount
    assert_failure
    assert_output --partial "exited before"
    assert_output --partial "dying as asked"
    # the fresh mount point named in the message was removed again
    local mnt
    mnt=$(sed -n 's|.* \(/tmp/adaptfs-mnt\.[^ /]*\) exited before.*|\1|p' <<<"$output")
    assert [ -n "$mnt" ]
    assert [ ! -e "$mnt" ]
}
