# shellcheck shell=bash
# tests/bats/lib/mount.bash — start and stop an adaptfs daemon on a fresh mount point.
#
# Load from a bats file with:   load lib/mount        (also loads lib/common.bash)
# Needs: fuse3 (fusermount3), util-linux, coreutils.
#
#   wait_for [-t SECONDS] CMD...   poll CMD every 50 ms until it succeeds; default timeout
#                                  $WAIT_FOR_TIMEOUT or 10 s; on timeout prints
#                                  "wait_for: timed out after Ns: CMD" and returns 1.
#                                  Use it for every readiness check instead of sleep.
#
#   adaptfs_mount [EXTRA_ARGS...]  runs, in the background,
#                                    $ADAPTFS_BIN -f --interval $ADAPTFS_INTERVAL EXTRA_ARGS... MNT
#                                  (no default --interval if EXTRA_ARGS has one; a
#                                  --state-dir in the test file's temporary directory
#                                  unless EXTRA_ARGS or its -c config names one), MNT a fresh
#                                  directory /tmp/adaptfs-mnt.XXXXXX (or $ADAPTFS_MOUNT_AT,
#                                  made if missing: a daemon started again on the same
#                                  mount point), and waits (polling, up to
#                                  $ADAPTFS_MOUNT_TIMEOUT = 5 s) until MNT is a mount and
#                                  MNT/host/cores exists. Fails at once, printing the daemon's
#                                  log, if the daemon exits first.
#                                  Sets and exports ADAPTFS_MNT, ADAPTFS_PID, ADAPTFS_LOG.
#                                  Call it directly, not through `run` (run is a subshell: the
#                                  variables would be lost). One instance per test shell.
#   adaptfs_umount                 SIGTERM to ADAPTFS_PID, waits up to $ADAPTFS_STOP_TIMEOUT
#                                  (5 s) for it to exit (SIGKILL after that), then if MNT is
#                                  still mounted: fusermount3 -u -z (umount -l as last resort);
#                                  removes MNT. Idempotent. Returns 1 (after cleaning up) if the
#                                  daemon did not exit on SIGTERM, exited with a non-zero status,
#                                  or left the mount behind: that is a daemon bug. A test that
#                                  kills the daemon on purpose should call `adaptfs_umount || true`.
#                                  Sets ADAPTFS_EXIT_STATUS (empty if not our child).
#   adaptfs_log                    print the daemon's log (stderr), e.g. in a failing test.
#   adaptfs_mounted [DIR]          is DIR (default ADAPTFS_MNT) a mount point right now? Reads
#                                  /proc/self/mountinfo, so it never blocks on a hung FUSE mount.
#   events_poller OUT              in the background, python3 reads MNT/events to its end, then
#                                  poll()s it for up to 10 s and writes "woken" or "timeout" to
#                                  OUT; returns once it polls. Sets EVENTS_POLLER (its pid: wait
#                                  for it after causing an event).
#
# Defaults: ADAPTFS_BIN = <repo root>/adaptfs, ADAPTFS_INTERVAL = 1.
# Typical use:
#   setup_file()    { load lib/mount; adaptfs_mount; }      # or in setup()
#   teardown_file() { adaptfs_umount; }

# shellcheck source-path=SCRIPTDIR source=common.bash
source "${BASH_SOURCE[0]%/*}/common.bash"

_ADAPT_REPO_ROOT=$(cd "${BASH_SOURCE[0]%/*}/../../.." && pwd)
: "${ADAPTFS_BIN:=$_ADAPT_REPO_ROOT/adaptfs}"
: "${ADAPTFS_INTERVAL:=1}"
: "${ADAPTFS_MOUNT_TIMEOUT:=5}"
: "${ADAPTFS_STOP_TIMEOUT:=5}"

adaptfs_mounted() {
    local d=${1:-${ADAPTFS_MNT:-}}
    [[ -n $d ]] || return 1
    # field 5 of mountinfo is the mount point (octal escapes for blanks; ours has none)
    awk -v d="$d" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# MNT/host/cores exists; stat under `timeout` so a wedged daemon cannot hang the test.
_adaptfs_ready() {
    adaptfs_mounted "$1" && timeout -s KILL 2 stat -- "$1/host/cores" >/dev/null 2>&1
}

_adaptfs_statefile() { echo "$(_adapt_state)/adaptfs.mount"; }

events_poller() {
    local out=${1:?usage: events_poller OUT}
    python3 - "$ADAPTFS_MNT/events" >"$out" 2>&1 3>&- <<'PY' &
import select, sys
with open(sys.argv[1], 'rb', buffering=0) as f:
    f.read()
    p = select.poll()
    p.register(f, select.POLLIN)
    print("ready", flush=True)
    print("woken" if p.poll(10000) else "timeout", flush=True)
PY
    EVENTS_POLLER=$!
    wait_for -t 5 grep -q ready "$out"
}

adaptfs_log() {
    local log=${ADAPTFS_LOG:-$(_adapt_state)/adaptfs.log}
    [[ -f $log ]] && cat "$log" >&2
    return 0
}

adaptfs_mount() {
    if [[ -n ${ADAPTFS_PID:-} ]] && _adapt_pid_alive "$ADAPTFS_PID"; then
        echo "adaptfs_mount: an adaptfs (pid $ADAPTFS_PID on $ADAPTFS_MNT) is already running; adaptfs_umount first" >&2
        return 1
    fi
    if [[ ! -x $ADAPTFS_BIN ]]; then
        echo "adaptfs_mount: $ADAPTFS_BIN is not an executable (build it, or set ADAPTFS_BIN)" >&2
        return 1
    fi
    local args=(-f) a prev= have_interval=0 own_state=0 mnt log pid start_us limit_us
    for a in "$@"; do
        [[ $a == --interval || $a == --interval=* ]] && have_interval=1
        [[ $a == --state-dir || $a == --state-dir=* ]] && own_state=1
        if [[ $prev == -c || $prev == --config ]] && grep -q '^[[:space:]]*state_dir[[:space:]]*=' "$a" 2>/dev/null; then
            own_state=1
        fi
        prev=$a
    done
    ((have_interval)) || args+=(--interval "$ADAPTFS_INTERVAL")
    # A state directory of the test file's own (unless it names one): a
    # test leaves no journal or kept setting in the host's for others to find.
    ((own_state)) || args+=(--state-dir "$(_adapt_state)/adaptfs-state")
    args+=("$@")

    if [[ -n ${ADAPTFS_MOUNT_AT:-} ]]; then
        mnt=$ADAPTFS_MOUNT_AT
        mkdir -p "$mnt"
    else
        mnt=$(mktemp -d /tmp/adaptfs-mnt.XXXXXX)
    fi
    log=$(_adapt_state)/adaptfs.log
    : >"$log"
    "$ADAPTFS_BIN" "${args[@]}" "$mnt" </dev/null >>"$log" 2>&1 3>&- &
    pid=$!
    export ADAPTFS_MNT=$mnt ADAPTFS_PID=$pid ADAPTFS_LOG=$log
    echo "$pid $mnt $log" >"$(_adaptfs_statefile)"

    start_us=$(_adapt_now_us)
    limit_us=$(awk -v t="$ADAPTFS_MOUNT_TIMEOUT" 'BEGIN { printf "%d", t * 1000000 }')
    until _adaptfs_ready "$mnt"; do
        if ! _adapt_pid_alive "$pid"; then
            echo "adaptfs_mount: $ADAPTFS_BIN ${args[*]} $mnt exited before $mnt/host/cores appeared; log:" >&2
            adaptfs_log
            adaptfs_umount >/dev/null 2>&1 || true
            return 1
        fi
        if (($(_adapt_now_us) - start_us >= limit_us)); then
            echo "adaptfs_mount: $mnt/host/cores did not appear within ${ADAPTFS_MOUNT_TIMEOUT}s; log:" >&2
            adaptfs_log
            adaptfs_umount >/dev/null 2>&1 || true
            return 1
        fi
        sleep 0.05
    done
}

adaptfs_umount() {
    local pid=${ADAPTFS_PID:-} mnt=${ADAPTFS_MNT:-} log sf rc=0 st deadline
    sf=$(_adaptfs_statefile)
    if [[ -z $pid && -f $sf ]]; then
        read -r pid mnt log <"$sf"
    fi
    ADAPTFS_EXIT_STATUS=
    if [[ -n $pid ]]; then
        if _adapt_pid_alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            deadline=$(($(_adapt_now_us) + $(awk -v t="$ADAPTFS_STOP_TIMEOUT" 'BEGIN { printf "%d", t * 1000000 }')))
            while _adapt_pid_alive "$pid" && (($(_adapt_now_us) < deadline)); do
                sleep 0.05
            done
            if _adapt_pid_alive "$pid"; then
                echo "adaptfs_umount: pid $pid still running ${ADAPTFS_STOP_TIMEOUT}s after SIGTERM; sending SIGKILL" >&2
                rc=1
                kill -KILL "$pid" 2>/dev/null || true
                wait_for -t 5 _adapt_pid_gone "$pid" || true
            fi
        fi
        # collect the exit status if it is our child (127: not our child / already reaped)
        if wait "$pid" 2>/dev/null; then st=0; else st=$?; fi
        if ((st != 127)); then
            ADAPTFS_EXIT_STATUS=$st
            if ((st != 0 && rc == 0)); then
                echo "adaptfs_umount: adaptfs exited with status $st after SIGTERM" >&2
                rc=1
            fi
            # an abort or a sanitizer's report is in the daemon's last lines
            if ((st != 0)) && [[ -s ${log:=${ADAPTFS_LOG:-}} ]]; then
                echo "adaptfs_umount: the end of $log:" >&2
                tail -n 30 "$log" | sed 's/^/    /' >&2
            fi
        fi
    fi
    if [[ -n $mnt ]] && adaptfs_mounted "$mnt"; then
        if [[ -n $pid ]]; then
            echo "adaptfs_umount: $mnt still mounted after the daemon exited; fusermount3 -u -z" >&2
            rc=1
        fi
        fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt" || rc=1
    fi
    if [[ -n $mnt && -d $mnt ]]; then
        rmdir "$mnt" 2>/dev/null || { echo "adaptfs_umount: cannot remove $mnt" >&2; rc=1; }
    fi
    rm -f "$sf"
    unset ADAPTFS_PID ADAPTFS_MNT
    export ADAPTFS_EXIT_STATUS
    return $rc
}
