# shellcheck shell=bash
# tests/bats/lib/libvirt.bash — private libvirt daemons for the tests, and transient TCG guests
# in them.
#
# Load after lib/vm (the guests boot its kernel and initramfs). Needs root and the Debian
# packages libvirt-daemon-system (libvirtd 9.0's QEMU driver looks the user libvirt-qemu up at
# start even when qemu.conf says user = "root"), qemu-system-x86, util-linux (unshare).
#
# These machines have no systemd as PID 1 and no running libvirt. A daemon here runs in a
# private mount namespace (unshare -m) whose /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt are bind mounts of DIR/{etc,run,lib,cache,log}:
# nothing of the host's libvirt configuration or state is read or written (no autostarted
# networks or domains), and two daemons (or runs) do not meet. It runs as root, without
# sVirt/AppArmor labels, per-guest mount namespaces or virtlogd, and exits by itself 120 s
# after its last domain and client are gone, should a teardown never run.
#
#   lv_why_not               the reason libvirt cannot run here, or nothing
#   lv_start DIR [HOST]      start a daemon on DIR and wait (up to $LV_START_TIMEOUT s) until it
#                            answers; its pid in DIR/libvirtd.pid. With HOST (lib/hosts.bash),
#                            on that test host: in its network namespace and cgroup (through
#                            hostexec), making no cgroups of its own (its guests stay in the
#                            host's scope), with a host UUID of its own and listening on the
#                            host's address (TCP 16509, no auth) for peer-to-peer migrations;
#                            its incoming guests listen on that address too.
#                            Fails, saying why, when it does not come up.
#   lv_uri DIR               its URI: qemu:///system?socket=DIR/run/libvirt-sock
#   lv_virsh DIR ARGS...     virsh -q against it
#   lv_domain_xml NAME JOB [MAC IP]   a transient TCG domain running JOB (lib/vm.bash's /init),
#                            machine type pc, $LV_MEM MiB (128), 1 vCPU, no disk, direct kernel
#                            boot (kernel command line + $LV_APPEND_EXTRA, e.g. adapt.fill=N),
#                            serial console to $LV_SERIAL_DIR/NAME.serial.log; with MAC and IP a
#                            virtio NIC on bridge br0 (a test host's) with that address/24
#   lv_qemu_pid DIR NAME     pid of domain NAME's QEMU (from DIR/run/qemu/NAME.pid)
#   lv_stop DIR              destroy its domains (SIGKILL their QEMU by pid where that fails,
#                            and remove the cgroups libvirt made for them), stop the daemon
#                            (SIGTERM, SIGKILL after 10 s)

: "${LV_START_TIMEOUT:=20}"

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

lv_uri() { echo "qemu:///system?socket=$1/run/libvirt-sock"; }

lv_virsh() {
    local dir=$1
    shift
    virsh -q -c "$(lv_uri "$dir")" "$@"
}

lv_qemu_pid() {
    local p
    p=$(cat "$1/run/qemu/$2.pid" 2>/dev/null) && [[ $p =~ ^[0-9]+$ ]] && echo "$p"
}

# is PID the libvirtd started on DIR?
_lv_daemon_alive() { _adapt_pid_alive "$1" && [[ $(cat "/proc/$1/comm" 2>/dev/null) == libvirtd ]]; }

_lv_conf() { # DIR [HOST]
    local dir=$1 h=${2:-} addr
    cat >"$dir/etc/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:stderr"
EOF
    cat >"$dir/etc/qemu.conf" <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
stdio_handler = "file"
EOF
    [[ -n $h ]] || return 0
    addr=$(host_addr "$h") || return 1
    cat >>"$dir/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "$addr"
auth_tcp = "none"
host_uuid = "$(printf '%08x-ad00-4000-8000-%012x' "$(cksum <<<"$h" | cut -d' ' -f1)" "${addr##*.}")"
EOF
    cat >>"$dir/etc/qemu.conf" <<EOF
cgroup_controllers = [ ]
migration_address = "$addr"
migration_host = "$addr"
EOF
}

lv_start() { # DIR [HOST]
    local dir=$1 h=${2:-} d binds="" run=() pid
    mkdir -p "$dir"/{etc,run,lib,cache,log}
    _lv_conf "$dir" "$h" || return 1
    for d in etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
        mkdir -p "${d#*:}" # mount points (empty directories) on the host
        binds+="mount --bind '$dir/${d%%:*}' '${d#*:}' && "
    done
    [[ -z $h ]] || run=("$HOSTEXEC" "$h")
    # unshare and sh exec: the pid is libvirtd's own (hostexec execs too)
    "${run[@]}" unshare -m --propagation private sh -c "${binds}exec libvirtd --timeout 120 --pid-file '$dir/run/libvirtd.daemon.pid' ${h:+--listen}" \
        </dev/null >"$dir/libvirtd.log" 2>&1 3>&- &
    pid=$!
    echo "$pid" >"$dir/libvirtd.pid"
    # (list, not version: version probes QEMU's capabilities, which virsh create does anyway)
    if ! WAIT_FOR_TIMEOUT=$LV_START_TIMEOUT wait_for lv_virsh "$dir" list >/dev/null 2>&1; then
        echo "libvirtd did not come up within ${LV_START_TIMEOUT}s ($(_lv_daemon_alive "$pid" && echo running || echo exited)); its last errors: $(grep -E 'error|fail' "$dir/libvirtd.log" | grep -v -E 'dmidecode|/dev/mem|DMI|system bus' | tail -n 3 | tr '\n' ' ')"
        return 1
    fi
}

lv_domain_xml() { # NAME JOB [MAC IP]
    local nic="" append="console=ttyS0 tsc_early_khz=2000000 panic=-1 adapt.job=$2${LV_APPEND_EXTRA:+ $LV_APPEND_EXTRA}"
    if [[ -n ${4:-} ]]; then
        nic="<interface type='bridge'><source bridge='br0'/><mac address='$3'/><model type='virtio'/></interface>"
        append+=" adapt.ip=$4/24 adapt.name=$1"
    fi
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>${LV_MEM:-128}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$VM_KERNEL</kernel>
    <initrd>$VM_INITRD</initrd>
    <cmdline>$append</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$(command -v "$VM_QEMU")</emulator>
    <serial type='file'><source path='$LV_SERIAL_DIR/$1.serial.log' append='on'/><target port='0'/></serial>
    $nic
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

lv_stop() { # DIR
    local dir=$1 p name pid cg
    for name in "$dir"/run/qemu/*.pid; do
        [[ -f $name ]] || continue
        name=${name##*/}
        name=${name%.pid}
        p=$(lv_qemu_pid "$dir" "$name") || p=""
        lv_virsh "$dir" destroy "$name" >/dev/null 2>&1 || true
        if [[ -n $p ]] && _adapt_pid_alive "$p" && tr '\0' ' ' <"/proc/$p/cmdline" | grep -qF "guest=$name"; then
            kill -KILL "$p" 2>/dev/null || true
            wait_for -t 5 _adapt_pid_gone "$p" || true
        fi
        # the cgroups libvirt made for it, which a daemon gone first leaves behind
        for cg in /sys/fs/cgroup/*/machine/qemu-*-"$name".libvirt-qemu; do
            [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    done
    pid=$(cat "$dir/libvirtd.pid" 2>/dev/null) || return 0
    if _lv_daemon_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_for -t 10 _adapt_pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
}
