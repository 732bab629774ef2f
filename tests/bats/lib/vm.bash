# shellcheck shell=bash
# tests/bats/lib/vm.bash — QEMU microvm guests (TCG) for adaptfs bats tests.
#
# Debian packages these helpers need (besides those of lib/containers.bash):
#   qemu-system-x86 linux-image-amd64 busybox-static python3 cpio xz-utils
#   (cpio and xz-utils are optional: busybox cpio and python3's lzma are the fallbacks)
#
# Load from a bats file with:   load lib/vm     (loads lib/containers.bash and lib/common.bash)
# If a file loads both, load lib/containers FIRST: re-sourcing containers.bash after vm.bash
# would drop the "vm" owner check the shared address allocator needs (see _vm_hook_owner).
#
# Functions (all as root; vm_up first removes a leftover of the same name; vm_down,
# qmp_hang_stop and vm_teardown_all are idempotent and succeed for unknown names):
#
#   vm_image_build           build (once per host: cached in /var/tmp/adaptfs-vm-<kver>/<hash>/,
#                            <hash> covering this builder, the kernel and busybox) an uncompressed
#                            initramfs (busybox-static + virtio modules + /init) and extract the
#                            kernel's uncompressed vmlinux (PVH entry: boots ~2x faster under TCG
#                            than the bzImage). Sets and exports VM_KVER, VM_KERNEL, VM_INITRD.
#                            Overrides: VM_KVER (default: newest /boot/vmlinuz-* with modules),
#                            VM_KERNEL_KIND=bzimage (boot /boot/vmlinuz-* itself).
#   vm_up NAME JOB           boot a guest running JOB and return once it is ready (its /init
#                            printed the ready marker on the serial console; bounded by
#                            VM_BOOT_TIMEOUT, default 60 s). JOB is one of
#                              idle   PID 1 sleeps
#                              cpu    PID 1 spins in a shell busy loop (QEMU uses ~1 host CPU)
#                              io     loop: 16 MiB dd to /dev/vda (oflag=direct), then back
#                                     (iflag=direct); prints "adaptfs-vm: io round N" per loop
#                              httpd  busybox httpd -f -p 8080 -h /www; /www has index.html
#                                     ("adaptfs-vm NAME"), big (4 MiB random) and big.md5
#                                     (md5sum line of big), uptime (the guest's /proc/uptime,
#                                     rewritten every 0.2 s). Poll the port with wait_for.
#                            Machine: qemu-system-x86_64 -M microvm -accel tcg -m $VM_MEM (128)
#                            -smp 1 -nodefaults -no-user-config -nographic -no-reboot
#                            -name NAME,debug-threads=on (vCPU thread "CPU 0/TCG"),
#                            QMP on a unix socket, serial console to a file, virtio-blk on a
#                            64 MiB sparse raw file (guest /dev/vda; QEMU drive id "d0", device
#                            id "vda"), virtio-net on a tap on bridge adapttest0 (address from
#                            the shared allocator of lib/containers.bash, MAC
#                            02:a7:00:00:00:<last octet in hex>, gateway 10.231.0.1), and
#                            virtio-balloon (id balloon0: QMP qom path /machine/peripheral/balloon0).
#                            QEMU runs in the background of the calling shell (no -daemonize).
#                            VM_QMP_OPTS=server,nowait gives the older spelling of the -qmp
#                            option (QEMU 7.2 takes both, without a warning).
#                            Extra QEMU arguments: VM_QEMU_EXTRA (word-split), extra kernel
#                            parameters: VM_APPEND_EXTRA. VM_APPEND_EXTRA=adapt.fill=MIB makes
#                            /init write MIB MiB from /dev/urandom to /fill (the initramfs root,
#                            a tmpfs, i.e. guest RAM; remounted to 95% of RAM first) before the
#                            ready marker, which then ends "fill=MIB" (bench/migrate: RAM that a
#                            live migration must send). Give the guest VM_MEM >= MIB + 128.
#                            VM_APPEND_EXTRA=adapt.dirty=MIB: MIB MiB of random data rewritten
#                            in a loop from then on (memory dirtied as fast as the guest can);
#                            give it 2 * MIB more VM_MEM.
#   vm_pid NAME              pid of the qemu-system-x86_64 process
#   vm_qmp NAME              path of its QMP unix socket (-qmp unix:PATH,server=on,wait=off):
#                            the one an adaptfs daemon discovers and uses. QEMU serves ONE client
#                            per QMP socket at a time and the daemon keeps its connection open,
#                            so the helpers talk to a second, private QMP monitor instead
#                            (-chardev socket,id=ctl,path=... -mon chardev=ctl,mode=control,
#                            after -qmp so the daemon's command-line parser keeps the -qmp one):
#   vm_qmp_ctl NAME          path of that private QMP socket
#   vm_ip NAME / vm_mac NAME / vm_tap NAME / vm_disk NAME
#   vm_log NAME              path of the serial console log (kernel messages + /init output)
#   vm_qemu_log NAME         path of QEMU's own stdout/stderr
#   vm_boot_ms NAME          milliseconds from starting QEMU to the ready marker
#   vm_qmp_cmd NAME JSON     connect to NAME's private QMP socket, negotiate capabilities, send JSON
#                            (e.g. '{"execute":"query-status"}'), print the reply line (events
#                            skipped); exit status 1 on an "error" reply, 2 if no reply within
#                            VM_QMP_TIMEOUT (5 s). Also: qmp_cmd SOCKET JSON.
#   vm_down NAME             QMP quit (private socket), SIGKILL (by pid, after checking the pid is still this
#                            QEMU) if it has not exited after VM_STOP_TIMEOUT (5) s; deletes the
#                            tap, the disk, the socket, the logs; frees the address.
#   vm_teardown_all          like teardown_all of lib/containers.bash, for the objects above
#                            (registry $BATS_FILE_TMPDIR/vm-registry, separate from teardown_all's:
#                            call both from teardown_file, vm_teardown_all first). In a test it
#                            removes that test's VMs and hang servers; from teardown_file (or by
#                            hand) all of the file's, then the bridge once unused.
#
#   qmp_hang_socket PATH     start (in the background, pid recorded) a python3 server on unix
#                            socket PATH that accepts every connection and never answers nor
#                            closes; returns once PATH accepts connections. Several may run.
#   qmp_hang_stop [PATH]     stop that server (all of them without PATH), remove the socket(s).
#
# Names: [A-Za-z0-9_.-]; the tap is vt<8 hex digits of md5(NAME)>, host-wide like LXC names.
#
# Pitfalls found on these machines (and handled here):
# - KVM hangs silently here: always -accel tcg. Without tsc_early_khz= on the kernel command
#   line the guest hangs calibrating the TSC.
# - The kernel's own boot log echoes the command line: the ready marker is a string that is
#   not on it.
# - QMP sockets take one client at a time (listen backlog 1): while any process holds the
#   connection (an adaptfs daemon does, between samples), a second client is queued without a
#   greeting, and once the backlog holds a client that gave up, connect() fails with EAGAIN.
#   Seen here: adaptfs daemons of other test runs on the same host took over these VMs' -qmp
#   sockets. Hence the private monitor for the helpers.
# - With -nographic but -serial file:..., no monitor is multiplexed on stdio (-nodefaults);
#   QEMU's stdin is /dev/null anyway.
# - The Debian modules may be .ko.xz/.ko.zst on other kernels: decompressed at build time
#   (busybox insmod does not take compressed modules); order comes from modules.dep.
# - `-no-reboot` + `panic=-1`: a guest panic (or /init exiting) ends QEMU at once, so vm_up
#   fails fast with the console log instead of waiting for its timeout.
# - bats waits for every process holding its fd 3: QEMU and the hang server start with every
#   fd but stdio closed and stdio redirected (_vm_bg). A background FUNCTION call would run in
#   a forked subshell: $! would be that subshell, not the program, and it would keep bats'
#   internal pipes (fds >= 10) open, so bats never finishes: _vm_bg execs the program.
# - A QEMU that exits once our shell has gone is reaped by host PID 1, which is slow here: a
#   zombie counts as stopped (_adapt_pid_alive).
# - The address allocator of lib/containers.bash drops entries whose owner it does not know;
#   vm.bash teaches it the kind "vm" (owner alive = its tap exists). Until containers.bash
#   knows that kind itself, a concurrent run of a bats file that loads only lib/containers may
#   reclaim a running VM's address.

# shellcheck source-path=SCRIPTDIR source=containers.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.bash"

: "${VM_BOOT_TIMEOUT:=60}"
: "${VM_STOP_TIMEOUT:=5}"
: "${VM_QMP_TIMEOUT:=5}"
: "${VM_MEM:=128}"
: "${VM_DISK_MB:=64}"
: "${VM_CACHE_ROOT:=/var/tmp}"
: "${VM_QEMU:=qemu-system-x86_64}"
: "${VM_QMP_OPTS:=server=on,wait=off}"
VM_READY_MARKER=ADAPTFS-VM-READY
VM_MODULES="virtio_ring virtio virtio_mmio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk failover net_failover virtio_net virtio_balloon"
VM_JOBS="idle cpu io httpd"

# /usr/bin/python3 rather than a pyenv shim found first in PATH: faster, and what Debian installs
_vm_python_bin() {
    if [[ -x /usr/bin/python3 ]]; then
        echo /usr/bin/python3
    else
        command -v python3 || { echo "vm.bash: python3 missing (package python3)" >&2; return 1; }
    fi
}
_vm_python() {
    local py
    py=$(_vm_python_bin) || return 1
    "$py" "$@"
}

# Start CMD in the background with stdin /dev/null, stdout+stderr to LOG and every other fd
# closed (bats waits for whoever holds its fd 3, and its other pipes must not outlive the
# test either); the subshell execs CMD, so _VM_BG_PID ($!) is CMD's pid.
_vm_bg() { # LOG CMD...
    local log=$1
    shift
    (
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            ((fd > 2)) && eval "exec $fd>&-"
        done
        exec "$@"
    ) </dev/null >"$log" 2>&1 &
    _VM_BG_PID=$!
    disown "$_VM_BG_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------- address owner hook -------

# The allocator of lib/containers.bash keeps an address only while _adapt_owner_alive says
# its owner exists. A VM owns its address while its tap exists (created before allocating,
# deleted before freeing).
_vm_hook_owner() {
    if ! declare -F _adapt_owner_alive_novm >/dev/null ||
        [[ $(declare -f _adapt_owner_alive) != *_adapt_owner_alive_novm* ]]; then
        eval "$(declare -f _adapt_owner_alive | sed '1s/^_adapt_owner_alive /_adapt_owner_alive_novm /')"
        _adapt_owner_alive() {
            if [[ $1 == vm ]]; then
                [[ -e /sys/class/net/$(_vm_tap_name "$2") ]]
            else
                _adapt_owner_alive_novm "$@"
            fi
        }
    fi
}
_vm_hook_owner

_vm_tap_name() { echo "vt$(_adapt_hash8 "$1")"; }

# ---------------------------------------------------------------- registry -----------------

_vm_reg() { echo "$(_adapt_state)/vm-registry"; }

_vm_reg_add() { # KIND NAME
    local r
    r=$(_vm_reg)
    if ! awk -v k="$1" -v n="$2" '$1 == k && $2 == n { f = 1 } END { exit !f }' "$r" 2>/dev/null; then
        echo "$1 $2 $(_adapt_scope)" >>"$r"
    fi
}

_vm_reg_del() { # KIND NAME
    local r
    r=$(_vm_reg)
    [[ -f $r ]] || return 0
    awk -v k="$1" -v n="$2" '!($1 == k && $2 == n)' "$r" >"$r.new"
    mv "$r.new" "$r"
}

# ---------------------------------------------------------------- image --------------------

# The guest's /init (busybox sh, PID 1). Kept as a literal so that it is part of the cache key.
_vm_init_script() {
    cat <<'INIT'
#!/bin/sh
# adaptfs test guest /init (generated by tests/bats/lib/vm.bash)
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /tmp
for m in $(cat /etc/modules); do
    insmod "/lib/modules/$m.ko" || echo "adaptfs-vm: insmod $m failed"
done
job=idle ip= gw= fill= dirty=
for w in $(cat /proc/cmdline); do
    case $w in
    adapt.job=*) job=${w#adapt.job=} ;;
    adapt.fill=*) fill=${w#adapt.fill=} ;;
    adapt.dirty=*) dirty=${w#adapt.dirty=} ;;
    adapt.ip=*) ip=${w#adapt.ip=} ;;
    adapt.gw=*) gw=${w#adapt.gw=} ;;
    adapt.name=*) hostname "${w#adapt.name=}" ;;
    esac
done
ip link set lo up
if [ -n "$ip" ]; then
    n=0
    while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
    ip addr add "$ip" brd + dev eth0
    ip link set eth0 up
    [ -n "$gw" ] && ip route add default via "$gw"
fi
n=0
while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
case $job in
idle) ;;
cpu) ;;
io) ;;
httpd)
    mkdir -p /www
    echo "adaptfs-vm $(hostname)" >/www/index.html
    dd if=/dev/urandom of=/www/big bs=1M count=4 2>/dev/null
    (cd /www && md5sum big >big.md5)
    # /www/uptime: the guest's /proc/uptime, renewed every 0.2 s, so a test can tell over HTTP
    # that the guest was not rebooted (it keeps growing across a live migration)
    cat /proc/uptime >/www/uptime
    (while :; do
        cat /proc/uptime >/www/uptime.new && mv /www/uptime.new /www/uptime
        sleep 0.2
    done) &
    httpd -f -p 8080 -h /www &
    ;;
*)
    echo "adaptfs-vm: unknown job '$job'"
    job=idle
    ;;
esac
# adapt.fill=MIB: MIB MiB of random data in /fill, a file of the initramfs root (RAM), so
# that much guest memory holds non-zero pages (what a live migration has to send)
if [ -n "$fill" ]; then
    # the initramfs root is a tmpfs capped at half the RAM by default
    mount -o remount,size=95% / 2>/dev/null
    dd if=/dev/urandom of=/fill bs=1M count="$fill" 2>/dev/null
    got=$(($(stat -c %s /fill 2>/dev/null || echo 0) / 1048576))
    [ "$got" = "$fill" ] || echo "adaptfs-vm: fill failed: $got of $fill MiB"
    fill=" fill=$got"
fi
# adapt.dirty=MIB: MIB MiB of RAM rewritten with random (not zero: QEMU sends zero pages
# for nothing) bytes over and over, as fast as the guest can: memory dirtied faster than a
# slow link carries it
if [ -n "$dirty" ]; then
    mount -o remount,size=95% / 2>/dev/null
    dd if=/dev/urandom of=/dirty.src bs=1M count="$dirty" 2>/dev/null
    cp /dirty.src /dirty
    (while :; do dd if=/dirty.src of=/dirty bs=1M conv=notrunc 2>/dev/null; done) &
    dirty=" dirty=$dirty"
fi
echo "ADAPTFS-VM-READY job=$job ip=$ip$fill$dirty"
case $job in
cpu) while :; do :; done ;;
io)
    r=0
    while :; do
        dd if=/dev/zero of=/dev/vda bs=1M count=16 oflag=direct 2>/dev/null
        dd if=/dev/vda of=/dev/null bs=1M count=16 iflag=direct 2>/dev/null
        r=$((r + 1))
        echo "adaptfs-vm: io round $r"
    done
    ;;
esac
while :; do sleep 3600; done
INIT
}

# newest kernel with modules, unless VM_KVER says
_vm_kver() {
    if [[ -n ${VM_KVER:-} ]]; then
        echo "$VM_KVER"
        return 0
    fi
    local f v best=
    for f in /boot/vmlinuz-*; do
        [[ -f $f ]] || continue
        v=${f#/boot/vmlinuz-}
        [[ -f /lib/modules/$v/modules.dep ]] && best+="$v"$'\n'
    done
    best=$(printf '%s' "$best" | sort -V | tail -n1)
    if [[ -z $best ]]; then
        echo "vm_image_build: no /boot/vmlinuz-* with /lib/modules/<version> (package linux-image-amd64)" >&2
        return 1
    fi
    echo "$best"
}

# Cache key: this builder's code, /init, the module list, the kernel and busybox files.
_vm_image_key() { # KVER
    {
        declare -f _vm_image_build_into _vm_modules_resolve _vm_decompress _vm_extract_vmlinux
        _vm_init_script
        echo "$VM_MODULES"
        stat -Lc '%n %s %Y' "/boot/vmlinuz-$1" "/lib/modules/$1/modules.dep" /bin/busybox
    } | md5sum | cut -c1-12
}

vm_image_build() {
    _adapt_need "$VM_QEMU" md5sum flock || return 1
    [[ -x /bin/busybox ]] || { echo "vm_image_build: /bin/busybox missing (package busybox-static)" >&2; return 1; }
    local kver key base dir rc=0
    kver=$(_vm_kver) || return 1
    key=$(_vm_image_key "$kver")
    base=$VM_CACHE_ROOT/adaptfs-vm-$kver
    dir=$base/$key
    if [[ ! -f $dir/done ]]; then
        mkdir -p "$base"
        (
            flock -w 120 9 || { echo "vm_image_build: cannot lock $base/lock" >&2; exit 1; }
            [[ -f $dir/done ]] && exit 0
            # other keys: images of older versions of this file
            find "$base" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
            rm -rf "$dir.tmp"
            mkdir -p "$dir.tmp"
            if ! _vm_image_build_into "$dir.tmp" "$kver" >"$base/build.log" 2>&1; then
                cat "$base/build.log" >&2
                rm -rf "$dir.tmp"
                exit 1
            fi
            : >"$dir.tmp/done"
            mv "$dir.tmp" "$dir"
        ) 9>"$base/lock" || rc=1
        ((rc == 0)) || return 1
    fi
    VM_KVER=$kver
    VM_INITRD=$dir/initramfs.cpio
    if [[ ${VM_KERNEL_KIND:-vmlinux} != bzimage && -f $dir/vmlinux ]]; then
        VM_KERNEL=$dir/vmlinux
    else
        VM_KERNEL=/boot/vmlinuz-$kver
    fi
    export VM_KVER VM_KERNEL VM_INITRD
}

# Print the module files (relative to /lib/modules/KVER) for MODS in dependency order,
# from modules.dep ("kernel/a.ko: kernel/b.ko kernel/c.ko"; deps listed need loading first).
_vm_modules_resolve() { # KVER MOD...
    local kver=$1
    shift
    awk -v want="$*" '
        function base(p,   b) { b = p; sub(/.*\//, "", b); sub(/\.ko(\.[a-z0-9]+)?$/, "", b); gsub(/-/, "_", b); return b }
        function visit(m,   i, n, d) {
            if (m in done) return
            if (!(m in file)) { print "MISSING " m; missing = 1; done[m] = 1; return }
            done[m] = 1
            n = split(deps[m], d, " ")
            # modules.dep lists the deepest dependency last: load from the end
            for (i = n; i >= 1; i--) visit(base(d[i]))
            print file[m]
        }
        {
            f = $1; sub(/:$/, "", f)
            m = base(f)
            file[m] = f
            $1 = ""
            deps[m] = $0
        }
        END {
            n = split(want, w, " ")
            for (i = 1; i <= n; i++) visit(w[i])
            exit missing
        }' "/lib/modules/$kver/modules.dep"
}

# Decompress FILE (by its magic) to stdout; uncompressed input is copied.
_vm_decompress() { # FILE [OFFSET]
    local f=$1 off=${2:-0} magic
    magic=$(tail -c +$((off + 1)) "$f" | head -c 6 | od -An -tx1 | tr -d ' \n')
    case $magic in
    fd377a585a00*) # xz
        if command -v xz >/dev/null; then
            tail -c +$((off + 1)) "$f" | xz -dc --single-stream
        else
            tail -c +$((off + 1)) "$f" | _vm_python -c '
import lzma, sys
sys.stdout.buffer.write(lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(sys.stdin.buffer.read()))'
        fi
        ;;
    28b52ffd*) tail -c +$((off + 1)) "$f" | zstd -dcq ;;
    1f8b*) tail -c +$((off + 1)) "$f" | gzip -dc 2>/dev/null ;;
    02214c18*) tail -c +$((off + 1)) "$f" | lz4 -dc ;;
    425a68*) tail -c +$((off + 1)) "$f" | bzip2 -dc 2>/dev/null ;;
    5d0000*) tail -c +$((off + 1)) "$f" | xz -dc --format=lzma 2>/dev/null ;;
    *)
        if ((off == 0)); then
            cat "$f"
        else
            echo "unknown compression (magic $magic)" >&2
            return 1
        fi
        ;;
    esac
}

# Extract vmlinux (an ELF with the PVH entry note) from a bzImage: the setup header gives the
# offset of the compressed payload (setup_sects at 0x1f1, payload_offset at 0x248, relative
# to the protected-mode code at (setup_sects+1)*512).
_vm_extract_vmlinux() { # BZIMAGE OUT KVER
    local bz=$1 out=$2 kver=$3 setup off
    grep -q '^CONFIG_PVH=y' "/boot/config-$kver" 2>/dev/null || {
        echo "no CONFIG_PVH=y in /boot/config-$kver: booting the bzImage" >&2
        return 1
    }
    read -r setup < <(od -An -tu1 -j $((0x1f1)) -N1 "$bz")
    ((setup == 0)) && setup=4
    read -r off < <(od -An -tu4 -j $((0x248)) -N4 "$bz")
    [[ -n $off ]] || return 1
    # (a pipe-closing decompressor may complain about trailing data: judge the result)
    _vm_decompress "$bz" $(((setup + 1) * 512 + off)) >"$out" || true
    [[ $(head -c 4 "$out" | od -An -tx1 | tr -d ' ') == 7f454c46 ]] || {
        echo "$bz: payload did not decompress to an ELF" >&2
        rm -f "$out"
        return 1
    }
}

_vm_image_build_into() { # DIR KVER
    local dir=$1 kver=$2 r=$1/root a m f mods=()
    set -o pipefail
    mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,etc,root,www,lib/modules}
    cp /bin/busybox "$r/bin/busybox"
    for a in $(/bin/busybox --list); do
        [[ $a == busybox ]] || ln -s busybox "$r/bin/$a"
    done
    # shellcheck disable=SC2086 # a list of words
    mapfile -t mods < <(_vm_modules_resolve "$kver" $VM_MODULES)
    if ((${#mods[@]} == 0)) || [[ " ${mods[*]} " == *" MISSING "* ]]; then
        echo "modules not found in /lib/modules/$kver/modules.dep: ${mods[*]}" >&2
        return 1
    fi
    for f in "${mods[@]}"; do
        m=${f##*/}
        m=${m%%.ko*}
        _vm_decompress "/lib/modules/$kver/$f" >"$r/lib/modules/$m.ko" || return 1
        echo "$m" >>"$r/etc/modules"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
    echo 'root:x:0:' >"$r/etc/group"
    _vm_init_script >"$r/init"
    chmod 755 "$r/init"
    if command -v cpio >/dev/null; then
        (cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$dir/initramfs.cpio" || return 1
    else
        (cd "$r" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc) >"$dir/initramfs.cpio" || return 1
    fi
    rm -rf "$r"
    _vm_extract_vmlinux "/boot/vmlinuz-$kver" "$dir/vmlinux" "$kver" || true
    ls -l "$dir"
}

# ---------------------------------------------------------------- VMs ----------------------

_vm_st() { echo "$(_adapt_state)/vm/$1"; }
_vm_get() { # NAME FIELD
    local f
    f=$(_vm_st "$1")/$2
    [[ -f $f ]] || { echo "vm: no VM '$1' (no $f)" >&2; return 1; }
    cat "$f"
}
vm_pid() { _vm_get "$1" pid; }
vm_qmp() { _vm_get "$1" qmp; }
vm_qmp_ctl() { _vm_get "$1" ctl; }
vm_ip() { _vm_get "$1" ip; }
vm_mac() { _vm_get "$1" mac; }
vm_tap() { _vm_get "$1" tap; }
vm_disk() { _vm_get "$1" disk; }
vm_boot_ms() { _vm_get "$1" boot_ms; }
vm_log() { echo "$(_vm_st "$1")/serial.log"; }
vm_qemu_log() { echo "$(_vm_st "$1")/qemu.log"; }

# QMP socket paths: in the state dir if they fit a sun_path (108 bytes), else under /tmp.
_vm_sock_path() { # STATEDIR KIND
    local p=$1/$2.sock
    if ((${#p} > 100)); then
        p=/tmp/adaptfs-$2-$(_adapt_hash8 "$1").sock
    fi
    echo "$p"
}

# Is PID still the QEMU we started for this QMP socket (not a recycled pid)?
_vm_pid_is_ours() { # PID SOCK
    _adapt_pid_alive "$1" || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "unix:$2,"
}

# qmp_cmd SOCKET JSON: see the header.
qmp_cmd() {
    local sock=${1:-} cmd=${2:-}
    [[ -n $sock && -n $cmd ]] || { echo "usage: qmp_cmd SOCKET JSON" >&2; return 2; }
    _vm_python - "$sock" "$cmd" "$VM_QMP_TIMEOUT" <<'PY'
import json, socket, sys, time
path, cmd, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + timeout
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
buf = b""
def line():
    global buf
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        s.settimeout(left)
        d = s.recv(65536)
        if not d:
            raise EOFError
        buf += d
    l, buf = buf.split(b"\n", 1)
    return l
def reply():
    while True:
        l = line()
        m = json.loads(l)
        if "return" in m or "error" in m:
            return l, m
try:
    s.settimeout(timeout)
    s.connect(path)
    greeting = json.loads(line())
    if "QMP" not in greeting:
        raise EOFError
    s.sendall(b'{"execute":"qmp_capabilities"}\n')
    reply()
    s.sendall(cmd.encode() + b"\n")
    l, m = reply()
    print(l.decode())
    sys.exit(1 if "error" in m else 0)
except (TimeoutError, socket.timeout):
    print("qmp_cmd: no answer from %s within %gs" % (path, timeout), file=sys.stderr)
    sys.exit(2)
except (OSError, EOFError, ValueError) as e:
    print("qmp_cmd: %s: %s" % (path, e or "connection closed"), file=sys.stderr)
    sys.exit(2)
PY
}

vm_qmp_cmd() {
    local name=${1:-} sock
    [[ -n $name && -n ${2:-} ]] || { echo "usage: vm_qmp_cmd NAME JSON" >&2; return 2; }
    sock=$(vm_qmp_ctl "$name") || return 1
    qmp_cmd "$sock" "$2"
}

_vm_fail() { # NAME MSG
    local st
    st=$(_vm_st "$1")
    echo "vm_up $1: $2" >&2
    if [[ -s $st/qemu.log ]]; then
        echo "--- QEMU output:" >&2
        cat "$st/qemu.log" >&2
    fi
    if [[ -s $st/serial.log ]]; then
        echo "--- serial console (last 40 lines):" >&2
        tail -n 40 "$st/serial.log" >&2
    fi
    return 1
}

vm_up() {
    local name=${1:-} job=${2:-}
    [[ -n $name && -n $job ]] || { echo "usage: vm_up NAME JOB" >&2; return 2; }
    [[ " $VM_JOBS " == *" $job "* ]] || { echo "vm_up: unknown job '$job' (one of: $VM_JOBS)" >&2; return 2; }
    [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "vm_up: bad name '$name'" >&2; return 2; }
    _adapt_need "$VM_QEMU" ip flock truncate || return 1
    _vm_hook_owner
    vm_down "$name" >/dev/null 2>&1 || true
    vm_image_build || return 1

    local st tap oct ip mac sock ctl log disk pid start_us now_us limit_us append
    st=$(_vm_st "$name")
    mkdir -p "$st"
    _vm_reg_add vm "$name"
    tap=$(_vm_tap_name "$name")
    sock=$(_vm_sock_path "$st" qmp)
    ctl=$(_vm_sock_path "$st" ctl)
    log=$st/serial.log
    disk=$st/disk.raw
    echo "$tap" >"$st/tap"
    echo "$sock" >"$st/qmp"
    echo "$ctl" >"$st/ctl"
    echo "$disk" >"$st/disk"
    : >"$log"

    # tap first (it marks the address as owned), then the address
    if ip link show dev "$tap" >/dev/null 2>&1; then
        ip link del dev "$tap" || return 1
    fi
    ip tuntap add dev "$tap" mode tap || return 1
    oct=$(_adapt_ip_alloc vm "$name") || return 1
    ip=$ADAPT_NET_PREFIX.$oct
    mac=$(_adapt_mac "$oct")
    echo "$ip" >"$st/ip"
    echo "$mac" >"$st/mac"
    sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" >/dev/null 2>&1 || true
    ip link set dev "$tap" master "$ADAPT_BRIDGE" up || return 1

    rm -f "$disk" "$sock" "$ctl"
    truncate -s "${VM_DISK_MB}M" "$disk" || return 1

    append="console=ttyS0 tsc_early_khz=2000000 panic=-1 adapt.job=$job"
    append+=" adapt.ip=$ip/24 adapt.gw=$ADAPT_NET_PREFIX.1 adapt.name=$name"
    [[ -n ${VM_APPEND_EXTRA:-} ]] && append+=" $VM_APPEND_EXTRA"
    # shellcheck disable=SC2054 # commas inside QEMU option values
    local args=(
        -M microvm -accel tcg -m "$VM_MEM" -smp 1
        -nodefaults -no-user-config -nographic -no-reboot
        -name "$name,debug-threads=on"
        -qmp "unix:$sock,$VM_QMP_OPTS"
        -chardev "socket,id=ctl,path=$ctl,server=on,wait=off" -mon chardev=ctl,mode=control
        -kernel "$VM_KERNEL" -initrd "$VM_INITRD" -append "$append"
        -serial "file:$log"
        -drive "id=d0,file=$disk,format=raw,if=none"
        -device virtio-blk-device,drive=d0,id=vda
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
        -device "virtio-net-device,netdev=n0,mac=$mac"
        -device virtio-balloon-device,id=balloon0
    )
    # shellcheck disable=SC2206 # word-split on purpose
    [[ -n ${VM_QEMU_EXTRA:-} ]] && args+=($VM_QEMU_EXTRA)
    printf '%q ' "$VM_QEMU" "${args[@]}" >"$st/cmdline"

    start_us=$(_adapt_now_us)
    _vm_bg "$st/qemu.log" "$VM_QEMU" "${args[@]}"
    pid=$_VM_BG_PID
    echo "$pid" >"$st/pid"

    limit_us=$(awk -v t="$VM_BOOT_TIMEOUT" 'BEGIN { printf "%d", t * 1000000 }')
    while ! grep -q "$VM_READY_MARKER" "$log" 2>/dev/null; do
        now_us=$(_adapt_now_us)
        if ! _adapt_pid_alive "$pid"; then
            _vm_fail "$name" "QEMU (pid $pid) exited before the guest was ready"
            return 1
        fi
        if ((now_us - start_us >= limit_us)); then
            _vm_fail "$name" "no '$VM_READY_MARKER' on the serial console within ${VM_BOOT_TIMEOUT}s"
            return 1
        fi
        sleep 0.05
    done
    now_us=$(_adapt_now_us)
    echo $(((now_us - start_us) / 1000)) >"$st/boot_ms"
    if grep -q "unknown job\|insmod .* failed\|fill failed" "$log"; then
        _vm_fail "$name" "the guest's /init reported an error"
        return 1
    fi
}

vm_down() {
    local name=${1:-} rc=0 st pid sock ctl tap
    [[ -n $name ]] || { echo "usage: vm_down NAME" >&2; return 2; }
    _vm_hook_owner
    st=$(_vm_st "$name")
    pid=$(cat "$st/pid" 2>/dev/null || true)
    sock=$(cat "$st/qmp" 2>/dev/null || true)
    ctl=$(cat "$st/ctl" 2>/dev/null || echo "$sock")
    tap=$(cat "$st/tap" 2>/dev/null || _vm_tap_name "$name")
    if [[ -n $pid && -n $sock ]] && _vm_pid_is_ours "$pid" "$sock"; then
        VM_QMP_TIMEOUT=2 qmp_cmd "$ctl" '{"execute":"quit"}' >/dev/null 2>&1 || true
        if ! wait_for -t "$VM_STOP_TIMEOUT" _adapt_pid_gone "$pid" 2>/dev/null; then
            if _vm_pid_is_ours "$pid" "$sock"; then
                echo "vm_down $name: QEMU pid $pid still running ${VM_STOP_TIMEOUT}s after QMP quit; SIGKILL" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
            wait_for -t 5 _adapt_pid_gone "$pid" || {
                echo "vm_down $name: QEMU pid $pid does not die" >&2
                rc=1
            }
        fi
        wait "$pid" 2>/dev/null || true # reap it if it is our child
    fi
    if ip link show dev "$tap" >/dev/null 2>&1; then
        ip link del dev "$tap" || rc=1
    fi
    if [[ -d $ADAPT_RUN_DIR ]]; then
        _adapt_ip_free vm "$name" || rc=1
    fi
    [[ -n $sock ]] && rm -f "$sock"
    [[ -n $ctl ]] && rm -f "$ctl"
    rm -rf "$st"
    _vm_reg_del vm "$name"
    return $rc
}

# ---------------------------------------------------------------- hanging QMP socket -------

qmp_hang_socket() {
    local path=${1:-} st pid key py
    [[ -n $path ]] || { echo "usage: qmp_hang_socket PATH" >&2; return 2; }
    _adapt_need flock || return 1
    qmp_hang_stop "$path" >/dev/null 2>&1 || true
    key=$(_adapt_hash8 "$path")
    st=$(_adapt_state)/qmp-hang/$key
    mkdir -p "$st"
    echo "$path" >"$st/path"
    _vm_reg_add hang "$path"
    rm -f "$path"
    py=$(_vm_python_bin) || return 1
    # exec'd by _vm_bg, so the recorded pid is python itself
    _vm_bg "$st/log" "$py" -c '
import os, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(64)
held = []
while True:
    c, _ = s.accept()
    held.append(c)     # never read, never answer, never close
' "$path"
    pid=$_VM_BG_PID
    echo "$pid" >"$st/pid"
    if ! wait_for -t 10 _vm_hang_ready "$path" "$pid"; then
        echo "qmp_hang_socket: server on $path did not come up:" >&2
        cat "$st/log" >&2
        return 1
    fi
}

_vm_hang_ready() { # PATH PID
    _adapt_pid_alive "$2" && [[ -S $1 ]] && grep -q "${1//./\\.}" /proc/net/unix
}

qmp_hang_stop() {
    local path=${1:-} d p pid rc=0
    for d in "$(_adapt_state)"/qmp-hang/*/; do
        [[ -f $d/path ]] || continue
        p=$(cat "$d/path")
        [[ -z $path || $p == "$path" ]] || continue
        pid=$(cat "$d/pid" 2>/dev/null || true)
        if [[ -n $pid ]] && _adapt_pid_alive "$pid" &&
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$p"; then
            kill -TERM "$pid" 2>/dev/null || true
            if ! wait_for -t 3 _adapt_pid_gone "$pid" 2>/dev/null; then
                kill -KILL "$pid" 2>/dev/null || true
                wait_for -t 3 _adapt_pid_gone "$pid" || rc=1
            fi
            wait "$pid" 2>/dev/null || true
        fi
        rm -f "$p"
        rm -rf "$d"
        _vm_reg_del hang "$p"
    done
    return $rc
}

# ---------------------------------------------------------------- teardown -----------------

vm_teardown_all() {
    local r rc=0 kind name scope lines=() i want
    _vm_hook_owner
    r=$(_vm_reg)
    want=$(_adapt_scope)
    if [[ -f $r ]]; then
        mapfile -t lines <"$r"
        for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
            read -r kind name scope <<<"${lines[i]}"
            [[ $want == file || $scope == "$want" ]] || continue
            case $kind in
            vm) vm_down "$name" || rc=1 ;;
            hang) qmp_hang_stop "$name" || rc=1 ;;
            esac
        done
    fi
    [[ $want == file ]] || return $rc
    if [[ -d $ADAPT_RUN_DIR ]]; then
        _adapt_locked _adapt_bridge_gc_locked || rc=1
        if [[ ! -s $ADAPT_RUN_DIR/addrs && ! -s $ADAPT_RUN_DIR/cgdirs ]] &&
            ! ip link show dev "$ADAPT_BRIDGE" >/dev/null 2>&1; then
            rm -f "$ADAPT_RUN_DIR/lock" "$ADAPT_RUN_DIR/addrs" "$ADAPT_RUN_DIR/cgdirs"
            rmdir "$ADAPT_RUN_DIR" 2>/dev/null || true
        fi
    fi
    rm -f "$r"
    return $rc
}
