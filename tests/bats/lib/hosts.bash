# shellcheck shell=bash
# tests/bats/lib/hosts.bash — several test "hosts" on one machine, each with its own adaptfs.
#
# Load from a bats file with:   load lib/hosts   (loads lib/vm, lib/containers, lib/mount, common)
# Needs (besides what lib/vm.bash and lib/containers.bash need): iproute2, util-linux (nsenter,
# flock), fuse3, python3, coreutils (tail --pid), curl (uptime_of).
#
# A host hX is
#   - network namespace adt-hX: lo up, bridge br0 (fixed MAC 02:ad:0a:e9:01:<N>) with address
#     10.233.0.N/24 (N = 1, 2, 3... in hosts_up's argument order), its port up0 a veth whose
#     peer p-hX is a port of bridge sw0 in the switch namespace adt-sw;
#   - cgroup /adt-hX in every hierarchy under /sys/fs/cgroup (its "scope");
#   - directory $ADAPT_HOSTS_DIR/hX (default /run/adaptfs-hosts/hX): state/ (adaptfs state_dir),
#     mnt/ (its adaptfs mount), lxc/ (its LXC path), run/ (QMP sockets, logs), vm/ (VM records),
#     adaptfs.conf (host_name, state_dir, [discovery] scope, [migration] lxc_path, and one
#     [host hY] section per other host: address 10.233.0.M, transport = <hostexec> hY);
#   - an adaptfs daemon: nsenter --net=/run/netns/adt-hX -- $ADAPTFS_BIN -f --interval
#     $HOSTS_INTERVAL --config <conf> <dir>/mnt, started from the caller's cgroup (NOT in the
#     scope) and in the caller's mount namespace (so the FUSE mount is visible to the tests).
# tests/bats/helpers/hostexec HOST CMD... runs CMD on a host (netns + scope cgroups, with
# ADAPTFS_CONFIG and the repository root in PATH); see that script.
#
#   HOSTS_CPUS="0 1"         give each host's scope its own CPUs (cpuset.cpus, in hosts_up's
#                            order); HOSTS_CONF_EXTRA appends lines to every host's config
#   hosts_up hA hB [hC...]   set everything above up (after removing leftovers of an earlier
#                            run) and start one adaptfs per host; returns once every host's
#                            mnt/host/cores exists (fails at once with the log if a daemon
#                            exits). Takes the machine-wide multi-host lock first (flock on
#                            $HOSTS_LOCK; waits up to $HOSTS_LOCK_TIMEOUT s): the names and
#                            addresses are fixed, so multi-host test files of concurrent runs
#                            on one machine take turns. The lock is released by hosts_down, or
#                            when the process that called hosts_up exits.
#   hosts_down [-f] [-k]     stop and remove everything (idempotent; for teardown, also after
#                            failures): client loops, LXC containers (lxc-stop through
#                            hostexec), QEMUs (QMP quit, then SIGKILL by pid), daemons (SIGTERM,
#                            SIGKILL, lazy unmount), every remaining process of the /adt-hX
#                            cgroups and of the namespaces (by pid from cgroup.procs and
#                            /proc/PID/ns/net), cgroups, namespaces (and their veths and taps),
#                            the hosts directory; then releases the lock. Without -f it does
#                            nothing unless this test process holds the lock (so a file whose
#                            hosts_up was still waiting for another run's hosts leaves them
#                            alone); -f tears down whatever is there (by hand, after a crash).
#                            -k keeps the lock (to check for leftovers before another run
#                            may set its hosts up; a later hosts_down releases it).
#   host_dir H / host_mnt H / host_addr H / host_conf H / host_daemon_pid H / host_log H
#   host_stop H              stop H's daemon (SIGTERM; SIGKILL after $HOSTS_STOP_TIMEOUT s),
#                            unmount (lazily if needed)
#   host_restart H           start H's daemon again (e.g. after a test SIGKILLed it): stops it
#                            if it still runs, lazy-unmounts a dead mount, waits for the mount.
#   hostexec H CMD...        the helper script, as a function
#
#   host_vm_up H NAME [JOB]  boot the test guest of lib/vm.bash (JOB default httpd) as a QEMU
#                            microvm on H: tap vt<md5(NAME)> created in adt-H on br0 before QEMU
#                            starts, QEMU started through hostexec (netns adt-H, cgroup /adt-H)
#                            with -daemonize -pidfile, -name NAME,debug-threads=on, -qmp
#                            unix:<H dir>/run/NAME.qmp (for adaptfs), a private QMP monitor
#                            <H dir>/run/NAME.ctl (for the tests: host_vm_qmp_cmd), serial to a
#                            file, a raw disk $ADAPT_HOSTS_DIR/shared/NAME.raw (the same path on
#                            every host, as live migration needs), guest address
#                            10.233.0.(100+k)/24 (k = 1, 2, ... over all hosts' VMs), MAC
#                            02:ad:0a:e9:00:<last octet in hex>. Returns when the guest printed
#                            the ready marker; prints "NAME host=H pid= ip= mac= tap= qmp= ctl=".
#   host_vm_pid H NAME / host_vm_ip / host_vm_mac / host_vm_tap / host_vm_qmp / host_vm_ctl /
#   host_vm_disk / host_vm_log (serial) / host_vm_args (QEMU's arguments, one per line, without
#                            the program: a migration destination reuses them with -incoming)
#   host_vm_qmp_cmd H NAME JSON   qmp_cmd on the private monitor
#   hosts_guest_pids NAME    pids of the live (not zombie) QEMU processes of guest NAME, on
#                            any host (a move in flight may have one on each)
#   host_vm_down H NAME      QMP quit, SIGKILL if needed, delete the tap; the disk stays until
#                            hosts_down (a migrated guest on another host may still use it)
#   host_tap_add H TAP       create tap TAP in adt-H on br0 (a migration destination needs one)
#   Live migration by hand (checked here: 128 MiB guest, ~0.45 s, no failed client request):
#     host_tap_add hB "$(host_vm_tap hA NAME)"
#     mapfile -t a < <(host_vm_args hA NAME | sed 's|/hA/run/|/hB/run/|; s|/hA/vm/NAME/|/hB/run/NAME.|')
#     hostexec hB qemu-system-x86_64 "${a[@]}" -incoming tcp:10.233.0.2:4444 \
#         -daemonize -pidfile "$(host_dir hB)/run/NAME.pid" </dev/null >LOG 2>&1 3>&-
#     host_vm_qmp_cmd hA NAME '{"execute":"migrate","arguments":{"uri":"tcp:10.233.0.2:4444"}}'
#     (poll query-migrate until "completed"; the source then stays paused: quit it). The VM's
#     record stays on hA; hosts_down kills the destination QEMU anyway (it is in /adt-hB).
#
#   host_lxc_up H NAME       busybox container in <H dir>/lxc (lxc-create -P ... -t busybox),
#                            veth on H's br0 (pair name vl<md5(NAME)> in adt-H), static
#                            10.233.0.(150+k)/24, hwaddr 02:ad:0a:e9:00:<hex>, and
#                            lxc.cgroup.relative = 1 so that its cgroups are
#                            /adt-H/lxc.payload.NAME (monitor /adt-H/lxc.monitor.NAME); started
#                            with hostexec H lxc-start -d, waited for with hostexec H lxc-wait,
#                            returns once lxc-attach works and eth0 has the address.
#                            Every lxc-* command for it must run through hostexec of its host:
#                            LXC's command socket is abstract, hence per network namespace.
#   host_lxc_exec H NAME CMD...   lxc-attach through hostexec (clean env, PATH set)
#   host_lxc_ip H NAME / host_lxc_pid H NAME / host_lxc_down H NAME
#
#   host_client_bg NS URL OUT   start a client in network namespace NS (name adt-*, joined to
#                            sw0: adt-cli, 10.233.0.200/24, is made by hosts_up; others are
#                            created on first use with .201...) that GETs URL every 50 ms (timeout $HOSTS_CLIENT_TIMEOUT,
#                            0.5 s) and appends "EPOCH_MS ok|err" per request to OUT. Prints
#                            its pid and sets HOST_CLIENT_PID.
#   host_client_stop PID     stop that client (SIGTERM, then SIGKILL), idempotent
#   client_past OUT MS       that client logged a request made after MS (epoch ms)
#   client_longest_gap OUT   the longest stretch of its failed requests, in ms
#   guest_crash_line FILE... the first line of a guest's serial logs where its kernel said it broke
#   uptime_of IP             a guest's own uptime in seconds (its /www/uptime, lib/vm.bash),
#                            asked over HTTP from adt-cli (2 s timeout); fails if it does not answer
#
# Addresses: 10.233.0.0/24 only, inside the namespaces above (nothing in the root namespace).
#
# Pitfalls found here (and handled):
# - `ip netns exec` unshares the mount namespace and remounts /sys: /sys/fs/cgroup is then
#   empty (LXC cannot start) and a FUSE mount made inside is invisible outside. hostexec and the
#   daemons use `nsenter --net` instead; /sys/class/net there shows the ROOT namespace's
#   devices (use ip(8) or /proc/net/dev, which follow the reader's namespace).
# - A daemon's own lxc-start (a rolled-back move) would see the root namespace's /sys/class/net
#   ("bridge interface doesn't exist") and put the container's cgroups outside /adt-H: the
#   daemons run with DIR/bin first in PATH, where lxc-start and lxc-checkpoint are hostexec H's.
# - QEMU refuses -nographic with -daemonize: -display none.
# - A -daemonize'd QEMU (and lxc-start -d's monitor) is reparented to PID 1, which reaps slowly
#   here: a zombie counts as stopped.
# - bats waits for whoever holds its fd 3: everything started here has fds > 2 closed.
# - rm -rf of a host directory whose FUSE mount is still there would walk into the mount (or
#   hang on a dead one): unmount first, and rm with --one-file-system.

# shellcheck source-path=SCRIPTDIR source=vm.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/vm.bash"
# shellcheck source-path=SCRIPTDIR source=mount.bash
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/mount.bash"

: "${ADAPT_HOSTS_DIR:=/run/adaptfs-hosts}"
: "${HOSTS_NET:=10.233.0}"
: "${HOSTS_INTERVAL:=0.5}"
: "${HOSTS_MOUNT_TIMEOUT:=10}"
: "${HOSTS_STOP_TIMEOUT:=5}"
: "${HOSTS_LOCK:=/run/adaptfs-hosts.lock}"
: "${HOSTS_LOCK_TIMEOUT:=900}"
: "${HOSTS_CLIENT_TIMEOUT:=0.5}"
# 1: the configs carry [discovery] scope and [migration] lxc_path (adaptfs has them since
# 899bc03); 0 leaves them out, for an older adaptfs.
: "${HOSTS_CONF_SCOPE:=1}"
# HOSTS_CPUS="0 1": the cpuset.cpus of each host's scope, in hosts_up's order (empty: the
# parent's, every CPU). HOSTS_CONF_EXTRA: lines appended to every host's adaptfs.conf.
: "${HOSTS_CPUS:=}"
: "${HOSTS_CONF_EXTRA:=}"
export ADAPT_HOSTS_DIR

HOSTEXEC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../helpers" && pwd)/hostexec

hostexec() { "$HOSTEXEC" "$@"; }

# ---------------------------------------------------------------- small helpers ------------

_hosts_mac() { printf '02:ad:0a:e9:00:%02x' "$1"; } # last octet
_hosts_ns_run() { local ns=$1; shift; nsenter --net="/run/netns/$ns" -- "$@"; }

# Close every fd above 2 in a subshell, then exec CMD (bats waits for holders of its fd 3).
# _hosts_bg LOG CMD...: in the background, stdout+stderr appended to LOG; _HOSTS_BG_PID = CMD.
_hosts_bg() {
    local log=$1
    shift
    (
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            ((fd > 2)) && eval "exec $fd>&-"
        done
        exec "$@"
    ) </dev/null >>"$log" 2>&1 &
    _HOSTS_BG_PID=$!
    disown "$_HOSTS_BG_PID" 2>/dev/null || true
}

# _hosts_fg LOG CMD...: the same in the foreground; returns CMD's status.
_hosts_fg() {
    local log=$1
    shift
    (
        for fd in "/proc/$BASHPID/fd/"*; do
            fd=${fd##*/}
            ((fd > 2)) && eval "exec $fd>&-"
        done
        exec "$@"
    ) </dev/null >>"$log" 2>&1
}

# Every cgroup hierarchy mounted under /sys/fs/cgroup: "MOUNTPOINT FSTYPE" lines.
_hosts_cg_mounts() {
    awk '{ for (i = 7; $i != "-"; i++); if (($(i + 1) == "cgroup" || $(i + 1) == "cgroup2") &&
               $4 == "/" && $5 ~ "^/sys/fs/cgroup/[^/]+$") print $5, $(i + 1) }' /proc/self/mountinfo
}

_hosts_cg_mkdir() { # HOST [CPUS]
    local mnt fstype cg f
    while read -r mnt fstype; do
        cg=$mnt/adt-$1
        [[ -d $cg ]] || mkdir "$cg" || return 1
        if [[ $fstype == cgroup && -f $mnt/cpuset.cpus ]]; then
            for f in cpuset.cpus cpuset.mems; do
                [[ -n $(<"$cg/$f") ]] || cat "$mnt/$f" >"$cg/$f" || return 1
            done
            if [[ -n ${2:-} ]]; then echo "$2" >"$cg/cpuset.cpus" || return 1; fi
        fi
    done < <(_hosts_cg_mounts)
}

# pids in /adt-HOST (and below) of every hierarchy
_hosts_cg_pids() { # HOST
    local mnt fstype
    while read -r mnt fstype; do
        [[ -d $mnt/adt-$1 ]] || continue
        find "$mnt/adt-$1" -name cgroup.procs -exec cat {} + 2>/dev/null
    done < <(_hosts_cg_mounts) | sort -un
}

# pids whose network namespace is one of /run/netns/NS... (one stat for all of /proc)
_hosts_ns_pids() { # NS...
    local ns inos=()
    for ns in "$@"; do
        [[ -e /run/netns/$ns ]] && inos+=("$(stat -Lc %i "/run/netns/$ns")")
    done
    ((${#inos[@]})) || return 0
    stat -Lc '%i %n' /proc/[0-9]*/ns/net 2>/dev/null |
        awk -v want=" ${inos[*]} " 'index(want, " " $1 " ") { split($2, a, "/"); print a[3] }'
}

# SIGKILL PIDS (one a line on stdin) except ourselves; returns 1 if there were any.
_hosts_kill_list() {
    local p any=0
    while read -r p; do
        [[ -n $p && $p != "$$" && $p != "$BASHPID" ]] || continue
        _adapt_pid_alive "$p" || continue
        kill -KILL "$p" 2>/dev/null || true
        any=1
    done
    ((any == 0))
}

# ---------------------------------------------------------------- host lookup --------------

host_dir() {
    local d=$ADAPT_HOSTS_DIR/${1:?usage: host_dir HOST}
    [[ -f $d/index ]] || { echo "hosts: no host '$1' (no $d/index)" >&2; return 1; }
    echo "$d"
}
host_mnt() { local d; d=$(host_dir "$1") || return 1; echo "$d/mnt"; }
host_conf() { local d; d=$(host_dir "$1") || return 1; echo "$d/adaptfs.conf"; }
host_log() { local d; d=$(host_dir "$1") || return 1; echo "$d/daemon.log"; }
host_addr() { local d; d=$(host_dir "$1") || return 1; echo "$HOSTS_NET.$(<"$d/index")"; }
host_daemon_pid() { local d; d=$(host_dir "$1") || return 1; cat "$d/daemon.pid"; }

# hosts set up now, in hosts_up's order
_hosts_list() {
    [[ -f $ADAPT_HOSTS_DIR/hosts ]] && cat "$ADAPT_HOSTS_DIR/hosts"
    return 0
}

# ---------------------------------------------------------------- the machine-wide lock ----

_hosts_holder_file() { echo "$(_adapt_state)/hosts-lock-holder"; }

# Does this test process hold the lock (through a live holder process)?
_hosts_lock_held() {
    local hf pid
    hf=$(_hosts_holder_file)
    [[ -f $hf ]] || return 1
    pid=$(<"$hf")
    _adapt_pid_alive "$pid" && [[ $(cat "$HOSTS_LOCK.owner" 2>/dev/null) == "$pid" ]]
}

_hosts_lock_got() { # HOLDER_PID
    [[ $(cat "$HOSTS_LOCK.owner" 2>/dev/null) == "$1" ]] || ! _adapt_pid_alive "$1"
}

_hosts_lock() {
    local hf holder
    _hosts_lock_held && return 0
    hf=$(_hosts_holder_file)
    # The holder takes the flock, names itself owner, then lives as long as this test process
    # ($$: the bats file's process from setup_file, the test's from setup or a test).
    # shellcheck disable=SC2016 # expanded by the holder's shell
    _hosts_bg /dev/null bash -c '
        exec 9>>"$1"
        flock -w "$2" 9 || exit 75
        echo $$ >"$1.owner"
        exec tail --pid="$3" -f /dev/null
    ' hosts-lock "$HOSTS_LOCK" "$HOSTS_LOCK_TIMEOUT" "$$"
    holder=$_HOSTS_BG_PID
    echo "$holder" >"$hf"
    if ! wait_for -t 2 _hosts_lock_got "$holder" 2>/dev/null; then
        echo "hosts_up: waiting for the multi-host lock $HOSTS_LOCK (owner pid $(cat "$HOSTS_LOCK.owner" 2>/dev/null))" >&2
        wait_for -t "$((HOSTS_LOCK_TIMEOUT + 5))" _hosts_lock_got "$holder" || true
    fi
    if ! _hosts_lock_held; then
        echo "hosts_up: could not take $HOSTS_LOCK within ${HOSTS_LOCK_TIMEOUT}s" >&2
        kill -TERM "$holder" 2>/dev/null || true
        rm -f "$hf"
        return 1
    fi
}

_hosts_unlock() {
    local hf pid
    hf=$(_hosts_holder_file)
    [[ -f $hf ]] || return 0
    pid=$(<"$hf")
    if [[ $(cat "$HOSTS_LOCK.owner" 2>/dev/null) == "$pid" ]]; then
        rm -f "$HOSTS_LOCK.owner"
    fi
    if _adapt_pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_for -t 5 _adapt_pid_gone "$pid" || true
    fi
    rm -f "$hf"
}

# ---------------------------------------------------------------- hosts_up -----------------

hosts_up() {
    (($# >= 1)) || { echo "usage: hosts_up HOST..." >&2; return 2; }
    local h n=0 dir i rc=0 names=()
    for h in "$@"; do
        [[ $h =~ ^[A-Za-z0-9_.-]{1,10}$ && $h != sw && $h != cli ]] ||
            { echo "hosts_up: bad host name '$h' (1-10 of [A-Za-z0-9_.-], not sw/cli)" >&2; return 2; }
        [[ " ${names[*]} " != *" $h "* ]] || { echo "hosts_up: host $h twice" >&2; return 2; }
        names+=("$h")
    done
    (($# <= 99)) || return 2
    _adapt_need ip nsenter flock fusermount3 tail python3 || return 1
    [[ -x $ADAPTFS_BIN ]] || { echo "hosts_up: $ADAPTFS_BIN is not an executable (build it)" >&2; return 1; }
    _hosts_lock || return 1
    _hosts_teardown >/dev/null 2>&1 || true

    mkdir -p "$ADAPT_HOSTS_DIR/shared" "$ADAPT_HOSTS_DIR/clients" || return 1
    : >"$ADAPT_HOSTS_DIR/netns"
    : >"$ADAPT_HOSTS_DIR/hosts"

    _hosts_ns_add adt-sw || return 1
    ip -n adt-sw link add sw0 address 02:ad:0a:e9:02:00 type bridge || return 1
    ip -n adt-sw link set sw0 up || return 1

    for h in "$@"; do
        n=$((n + 1))
        dir=$ADAPT_HOSTS_DIR/$h
        mkdir -p "$dir"/{state,mnt,lxc,run,vm} || return 1
        echo "$n" >"$dir/index"
        echo "$h" >>"$ADAPT_HOSTS_DIR/hosts"
        _hosts_ns_add "adt-$h" || return 1
        ip -n "adt-$h" link add br0 address "$(printf '02:ad:0a:e9:01:%02x' "$n")" type bridge || return 1
        _hosts_ns_run "adt-$h" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1 >/dev/null 2>&1 || true
        ip -n "adt-$h" link add up0 type veth peer name "p-$h" netns adt-sw || return 1
        ip -n "adt-$h" link set up0 master br0 up || return 1
        ip -n adt-sw link set "p-$h" master sw0 up || return 1
        ip -n "adt-$h" addr add "$HOSTS_NET.$n/24" brd + dev br0 || return 1
        ip -n "adt-$h" link set br0 up || return 1
        _hosts_cg_mkdir "$h" "$(cut -d' ' -f"$n" <<<"$HOSTS_CPUS" | tr -d ' ')" ||
            { echo "hosts_up: cannot create cgroup /adt-$h" >&2; return 1; }
    done
    _hosts_client_ns adt-cli >/dev/null || return 1
    for h in "$@"; do
        _hosts_conf "$h" "$@" >"$ADAPT_HOSTS_DIR/$h/adaptfs.conf" || return 1
    done
    for h in "$@"; do
        _hosts_daemon_start "$h" || rc=1
    done
    ((rc == 0)) || return 1
    for h in "$@"; do
        _hosts_daemon_wait "$h" || return 1
    done
}

_hosts_ns_add() { # NS
    ip netns add "$1" || return 1
    echo "$1" >>"$ADAPT_HOSTS_DIR/netns"
    ip -n "$1" link set lo up || return 1
    # no IPv6 chatter (DAD, router solicitations) on the test links
    _hosts_ns_run "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1 || true
    _hosts_ns_run "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

_hosts_conf() { # HOST ALLHOSTS...
    local h=$1 o dir
    shift
    dir=$ADAPT_HOSTS_DIR/$h
    printf '[adaptfs]\nhost_name = %s\nstate_dir = %s/state\n' "$h" "$dir"
    if ((HOSTS_CONF_SCOPE)); then
        printf '[discovery]\nscope = /adt-%s\n' "$h"
        printf '[migration]\nlxc_path = %s/lxc\n' "$dir"
    fi
    for o in "$@"; do
        [[ $o == "$h" ]] && continue
        printf '[host %s]\naddress = %s.%s\ntransport = %s %s\n' \
            "$o" "$HOSTS_NET" "$(<"$ADAPT_HOSTS_DIR/$o/index")" "$HOSTEXEC" "$o"
    done
    [[ -z $HOSTS_CONF_EXTRA ]] || printf '%s\n' "$HOSTS_CONF_EXTRA"
}

# ---------------------------------------------------------------- daemons ------------------

# _hosts_lxc_shims HOST: DIR/bin with the LXC tools with which the daemon starts a container
# itself (a rolled-back move), each the real one through hostexec HOST, as on a real host: the
# daemon has only the netns (nsenter --net), where lxc-start would check its bridge in the
# root namespace's /sys/class/net and make the container's cgroups outside /adt-HOST. (Its
# lxc-stop, lxc-wait and lxc-destroy work as they are: the command socket is the netns's.)
_hosts_lxc_shims() { # HOST
    local h=$1 dir=$ADAPT_HOSTS_DIR/$1 t real
    mkdir -p "$dir/bin" || return 1
    for t in lxc-start lxc-checkpoint; do
        real=$(command -v "$t") || continue
        printf '#!/bin/sh\nexec %q %q %q "$@"\n' "$HOSTEXEC" "$h" "$real" >"$dir/bin/$t"
        chmod 0755 "$dir/bin/$t"
    done
}

_hosts_daemon_start() { # HOST
    local dir=$ADAPT_HOSTS_DIR/$1
    {
        echo "=== $(date -u +%FT%T.%3NZ) hosts.bash: starting adaptfs for $1"
    } >>"$dir/daemon.log"
    _hosts_lxc_shims "$1" || return 1
    _hosts_bg "$dir/daemon.log" nsenter --net="/run/netns/adt-$1" -- \
        env PATH="$dir/bin:$PATH" \
        "$ADAPTFS_BIN" -f --interval "$HOSTS_INTERVAL" --config "$dir/adaptfs.conf" "$dir/mnt"
    echo "$_HOSTS_BG_PID" >"$dir/daemon.pid"
}

_hosts_daemon_wait() { # HOST
    local h=$1 dir pid start_us limit_us
    dir=$ADAPT_HOSTS_DIR/$h
    pid=$(<"$dir/daemon.pid")
    start_us=$(_adapt_now_us)
    limit_us=$(awk -v t="$HOSTS_MOUNT_TIMEOUT" 'BEGIN { printf "%d", t * 1000000 }')
    until _adaptfs_ready "$dir/mnt"; do
        if ! _adapt_pid_alive "$pid"; then
            echo "hosts: the adaptfs of $h (pid $pid) exited before $dir/mnt/host/cores appeared; log:" >&2
            cat "$dir/daemon.log" >&2
            return 1
        fi
        if (($(_adapt_now_us) - start_us >= limit_us)); then
            echo "hosts: $dir/mnt/host/cores did not appear within ${HOSTS_MOUNT_TIMEOUT}s; log:" >&2
            cat "$dir/daemon.log" >&2
            return 1
        fi
        sleep 0.05
    done
}

# Is PID the adaptfs daemon of host directory DIR (not a recycled pid)?
_hosts_daemon_is() { # PID DIR
    _adapt_pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- " $2/mnt"
}

host_stop() {
    local h=${1:?usage: host_stop HOST} dir pid rc=0
    dir=$(host_dir "$h") || return 1
    pid=$(cat "$dir/daemon.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && _hosts_daemon_is "$pid" "$dir"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for -t "$HOSTS_STOP_TIMEOUT" _adapt_pid_gone "$pid" 2>/dev/null; then
            echo "host_stop $h: adaptfs pid $pid still running ${HOSTS_STOP_TIMEOUT}s after SIGTERM; SIGKILL" >&2
            _hosts_daemon_is "$pid" "$dir" && kill -KILL "$pid" 2>/dev/null
            wait_for -t 5 _adapt_pid_gone "$pid" || rc=1
        fi
    fi
    [[ -n $pid ]] && { wait "$pid" 2>/dev/null || true; }
    _hosts_umount "$dir/mnt" || rc=1
    rm -f "$dir/daemon.pid"
    return $rc
}

_hosts_umount() { # MNT
    adaptfs_mounted "$1" || return 0
    fusermount3 -u -z "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || {
        echo "hosts: cannot unmount $1" >&2
        return 1
    }
}

host_restart() {
    local h=${1:?usage: host_restart HOST} dir pid
    dir=$(host_dir "$h") || return 1
    pid=$(cat "$dir/daemon.pid" 2>/dev/null || true)
    if [[ -n $pid ]] && _hosts_daemon_is "$pid" "$dir"; then
        host_stop "$h" || true
    fi
    [[ -n $pid ]] && { wait "$pid" 2>/dev/null || true; }
    # a SIGKILLed daemon leaves its mount behind ("Transport endpoint is not connected")
    _hosts_umount "$dir/mnt" || return 1
    _hosts_daemon_start "$h"
    _hosts_daemon_wait "$h"
}

# ---------------------------------------------------------------- VMs ----------------------

_hosts_vm_st() { # HOST NAME
    local d
    d=$(host_dir "$1") || return 1
    echo "$d/vm/$2"
}
_hosts_vm_get() { # HOST NAME FIELD
    local st
    st=$(_hosts_vm_st "$1" "$2") || return 1
    [[ -f $st/$3 ]] || { echo "hosts: no VM '$2' on host $1 (no $st/$3)" >&2; return 1; }
    cat "$st/$3"
}
hosts_guest_pids() { # NAME
    local f pid st
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}
        pid=${pid%/cmdline}
        { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q -- "-name $1,debug-threads" || continue
        st=$(awk '{ sub(/.*\) /, ""); print substr($0, 1, 1) }' "/proc/$pid/stat" 2>/dev/null)
        [[ -n $st && $st != Z ]] && echo "$pid"
    done
}
host_vm_pid() { _hosts_vm_get "$1" "$2" pid; }
host_vm_ip() { _hosts_vm_get "$1" "$2" ip; }
host_vm_mac() { _hosts_vm_get "$1" "$2" mac; }
host_vm_tap() { _hosts_vm_get "$1" "$2" tap; }
host_vm_qmp() { _hosts_vm_get "$1" "$2" qmp; }
host_vm_ctl() { _hosts_vm_get "$1" "$2" ctl; }
host_vm_disk() { _hosts_vm_get "$1" "$2" disk; }
host_vm_boot_ms() { _hosts_vm_get "$1" "$2" boot_ms; }
host_vm_log() { local st; st=$(_hosts_vm_st "$1" "$2") || return 1; echo "$st/serial.log"; }
host_vm_args() { local st; st=$(_hosts_vm_st "$1" "$2") || return 1; tr '\0' '\n' <"$st/args0"; }
host_vm_qmp_cmd() {
    local ctl
    ctl=$(host_vm_ctl "$1" "$2") || return 1
    qmp_cmd "$ctl" "${3:?usage: host_vm_qmp_cmd HOST NAME JSON}"
}

host_tap_add() { # HOST TAP
    local h=${1:?usage: host_tap_add HOST TAP} tap=${2:?usage: host_tap_add HOST TAP}
    host_dir "$h" >/dev/null || return 1
    if ip -n "adt-$h" link show dev "$tap" >/dev/null 2>&1; then
        ip -n "adt-$h" link del dev "$tap" || return 1
    fi
    ip -n "adt-$h" tuntap add dev "$tap" mode tap || return 1
    _hosts_ns_run "adt-$h" sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1" >/dev/null 2>&1 || true
    ip -n "adt-$h" link set dev "$tap" master br0 up
}

# Smallest K in 1..49 that no record KIND-K in the hosts dir claims; claims it for OWNER.
_hosts_slot() { # KIND OWNER
    local k f
    mkdir -p "$ADAPT_HOSTS_DIR/slots"
    for ((k = 1; k <= 49; k++)); do
        f=$ADAPT_HOSTS_DIR/slots/$1-$k
        if (set -o noclobber; echo "$2" >"$f") 2>/dev/null; then
            echo "$k"
            return 0
        fi
    done
    echo "hosts: no free $1 address" >&2
    return 1
}
_hosts_slot_free() { rm -f "$ADAPT_HOSTS_DIR/slots/$1-$2"; } # KIND K

host_vm_up() {
    local h=${1:-} name=${2:-} job=${3:-httpd}
    [[ -n $h && -n $name ]] || { echo "usage: host_vm_up HOST NAME [JOB]" >&2; return 2; }
    [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "host_vm_up: bad name '$name'" >&2; return 2; }
    [[ " $VM_JOBS " == *" $job "* ]] || { echo "host_vm_up: unknown job '$job' (one of: $VM_JOBS)" >&2; return 2; }
    local dir st k ip mac tap qmp ctl log disk pid start_us limit_us append o
    dir=$(host_dir "$h") || return 1
    host_vm_down "$h" "$name" >/dev/null 2>&1 || true # a leftover of a failed try
    for o in $(_hosts_list); do
        if [[ -d $ADAPT_HOSTS_DIR/$o/vm/$name ]]; then
            echo "host_vm_up: a VM '$name' exists on host $o already" >&2
            return 1
        fi
    done
    vm_image_build || return 1

    st=$dir/vm/$name
    mkdir -p "$st"
    k=$(_hosts_slot vm "$h $name") || return 1
    echo "$k" >"$st/slot"
    ip=$HOSTS_NET.$((100 + k))
    mac=$(_hosts_mac $((100 + k)))
    tap=$(_vm_tap_name "$name")
    qmp=$dir/run/$name.qmp
    ctl=$dir/run/$name.ctl
    log=$st/serial.log
    disk=$ADAPT_HOSTS_DIR/shared/$name.raw
    echo "$ip" >"$st/ip"
    echo "$mac" >"$st/mac"
    echo "$tap" >"$st/tap"
    echo "$qmp" >"$st/qmp"
    echo "$ctl" >"$st/ctl"
    echo "$disk" >"$st/disk"
    : >"$log"
    rm -f "$qmp" "$ctl" "$disk"
    truncate -s "${VM_DISK_MB}M" "$disk" || return 1

    # the tap exists (in the host's netns, on br0) before QEMU opens it
    host_tap_add "$h" "$tap" || return 1

    append="console=ttyS0 tsc_early_khz=2000000 panic=-1 adapt.job=$job"
    append+=" adapt.ip=$ip/24 adapt.name=$name"
    [[ -n ${VM_APPEND_EXTRA:-} ]] && append+=" $VM_APPEND_EXTRA"
    # shellcheck disable=SC2054 # commas inside QEMU option values
    local args=(
        -M microvm -accel tcg -m "$VM_MEM" -smp 1
        -nodefaults -no-user-config -display none -no-reboot
        -name "$name,debug-threads=on"
        -qmp "unix:$qmp,server=on,wait=off"
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
    printf '%s\0' "${args[@]}" >"$st/args0"
    args+=(-daemonize -pidfile "$st/qemu.pid")
    printf '%q ' hostexec "$h" "$VM_QEMU" "${args[@]}" >"$st/cmdline"

    start_us=$(_adapt_now_us)
    if ! _hosts_fg "$st/qemu.log" "$HOSTEXEC" "$h" "$VM_QEMU" "${args[@]}"; then
        echo "host_vm_up $h $name: QEMU did not start:" >&2
        cat "$st/qemu.log" >&2
        return 1
    fi
    pid=$(cat "$st/qemu.pid" 2>/dev/null) || { echo "host_vm_up $h $name: no pidfile" >&2; return 1; }
    echo "$pid" >"$st/pid"

    limit_us=$(awk -v t="$VM_BOOT_TIMEOUT" 'BEGIN { printf "%d", t * 1000000 }')
    while ! grep -q "$VM_READY_MARKER" "$log" 2>/dev/null; do
        if ! _adapt_pid_alive "$pid"; then
            echo "host_vm_up $h $name: QEMU (pid $pid) exited before the guest was ready; console:" >&2
            tail -n 40 "$log" >&2
            return 1
        fi
        if (($(_adapt_now_us) - start_us >= limit_us)); then
            echo "host_vm_up $h $name: no '$VM_READY_MARKER' within ${VM_BOOT_TIMEOUT}s; console:" >&2
            tail -n 40 "$log" >&2
            return 1
        fi
        sleep 0.05
    done
    echo $((($(_adapt_now_us) - start_us) / 1000)) >"$st/boot_ms"
    if grep -q "unknown job\|insmod .* failed\|fill failed" "$log"; then
        echo "host_vm_up $h $name: the guest's /init reported an error:" >&2
        tail -n 40 "$log" >&2
        return 1
    fi
    echo "$name host=$h pid=$pid ip=$ip mac=$mac tap=$tap qmp=$qmp ctl=$ctl"
}

# Is PID a QEMU with QMP socket SOCK (not a recycled pid)?
_hosts_qemu_is() { # PID SOCK
    _adapt_pid_alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "unix:$2,"
}

host_vm_down() {
    local h=${1:-} name=${2:-} st pid qmp ctl tap rc=0
    [[ -n $h && -n $name ]] || { echo "usage: host_vm_down HOST NAME" >&2; return 2; }
    st=$ADAPT_HOSTS_DIR/$h/vm/$name
    [[ -d $st ]] || return 0
    pid=$(cat "$st/pid" 2>/dev/null || true)
    qmp=$(cat "$st/qmp" 2>/dev/null || true)
    ctl=$(cat "$st/ctl" 2>/dev/null || true)
    tap=$(cat "$st/tap" 2>/dev/null || true)
    if [[ -n $pid && -n $qmp ]] && _hosts_qemu_is "$pid" "$qmp"; then
        VM_QMP_TIMEOUT=2 qmp_cmd "$ctl" '{"execute":"quit"}' >/dev/null 2>&1 || true
        if ! wait_for -t "$VM_STOP_TIMEOUT" _adapt_pid_gone "$pid" 2>/dev/null; then
            _hosts_qemu_is "$pid" "$qmp" && kill -KILL "$pid" 2>/dev/null
            wait_for -t 5 _adapt_pid_gone "$pid" || { echo "host_vm_down: QEMU $pid does not die" >&2; rc=1; }
        fi
    fi
    if [[ -n $tap ]] && ip -n "adt-$h" link show dev "$tap" >/dev/null 2>&1; then
        ip -n "adt-$h" link del dev "$tap" || rc=1
    fi
    rm -f "$qmp" "$ctl"
    [[ -f $st/slot ]] && _hosts_slot_free vm "$(<"$st/slot")"
    rm -rf "$st"
    return $rc
}

# ---------------------------------------------------------------- LXC ----------------------

_hosts_lxc_st() { local d; d=$(host_dir "$1") || return 1; echo "$d/run/lxc-$2"; }
host_lxc_ip() { local st; st=$(_hosts_lxc_st "$1" "$2") || return 1; cat "$st/ip"; }
host_lxc_pid() { local d; d=$(host_dir "$1") || return 1; hostexec "$1" lxc-info -P "$d/lxc" -n "$2" -pH; }

host_lxc_exec() {
    local h=${1:-} name=${2:-} d
    [[ -n $h && -n $name ]] || { echo "usage: host_lxc_exec HOST NAME CMD..." >&2; return 2; }
    shift 2
    d=$(host_dir "$h") || return 1
    hostexec "$h" lxc-attach -P "$d/lxc" -n "$name" --clear-env \
        --set-var PATH=/bin:/sbin:/usr/bin:/usr/sbin --set-var HOME=/root -- "$@"
}

host_lxc_up() {
    local h=${1:-} name=${2:-}
    [[ -n $h && -n $name ]] || { echo "usage: host_lxc_up HOST NAME" >&2; return 2; }
    [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "host_lxc_up: bad name '$name'" >&2; return 2; }
    _adapt_need lxc-create lxc-start lxc-wait lxc-attach lxc-info || return 1
    [[ -f /usr/share/lxc/templates/lxc-busybox ]] || {
        echo "host_lxc_up: /usr/share/lxc/templates/lxc-busybox missing (package lxc-templates)" >&2
        return 1
    }
    local d lp st k ip mac veth
    d=$(host_dir "$h") || return 1
    lp=$d/lxc
    st=$d/run/lxc-$name
    host_lxc_down "$h" "$name" >/dev/null 2>&1 || true
    mkdir -p "$st"
    k=$(_hosts_slot lxc "$h $name") || return 1
    echo "$k" >"$st/slot"
    ip=$HOSTS_NET.$((150 + k))
    mac=$(_hosts_mac $((150 + k)))
    veth=vl$(_adapt_hash8 "$name")
    echo "$ip" >"$st/ip"

    # our own (empty) create config: /etc/lxc/default.conf points at lxcbr0 (see lxc_up)
    : >"$st/create.conf"
    if ! _hosts_fg "$st/create.log" "$HOSTEXEC" "$h" lxc-create -P "$lp" -n "$name" -t busybox -f "$st/create.conf"; then
        echo "host_lxc_up: lxc-create -P $lp -n $name failed:" >&2
        cat "$st/create.log" >&2
        return 1
    fi
    # the template's rcS runs udhcpc, which flushes eth0's static address (see lxc_up)
    sed -i 's|^/bin/udhcpc.*|# udhcpc removed by adaptfs tests: static address via lxc.net.0.ipv4.address|' \
        "$lp/$name/rootfs/etc/init.d/rcS"
    cat >>"$lp/$name/config" <<EOF

# added by tests/bats/lib/hosts.bash (host $h)
lxc.net.0.type = veth
lxc.net.0.link = br0
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.net.0.veth.pair = $veth
lxc.net.0.hwaddr = $mac
lxc.net.0.ipv4.address = $ip/24 $HOSTS_NET.255
# cgroups below the caller's (hostexec: /adt-$h), not at the root of each hierarchy
lxc.cgroup.relative = 1
EOF
    if ! _hosts_fg "$st/start.log" "$HOSTEXEC" "$h" lxc-start -P "$lp" -n "$name" -d -o "$st/lxc.log" -l INFO; then
        echo "host_lxc_up: lxc-start -P $lp -n $name failed:" >&2
        cat "$st/start.log" "$st/lxc.log" >&2 2>/dev/null
        return 1
    fi
    if ! _hosts_fg "$st/start.log" "$HOSTEXEC" "$h" lxc-wait -P "$lp" -n "$name" -s RUNNING -t "$ADAPT_START_TIMEOUT"; then
        echo "host_lxc_up: $name not RUNNING after ${ADAPT_START_TIMEOUT}s:" >&2
        tail -n 30 "$st/lxc.log" >&2
        return 1
    fi
    if ! wait_for -t "$ADAPT_START_TIMEOUT" \
        host_lxc_exec "$h" "$name" sh -c "ip -4 addr show dev eth0 | grep -q 'inet $ip/'"; then
        echo "host_lxc_up: cannot attach to $name or eth0 has no $ip" >&2
        return 1
    fi
}

host_lxc_down() {
    local h=${1:-} name=${2:-} d lp st rc=0
    [[ -n $h && -n $name ]] || { echo "usage: host_lxc_down HOST NAME" >&2; return 2; }
    d=$ADAPT_HOSTS_DIR/$h
    lp=$d/lxc
    st=$d/run/lxc-$name
    if [[ -d $lp/$name && -e /run/netns/adt-$h ]]; then
        if [[ $(hostexec "$h" lxc-info -P "$lp" -n "$name" -sH 2>/dev/null) != STOPPED ]]; then
            _hosts_fg /dev/null "$HOSTEXEC" "$h" lxc-stop -P "$lp" -n "$name" -k -t 10 || true
        fi
        _hosts_fg /dev/null "$HOSTEXEC" "$h" lxc-destroy -P "$lp" -n "$name" ||
            _hosts_fg /dev/null "$HOSTEXEC" "$h" lxc-destroy -P "$lp" -n "$name" -f || rc=1
    fi
    [[ -f $st/slot ]] && _hosts_slot_free lxc "$(<"$st/slot")"
    rm -rf "$st"
    return $rc
}

# ---------------------------------------------------------------- clients ------------------

# Create client namespace NS on sw0 if it does not exist; prints its address.
_hosts_client_ns() { # NS
    local ns=$1 oct f peer
    f=$ADAPT_HOSTS_DIR/clients/ns-$ns
    if [[ -e /run/netns/$ns && -f $f ]]; then
        cat "$f"
        return 0
    fi
    [[ -e /run/netns/adt-sw ]] || { echo "host_client_bg: no switch (hosts_up first)" >&2; return 1; }
    if [[ $ns == adt-cli ]]; then
        oct=200
    else
        for ((oct = 201; oct <= 250; oct++)); do
            grep -qsx "$HOSTS_NET.$oct" "$ADAPT_HOSTS_DIR"/clients/ns-* || break
        done
    fi
    peer=c$(_adapt_hash8 "$ns")
    _hosts_ns_add "$ns" || return 1
    ip -n "$ns" link add eth0 address "$(_hosts_mac "$oct")" type veth peer name "$peer" netns adt-sw || return 1
    ip -n adt-sw link set "$peer" master sw0 up || return 1
    ip -n "$ns" addr add "$HOSTS_NET.$oct/24" brd + dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    echo "$HOSTS_NET.$oct" | tee "$f"
}

host_client_bg() {
    local ns=${1:-} url=${2:-} out=${3:-} pid py
    [[ -n $ns && -n $url && -n $out ]] || { echo "usage: host_client_bg NSNAME URL OUTFILE" >&2; return 2; }
    [[ $ns =~ ^adt-[A-Za-z0-9_.-]{1,11}$ ]] || { echo "host_client_bg: namespace name must be adt-* (max 15 chars)" >&2; return 2; }
    _hosts_client_ns "$ns" >/dev/null || return 1
    py=$(_vm_python_bin) || return 1
    : >>"$out"
    _hosts_bg "$ADAPT_HOSTS_DIR/clients/$ns.log" nsenter --net="/run/netns/$ns" -- "$py" -c '
import signal, sys, time, urllib.request
url, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
period = 0.05
f = open(out, "a", buffering=1)
nxt = time.monotonic()
while True:
    ts = int(time.time() * 1000)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            res = "ok" if r.status == 200 else "err"
    except Exception:
        res = "err"
    f.write("%d %s\n" % (ts, res))
    nxt += period
    d = nxt - time.monotonic()
    if d > 0:
        time.sleep(d)
    else:
        nxt = time.monotonic()
' "$url" "$out" "$HOSTS_CLIENT_TIMEOUT"
    pid=$_HOSTS_BG_PID
    printf '%s\n%s\n%s\n' "$ns" "$url" "$out" >"$ADAPT_HOSTS_DIR/clients/$pid"
    # shellcheck disable=SC2034 # for the caller
    HOST_CLIENT_PID=$pid
    echo "$pid"
}

client_past() { [ "$(tail -n1 "$1" | cut -d' ' -f1)" -gt "$2" ]; }

# guest_crash_line FILE...: the first line in which a guest's kernel, in its
# serial log FILEs, reported itself broken (BUG, Oops, panic, corruption);
# fails when none did. After a live move under TCG that is QEMU 7.2's
# pre-copy (adaptfs.conf(5) BUGS, bench/migrate/results-tcg-nothrottle.md).
guest_crash_line() {
    grep -h -a -m1 -E "Kernel panic|BUG:|Oops|corruption|general protection fault" "$@" 2>/dev/null |
        tr -d '\r' | head -n1 | grep .
}

client_longest_gap() {
    awk '$2 == "err" { if (!s) s = $1; e = $1 } $2 == "ok" && s { if (e - s > m) m = e - s; s = 0 }
        END { if (s && e - s > m) m = e - s; print m + 0 }' "$1"
}

host_client_stop() {
    local pid=${1:?usage: host_client_stop PID} f
    f=$ADAPT_HOSTS_DIR/clients/$pid
    [[ -f $f ]] || return 0
    # only the pid we started (its command line carries the output file)
    if _adapt_pid_alive "$pid" && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$(sed -n 3p "$f")"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_for -t 3 _adapt_pid_gone "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            wait_for -t 3 _adapt_pid_gone "$pid" || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    rm -f "$f"
}

uptime_of() { nsenter --net=/run/netns/adt-cli -- curl -sf -m 2 "http://$1:8080/uptime" | cut -d' ' -f1; }

# ---------------------------------------------------------------- hosts_down ---------------

hosts_down() {
    local force=0 keep=0 a rc=0
    for a in "$@"; do
        case $a in
        -f) force=1 ;;
        -k) keep=1 ;;
        *) echo "usage: hosts_down [-f] [-k]" >&2; return 2 ;;
        esac
    done
    if ((!force)) && ! _hosts_lock_held; then
        # hosts_up never got the lock (or was not called): nothing here is ours
        _hosts_unlock
        return 0
    fi
    _hosts_teardown || rc=1
    ((keep)) || _hosts_unlock
    return $rc
}

_hosts_teardown() {
    local D=$ADAPT_HOSTS_DIR rc=0 f h hs=() nss=() ns d m mnt fstype deadline
    mapfile -t hs < <(
        _hosts_list
        for d in "$D"/*/adaptfs.conf; do [[ -f $d ]] && basename "${d%/adaptfs.conf}"; done
    )
    mapfile -t hs < <(printf '%s\n' "${hs[@]}" | awk 'NF && !seen[$0]++')
    mapfile -t nss < <({
        [[ -f $D/netns ]] && cat "$D/netns"
        for h in "${hs[@]}"; do echo "adt-$h"; done
        echo adt-cli
        echo adt-sw
    } | awk 'NF && !seen[$0]++')

    # 1. client loops
    for f in "$D"/clients/[0-9]*; do
        [[ -f $f ]] && { host_client_stop "${f##*/}" || rc=1; }
    done
    # 2. LXC containers, through hostexec of their host (while the netns still exists)
    for h in "${hs[@]}"; do
        [[ -d $D/$h/lxc ]] || continue
        for d in "$D/$h/lxc"/*/; do
            [[ -f $d/config ]] || continue
            host_lxc_down "$h" "$(basename "$d")" || rc=1
        done
    done
    # 3. QEMUs
    for h in "${hs[@]}"; do
        for d in "$D/$h/vm"/*/; do
            [[ -d $d ]] || continue
            host_vm_down "$h" "$(basename "$d")" || rc=1
        done
    done
    # 4. daemons
    for h in "${hs[@]}"; do
        [[ -f $D/$h/index ]] && { host_stop "$h" || rc=1; }
    done
    # from now on hostexec refuses these hosts (it needs the config), so nothing new enters
    for h in "${hs[@]}"; do
        rm -f "$D/$h/adaptfs.conf"
    done
    # 5. whatever else runs in the scopes or the namespaces (by pid; never by name)
    deadline=$(($(_adapt_now_us) + 10000000))
    while :; do
        {
            for h in "${hs[@]}"; do _hosts_cg_pids "$h"; done
            _hosts_ns_pids "${nss[@]}"
        } | _hosts_kill_list && break
        if (($(_adapt_now_us) > deadline)); then
            echo "hosts_down: processes left in the scopes/namespaces" >&2
            rc=1
            break
        fi
        sleep 0.05
    done
    # 6. cgroups
    for h in "${hs[@]}"; do
        while read -r mnt fstype; do
            _adapt_cg_rmtree "$mnt/adt-$h" || { echo "hosts_down: cannot remove $mnt/adt-$h" >&2; rc=1; }
        done < <(_hosts_cg_mounts)
    done
    # 7. namespaces (their veths and taps go with them)
    for ns in "${nss[@]}"; do
        if [[ -e /run/netns/$ns ]]; then
            ip netns del "$ns" || rc=1
        fi
    done
    # a hostexec that had passed its checks before the config went may have made a scope again
    for h in "${hs[@]}"; do
        if [[ -n $(_hosts_cg_pids "$h") ]]; then
            _hosts_cg_pids "$h" | _hosts_kill_list || true
            wait_for -t 5 test -z "$(_hosts_cg_pids "$h")" || true
        fi
        while read -r mnt fstype; do
            [[ -d $mnt/adt-$h ]] || continue
            _adapt_cg_rmtree "$mnt/adt-$h" || { echo "hosts_down: cannot remove $mnt/adt-$h" >&2; rc=1; }
        done < <(_hosts_cg_mounts)
    done
    # 8. the directory, once nothing is mounted below it
    if [[ -d $D ]]; then
        while read -r m; do
            umount -l "$m" 2>/dev/null || { echo "hosts_down: cannot unmount $m" >&2; rc=1; }
        done < <(awk -v d="$D/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
        rm -rf --one-file-system "$D" || rc=1
    fi
    return $rc
}
