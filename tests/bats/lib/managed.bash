# shellcheck shell=bash
# tests/bats/lib/managed.bash — what a test file's managed workloads leave,
# removed whatever failed before (teardown_file of mode, standby, adopt).
#
# Managed workloads outlive the daemon on purpose, so a test stops them with
# adaptfs --stop-workloads; these are the safety net behind it. Load after
# lib/containers (for _adapt_cg_rmtree and _runc_gone_or_stopped).

[[ -n ${_ADAPT_MANAGED_LOADED:-} ]] && return 0
_ADAPT_MANAGED_LOADED=1

# managed_kill_leftovers DIR
#   SIGKILL, by pid, the processes whose command line names DIR (a run
#   directory of the test's own): QEMU, runc's init.
managed_kill_leftovers() {
    local p
    for p in /proc/[0-9]*; do
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$1" || continue
        kill -KILL "${p#/proc/}" 2>/dev/null || true
    done
}

# managed_remove NAME...
#   The runc container, network namespace and cgroups (adaptfs-NAME and
#   QEMU's adaptfs-NAME.vm) of each recipe NAME. Returns 1 if one of them
#   could not be removed.
managed_remove() {
    local rc=0 n c
    for n in "$@"; do
        if runc state "adaptfs-$n" >/dev/null 2>&1; then
            runc kill "adaptfs-$n" KILL 2>/dev/null || true
            wait_for -t 10 _runc_gone_or_stopped "adaptfs-$n" || true
            runc delete -f "adaptfs-$n" >/dev/null 2>&1 || rc=1
        fi
        if [[ -e /run/netns/adaptfs-$n ]]; then
            ip netns del "adaptfs-$n" || rc=1
        fi
        for c in /sys/fs/cgroup/*/adaptfs-"$n" /sys/fs/cgroup/adaptfs-"$n" \
            /sys/fs/cgroup/*/adaptfs-"$n".vm /sys/fs/cgroup/adaptfs-"$n".vm; do
            if [[ -d $c ]]; then
                _adapt_cg_rmtree "$c" || rc=1
            fi
        done
    done
    return $rc
}

# managed_remove_bridge BR
#   The bridge and every interface on it (veths, taps).
managed_remove_bridge() {
    local rc=0 l
    ip link show dev "$1" >/dev/null 2>&1 || return 0
    for l in $(ip -o link show master "$1" | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
        ip link del dev "$l" || rc=1
    done
    ip link del dev "$1" || rc=1
    return $rc
}

# managed_teardown CONF RUN_DIR BR NAME...
#   A test file's end: the daemon unmounted, its workloads stopped on
#   purpose (adaptfs --stop-workloads: they outlive the daemon), then the
#   safety net for whatever that left. Returns 1 if a step failed.
managed_teardown() {
    local conf=$1 run=$2 br=$3 rc=0
    shift 3
    ADAPTFS_STOP_TIMEOUT=60 adaptfs_umount || rc=1
    "$_ADAPT_REPO_ROOT/adaptfs" -c "$conf" --stop-workloads || rc=1
    managed_kill_leftovers "$run/"
    managed_remove "$@" || rc=1
    managed_remove_bridge "$br" || rc=1
    teardown_all || rc=1
    return $rc
}

# managed_mount ARGS...
#   The test file's daemon, from setup_file: adaptfs_mount ARGS, with time
#   for its workloads to stop at the end, remembered by its pid.
managed_mount() {
    ADAPTFS_STOP_TIMEOUT=60 adaptfs_mount "$@" || return 1
    export ADAPTFS_FILE_PID=$ADAPTFS_PID
}

# managed_umount_restarted
#   From a test's teardown: unmount the daemon a test restarted, if any
#   (not the file's own), as teardown_file's --stop-workloads runs only with
#   no daemon left.
managed_umount_restarted() {
    [[ ${ADAPTFS_PID:-} == "${ADAPTFS_FILE_PID:-}" ]] || ADAPTFS_STOP_TIMEOUT=60 adaptfs_umount || true
}

# managed_setup DIR BR BRIDGE_ADDRESS BRIDGE_MAC
#   A test file's managed workloads in DIR: DIR/recipes and DIR/run, the VM
#   kernel and initramfs in DIR/vm (adaptfs-mkinitrd, its log printed if it
#   fails), and DIR/adaptfs.conf with their [managed] section on bridge BR
#   (a file appends its other sections to it).
managed_setup() {
    local d=$1
    mkdir -p "$d/recipes" "$d/run"
    "$_ADAPT_REPO_ROOT/etc/adaptfs-mkinitrd" "$d/vm" >"$d/mkinitrd.log" 2>&1 ||
        { cat "$d/mkinitrd.log" >&2; return 1; }
    printf '[managed]\nrecipes = %s\nrun_dir = %s\nbridge = %s\nbridge_address = %s\nbridge_mac = %s\nkernel = %s\ninitrd = %s\n' \
        "$d/recipes" "$d/run" "$2" "$3" "$4" "$d/vm/vmlinux" "$d/vm/initramfs.cpio" >"$d/adaptfs.conf"
}

# managed_web_files DIR PAGE
#   What managed_web_recipe serves: a busybox root DIR/web-root and a data
#   directory DIR/web-data whose index.html says PAGE.
managed_web_files() {
    mkdir -p "$1/web-data"
    _adapt_busybox_rootfs "$1/web-root" || return 1
    echo "$2" >"$1/web-data/index.html"
}

# managed_quick_policy CONF
#   Appends to CONF an auto policy that acts within seconds, and a class
#   setting that recommends a VM to a CPU-bound workload, as on a host with
#   KVM.
managed_quick_policy() {
    printf '[class]\ncpu_mode = vm\n[policy]\ninterval = 1\nstable = 3\ncooldown = 5\n' >>"$1"
}

# managed_spin_recipe FILE ROOT DATA ADDRESS [LINE...]
#   A recipe that spins a CPU (class cpu), in a busybox root ROOT with data
#   directory DATA, both made here. LINEs are appended (mode = auto, ...).
managed_spin_recipe() {
    local file=$1 root=$2 data=$3 address=$4
    shift 4
    mkdir -p "$data"
    _adapt_busybox_rootfs "$root" || return 1
    {
        printf '[workload]\nrootfs = %s\n' "$root"
        printf 'command = /bin/sh -c %s\n' "'trap \"exit 0\" TERM; while :; do :; done'"
        printf 'address = %s\ndata = %s\nstop_timeout = 5\n' "$address" "$data"
        [[ $# -eq 0 ]] || printf '%s\n' "$@"
    } >"$file"
}

# managed_web_recipe FILE ROOT DATA ADDRESS READY_TIMEOUT [LINE...]
#   A recipe of busybox httpd on port 8080 serving DATA, each start of it
#   appending its hostname to DATA/boots (a start shows). PID 1 of a
#   container gets no default SIGTERM action: the command traps it.
#   WEB_FIRST, if set, is shell the command runs before all that (a way to
#   make a start fail). LINEs are appended (standby = ..., a [vm] section).
managed_web_recipe() {
    local file=$1 root=$2 data=$3 address=$4 timeout=$5 first=${WEB_FIRST:+$WEB_FIRST; }
    shift 5
    {
        printf '[workload]\nrootfs = %s\n' "$root"
        printf 'command = /bin/sh -c %s\n' "'trap \"exit 0\" TERM; ${first}echo \$(hostname) >> /data/boots; httpd -p 8080 -h /data; while :; do sleep 1 & wait \$!; done'"
        printf 'address = %s\ndata = %s\nready_port = 8080\nready_timeout = %s\nstop_timeout = 5\n' \
            "$address" "$data" "$timeout"
        [[ $# -eq 0 ]] || printf '%s\n' "$@"
    } >"$file"
}

# poller_start URL PAGE PERIOD LOG
#   A client asking URL every PERIOD seconds in the background: LOG gets
#   "TIME ok|wrong|fail" lines (wrong: an answer without PAGE in it); its
#   pid in LOG.pid. (busybox 1.35 wget -T crashes here: timeout(1) bounds it.)
poller_start() {
    : >"$4"
    bash -c 'while :; do
        if out=$(timeout 1 busybox wget -q -O - "$1" 2>/dev/null); then
            [[ $out == *"$2"* ]] && echo "$EPOCHREALTIME ok" || echo "$EPOCHREALTIME wrong"
        else
            echo "$EPOCHREALTIME fail"
        fi
        sleep "$3"
    done' poller "$1" "$2" "$3" >>"$4" 2>/dev/null </dev/null 3>&- &
    echo $! >"$4.pid"
}

# poller_stop LOG
poller_stop() {
    [[ -f $1.pid ]] || return 0
    kill "$(cat "$1.pid")" 2>/dev/null || true
    rm -f "$1.pid"
}
