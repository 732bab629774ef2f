# shellcheck shell=bash
# tests/bats/lib/common.bash — small shared helpers for the adaptfs bats libraries.
#
# Sourced by lib/containers.bash and lib/mount.bash (you do not need to load it yourself).
# Everything here is safe under bats' `set -eE` + ERR trap: commands whose failure is expected
# are written as conditions or with `|| true`.

[[ -n ${_ADAPT_COMMON_LOADED:-} ]] && return 0
_ADAPT_COMMON_LOADED=1

# not CMD...: CMD fails (unlike `! CMD`, a failure of `not` fails the test under set -e)
not() { if "$@"; then return 1; fi; }

# wait_for [-t SECONDS] CMD [ARGS...]
#   Run CMD every 50 ms until it succeeds or SECONDS (default $WAIT_FOR_TIMEOUT, else 10;
#   fractions allowed) have passed. CMD's output is discarded. On timeout, print
#   "wait_for: timed out after Ns: CMD" to stderr and return 1.
#   Use this for every readiness check instead of sleep.
wait_for() {
    local timeout=${WAIT_FOR_TIMEOUT:-10}
    if [[ ${1:-} == -t ]]; then
        timeout=$2
        shift 2
    fi
    if (($# == 0)); then
        echo "usage: wait_for [-t SECONDS] CMD [ARGS...]" >&2
        return 2
    fi
    local start_us now_us limit_us
    start_us=$(_adapt_now_us)
    # SECONDS (possibly fractional) -> microseconds, without bc
    limit_us=$(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000000 }')
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        now_us=$(_adapt_now_us)
        if ((now_us - start_us >= limit_us)); then
            echo "wait_for: timed out after ${timeout}s: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

# microseconds since the epoch, from bash 5's $EPOCHREALTIME (no fork)
_adapt_now_us() {
    local t=${EPOCHREALTIME:-}
    if [[ -z $t ]]; then
        date +%s%6N
        return 0
    fi
    # EPOCHREALTIME's decimal separator follows LC_NUMERIC; strip whatever it is
    echo "${t%%[^0-9]*}${t##*[^0-9]}"
}

# Directory for per-test-file state (registry, bundles, logs). Inside bats this is
# $BATS_FILE_TMPDIR, so teardown_file/teardown_all see what setup_file created.
# Outside bats (by hand) it is /tmp/adaptfs-test-state, or $ADAPT_TEST_STATE if set.
_adapt_state() {
    local d=${ADAPT_TEST_STATE:-${BATS_FILE_TMPDIR:-/tmp/adaptfs-test-state}}
    mkdir -p "$d"
    echo "$d"
}

_adapt_need() {
    local c missing=()
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || missing+=("$c")
    done
    if ((${#missing[@]})); then
        echo "adaptfs tests: missing command(s): ${missing[*]} (see the package list at the top of tests/bats/lib/containers.bash)" >&2
        return 1
    fi
}

# Is PID alive and not a zombie?
_adapt_pid_alive() {
    local pid=$1 st
    [[ -r /proc/$pid/stat ]] || return 1
    st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$pid/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}

_adapt_pid_gone() { ! _adapt_pid_alive "$1"; }

# stop_started: SIGTERM to every pid in STARTED (what a test ran in the
# background), then SIGKILL to any still there after 5 s
stop_started() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED[@]}"; do
        wait_for -t 5 _adapt_pid_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
    done
}
