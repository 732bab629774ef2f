#!/usr/bin/env bats
# QEMU guests found through the kernel's proc connector: a guest that execs, one that
# daemonizes (forks twice after its exec) and a process that renames itself are found at
# the next sample without a walk of /proc; a daemon the connector cannot report to (another
# network namespace) walks /proc every sample; a guest that starts while the kernel drops
# reports is found by the walk that follows. The guests are stand-ins: small C programs
# named qemu-system-x86_64 that pause (vm.bats boots real ones). Needs root, cc, strace.

bats_load_library bats-support
bats_load_library bats-assert
load lib/mount

CONNECTOR_LOG="proc connector: QEMU guests are looked for among the processes it reports"

setup_file() {
    [[ $EUID -eq 0 ]] || return 0
    local d=$BATS_FILE_TMPDIR
    mkdir -p "$d/bin"
    # -daemonize -pidfile P: as QEMU, the first process waits for the grandchild, which
    # writes P and stays; otherwise the process just stays
    cc -O -x c -o "$d/bin/qemu-system-x86_64" - <<'EOF'
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	int daemonize = 0, p[2];
	char c;

	for (int i = 1; i < argc; i++) {
		daemonize |= strcmp(argv[i], "-daemonize") == 0;
		if (strcmp(argv[i], "-pidfile") == 0 && i + 1 < argc)
			pidfile = argv[i + 1];
	}
	if (daemonize) {
		if (pipe(p) < 0)
			return 1;
		if (fork() > 0) {
			close(p[1]);
			return read(p[0], &c, 1) == 1 ? 0 : 1;
		}
		setsid();
		if (fork() > 0)
			return 0;
		if (pidfile) {
			FILE *f = fopen(pidfile, "w");
			if (!f)
				return 1;
			fprintf(f, "%d\n", getpid());
			fclose(f);
		}
		if (write(p[1], "x", 1) != 1)
			return 1;
		close(p[0]);
		close(p[1]);
	}
	for (;;)
		pause();
}
EOF
    # flood N [CMD...]: N processes that fork and exit at once, one after the other
    cc -O -x c -o "$d/bin/flood" - <<'EOF'
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	for (int i = atoi(argv[1]); i > 0; i--) {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p > 0)
			waitpid(p, NULL, 0);
	}
	return 0;
}
EOF
}

setup() {
    [[ $EUID -eq 0 ]] || skip "needs root"
    STUB=$BATS_FILE_TMPDIR/bin/qemu-system-x86_64
    PIDS=$BATS_TEST_TMPDIR/pids
    : >"$PIDS"
}

teardown() {
    local p
    while read -r p; do
        kill -KILL "$p" 2>/dev/null || true
    done <"$PIDS"
    adaptfs_umount
}

# start_bg CMD...: start CMD in the background, remember its pid for teardown
start_bg() {
    "$@" </dev/null >/dev/null 2>&1 3>&- &
    echo $! >>"$PIDS"
    BG_PID=$!
}

# appeared NAME PID: the events say NAME appeared as a QEMU guest with key PID
appeared() { grep -qE "^[^ ]+ $1: appeared \(vm qemu, $2\)\$" "$ADAPTFS_MNT/events"; }

host_ts() { awk '$1 == "timestamp_usec" { print $2 }' "$ADAPTFS_MNT/host/stat"; }
# host_ts_past TS USEC: the host's snapshot is USEC newer than TS
host_ts_past() { (($(host_ts) >= $1 + $2)); }

# connector_or_skip: the daemon just mounted listens to the proc connector, else the test
# skips with the daemon's reason (a CI machine in a container: another network namespace)
connector_or_skip() {
    local why
    wait_for -t 5 grep -q "proc connector" "$ADAPTFS_LOG"
    why=$(sed -n 's/.*proc connector unavailable (\(.*\)):.*/\1/p' "$ADAPTFS_LOG")
    [[ -z $why ]] || skip "the kernel's proc connector does not report to this daemon: $why"
    grep -qF "$CONNECTOR_LOG" "$ADAPTFS_LOG"
}

# sampler_walks SECONDS: how many times the daemon's sampler thread reads the directory
# /proc itself (not /proc/PID/...) in SECONDS
sampler_walks() {
    local t tid
    for t in /proc/"$ADAPTFS_PID"/task/*; do
        [[ $(cat "$t/comm") == adapt-sampler ]] && tid=${t##*/}
    done
    [[ -n ${tid:-} ]] || return 1
    timeout -s INT "$1" strace -qq -y -e trace=getdents64 -p "$tid" 2>&1 | grep -c '</proc>,' || true
}

@test "a guest that execs appears at the next sample, without walks of /proc, and goes when it quits" {
    command -v strace >/dev/null || skip "no strace (make deps-test installs it)"
    adaptfs_mount --interval 1
    connector_or_skip
    walks=$(sampler_walks 3)
    echo "# walks of /proc by the sampler in 3 samples: $walks" >&3
    assert_equal "$walks" 0
    start_bg "$STUB" -name pw-exec
    wait_for -t 3 appeared pw-exec "$BG_PID"
    kill "$BG_PID"
    wait_for -t 3 test ! -e "$ADAPTFS_MNT/pw-exec"
}

@test "a -daemonize guest (two forks after its exec) appears under the pid that stays" {
    adaptfs_mount --interval 1
    connector_or_skip
    "$STUB" -name pw-daemon -daemonize -pidfile "$BATS_TEST_TMPDIR/pw.pid" </dev/null >/dev/null 2>&1 3>&-
    pid=$(cat "$BATS_TEST_TMPDIR/pw.pid")
    echo "$pid" >>"$PIDS"
    wait_for -t 3 appeared pw-daemon "$pid"
    assert_equal "$(cat "$ADAPTFS_MNT/pw-daemon/kind")" "vm qemu"
}

@test "a process that renames itself qemu-system-x86_64 long after its start appears" {
    adaptfs_mount --interval 1
    connector_or_skip
    local go=$BATS_TEST_TMPDIR/go stay=$BATS_TEST_TMPDIR/stay ts0
    mkfifo "$go" "$stay"
    # it waits on FIFOs (no fork: a child would carry the new name until its exec), renames
    # itself once told to, past the 3 samples it is looked at as a new process; its name is
    # the -name argument of its command line
    start_bg bash -c 'read -r <"$2"; printf qemu-system-x86_64 >/proc/$$/comm; read -r <"$3"' \
        -name pw-rename "$go" "$stay"
    ts0=$(host_ts)
    wait_for -t 15 host_ts_past "$ts0" 4500000
    run grep -q " pw-rename: appeared" "$ADAPTFS_MNT/events"
    assert_failure
    echo go >"$go"
    wait_for -t 3 appeared pw-rename "$BG_PID"
}

@test "in another network namespace the connector is unavailable: /proc is walked every sample and guests still appear" {
    command -v strace >/dev/null || skip "no strace (make deps-test installs it)"
    printf '#!/bin/sh\nexec unshare -n %q "$@"\n' "$ADAPTFS_BIN" >"$BATS_TEST_TMPDIR/adaptfs-netns"
    chmod +x "$BATS_TEST_TMPDIR/adaptfs-netns"
    ADAPTFS_BIN=$BATS_TEST_TMPDIR/adaptfs-netns adaptfs_mount --interval 1
    grep -qF "proc connector unavailable (" "$ADAPTFS_LOG"
    run grep -qF "$CONNECTOR_LOG" "$ADAPTFS_LOG"
    assert_failure
    walks=$(sampler_walks 3)
    echo "# walks of /proc by the sampler in 3 samples: $walks" >&3
    ((walks >= 2))
    start_bg "$STUB" -name pw-walked
    wait_for -t 3 appeared pw-walked "$BG_PID"
}

@test "a guest that starts while the kernel drops reports (socket full) is found by the walk after" {
    # a long interval, so that the socket fills between two samples
    adaptfs_mount --interval 8
    connector_or_skip
    local ino drops=0 i
    ino=$(for f in /proc/"$ADAPTFS_PID"/fd/*; do readlink "$f"; done |
        sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p' | while read -r s; do
            awk -v i="$s" '$2 == 11 && $10 == i { print i }' /proc/net/netlink
        done)
    [[ -n $ino ]] || fail "no proc connector socket among the daemon's fds"
    # fork until the kernel drops reports to the daemon's socket
    for ((i = 0; i < 40 && drops == 0; i++)); do
        "$BATS_FILE_TMPDIR/bin/flood" 2000
        drops=$(awk -v i="$ino" '$10 == i { print $9 }' /proc/net/netlink)
    done
    echo "# $((i * 2000)) forks until the socket dropped reports ($drops)" >&3
    ((drops > 0))
    start_bg "$STUB" -name pw-lost
    wait_for -t 20 appeared pw-lost "$BG_PID"
    grep -qF "proc connector: the kernel dropped process reports (socket full), walking /proc" "$ADAPTFS_LOG"
}
