#!/bin/bash
# bench/scale/threads.sh - adaptfs with thread-heavy workloads (issue 17, item 11):
# per row, W workloads of T real threads each (tests/bats/helpers/threads.c:
# threads sleeping in pause(), SPIN of each workload's spinning), adaptfs
# --interval 1 scoped to this run's cgroup subtree. Measured from adaptfs's own
# metrics: adapt_sample_duration_seconds of every round, the interval's real
# length (adapt_last_sample_timestamp_seconds of one round to the next), the
# sampler thread's CPU per round (its schedstat), threads sampled per round,
# whether threads total was exact in every snapshot; then discovery latency of
# a new cgroup beside them (discolat).
#
#   sudo bench/scale/threads.sh          # writes bench/scale/threads.md
#   sudo OUT=- bench/scale/threads.sh    # prints only
#
# Environment (defaults in brackets):
#   ROWS ["1x10 1x4000 3x4000"]   WORKLOADSxTHREADS per row
#   SPIN [0]                       spinning threads per workload
#   WINDOW [30]                    seconds of rounds per row
#   DISCO [30]                     discovery trials per row
#   BEFORE []                      another adaptfs binary (say the build before the fix):
#                                  its rows are measured too, with BEFORE_WINDOW [20] s
#                                  and BEFORE_DISCO [5] discovery trials
#   ADAPTFS [REPO/adaptfs]  OUT [bench/scale/threads.md, "-" for stdout only]
#
# Everything lives under the cgroup /adapt-bench-threads-PID (v1 cpuacct, cpu, memory,
# blkio, pids) and a temp dir. The thread-heavy workloads are its cgroups w<N>, found
# by a pattern of adaptfs's config: other adaptfs instances on the machine do not take
# them for containers (and do not load the machine sampling them); discolat's cgroups
# are docker-layout ones under SCOPE/docker. on exit (also on failure or ^C) the script unmounts,
# stops what it started (by pid) and removes its cgroups. Installs nothing.
set -eEuo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ADAPTFS=${ADAPTFS:-$repo/adaptfs}
ROWS=${ROWS:-1x10 1x4000 3x4000}
SPIN=${SPIN:-0}
WINDOW=${WINDOW:-30}
DISCO=${DISCO:-30}
BEFORE=${BEFORE:-}
BEFORE_WINDOW=${BEFORE_WINDOW:-20}
BEFORE_DISCO=${BEFORE_DISCO:-5}
OUT=${OUT:-$here/threads.md}
CG=/sys/fs/cgroup
CTRLS=(cpuacct cpu memory blkio pids)
SCOPE=/adapt-bench-threads-$$

say() { echo "threads: $*" >&2; }
die() { say "$*"; exit 1; }

((EUID == 0)) || die "run as root (cgroups)"
command -v cc >/dev/null || die "no cc (apt-get install build-essential)"
command -v fusermount3 >/dev/null || die "no fusermount3 (apt-get install fuse3)"
[[ -x $ADAPTFS ]] || die "no executable $ADAPTFS (run make in $repo first)"
[[ -z $BEFORE || -x $BEFORE ]] || die "BEFORE=$BEFORE is not an executable"
for c in "${CTRLS[@]}"; do
	[[ -f $CG/$c/cgroup.procs ]] || die "cgroup v1 controller $c not mounted at $CG/$c"
done
for r in $ROWS; do [[ $r =~ ^[1-9][0-9]*x[1-9][0-9]*$ ]] || die "ROWS: '$r' is not WxT"; done
for v in WINDOW DISCO BEFORE_WINDOW BEFORE_DISCO; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a whole number > 0"
done
[[ $SPIN =~ ^[0-9]+$ ]] || die "SPIN must be a whole number"

tmp=$(mktemp -d /tmp/adaptfs-threads.XXXXXX)
mkdir "$tmp/mnt" "$tmp/state"
apid="" workers=() disco_prefix=7e5d$(od -An -tx1 -N2 /dev/urandom | tr -d ' \n')

mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { local s; { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1; s=${s##*) }; [[ ${s:0:1} != Z ]]; }

stop_adaptfs() {
	[[ -n $apid ]] || return 0
	alive "$apid" && kill "$apid" 2>/dev/null
	local t=100
	while ((t-- > 0)) && alive "$apid"; do sleep 0.1; done
	alive "$apid" && { say "adaptfs $apid ignored SIGTERM, killing"; kill -9 "$apid" 2>/dev/null; }
	wait "$apid" 2>/dev/null || :
	mounted "$tmp/mnt" && fusermount3 -u -z "$tmp/mnt"
	apid=""
}

stop_workers() {
	local d c t
	((${#workers[@]})) && { kill -9 "${workers[@]}" 2>/dev/null || :; wait "${workers[@]}" 2>/dev/null || :; }
	workers=()
	for c in "${CTRLS[@]}"; do
		for ((t = 0; t < 50; t++)); do
			for d in "$CG/$c$SCOPE"/docker/*/ "$CG/$c$SCOPE"/w*/; do [[ -d $d ]] && rmdir "$d" 2>/dev/null; done
			compgen -G "$CG/$c$SCOPE/docker/*/" >/dev/null || compgen -G "$CG/$c$SCOPE/w*/" >/dev/null || break
			sleep 0.1
		done
	done
}

cleanup() {
	local c
	set +e
	trap - INT TERM HUP ERR
	stop_adaptfs
	stop_workers
	for c in "${CTRLS[@]}"; do rmdir "$CG/$c$SCOPE/docker" "$CG/$c$SCOPE" 2>/dev/null; done
	# another adaptfs's placement policy may have pinned a workload of ours meanwhile
	[[ -d $CG/cpuset$SCOPE ]] && find "$CG/cpuset$SCOPE" -depth -type d -exec rmdir {} + 2>/dev/null
	rm -rf "$tmp/state" "$tmp/build"
	rm -f "$tmp"/*.log "$tmp"/*.tsv "$tmp"/*.out "$tmp"/*.err "$tmp"/*.md "$tmp/adaptfs.conf"
	rmdir "$tmp/mnt" "$tmp" 2>/dev/null || say "left $tmp behind"
	return 0
}
trap cleanup EXIT
trap 'say "stopped by SIGINT"; exit 130' INT
trap 'say "stopped by SIGTERM"; exit 143' TERM
trap 'say "failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR

mkdir "$tmp/build"
cc -O2 -Wall -pthread -o "$tmp/build/threads" "$repo/tests/bats/helpers/threads.c"
cc -O2 -Wall -Wextra -std=gnu11 -o "$tmp/build/discolat" "$here/discolat.c"
cp "$ADAPTFS" "$tmp/build/adaptfs"
[[ -z $BEFORE ]] || cp "$BEFORE" "$tmp/build/adaptfs-before"
for c in "${CTRLS[@]}"; do mkdir -p "$CG/$c$SCOPE/docker"; done
printf '[adaptfs]\nstate_dir = %s\n[discovery]\nscope = %s\npattern = %s/w*\n' "$tmp/state" "$SCOPE" "$SCOPE" \
	>"$tmp/adaptfs.conf"

prom() { awk -v k="$1" '$1 == k { print $2; ok = 1 } END { exit !ok }' "$tmp/mnt/metrics.prom"; }

# spawn W T: W workloads of T threads each (cgroups SCOPE/w0...); waits until every thread exists
names=()
spawn() {
	local w=$1 t=$2 i c
	names=()
	for ((i = 0; i < w; i++)); do
		names+=("w$i")
		for c in "${CTRLS[@]}"; do mkdir "$CG/$c$SCOPE/w$i"; done
		(
			for c in "${CTRLS[@]}"; do echo "$BASHPID" >"$CG/$c$SCOPE/w$i/cgroup.procs"; done
			exec "$tmp/build/threads" "$t" "$SPIN"
		) >"$tmp/w$i.out" 2>&1 </dev/null &
		workers+=($!)
	done
	for ((i = 0; i < w; i++)); do
		for ((c = 0; c < 300; c++)); do grep -qx ready "$tmp/w$i.out" && break; sleep 0.1; done
		grep -qx ready "$tmp/w$i.out" || die "workload $i did not start its $t threads"
	done
}

# exact T: every workload's threads total is T in the current snapshot
exact() {
	local n
	for n in "${names[@]}"; do
		[[ $(awk '$1 == "total" { print $2 }' "$tmp/mnt/$n/threads" 2>/dev/null) == "$1" ]] || return 1
	done
}

sampler_ns() { # the adapt-sampler thread's CPU time so far, ns
	local t
	for t in /proc/"$apid"/task/*; do
		[[ $(cat "$t/comm" 2>/dev/null) == adapt-sampler ]] && { read -r ns _ <"$t/schedstat"; echo "$ns"; return; }
	done
	echo 0
}

# pct P [DIGITS]: the P-th percentile (nearest rank) of the numbers on stdin, "-" if none
pct() {
	sort -g | awk -v p="$1" -v d="${2:-1}" '{ v[NR] = $1 } END {
		if (!NR) { print "-"; exit }
		i = int((NR - 1) * p / 100 + 0.5) + 1; printf "%.*f\n", d, v[i] }'
}

# row BIN LABEL W T SECS TRIALS: one measured row, a line of the table into $tmp/rows.md
row() {
	local bin=$1 label=$2 w=$3 t=$4 secs=$5 trials=$6 c ts last="" end ns0 ns1 rounds=0 misses=0 sampled
	say "$label: $w workload(s) x $t threads"
	spawn "$w" "$t"
	"$bin" -f --config "$tmp/adaptfs.conf" --interval 1 "$tmp/mnt" >"$tmp/adaptfs.log" 2>&1 &
	apid=$!
	for ((c = 0; c < 300; c++)); do [[ -e $tmp/mnt/metrics.prom ]] && exact "$t" && break; sleep 0.1; done
	exact "$t" || { tail "$tmp/adaptfs.log" >&2; die "$label: adaptfs does not show ${w} x $t threads"; }
	: >"$tmp/rounds.tsv"
	ns0=$(sampler_ns)
	end=$((SECONDS + secs))
	while ((SECONDS < end)); do
		ts=$(prom adapt_last_sample_timestamp_seconds) || ts=""
		if [[ -n $ts && $ts != "$last" ]]; then
			sampled=$(awk '$1 == "sampled" { print $2 }' "$tmp/mnt/${names[0]}/threads")
			echo "$ts $(prom adapt_sample_duration_seconds) ${sampled:-0}" >>"$tmp/rounds.tsv"
			exact "$t" || misses=$((misses + 1))
			last=$ts
		fi
		sleep 0.05
	done
	ns1=$(sampler_ns)
	# full rounds only: a discovery publish repeats the last round's duration
	awk '{ if (NR > 1 && $1 - p > 0.5) print $1 - p; p = $1 }' "$tmp/rounds.tsv" >"$tmp/iv.tsv"
	rounds=$(wc -l <"$tmp/iv.tsv")
	"$tmp/build/discolat" -m "$tmp/mnt" -x "$disco_prefix" -n "$trials" -r "$CG" -P "${SCOPE#/}/docker" \
		-T 5000 "${CTRLS[@]}" >"$tmp/disco.tsv" 2>"$tmp/disco.err" || say "$label: some discovery trials failed"
	local dur50 dur95 durmax iv50 iv95 ivmax cpu s50 d50 d99 dmax
	dur50=$(awk '{ print $2 * 1000 }' "$tmp/rounds.tsv" | pct 50)
	dur95=$(awk '{ print $2 * 1000 }' "$tmp/rounds.tsv" | pct 95)
	durmax=$(awk '{ print $2 * 1000 }' "$tmp/rounds.tsv" | pct 100)
	iv50=$(pct 50 3 <"$tmp/iv.tsv")
	iv95=$(pct 95 3 <"$tmp/iv.tsv")
	ivmax=$(pct 100 3 <"$tmp/iv.tsv")
	cpu=$(awk -v a="$ns0" -v b="$ns1" -v n="$rounds" 'BEGIN { printf "%.1f", n ? (b - a) / n / 1e6 : 0 }')
	s50=$(awk '{ print $3 }' "$tmp/rounds.tsv" | pct 50 0)
	d50=$(awk '$1 >= 0 { print $1 / 1000 }' "$tmp/disco.tsv" | pct 50)
	d99=$(awk '$1 >= 0 { print $1 / 1000 }' "$tmp/disco.tsv" | pct 99)
	dmax=$(awk '$1 >= 0 { print $1 / 1000 }' "$tmp/disco.tsv" | pct 100)
	printf '| %s | %s × %s | %s | %s / %s / %s | %s | %s / %s / %s | %s | %s | %s / %s / %s (%s of %s) |\n' \
		"$label" "$w" "$t" "$rounds" "$dur50" "$dur95" "$durmax" "$cpu" "$iv50" "$iv95" "$ivmax" "$s50" \
		"$([[ $misses == 0 ]] && echo yes || echo "no ($misses)")" "$d50" "$d99" "$dmax" \
		"$(awk '$1 >= 0' "$tmp/disco.tsv" | wc -l)" "$trials" >>"$tmp/rows.md"
	echo "$label $w $t $dur50 $iv50 $iv95 $ivmax $d50 $d99" >>"$tmp/targets.tsv"
	stop_adaptfs
	stop_workers
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
others=$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 10 { printf "%s%s (%s%%)", s, $2, $1; s = ", " }')
: >"$tmp/rows.md"
: >"$tmp/targets.tsv"
for r in $ROWS; do row "$tmp/build/adaptfs" "this build" "${r%x*}" "${r#*x}" "$WINDOW" "$DISCO"; done
if [[ -n $BEFORE ]]; then
	for r in $ROWS; do row "$tmp/build/adaptfs-before" "before" "${r%x*}" "${r#*x}" "$BEFORE_WINDOW" "$BEFORE_DISCO"; done
fi
load1=$(cut -d' ' -f1-3 /proc/loadavg)

verdict() { awk "BEGIN { exit !($1) }" && echo "**met**" || echo "**not met**"; }
report() {
	local label w t dur50 iv50 iv95 ivmax d50 d99 biv95 bivmax bd99
	echo "# Thread-heavy workloads: the sampler's round, the interval and discovery"
	echo
	echo "Produced by \`bench/scale/threads.sh\`; see bench/README.md, section scale."
	echo
	echo "- date: $(date -u +%FT%TZ); machine: nproc=$(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
	echo "- adaptfs at repo $(git -C "$repo" describe --always --dirty 2>/dev/null || echo "no commit")$([[ -n $BEFORE ]] && echo "; before = $BEFORE")"
	echo "- adaptfs --interval 1, scoped to this run's cgroups; threads sleep in pause() ($SPIN spinning per workload)"
	echo "- load average before / after: $load0 / $load1 (2 CPUs shared with other test runs: wall times include their load)"
	echo "- other processes over 10 % CPU at the start: ${others:-none}"
	echo
	echo "| adaptfs | workloads × threads | rounds | round (adapt_sample_duration_seconds) median / p95 / max, ms | sampler CPU per round, ms | interval median / p95 / max, s | threads sampled per round (first workload, median) | threads total exact in every snapshot | discovery median / p99 / max, ms |"
	echo "|---|---|--:|--:|--:|--:|--:|---|--:|"
	cat "$tmp/rows.md"
	echo
	echo "## Targets (this build)"
	echo
	echo "| target | measured | result |"
	echo "|---|---|---|"
	# the machine's own stalls: the smallest row of this build, same run
	read -r _ _ _ _ _ _ biv95 bivmax _ bd99 < <(awk '$1 == "this"' "$tmp/targets.tsv" | sort -k4,4n -k3,3n | head -1)
	while read -r label _ w t dur50 iv50 iv95 ivmax d50 d99; do
		[[ $label == this ]] || continue
		if ((w == 1 && t == 4000)); then
			echo "| a 4,000-thread workload ≤ 50 ms of sampler time per round | median round $dur50 ms | $(verdict "$dur50 <= 50") |"
		fi
		if ((w * t >= 12000)); then
			echo "| $((w * t)) threads on the host: the interval holds at 1 s (median ≤ 1.05 s, p95 ≤ 1.2 s) | median $iv50 s, p95 $iv95 s, max $ivmax s (the smallest row: p95 $biv95 s, max $bivmax s) | $(verdict "$iv50 <= 1.05 && $iv95 <= 1.2") |"
			echo "| $((w * t)) threads on the host: discovery ≤ 100 ms (p99) | median $d50 ms, p99 $d99 ms (the smallest row: p99 $bd99 ms) | $(verdict "$d99 <= 100") |"
		fi
	done <"$tmp/targets.tsv"
	echo
	echo "A round samples the host and every workload; its time is wall time on a shared"
	echo "machine. Beyond what 20 ms of reading allows, a workload's threads are read in turn"
	echo "(threads sampled < total; adaptfs(5), threads sampled)."
}
report >"$tmp/report.md"
cat "$tmp/report.md"
if [[ $OUT != - ]]; then
	cp "$tmp/report.md" "$OUT"
	say "wrote $OUT"
fi
