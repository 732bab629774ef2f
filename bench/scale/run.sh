#!/bin/bash
# bench/scale/run.sh - adaptfs with N = 10, 100, 1000 real container workloads:
# sampler cost against a raw C loop over the same kernel files, memory, read
# latency under 8 concurrent readers against hellofs_hl (also with direct_io)
# and LXCFS (same run),
# metrics.prom render time, ls / find|cat of the whole tree, and discovery
# latency of a new cgroup.
#
#   sudo bench/scale/run.sh             # N=10 100 1000, writes bench/scale/results.md
#   sudo FULL=1 bench/scale/run.sh      # + the 10-minute RSS run at the largest N
#   sudo QUICK=1 bench/scale/run.sh     # N=100, short, prints only (< 2 min; make bench)
#
# Environment (defaults in brackets; QUICK=1 values after the slash):
#   NS ["10 100 1000" / 100]   workload counts, ascending (workloads are added, not re-made)
#   WINDOW [60]                seconds of the --interval 5 cost window at each N (>= 30);
#                              with FULL=1 the largest N gets LONG [600] (RSS every 10 s)
#   COST_INTERVAL [5]          adaptfs --interval for the cost / RSS window
#   LAT_INTERVAL [1]           adaptfs --interval for latency, render, ls/find, discovery
#   RAW_SWEEPS [2]             rawloop sweeps in the middle of each interval of the window
#   ROUNDS [5 / 2]             multireader rounds over all files (interleaved)
#   OPS [400 / 200]            timed reads per reader thread per file and round
#   THREADS [8]                concurrent readers
#   DISCO [50]                 discovery trials
#   PROM_TRIALS [10 / 5]       metrics.prom first-read-after-snapshot trials
#   URING [1]                  1: set the fuse module's enable_uring for the run (put back
#                              after) so adaptfs serves over io_uring, and measure NAME/cpu
#                              over /dev/fuse (io_uring = no) in extra rounds; 0: leave it
#   ADAPTFS [REPO/adaptfs]  SHARED_BENCH [REPO/../shared/bench]
#   OUT [bench/scale/results.md, or "-" (stdout only) with QUICK=1]; with gnuplot also
#                              writes OUT's .png (plot.sh: CPU, latency, discovery against N)
#
# Workloads: v1 cgroups /docker/<64-hex id> in cpuacct, cpu, memory, blkio and
# pids, one real process each: `sleep` for idle ones, every 10th a bash loop
# that spins ~0.3 ms every 0.5 s.  Everything is mounted on a temp dir; on
# exit (also on failure or ^C) the script unmounts, stops the processes it
# started (by pid) and removes the cgroups it created.  Installs nothing.
set -eEuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$repo/../shared/bench}
ADAPTFS=${ADAPTFS:-$repo/adaptfs}
QUICK=${QUICK:-0}
FULL=${FULL:-0}
if [[ $QUICK == 1 ]]; then
	NS=${NS:-100}
	ROUNDS=${ROUNDS:-2}
	OPS=${OPS:-200}
	PROM_TRIALS=${PROM_TRIALS:-5}
	OUT=${OUT:--}
else
	NS=${NS:-10 100 1000}
	ROUNDS=${ROUNDS:-5}
	OPS=${OPS:-400}
	PROM_TRIALS=${PROM_TRIALS:-10}
	OUT=${OUT:-$here/results.md}
fi
WINDOW=${WINDOW:-60}
LONG=${LONG:-600}
DISCO=${DISCO:-50}
RAW_SWEEPS=${RAW_SWEEPS:-2}
THREADS=${THREADS:-8}
COST_INTERVAL=${COST_INTERVAL:-5}
LAT_INTERVAL=${LAT_INTERVAL:-1}
URING=${URING:-1}
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_WAS=
CG=/sys/fs/cgroup
CTRLS=(cpuacct cpu memory blkio pids)
CLK_TCK=$(getconf CLK_TCK)

say() { echo "scale: $*" >&2; }
die() { say "$*"; exit 1; }

# --- prerequisites ---------------------------------------------------------
missing=()
command -v make >/dev/null && command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists fuse3 2>/dev/null || missing+=(libfuse3-dev)
command -v fusermount3 >/dev/null || missing+=(fuse3)
command -v lxcfs >/dev/null || missing+=(lxcfs)
((${#missing[@]} == 0)) || die "missing prerequisites; run: apt-get install ${missing[*]}"
((EUID == 0)) || die "run as root (cgroups, lxcfs)"
[[ -c /dev/fuse ]] || die "/dev/fuse not found (modprobe fuse?)"
[[ -x $ADAPTFS ]] || die "no executable $ADAPTFS (run make in $repo first)"
[[ -f $SHARED_BENCH/Makefile && -f $SHARED_BENCH/hellofs_hl.c ]] ||
	die "SHARED_BENCH=$SHARED_BENCH does not hold hellofs_hl.c and its Makefile"
for c in "${CTRLS[@]}"; do
	[[ -f $CG/$c/cgroup.procs ]] || die "cgroup v1 controller $c not mounted at $CG/$c"
done
prev=0
for n in $NS; do
	[[ $n =~ ^[1-9][0-9]*$ ]] && ((n > prev)) || die "NS must be ascending whole numbers: '$NS'"
	prev=$n
done
for v in WINDOW LONG DISCO THREADS ROUNDS OPS PROM_TRIALS RAW_SWEEPS COST_INTERVAL LAT_INTERVAL; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a whole number > 0"
done
((WINDOW >= 30)) || die "WINDOW must be >= 30 s"
NMAX=$prev

# --- state, cleanup on any exit --------------------------------------------
tmp=$(mktemp -d /tmp/adaptfs-scale.XXXXXX)
mkdir "$tmp/mnt" "$tmp/build" "$tmp/state"
daemons=()      # "pid mountpoint how" (how: term = SIGTERM unmounts, fuse = fusermount3 -u)
workers=()      # pids of the workload processes
cgdirs=()       # cgroup dirs we created
cgparents=()    # /docker parents we created
helper=""       # pid of a running discolat
ids=()          # workload ids, in creation order
disco_prefix=5ca1e$(od -An -tx1 -N2 /dev/urandom | tr -d ' \n') # ids of discovery trials

# alive PID: exists and is not a zombie (no fork).
alive() {
	local s
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
	s=${s##*) }
	[[ ${s:0:1} != Z ]]
}

# stop PID [TENTHS]: SIGTERM, poll, then SIGKILL; reap it.
stop() {
	local pid=$1 t=${2:-50}
	alive "$pid" && kill "$pid" 2>/dev/null
	while ((t-- > 0)) && alive "$pid"; do nap 0.1; done
	alive "$pid" && { say "pid $pid ignored SIGTERM, killing"; kill -9 "$pid" 2>/dev/null; }
	wait "$pid" 2>/dev/null
	return 0
}

# mounted DIR: from /proc/self/mountinfo (stat of a dead FUSE mount fails with
# ENOTCONN, so mountpoint(1) calls it "not a mount point")
mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# stop_daemon "pid mp how"
stop_daemon() {
	local pid mp how
	read -r pid mp how <<<"$1"
	if [[ $how == fuse ]] && mounted "$mp"; then
		fusermount3 -u "$mp" 2>/dev/null
	fi
	stop "$pid"
	if mounted "$mp"; then
		say "$mp still mounted after its daemon stopped; lazy unmount"
		fusermount3 -u -z "$mp" || say "could not unmount $mp"
	fi
	rmdir "$mp" 2>/dev/null || :
}

# rm_cgroups DIR...: kill what is left inside, rmdir (retrying the v1 EBUSY).
rm_cgroups() {
	local left=("$@") again d p t
	for ((t = 0; t < 50; t++)); do
		again=()
		for d in "${left[@]}"; do [[ -d $d ]] && again+=("$d"); done
		left=("${again[@]}")
		((${#left[@]})) || return 0
		for d in "${left[@]}"; do
			while read -r p; do kill -9 "$p"; done <"$d/cgroup.procs"
		done 2>/dev/null
		printf '%s\0' "${left[@]}" | xargs -0 rmdir 2>/dev/null
		nap 0.1
	done
	for d in "${left[@]}"; do [[ -d $d ]] && say "could not remove cgroup $d"; done
	return 0
}

cleanup() {
	local d i c
	set +e
	trap - INT TERM HUP ERR
	[[ -n $helper ]] && stop "$helper" 100
	for ((i = ${#daemons[@]} - 1; i >= 0; i--)); do stop_daemon "${daemons[i]}"; done
	if ((${#workers[@]})); then
		kill -9 "${workers[@]}" 2>/dev/null
		wait "${workers[@]}" 2>/dev/null
	fi
	rm_cgroups "${cgdirs[@]}"
	# leftovers of an interrupted discovery run
	for c in "${CTRLS[@]}"; do
		for d in "$CG/$c/docker/$disco_prefix"*; do [[ -d $d ]] && rm_cgroups "$d"; done
	done
	for d in "${cgparents[@]}"; do
		rmdir "$d" 2>/dev/null # only if empty: someone else may use it by now
	done
	exec 9<&- 2>/dev/null
	rm -rf "$tmp/build" "$tmp/state"
	rm -f "$tmp"/*.log "$tmp"/*.out "$tmp"/*.err "$tmp"/*.txt "$tmp"/*.md "$tmp"/*.tsv \
		"$tmp/never" "$tmp/list" "$tmp/adaptfs.conf" "$tmp/adaptfs-dev.conf" "$tmp/lxcfs.pid"
	# never rm -r the mount dirs: a still-mounted tree must not be recursed into
	rmdir "$tmp"/mnt/* "$tmp/mnt" "$tmp" 2>/dev/null || say "left $tmp behind"
	[[ -n $URING_WAS ]] && echo "$URING_WAS" >"$URING_PARAM"
	return 0
}
trap cleanup EXIT
trap 'say "stopped by SIGINT"; exit 130' INT
trap 'say "stopped by SIGTERM"; exit 143' TERM
trap 'say "stopped by SIGHUP"; exit 129' HUP
trap 'say "failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR

mkfifo "$tmp/never"
exec 9<>"$tmp/never"
# nap SECONDS: sleep without a fork
nap() { read -r -t "$1" -u 9 _ || :; }
# now: microseconds since the epoch in NOW, without a fork
now() { local t=$EPOCHREALTIME; NOW=${t%%[^0-9]*}${t##*[^0-9]}; }

# wait_until TENTHS DESC CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local t=$1 desc=$2
	shift 2
	while ((t-- > 0)); do
		"$@" && return 0
		nap 0.1
	done
	say "timed out waiting for $desc"
	return 1
}

# --- build -------------------------------------------------------------------
make -s -C "$tmp/build" -f "$SHARED_BENCH/Makefile" VPATH="$SHARED_BENCH" hellofs_hl
HELLOFS=$tmp/build/hellofs_hl
[[ -x $HELLOFS ]] || HELLOFS=$SHARED_BENCH/hellofs_hl
for p in rawloop multireader discolat; do
	cc -O2 -g -Wall -Wextra -std=gnu11 -o "$tmp/build/$p" "$here/$p.c" -lpthread
done
# a private copy: the tree's binary may be rebuilt while this runs
cp "$ADAPTFS" "$tmp/build/adaptfs"
ADAPTFS_SUM=$(sha256sum "$ADAPTFS" | cut -c1-12)
ADAPTFS_BUILT=$(date -u -r "$ADAPTFS" +%FT%TZ)
ADAPTFS=$tmp/build/adaptfs
RAWLOOP=$tmp/build/rawloop
MULTIREADER=$tmp/build/multireader
DISCOLAT=$tmp/build/discolat
printf '[adaptfs]\nstate_dir = %s\n' "$tmp/state" >"$tmp/adaptfs.conf"
printf '[adaptfs]\nstate_dir = %s\nio_uring = no\n' "$tmp/state" >"$tmp/adaptfs-dev.conf"
# adaptfs takes requests over io_uring where the fuse module allows it (adaptfs(8))
if [[ $URING == 1 && -w $URING_PARAM ]]; then
	URING_WAS=$(cat "$URING_PARAM")
	echo Y >"$URING_PARAM"
fi
TRANSPORT=/dev/fuse
[[ -r $URING_PARAM && $(cat "$URING_PARAM") == Y ]] && TRANSPORT=io_uring

# --- FUSE daemons ----------------------------------------------------------
# start NAME HOW CMD...: run foreground daemon CMD on $tmp/mnt/NAME; sets DPID.
start() {
	local name=$1 how=$2 mp=$tmp/mnt/$1
	shift 2
	mkdir "$mp"
	"$@" "$mp" >"$tmp/$name.log" 2>&1 &
	DPID=$!
	local t=100
	daemons+=("$DPID $mp $how")
	while ((t-- > 0)); do
		mounted "$mp" && return 0
		alive "$DPID" || break
		nap 0.1
	done
	cat "$tmp/$name.log" >&2
	die "$name did not mount on $mp"
}
# stop_last: stop the most recently started daemon
stop_last() {
	local i=$((${#daemons[@]} - 1))
	stop_daemon "${daemons[i]}"
	unset "daemons[i]"
	daemons=("${daemons[@]}")
}

start hl fuse "$HELLOFS" -f
HL=$tmp/mnt/hl/metric
# The same with direct_io, as adaptfs serves live files (design.md): every
# read is a round trip, so reading to EOF costs one READ more than hl's.
start hldio fuse "$HELLOFS" -f -o direct_io
HLDIO=$tmp/mnt/hldio/metric
start lxcfs fuse lxcfs -f -p "$tmp/lxcfs.pid"
LX=$tmp/mnt/lxcfs
lxcfs_ready() { [[ -s $LX/proc/meminfo ]]; }
wait_until 100 "lxcfs proc/meminfo" lxcfs_ready || die "lxcfs is not serving proc/meminfo"

# --- workloads -----------------------------------------------------------------
for c in "${CTRLS[@]}"; do
	if [[ ! -d $CG/$c/docker ]]; then
		mkdir "$CG/$c/docker"
		cgparents+=("$CG/$c/docker")
	fi
done

# grow_to N: add workloads until there are N.
grow_to() {
	local want=$1 have=${#ids[@]} i j c id hex dirs=() busy
	local k=$((want - have))
	((k > 0)) || return 0
	hex=$(od -An -tx1 -N$((32 * k)) -v /dev/urandom | tr -d ' \n')
	for ((j = 0; j < k; j++)); do
		id=${hex:j*64:64}
		ids+=("$id")
		for c in "${CTRLS[@]}"; do
			dirs+=("$CG/$c/docker/$id")
		done
	done
	cgdirs+=("${dirs[@]}")
	printf '%s\0' "${dirs[@]}" | xargs -0 mkdir
	for ((i = have; i < want; i++)); do
		id=${ids[i]}
		busy=$((i % 10 == 0))
		(
			for c in "${CTRLS[@]}"; do echo "$BASHPID" >"$CG/$c/docker/$id/cgroup.procs"; done
			if ((busy)); then
				# ~0.3 ms of shell arithmetic every 0.5 s: real but light load
				exec bash -c 'exec 3<>"$1"; while :; do i=0; while ((i < 300)); do ((i++)); done
					read -t 0.5 -u 3 || :; done' busy "$tmp/never"
			fi
			exec sleep infinity
		) </dev/null >/dev/null 2>&1 9<&- &
		workers+=($!)
	done
	# every process in its cgroups (pids is written last)
	local t=200 p
	for ((i = have; i < want; i++)); do
		while :; do
			{ read -r p <"$CG/pids/docker/${ids[i]}/cgroup.procs"; } 2>/dev/null || p=""
			[[ -n $p ]] && break
			((t-- > 0)) || die "workload ${ids[i]:0:12} did not join its cgroups"
			nap 0.05
		done
	done
	printf '/docker/%s\n' "${ids[@]}" >"$tmp/list"
}

# --- adaptfs helpers -------------------------------------------------------------
A=$tmp/mnt/adaptfs
# count of our workloads shown (directory = first 12 hex of the id)
shown() {
	local id n=0
	for id in "${ids[@]}"; do [[ -d $A/${id:0:12} ]] && n=$((n + 1)); done
	echo "$n"
}
all_shown() { (($(shown) == ${#ids[@]})); }
mount_adaptfs() { # INTERVAL [CONFIG]
	start adaptfs term "$ADAPTFS" -f --config "${2:-$tmp/adaptfs.conf}" --interval "$1"
	APID=$DPID
	adapt_ready() { [[ -e $A/host/cores ]]; }
	wait_until 100 "adaptfs host/cores" adapt_ready || {
		cat "$tmp/adaptfs.log" >&2
		die "adaptfs mounted but $A/host/cores did not appear"
	}
	wait_until $((300 + 20 * $1)) "adaptfs to show all ${#ids[@]} workloads" all_shown || {
		tail -n 20 "$tmp/adaptfs.log" >&2
		die "adaptfs shows $(shown) of ${#ids[@]} workloads"
	}
	# the first full sweep over everything
	nap "$1"
}
# total workloads shown (ours and others' on this machine)
shown_all() {
	local e n=0
	for e in "$A"/*; do
		[[ -d $e && ${e##*/} != host ]] && n=$((n + 1))
	done
	echo "$n"
}

# proc_sample PID: whole process into PS_TK (utime+stime ticks), PS_NS (sum of
# the live threads' schedstat run time), PS_RSS (VmRSS KiB); per thread TNS[tid]
# (run time, ns) and TSW[tid] (voluntary context switches: its wake-ups).
declare -A TNS TSW
PS_TK=0 PS_NS=0 PS_RSS=0
proc_sample() {
	local pid=$1 line f t r k v u w
	read -r line <"/proc/$pid/stat"
	f=(${line##*) })
	PS_TK=$((f[11] + f[12]))
	PS_NS=0
	TNS=()
	TSW=()
	for t in /proc/"$pid"/task/*; do
		{ read -r r _ <"$t/schedstat"; } 2>/dev/null || continue
		TNS[${t##*/}]=$r
		w=0
		{
			while read -r k v; do
				[[ $k == voluntary_ctxt_switches: ]] && { w=$v; break; }
			done <"$t/status"
		} 2>/dev/null || :
		TSW[${t##*/}]=$w
		PS_NS=$((PS_NS + r))
	done
	PS_RSS=0
	while read -r k v u; do
		[[ $k == VmRSS: ]] && { PS_RSS=$v; break; }
	done <"/proc/$pid/status"
	return 0
}

# find_sampler PID INTERVAL: watch the threads for INTERVAL+1.5 s; sets STID (the
# sampler: the thread named adapt-sampler; else the one most often found waiting
# in poll(2), which is how it waits for the next sweep, x86-64 syscall 7; else
# the thread that ran most) and SPHASE (a time, µs, when it was running).
find_sampler() {
	local pid=$1 iv=$2 end t tid r sc d comm
	local -A last=() tot=() best=() at=() inpoll=()
	now
	end=$((NOW + (iv * 1000 + 1500) * 1000))
	while ((NOW < end)); do
		for t in /proc/"$pid"/task/*; do
			{ read -r r _ <"$t/schedstat" && read -r sc _ <"$t/syscall"; } 2>/dev/null || continue
			tid=${t##*/}
			[[ $sc == 7 ]] && inpoll[$tid]=$((${inpoll[$tid]:-0} + 1))
			if [[ -n ${last[$tid]:-} ]]; then
				d=$((r - last[$tid]))
				tot[$tid]=$((${tot[$tid]:-0} + d))
				if ((d > ${best[$tid]:-0})); then best[$tid]=$d; at[$tid]=$NOW; fi
			fi
			last[$tid]=$r
		done
		nap 0.01
		now
	done
	STID=""
	local m=0
	for t in /proc/"$pid"/task/*; do
		{ read -r comm <"$t/comm"; } 2>/dev/null || continue
		[[ $comm == adapt-sampler ]] && STID=${t##*/}
	done
	if [[ -z $STID ]]; then
		for tid in "${!inpoll[@]}"; do
			((inpoll[$tid] > m)) && { m=${inpoll[$tid]}; STID=$tid; }
		done
	fi
	if [[ -z $STID ]]; then
		m=-1
		for tid in "${!tot[@]}"; do
			((tot[$tid] > m)) && { m=${tot[$tid]}; STID=$tid; }
		done
	fi
	SPHASE=${at[$STID]:-$NOW}
}

# sleep_until US
sleep_until() {
	now
	local d=$(($1 - NOW))
	((d > 0)) && nap "$((d / 1000000)).$(printf '%06d' $((d % 1000000)))"
	return 0
}

# --- results -----------------------------------------------------------------------
declare -A R # "N,key" -> value
rss_series=() # "seconds rss_kib" of the long window at the largest N

# adapt_alive N PHASE: is the daemon still running? If not, note how it ended
# (once per mount) with the tail of its log, and say so.
adapt_alive() {
	local st=0
	alive "$APID" && return 0
	if [[ -z ${R[$1,crash_$IV]:-} ]]; then
		wait "$APID" 2>/dev/null || st=$?
		R[$1,crash_$IV]="adaptfs --interval $IV died during $2 (exit status $st)"
		sed "s|$tmp/mnt/|MNT/|g" "$tmp/adaptfs.log" | tail -n 15 >"$tmp/crash.$1.$IV.txt"
		say "N=$1: ${R[$1,crash_$IV]}; its last log lines:"
		cat "$tmp/crash.$1.$IV.txt" >&2
	fi
	return 1
}

# cost_window N INTERVAL SECONDS: per-sweep CPU of the mounted daemon, sampled
# once per interval half an interval away from its sweeps; the raw loop runs
# right after each sample, so it never overlaps a sweep.
cost_window() {
	local n=$1 iv=$2 w=$3 k sweeps b0 tk0 ns0 rss0 tk ns rss sn0 sn sw0 per=()
	local -A TNS0 TSW0
	find_sampler "$APID" "$iv"
	now
	b0=$((SPHASE + iv * 500000))
	while ((b0 < NOW + 100000)); do b0=$((b0 + iv * 1000000)); done
	sweeps=$((w / iv))
	: >"$tmp/raw.$n.out"
	sleep_until "$b0"
	adapt_alive "$n" "the cost window" || return 0
	proc_sample "$APID"
	tk0=$PS_TK ns0=$PS_NS rss0=$PS_RSS sn0=${TNS[$STID]:-0} sw0=${TSW[$STID]:-0}
	for k in "${!TNS[@]}"; do TNS0[$k]=${TNS[$k]}; TSW0[$k]=${TSW[$k]}; done
	local ns_prev=$ns0 sw_prev=$sw0 rss_now=() perw=()
	for ((k = 1; k <= sweeps; k++)); do
		sleep_until $((b0 + k * iv * 1000000))
		adapt_alive "$n" "the cost window" || return 0
		proc_sample "$APID"
		tk=$PS_TK ns=$PS_NS rss=$PS_RSS
		per+=($((ns - ns_prev)))
		perw+=("$((ns - ns_prev)) $((${TSW[$STID]:-0} - sw_prev))")
		ns_prev=$ns sw_prev=${TSW[$STID]:-0}
		# the raw loop between two of the daemon's sweeps: same conditions, no overlap
		"$RAWLOOP" -v -s "$RAW_SWEEPS" -i 0.1 "$tmp/list" >>"$tmp/raw.$n.out"
		if (((k * iv) % 10 == 0)); then
			rss_now+=("$((k * iv)) $rss")
		fi
	done
	sn=${TNS[$STID]:-$sn0}
	R[$n,sampler_wakeups]=$(awk -v a="$sw0" -v b="${TSW[$STID]:-$sw0}" -v s="$sweeps" 'BEGIN { printf "%.1f", (b - a) / s }')
	# the busiest other thread (the prefetch engine polls every 10 ms)
	local t best=0 bt=""
	for t in "${!TNS[@]}"; do
		[[ $t == "$STID" ]] && continue
		((TNS[$t] - ${TNS0[$t]:-0} > best)) && { best=$((TNS[$t] - ${TNS0[$t]:-0})); bt=$t; }
	done
	R[$n,other_ms]=$(awk -v t="$best" -v s="$sweeps" 'BEGIN { printf "%.3f", t / 1e6 / s }')
	R[$n,other_name]=$(cat "/proc/$APID/task/$bt/comm" 2>/dev/null || echo "tid $bt")
	R[$n,other_wakeups]=$(awk -v a="${TSW0[$bt]:-0}" -v b="${TSW[$bt]:-0}" -v w="$((sweeps * iv))" 'BEGIN { printf "%.0f", (b - a) / w }')
	local wall=$((sweeps * iv))
	R[$n,cost_ticks_ms]=$(awk -v t=$((tk - tk0)) -v h="$CLK_TCK" -v s="$sweeps" 'BEGIN { printf "%.2f", t * 1000 / h / s }')
	R[$n,cost_ns_ms]=$(awk -v t=$((ns - ns0)) -v s="$sweeps" 'BEGIN { printf "%.3f", t / 1e6 / s }')
	R[$n,cost_med_ms]=$(printf '%s\n' "${per[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] / 1e6 }')
	R[$n,cost_min_ms]=$(printf '%s\n' "${per[@]}" | sort -n | awk 'NR == 1 { printf "%.3f", $1 / 1e6 }')
	R[$n,cost_max_ms]=$(printf '%s\n' "${per[@]}" | sort -n | awk 'END { printf "%.3f", $1 / 1e6 }')
	# the quietest interval: fewest wake-ups of the sampler (at least its sweep's
	# own), then least CPU
	read -r "R[$n,quiet_ms]" "R[$n,quiet_wakeups]" < <(printf '%s\n' "${perw[@]}" | awk '$2 >= 1' |
		sort -k2,2n -k1,1n | awk 'NR == 1 { printf "%.3f %d\n", $1 / 1e6, $2 }') || :
	R[$n,sampler_ms]=$(awk -v t=$((sn - sn0)) -v s="$sweeps" 'BEGIN { printf "%.3f", t / 1e6 / s }')
	R[$n,cpu_pct_ticks]=$(awk -v t=$((tk - tk0)) -v h="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.3f", t / h / w * 100 }')
	R[$n,cpu_pct]=$(awk -v t=$((ns - ns0)) -v w="$wall" 'BEGIN { printf "%.3f", t / 1e9 / w * 100 }')
	R[$n,sweeps]=$sweeps
	R[$n,window_s]=$wall
	# per-sweep raw loop figures (ms) and the files it read per sweep
	R[$n,raw_n]=$(awk '$1 == "sweep"' "$tmp/raw.$n.out" | wc -l)
	R[$n,raw_med_ms]=$(awk '$1 == "sweep" { print $2 }' "$tmp/raw.$n.out" | sort -n |
		awk '{ a[NR] = $1 } END { printf "%.3f", NR % 2 ? a[(NR + 1) / 2] / 1000 : (a[NR / 2] + a[NR / 2 + 1]) / 2000 }')
	R[$n,raw_mean_ms]=$(awk '$1 == "sweep" { s += $2; n++ } END { printf "%.3f", s / n / 1000 }' "$tmp/raw.$n.out")
	R[$n,raw_wall_ms]=$(awk '$1 == "sweep" { print $3 }' "$tmp/raw.$n.out" | sort -n |
		awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] / 1000 }')
	read -r _ _ _ _ _ _ _ "R[$n,raw_files]" "R[$n,raw_failed]" < <(awk '$1 != "sweep"' "$tmp/raw.$n.out" | tail -n1)
	R[$n,rss_cost_kib]=$rss
	R[$n,rss_first_kib]=$rss0
	local rmin=$rss0 rmax=$rss e
	for e in "${rss_now[@]}"; do
		e=${e#* }
		((e < rmin)) && rmin=$e
		((e > rmax)) && rmax=$e
	done
	R[$n,rss_min_kib]=$rmin
	R[$n,rss_10_kib]=${rss_now[0]#* }
	R[$n,rss_max_kib]=$rmax
	if ((n == NMAX)); then rss_series=("0 $rss0" "${rss_now[@]}"); fi
}

# rounds N OUT WRAP PATH...: ROUNDS multireader runs over PATH..., interleaved (each
# reader reads every path in turn, so all are measured across the same moments), into OUT
# (each line led by its round); WRAP ("" or e.g. "setsid -w") runs the readers
rounds() {
	local n=$1 out=$2 r wrap
	read -ra wrap <<<"$3"
	shift 3
	: >"$out"
	for ((r = 1; r <= ROUNDS; r++)); do
		"${wrap[@]}" "$MULTIREADER" -i -t "$THREADS" -n "$OPS" -w 20 -D $((3 * $#)) "$@" \
			2>>"$tmp/lat.err" | sed "s/^/$r\t/" >>"$out" || R[$n,lat_errors]=1
	done
}

# lat_rounds N NAME: every file; then hellofs_hl and NAME/cpu again with the readers in a
# session of their own, as a scraper is to a daemon systemd runs: the daemons share the
# readers' session otherwise, hence their scheduler group (autogroup), where each daemon
# thread competes with each reader
lat_rounds() {
	local n=$1 name=$2
	rounds "$n" "$tmp/lat.$n.tsv" "" "$HL" "$HLDIO" "$A/$name/cpu" "$A/$name/stat" \
		"$A/metrics.prom" "$LX/proc/meminfo" "$LX/proc/loadavg" "$LX/proc/uptime"
	rounds "$n" "$tmp/latsid.$n.tsv" "setsid -w" "$HL" "$HLDIO" "$A/$name/cpu"
}

# time_runs N KEY CMD...: wall ms of CMD, median of 3, into R[N,KEY]
time_runs() {
	local n=$1 key=$2 t=() i a
	shift 2
	for i in 1 2 3; do
		now
		a=$NOW
		"$@" >/dev/null 2>>"$tmp/tree.err" || R[$n,${key}_rc]=$?
		now
		t+=($((NOW - a)))
	done
	R[$n,$key]=$(printf '%s\n' "${t[@]}" | sort -n | awk 'NR == 2 { printf "%.1f", $1 / 1000 }')
}
find_cat() { find "$A" -type f -print0 | xargs -0 cat >/dev/null; }

cost_phase() {
	local n=$1 w=$WINDOW
	((FULL == 1 && n == NMAX)) && w=$LONG
	IV=$COST_INTERVAL
	say "N=$n: adaptfs --interval $IV, CPU and RSS over ${w} s"
	mount_adaptfs "$IV"
	R[$n,shown]=$(shown_all)
	cost_window "$n" "$IV" "$w"
}

lat_phase() {
	local n=$1 name i
	IV=$LAT_INTERVAL
	say "N=$n: adaptfs --interval $IV: latency, render, tree, discovery"
	mount_adaptfs "$IV"
	R[$n,shown_lat]=$(shown_all)
	# an idle workload (every 10th is busy)
	for ((i = ${#ids[@]} - 1; i >= 0; i--)); do
		((i % 10)) && { name=${ids[i]:0:12}; break; }
	done
	R[$n,name]=$name
	R[$n,cpu_text]=$(tr '\n' ' ' <"$A/$name/cpu" || :)
	lat_rounds "$n" "$name"
	adapt_alive "$n" "the latency rounds" || return 0
	"$MULTIREADER" -F "$A/$name/stat" -n "$PROM_TRIALS" -T $((IV * 5000)) \
		"$A/metrics.prom" >"$tmp/prom.out" 2>>"$tmp/prom.err" || :
	read -r _ "R[$n,prom_trials]" "R[$n,prom_first_us]" "R[$n,prom_first_max_us]" \
		"R[$n,prom_second_us]" "R[$n,prom_bytes]" <"$tmp/prom.out" || :
	adapt_alive "$n" "the metrics.prom render reads" || return 0
	time_runs "$n" ls_ms ls "$A"
	time_runs "$n" find_ms find_cat
	R[$n,files]=$(find "$A" -type f 2>/dev/null | wc -l || :)
	adapt_alive "$n" "ls and find | xargs cat" || return 0

	say "N=$n: discovery latency, $DISCO trials"
	"$DISCOLAT" -m "$A" -x "$disco_prefix" -n "$DISCO" -T 5000 "${CTRLS[@]}" \
		>"$tmp/disco.$n.out" 2>>"$tmp/disco.err" &
	helper=$!
	wait "$helper" || R[$n,disco_rc]=$?
	helper=""
	adapt_alive "$n" "the discovery trials" || return 0
	R[$n,rss_lat_kib]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$APID/status")
	[[ $TRANSPORT == io_uring ]] || return 0
	say "N=$n: NAME/cpu with adaptfs on /dev/fuse (io_uring = no)"
	stop_last
	mount_adaptfs "$IV" "$tmp/adaptfs-dev.conf"
	rounds "$n" "$tmp/latdev.$n.tsv" "" "$HL" "$HLDIO" "$A/$name/cpu"
}

run_n() {
	local n=$1
	say "N=$n: creating workloads"
	grow_to "$n"
	cost_phase "$n"
	stop_last
	lat_phase "$n"
	stop_last
}
crashes=()

load0=$(cut -d' ' -f1-3 /proc/loadavg)
ours=" $$ $(for d in "${daemons[@]}"; do echo "${d%% *}"; done | tr '\n' ' ') "
others=$(ps -eo pid=,pcpu=,etime=,comm= | awk -v ours="$ours" '$2 > 20 && index(ours, " " $1 " ") == 0 {
	printf "%spid %s %s (%s%% CPU over %s)", sep, $1, $4, $2, $3; sep = ", " }')
now
t_start=$NOW
for n in $NS; do run_n "$n"; done
now
t_total=$(((NOW - t_start) / 1000000))
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ----------------------------------------------------------------------
mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f", k / 1024 }'; }
ms() { awk -v v="${1:--1}" 'BEGIN { printf "%.2f", v / 1000 }'; }
verdict() { if awk "BEGIN { exit !($1) }" 2>/dev/null; then echo "**met**"; else echo "**missed**"; fi; }

# lat_agg FILE: "label path bytes med p99 lo hi rounds_csv errors" per file of FILE's rounds
lat_agg() {
	awk -F'\t' -v R="$ROUNDS" -v hl="$HL" -v hldio="$HLDIO" -v A="$A/" -v lx="$LX/" '
		function label(p,    q) {
			if (p == hl) return "hellofs_hl:/metric"
			if (p == hldio) return "hellofs_hl(direct_io):/metric"
			if (index(p, A) == 1) { q = substr(p, length(A) + 1); sub(/^[0-9a-f]+\//, "NAME/", q); return "adaptfs:/" q }
			if (index(p, lx) == 1) return "lxcfs:/" substr(p, length(lx) + 1)
			return p
		}
		function sortnum(s, a,    n, i, j, t) {
			n = split(s, a, " ")
			for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
			return n
		}
		function med(s,    a, n) { n = sortnum(s, a); if (!n) return "-"; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		function lo(s,    a) { return sortnum(s, a) ? a[1] : "-" }
		function hi(s,    a, n) { n = sortnum(s, a); return n ? a[n] : "-" }
		{
			r = $1; p = $2
			if (!(p in seen)) { seen[p] = 1; order[++np] = p }
			m[p] = m[p] " " $4; p99[p] = p99[p] " " $6; by[p] = $8; err[p] += $9; rm[p, r] = $4
		}
		END {
			for (i = 1; i <= np; i++) {
				p = order[i]; rs = ""
				for (r = 1; r <= R; r++) rs = rs (r > 1 ? "," : "") (((p, r) in rm) ? rm[p, r] : "-")
				printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", label(p), p, by[p], med(m[p]), med(p99[p]), lo(m[p]), hi(m[p]), rs, err[p]
			}
		}' "$1"
}

# pct FILE COLUMN P: nearest-rank percentile of the values >= 0
pct() {
	awk -v c="$2" '$c >= 0 { print $c }' "$1" 2>/dev/null | sort -n |
		awk -v p="$3" '{ a[NR] = $1 } END { if (!NR) { print "-1"; exit } k = int(p / 100 * NR + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR; print a[k] }'
}

# agg_med AGG LABEL: the median of LABEL's row in an lat_agg file
agg_med() { awk -F'\t' -v l="$2" '$1 == l { print $4 }' "$1"; }
# quot A B: A / B, two decimals
quot() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# lat_table AGG BASE: the rows of an lat_agg file as a table, x = median / BASE
lat_table() {
	echo "| file | bytes | median | p99 | x | round medians | errors |"
	echo "|------|------:|-------:|----:|--:|---------------|-------:|"
	awk -F'\t' -v base="${2:-0}" '{
		x = (base > 0 && $4 != "-") ? sprintf("%.2f", $4 / base) : "-"
		printf "| %s | %s | %.1f | %.1f | %s | %s | %s |\n", $1, $3, $4, $5, x, $8, $9 }' "$1"
	echo
}

targets=() # "target|N|measured|verdict"
# side_table N AGG TARGET TEXT...: TEXT, then the rounds of $tmp/AGG.N.tsv as a table, and
# NAME/cpu against hellofs_hl of those rounds as a reported row TARGET
side_table() {
	local n=$1 f=$tmp/$2.$1.tsv target=$3 hl cpu
	shift 3
	[[ -s $f ]] || return 0
	hl=$(agg_med "$f" hellofs_hl:/metric)
	cpu=$(agg_med "$f" adaptfs:/NAME/cpu)
	echo "$@"
	echo
	lat_table "$f" "$hl"
	[[ -n $hl && -n $cpu ]] && targets+=("$target|$n|$cpu / $hl µs = $(quot "$cpu" "$hl")× hellofs_hl|—")
	return 0
}
report_n() {
	local n=$1 hlmed cpumed ratio rawscaled iv c dio
	: >>"$tmp/lat.$n.tsv"
	: >>"$tmp/latsid.$n.tsv"
	: >>"$tmp/latdev.$n.tsv"
	: >>"$tmp/disco.$n.out"
	lat_agg "$tmp/lat.$n.tsv" >"$tmp/agg.$n.tsv"
	lat_agg "$tmp/latsid.$n.tsv" >"$tmp/aggsid.$n.tsv"
	lat_agg "$tmp/latdev.$n.tsv" >"$tmp/aggdev.$n.tsv"
	hlmed=$(agg_med "$tmp/agg.$n.tsv" hellofs_hl:/metric)
	cpumed=$(agg_med "$tmp/agg.$n.tsv" adaptfs:/NAME/cpu)
	echo "## N = $n"
	echo
	echo "$n docker-layout workloads of this run ($(((n + 9) / 10)) busy); adaptfs showed" \
		"${R[$n,shown]:-?} workloads (the rest belong to other users of this machine)." \
		"NAME = \`${R[$n,name]:-}\` (idle); its \`cpu\`: \`${R[$n,cpu_text]:-}\`"
	echo
	for iv in "$COST_INTERVAL" "$LAT_INTERVAL"; do
		c=${R[$n,crash_$iv]:-}
		[[ -n $c ]] || continue
		echo "**$c**; the last lines of its log:"
		echo
		echo '```'
		cat "$tmp/crash.$n.$iv.txt"
		echo '```'
		echo
		targets+=("adaptfs keeps running (--interval $iv)|$n|${c#adaptfs --interval $iv }|**missed**")
	done
	echo "### Sampler cost (adaptfs --interval $COST_INTERVAL, ${R[$n,window_s]:-?} s, ${R[$n,sweeps]:-?} sweeps, no readers)"
	echo
	rawscaled=$(awk -v r="${R[$n,raw_mean_ms]:-0}" -v s="${R[$n,shown]:-0}" -v n="$n" 'BEGIN { printf "%.3f", r * s / n }')
	ratio=$(awk -v d="${R[$n,cost_ns_ms]:-0}" -v r="$rawscaled" 'BEGIN { printf "%.2f", (r > 0 ? d / r : 0) }')
	echo "| figure | value |"
	echo "|--------|------:|"
	echo "| daemon CPU per sweep, utime+stime ticks / sweeps (1 tick = $((1000 / CLK_TCK)) ms) | ${R[$n,cost_ticks_ms]:-} ms |"
	echo "| daemon CPU per sweep, schedstat run time / sweeps | ${R[$n,cost_ns_ms]:-} ms |"
	echo "| per-sweep spread (schedstat, one sample per interval): median / min / max | ${R[$n,cost_med_ms]:-} / ${R[$n,cost_min_ms]:-} / ${R[$n,cost_max_ms]:-} ms |"
	echo "| of which the sampler thread · its wake-ups per sweep (1 = no discovery wake-ups) | ${R[$n,sampler_ms]:-} ms · ${R[$n,sampler_wakeups]:-} |"
	echo "| the busiest other thread (${R[$n,other_name]:-}) per sweep · its wake-ups per second | ${R[$n,other_ms]:-} ms · ${R[$n,other_wakeups]:-} |"
	echo "| rawloop per sweep ($n workloads; ${R[$n,raw_n]:-0} sweeps, $RAW_SWEEPS in the middle of each interval of the window): median / mean | ${R[$n,raw_med_ms]:-} / ${R[$n,raw_mean_ms]:-} ms |"
	echo "| rawloop files per sweep (failed) · wall per sweep | ${R[$n,raw_files]:-} (${R[$n,raw_failed]:-}) · ${R[$n,raw_wall_ms]:-} ms |"
	echo "| rawloop mean scaled to the ${R[$n,shown]:-?} workloads adaptfs sampled | $rawscaled ms |"
	echo "| **daemon / rawloop** (schedstat mean / scaled rawloop mean) | **${ratio}×** |"
	echo "| the quietest interval (fewest sampler wake-ups: ${R[$n,quiet_wakeups]:-}): daemon CPU · / scaled rawloop mean | ${R[$n,quiet_ms]:-} ms · $(awk -v d="${R[$n,quiet_ms]:-0}" -v r="$rawscaled" 'BEGIN { printf "%.2f", (r > 0 ? d / r : 0) }')× |"
	echo "| daemon CPU, % of one core (ticks · schedstat) | ${R[$n,cpu_pct_ticks]:-} % · ${R[$n,cpu_pct]:-} % |"
	echo "| VmRSS at the start / end of the window (min–max) | $(mib "${R[$n,rss_first_kib]:-}") / $(mib "${R[$n,rss_cost_kib]:-}") MiB ($(mib "${R[$n,rss_min_kib]:-}")–$(mib "${R[$n,rss_max_kib]:-}")) |"
	echo "| VmRSS after the latency phase (--interval $LAT_INTERVAL) | $(mib "${R[$n,rss_lat_kib]:-}") MiB |"
	echo
	targets+=("sampler cost ≤ 1.5 × raw loop|$n|${ratio}× (quietest interval $(awk -v d="${R[$n,quiet_ms]:-0}" -v r="$rawscaled" 'BEGIN { printf "%.2f", (r > 0 ? d / r : 0) }')×)|$(verdict "$ratio > 0 && $ratio <= 1.5")")
	if ((n == 1000 || n == NMAX)); then
		targets+=("daemon CPU ≤ 2 % of one core, --interval $COST_INTERVAL|$n|${R[$n,cpu_pct]:-} %|$(verdict "${R[$n,cpu_pct]:-100} <= 2")")
		targets+=("VmRSS ≤ 64 MiB|$n|$(mib "${R[$n,rss_max_kib]:-}") MiB (max over the window), $(mib "${R[$n,rss_lat_kib]:-}") MiB after the reads|$(verdict "${R[$n,rss_max_kib]:-999999} <= 65536 && ${R[$n,rss_lat_kib]:-999999} <= 65536")")
		local g=$((${R[$n,rss_cost_kib]:-0} - ${R[$n,rss_10_kib]:-0}))
		targets+=("VmRSS flat: growth from 10 s to the end of the ${R[$n,window_s]:-?} s window ≤ 1 MiB|$n|$(mib "${R[$n,rss_10_kib]:-}") → $(mib "${R[$n,rss_cost_kib]:-}") MiB ($(mib "$g") MiB)|$(verdict "${R[$n,rss_10_kib]:-0} > 0 && $g <= 1024")")
	fi

	echo "### Read latency, $THREADS concurrent readers (adaptfs --interval $LAT_INTERVAL, requests over $TRANSPORT)"
	echo
	echo "open + read to EOF + close, µs; median = median of $ROUNDS round medians," \
		"p99 = median of the round p99s (all threads' reads pooled per round);" \
		"x = median / hellofs_hl:/metric median."
	echo
	lat_table "$tmp/agg.$n.tsv" "$hlmed"
	if [[ -n $cpumed && -n $hlmed ]]; then
		local per
		per=$(awk -F'\t' '$1 == "hellofs_hl:/metric" { split($8, h, ",") } $1 == "adaptfs:/NAME/cpu" { split($8, a, ",") }
			END { for (i = 1; i in a; i++) printf "%s%.2f", (i > 1 ? " " : ""), (h[i] > 0 ? a[i] / h[i] : 0) }' "$tmp/agg.$n.tsv")
		ratio=$(quot "$cpumed" "$hlmed")
		targets+=("NAME/cpu ≤ 1.2 × hellofs_hl (8 readers)|$n|$cpumed / $hlmed µs = ${ratio}× (per round: $per)|$(verdict "$ratio <= 1.2")")
		dio=$(agg_med "$tmp/agg.$n.tsv" "hellofs_hl(direct_io):/metric")
		[[ -n $dio ]] && targets+=("NAME/cpu against hellofs_hl -o direct_io, the floor of a live file (reported, no target)|$n|$cpumed / $dio µs = $(quot "$cpumed" "$dio")×|—")
	fi
	side_table "$n" aggsid "NAME/cpu, readers in a session of their own (reported, no target)" \
		"The same readers in a session of their own (\`setsid\`), as a scraper is to a daemon" \
		"systemd runs (the daemons above share the readers' session and scheduler group):"
	side_table "$n" aggdev "NAME/cpu with adaptfs on /dev/fuse (io_uring = no; reported, no target)" \
		"adaptfs restarted with \`io_uring = no\` (requests over /dev/fuse), $ROUNDS more rounds" \
		"beside hellofs_hl:"
	echo "### metrics.prom, the whole tree, discovery"
	echo
	local d50 d99 g50 g99 dn
	dn=$(awk '$1 >= 0' "$tmp/disco.$n.out" | wc -l)
	d50=$(pct "$tmp/disco.$n.out" 1 50)
	d99=$(pct "$tmp/disco.$n.out" 1 99)
	g50=$(pct "$tmp/disco.$n.out" 2 50)
	g99=$(pct "$tmp/disco.$n.out" 2 99)
	echo "| figure | value |"
	echo "|--------|------:|"
	echo "| metrics.prom size | ${R[$n,prom_bytes]:--} bytes |"
	echo "| metrics.prom first read after a new snapshot (render + copy), median / max of ${R[$n,prom_trials]:-0} | $(ms "${R[$n,prom_first_us]:-}") / $(ms "${R[$n,prom_first_max_us]:-}") ms |"
	echo "| metrics.prom second read (rendered text reused), median | $(ms "${R[$n,prom_second_us]:-}") ms |"
	echo "| \`ls MNT\` (fork+exec included), median of 3 | ${R[$n,ls_ms]:-} ms |"
	echo "| \`find MNT -type f -print0 \| xargs -0 cat\` (${R[$n,files]:-} files), median of 3 | ${R[$n,find_ms]:-} ms$([[ -n ${R[$n,find_ms_rc]:-} ]] && echo " (some reads failed)") |"
	echo "| discovery: mkdir + process → MNT/NAME stat()s, median / p99 of $dn | $(ms "$d50") / $(ms "$d99") ms |"
	echo "| removal: kill + rmdir → MNT/NAME gone, median / p99 | $(ms "$g50") / $(ms "$g99") ms |"
	echo
	if ((n == 1000 || n == NMAX)); then
		local pm
		pm=$(ms "${R[$n,prom_first_us]:-}")
		targets+=("metrics.prom first read after a snapshot ≤ 20 ms|$n|$pm ms median, $(ms "${R[$n,prom_first_max_us]:-}") ms max|$(verdict "$pm >= 0 && $pm <= 20")")
		targets+=("\`ls\` and \`find -type f … xargs cat\` (reported, no target)|$n|${R[$n,ls_ms]:-} ms and ${R[$n,find_ms]:-} ms|—")
	fi
	targets+=("discovery ≤ 100 ms (median / p99)|$n|$(ms "$d50") / $(ms "$d99") ms ($dn of $DISCO)|$(verdict "$d99 >= 0 && $d99 <= 100000 && $dn == $DISCO")")
}

# summary: what the numbers at the largest N show, in one paragraph
summary() {
	local n=$NMAX f cpux lxr raw_pct
	f=$tmp/agg.$n.tsv
	cpux=$(awk -F'\t' '$1 == "hellofs_hl:/metric" { h = $4 } $1 == "adaptfs:/NAME/cpu" { a = $4 }
		END { printf "%.2f", (h > 0 ? a / h : 0) }' "$f")
	lxr=$(awk -F'\t' '$1 == "lxcfs:/proc/meminfo" { l = $4 } $1 == "adaptfs:/NAME/cpu" { a = $4 }
		END { printf "%.1f", (a > 0 ? l / a : 0) }' "$f")
	raw_pct=$(awk -v r="${R[$n,raw_mean_ms]:-0}" -v s="${R[$n,shown]:-0}" -v n="$n" -v iv="$COST_INTERVAL" \
		'BEGIN { printf "%.2f", r * s / n / (iv * 1000) * 100 }')
	echo "## What the numbers show"
	echo
	echo "At N = $n adaptfs spent ${R[$n,cost_ns_ms]:-?} ms of CPU per sweep" \
		"(${R[$n,cpu_pct]:-?} % of one core at --interval $COST_INTERVAL), where the raw loop needs" \
		"$(awk -v r="${R[$n,raw_mean_ms]:-0}" -v s="${R[$n,shown]:-0}" -v n="$n" 'BEGIN { printf "%.1f", r * s / n }') ms" \
		"for the same files of the ${R[$n,shown]:-?} workloads it sampled ($raw_pct % of a core by itself)." \
		"In its quietest interval (${R[$n,quiet_wakeups]:-?} sampler wake-up(s)) a sweep cost" \
		"${R[$n,quiet_ms]:-?} ms. The sampler woke ${R[$n,sampler_wakeups]:-?} times per sweep on average" \
		"(1 = only for the sweep; each further wake-up is a rediscovery after a cgroup changed" \
		"anywhere on the host), and the ${R[$n,other_name]:-?} thread used ${R[$n,other_ms]:-?} ms" \
		"per sweep (${R[$n,other_wakeups]:-?} wake-ups a second). Under $THREADS readers NAME/cpu took ${cpux}× hellofs_hl's time and was" \
		"${lxr}× faster than LXCFS proc/meminfo; metrics.prom (${R[$n,prom_bytes]:-?} bytes) was" \
		"first read $(ms "${R[$n,prom_first_us]:-}") ms (median) after a new snapshot. A new cgroup" \
		"appeared in $(ms "$(pct "$tmp/disco.$n.out" 1 50)") ms (median), $(ms "$(pct "$tmp/disco.$n.out" 1 99)") ms p99." \
		"VmRSS went from $(mib "${R[$n,rss_10_kib]:-}") to $(mib "${R[$n,rss_cost_kib]:-}") MiB" \
		"over the ${R[$n,window_s]:-?} s window without readers, and was $(mib "${R[$n,rss_lat_kib]:-}") MiB" \
		"after the read phase."
	echo
}

report() {
	local mem cpu commit n e a b c d t msgs
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo "no commit")
	echo "# Scale: adaptfs at N = ${NS// /, } workloads vs a raw loop, hellofs_hl and LXCFS"
	echo
	echo "Produced by \`bench/scale/run.sh\`$([[ $QUICK == 1 ]] && echo " (QUICK=1)")$([[ $FULL == 1 ]] && echo " (FULL=1)");" \
		"see bench/README.md, section scale."
	echo
	echo "- date: $(date -u +%FT%TZ); whole run ${t_total} s"
	echo "- machine: nproc=$(nproc), $cpu, $mem, kernel $(uname -r)"
	echo "- adaptfs at repo $commit (binary sha256 $ADAPTFS_SUM…, built $ADAPTFS_BUILT);" \
		"libfuse $(pkg-config --modversion fuse3); lxcfs $(lxcfs --version 2>&1 | tail -n1)"
	echo "- adaptfs requests over $TRANSPORT$([[ -n $URING_WAS ]] && echo " (fuse.enable_uring was $URING_WAS; this run set it to Y)")"
	echo "- load average before / after: $load0 / $load1"
	echo "- other CPU-busy processes at the start: ${others:-none}"
	echo
	for n in $NS; do report_n "$n" >"$tmp/n.$n.md"; done
	echo "## Targets"
	echo
	echo "| target | N | measured | result |"
	echo "|--------|--:|----------|--------|"
	for t in "${targets[@]}"; do
		IFS='|' read -r a b c d <<<"$t"
		echo "| $a | $b | $c | $d |"
	done
	echo
	summary
	for n in $NS; do cat "$tmp/n.$n.md"; done
	echo "## VmRSS over time at N = $NMAX (--interval $COST_INTERVAL, no readers)"
	echo
	echo "| seconds into the window | VmRSS MiB |"
	echo "|--:|--:|"
	for e in "${rss_series[@]}"; do echo "| ${e% *} | $(mib "${e#* }") |"; done
	echo
	msgs=$(cat "$tmp"/lat.err "$tmp"/prom.err "$tmp"/disco.err "$tmp"/tree.err 2>/dev/null | sort | uniq -c | head -20)
	if [[ -n $msgs ]]; then
		echo "## Tool messages"
		echo
		echo '```'
		echo "$msgs"
		echo '```'
		echo
	fi
}
report | sed "s|$tmp/mnt/|MNT/|g" >"$tmp/report.md"
cat "$tmp/report.md"
if [[ $OUT != - ]]; then
	cp "$tmp/report.md" "$OUT"
	say "wrote $OUT"
	# CPU per sweep, read latency and discovery against N, beside the table (gnuplot-nox)
	if command -v gnuplot >/dev/null; then
		if "$here/plot.sh" "$OUT" "${OUT%.md}.png" >/dev/null; then
			say "wrote ${OUT%.md}.png"
		else
			say "plot.sh failed: no ${OUT%.md}.png"
		fi
	else
		say "gnuplot not installed (apt-get install gnuplot-nox): no ${OUT%.md}.png"
	fi
fi
