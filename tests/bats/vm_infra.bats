#!/usr/bin/env bats
# Proves the QEMU microvm helpers (lib/vm.bash) on this host: TCG guests boot with each job,
# answer QMP, serve HTTP to the host over their tap, burn host CPU in a thread named
# "CPU 0/TCG", do direct I/O on their virtio disk, and leave nothing behind. Needs root,
# qemu-system-x86, linux-image-amd64, busybox-static, python3.
#   bats tests/bats/vm_infra.bats

bats_load_library bats-support
bats_load_library bats-assert
load lib/vm

SHARED=adt-vmi-idle

setup_file() {
    [[ $EUID -eq 0 ]] || return 0
    # one idle guest shared by several tests: per-test vm_teardown_all must leave it alone
    vm_up "$SHARED" idle
    vm_pid "$SHARED" >"$BATS_FILE_TMPDIR/shared-pid"
    vm_tap "$SHARED" >"$BATS_FILE_TMPDIR/taps"
    echo "shared VM booted in $(vm_boot_ms "$SHARED") ms" >&3
}

setup() {
    [[ $EUID -eq 0 ]] || skip "needs root"
}

teardown() {
    vm_teardown_all
}

# Nothing these tests created may be left once the file is done.
teardown_file() {
    local leaks=() pid tap name
    vm_teardown_all || leaks+=("vm_teardown_all failed (see above)")
    if [[ -f $BATS_FILE_TMPDIR/pids ]]; then
        while read -r pid; do
            _adapt_pid_alive "$pid" && leaks+=("process $pid (QEMU or hang server)")
        done < <(cat "$BATS_FILE_TMPDIR/pids" "$BATS_FILE_TMPDIR/shared-pid" 2>/dev/null)
    fi
    if [[ -f $BATS_FILE_TMPDIR/taps ]]; then
        while read -r tap; do
            [[ -e /sys/class/net/$tap ]] && leaks+=("tap $tap")
        done <"$BATS_FILE_TMPDIR/taps"
    fi
    for name in "$SHARED" adt-vmi-cpu adt-vmi-io adt-vmi-web adt-vmi-down adt-vmi-scope; do
        grep -qs " vm $name\$" /run/adaptfs-tests/addrs && leaks+=("address of $name")
        [[ -e $BATS_FILE_TMPDIR/vm/$name ]] && leaks+=("state of $name")
    done
    [[ -n $(ls -A "$BATS_FILE_TMPDIR/qmp-hang" 2>/dev/null) ]] && leaks+=("qmp-hang state")
    [[ -e $BATS_FILE_TMPDIR/hang.sock ]] && leaks+=("hang socket")
    if ip link show dev adapttest0 >/dev/null 2>&1 && [[ ! -s /run/adaptfs-tests/addrs ]]; then
        leaks+=("bridge adapttest0")
    fi
    if ((${#leaks[@]})); then
        printf 'leaked: %s\n' "${leaks[@]}" >&3
        return 1
    fi
}

# utime+stime in clock ticks of a /proc/PID or /proc/PID/task/TID directory (fields 14+15;
# parse after the last ')': thread names have blanks)
cpu_ticks() {
    local s
    s=$(<"$1/stat")
    s=${s##*) }
    awk '{ print $12 + $13 }' <<<"$s"
}

GUEST_STATS='{"execute":"qom-get","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats"}}'
balloon_reported() {
    vm_qmp_cmd "$1" "$GUEST_STATS" | grep -Eq '"stat-total-memory": [0-9]{6,19},'
}

remember() { # NAME: record pid and tap for the leak check
    vm_pid "$1" >>"$BATS_FILE_TMPDIR/pids"
    vm_tap "$1" >>"$BATS_FILE_TMPDIR/taps"
}

@test "vm_image_build: cached image, uncompressed PVH kernel, busybox initramfs with the modules" {
    local t0 t1
    t0=$(_adapt_now_us)
    vm_image_build
    t1=$(_adapt_now_us)
    (((t1 - t0) < 2000000)) # cached: no rebuild
    assert_regex "$VM_KERNEL" "^/var/tmp/adaptfs-vm-$VM_KVER/[0-9a-f]+/vmlinux\$"
    assert_equal "$(head -c 4 "$VM_KERNEL" | od -An -tx1 | tr -d ' ')" 7f454c46
    run cpio -it --quiet <"$VM_INITRD"
    assert_success
    assert_line init
    assert_line bin/busybox
    assert_line bin/httpd
    local m
    for m in virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net virtio_balloon; do
        assert_line "lib/modules/$m.ko"
    done
}

@test "vm_up idle: QMP answers query-status, vCPU thread is 'CPU 0/TCG', address is on the bridge" {
    local pid
    pid=$(vm_pid "$SHARED")
    _adapt_pid_alive "$pid"
    run vm_qmp_cmd "$SHARED" '{"execute":"query-status"}'
    assert_success
    assert_output --partial '"status": "running"'
    # the -qmp socket (the one the daemon discovers) is a listening socket of that process
    assert [ -S "$(vm_qmp "$SHARED")" ]
    run grep -F "unix:$(vm_qmp "$SHARED")," <(tr '\0' '\n' <"/proc/$pid/cmdline")
    assert_success

    run cat /proc/"$pid"/task/*/comm
    assert_line "CPU 0/TCG"
    grep -q "ADAPTFS-VM-READY job=idle ip=$(vm_ip "$SHARED")/24" "$(vm_log "$SHARED")"
    assert_equal "$(basename "$(readlink "/sys/class/net/$(vm_tap "$SHARED")/master")")" adapttest0
    run awk -v n="$SHARED" '$2 == "vm" && $3 == n { print "10.231.0." $1 }' /run/adaptfs-tests/addrs
    assert_output "$(vm_ip "$SHARED")"
    # the shared allocator's reclaim keeps a running VM's address
    _adapt_locked _adapt_addrs_reclaim
    run grep -c " vm $SHARED\$" /run/adaptfs-tests/addrs
    assert_output 1
    # the guest answers on the bridge with the MAC it was given
    wait_for -t 10 busybox ping -c 1 -W 1 "$(vm_ip "$SHARED")"
    run ip neigh show "$(vm_ip "$SHARED")" dev adapttest0
    assert_output --partial "$(vm_mac "$SHARED")"
}

@test "balloon device: guest stats arrive over QMP" {
    vm_qmp_cmd "$SHARED" '{"execute":"qom-set","arguments":{"path":"/machine/peripheral/balloon0","property":"guest-stats-polling-interval","value":1}}'
    # stat-total-memory is 2^64-1 until the guest's first report
    wait_for -t 15 balloon_reported "$SHARED"
    run vm_qmp_cmd "$SHARED" "$GUEST_STATS"
    assert_output --partial '"stat-major-faults"'
}

@test "vm_up httpd: the guest serves big (4 MiB) to the host over its tap" {
    vm_up adt-vmi-web httpd
    remember adt-vmi-web
    local ip tap rx0 rx1
    ip=$(vm_ip adt-vmi-web)
    tap=$(vm_tap adt-vmi-web)
    wait_for -t 20 busybox wget -q -O /dev/null "http://$ip:8080/index.html"
    run busybox wget -q -O - "http://$ip:8080/index.html"
    assert_output "adaptfs-vm adt-vmi-web"
    rx0=$(cat "/sys/class/net/$tap/statistics/rx_bytes")
    busybox wget -q -O "$BATS_TEST_TMPDIR/big" "http://$ip:8080/big"
    assert_equal "$(stat -c %s "$BATS_TEST_TMPDIR/big")" 4194304
    run busybox wget -q -O - "http://$ip:8080/big.md5"
    assert_output "$(cd "$BATS_TEST_TMPDIR" && md5sum big)"
    # the guest's transmit is the tap's receive
    rx1=$(cat "/sys/class/net/$tap/statistics/rx_bytes")
    (((rx1 - rx0) >= 4194304))
}

@test "vm_up cpu: the QEMU process burns about one host CPU, in its 'CPU 0/TCG' thread" {
    vm_up adt-vmi-cpu cpu
    remember adt-vmi-cpu
    local pid tck t0 t1 c0 c1 v0 v1 vcpu ms used
    pid=$(vm_pid adt-vmi-cpu)
    tck=$(getconf CLK_TCK)
    vcpu=$(grep -lx "CPU 0/TCG" /proc/"$pid"/task/*/comm)
    vcpu=${vcpu%/comm}
    c0=$(cpu_ticks "/proc/$pid")
    v0=$(cpu_ticks "$vcpu")
    t0=$(_adapt_now_us)
    sleep 2
    c1=$(cpu_ticks "/proc/$pid")
    v1=$(cpu_ticks "$vcpu")
    t1=$(_adapt_now_us)
    ms=$(((t1 - t0) / 1000))
    used=$(((c1 - c0) * 1000 / tck))
    echo "# cpu job: $used ms of CPU in $ms ms; vCPU thread $(((v1 - v0) * 1000 / tck)) ms" >&3
    # ~1 CPU; at least half of one even on a busy 2-core host, never much more than one
    ((used * 2 >= ms))
    ((used <= ms * 13 / 10))
    (((v1 - v0) * 10000 / tck >= used * 8)) # the vCPU thread does most of it
}

@test "vm_up io: direct I/O rounds on /dev/vda show in query-blockstats" {
    vm_up adt-vmi-io io
    remember adt-vmi-io
    # (console lines end in \r\n; "round 2" also matches 20..29, 200..: all >= 2)
    wait_for -t 20 grep -q "adaptfs-vm: io round 2" "$(vm_log adt-vmi-io)"
    run vm_qmp_cmd adt-vmi-io '{"execute":"query-blockstats"}'
    assert_success
    local wr rd
    read -r wr rd < <(_vm_python -c '
import json, sys
s = json.loads(sys.argv[1])["return"][0]
assert s["device"] == "d0" and s["qdev"] == "vda", s
print(s["stats"]["wr_bytes"], s["stats"]["rd_bytes"])' "$output")
    ((wr >= 2 * 16777216))
    ((rd >= 16777216))
}

@test "vm_down: QMP quit, then nothing is left (process, tap, address, state); idempotent" {
    vm_up adt-vmi-down idle
    remember adt-vmi-down
    local pid tap sock ctl disk st t0 t1
    pid=$(vm_pid adt-vmi-down)
    tap=$(vm_tap adt-vmi-down)
    sock=$(vm_qmp adt-vmi-down)
    ctl=$(vm_qmp_ctl adt-vmi-down)
    disk=$(vm_disk adt-vmi-down)
    st=$(dirname "$(vm_log adt-vmi-down)")
    assert [ -e "/sys/class/net/$tap" ]
    assert [ -f "$disk" ]
    t0=$(_adapt_now_us)
    vm_down adt-vmi-down
    t1=$(_adapt_now_us)
    (((t1 - t0) < 3000000)) # QMP quit worked: no SIGKILL fallback after 5 s
    run _adapt_pid_alive "$pid"
    assert_failure
    assert [ ! -e "/sys/class/net/$tap" ]
    assert [ ! -e "$sock" ]
    assert [ ! -e "$ctl" ]
    assert [ ! -e "$disk" ]
    assert [ ! -e "$st" ]
    run grep -q " vm adt-vmi-down\$" /run/adaptfs-tests/addrs
    assert_failure
    run vm_down adt-vmi-down
    assert_success
    run vm_down adt-vmi-never
    assert_success
    run vm_pid adt-vmi-never
    assert_failure
}

@test "vm_down: a QEMU that ignores QMP is SIGKILLed" {
    vm_up adt-vmi-down idle
    remember adt-vmi-down
    local pid
    pid=$(vm_pid adt-vmi-down)
    # a stopped process reads no QMP; SIGKILL still works
    kill -STOP "$pid"
    VM_STOP_TIMEOUT=1 run vm_down adt-vmi-down
    assert_success
    assert_output --partial SIGKILL
    run _adapt_pid_alive "$pid"
    assert_failure
}

@test "a VM of a test is removed by that test's vm_teardown_all; setup_file's stays" {
    vm_up adt-vmi-scope idle
    remember adt-vmi-scope
    local pid
    pid=$(vm_pid adt-vmi-scope)
    vm_teardown_all
    run _adapt_pid_alive "$pid"
    assert_failure
    run _adapt_pid_alive "$(vm_pid "$SHARED")"
    assert_success
    run vm_qmp_cmd "$SHARED" '{"execute":"query-status"}'
    assert_success
}

@test "qmp_hang_socket: accepts connections and never answers; qmp_hang_stop removes it" {
    local sock=$BATS_FILE_TMPDIR/hang.sock pid t0 t1
    qmp_hang_socket "$sock"
    assert [ -S "$sock" ]
    pid=$(cat "$BATS_FILE_TMPDIR"/qmp-hang/*/pid)
    # several clients connect (none is refused) and get no greeting
    t0=$(_adapt_now_us)
    VM_QMP_TIMEOUT=0.3 run qmp_cmd "$sock" '{"execute":"query-status"}'
    assert_failure 2
    assert_output --partial "no answer"
    VM_QMP_TIMEOUT=0.3 run qmp_cmd "$sock" '{"execute":"query-status"}'
    assert_failure 2
    assert_output --partial "no answer"
    t1=$(_adapt_now_us)
    (((t1 - t0) < 3000000))
    qmp_hang_stop "$sock"
    run _adapt_pid_alive "$pid"
    assert_failure
    assert [ ! -e "$sock" ]
    run qmp_hang_stop "$sock"
    assert_success
}

@test "qmp_hang_socket left running is stopped by vm_teardown_all" {
    qmp_hang_socket "$BATS_FILE_TMPDIR/hang.sock"
    cat "$BATS_FILE_TMPDIR"/qmp-hang/*/pid >>"$BATS_FILE_TMPDIR/pids"
    # left for teardown
}
