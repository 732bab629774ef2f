#!/bin/bash
# bench/modes/run.sh - the first paper's experiment on adaptfs managed workloads
# (issue 7): a CPU-heavy job (Monte-Carlo Pi, pi.c) and a network service (a
# static page from busybox httpd under wrk), each as 1..4 instances on one
# emulated host, in container mode (runc) and in VM mode (QEMU microvm; TCG on
# this machine); throughput per mode and N, switch downtime per direction from
# events, and what the auto policy does with one instance of each set to auto.
#
#   sudo bench/modes/run.sh             # ~12 min: writes bench/modes/results.md, results.dat, results.png
#   sudo QUICK=1 bench/modes/run.sh     # ~3 min: N = 1 2, short windows, prints the table only
#
# Environment (defaults in brackets; QUICK=1 values after the slash):
#   NS ["1 2 3 4" / "1 2"]   instances per host, ascending (instances are added, not re-made)
#   WINDOW [10 / 4]          seconds of each measuring window (all instances at once)
#   SETTLE [3 / 1]           seconds between an instance being ready and the window
#   CONNS [4]                wrk connections per web instance (one wrk per instance, -t1)
#   POLICY_WAIT [90 / 60]    seconds to wait for the policy's decision and switch
#   POLICY_HOLD [20 / 10]    seconds to watch after its switch (still under load) for
#                            a further decision (it should keep the container)
#   HOST_CPUS [all online]   the emulated host: CPUs the daemon (so every QEMU), every
#                            container's cpuset and wrk run on (taskset / cpuset.cpus)
#   ADAPTFS [REPO/adaptfs]   the daemon (copied: a rebuild mid-run is harmless)
#   OUT [bench/modes/results.md, or "-" (stdout only) with QUICK=1]; a full run also
#                            writes results.dat and, with gnuplot, results.png (modes.gp);
#                            analysis.md (hand-written, about the committed run) is
#                            appended to bench/modes/results.md: edit it after a new run
#   KEEP [0]                 1: keep the temp dir (logs, events, console logs)
#
# One adaptfs instance, mounted on a temp dir, with its own bridge amb-br0
# (10.236.0.1/24) and [managed] run dir; recipes mb-pi1..4 (10.236.0.11..14)
# and mb-web1..4 (10.236.0.21..24), each with its own copy of a busybox root
# (plus the static pi) and its own data directory. The pi writes its running
# sample count to /data/pi.out (the data directory survives switches and is
# read from the host); httpd serves /data/index.html.
#
# Per workload type: container phase, N = 1..4 (recipe k added with mode =
# container, SIGHUP, measure all k together); recipes 2..4 removed, instance 1
# switched to vm (downtime container->vm), VM phase N = 1..4 (recipes added with
# mode = vm); recipes 2..4 removed; instance 1 switched to container and back to
# vm (a second downtime per direction); then its mode is set to auto while it
# runs as a VM under load, and the script waits POLICY_WAIT s for the policy's
# decision ("NAME: policy: ..." in events) and the switch it makes.
# [policy] interval = 1, stable = 5, cooldown = 5 (quick, for the bench).
#
# On exit (also on failure or ^C) everything is removed: wrk (by pid), the
# daemon (SIGTERM; SIGKILL after 90 s), its workloads, which outlive it
# (adaptfs --stop-workloads), processes the
# daemon started that outlived it (by pid, those naming the run dir), runc
# containers adaptfs-mb-*, netns adaptfs-mb-*, cgroups adaptfs-mb-*, the
# bridge and its ports, the mount, the temp dir. Installs nothing.
set -eEuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ADAPTFS=${ADAPTFS:-$repo/adaptfs}
QUICK=${QUICK:-0}
KEEP=${KEEP:-0}
if [[ $QUICK == 1 ]]; then
	NS=${NS:-1 2}
	WINDOW=${WINDOW:-4}
	SETTLE=${SETTLE:-1}
	POLICY_WAIT=${POLICY_WAIT:-60}
	POLICY_HOLD=${POLICY_HOLD:-10}
	OUT=${OUT:--}
else
	NS=${NS:-1 2 3 4}
	WINDOW=${WINDOW:-10}
	SETTLE=${SETTLE:-3}
	POLICY_WAIT=${POLICY_WAIT:-90}
	POLICY_HOLD=${POLICY_HOLD:-20}
	OUT=${OUT:-$here/results.md}
fi
CONNS=${CONNS:-4}
HOST_CPUS=${HOST_CPUS:-$(cat /sys/devices/system/cpu/online)}
BR=amb-br0
NET=10.236.0
START_TIMEOUT=300	# a write of mode, a recipe's start: TCG boots on a loaded machine
CG=/sys/fs/cgroup
read -ra NLIST <<<"$NS"
NMAX=${NLIST[-1]}
((NMAX <= 4)) || { echo "modes: NS up to 4 (addresses, names)" >&2; exit 2; }

say() { echo "modes: $(date +%T) $*" >&2; }
die() { say "$*"; exit 1; }

# --- prerequisites ---------------------------------------------------------
missing=()
command -v gcc >/dev/null || missing+=(build-essential)
[[ -x /bin/busybox ]] || missing+=(busybox-static)
command -v runc >/dev/null || missing+=(runc)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v wrk >/dev/null || missing+=(wrk)
command -v fusermount3 >/dev/null || missing+=(fuse3)
command -v taskset >/dev/null || missing+=(util-linux)
((${#missing[@]} == 0)) || die "missing prerequisites; run: apt-get install ${missing[*]}"
((EUID == 0)) || die "run as root (runc, QEMU taps, a bridge, FUSE)"
[[ -x $ADAPTFS ]] || die "no executable $ADAPTFS (run make in $repo first)"
# static glibc: libc.a comes with libc6-dev, part of build-essential
ip link show dev "$BR" >/dev/null 2>&1 && die "bridge $BR exists: another run, or a crashed one (remove it by hand)"

exec 9>/run/adaptfs-bench-modes.lock
flock -n 9 || die "another bench/modes run holds /run/adaptfs-bench-modes.lock"

T=$(mktemp -d /var/tmp/adaptfs-modes.XXXXXX)
MNT=$T/mnt
DAEMON_PID=
ACCEL=
CLIENT_PIDS=()
NAMES=()
for k in 1 2 3 4; do NAMES+=("mb-pi$k" "mb-web$k"); done

# --- cleanup -----------------------------------------------------------------
stop_clients() {
	local p
	for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${CLIENT_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	CLIENT_PIDS=()
}

cleanup() {
	local rc=$? p n l c i
	trap - EXIT INT TERM ERR
	set +e
	say "cleaning up"
	stop_clients
	if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		kill -TERM "$DAEMON_PID"
		for ((i = 0; i < 900; i++)); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$DAEMON_PID" 2>/dev/null && { say "daemon still up after 90 s: SIGKILL"; kill -KILL "$DAEMON_PID"; }
		wait "$DAEMON_PID" 2>/dev/null
	fi
	mountpoint -q "$MNT" 2>/dev/null && { fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"; }
	[[ -x $T/adaptfs && -f $T/adaptfs.conf ]] && "$T/adaptfs" -c "$T/adaptfs.conf" --stop-workloads
	# what the daemon started and that outlived it: by pid, only those naming our run dir
	for p in /proc/[0-9]*; do
		tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "$T/run/" || continue
		kill -KILL "${p#/proc/}" 2>/dev/null
	done
	for n in "${NAMES[@]}"; do
		if runc state "adaptfs-$n" >/dev/null 2>&1; then
			runc kill "adaptfs-$n" KILL 2>/dev/null
			for ((i = 0; i < 50; i++)); do runc state "adaptfs-$n" 2>/dev/null | grep -q '"running"' || break; sleep 0.2; done
			runc delete -f "adaptfs-$n" >/dev/null 2>&1
		fi
		[[ -e /run/netns/adaptfs-$n ]] && ip netns del "adaptfs-$n"
		for c in "$CG"/*/adaptfs-"$n" "$CG/adaptfs-$n"; do
			[[ -d $c ]] || continue
			find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	done
	if ip link show dev "$BR" >/dev/null 2>&1; then
		for l in $(ip -o link show master "$BR" | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
			ip link del dev "$l"
		done
		ip link del dev "$BR"
	fi
	if [[ $KEEP == 1 ]]; then
		say "kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers -------------------------------------------------------------------
ev() { cat "$MNT/events"; }
kind_of() { cat "$MNT/$1/kind" 2>/dev/null || true; }
kind_is() { [[ $(kind_of "$1") == "$2" ]]; }
events_more() { [[ $(ev | grep -c -F -- "$2" || true) -gt $1 ]]; }	# N TEXT: more than N lines have TEXT
addr_of() { case $1 in mb-pi*) echo "$NET.1${1#mb-pi}" ;; mb-web*) echo "$NET.2${1#mb-web}" ;; esac; }
load1() { cut -d' ' -f1 /proc/loadavg; }
port_of() { case $1 in mb-pi*) echo 7000 ;; *) echo 8080 ;; esac; }

wait_until() {	# SECONDS CMD...: poll every 0.2 s
	local t=$1 i
	shift
	for ((i = 0; i < t * 5; i++)); do "$@" && return 0; sleep 0.2; done
	return 1
}

# recipe NAME MODE: write (or rewrite) the recipe; picked up at the next SIGHUP
recipe() {
	local n=$1 mode=$2 cmd
	case $n in
	mb-pi*) cmd='/bin/pi /data/pi.out' ;;
	mb-web*) cmd='/bin/sh -c '\''trap "exit 0" TERM; httpd -p 8080 -h /data; while :; do sleep 1 & wait $!; done'\''' ;;
	esac
	cat >"$T/recipes/$n.conf.tmp" <<-EOF
		[workload]
		rootfs = $T/roots/$n
		command = $cmd
		cpus = 1
		memory = 128M
		address = $(addr_of "$n")/24
		data = $T/data/$n
		ready_port = $(port_of "$n")
		ready_timeout = $START_TIMEOUT
		stop_timeout = 5
		mode = $mode
	EOF
	chmod 644 "$T/recipes/$n.conf.tmp"
	mv "$T/recipes/$n.conf.tmp" "$T/recipes/$n.conf"
}

hup() { kill -HUP "$DAEMON_PID"; }

# pin NAME: a container's cpuset to HOST_CPUS (QEMU inherits the daemon's affinity)
pin() {
	local c
	[[ $(kind_of "$1") == container* ]] || return 0
	for c in "$CG/cpuset/adaptfs-$1" "$CG/adaptfs-$1"; do
		[[ -w $c/cpuset.cpus ]] && echo "$HOST_CPUS" >"$c/cpuset.cpus" 2>/dev/null
	done
	return 0
}

# up NAME MODE: wait until NAME runs in MODE, its readiness check passed
up() {
	local n=$1 mode=$2
	wait_until "$START_TIMEOUT" grep -qE "^[^ ]+ $n: started as $mode|^[^ ]+ $n: mode: now $mode" "$MNT/events" ||
		{ ev | grep -F " $n: " | tail -5 >&2; die "$n: not started as $mode"; }
	wait_until 30 kind_is "$n" "$mode adaptfs" || die "$n: kind is '$(kind_of "$n")', not $mode"
	pin "$n"
}

# gone NAME: its recipe was removed: wait until its directory is gone. A SIGHUP
# that comes while the workload switches skips it (managed.c scan_recipes leaves
# busy workloads alone and does not look again): send another every 10 s.
gone() {
	local i
	for ((i = 0; i < 12; i++)); do
		wait_until 10 test ! -e "$MNT/$1" && break
		say "$1: still there 10 s after its recipe was removed: SIGHUP again"
		hup
	done
	[[ ! -e $MNT/$1 ]] || die "$1: still there 2 min after its recipe was removed"
	# its container or QEMU is stopped before the directory goes; the runc state too
	wait_until 30 bash -c "! runc state adaptfs-$1 >/dev/null 2>&1" || true
}

# switch NAME MODE: write mode; prints the downtime (s) from the event it appends
switch() {
	local n=$1 mode=$2 before
	before=$(ev | grep -c -F " $n: mode: now $mode (downtime" || true)
	timeout "$START_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$mode" "$MNT/$n/mode" ||
		{ ev | grep -F " $n: " | tail -5 >&2; die "$n: switch to $mode failed"; }
	wait_until 10 events_more "$before" " $n: mode: now $mode (downtime" ||
		die "$n: no downtime event after the switch"
	pin "$n"
	ev | grep -F " $n: mode: now $mode (downtime" | tail -1 | sed -E 's/.*downtime ([0-9.]+) s.*/\1/'
}

# samples NAME: the pi's running sample count (empty while the file is not written)
samples() { local c _r; read -r c _r <"$T/data/$1/pi.out" 2>/dev/null && echo "$c"; return 0; }

# edge NAME: wait for the pi's next update; prints "COUNT EPOCHREALTIME"
edge() {
	local a b i
	a=$(samples "$1")
	for ((i = 0; i < 500; i++)); do
		b=$(samples "$1")
		[[ -n $b && $b != "$a" ]] && { echo "$b $EPOCHREALTIME"; return 0; }
		sleep 0.01
	done
	echo "${b:-0} $EPOCHREALTIME"	# no update in 5 s: the pi is starved or gone
}

# pi_rate NAME SECONDS: samples/s between two updates SECONDS apart
pi_rate() {
	local c0 t0 c1 t1
	read -r c0 t0 < <(edge "$1")
	sleep "$2"
	read -r c1 t1 < <(edge "$1")
	awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.0f\n", (b - a) / (e - s) }'
}

# wrk_bg NAME SECONDS OUTFILE: wrk against NAME in the background (pid in CLIENT_PIDS)
wrk_bg() {
	taskset -c "$HOST_CPUS" wrk -t1 -c"$CONNS" -d"${2}s" --timeout 5s \
		"http://$(addr_of "$1"):8080/index.html" >"$3" 2>&1 &
	CLIENT_PIDS+=($!)
}

# measure TYPE MODE N: one window over instances 1..N; appends a row to $T/rows
measure() {
	local type=$1 mode=$2 n=$3 k sum=0 per=() v l0 l1 errs=0 cls
	local d=$T/win.$type.$mode.$n
	mkdir -p "$d"
	sleep "$SETTLE"
	l0=$(load1)
	# the class of instance 1 halfway through the window, under load
	{ sleep "$(awk -v w="$WINDOW" 'BEGIN { print w / 2 }')"; tr '\n' ' ' <"$MNT/mb-${type}1/class" | sed 's/ *$//' >"$d/class"; } &
	local cpid=$!
	if [[ $type == pi ]]; then
		local pids=()
		for ((k = 1; k <= n; k++)); do
			pi_rate "mb-pi$k" "$WINDOW" >"$d/$k" &
			pids+=($!)
		done
		wait "${pids[@]}"
		for ((k = 1; k <= n; k++)); do
			v=$(cat "$d/$k")
			per+=("$(awk -v v="$v" 'BEGIN { printf "%.1f", v / 1e6 }')")
			sum=$(awk -v s="$sum" -v v="$v" 'BEGIN { print s + v }')
		done
		sum=$(awk -v s="$sum" 'BEGIN { printf "%.1f", s / 1e6 }')
	else
		for ((k = 1; k <= n; k++)); do wrk_bg "mb-web$k" "$WINDOW" "$d/$k"; done
		wait "${CLIENT_PIDS[@]}" || true
		CLIENT_PIDS=()
		for ((k = 1; k <= n; k++)); do
			v=$(awk '/^Requests\/sec:/ { print $2 }' "$d/$k")
			[[ -n $v ]] || { cat "$d/$k" >&2; die "mb-web$k: no wrk result"; }
			per+=("$(printf '%.0f' "$v")")
			sum=$(awk -v s="$sum" -v v="$v" 'BEGIN { print s + v }')
			errs=$((errs + $(awk '/Socket errors:/ { gsub(/,/, ""); e = $4 + $6 + $8 + $10 } /Non-2xx/ { e += $NF } END { print e + 0 }' "$d/$k")))
		done
		sum=$(printf '%.0f' "$sum")
	fi
	wait "$cpid" || true
	l1=$(load1)
	[[ $mode == vm && -z $ACCEL ]] && ACCEL=$(ps -o args= --ppid "$DAEMON_PID" | grep -o -- '-accel [a-z]*' | head -1 | cut -d' ' -f2 || true)
	cls=$(cat "$d/class" 2>/dev/null || true)
	echo "$type|$mode|$n|$sum|${per[*]}|$errs|$l0|$l1|$cls" >>"$T/rows"
	say "$type $mode N=$n: $sum (per instance: ${per[*]}; errors $errs; load1 $l0 -> $l1; class of 1: $cls)"
}

# phase TYPE MODE: N = NS, instances added in MODE (instance 1 switched into it if needed)
phase() {
	local type=$1 mode=$2 n k have=0 dt
	for n in "${NLIST[@]}"; do
		for ((k = have + 1; k <= n; k++)); do
			if ((k == 1)) && [[ -e $MNT/mb-${type}1 ]]; then
				if [[ $(kind_of "mb-${type}1") != "$mode adaptfs" ]]; then
					dt=$(switch "mb-${type}1" "$mode")
					echo "$type|$( [[ $mode == vm ]] && echo c2v || echo v2c)|manual|$dt|$(load1)" >>"$T/switches"
					say "mb-${type}1: switched to $mode, downtime $dt s"
				fi
				continue
			fi
			recipe "mb-$type$k" "$mode"
		done
		hup
		for ((k = have + 1; k <= n; k++)); do up "mb-$type$k" "$mode"; done
		have=$n
		measure "$type" "$mode" "$n"
	done
}

# shrink TYPE: remove recipes 2..NMAX, wait until they are stopped
shrink() {
	local type=$1 k
	for ((k = 2; k <= NMAX; k++)); do rm -f "$T/recipes/mb-$type$k.conf"; done
	hup
	for ((k = 2; k <= NMAX; k++)); do gone "mb-$type$k"; done
}

# policy TYPE: instance 1 (a VM, under load) set to auto; wait for the decision.
# Then POLICY_HOLD s more under the same load: any further decision?
# $T/policy gets TYPE|SECONDS|TARGET|SWITCHED|CLASS|MODE FILE|DOWNTIME|KIND AFTER|
# FURTHER DECISIONS|CLASS AFTER THE HOLD (TARGET "none": no decision within POLICY_WAIT s).
policy() {
	local type=$1 t0 secs dt='' line cls target=none switched=no before
	local n=mb-${type}1
	[[ $(kind_of "$n") == "vm adaptfs" ]] || die "$n: not a VM before auto"
	[[ $type == web ]] && wrk_bg "$n" "$((POLICY_WAIT + POLICY_HOLD + 30))" "$T/policy-wrk.log"	# keep it busy
	t0=$EPOCHREALTIME
	before=$(ev | grep -c -F " $n: mode: now " || true)
	echo auto >"$MNT/$n/mode"
	say "$n: mode auto while it runs as a VM; waiting up to $POLICY_WAIT s for the policy"
	if wait_until "$POLICY_WAIT" grep -q " $n: policy: " "$MNT/events"; then
		secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
		line=$(grep " $n: policy: " "$MNT/events" | head -1)
		cls=$(tr '\n' ' ' <"$MNT/$n/class" | sed 's/ *$//')
		case $line in
		*"policy: switch to vm"*) target=vm switched=yes ;;
		*"policy: switch to container"*) target=container switched=yes ;;
		*"recommended mode=vm"*) target=vm ;;
		*"recommended mode=container"*) target=container ;;
		*) target=other ;;
		esac
		if [[ $switched == yes ]]; then
			if wait_until "$START_TIMEOUT" events_more "$before" " $n: mode: now "; then
				dt=$(grep -F " $n: mode: now $target (downtime" "$MNT/events" | tail -1 |
					sed -E 's/.*downtime ([0-9.]+) s.*/\1/')
				echo "$type|$([[ $target == vm ]] && echo c2v || echo v2c)|policy|$dt|$(load1)" >>"$T/switches"
			else
				switched=failed
			fi
		fi
		say "$n: policy after $secs s: $line"
	else
		secs=$POLICY_WAIT
		cls=$(tr '\n' ' ' <"$MNT/$n/class" | sed 's/ *$//')
		say "$n: no policy decision within $POLICY_WAIT s (class: $cls)"
	fi
	local kind_after mode_after decided more cls2
	kind_after=$(kind_of "$n")
	mode_after=$(cat "$MNT/$n/mode")
	decided=$(ev | grep -c " $n: policy: " || true)
	sleep "$POLICY_HOLD"
	more=$(($(ev | grep -c " $n: policy: " || true) - decided))
	cls2=$(tr '\n' ' ' <"$MNT/$n/class" | sed 's/ *$//')
	say "$n: $more further policy decisions in $POLICY_HOLD s; it runs as $(kind_of "$n"), class $cls2"
	echo "$type|$secs|$target|$switched|$cls|$mode_after|$dt|$kind_after|$more|$cls2|$(kind_of "$n")" >>"$T/policy"
	# from the auto write on: the decision and the switch it made
	ev | grep -E " $n: (policy|mode)" | awk '/: mode: auto/ { n = 0 } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }' >>"$T/policy-events"
	stop_clients
	return 0
}

# --- setup -----------------------------------------------------------------------
T0=$(date +%s)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
say "temp dir $T; host CPUs $HOST_CPUS; N = ${NLIST[*]}; window $WINDOW s"
mkdir -p "$T"/{recipes,run,roots,data,mnt,vm}
chmod 755 "$T/recipes"
cp "$ADAPTFS" "$T/adaptfs"
gcc -static -O2 -Wall -Wextra -o "$T/pi" "$here/pi.c"
"$repo/etc/adaptfs-mkinitrd" "$T/vm" >"$T/mkinitrd.log" 2>&1 || { cat "$T/mkinitrd.log" >&2; die "adaptfs-mkinitrd failed"; }

# a busybox root (what tests/bats/lib/containers.bash makes), one copy per instance
tmpl=$T/roots/.template
mkdir -p "$tmpl"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root,var/run}
cp /bin/busybox "$tmpl/bin/busybox"
while read -r p; do
	[[ $p == bin/busybox ]] && continue
	[[ -d $tmpl/${p%/*} ]] || mkdir -p "$tmpl/${p%/*}"
	ln -sf /bin/busybox "$tmpl/$p"
done < <(/bin/busybox --list-full)
chmod 1777 "$tmpl/tmp"
echo 'root:x:0:0:root:/root:/bin/sh' >"$tmpl/etc/passwd"
echo 'root:x:0:' >"$tmpl/etc/group"
cp "$T/pi" "$tmpl/bin/pi"
# a small static page (~1 KB), as in the paper (Tomcat's static page, httperf)
page=$(printf '<p>adaptfs bench/modes: a small static page.</p>\n%.0s' {1..20})
for n in "${NAMES[@]}"; do
	cp -a "$tmpl" "$T/roots/$n"
	mkdir -p "$T/data/$n"
	printf '<!DOCTYPE html>\n<html><head><title>%s</title></head><body>\n%s\n</body></html>\n' "$n" "$page" >"$T/data/$n/index.html"
done

cat >"$T/adaptfs.conf" <<EOF
[managed]
recipes = $T/recipes
run_dir = $T/run
bridge = $BR
bridge_address = $NET.1/24
bridge_mac = 02:ad:00:00:eb:01
kernel = $T/vm/vmlinux
initrd = $T/vm/initramfs.cpio
[policy]
interval = 1
stable = 5
cooldown = 5
EOF

# the daemon (and so every QEMU it starts) on the emulated host's CPUs
taskset -c "$HOST_CPUS" "$T/adaptfs" -f --interval 1 --config "$T/adaptfs.conf" "$MNT" >"$T/adaptfs.log" 2>&1 &
DAEMON_PID=$!
wait_until 30 test -e "$MNT/host/cores" || { cat "$T/adaptfs.log" >&2; die "adaptfs did not mount"; }
: >"$T/rows"
: >"$T/switches"
: >"$T/policy"
: >"$T/policy-events"

# --- the runs ----------------------------------------------------------------------
for type in pi web; do
	say "=== $type: container phase"
	phase "$type" container
	((NMAX > 1)) && shrink "$type"
	say "=== $type: VM phase"
	phase "$type" vm
	((NMAX > 1)) && shrink "$type"
	say "=== $type: switches of instance 1 alone, then auto"
	for m in container vm; do
		dt=$(switch "mb-${type}1" "$m")
		echo "$type|$( [[ $m == vm ]] && echo c2v || echo v2c)|manual|$dt|$(load1)" >>"$T/switches"
		say "mb-${type}1: switched to $m, downtime $dt s"
		sleep 2
	done
	policy "$type"
	rm -f "$T/recipes/mb-${type}1.conf"
	hup
	gone "mb-${type}1"
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T0))
ev >"$T/events.txt"
ACCEL=${ACCEL:-unknown}

# --- report --------------------------------------------------------------------------
report() {
	local type mode unit
	echo "# Containers vs lightweight VMs per application class (bench/modes)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), Linux $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)),"
	echo "$(runc --version | head -1), $(qemu-system-x86_64 --version | head -1 | sed 's/ (.*//'), accelerator **$ACCEL**,"
	echo "adaptfs $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'). Emulated host: CPUs $HOST_CPUS (the daemon and so every QEMU, each"
	echo "container's cpuset, and wrk). Load average at start $LOAD_START, at end $LOAD_END (a shared machine:"
	echo "other sessions' tests ran too; load1 per window below). Windows of $WINDOW s; the whole run took $((ELAPSED / 60)) min $((ELAPSED % 60)) s."
	echo
	echo "Every instance has cpus = 1 (a CPU quota of one CPU for the container, one vCPU for the VM),"
	echo "memory = 128M. **pi**: Monte-Carlo Pi (\`pi.c\`, static), throughput = samples drawn per second,"
	echo "summed over the N instances, in millions (M/s). **web**: busybox httpd serving a ~1 KB static"
	echo "page, one \`wrk -t1 -c$CONNS\` per instance from the host side of the bridge, requests/s summed."
	echo
	echo "| workload | mode | $(for n in "${NLIST[@]}"; do printf 'N=%s | ' "$n"; done)unit | N=$NMAX / N=1 | switch downtime into this mode (s) | auto policy | load1 |"
	echo "|---|---|$(for n in "${NLIST[@]}"; do printf -- '---:|'; done)---|---:|---|---|---|"
	for type in pi web; do
		[[ $type == pi ]] && unit="M samples/s" || unit="requests/s"
		for mode in container vm; do
			local cells="" n v dir dts pol lo hi v1='' sc
			for n in "${NLIST[@]}"; do
				v=$(awk -F'|' -v t="$type" -v m="$mode" -v n="$n" '$1 == t && $2 == m && $3 == n { print $4 }' "$T/rows")
				cells+="${v:-–} | "
				[[ -n $v1 ]] || v1=$v
			done
			sc=$(awk -v a="${v1:-0}" -v b="${v:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f×", b / a; else print "–" }')
			[[ $mode == vm ]] && dir=c2v || dir=v2c
			dts=$(awk -F'|' -v t="$type" -v d="$dir" '$1 == t && $2 == d { printf "%s%s%s", s, $4, ($3 == "policy" ? " (policy)" : ""); s = ", " }' "$T/switches")
			pol=$(awk -F'|' -v t="$type" -v m="$mode" '$1 == t {
				if ($3 == "none") { if (m == "vm") printf "no decision in %s s: stayed a VM (class %s)", $2, $5; next }
				if ($3 == m) printf "**chose %s** after %s s (class %s)%s", m, $2, $5,
					($4 == "yes" ? ", switched" : ($4 == "no" ? ", not switched (logged as recommended)" : ", switch failed")) }' "$T/policy")
			lo=$(awk -F'|' -v t="$type" -v m="$mode" '$1 == t && $2 == m { if (lo == "" || $7 < lo) lo = $7; if ($7 > hi) hi = $7; if ($8 > hi) hi = $8; if ($8 < lo) lo = $8 } END { print lo "–" hi }' "$T/rows")
			echo "| $type | $mode | $cells$unit | $sc | ${dts:-–} | ${pol:-–} | $lo |"
		done
	done
	echo
	verdict
	echo
	echo "## Each window"
	echo
	echo "| workload | mode | N | sum | per instance | errors (wrk) | load1 before → after | class of instance 1 |"
	echo "|---|---|---:|---:|---|---:|---|---|"
	awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s | %s → %s | %s |\n", $1, $2, $3, $4, $5, ($1 == "pi" ? "–" : $6), $7, $8, $9 }' "$T/rows"
	echo
	echo "## Switches and the policy (from \`events\`)"
	echo
	echo "| workload | direction | by | downtime (s) | load1 |"
	echo "|---|---|---|---:|---|"
	awk -F'|' '{ printf "| %s | %s | %s | %s | %s |\n", $1, ($2 == "c2v" ? "container → vm" : "vm → container"), $3, $4, $5 }' "$T/switches"
	echo
	echo "Starts of a recipe in VM mode (boot to readiness, while the other instances ran):"
	grep -E ': started as vm \(ready in' "$T/events.txt" | sed -E 's/^[^ ]+ ([^:]+): started as vm \(ready in ([0-9.]+) s\).*/\1 \2/' |
		awk '{ printf "%s%s %s s", s, $1, $2; s = ", " } END { print "." }'
	echo
	echo "The auto policy, instance 1 of each type set to \`auto\` while it ran as a VM under load:"
	echo
	echo '```'
	cat "$T/policy-events"
	echo '```'
}

# the verdict, from the figures
verdict() {
	local type r
	for type in pi web; do
		r=$(awk -F'|' -v t="$type" '$1 == t { v[$2, $3] = $4; n[$3] = 1 }
			END { lo = 1e9; hi = 0; c = 0
				for (k in n) if (v["vm", k] > 0) { x = v["container", k] / v["vm", k]; c++
					if (x < lo) lo = x; if (x > hi) hi = x }
				if (c) printf "%.1f %.1f", lo, hi }' "$T/rows")
		[[ -n $r ]] || continue
		read -r lo hi <<<"$r"
		if [[ $type == pi ]]; then
			printf '**Verdict, CPU-heavy (pi):** under %s the **%s** wins: it draws %s–%s× the samples per second of the VM at the same N.' \
				"${ACCEL^^}" "$(awk -v l="$lo" 'BEGIN { print (l >= 1 ? "container" : "VM") }')" "$lo" "$hi"
			echo " The paper found the opposite with hardware virtualization (the OSv VM fastest); a TCG VM interprets every guest instruction."
		else
			printf '**Verdict, network service (web):** the **%s** wins: %s–%s× the requests/s of the VM at the same N,' \
				"$(awk -v l="$lo" 'BEGIN { print (l >= 1 ? "container" : "VM") }')" "$lo" "$hi"
			echo " as in the paper (containers served the most responses/s)."
		fi
		echo
	done
	local p
	p=$(awk -F'|' '{
		if ($3 == "none") printf "%s%s (class %s): no decision line in %s s, it stayed a VM", s, $1, $5, $2
		else printf "%s%s (class %s as a VM): chose %s after %s s, %s%s; then %d further decisions in '"$POLICY_HOLD"' s under the same load (it ran as %s, class %s)", s, $1, $5, $3, $2,
			($4 == "yes" ? "and switched it" : ($4 == "no" ? "logged as recommended, not switched" : "but the switch failed")),
			($7 != "" ? " (downtime " $7 " s)" : ""), $9, $11, $10
		s = "; " }' "$T/policy")
	echo "**The auto policy:** $p."
}

if [[ $OUT == - ]]; then
	report
else
	report >"$OUT"
	# the hand-written "why" about the committed run goes with the committed table
	[[ $OUT == "$here/results.md" && -r $here/analysis.md ]] && cat "$here/analysis.md" >>"$OUT"
	awk -F'|' '{ print $1 "-" $2, $3, $4 }' "$T/rows" >"${OUT%.md}.dat"
	if command -v gnuplot >/dev/null; then
		gnuplot -e "dat='${OUT%.md}.dat'; png='${OUT%.md}.png'; ttl='adaptfs managed workloads, $ACCEL, CPUs $HOST_CPUS, $(date -u +%F)'" "$here/modes.gp"
	fi
	cat "$OUT"
	say "wrote $OUT, ${OUT%.md}.dat$(command -v gnuplot >/dev/null && echo ", ${OUT%.md}.png")"
fi
