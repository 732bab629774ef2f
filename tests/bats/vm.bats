#!/usr/bin/env bats
# QEMU guests as adaptfs workloads (issue 5, the bats part): real microvm guests (TCG here,
# see lib/vm.bash) are discovered by their -name, their figures come from the host side
# (process, vCPU threads, QMP query-blockstats, the tap), they are classified with the
# containers' thresholds, a hung QMP socket does not slow reads, and placement pins the vCPU.
# One cpu-job guest is booted in setup_file and shared by most tests; the io, httpd and
# kill tests boot their own. Needs root and the packages of lib/vm.bash.
#   bats --timing tests/bats/vm.bats
# About 70 s on a quiet 2-core host. The host is shared with other test runs: a check of a
# rate or a deadline that cannot be met because the host itself did not give our spinning
# threads (or the daemon) the CPU skips with "host too busy: ..." and the figures measured
# from /proc, and fails when they did get it. Of the last two tests, the first shows a
# collector flaw (skipped until it is fixed), the second guards a fixed bug.

bats_load_library bats-support
bats_load_library bats-assert
# boots took up to 40 s here while other test runs kept the 2 cores busy (2 s when idle)
export VM_BOOT_TIMEOUT=${VM_BOOT_TIMEOUT:-120}
load lib/mount
load lib/containers # before lib/vm (see its header)
load lib/vm

setup_file() {
    [[ $EUID -eq 0 ]] || return 0
    # a tag of this run: guest names (and so taps) are host-wide, other runs may be booting
    # guests of their own right now
    export VMT=avm$(printf '%04x' $((RANDOM)))
    export CPUVM=$VMT-cpu
    # cpu_mode = auto whatever /etc/adaptfs/adaptfs.conf may say
    printf '[class]\ncpu_mode = auto\n' >"$BATS_FILE_TMPDIR/adaptfs.conf"
    adaptfs_mount --config "$BATS_FILE_TMPDIR/adaptfs.conf" --interval 1
    vm_up "$CPUVM" cpu
    echo "# shared guest $CPUVM (job cpu) booted in $(vm_boot_ms "$CPUVM") ms" >&3
}

setup() {
    [[ $EUID -eq 0 ]] || skip "needs root"
}

teardown() {
    local rc=0
    stop_fake_qmp || rc=1
    unboost || rc=1
    unpin_shared || rc=1
    stop_stubs || rc=1
    vm_teardown_all || rc=1
    teardown_all || rc=1
    return $rc
}

teardown_file() {
    local rc=0
    stop_stubs || rc=1
    vm_teardown_all || rc=1
    teardown_all || rc=1
    adaptfs_umount || rc=1
    return $rc
}

# ------------------------------------------------------------------------- helpers -------

# key KEY FILE -> the value of KEY in flat-keyed FILE
key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
between() { awk -v a="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(a + 0 >= lo + 0 && a + 0 <= hi + 0) }'; }
key_at_least() { local v; v=$(key "$1" "$2") && at_least "$v" "$3"; }
key_between() { local v; v=$(key "$1" "$2") && between "$v" "$3" "$4"; }
# key_grew KEY FILE BASE DELTA: KEY >= BASE + DELTA
key_grew() { local v; v=$(key "$1" "$2") && ((v >= $3 + $4)); }

# logged TEXT: an event line with TEXT. events keeps the last 512 only, and the other test
# runs on this host make hundreds of containers come and go; the daemon logs every event.
logged() { grep -qF -- "$1" "$ADAPTFS_MNT/events" || grep -qF -- "$1" "$ADAPTFS_LOG"; }

# the vCPU thread "CPU 0/TCG" (or /KVM) of QEMU PID: its /proc/PID/task/TID directory
vcpu_task() {
    local f
    f=$(grep -lE '^CPU 0/(TCG|KVM)$' /proc/"$1"/task/*/comm) || return 1
    echo "${f%/comm}"
}
# utime+stime in clock ticks of a /proc/PID or /proc/PID/task/TID directory (fields 14+15,
# counted after the last ')': thread names have blanks)
cpu_ticks() {
    local s
    s=$(<"$1/stat")
    s=${s##*) }
    awk '{ print $12 + $13 }' <<<"$s"
}
# cpu_share SECONDS TASKDIR...: the percent of one CPU each task used over the next SECONDS
cpu_share() {
    local secs=$1 t0 t1 tck i
    shift
    local a=() b=() t
    tck=$(getconf CLK_TCK)
    t0=$(_adapt_now_us)
    for t in "$@"; do a+=("$(cpu_ticks "$t")"); done
    sleep "$secs"
    for t in "$@"; do b+=("$(cpu_ticks "$t")"); done
    t1=$(_adapt_now_us)
    for i in "${!a[@]}"; do
        echo $(((b[i] - a[i]) * 100000000 / tck / (t1 - t0)))
    done
}
# A CPU figure did not come within the wait: whose fault? too_busy_or_fail PERCENT WHAT
# TASKDIR...: measure what the spinning tasks themselves get now; if one of them gets less
# than PERCENT of a CPU the host cannot run the check (other test runs keep both cores busy,
# even nice -20 threads got 10% here at times): skip; else adaptfs misreports: fail.
too_busy_or_fail() {
    local pct=$1 what=$2 shares s
    shift 2
    shares=$(cpu_share 3 "$@" | paste -sd ' ')
    echo "# $what did not show; the spinning tasks got ${shares}% of a CPU (from /proc)" >&3
    for s in $shares; do
        ((s >= pct)) || skip "host too busy: the spinning tasks got only ${shares}% of a CPU ($what)"
    done
    fail "$what did not show although the spinning tasks got ${shares}% of a CPU"
}

cpus_allowed() { awk '$1 == "Cpus_allowed_list:" { print $2 }' "$1/status"; }
# run-queue wait of a task in usec (field 2 of schedstat, ns)
schedstat_wait_usec() { awk '{ printf "%d", $2 / 1000 }' "$1/schedstat"; }

# Both the container and the VM at about one CPU in their latest samples (one sample: both
# figures of a stat file come from it).
both_one_cpu() { # DIR DIR
    local d
    for d in "$@"; do
        key_between cpu_usage_percent "$d/stat" 70 130 || return 1
        key_between threads_parallelism "$d/stat" 0.7 1.3 || return 1
    done
}

# One more download of /big from the guest at IP, then is DIR's class "CLASS mode=container"?
fetch_then_class() { # IP DIR CLASS
    busybox wget -q -O /dev/null "http://$1:8080/big" || true
    grep -qx "$3 mode=container" "$2/class"
}

# median_read_us FILE [CMD...]: reads of FILE from offset 0 (open, read to EOF, close; bash
# builtins, no fork), 50 ms apart: 50 of them, and with CMD more until CMD succeeds (and 20
# after that; 30 s at most); prints "MEDIAN P90 MAX N" (microseconds, N reads)
median_read_us() {
    local f=$1 i=0 after=-1 t0 t1 x limit
    shift
    limit=$(($(_adapt_now_us) + 30000000))
    while :; do
        t0=$(_adapt_now_us)
        IFS= read -r -d '' x <"$f" || true
        t1=$(_adapt_now_us)
        echo $((t1 - t0))
        ((++i))
        if (($# && after < 0)) && "$@" 2>/dev/null; then
            after=$((i + 20))
        fi
        if ((i >= 50 && ($# == 0 || (after >= 0 && i >= after) || t1 > limit))); then
            break
        fi
        sleep 0.05
    done | sort -n | awk '{ v[NR] = $1 } END {
        print int((v[int((NR + 1) / 2)] + v[int(NR / 2) + 1]) / 2), v[int(NR * 0.9)], v[NR], NR }'
}

# The fake QMP server of a test (fake_qmp), killed by pid if it is still ours
stop_fake_qmp() {
    local f=$BATS_TEST_TMPDIR/fakeqmp.pid pid
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    if _adapt_pid_alive "$pid" && grep -qF "$BATS_TEST_TMPDIR" "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_for -t 5 _adapt_pid_gone "$pid" || return 1
    fi
    rm -f "$f"
}

# fake_qmp SOCK GATE: a QMP server on SOCK that holds every connection silent until the
# file GATE exists, then answers like QEMU: query-blockstats reports 8 GiB written in 2 ops
fake_qmp() {
    local py
    py=$(_vm_python_bin) || return 1
    _vm_bg "$BATS_TEST_TMPDIR/fakeqmp.log" "$py" -c '
import json, os, socket, sys
path, gate = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
silent = []
while True:
    c, _ = s.accept()
    if not os.path.exists(gate):
        silent.append(c)
        continue
    c.sendall(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n")
    for line in c.makefile("rb"):
        if json.loads(line).get("execute") == "query-blockstats":
            r = {"return": [{"device": "vda", "stats": {"rd_bytes": 4096, "wr_bytes": 8 << 30,
                                                        "rd_operations": 1, "wr_operations": 2}}]}
        else:
            r = {"return": {}}
        c.sendall(json.dumps(r).encode() + b"\r\n")
    c.close()
' "$1" "$2"
    echo "$_VM_BG_PID" >"$BATS_TEST_TMPDIR/fakeqmp.pid"
}

# Fake QEMU processes of the hung-QMP test: pids in $BATS_FILE_TMPDIR/stubs, killed by pid
# after checking the pid still runs our stub binary.
stop_stubs() {
    local f=$BATS_FILE_TMPDIR/stubs pid rc=0
    [[ -f $f ]] || return 0
    while read -r pid; do
        if _adapt_pid_alive "$pid" &&
            [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$BATS_FILE_TMPDIR"/stub/* ]]; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_for -t 5 _adapt_pid_gone "$pid" || rc=1
        fi
    done <"$f"
    rm -f "$f"
    return $rc
}

# boost TID...: nice -20 for these threads until the test's teardown. This host is shared
# with other test runs (load averages of 10-15 on 2 cores were seen): a nice-0 spinning vCPU
# then gets half a CPU or less, and a check that adaptfs shows "one CPU" for one spinning
# vCPU would measure the neighbours instead. Only the spinning threads themselves are
# boosted (and, where two of them would take both cores, the daemon: see boost_daemon), and
# only for the few seconds a test needs it.
boost() {
    local t
    for t in "$@"; do
        renice -n -20 -p "$t" >/dev/null
        printf '%s %s\n' "$t" "$(cat "/proc/$t/comm")" >>"$BATS_FILE_TMPDIR/boosted"
    done
}
# Two boosted spinners on this 2-core host would starve a nice-0 daemon: its sampler would
# sample late and irregularly, and its FUSE threads answer slowly.
boost_daemon() {
    local t
    for t in /proc/"$ADAPTFS_PID"/task/*; do
        renice -n -20 -p "${t##*/}" >/dev/null || true
    done
    echo "daemon $ADAPTFS_PID" >>"$BATS_FILE_TMPDIR/boosted"
}
unboost() {
    local f=$BATS_FILE_TMPDIR/boosted t comm
    [[ -f $f ]] || return 0
    while read -r t comm; do
        if [[ $t == daemon ]]; then
            # every thread it has now (FUSE workers started meanwhile inherited the boost)
            if [[ $comm == "${ADAPTFS_PID:-}" ]]; then
                for t in /proc/"$comm"/task/*; do
                    renice -n 0 -p "${t##*/}" >/dev/null 2>&1 || true
                done
            fi
        elif [[ $(cat "/proc/$t/comm" 2>/dev/null) == "$comm" ]]; then
            renice -n 0 -p "$t" >/dev/null || true
        fi
    done <"$f"
    rm -f "$f"
}

# If the pinning test failed half-way, give the shared guest's vCPU its CPUs back.
unpin_shared() {
    local f=$BATS_FILE_TMPDIR/pinned tid cpus
    [[ -f $f ]] || return 0
    read -r tid cpus <"$f"
    if [[ -d /proc/$tid ]]; then
        taskset -pc "$cpus" "$tid" >/dev/null || return 1
    fi
    rm -f "$f"
}

# ------------------------------------------------------------------------- tests ---------

@test "a booted guest appears by its -name with every file: kind, metrics.prom, placement, mode, prefetch" {
    local d=$ADAPTFS_MNT/$CPUVM pid task f
    pid=$(vm_pid "$CPUVM")
    wait_for -t 10 test -d "$d"
    run ls "$d"
    assert_output "$(printf '%s\n' class cpu io kind major_faults memory migration mode placement prefetch pressure sched_wait stat threads)"
    # the metric files carry figures (the rates from the second sample on)
    wait_for -t 10 key usage_percent "$d/cpu"
    for f in cpu io threads sched_wait major_faults memory stat; do
        grep -q . "$d/$f"
    done
    key usage_usec "$d/cpu" >/dev/null
    key read_bytes "$d/io" >/dev/null
    key net_rx_bytes "$d/io" >/dev/null
    key total "$d/threads" >/dev/null
    key wait_usec "$d/sched_wait" >/dev/null
    key total "$d/major_faults" >/dev/null
    key_at_least current_bytes "$d/memory" 1048576
    assert_regex "$(cat "$d/class")" '^(idle|cpu|io|net|memory) mode=(container|vm)$'
    assert_equal "$(cat "$d/kind")" "vm qemu"
    logged "$CPUVM: appeared (vm qemu, $pid)"
    # metrics.prom: labelled kind="vm"
    run grep -E "^adapt_cpu_usage_seconds_total\\{workload=\"$CPUVM\",kind=\"vm\",engine=\"qemu\"\\} [0-9]+\\.[0-9]{6}\$" \
        "$ADAPTFS_MNT/metrics.prom"
    assert_success
    run grep -E "^adapt_class\\{workload=\"$CPUVM\",kind=\"vm\",engine=\"qemu\",class=\"[a-z]+\",mode=\"[a-z]+\"\\} 1\$" \
        "$ADAPTFS_MNT/metrics.prom"
    assert_success
    # placement: the vCPU thread's affinity
    task=$(vcpu_task "$pid")
    run cat "$d/placement"
    assert_output --regexp '^host=[A-Za-z0-9._-]+ cpus=[0-9,-]+$'
    assert_output --regexp " cpus=$(cpus_allowed "$task")\$"
    # mode: a VM, discovered, so vm is current; writing it is a no-op, the others EOPNOTSUPP
    assert_equal "$(cat "$d/mode")" "container [vm] auto"
    echo vm >"$d/mode"
    run bash -c 'echo container >"$1"' _ "$d/mode"
    assert_failure
    assert_output --partial "Operation not supported"
    # prefetch: off, and any valid write is EOPNOTSUPP for a VM
    assert_equal "$(cat "$d/prefetch")" "on [off]"
    for f in on off; do
        run bash -c 'echo "$1" >"$2"' _ "$f" "$d/prefetch"
        assert_failure
        assert_output --partial "Operation not supported"
    done
    # balloon statistics (adaptfs turns the polling on): the guest's own major faults
    wait_for -t 15 key guest_total "$d/major_faults"
}

@test "a CPU loop in the guest: usage_percent >= 80, then class cpu with the host's mode" {
    local d=$ADAPTFS_MNT/$CPUVM want pid task t0 t1 c0 u
    wait_for -t 10 test -d "$d"
    pid=$(vm_pid "$CPUVM")
    task=$(vcpu_task "$pid")
    # usage_usec is utime+stime of the whole QEMU process: between /proc before and after
    c0=$(cpu_ticks "/proc/$pid")
    wait_for -t 10 key_grew usage_usec "$d/cpu" $((c0 * 1000000 / $(getconf CLK_TCK))) 0
    u=$(key usage_usec "$d/cpu")
    ((u <= $(cpu_ticks "/proc/$pid") * 1000000 / $(getconf CLK_TCK)))
    boost "${task##*/}"
    t0=$(_adapt_now_us)
    wait_for -t 30 key_at_least usage_percent "$d/cpu" 80 ||
        too_busy_or_fail 80 "usage_percent >= 80 within 30 s" "/proc/$pid"
    t1=$(_adapt_now_us)
    # mode=: vm only where hardware virtualization runs guests (adaptfs logs its probe)
    if grep -q "hardware virtualization not usable" "$ADAPTFS_LOG"; then
        want=container
    elif grep -q "hardware virtualization usable" "$ADAPTFS_LOG"; then
        want=vm
    else
        fail "no result of the hardware virtualization probe in $ADAPTFS_LOG"
    fi
    wait_for -t 30 grep -qx "cpu mode=$want" "$d/class" ||
        too_busy_or_fail 80 "class \"cpu mode=$want\" within 30 s" "/proc/$pid"
    echo "# usage_percent >= 80 after $(((t1 - t0) / 1000)) ms, class \"cpu mode=$want\" (hardware" \
        "virtualization probe) $((($(_adapt_now_us) - t1) / 1000)) ms later" >&3
    run grep -F "adapt_class{workload=\"$CPUVM\",kind=\"vm\",engine=\"qemu\",class=\"cpu\",mode=\"$want\"} 1" \
        "$ADAPTFS_MNT/metrics.prom"
    assert_success
}

@test "threads: total is the vCPU count (debug-threads=on), parallelism near 1, sched_wait of the vCPU" {
    local d=$ADAPTFS_MNT/$CPUVM pid task all w0 w1 s0 s1
    pid=$(vm_pid "$CPUVM")
    task=$(vcpu_task "$pid")
    wait_for -t 10 key parallelism "$d/threads"
    # one vCPU (-smp 1) among QEMU's threads: only it counts
    all=$(ls /proc/"$pid"/task | wc -l)
    ((all > 1))
    assert_equal "$(key total "$d/threads")" 1
    assert_equal "$(grep -cE '^CPU [0-9]+/(TCG|KVM)$' /proc/"$pid"/task/*/comm | awk -F: '{ s += $NF } END { print s }')" 1
    boost "${task##*/}"
    wait_for -t 30 key_between parallelism "$d/threads" 0.7 1.3 ||
        too_busy_or_fail 70 "parallelism 0.7-1.3 within 30 s" "$task"
    # sched_wait: present, and the vCPU thread's own run-queue wait (schedstat field 2), not
    # the sum over every QEMU thread: between what schedstat said before and after the sample
    key wait_percent "$d/sched_wait" >/dev/null
    s0=$(schedstat_wait_usec "$task")
    wait_for -t 10 key_grew wait_usec "$d/sched_wait" "$s0" 0
    w1=$(key wait_usec "$d/sched_wait")
    s1=$(schedstat_wait_usec "$task")
    echo "# vCPU run-queue wait: schedstat ${s0}..${s1} us, adaptfs $w1 us" >&3
    ((w1 >= s0 && w1 <= s1 + 1))
    w0=$w1
    wait_for -t 10 key_grew wait_usec "$d/sched_wait" "$w0" 0
}

# io_from_qmp DIR: DIR/io read once is a sample with QMP figures (write_ops: the fallback to
# /proc/PID/io has bytes only); sets IO_R IO_W IO_O (read_bytes write_bytes write_ops)
io_from_qmp() {
    local t
    t=$(<"$1/io")
    IO_R=$(awk '$1 == "read_bytes" { print $2 }' <<<"$t")
    IO_W=$(awk '$1 == "write_bytes" { print $2 }' <<<"$t")
    IO_O=$(awk '$1 == "write_ops" { print $2 }' <<<"$t")
    [[ -n $IO_R && -n $IO_W && -n $IO_O ]]
}
# io_grew DIR R W O: a QMP sample with read_bytes >= R, write_bytes >= W, write_ops >= O
io_grew() { io_from_qmp "$1" && ((IO_R >= $2 && IO_W >= $3 && IO_O >= $4)); }

@test "dd in the guest to its virtio-blk disk raises io bytes and ops (QMP query-blockstats)" {
    local name=$VMT-io d r0 w0 o0 q qw
    d=$ADAPTFS_MNT/$name
    vm_up "$name" io
    wait_for -t 10 test -d "$d"
    # Ops come from QMP only. A QMP answer later than 50 ms (a busy host, another client on
    # the socket) makes adaptfs fall back to /proc/PID/io for 10 s (see the skipped test
    # below), so every figure is taken from samples that have write_ops, and waits span that.
    wait_for -t 30 io_from_qmp "$d"
    r0=$IO_R w0=$IO_W o0=$IO_O
    # each round writes 16 MiB and reads them back
    wait_for -t 30 io_grew "$d" $((r0 + 16777216)) $((w0 + 16777216)) $((o0 + 16))
    # the figure is QEMU's: never ahead of query-blockstats, and it catches up with it
    wait_for -t 30 io_from_qmp "$d"
    q=$(vm_qmp_cmd "$name" '{"execute":"query-blockstats"}')
    qw=$(_vm_python -c 'import json, sys; print(sum(d["stats"]["wr_bytes"] for d in json.loads(sys.argv[1])["return"]))' "$q")
    echo "# io guest: adaptfs write_bytes $IO_W, then QMP wr_bytes $qw" >&3
    ((IO_W <= qw))
    wait_for -t 30 io_grew "$d" 0 "$qw" 0
    wait_for -t 30 grep -qx "io mode=container" "$d/class"
}

@test "traffic to the guest over its tap raises net bytes; sustained, class net" {
    local name=$VMT-web d ip tap tx0 rx0 v t
    d=$ADAPTFS_MNT/$name
    vm_up "$name" httpd
    ip=$(vm_ip "$name")
    tap=$(vm_tap "$name")
    wait_for -t 30 busybox wget -q -O /dev/null "http://$ip:8080/index.html"
    wait_for -t 10 key net_tx_bytes "$d/io"
    tx0=$(key net_tx_bytes "$d/io")
    rx0=$(key net_rx_bytes "$d/io")
    busybox wget -q -O "$BATS_TEST_TMPDIR/big" "http://$ip:8080/big"
    assert_equal "$(stat -c %s "$BATS_TEST_TMPDIR/big")" 4194304
    # the guest sent 4 MiB (its tx is the tap's rx), and received the request and the ACKs
    wait_for -t 10 key_grew net_tx_bytes "$d/io" "$tx0" 4194304
    key_grew net_rx_bytes "$d/io" "$rx0" 1
    v=$(key net_tx_bytes "$d/io")
    t=$(cat "/sys/class/net/$tap/statistics/rx_bytes")
    echo "# web guest: net_tx_bytes +$((v - tx0)), tap rx_bytes $t" >&3
    ((v <= t))
    wait_for -t 30 fetch_then_class "$ip" "$d" net
}

@test "killing the guest (SIGKILL) removes its directory within two intervals" {
    local name=$VMT-kill d pid t0 t1 iv
    d=$ADAPTFS_MNT/$name
    vm_up "$name" idle
    pid=$(vm_pid "$name")
    wait_for -t 10 test -d "$d"
    kill -KILL "$pid"
    t0=$(_adapt_now_us)
    if ! wait_for -t 2 test ! -e "$d"; then
        # it must go anyway; within two intervals unless the daemon could not keep its
        # 1 s interval (interval_usec of a stat is the time between its last two samples)
        wait_for -t 30 test ! -e "$d"
        iv=$(key interval_usec "$ADAPTFS_MNT/$CPUVM/stat")
        ((iv > 1500000)) || fail "gone only after $((($(_adapt_now_us) - t0) / 1000)) ms"
        skip "host too busy: gone after $((($(_adapt_now_us) - t0) / 1000)) ms, the daemon sampled every $((iv / 1000)) ms"
    fi
    t1=$(_adapt_now_us)
    echo "# gone from the mount $(((t1 - t0) / 1000)) ms after SIGKILL" >&3
    run ls "$ADAPTFS_MNT"
    refute_line "$name"
    logged "$name: disappeared"
    # the shared guest is still there
    test -d "$ADAPTFS_MNT/$CPUVM"
}

@test "a QMP socket that accepts but never answers does not delay reads of other workloads" {
    local sock=$BATS_FILE_TMPDIR/hang.sock stub=$BATS_FILE_TMPDIR/stub/qemu-system-x86_64
    local name=$VMT-hung other=$ADAPTFS_MNT/$CPUVM/cpu h before during after pid ts0 base
    h=$ADAPTFS_MNT/$name
    # a stand-in for a QEMU whose monitor hangs: a process named qemu-system-x86_64 with
    # -name and -qmp on its command line that just pauses, its -qmp a socket that accepts
    # connections and never says a word
    mkdir -p "${stub%/*}"
    printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' | cc -O -x c -o "$stub" -
    qmp_hang_socket "$sock"
    wait_for -t 10 key usage_usec "$other"
    read -r -a before < <(median_read_us "$other")
    ts0=$(key timestamp_usec "$ADAPTFS_MNT/$CPUVM/stat")
    _vm_bg "$BATS_TEST_TMPDIR/stub.log" "$stub" -name "$name" -qmp "unix:$sock,server=on,wait=off"
    pid=$_VM_BG_PID
    echo "$pid" >>"$BATS_FILE_TMPDIR/stubs"
    # reads from the stub's start on until a while after its directory appeared: its
    # discovery and first sample, the one that tries QMP and times out, fall inside
    read -r -a during < <(median_read_us "$other" test -d "$h")
    test -d "$h"
    # the stub is a VM whose QMP gave up: io from /proc/PID/io (bytes, no ops)
    assert_equal "$(cat "$h/kind")" "vm qemu"
    key read_bytes "$h/io" >/dev/null
    run key read_ops "$h/io"
    assert_failure
    # and the sampler kept going: fresh samples of the other workload
    wait_for -t 10 key_grew timestamp_usec "$ADAPTFS_MNT/$CPUVM/stat" "$ts0" 2000000
    # the same reads once the hung socket is gone: the load of the other test runs on this
    # host drifts, so the baseline brackets the measurement
    stop_stubs
    qmp_hang_stop "$sock"
    wait_for -t 10 test ! -e "$h"
    read -r -a after < <(median_read_us "$other")
    base=$((before[0] > after[0] ? before[0] : after[0]))
    echo "# reads of $CPUVM/cpu (median p90 max us, count): before ${before[*]}; with the hung socket ${during[*]}; after ${after[*]}" >&3
    ((during[0] <= 2 * base)) || fail "reads slowed down by the hung QMP socket"
    # 50 ms: unless the reads are that slow without it (the host's load, not the socket)
    ((during[0] < 50000)) || skip "host too busy: reads took ${base} us (median) without the hung socket"
}

@test "a container and a VM side by side show comparable cpu figures for one spinning thread/vCPU" {
    local d=$ADAPTFS_MNT/$CPUVM c
    # Not in a cpu cgroup of its own (cpuacct, where adaptfs reads its CPU time, is enough):
    # under /docker of the cpu hierarchy it would share that group's weight with every
    # container the other test runs on this host have there (over a thousand were seen),
    # while the QEMU process competes at the top level; so both spinners are top-level
    # tasks of the cpu controller, with the same priority
    CG_CONTROLLERS="cpuacct memory blkio pids unified" cg_spawn "$VMT-spin" bash -c 'while :; do :; done'
    c=$ADAPTFS_MNT/$(cg_id "$VMT-spin" | cut -c1-12)
    wait_for -t 10 test -d "$c"
    wait_for -t 10 test -d "$d"
    # the same priority for the two spinners (see boost)
    boost "$(cg_pid "$VMT-spin")" "$(basename "$(vcpu_task "$(vm_pid "$CPUVM")")")"
    boost_daemon
    if ! wait_for -t 30 both_one_cpu "$c" "$d"; then
        grep -E '^(cpu_usage_percent|threads_parallelism) ' "$c/stat" "$d/stat" >&3
        too_busy_or_fail 70 "both at 70-130% and parallelism 0.7-1.3 within 30 s" \
            "/proc/$(cg_pid "$VMT-spin")" "$(vcpu_task "$(vm_pid "$CPUVM")")"
    fi
    echo "# container: $(key cpu_usage_percent "$c/stat")% parallelism $(key threads_parallelism "$c/stat");" \
        "VM: $(key cpu_usage_percent "$d/stat")% parallelism $(key threads_parallelism "$d/stat")" >&3
}

@test "placement pins the vCPU thread: cpus=0, then back to every online CPU" {
    local d=$ADAPTFS_MNT/$CPUVM pid task main0 online host
    pid=$(vm_pid "$CPUVM")
    task=$(vcpu_task "$pid")
    online=$(cat /sys/devices/system/cpu/online)
    main0=$(cpus_allowed "/proc/$pid")
    host=$(sed -n 's/^host=\([^ ]*\) .*/\1/p' "$d/placement")
    [[ -n $host ]]
    echo "${task##*/} $(cpus_allowed "$task")" >"$BATS_FILE_TMPDIR/pinned"
    echo cpus=0 >"$d/placement"
    assert_equal "$(cpus_allowed "$task")" 0
    # the write returns once a snapshot shows it
    assert_equal "$(cat "$d/placement")" "host=$host cpus=0"
    # only the vCPU thread is pinned
    assert_equal "$(cpus_allowed "/proc/$pid")" "$main0"
    logged "$CPUVM: placement: pinned to cpus 0"
    echo "cpus=$online" >"$d/placement"
    assert_equal "$(cpus_allowed "$task")" "$online"
    assert_equal "$(cat "$d/placement")" "host=$host cpus=$online"
    rm -f "$BATS_FILE_TMPDIR/pinned"
}

# ------------------------------------------------------------- collector bugs found ------
# The first test shows a flaw of collectors/qemu.c that adaptfs(5) (io) documents as a
# limitation: it fails today; remove its skip line once it is fixed. The second guards a
# bug fixed in 420b624 (rates over each workload's own sample time): against the binary of
# 0fdc9fe it failed with sums of 193/25 and 211/26 at every retry of the hung sockets.

@test "io counters stay QEMU's while another client holds the guest's QMP socket for 3 s" {
    local name=$VMT-qmpheld d
    d=$ADAPTFS_MNT/$name
    vm_up "$name" io
    wait_for -t 10 test -d "$d"
    # QMP figures well above what the QEMU process itself shows in /proc/PID/io
    wait_for -t 30 io_grew "$d" 0 67108864 0
    # A management tool (libvirt holds its monitor for good) is on the -qmp socket: adaptfs
    # cannot get QMP figures meanwhile, but the counters it shows must not go backwards nor
    # vanish, and no rate may be made of figures of two sources. Held 3 s, watched 15 s.
    run _vm_python - "$(vm_qmp "$name")" "$d/io" <<'PY'
import socket, sys, time
sock, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.recv(4096)
s.sendall(b'{"execute":"qmp_capabilities"}\n')
s.recv(4096)
start, bad, last, shown = time.monotonic(), {}, {}, None
while time.monotonic() - start < 15:
    t = time.monotonic() - start
    if s and t > 3:
        s.close()
        s = None
    m = {k: float(v) for k, v in (l.split() for l in open(path))}
    line = "write_bytes %d write_ops %s write_bytes_per_sec %s" % (
        m.get("write_bytes", -1), m.get("write_ops", "-"), m.get("write_bytes_per_sec", "-"))
    if line != shown:
        print("t=%4.1f %s" % (t, line))
        shown = line
    for k in ("read_bytes", "write_bytes", "read_ops", "write_ops"):
        if k in last and (k not in m or m[k] < last[k]):
            bad.setdefault(k, "t=%.1f %s %d -> %s" % (t, k, last[k], m.get(k, "missing")))
        if k in m:
            last[k] = m[k]
    # 16 MiB rounds of dd under TCG: never 4 GiB/s
    if m.get("write_bytes_per_sec", 0) > 4 << 30:
        bad.setdefault("rate", "t=%.1f write_bytes_per_sec %d" % (t, m["write_bytes_per_sec"]))
    time.sleep(0.25)
for b in bad.values():
    print("BAD", b)
sys.exit(1 if bad else 0)
PY
    assert_success
}

@test "a guest whose QMP first answers after /proc/PID/io stood in: no io rate is made across the two" {
    local sock=$BATS_TEST_TMPDIR/late.sock gate=$BATS_TEST_TMPDIR/answer
    local stub=$BATS_FILE_TMPDIR/stub/late/qemu-system-x86_64 h=$ADAPTFS_MNT/$VMT-late t
    mkdir -p "${stub%/*}"
    printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' | cc -O -x c -o "$stub" -
    fake_qmp "$sock" "$gate"
    wait_for -t 5 test -S "$sock"
    _vm_bg /dev/null "$stub" -name "$VMT-late" -qmp "unix:$sock,server=on,wait=off"
    echo "$_VM_BG_PID" >>"$BATS_FILE_TMPDIR/stubs"
    # QMP keeps silent: the stub's own /proc/PID/io stands in (bytes, no ops)
    wait_for -t 10 key read_bytes "$h/io"
    run key write_ops "$h/io"
    assert_failure
    # QMP answers from now on; adaptfs asks again 10 s after the time-out
    touch "$gate"
    qmp_sample() { t=$(<"$h/io") && grep -q '^write_ops ' <<<"$t"; }
    wait_for -t 20 qmp_sample
    echo "# first sample with QMP's figures: $(tr '\n' ' ' <<<"$t")" >&3
    assert_equal "$(awk '$1 == "write_bytes" { print $2 }' <<<"$t")" $((8 << 30))
    # 8 GiB against /proc/PID/io's few bytes would be a rate of ~8 GiB/s
    awk '$1 == "write_bytes_per_sec" { exit !($2 < 1e6) }' <<<"$t" ||
        fail "a rate made of /proc/PID/io's and QMP's figures: $(grep per_sec <<<"$t")"
}

@test "a spinning thread's cpu + sched_wait percentages add up to 100 while slow QMP sockets delay the sweep" {
    local sock=$BATS_FILE_TMPDIR/hang.sock hang=$BATS_FILE_TMPDIR/stub/hang/qemu-system-x86_64
    local spin=$BATS_FILE_TMPDIR/stub/spin/qemu-system-x86_64 i d
    d=$ADAPTFS_MNT/$VMT-spinstub
    mkdir -p "${hang%/*}" "${spin%/*}"
    printf '#include <unistd.h>\nint main(void) { for (;;) pause(); }\n' | cc -O -x c -o "$hang" -
    printf 'int main(void) { volatile unsigned long x = 0; for (;;) x++; }\n' | cc -O -x c -o "$spin" -
    qmp_hang_socket "$sock"
    # twenty guests whose QMP never answers: every 10 s (their retry period) the sweep spends
    # 20 x 50 ms on them before it gets to the spinner (started last, its pid sorts after);
    # a sampler that timed the whole sweep from its start showed the spinner at ~200%, then
    # ~25%, at each of these rounds
    for ((i = 0; i < 20; i++)); do
        _vm_bg /dev/null "$hang" -name "$VMT-hung$i" -qmp "unix:$sock,server=on,wait=off"
        echo "$_VM_BG_PID" >>"$BATS_FILE_TMPDIR/stubs"
    done
    # a one-thread "guest" that is always running or runnable: over any interval its CPU
    # time plus its run-queue wait is the interval, whatever the load, so cpu usage_percent
    # + sched_wait wait_percent is 100 in every sample of a correct sampler
    _vm_bg /dev/null "$spin" -name "$VMT-spinstub"
    echo "$_VM_BG_PID" >>"$BATS_FILE_TMPDIR/stubs"
    # a sampler preempted between its clock read and the reads of the counters shows too
    # (up to +-20% was seen on this busy host at nice 0): the daemon gets the CPU first, and
    # the band is 60-140%, well inside the ~200/~25% pairs the bug gave
    boost_daemon
    wait_for -t 10 key sched_wait_percent "$d/stat"
    # 25 s: two or three rounds of the hung sockets' retries
    run _vm_python - "$d/stat" <<'PY'
import sys, time
path, sums, prev = sys.argv[1], [], None
end = time.monotonic() + 25
while time.monotonic() < end:
    m = dict(l.split() for l in open(path))
    # over less than half a second the 10 ms ticks of utime+stime are too coarse (a new
    # workload is sampled when discovered and again at the next full sweep)
    if m["timestamp_usec"] != prev and "cpu_usage_percent" in m and "sched_wait_percent" in m \
            and int(m["interval_usec"]) >= 500000:
        sums.append(float(m["cpu_usage_percent"]) + float(m["sched_wait_percent"]))
        prev = m["timestamp_usec"]
    time.sleep(0.05)
print(" ".join("%.0f" % v for v in sums))
sys.exit(0 if sums and all(60 <= v <= 140 for v in sums) else 1)
PY
    echo "# cpu + sched_wait percent of one always-runnable thread, per sample: $output" >&3
    assert_success
}
