#!/bin/bash
# bench/soak/run.sh - issue 9 part 5: adaptfs under churn for a long time.
#
#   sudo bench/soak/run.sh             # 10 minutes, writes bench/soak/results.md
#   sudo QUICK=1 bench/soak/run.sh     # 60 s, prints the table only (OUT=FILE to keep it)
#
# WORKLOADS real cgroups (one `sleep` process each) under a slice of their own, shown through
# a [discovery] pattern; every second one of them, at random, is stopped (SIGKILL, cgroup
# removed) and a new one started. READERS loops read every file of every workload (and the
# root and host files) from open to EOF; one writer toggles prefetch (on/off) and placement
# (cpus=) of random workloads of this soak. Every SAMPLE seconds the daemon's RSS, fd count and
# threads are recorded. Every read or write error other than ENOENT (a workload gone between
# listing and reading) and EBUSY for a placement write (an action already running for it) is
# an error. At the end adaptfs gets SIGTERM and must exit 0 and leave no mount.
#
# Environment (defaults in brackets):
#   DURATION [600, 60 with QUICK=1]  seconds of churn and load, after the workloads started
#   WORKLOADS [200] READERS [4]      workloads alive at any time; reader loops
#   SAMPLE [10]                      seconds between two samples of the daemon
#   WARMUP [60, 20 with QUICK=1]     samples before this many seconds are left out of slopes
#   INTERVAL [1]                     adaptfs --interval, seconds
#   POLL_MS [50]                     [prefetch] poll_ms (the default 10 ms polls about 100
#                                    containers with prefetch on 100 times a second: too much
#                                    for a shared 2-CPU machine)
#   ISOLATE [1]                      1: adaptfs's cgroup_root is a directory of bind mounts of
#                                    this soak's slice (one per controller), so that it sees
#                                    only these workloads (and the host's QEMU guests), not
#                                    whatever else the machine runs at the time; 0: the real
#                                    /sys/fs/cgroup, every container on the host
#   ADAPTFS [REPO/adaptfs]           the daemon
#   OUT [bench/soak/results.md, or "-" (stdout only) with QUICK=1]; beside it OUT's .dat
#                                    (t_s rss_kb fds threads workloads per sample) and, with
#                                    gnuplot, OUT's .png (soak.gp: RSS and fds over time)
#   KEEP [0]                         1: keep the work directory (samples, errors, logs)
#
# Needs root, cgroups (v1 with cpuacct, cpu, memory, pids and cpuset mounted under
# /sys/fs/cgroup, or v2), fuse3 and python3. Everything is made under a temp dir and the
# slice /adaptsoak-PID; on any exit the script stops what it started (by pid), unmounts and
# removes its cgroups. Installs nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	DURATION=${DURATION:-60}
	WARMUP=${WARMUP:-20}
	OUT=${OUT:--}
else
	DURATION=${DURATION:-600}
	WARMUP=${WARMUP:-60}
	OUT=${OUT:-$here/results.md}
fi
WORKLOADS=${WORKLOADS:-200}
READERS=${READERS:-4}
SAMPLE=${SAMPLE:-10}
INTERVAL=${INTERVAL:-1}
POLL_MS=${POLL_MS:-50}
ADAPTFS=${ADAPTFS:-$repo/adaptfs}
KEEP=${KEEP:-0}
ISOLATE=${ISOLATE:-1}
CG=/sys/fs/cgroup
PREFIX=soak-

say() { echo "soak: $*" >&2; }
die() {
	say "$*"
	exit 1
}

# --- prerequisites ---------------------------------------------------------
((EUID == 0)) || die "run as root (cgroups, FUSE mount, placement)"
[[ -x $ADAPTFS ]] || die "no executable $ADAPTFS (run make in $repo first)"
command -v fusermount3 >/dev/null || die "fusermount3 missing (apt-get install fuse3)"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3) || die "python3 missing"
for v in DURATION WORKLOADS READERS SAMPLE WARMUP POLL_MS; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number"
done
((WORKLOADS >= 2 && READERS >= 1 && SAMPLE >= 1)) || die "WORKLOADS >= 2, READERS >= 1, SAMPLE >= 1"
if [[ -f $CG/cgroup.controllers ]]; then
	V2=1
	CTRLS=(.)
else
	V2=0
	# cpuacct (the hierarchy adaptfs walks) last when creating, first when removing: adaptfs
	# sees a workload only once all its cgroups exist, and a placement write never meets a
	# workload half made (it would create the missing cpuset cgroup itself)
	CTRLS=(cpuset cpu memory pids cpuacct)
	for c in "${CTRLS[@]}"; do
		[[ -f $CG/$c/cgroup.procs ]] || die "cgroup v1 controller $c not mounted at $CG/$c"
	done
fi
CPUS=$(cat /sys/devices/system/cpu/online)
# placement choices: each online CPU alone, and all of them
CHOICES="$CPUS"
for c in $($PY -c '
import sys
r = []
for p in sys.argv[1].split(","):
    lo, _, hi = p.partition("-")
    r += range(int(lo), int(hi or lo) + 1)
print(" ".join(map(str, r[:8])))' "$CPUS"); do
	CHOICES+=" $c"
done

# --- state, cleanup on any exit --------------------------------------------
work=$(mktemp -d /tmp/adaptfs-soak.XXXXXX)
mnt=$work/mnt
mkdir "$mnt" "$work/wl" "$work/cgroot"
SLICE=/adaptsoak-$$
daemon=
bgpids=() # readers, writer, churner

cgdir() { # CTRL [REL]
	if ((V2)); then echo "$CG$SLICE${2:+/$2}"; else echo "$CG/$1$SLICE${2:+/$2}"; fi
}

# stop_workload NAME: SIGKILL its process, wait until its cgroups are empty, remove them
stop_workload() {
	local name=$1 pid c d i n
	pid=$(cat "$work/wl/$name.pid" 2>/dev/null || true)
	if [[ -n $pid ]]; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true # reaps it where it is our child (the churner's)
	fi
	for ((i = ${#CTRLS[@]} - 1; i >= 0; i--)); do
		c=${CTRLS[i]}
		d=$(cgdir "$c" "$name")
		[[ -d $d ]] || continue
		for ((n = 0; n < 500; n++)); do
			[[ -z $(cat "$d/cgroup.procs" 2>/dev/null) ]] && break
			sleep 0.01
		done
		rmdir "$d" 2>/dev/null || { sleep 0.1; rmdir "$d"; } || return 1
	done
	rm -f "$work/wl/$name.pid"
}

# stop_workers: they stop on $work/stop; after 60 s (the churner removes 200 cgroups) SIGTERM
stop_workers() {
	local p n
	: >"$work/stop"
	((${#bgpids[@]})) || return 0
	for ((n = 0; n < 600; n++)); do
		for p in "${bgpids[@]}"; do
			kill -0 "$p" 2>/dev/null && break
		done
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	for p in "${bgpids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	bgpids=()
}

mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }

cleanup() {
	local rc=$? p c d n
	set +e
	stop_workers
	if [[ -n $daemon ]] && kill -0 "$daemon" 2>/dev/null; then
		kill -TERM "$daemon"
		for ((n = 0; n < 100; n++)); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$daemon" 2>/dev/null && kill -KILL "$daemon"
		wait "$daemon" 2>/dev/null
	fi
	if mounted "$mnt"; then
		fusermount3 -u -z "$mnt" 2>/dev/null || umount -l "$mnt"
	fi
	for d in "$work"/cgroot/* "$work/cgroot"; do
		mounted "$d" && umount "$d"
	done
	for p in "$work"/wl/*.pid; do
		[[ -f $p ]] || continue
		n=${p##*/}
		stop_workload "${n%.pid}" || say "cleanup: cannot remove workload ${n%.pid}"
	done
	for c in "${CTRLS[@]}"; do
		d=$(cgdir "$c")
		[[ -d $d ]] || continue
		find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
		rmdir "$d" || say "cleanup: cannot remove $d"
	done
	if ((KEEP)); then
		say "work directory kept: $work"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the slice, the daemon -------------------------------------------------
for c in "${CTRLS[@]}"; do
	d=$(cgdir "$c")
	mkdir "$d"
	if [[ $c == cpuset ]]; then
		cat "$CG/cpuset/cpuset.cpus" >"$d/cpuset.cpus"
		cat "$CG/cpuset/cpuset.mems" >"$d/cpuset.mems"
	fi
done
if ((V2)); then
	# best effort: placement needs the cpuset controller in the slice's children
	for c in cpuset cpu memory pids; do
		echo "+$c" >"$CG/cgroup.subtree_control" 2>/dev/null || true
		echo "+$c" >"$(cgdir .)/cgroup.subtree_control" 2>/dev/null || true
	done
fi
# isolation: adaptfs walks bind mounts of the slice, where the workloads are /soak-NNNNN
root=$CG pattern="$SLICE/*"
if ((ISOLATE)); then
	root=$work/cgroot pattern="/$PREFIX*"
	if ((V2)); then
		mount --bind "$(cgdir .)" "$root"
	else
		for c in "${CTRLS[@]}"; do
			mkdir "$root/$c"
			mount --bind "$(cgdir "$c")" "$root/$c"
		done
	fi
fi
cat >"$work/adaptfs.conf" <<EOF
[discovery]
cgroup_root = $root
pattern = $pattern
[prefetch]
poll_ms = $POLL_MS
EOF
chmod 0644 "$work/adaptfs.conf"
"$ADAPTFS" -f --interval "$INTERVAL" -c "$work/adaptfs.conf" "$mnt" </dev/null >"$work/adaptfs.log" 2>&1 &
daemon=$!
for ((n = 0; n < 100; n++)); do
	[[ -e $mnt/host/cores ]] && break
	kill -0 "$daemon" 2>/dev/null || die "adaptfs exited: $(cat "$work/adaptfs.log")"
	sleep 0.1
done
[[ -e $mnt/host/cores ]] || die "adaptfs did not mount within 10 s"
say "adaptfs pid $daemon on $mnt; $WORKLOADS workloads under $SLICE, ${DURATION}s"

# --- the churner: starts WORKLOADS, then one out and one in every second -----
churn() {
	local seq=0 churned=0 live=() i victim start_us next_us now_us
	start_workload() {
		local name c d procs=()
		seq=$((seq + 1))
		name=$(printf '%s%05d' "$PREFIX" "$seq")
		for c in "${CTRLS[@]}"; do
			d=$(cgdir "$c" "$name")
			mkdir "$d"
			if [[ $c == cpuset ]]; then
				cat "$(cgdir cpuset)/cpuset.cpus" >"$d/cpuset.cpus"
				cat "$(cgdir cpuset)/cpuset.mems" >"$d/cpuset.mems"
			fi
			procs+=("$d/cgroup.procs")
		done
		# the process enters its cgroups itself, then becomes sleep (same pid)
		bash -c 'for f; do echo $$ >"$f"; done; exec sleep 1000000' start "${procs[@]}" \
			</dev/null >/dev/null 2>&1 &
		echo $! >"$work/wl/$name.pid"
		live+=("$name")
	}
	for ((i = 0; i < WORKLOADS; i++)); do
		start_workload || echo "start failed" >>"$work/churn.err"
	done
	: >"$work/populated"
	while [[ ! -e $work/go ]]; do sleep 0.1; done
	start_us=$(date +%s%6N)
	next_us=$start_us
	while [[ ! -e $work/stop ]]; do
		next_us=$((next_us + 1000000))
		i=$((RANDOM % ${#live[@]}))
		victim=${live[i]}
		live=("${live[@]:0:i}" "${live[@]:i+1}")
		if ! stop_workload "$victim"; then
			echo "$(date +%s) cannot stop $victim" >>"$work/churn.err"
		fi
		start_workload || echo "$(date +%s) start failed" >>"$work/churn.err"
		churned=$((churned + 1))
		echo "$churned" >"$work/churned.tmp"
		mv "$work/churned.tmp" "$work/churned"
		now_us=$(date +%s%6N)
		if ((next_us > now_us)); then
			sleep "$(printf '0.%06d' $((next_us - now_us)))"
		else
			next_us=$now_us # fell behind: do not try to catch up in a burst
		fi
	done
	# the processes are this shell's children: stop them here, where they can be reaped
	for victim in "${live[@]}"; do
		stop_workload "$victim" || echo "$(date +%s) cannot stop $victim" >>"$work/churn.err"
	done
}
churn &
bgpids+=($!)
for ((n = 0; n < 1200; n++)); do
	[[ -e $work/populated ]] && break
	sleep 0.1
done
[[ -e $work/populated ]] || die "the workloads did not start within 120 s"
mine() { { find "$mnt" -mindepth 1 -maxdepth 1 -name "$PREFIX*" 2>/dev/null || true; } | wc -l; }
for ((n = 0; n < 600; n++)); do
	(($(mine) >= WORKLOADS)) && break
	sleep 0.1
done
say "$(mine) workloads shown; churn, $READERS readers and a writer start"

# --- load and samples --------------------------------------------------------
log0=$(wc -l <"$work/adaptfs.log")
: >"$work/errors"
: >"$work/go"
echo 0 >"$work/churned"
for ((i = 1; i <= READERS; i++)); do
	"$PY" "$here/soak.py" reader "$mnt" "$PREFIX" "$work" "$i" </dev/null >>"$work/workers.log" 2>&1 &
	bgpids+=($!)
done
"$PY" "$here/soak.py" writer "$mnt" "$PREFIX" "$work" "$CHOICES" </dev/null >>"$work/workers.log" 2>&1 &
bgpids+=($!)

printf 't_s\tworkloads\tmine\trss_kb\tfds\theld\tthreads\treads\tread_errors\twrites\twrite_errors\tchurned\n' >"$work/samples.tsv"
alive=yes
t0=$(date +%s)
sample() {
	local t=$1 rss fds held thr all prog
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$daemon/status" || echo 0)
	thr=$(awk '/^Threads:/ { print $2 }' "/proc/$daemon/status" || echo 0)
	# the directories the sampler holds (cgroups, /proc/TID; and the mount point's lock)
	# apart from every other fd
	fds=$({ find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 || true; } | wc -l)
	held=$({ find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 -xtype d || true; } | wc -l)
	fds=$((fds - held))
	all=$({ find "$mnt" -mindepth 1 -maxdepth 1 -type d ! -name host 2>/dev/null || true; } | wc -l)
	read -r -a prog < <("$PY" "$here/soak.py" progress "$work") # reads, errors, writes, errors
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$all" "$(mine)" "$rss" "$fds" "$held" "$thr" \
		"${prog[@]}" "$(cat "$work/churned")" >>"$work/samples.tsv"
	say "$(tail -1 "$work/samples.tsv")"
}
sample 0
next=$SAMPLE
while :; do
	now=$(($(date +%s) - t0))
	if ! kill -0 "$daemon" 2>/dev/null; then
		alive=no
		say "adaptfs died at ${now}s"
		break
	fi
	if ((now >= next)); then
		sample "$next"
		next=$((next + SAMPLE))
	fi
	((now >= DURATION)) && break
	sleep 0.5
done
elapsed=$(($(date +%s) - t0))

# --- stop: workers, then the daemon (SIGTERM: exit 0, no mount left) ---------
stop_workers
# every workload is stopped and its cgroups removed: nothing may be left in the slice (a
# placement racing a removal must not create a cgroup again)
for c in "${CTRLS[@]}"; do find "$(cgdir "$c")" -mindepth 1 -type d || true; done >"$work/leftover"
leftover=$(wc -l <"$work/leftover")
if ((leftover)); then
	say "cgroups left in the slice after every workload was stopped:"
	cat "$work/leftover" >&2
fi
# log lines that are not events (two messages on one line, and the empty line left behind,
# are the daemon's threads writing to stderr at once: counted apart)
noise=$(tail -n +"$((log0 + 1))" "$work/adaptfs.log" |
	grep -vE ': (appeared \(|disappeared|placement: |prefetch: )' | grep -c . || true)
garbled=$(tail -n +"$((log0 + 1))" "$work/adaptfs.log" | grep -cE '.adaptfs: |^$' || true)
exitst="not running"
if [[ $alive == yes ]]; then
	kill -TERM "$daemon"
	for ((n = 0; n < 100; n++)); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$daemon" 2>/dev/null; then
		exitst="still running 10 s after SIGTERM"
	else
		st=0
		wait "$daemon" || st=$?
		daemon=
		if awk -v d="$mnt" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			exitst="$st, mount left behind"
		else
			exitst="$st, unmounted"
		fi
	fi
fi
cat >"$work/run.env" <<EOF
WHEN=$(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) CPUs, $(uname -r)
ALIVE=$alive
EXIT=$exitst
LOG_NOISE=$noise
LOG_GARBLED=$garbled
LEFTOVER=$leftover
LEFTOVER_PATHS=$(tr '\n' ' ' <"$work/leftover")
ISOLATE=$ISOLATE
EOF
if [[ -s $work/churn.err ]]; then
	say "churn errors:"
	cat "$work/churn.err" >&2
fi

# --- results -----------------------------------------------------------------
rc=0
table=$("$PY" "$here/soak.py" summary "$work" "$elapsed" "$WARMUP") || rc=1
if [[ $OUT == - ]]; then
	echo "$table"
else
	{
		echo "# Soak: $WORKLOADS churning workloads, $READERS readers, one writer"
		echo
		echo "Produced by \`bench/soak/run.sh\` (DURATION=$DURATION, WORKLOADS=$WORKLOADS,"
		echo "READERS=$READERS, SAMPLE=$SAMPLE, INTERVAL=$INTERVAL, POLL_MS=$POLL_MS, ISOLATE=$ISOLATE) on $(date -u +%Y-%m-%d),"
		echo "$(nproc) CPUs, kernel $(uname -r), cgroup v$((V2 ? 2 : 1)); other engineers' tests ran on the"
		echo "same machine at the same time. One row per sample; reads, writes, errors and"
		echo "churned are running totals. See bench/README.md (soak) for how to read it."
		echo
		echo "$table"
	} >"$OUT"
	say "wrote $OUT"
	# the samples as a time series beside the table, and RSS / fds over time as a PNG
	{
		echo "# t_s rss_kb fds threads workloads (bench/soak/run.sh, one line per sample)"
		awk 'NR > 1 { print $1, $4, $5, $7, $2 }' "$work/samples.tsv"
	} >"${OUT%.md}.dat"
	say "wrote ${OUT%.md}.dat"
	if ! command -v gnuplot >/dev/null; then
		say "gnuplot not installed (apt-get install gnuplot-nox): no ${OUT%.md}.png"
	elif gnuplot -e "png='${OUT%.md}.png'; dat='${OUT%.md}.dat'; warmup=$WARMUP" \
		-e "ttl='Soak: $WORKLOADS churning workloads, $READERS readers, one writer'" "$here/soak.gp"; then
		say "wrote ${OUT%.md}.png"
	else
		say "soak.gp failed: no ${OUT%.md}.png"
	fi
	echo "$table"
fi
((KEEP)) || [[ $rc == 0 ]] || { KEEP=1; say "failed: keeping $work"; }
exit $rc
