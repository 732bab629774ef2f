#!/usr/bin/env bats
# libvirt-managed QEMU guests: a guest that a real libvirt daemon started (-name guest=NAME,...)
# is a workload of kind "vm libvirt", named by its domain name, and the cgroup libvirt puts it
# in is not taken for a container; placement cpus= goes through libvirt (virsh vcpupin), so
# libvirt knows and keeps it.
#
# setup_file starts a libvirtd of its own (lib/libvirt.bash: a private mount namespace, nothing
# of the host's libvirt read or written) and a transient TCG domain in it (machine type pc,
# 128 MiB, 1 vCPU, no disk nor network, the kernel and initramfs of lib/vm.bash); adaptfs gets
# [libvirt] uri = that daemon's socket. Without systemd libvirt makes cgroup v1 directories
# /machine/qemu-N-NAME.libvirt-qemu/{emulator,vcpu0} (under systemd:
# machine.slice/machine-qemu\x2dN\x2dNAME.scope).
#
# Needs what lib/libvirt.bash and lib/vm.bash need. Skips, saying why, when libvirtd or virsh
# is missing or the daemon does not come up.
#   bats --timing tests/bats/libvirt.bats

bats_load_library bats-support
bats_load_library bats-assert
load lib/mount
load lib/containers # before lib/vm (see its header)
load lib/vm

load lib/libvirt

lvsh() { lv_virsh "$LV_DIR" "$@"; }
lv_create() { # NAME JOB
    lv_domain_xml "$1" "$2" >"$LV_DIR/$1.xml"
    lvsh create "$LV_DIR/$1.xml" >/dev/null
}

setup_file() {
    export LV_SKIP LV_DIR="" LV_NAME LV_MACHINE_CG="" LV_SERIAL_DIR
    LV_SKIP=$(lv_why_not)
    [[ -z $LV_SKIP ]] || return 0
    vm_image_build

    LV_DIR=$(mktemp -d /tmp/adaptfs-libvirt.XXXXXX)
    LV_SERIAL_DIR=$LV_DIR
    # the cgroup parents libvirt makes and leaves behind: remove those that were not there
    local d t0 ms
    for d in /sys/fs/cgroup/*/; do
        [[ -d ${d}machine ]] || LV_MACHINE_CG+="${d}machine "
    done
    t0=$(_adapt_now_us)
    LV_SKIP=$(lv_start "$LV_DIR") || return 0
    ms=$((($(_adapt_now_us) - t0) / 1000))
    echo "# libvirtd $(libvirtd --version | awk '{ print $NF }') (pid $(<"$LV_DIR/libvirtd.pid")) answered after $ms ms" >&3

    # adaptfs acts on libvirt's guests through our private daemon
    printf '[libvirt]\nuri = %s\n' "$(lv_uri "$LV_DIR")" >"$LV_DIR/adaptfs.conf"
    adaptfs_mount --interval 0.5 --config "$LV_DIR/adaptfs.conf"
    LV_NAME=adaptlv$(printf '%04x' $((RANDOM)))
    t0=$(_adapt_now_us)
    lv_create "$LV_NAME" cpu
    ms=$((($(_adapt_now_us) - t0) / 1000))
    echo "# virsh create $LV_NAME: $ms ms (qemu pid $(lv_qemu_pid "$LV_DIR" "$LV_NAME"))" >&3
}

setup() {
    [[ -z $LV_SKIP ]] || skip "$LV_SKIP"
}

teardown_file() {
    local rc=0 d
    adaptfs_umount || rc=1
    if [[ -n $LV_DIR ]]; then
        lv_stop "$LV_DIR"
        rm -rf "$LV_DIR"
    fi
    for d in $LV_MACHINE_CG; do
        rmdir "$d" 2>/dev/null || true # fails while another run's guest is in it
    done
    return $rc
}

# ------------------------------------------------------------------------- tests ---------

@test "a libvirt guest is a directory named by its domain name, kind 'vm libvirt'" {
    local pid
    pid=$(lv_qemu_pid "$LV_DIR" "$LV_NAME")
    wait_for -t 3 test -d "$ADAPTFS_MNT/$LV_NAME"
    run cat "$ADAPTFS_MNT/$LV_NAME/kind"
    assert_output "vm libvirt"
    # the daemon found it as that very QEMU process
    run grep -F "$LV_NAME: appeared" "$ADAPTFS_LOG"
    assert_output --partial "(vm libvirt, $pid)"
}

@test "its cpu figures move (guest spinning under TCG)" {
    local u0
    u0=$(awk '$1 == "usage_usec" { print $2 }' "$ADAPTFS_MNT/$LV_NAME/cpu")
    [[ $u0 =~ ^[0-9]+$ ]]
    # at least 0.3 s of CPU more, then a usage_percent above zero
    wait_for -t 10 eval "(( \$(awk '\$1 == \"usage_usec\" { print \$2 }' '$ADAPTFS_MNT/$LV_NAME/cpu') >= $u0 + 300000 ))"
    run awk '$1 == "usage_percent" { exit !($2 > 0) }' "$ADAPTFS_MNT/$LV_NAME/cpu"
    assert_success
}

@test "the cgroup libvirt put the guest in is not a container" {
    local pid cg p
    pid=$(lv_qemu_pid "$LV_DIR" "$LV_NAME")
    # e.g. /machine/qemu-1-NAME.libvirt-qemu/emulator (no systemd) or
    # /machine.slice/machine-qemu\x2d1\x2dNAME.scope/libvirt/emulator (systemd)
    cg=$(awk -F: '$3 ~ /libvirt|machine/ { print $3; exit }' "/proc/$pid/cgroup")
    echo "# qemu $pid is in $cg" >&3
    [[ -n $cg ]] || skip "libvirt put QEMU in no machine cgroup here: $(tr '\n' ' ' <"/proc/$pid/cgroup")"
    # two samples more, then: no container appeared for that cgroup nor any of its parents
    sleep 1
    p=$cg
    while [[ $p == /?* ]]; do
        run grep -F "appeared (container" "$ADAPTFS_LOG"
        refute_output --partial ", $p)"
        p=${p%/*}
    done
    # and the guest is one directory, not two
    run printf '%s\n' "$ADAPTFS_MNT/$LV_NAME"*
    assert_output "$ADAPTFS_MNT/$LV_NAME"
}

@test "a domain name with a comma (QEMU's ',,' escape) is read whole" {
    # libvirt starts it with -name guest=NAME,,b,debug-threads=on; the directory name is the
    # domain name made safe (characters outside [A-Za-z0-9._+@:=-] become '_'), so NAME_b:
    # a guest of its own, not a second "NAME" (that would show as NAME.libvirt)
    local name=$LV_NAME,b
    lv_create "$name" idle
    wait_for -t 3 test -d "$ADAPTFS_MNT/${LV_NAME}_b" || {
        printf '%s\n' "$ADAPTFS_MNT/$LV_NAME"*; grep -F "$LV_NAME" "$ADAPTFS_LOG"; false; }
    run grep -F "${LV_NAME}_b: appeared" "$ADAPTFS_LOG"
    assert_output --partial "(vm libvirt, $(lv_qemu_pid "$LV_DIR" "$name"))"
    lvsh destroy "$name" >/dev/null
}

# the vCPU -> CPU list libvirt has for domain NAME, as "vcpu:list ..." (from its live XML's cputune)
lv_pins() { lvsh vcpupin "$1" --live | awk 'NF == 2 { printf "%s:%s ", $1, $2 }'; }

@test "placement cpus= on a libvirt guest goes through libvirt: virsh vcpupin shows it and placement reads it back" {
    local before after want
    [[ $(nproc) -ge 2 ]] || skip "one CPU: no second CPU set to pin to"
    before=$(lv_pins "$LV_NAME")
    want=$(($(nproc) - 1))
    echo "cpus=$want" >"$ADAPTFS_MNT/$LV_NAME/placement"
    after=$(lv_pins "$LV_NAME")
    echo "# libvirt's pins: $before-> $after" >&3
    [[ $after == "0:$want " ]]
    # libvirt keeps it in the guest's live definition
    lvsh dumpxml "$LV_NAME" | grep -q "<vcpupin vcpu='0' cpuset='$want'/>"
    wait_for -t 3 grep -qx "host=[^ ]* cpus=$want" "$ADAPTFS_MNT/$LV_NAME/placement"
    grep -q "$LV_NAME: placement: pinned to cpus $want" "$ADAPTFS_MNT/events"
    echo "cpus=0-$want" >"$ADAPTFS_MNT/$LV_NAME/placement"
    [[ $(lv_pins "$LV_NAME") == "0:0-$want " ]]
}

@test "virsh destroy removes the guest's directory within two intervals" {
    local pid
    pid=$(lv_qemu_pid "$LV_DIR" "$LV_NAME")
    lvsh destroy "$LV_NAME" >/dev/null
    wait_for -t 3 _adapt_pid_gone "$pid"
    wait_for -t 1.5 eval "! test -e '$ADAPTFS_MNT/$LV_NAME'"
}

# last: it stops the libvirtd (teardown_file kills the guest it leaves by its pid)
@test "with libvirtd down a pin fails with EIO and virsh's reason in events; no vCPU is pinned behind libvirt's back" {
    local name=${LV_NAME}d pid before after
    lv_create "$name" idle
    wait_for -t 5 test -d "$ADAPTFS_MNT/$name"
    pid=$(lv_qemu_pid "$LV_DIR" "$name")
    before=$(for t in /proc/"$pid"/task/*; do taskset -pc "${t##*/}"; done | awk '{ print $NF }' | sort | uniq -c)
    local lv_pid
    lv_pid=$(<"$LV_DIR/libvirtd.pid")
    kill -TERM "$lv_pid"
    wait_for -t 10 _adapt_pid_gone "$lv_pid"
    _adapt_pid_alive "$pid"	# the guest runs on without its libvirtd
    run bash -c "echo cpus=0 > '$ADAPTFS_MNT/$name/placement'"
    assert_failure
    assert_output --partial "Input/output error"
    grep -q "$name: placement: virsh vcpupin failed: error: " "$ADAPTFS_MNT/events"
    after=$(for t in /proc/"$pid"/task/*; do taskset -pc "${t##*/}"; done | awk '{ print $NF }' | sort | uniq -c)
    [[ $after == "$before" ]]
}
