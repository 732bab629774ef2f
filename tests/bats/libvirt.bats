#!/usr/bin/env bats
# libvirt-managed QEMU guests (issue 5, item 2): a guest that the real libvirt daemon started
# (-name guest=NAME,...) is a workload of kind "vm libvirt", named by its domain name, and the
# cgroup libvirt puts it in is not taken for a container.
#
# These machines have no systemd as PID 1 and no running libvirt, so setup_file starts its own
# libvirtd in the background, in a private mount namespace (unshare -m) whose /etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt are bind mounts of a
# temporary directory: nothing of the host's libvirt configuration or state is read or
# written (no autostarted networks or domains), and two runs at once do not meet. virsh talks
# to it through qemu:///system?socket=TMP/run/libvirt-sock. The guest is a transient TCG
# domain (virsh create): machine type pc, 128 MiB, 1 vCPU, no disk nor network, direct kernel
# boot of the kernel + initramfs of lib/vm.bash, serial console to a file.
# Without systemd libvirt makes cgroup v1 directories /machine/qemu-N-NAME.libvirt-qemu/
# {emulator,vcpu0} (under systemd: machine.slice/machine-qemu\x2dN\x2dNAME.scope).
#
# Needs root and the Debian packages libvirt-daemon-system (pulls libvirt-daemon,
# libvirt-daemon-driver-qemu, libvirt-clients, and creates the user libvirt-qemu: libvirtd 9.0's
# QEMU driver looks that user up at start even when qemu.conf says user = "root"),
# qemu-system-x86, linux-image-amd64, busybox-static (the guest image, see lib/vm.bash) and
# util-linux (unshare). Installing them starts no service here (policy-rc.d). Skips, saying
# why, when libvirtd or virsh is missing or the daemon does not come up.
#   bats --timing tests/bats/libvirt.bats

bats_load_library bats-support
bats_load_library bats-assert
load lib/mount
load lib/containers # before lib/vm (see its header)
load lib/vm

: "${LV_START_TIMEOUT:=20}"

# virsh against our private daemon
lvsh() { virsh -q -c "qemu:///system?socket=$LV_DIR/run/libvirt-sock" "$@"; }

# is PID the libvirtd we started?
lv_daemon_alive() { _adapt_pid_alive "$1" && [[ $(cat "/proc/$1/comm" 2>/dev/null) == libvirtd ]]; }

# pid of domain NAME's QEMU (libvirt writes it to /run/libvirt/qemu/NAME.pid: ours)
lv_qemu_pid() { local p; p=$(cat "$LV_DIR/run/qemu/$1.pid" 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]] && echo "$p"; }

# a transient TCG domain NAME running JOB (lib/vm.bash's /init: idle, cpu, ...)
lv_domain_xml() { # NAME JOB
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VM_KERNEL</kernel>
    <initrd>$VM_INITRD</initrd>
    <cmdline>console=ttyS0 tsc_early_khz=2000000 panic=-1 adapt.job=$2</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v "$VM_QEMU")</emulator>
    <serial type='file'><source path='$LV_DIR/$1.serial.log'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

lv_create() { # NAME JOB
    lv_domain_xml "$1" "$2" >"$LV_DIR/$1.xml"
    lvsh create "$LV_DIR/$1.xml" >/dev/null
}

# the reason this file cannot run here, or nothing
lv_why_not() {
    [[ $EUID -eq 0 ]] || { echo "needs root"; return; }
    local c
    for c in libvirtd virsh unshare "$VM_QEMU"; do
        command -v "$c" >/dev/null 2>&1 ||
            { echo "$c not installed (Debian packages libvirt-daemon-system, qemu-system-x86, util-linux)"; return; }
    done
    getent passwd libvirt-qemu >/dev/null ||
        echo "user libvirt-qemu missing: libvirtd's QEMU driver does not start without it (Debian package libvirt-daemon-system creates it)"
}

setup_file() {
    export LV_SKIP LV_DIR="" LV_PID="" LV_NAME LV_MACHINE_CG=""
    LV_SKIP=$(lv_why_not)
    [[ -z $LV_SKIP ]] || return 0
    vm_image_build

    LV_DIR=$(mktemp -d /tmp/adaptfs-libvirt.XXXXXX)
    mkdir -p "$LV_DIR"/{etc,run,lib,cache,log}
    cat >"$LV_DIR/etc/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
EOF
    # root, no sVirt/AppArmor labels, no per-guest mount namespace, no virtlogd
    cat >"$LV_DIR/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
stdio_handler = "file"
EOF
    # the cgroup parents libvirt makes and leaves behind: remove those that were not there
    local d binds=""
    for d in /sys/fs/cgroup/*/; do
        [[ -d ${d}machine ]] || LV_MACHINE_CG+="${d}machine "
    done
    for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
        mkdir -p "${d#*:}" # mount points (empty directories) on the host
        binds+="mount --bind '$LV_DIR/${d%%:*}' '${d#*:}' && "
    done

    local t0 ms
    t0=$(_adapt_now_us)
    # unshare and sh exec: $! is libvirtd itself. --timeout: it exits by itself 120 s after
    # its last domain and client are gone, should teardown_file never run.
    unshare -m --propagation private sh -c "${binds}exec libvirtd --timeout 120" \
        </dev/null >"$LV_DIR/libvirtd.log" 2>&1 3>&- &
    LV_PID=$!
    echo "$LV_PID" >"$LV_DIR/libvirtd.pid"
    # (list, not version: version probes QEMU's capabilities, which virsh create does anyway)
    if ! WAIT_FOR_TIMEOUT=$LV_START_TIMEOUT wait_for lvsh list; then
        LV_SKIP="libvirtd did not come up within ${LV_START_TIMEOUT}s ($(lv_daemon_alive "$LV_PID" && echo running || echo exited)); its last errors: $(grep -E 'error|fail' "$LV_DIR/libvirtd.log" | grep -v -E 'dmidecode|/dev/mem|DMI|system bus' | tail -n 3 | tr '\n' ' ')"
        [[ $LV_SKIP == *': ' ]] && LV_SKIP+="none (log: $(tail -n 2 "$LV_DIR/libvirtd.log" | tr '\n' ' '))"
        return 0
    fi
    ms=$((($(_adapt_now_us) - t0) / 1000))
    echo "# libvirtd $(libvirtd --version | awk '{ print $NF }') (pid $LV_PID) answered after $ms ms" >&3

    adaptfs_mount --interval 0.5
    LV_NAME=adaptlv$(printf '%04x' $((RANDOM)))
    t0=$(_adapt_now_us)
    lv_create "$LV_NAME" cpu
    ms=$((($(_adapt_now_us) - t0) / 1000))
    echo "# virsh create $LV_NAME: $ms ms (qemu pid $(lv_qemu_pid "$LV_NAME"))" >&3
}

setup() {
    [[ -z $LV_SKIP ]] || skip "$LV_SKIP"
}

lv_stop() { # the daemon we started, by its pid, and whatever QEMU it left
    local p name
    for name in "$LV_DIR"/*.xml; do
        [[ -f $name ]] || continue
        name=${name##*/}
        name=${name%.xml}
        p=$(lv_qemu_pid "$name") || p=""
        lvsh destroy "$name" >/dev/null 2>&1 || true
        if [[ -n $p ]] && _adapt_pid_alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "guest=$name"; then
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
    if [[ -n $LV_PID ]] && lv_daemon_alive "$LV_PID"; then
        kill -TERM "$LV_PID" 2>/dev/null || true
        wait_for -t 10 _adapt_pid_gone "$LV_PID" || kill -KILL "$LV_PID" 2>/dev/null || true
    fi
}

teardown_file() {
    local rc=0 d
    adaptfs_umount || rc=1
    if [[ -n $LV_DIR ]]; then
        lv_stop
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
    pid=$(lv_qemu_pid "$LV_NAME")
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
    pid=$(lv_qemu_pid "$LV_NAME")
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
    assert_output --partial "(vm libvirt, $(lv_qemu_pid "$name"))"
    lvsh destroy "$name" >/dev/null
}

@test "virsh destroy removes the guest's directory within two intervals" {
    local pid
    pid=$(lv_qemu_pid "$LV_NAME")
    lvsh destroy "$LV_NAME" >/dev/null
    wait_for -t 3 _adapt_pid_gone "$pid"
    wait_for -t 1.5 eval "! test -e '$ADAPTFS_MNT/$LV_NAME'"
}
