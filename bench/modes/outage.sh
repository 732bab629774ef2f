#!/bin/bash
# bench/modes/outage.sh - what a client sees of a mode switch (issue 20): the
# busybox web server of adaptfs-workloads(5)'s example as a managed workload,
# a client on the host asking it for its page every 20 ms over the bridge
# (outage.py), SWITCHES switches each way with standby = yes, then the same
# with standby = no; per switch the longest gap between two answers, and
# adaptfs's own downtime with its split (quiesce, hand-over, ready).
#
#   sudo bench/modes/outage.sh           # ~6 min: writes bench/modes/results-outage.md
#   sudo SWITCHES=3 OUT=- bench/modes/outage.sh    # a quick look, table on stdout
#
# Environment: SWITCHES [10] per direction and setting; OUT
# [bench/modes/results-outage.md, "-" for stdout]; ADAPTFS [REPO/adaptfs];
# KEEP [0] 1: keep the temp dir (logs, events, console logs).
#
# One adaptfs on a temp dir with its own bridge amo-br0 (10.240.0.1/24),
# kernel and initramfs (etc/adaptfs-mkinitrd) and recipe mo-web
# (10.240.0.10, busybox rootfs, data directory with the page). Before each
# warm switch it waits until the standby is ready (stat: standby_ready 1),
# and records the standby's memory then. At the end the recipe is removed
# and the script checks that nothing of the workload or its standby is left
# (QEMU, runc container, cgroups, interfaces). On exit (also on failure or
# ^C) everything is removed: the client (by pid), the daemon, its workloads
# (adaptfs --stop-workloads), processes naming the run dir, the bridge, the
# mount, the temp dir.
set -eEuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ADAPTFS=${ADAPTFS:-$repo/adaptfs}
SWITCHES=${SWITCHES:-10}
OUT=${OUT:-$here/results-outage.md}
KEEP=${KEEP:-0}
BR=amo-br0
ADDR=10.240.0.10
NAME=mo-web
TIMEOUT=300	# a switch or standby on a loaded machine under TCG
CG=/sys/fs/cgroup

say() { echo "outage: $(date +%T) $*" >&2; }
die() { say "$*"; exit 1; }

missing=()
[[ -x /bin/busybox ]] || missing+=(busybox-static)
command -v runc >/dev/null || missing+=(runc)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v python3 >/dev/null || missing+=(python3)
command -v fusermount3 >/dev/null || missing+=(fuse3)
((${#missing[@]} == 0)) || die "missing prerequisites; run: apt-get install ${missing[*]}"
((EUID == 0)) || die "run as root (runc, QEMU taps, a bridge, FUSE)"
[[ -x $ADAPTFS ]] || die "no executable $ADAPTFS (run make in $repo first)"
ip link show dev "$BR" >/dev/null 2>&1 && die "bridge $BR exists: another run, or a crashed one (remove it by hand)"

T=$(mktemp -d /var/tmp/adaptfs-outage.XXXXXX)
MNT=$T/mnt
DAEMON_PID=
CLIENT_PID=

cleanup() {
	local rc=$? p l c i
	trap - EXIT INT TERM ERR
	set +e
	say "cleaning up"
	[[ -n $CLIENT_PID ]] && { kill "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null; }
	if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		for ((i = 0; i < 900; i++)); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$DAEMON_PID" 2>/dev/null && kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"; }
	[[ -f $T/adaptfs.conf ]] && "$T/adaptfs" -c "$T/adaptfs.conf" --stop-workloads
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$T/run/" || continue
		kill -KILL "${p#/proc/}" 2>/dev/null
	done
	runc state "adaptfs-$NAME" >/dev/null 2>&1 && runc delete -f "adaptfs-$NAME" >/dev/null 2>&1
	[[ -e /run/netns/adaptfs-$NAME ]] && ip netns del "adaptfs-$NAME"
	for c in "$CG"/*/adaptfs-"$NAME"* "$CG"/adaptfs-"$NAME"*; do
		[[ -d $c ]] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if ip link show dev "$BR" >/dev/null 2>&1; then
		for l in $(ip -o link show master "$BR" | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
			ip link del dev "$l"
		done
		ip link del dev "$BR"
	fi
	if [[ $KEEP == 1 ]]; then say "kept $T"; else rm -rf "$T"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_until() {	# SECONDS CMD...: poll every 0.05 s
	local end=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < end)) || return 1
		sleep 0.05
	done
}
stat_key() { awk -v k="$1" '$1 == k { print $2 }' "$MNT/$NAME/stat" 2>/dev/null; }
standby_ready() { [[ $(stat_key standby_ready) == 1 ]]; }
no_standby() { [[ -z $(stat_key standby_ready) ]]; }
kind_is() { [[ $(cat "$MNT/$NAME/kind" 2>/dev/null) == "$1 adaptfs" ]]; }
switches_are() { [[ $(stat_key mode_switches) == "$1" ]]; }
now() { date +%s.%N; }

recipe() { # STANDBY
	cat >"$T/recipes/$NAME.conf.tmp" <<-EOF
		[workload]
		rootfs = $T/root
		command = /usr/sbin/httpd -f -p 8080 -h /data
		address = $ADDR/24
		data = $T/data
		ready_port = 8080
		ready_timeout = $TIMEOUT
		stop_timeout = 2
		standby = $1
	EOF
	mv "$T/recipes/$NAME.conf.tmp" "$T/recipes/$NAME.conf"
}

# switch RUN MODE: one switch, its times into switches.log
switch() {
	local run=$1 mode=$2 n t0 t1 dir="vm->container"
	[[ $mode == vm ]] && dir="container->vm"
	n=$(stat_key mode_switches)
	t0=$(now)
	timeout "$TIMEOUT" bash -c 'echo "$1" >"$2"' _ "$mode" "$MNT/$NAME/mode" ||
		{ tail -n 20 "$MNT/events" >&2; die "the switch to $mode failed"; }
	t1=$(now)
	wait_until 10 switches_are $((${n:-0} + 1)) || die "stat did not count the switch"
	echo "$run $dir $t0 $t1 $(stat_key mode_downtime_usec) $(stat_key mode_quiesce_usec)" \
		"$(stat_key mode_handover_usec) $(stat_key mode_ready_usec) $(stat_key mode_warm)" >>"$T/switches.log"
	sleep 1	# the client's answers after the switch
}

# --- setup ---------------------------------------------------------------------
say "kernel and initramfs, rootfs"
mkdir -p "$T/recipes" "$T/run" "$T/data" "$MNT" "$T/root"
"$repo/etc/adaptfs-mkinitrd" "$T/vm" >"$T/mkinitrd.log" 2>&1 || { cat "$T/mkinitrd.log" >&2; die "adaptfs-mkinitrd failed"; }
mkdir -p "$T/root/bin"
cp /bin/busybox "$T/root/bin/busybox"
# the equivalent of `busybox --install -s` inside the root: bin/sh, usr/sbin/httpd, ...
while read -r p; do
	[[ $p == bin/busybox ]] && continue
	mkdir -p "$T/root/${p%/*}"
	ln -sf /bin/busybox "$T/root/$p"
done < <(/bin/busybox --list-full)
mkdir -p "$T/root"/{proc,sys,dev,tmp,etc}
echo 'root:x:0:0:root:/root:/bin/sh' >"$T/root/etc/passwd"
echo "adaptfs-outage-page" >"$T/data/index.html"
cp "$ADAPTFS" "$T/adaptfs"
cat >"$T/adaptfs.conf" <<-EOF
	[managed]
	recipes = $T/recipes
	run_dir = $T/run
	bridge = $BR
	bridge_address = 10.240.0.1/24
	bridge_mac = 02:ad:00:00:ed:01
	kernel = $T/vm/vmlinux
	initrd = $T/vm/initramfs.cpio
EOF
recipe yes
"$T/adaptfs" -f --interval 0.5 -c "$T/adaptfs.conf" "$MNT" >"$T/daemon.log" 2>&1 &
DAEMON_PID=$!
wait_until 60 kind_is container || die "$NAME did not start (see $T/daemon.log)"
python3 "$here/outage.py" client "$ADDR" 8080 "$T/client.log" &
CLIENT_PID=$!
: >"$T/switches.log"
: >"$T/memory.log"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS

# --- standby = yes ------------------------------------------------------------
for ((i = 1; i <= SWITCHES; i++)); do
	for mode in vm container; do
		wait_until "$TIMEOUT" standby_ready || { tail -n 20 "$MNT/events" >&2; die "no standby ready"; }
		echo "$mode $(stat_key standby_memory_bytes)" >>"$T/memory.log"
		say "standby: switch $i to $mode"
		switch yes "$mode"
	done
done

# --- standby = no --------------------------------------------------------------
recipe no
kill -HUP "$DAEMON_PID"
wait_until 60 no_standby || die "the standby was not dropped"
for ((i = 1; i <= SWITCHES; i++)); do
	for mode in vm container; do
		say "cold: switch $i to $mode"
		switch no "$mode"
	done
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
elapsed=$((SECONDS - t_start))

# --- nothing left behind -----------------------------------------------------
rm "$T/recipes/$NAME.conf"
kill -HUP "$DAEMON_PID"
wait_until 60 test ! -e "$MNT/$NAME" || die "$NAME still listed after its recipe went"
left=()
pgrep -f -- "-name adaptfs-$NAME," >/dev/null && left+=(QEMU)
runc state "adaptfs-$NAME" >/dev/null 2>&1 && left+=("runc container")
[[ -e /run/netns/adaptfs-$NAME ]] && left+=(netns)
compgen -G "$CG/*/adaptfs-$NAME*" >/dev/null && left+=(cgroups)
[[ -n $(ip -o link show master "$BR") ]] && left+=(interfaces)

# --- report --------------------------------------------------------------------
{
	if [[ $OUT != - ]]; then
		echo "# What a client sees of a mode switch (bench/modes/outage.sh)"
		echo
	fi
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs, runc $(runc --version | head -1 | awk '{ print $3 }'),"
	echo "$(qemu-system-x86_64 --version | head -1), accelerator $(grep -q 'accel.*kvm' "$T/run/workloads/$NAME/qemu.log" 2>/dev/null && echo kvm || echo tcg),"
	echo "adaptfs $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'). Load average at start $load0, at end $load1;"
	echo "$SWITCHES switches each way per setting, $elapsed s in all. The workload: \`/usr/sbin/httpd -f -p 8080 -h /data\`"
	echo "(busybox), ready_port 8080; the client asks for /index.html every 20 ms from the host over the bridge"
	echo "(1 s timeout). Outage: the longest gap between two answers, from the last before the write to"
	echo "those 0.5 s after it returned. Targets (issue 20): container -> vm median ≤ 0.4 s, vm -> container"
	echo "median ≤ 0.15 s, p90 ≤ 1.5× the median, with standby on."
	echo
	echo "Left behind after the recipe was removed: **${left[*]:-nothing}**."
	echo
} >"$T/report.md"
[[ $OUT == - ]] || cp "$T/report.md" "$OUT"
[[ $OUT == - ]] && cat "$T/report.md"
python3 "$here/outage.py" report "$T/client.log" "$T/switches.log" "$T/memory.log" "$OUT"
((${#left[@]} == 0)) || die "left behind: ${left[*]}"
say "done${OUT:+: $OUT}"
