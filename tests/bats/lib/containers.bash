# shellcheck shell=bash
# tests/bats/lib/containers.bash — real container workloads for adaptfs bats tests.
#
# Debian packages these helpers need (add them to the CI install line in .ci/run):
#   lxc lxc-templates busybox-static runc jq iproute2 util-linux coreutils procps
#   (+ bats bats-support bats-assert for the tests themselves; fuse3 for lib/mount.bash)
# Host-side TCP clients in the tests use `busybox nc` / `busybox wget` (busybox-static), so curl
# is not required.
#
# Load from a bats file with:   load lib/containers      (also loads lib/common.bash: wait_for)
#
# Functions (all as root; every *_up first removes a leftover of the same name, every *_down /
# cg_kill is idempotent and succeeds for unknown names):
#
#   lxc_up NAME              lxc-create -t busybox (offline) + lxc-start -d; returns when RUNNING
#                            and lxc-attach works. cgroups: /sys/fs/cgroup/<ctrl>/lxc.payload.NAME
#                            (monitor: lxc.monitor.NAME). Network: veth on bridge adapttest0,
#                            eth0 = lxc_ip NAME (10.231.0.X/24), gateway 10.231.0.1.
#   lxc_exec NAME CMD...     lxc-attach (clean env, PATH=/bin:/sbin:/usr/bin:/usr/sbin), foreground
#   lxc_exec_bg NAME CMD...  start CMD detached inside the container (stdio to /dev/null)
#   lxc_down NAME            lxc-stop -k + lxc-destroy, frees the address
#   lxc_ip NAME / lxc_pid NAME   container address / host pid of its init
#
#   runc_up NAME             busybox OCI bundle (rootfs = /bin/busybox + symlinks), `runc spec`
#                            edited with jq, `runc run -d --pid-file`. Container cgroup:
#                            /sys/fs/cgroup/<ctrl>/NAME in every v1 hierarchy AND in cgroup2
#                            /sys/fs/cgroup/unified/NAME (override: RUNC_CGROUPS_PATH=/a/b).
#                            State: /run/runc/NAME/state.json. Network: netns adt-NAME with a
#                            veth eth0 on adapttest0, address runc_ip NAME.
#                            Process: RUNC_ARGS (a JSON array) or a long-running busybox shell.
#   runc_exec NAME CMD...    runc exec, foreground
#   runc_exec_bg NAME CMD... start CMD in the background (stdio to /dev/null); see the pitfall
#                            note at the function about why this is not `runc exec -d`
#   runc_down NAME           kill, delete, remove netns/veth/bundle; frees the address
#   runc_ip NAME / runc_pid NAME / runc_bundle NAME
#
#   crun_up NAME / crun_down NAME / crun_pid NAME
#                            the same container with crun (one helper, _oci_up RUNTIME, starts
#                            both; RUNC_CGROUPS_PATH and RUNC_ARGS apply to crun too). State:
#                            /run/crun/NAME/status. Package crun.
#
#   cg_spawn NAME CMD...     make a plain cgroup /docker/<64-hex-id> (template: CG_PATH, e.g.
#                            CG_PATH='/machine.slice/libpod-{id}.scope' or
#                            '/machine.slice/systemd-nspawn@{name}.service'; {id} and {name} are
#                            substituted) in each of CG_CONTROLLERS (default
#                            "cpuacct cpu memory blkio pids unified"; the cgroup2 "unified" one
#                            gives PSI and perf cgroup mode, as runc/docker do on this layout;
#                            add "cpuset" and each new level gets its parent's cpus and mems),
#                            then start CMD in the background already inside it (it is placed
#                            before exec, so children inherit it). CMD must be an executable
#                            (use `bash -c '...'` for scripts). Output goes to cg_log NAME.
#   cg_pid NAME / cg_id NAME / cg_path NAME (e.g. /docker/<id>) / cg_dir NAME CTRL / cg_log NAME
#   cg_kill NAME             SIGKILL every process in the cgroup, wait until empty, rmdir.
#
#   teardown_all             undo what the helpers above created (registry in
#                            $BATS_FILE_TMPDIR): called inside a test (e.g. from teardown) it
#                            removes that test's objects; called from teardown_file (or by hand)
#                            everything of the file, setup_file's included, plus the bridge and
#                            LXC's empty lxc.pivot cgroups once unused. Returns 1 if something
#                            could not be removed (after trying everything).
#
# Network: bridge adapttest0 (MAC 02:a7:00:00:00:01, 10.231.0.1/24), created on first use and
# deleted by teardown_all once no helper-owned address is left on it. Addresses 10.231.0.10-250
# are handed out host-wide (flock on /run/adaptfs-tests/lock, table /run/adaptfs-tests/addrs);
# container MAC = 02:a7:00:00:00:<last octet in hex>. Traffic stays on that bridge.
# Overrides: ADAPT_BRIDGE, ADAPT_NET_PREFIX (default 10.231.0), ADAPT_START_TIMEOUT (10 s).
#
# Names: use [A-Za-z0-9_.-] (they become LXC names, runc ids, netns names adt-NAME, cgroups).
#
# Pitfalls found on these machines (and handled here):
# - bats waits at the end of a file for every process holding its fd 3: every background
#   process here is started with fd 3 closed and stdio redirected.
# - lxc-create without -f uses /etc/lxc/default.conf: bridge lxcbr0 (nothing creates it) and a
#   generated AppArmor profile. lxc_up passes its own empty config and adds the network after.
# - The busybox template's rcS runs udhcpc: its deconfig hook flushes eth0 (the address LXC set
#   from lxc.net.0.ipv4.address disappears) and it retries DHCP forever. lxc_up removes it.
# - lxc.net.0.ipv4.address without an explicit broadcast gets "brd 0.0.0.255": give one.
# - As root, LXC escapes to the root cgroup: lxc.payload.NAME / lxc.monitor.NAME sit at the top
#   of every hierarchy (cgroup2 included) whatever the caller's cgroup; it leaves an empty
#   lxc.pivot behind after lxc-stop (teardown_all removes it once no LXC container runs).
# - runc without cgroupsPath nests under the CALLER's cgroup per controller: here the test
#   shell's memory cgroup is /process_api/<id>, so memory would be /process_api/<id>/NAME while
#   cpu is /NAME. runc_up therefore sets cgroupsPath=/NAME; runc 1.1 then also joins cgroup2
#   (/sys/fs/cgroup/unified/NAME) on this hybrid layout.
# - `runc exec -d`'d processes get host PID 1 as parent; PID 1 reaps slowly here, and the
#   container's init cannot finish dying before they are reaped: a later kill took ~2 s
#   (`runc delete -f` also waits for the reap, as it signals the zombie). See runc_exec_bg.
# - v1 cgroups: rmdir of a just-emptied cgroup, or of a parent right after its child's rmdir,
#   can fail with EBUSY for a moment (exiting tasks leave cgroup.procs before the cgroup is
#   unpopulated; a removed child stays online until an RCU grace period): rmdir is retried.

# shellcheck source-path=SCRIPTDIR source=common.bash
source "${BASH_SOURCE[0]%/*}/common.bash"

: "${ADAPT_BRIDGE:=adapttest0}"
: "${ADAPT_BRIDGE_MAC:=02:a7:00:00:00:01}"
: "${ADAPT_NET_PREFIX:=10.231.0}"
: "${ADAPT_RUN_DIR:=/run/adaptfs-tests}"
: "${ADAPT_START_TIMEOUT:=10}"

# ---------------------------------------------------------------- registry -----------------

_adapt_reg() { echo "$(_adapt_state)/registry"; }

# Scope of what is created now: "test:N" inside a test (setup/test/teardown), "file" in
# setup_file/teardown_file or outside bats.
_adapt_scope() {
    if [[ -n ${BATS_TEST_NAME:-} ]]; then
        echo "test:${BATS_TEST_NUMBER:-0}"
    else
        echo file
    fi
}

_adapt_reg_add() { # KIND NAME   (one line "KIND NAME SCOPE"; the first scope wins)
    local r
    r=$(_adapt_reg)
    if ! awk -v k="$1" -v n="$2" '$1 == k && $2 == n { f = 1 } END { exit !f }' "$r" 2>/dev/null; then
        echo "$1 $2 $(_adapt_scope)" >>"$r"
    fi
}

_adapt_reg_del() { # KIND NAME
    local r
    r=$(_adapt_reg)
    [[ -f $r ]] || return 0
    awk -v k="$1" -v n="$2" '!($1 == k && $2 == n)' "$r" >"$r.new"
    mv "$r.new" "$r"
}

# ---------------------------------------------------------------- bridge and addresses -----

# Run "$@" (a function of this file) while holding the host-wide lock.
_adapt_locked() {
    mkdir -p "$ADAPT_RUN_DIR"
    (
        flock -w 30 9 || { echo "adaptfs tests: cannot lock $ADAPT_RUN_DIR/lock" >&2; exit 1; }
        "$@"
    ) 9>"$ADAPT_RUN_DIR/lock"
}

_adapt_owner_alive() { # KIND NAME
    case $1 in
    lxc) [[ -e /var/lib/lxc/$2/config ]] ;;
    runc | crun) [[ -e /run/netns/adt-$2 || -d /run/$1/$2 ]] ;;
    *) return 1 ;;
    esac
}

# Drop address entries whose owner no longer exists (a crashed earlier run).
_adapt_addrs_reclaim() {
    local f=$ADAPT_RUN_DIR/addrs oct kind name
    touch "$f"
    while read -r oct kind name; do
        [[ -n $oct ]] || continue
        if _adapt_owner_alive "$kind" "$name"; then
            echo "$oct $kind $name"
        fi
    done <"$f" >"$f.new"
    mv "$f.new" "$f"
}

_adapt_bridge_ensure() {
    local b=$ADAPT_BRIDGE
    if ! ip link show dev "$b" >/dev/null 2>&1; then
        ip link add name "$b" address "$ADAPT_BRIDGE_MAC" type bridge || return 1
        # no IPv6 chatter (DAD, router solicitations) on the test bridge
        sysctl -qw "net.ipv6.conf.$b.disable_ipv6=1" >/dev/null 2>&1 || true
    fi
    # fixed MAC: otherwise a bridge takes the lowest port MAC and changes with its ports
    ip link set dev "$b" address "$ADAPT_BRIDGE_MAC" || return 1
    if ! ip -4 addr show dev "$b" | grep -q "inet $ADAPT_NET_PREFIX.1/24"; then
        ip addr add "$ADAPT_NET_PREFIX.1/24" brd + dev "$b" || return 1
    fi
    ip link set dev "$b" up
}

_adapt_ip_alloc_locked() { # KIND NAME -> prints last octet
    local f=$ADAPT_RUN_DIR/addrs o
    _adapt_addrs_reclaim
    _adapt_bridge_ensure || return 1
    for ((o = 10; o <= 250; o++)); do
        if ! grep -q "^$o " "$f"; then
            echo "$o $1 $2" >>"$f"
            echo "$o"
            return 0
        fi
    done
    echo "adaptfs tests: no free address in $ADAPT_NET_PREFIX.10-250" >&2
    return 1
}

_adapt_ip_alloc() { _adapt_locked _adapt_ip_alloc_locked "$@"; }

_adapt_ip_free_locked() { # KIND NAME
    local f=$ADAPT_RUN_DIR/addrs
    [[ -f $f ]] || return 0
    awk -v k="$1" -v n="$2" '!($2 == k && $3 == n)' "$f" >"$f.new"
    mv "$f.new" "$f"
}

_adapt_ip_free() { _adapt_locked _adapt_ip_free_locked "$@"; }

# Delete the bridge when no helper-owned address and no port is left on it.
_adapt_bridge_gc_locked() {
    local f=$ADAPT_RUN_DIR/addrs b=$ADAPT_BRIDGE
    _adapt_addrs_reclaim
    [[ -s $f ]] && return 0
    if ip link show dev "$b" >/dev/null 2>&1; then
        if [[ -n $(ls -A "/sys/class/net/$b/brif" 2>/dev/null) ]]; then
            return 0
        fi
        ip link del dev "$b" || return 1
    fi
    rm -f "$f"
}

_adapt_mac() { printf '02:a7:00:00:00:%02x' "$1"; }
_adapt_hash8() { printf '%s' "$1" | md5sum | cut -c1-8; }

# rmdir an unused cgroup directory tree (children first). A just-removed child cgroup stays
# "online" until an RCU grace period has passed, and rmdir of its parent fails with EBUSY
# meanwhile (seen here on v1 hierarchies), so retry briefly.
_adapt_cg_rmtree() {
    local d=$1
    [[ -d $d ]] || return 0
    _adapt_cg_rmtree_once "$d" && return 0
    wait_for -t 3 _adapt_cg_rmtree_once "$d" 2>/dev/null
}

_adapt_cg_rmtree_once() {
    find "$1" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ ! -d $1 ]]
}

# rmdir DIR if no cgroup lives below it any more and nothing is in it (retrying on the
# EBUSY of a just-removed child, see above); leave it alone, quietly, if it is in use.
_adapt_cg_rmdir_unused() {
    local d=$1
    [[ -d $d ]] || return 0
    rmdir "$d" 2>/dev/null && return 0
    [[ -z $(find "$d" -mindepth 1 -maxdepth 1 -type d) && -z $(cat "$d/cgroup.procs" 2>/dev/null) ]] ||
        return 1
    wait_for -t 3 rmdir "$d" 2>/dev/null
}

# ---------------------------------------------------------------- LXC ----------------------

lxc_ip() { cat "$(_adapt_state)/lxc/$1/ip"; }
lxc_pid() { lxc-info -n "$1" -pH; }

lxc_up() {
    local name=${1:?usage: lxc_up NAME}
    _adapt_need lxc-create lxc-start lxc-wait lxc-attach lxc-info ip flock || return 1
    [[ -f /usr/share/lxc/templates/lxc-busybox ]] || {
        echo "lxc_up: /usr/share/lxc/templates/lxc-busybox missing (package lxc-templates)" >&2
        return 1
    }
    lxc_down "$name" >/dev/null 2>&1 || true

    local st oct ip h
    st=$(_adapt_state)/lxc/$name
    mkdir -p "$st"
    _adapt_reg_add lxc "$name"

    # -f with our own (empty) file instead of /etc/lxc/default.conf: that one points at lxcbr0,
    # which nothing creates here, and asks for a generated AppArmor profile.
    : >"$st/create.conf"
    if ! lxc-create -n "$name" -t busybox -f "$st/create.conf" >"$st/create.log" 2>&1; then
        echo "lxc_up: lxc-create -n $name failed:" >&2
        cat "$st/create.log" >&2
        return 1
    fi
    # The template's rcS runs `udhcpc`, whose deconfig hook flushes eth0 (removing the address
    # LXC configured) and which then retries DHCP forever. Addresses are static here.
    sed -i 's|^/bin/udhcpc.*|# udhcpc removed by adaptfs tests: static address via lxc.net.0.ipv4.address|' \
        "/var/lib/lxc/$name/rootfs/etc/init.d/rcS"

    oct=$(_adapt_ip_alloc lxc "$name") || return 1
    ip=$ADAPT_NET_PREFIX.$oct
    h=$(_adapt_hash8 "$name")
    echo "$ip" >"$st/ip"
    echo "vl$h" >"$st/veth"
    cat >>"/var/lib/lxc/$name/config" <<EOF

# network added by tests/bats/lib/containers.bash
lxc.net.0.type = veth
lxc.net.0.link = $ADAPT_BRIDGE
lxc.net.0.flags = up
lxc.net.0.name = eth0
lxc.net.0.veth.pair = vl$h
lxc.net.0.hwaddr = $(_adapt_mac "$oct")
lxc.net.0.ipv4.address = $ip/24 $ADAPT_NET_PREFIX.255
lxc.net.0.ipv4.gateway = $ADAPT_NET_PREFIX.1
EOF

    if ! lxc-start -n "$name" -d -o "$st/lxc.log" -l INFO </dev/null >"$st/start.log" 2>&1 3>&-; then
        echo "lxc_up: lxc-start -n $name failed:" >&2
        cat "$st/start.log" "$st/lxc.log" >&2 2>/dev/null
        return 1
    fi
    if ! lxc-wait -n "$name" -s RUNNING -t "$ADAPT_START_TIMEOUT"; then
        echo "lxc_up: $name not RUNNING after ${ADAPT_START_TIMEOUT}s:" >&2
        tail -n 30 "$st/lxc.log" >&2
        return 1
    fi
    # RUNNING is reported once init is exec'd; wait until we can attach and eth0 has the address
    if ! wait_for -t "$ADAPT_START_TIMEOUT" \
        lxc_exec "$name" sh -c "ip -4 addr show dev eth0 | grep -q 'inet $ip/'"; then
        echo "lxc_up: cannot attach to $name or eth0 has no $ip" >&2
        return 1
    fi
}

lxc_exec() {
    local name=${1:?usage: lxc_exec NAME CMD...}
    shift
    lxc-attach -n "$name" --clear-env \
        --set-var PATH=/bin:/sbin:/usr/bin:/usr/sbin --set-var HOME=/root -- "$@"
}

# Start CMD detached inside the container (new session, stdio on /dev/null).
lxc_exec_bg() {
    local name=${1:?usage: lxc_exec_bg NAME CMD...}
    shift
    lxc_exec "$name" sh -c 'setsid "$@" </dev/null >/dev/null 2>&1 &' sh "$@" \
        </dev/null 3>&-
}

lxc_down() {
    local name=${1:?usage: lxc_down NAME} rc=0 st veth d
    st=$(_adapt_state)/lxc/$name
    if lxc-info -n "$name" >/dev/null 2>&1; then
        if [[ $(lxc-info -n "$name" -sH 2>/dev/null) != STOPPED ]]; then
            lxc-stop -n "$name" -k -t 10 >/dev/null 2>&1 || true
        fi
        if ! lxc-destroy -n "$name" >/dev/null 2>&1; then
            lxc-destroy -n "$name" -f >&2 || rc=1
        fi
    fi
    for d in /sys/fs/cgroup/*/lxc.payload."$name" /sys/fs/cgroup/*/lxc.monitor."$name"; do
        [[ -d $d ]] || continue
        _adapt_cg_rmtree "$d" || { echo "lxc_down: cannot remove $d" >&2; rc=1; }
    done
    veth=$(cat "$st/veth" 2>/dev/null || echo "vl$(_adapt_hash8 "$name")")
    if ip link show dev "$veth" >/dev/null 2>&1; then
        ip link del dev "$veth" || rc=1
    fi
    if [[ -d $ADAPT_RUN_DIR ]]; then
        _adapt_ip_free lxc "$name" || rc=1
    fi
    rm -rf "$st"
    _adapt_reg_del lxc "$name"
    return $rc
}

# ---------------------------------------------------------------- runc ---------------------

runc_ip() { cat "$(_adapt_state)/runc/$1/ip"; }
runc_pid() { _oci_pid runc "$1"; }
runc_bundle() { echo "$(_adapt_state)/runc/$1/bundle"; }
runc_up() { _oci_up runc "$@"; }
runc_down() { _oci_down runc "$@"; }

crun_pid() { _oci_pid crun "$1"; }
crun_up() { _oci_up crun "$@"; }
crun_down() { _oci_down crun "$@"; }

# runc and crun take the same commands and print the same state (RUNTIME NAME)
_oci_pid() { "$1" state "$2" | jq -r .pid; }
_oci_status() { "$1" state "$2" 2>/dev/null | jq -r .status 2>/dev/null; }
_oci_is() { [[ $(_oci_status "$1" "$2") == "$3" ]]; }
_oci_gone_or_stopped() {
    local s
    s=$(_oci_status "$1" "$2")
    [[ -z $s || $s == stopped ]]
}
_runc_gone_or_stopped() { _oci_gone_or_stopped runc "$1"; }

# Build a busybox rootfs in DIR (from a per-file template: building costs ~270 forks).
_adapt_busybox_rootfs() {
    local t
    t=$(_adapt_state)/busybox-rootfs
    if [[ ! -x $t/bin/sh ]]; then
        rm -rf "$t" "$t.tmp"
        _adapt_busybox_rootfs_build "$t.tmp" || return 1
        mv "$t.tmp" "$t"
    fi
    cp -a "$t" "$1"
}

_adapt_busybox_rootfs_build() {
    local r=$1 p
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin}
    cp /bin/busybox "$r/bin/busybox"
    # the equivalent of `busybox --install -s`, done from outside: bin/sh, sbin/ip, usr/bin/...
    while read -r p; do
        [[ $p == bin/busybox ]] && continue
        [[ -d $r/${p%/*} ]] || mkdir -p "$r/${p%/*}"
        ln -sf /bin/busybox "$r/$p"
    done < <(/bin/busybox --list-full)
    mkdir -p "$r"/{proc,sys,dev,tmp,etc,root,var/run}
    chmod 1777 "$r/tmp"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
    echo 'root:x:0:' >"$r/etc/group"
}

_oci_up() { # RUNTIME NAME
    local rt=$1 name=${2:?usage: ${1}_up NAME}
    _adapt_need "$rt" jq ip flock md5sum || return 1
    [[ -x /bin/busybox ]] || { echo "${rt}_up: /bin/busybox missing (package busybox-static)" >&2; return 1; }
    _oci_down "$rt" "$name" >/dev/null 2>&1 || true

    local st bundle ns oct ip h cgpath args
    st=$(_adapt_state)/$rt/$name
    bundle=$st/bundle
    ns=adt-$name
    h=$(_adapt_hash8 "$name")
    cgpath=${RUNC_CGROUPS_PATH:-/$name}
    args=${RUNC_ARGS:-'["sh","-c","trap \"exit 0\" TERM INT; while :; do sleep 3600 & wait $!; done"]'}
    mkdir -p "$bundle"
    _adapt_reg_add "$rt" "$name"
    echo "$cgpath" >"$st/cgroupspath"

    _adapt_busybox_rootfs "$bundle/rootfs" || return 1
    echo "$name" >"$bundle/rootfs/etc/hostname"
    (cd "$bundle" && "$rt" spec) || return 1

    # network namespace first (it marks the address as owned), then the address and the veth
    ip netns add "$ns" || return 1
    oct=$(_adapt_ip_alloc "$rt" "$name") || return 1
    ip=$ADAPT_NET_PREFIX.$oct
    echo "$ip" >"$st/ip"
    echo "vr$h" >"$st/veth"
    ip link add "vr$h" type veth peer name "vc$h" || return 1
    ip link set "vr$h" master "$ADAPT_BRIDGE" up || return 1
    ip link set "vc$h" netns "$ns" || return 1
    ip -n "$ns" link set "vc$h" name eth0 || return 1
    ip -n "$ns" link set eth0 address "$(_adapt_mac "$oct")" || return 1
    ip -n "$ns" addr add "$ip/24" brd + dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$ns" link set lo up || return 1
    ip -n "$ns" route add default via "$ADAPT_NET_PREFIX.1" || return 1

    if ! jq --argjson args "$args" --arg cg "$cgpath" --arg name "$name" \
        --arg nspath "/run/netns/$ns" '
        .process.terminal = false
        | .process.args = $args
        | .root.readonly = false
        | .hostname = $name
        | .linux.cgroupsPath = $cg
        | .linux.namespaces |= map(if .type == "network" then .path = $nspath else . end)
        ' "$bundle/config.json" >"$bundle/config.json.new"; then
        echo "${rt}_up: jq could not edit config.json (RUNC_ARGS must be a JSON array)" >&2
        return 1
    fi
    mv "$bundle/config.json.new" "$bundle/config.json"

    # Detached with terminal=false: the container's stdio is what runc gets, so give it files
    # (never the bats pipes, or bats waits for the container to exit).
    if ! "$rt" run -d --pid-file "$st/pid" --bundle "$bundle" "$name" \
        </dev/null >"$st/run.log" 2>&1 3>&-; then
        echo "${rt}_up: $rt run $name failed:" >&2
        cat "$st/run.log" >&2
        return 1
    fi
    if ! wait_for -t "$ADAPT_START_TIMEOUT" _oci_is "$rt" "$name" running; then
        echo "${rt}_up: $name is '$(_oci_status "$rt" "$name")', not running:" >&2
        cat "$st/run.log" >&2
        return 1
    fi
}

runc_exec() {
    local name=${1:?usage: runc_exec NAME CMD...}
    shift
    runc exec "$name" "$@"
}

# Start CMD in the container in the background. Not `runc exec -d`: a process that entered the
# pid namespace by setns has its parent OUTSIDE it; with -d that parent (runc) exits and host
# PID 1 inherits it, and PID 1 reaps slowly on these machines, so killing the container later
# waits ~2 s for the reap (the namespace's init cannot finish exiting before). Here the
# `runc exec` stays alive as its parent in the background of the calling shell and reaps it.
# Returns at once: poll for what CMD provides with wait_for.
runc_exec_bg() {
    local name=${1:?usage: runc_exec_bg NAME CMD...}
    shift
    runc exec "$name" "$@" </dev/null >/dev/null 2>&1 3>&- &
    disown $!
}

_oci_down() { # RUNTIME NAME
    local rt=$1 name=${2:?usage: ${1}_down NAME} rc=0 st ns h veth cg d
    st=$(_adapt_state)/$rt/$name
    ns=adt-$name
    h=$(_adapt_hash8 "$name")
    if [[ -n $(_oci_status "$rt" "$name") ]]; then
        if ! _oci_gone_or_stopped "$rt" "$name"; then
            "$rt" kill "$name" KILL >/dev/null 2>&1 || true
            # runc reports a zombie init as stopped; `runc delete -f` on a running container
            # would instead wait (up to 10 s) for host PID 1 to reap it, which is slow here.
            wait_for -t 10 _oci_gone_or_stopped "$rt" "$name" || rc=1
        fi
        if ! "$rt" delete "$name" >/dev/null 2>&1; then
            "$rt" delete -f "$name" >&2 || rc=1
        fi
    fi
    # cgroups runc might have left (only the path this helper asked for)
    if [[ -f $st/cgroupspath ]]; then
        cg=$(cat "$st/cgroupspath")
        for d in /sys/fs/cgroup/*"$cg"; do
            [[ -d $d ]] || continue
            _adapt_cg_rmtree "$d" || { echo "${rt}_down: cannot remove $d" >&2; rc=1; }
        done
    fi
    if [[ -e /run/netns/$ns ]]; then
        ip netns del "$ns" || rc=1
    fi
    veth=$(cat "$st/veth" 2>/dev/null || echo "vr$h")
    if ip link show dev "$veth" >/dev/null 2>&1; then
        ip link del dev "$veth" || rc=1
    fi
    if [[ -d $ADAPT_RUN_DIR ]]; then
        _adapt_ip_free "$rt" "$name" || rc=1
    fi
    rm -rf "$st"
    _adapt_reg_del "$rt" "$name"
    return $rc
}

# ---------------------------------------------------------------- plain cgroups ------------

cg_pid() { cat "$(_adapt_state)/cg/$1/pid"; }
cg_id() { cat "$(_adapt_state)/cg/$1/id"; }
cg_path() { cat "$(_adapt_state)/cg/$1/path"; }
cg_log() { echo "$(_adapt_state)/cg/$1/log"; }
cg_dir() { echo "/sys/fs/cgroup/${2:?usage: cg_dir NAME CTRL}$(cg_path "$1")"; }

cg_spawn() {
    local name=${1:?usage: cg_spawn NAME CMD...}
    shift
    (($#)) || { echo "usage: cg_spawn NAME CMD..." >&2; return 2; }
    cg_kill "$name" >/dev/null 2>&1 || true

    local st id path ctrl procs=() pid
    local ctrls=${CG_CONTROLLERS:-cpuacct cpu memory blkio pids unified}
    st=$(_adapt_state)/cg/$name
    mkdir -p "$st"
    id=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
    local default_path='/docker/{id}'
    path=${CG_PATH:-$default_path}
    path=${path//\{id\}/$id}
    path=${path//\{name\}/$name}
    [[ $path == /* ]] || path=/$path
    echo "$id" >"$st/id"
    echo "$path" >"$st/path"
    echo "$ctrls" >"$st/controllers"
    _adapt_reg_add cg "$name"

    for ctrl in $ctrls; do
        [[ -d /sys/fs/cgroup/$ctrl ]] || { echo "cg_spawn: no hierarchy /sys/fs/cgroup/$ctrl" >&2; return 1; }
        procs+=("/sys/fs/cgroup/$ctrl$path/cgroup.procs")
    done
    # shellcheck disable=SC2086 # a list of words
    _adapt_locked _adapt_cg_mkdirs_locked "$path" $ctrls || return 1

    # The child moves itself into every cgroup, signals readiness, then execs CMD.
    printf '%s\n' "${procs[@]}" >"$st/procs"
    rm -f "$st/ready"
    bash -c '
        while read -r f; do echo $$ >"$f" || exit 97; done <"$1"
        : >"$2"
        shift 2
        exec "$@"
    ' cg_spawn "$st/procs" "$st/ready" "$@" </dev/null >"$st/log" 2>&1 3>&- &
    pid=$!
    disown "$pid" # no "Killed" job notices; bash still reaps it
    echo "$pid" >"$st/pid"
    if ! wait_for -t "$ADAPT_START_TIMEOUT" test -e "$st/ready"; then
        echo "cg_spawn: $name did not enter $path:" >&2
        cat "$st/log" >&2
        return 1
    fi
}

# v1 cpuset: a new cgroup has empty cpuset.cpus/mems and takes no task; give every new level
# its parent's (a test narrows them afterwards through cg_dir NAME cpuset).
_adapt_cpuset_mkdir() { # PATH
    local rel=$1 cur=/sys/fs/cgroup/cpuset comp f
    local -a comps
    IFS=/ read -ra comps <<<"${rel#/}"
    for comp in "${comps[@]}"; do
        [[ -n $comp ]] || continue
        if [[ ! -d $cur/$comp ]]; then
            mkdir "$cur/$comp" || return 1
        fi
        for f in cpuset.cpus cpuset.mems; do
            if [[ -z $(cat "$cur/$comp/$f") ]]; then
                cat "$cur/$f" >"$cur/$comp/$f" || return 1
            fi
        done
        cur=$cur/$comp
    done
}

# All pids in NAME's cgroups (union over controllers).
_cg_members() {
    local st=$1 f
    while read -r f; do
        cat "$f" 2>/dev/null || true
    done <"$st/procs" | sort -u
}

_cg_empty() { [[ -z $(_cg_members "$1") ]]; }

cg_kill() {
    local name=${1:?usage: cg_kill NAME} rc=0 st pid p ctrl path
    st=$(_adapt_state)/cg/$name
    [[ -f $st/path ]] || { _adapt_reg_del cg "$name"; return 0; }
    path=$(cat "$st/path")
    pid=$(cat "$st/pid" 2>/dev/null || true)
    if [[ -n $pid ]] && _adapt_pid_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [[ -f $st/procs ]]; then
        # the spawned command's descendants are exactly the cgroup's members
        local deadline=$(($(_adapt_now_us) + 10000000))
        while ! _cg_empty "$st"; do
            for p in $(_cg_members "$st"); do
                kill -KILL "$p" 2>/dev/null || true
            done
            if (($(_adapt_now_us) > deadline)); then
                echo "cg_kill: $name: processes left in $path: $(_cg_members "$st" | tr '\n' ' ')" >&2
                rc=1
                break
            fi
            sleep 0.05
        done
    fi
    # shellcheck disable=SC2013 # one line of words
    for ctrl in $(cat "$st/controllers"); do
        _adapt_cg_rmtree "/sys/fs/cgroup/$ctrl$path" ||
            { echo "cg_kill: cannot remove /sys/fs/cgroup/$ctrl$path" >&2; rc=1; }
    done
    _adapt_cgdirs_gc
    rm -rf "$st"
    _adapt_reg_del cg "$name"
    return $rc
}

# Create PATH in each CTRL hierarchy. Parents that do not exist yet (e.g. /docker) are listed
# host-wide in $ADAPT_RUN_DIR/cgdirs, under the lock, so that whichever helper user finishes
# last removes them (several bats files may share /docker at the same time).
_adapt_cg_mkdirs_locked() { # PATH CTRL...
    local path=$1 ctrl parent
    shift
    for ctrl in "$@"; do
        parent=${path%/*}
        while [[ -n $parent ]]; do
            if [[ ! -d /sys/fs/cgroup/$ctrl$parent ]]; then
                echo "/sys/fs/cgroup/$ctrl$parent" >>"$ADAPT_RUN_DIR/cgdirs"
            fi
            parent=${parent%/*}
        done
        if [[ $ctrl == cpuset ]]; then
            _adapt_cpuset_mkdir "$path" || return 1
        else
            mkdir -p "/sys/fs/cgroup/$ctrl$path" || return 1
        fi
    done
}

# Remove the listed parent cgroups that nothing uses any more (deepest first).
_adapt_cgdirs_gc_locked() {
    local f=$ADAPT_RUN_DIR/cgdirs d
    [[ -f $f ]] || return 0
    sort -u "$f" | awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2- |
        while read -r d; do
            _adapt_cg_rmdir_unused "$d" || echo "$d"
        done >"$f.new"
    mv "$f.new" "$f"
    [[ -s $f ]] || rm -f "$f"
}

_adapt_cgdirs_gc() {
    [[ -d $ADAPT_RUN_DIR ]] || return 0
    _adapt_locked _adapt_cgdirs_gc_locked
}

# ---------------------------------------------------------------- teardown -----------------

# teardown_all: inside a test (setup, test body, teardown) it removes what this test created;
# in teardown_file (or outside bats) it removes everything the helpers created in this file,
# setup_file's shared containers included. So both `teardown() { teardown_all; }` and
# `teardown_file() { teardown_all; }` do the expected thing, together or alone.
teardown_all() {
    local r rc=0 kind name scope lines=() i d want
    r=$(_adapt_reg)
    want=$(_adapt_scope)
    if [[ -f $r ]]; then
        mapfile -t lines <"$r"
        for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
            read -r kind name scope <<<"${lines[i]}"
            [[ $want == file || $scope == "$want" ]] || continue
            case $kind in
            lxc) lxc_down "$name" || rc=1 ;;
            runc | crun) _oci_down "$kind" "$name" || rc=1 ;;
            cg) cg_kill "$name" || rc=1 ;;
            esac
        done
    fi
    _adapt_cgdirs_gc || rc=1
    [[ $want == file ]] || return $rc
    if [[ -d $ADAPT_RUN_DIR ]]; then
        _adapt_locked _adapt_bridge_gc_locked || rc=1
        # LXC leaves an empty lxc.pivot cgroup behind in every hierarchy; remove it when no LXC
        # container runs any more.
        if [[ -z $(lxc-ls --running 2>/dev/null) ]]; then
            for d in /sys/fs/cgroup/*/lxc.pivot; do
                [[ -d $d ]] && { rmdir "$d" 2>/dev/null || true; }
            done
        fi
        if [[ ! -s $ADAPT_RUN_DIR/addrs && ! -s $ADAPT_RUN_DIR/cgdirs ]] &&
            ! ip link show dev "$ADAPT_BRIDGE" >/dev/null 2>&1; then
            rm -f "$ADAPT_RUN_DIR/lock" "$ADAPT_RUN_DIR/addrs" "$ADAPT_RUN_DIR/cgdirs"
            rmdir "$ADAPT_RUN_DIR" 2>/dev/null || true
        fi
    fi
    rm -f "$r"
    return $rc
}
