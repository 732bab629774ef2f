#!/bin/bash
# bench/latency/run.sh - read latency of adaptfs metric files, side by side
# with a minimal libfuse3 fs (hellofs_hl), kernel pseudo files and LXCFS.
#
#   sudo bench/latency/run.sh            # N=10000, writes bench/latency/results.md
#   sudo QUICK=1 bench/latency/run.sh    # N=1000, prints only (OUT=FILE to keep it)
#
# Environment (defaults in brackets):
#   N [10000, 1000 with QUICK=1]  timed iterations per file and mode
#   WARMUP [200]                  untimed iterations first, in every round
#   ROUNDS [10]                   readlat runs over all files, N/ROUNDS reads each
#   CONTAINERS [20] BUSY [2]      fake docker workloads, how many run a shell loop
#   INTERVAL [1]                  adaptfs --interval, seconds
#   ADAPTFS [REPO/adaptfs]        the daemon; rows are skipped if it is missing
#   SHARED_BENCH [REPO/../shared/bench]  readlat + hellofs_hl sources and Makefile
#   OUT [bench/latency/results.md, or "-" (stdout only) with QUICK=1]
#   CHECK_SECS [5] CHECK_READERS [2]  untimed check that every read is whole text
#
# Each workload is a v1 cgroup /docker/<64-hex-id> in cpu, cpuacct, memory,
# blkio and pids holding one real process.  Everything is mounted on a temp
# dir; on exit the script unmounts, stops the processes it started (by pid)
# and removes the cgroups it created.  Installs nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$repo/../shared/bench}
ADAPTFS=${ADAPTFS:-$repo/adaptfs}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	N=${N:-1000}
	OUT=${OUT:--}
else
	N=${N:-10000}
	OUT=${OUT:-$here/results.md}
fi
WARMUP=${WARMUP:-200}
ROUNDS=${ROUNDS:-10}
CONTAINERS=${CONTAINERS:-20}
BUSY=${BUSY:-2}
INTERVAL=${INTERVAL:-1}
CG=/sys/fs/cgroup
CTRLS=(cpu cpuacct memory blkio pids)

say() { echo "latency: $*" >&2; }
die() { say "$*"; exit 1; }

# --- prerequisites ---------------------------------------------------------
missing=()
command -v make >/dev/null && command -v cc >/dev/null || missing+=(build-essential)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists fuse3 2>/dev/null || missing+=(libfuse3-dev)
command -v fusermount3 >/dev/null || missing+=(fuse3)
command -v lxcfs >/dev/null || missing+=(lxcfs)
command -v perl >/dev/null || missing+=(perl)
((${#missing[@]} == 0)) || die "missing prerequisites; run: apt-get install ${missing[*]}"
((EUID == 0)) || die "run as root (cgroups, lxcfs)"
[[ -c /dev/fuse ]] || die "/dev/fuse not found (modprobe fuse?)"
[[ -f $SHARED_BENCH/Makefile && -f $SHARED_BENCH/readlat.c ]] ||
	die "SHARED_BENCH=$SHARED_BENCH does not hold readlat.c and its Makefile"
for c in "${CTRLS[@]}"; do
	[[ -f $CG/$c/cgroup.procs ]] || die "cgroup v1 controller $c not mounted at $CG/$c"
done
[[ $N =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ && $CONTAINERS =~ ^[1-9][0-9]*$ &&
	$ROUNDS =~ ^[1-9][0-9]*$ && N -ge ROUNDS &&
	$BUSY =~ ^[0-9]+$ && $INTERVAL =~ ^[1-9][0-9]*$ ]] ||
	die "N, WARMUP, CONTAINERS, BUSY, INTERVAL and ROUNDS must be whole numbers, N >= ROUNDS"
have_adaptfs=0
if [[ -x $ADAPTFS ]]; then
	have_adaptfs=1
else
	say "SKIPPING adaptfs rows: no executable $ADAPTFS (run make in $repo first)"
fi

# --- state, cleanup on any exit --------------------------------------------
tmp=$(mktemp -d /tmp/adaptfs-latency.XXXXXX)
mkdir "$tmp/mnt" "$tmp/build"
daemons=()      # "pid mountpoint how" (how: term = SIGTERM unmounts, fuse = fusermount3 -u)
workers=()      # pids of the workload processes
cgdirs=()       # cgroup dirs we created, children before parents at cleanup
cgparents=()    # /docker parents we created

# mounted DIR: listed in mountinfo (mountpoint(1) fails on a dead FUSE mount).
mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# alive PID: exists and is not a zombie.
alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ ${s:0:1} != Z ]]
}

# stop PID [TIMEOUT_TENTHS]: SIGTERM, poll, then SIGKILL; reap it.
stop() {
	local pid=$1 t=${2:-50}
	alive "$pid" && kill "$pid" 2>/dev/null
	while ((t-- > 0)) && alive "$pid"; do sleep 0.1; done
	alive "$pid" && { say "pid $pid ignored SIGTERM, killing"; kill -9 "$pid" 2>/dev/null; }
	wait "$pid" 2>/dev/null
	return 0
}

cleanup() {
	local d pid mp how p i
	set +e
	for d in "${daemons[@]}"; do
		read -r pid mp how <<<"$d"
		if [[ $how == fuse ]] && mounted "$mp"; then
			fusermount3 -u "$mp" 2>/dev/null
		fi
		stop "$pid"
		if mounted "$mp"; then
			say "$mp still mounted after its daemon stopped; lazy unmount"
			fusermount3 -u -z "$mp" || say "could not unmount $mp"
		fi
	done
	for pid in "${workers[@]}"; do
		kill "$pid" 2>/dev/null
	done
	for pid in "${workers[@]}"; do
		stop "$pid" 20
	done
	for ((i = ${#cgdirs[@]} - 1; i >= 0; i--)); do
		d=${cgdirs[i]}
		[[ -d $d ]] || continue
		# a process forked by a workload may still be there for a moment
		for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		for _ in $(seq 50); do rmdir "$d" 2>/dev/null && break; sleep 0.1; done
		[[ -d $d ]] && say "could not remove cgroup $d"
	done
	for d in "${cgparents[@]}"; do
		rmdir "$d" 2>/dev/null # only if empty: someone else may use it by now
	done
	# Never rm -r the mount dirs: a still-mounted tree must not be recursed into.
	rm -rf "$tmp/build"
	rmdir "$tmp"/mnt/* "$tmp/mnt" 2>/dev/null
	# top-level files only (logs, outputs, pid file, fifo); never into mnt/
	find "$tmp" -maxdepth 1 ! -type d -delete
	rmdir "$tmp" 2>/dev/null || say "left $tmp behind"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_until TENTHS DESC CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local t=$1 desc=$2
	shift 2
	while ((t-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	say "timed out waiting for $desc"
	return 1
}

# --- build readlat and hellofs_hl out of tree with shared/bench's Makefile --
make -s -C "$tmp/build" -f "$SHARED_BENCH/Makefile" VPATH="$SHARED_BENCH" readlat hellofs_hl
bin() { # prefer the fresh build; VPATH picks an up-to-date binary in SHARED_BENCH
	if [[ -x $tmp/build/$1 ]]; then echo "$tmp/build/$1"; else echo "$SHARED_BENCH/$1"; fi
}
READLAT=$(bin readlat)
HELLOFS=$(bin hellofs_hl)

# --- workloads: v1 cgroups /docker/<id>, one process each -------------------
mkfifo "$tmp/never" # read -t on it is a sleep without a fork
for c in "${CTRLS[@]}"; do
	if [[ ! -d $CG/$c/docker ]]; then
		mkdir "$CG/$c/docker"
		cgparents+=("$CG/$c/docker")
	fi
done
ids=()
for ((i = 0; i < CONTAINERS; i++)); do
	id=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	ids+=("$id")
	for c in "${CTRLS[@]}"; do
		mkdir "$CG/$c/docker/$id"
		cgdirs+=("$CG/$c/docker/$id")
	done
	(
		for c in "${CTRLS[@]}"; do echo "$BASHPID" >"$CG/$c/docker/$id/cgroup.procs"; done
		if ((i < BUSY)); then
			# a few ms of shell arithmetic every 50 ms: real, visible (~3-5 % of a
			# CPU), but light enough not to disturb the timings
			exec bash -c 'exec 3<>"$1"; while :; do i=0; while ((i < 4000)); do ((i++)); done
				read -t 0.05 -u 3 || :; done' busy "$tmp/never"
		fi
		exec sleep infinity
	) </dev/null >/dev/null 2>&1 &
	workers+=($!)
done
in_cgroup() { grep -q "^$2\$" "$CG/cpuacct/docker/$1/cgroup.procs"; }
for ((i = 0; i < CONTAINERS; i++)); do
	wait_until 50 "workload ${ids[i]:0:12} in its cgroup" in_cgroup "${ids[i]}" "${workers[i]}" ||
		die "workload process did not join its cgroups"
done
say "$CONTAINERS workloads running ($BUSY busy)"

# --- FUSE daemons ----------------------------------------------------------
# start NAME HOW CMD...: run foreground daemon CMD on $tmp/mnt/NAME.
start() {
	local name=$1 how=$2 mp=$tmp/mnt/$1
	shift 2
	mkdir "$mp"
	"$@" "$mp" >"$tmp/$name.log" 2>&1 &
	local pid=$! t=100
	daemons+=("$pid $mp $how")
	while ((t-- > 0)); do
		mounted "$mp" && return 0
		alive "$pid" || break
		sleep 0.1
	done
	cat "$tmp/$name.log" >&2
	die "$name did not mount on $mp"
}
start hl fuse "$HELLOFS" -f
start hl_dio fuse "$HELLOFS" -f -o direct_io
start lxcfs fuse lxcfs -f -p "$tmp/lxcfs.pid"
lxcfs_ready() { [[ -s $tmp/mnt/lxcfs/proc/meminfo ]]; }
wait_until 100 "lxcfs proc/meminfo" lxcfs_ready || die "lxcfs is not serving proc/meminfo"

A=$tmp/mnt/adaptfs
name=""
declare -A adapt_name=() # id -> directory name under the mount
if ((have_adaptfs)); then
	start adaptfs term "$ADAPTFS" -f --interval "$INTERVAL"
	adapt_ready() { [[ -e $A/host/cores ]]; }
	wait_until 100 "adaptfs host/cores" adapt_ready || {
		cat "$tmp/adaptfs.log" >&2
		die "adaptfs mounted but $A/host/cores did not appear"
	}
	# The directory carries the engine's name; with no docker engine running
	# that is the id (full or short), maybe with a .docker suffix.
	find_name() {
		local id=$1 c
		for c in "$id" "${id:0:12}" "$id.docker" "${id:0:12}.docker"; do
			[[ -d $A/$c ]] && { echo "$c"; return 0; }
		done
		for c in "$A"/*"${id:0:12}"*; do
			[[ -d $c ]] && { echo "${c##*/}"; return 0; }
		done
		return 1
	}
	all_found() {
		local id n
		for id in "${ids[@]}"; do
			[[ -n ${adapt_name[$id]:-} ]] && continue
			n=$(find_name "$id") && adapt_name[$id]=$n
		done
		((${#adapt_name[@]} == CONTAINERS))
	}
	wait_until $((100 + 50 * INTERVAL)) "adaptfs to show all $CONTAINERS workloads" all_found ||
		say "adaptfs shows ${#adapt_name[@]} of $CONTAINERS workloads"
	# measure an idle workload (the busy ones come first)
	for ((i = CONTAINERS - 1; i >= 0; i--)); do
		name=${adapt_name[${ids[i]}]:-}
		[[ -n $name ]] && break
	done
	if [[ -z $name ]]; then
		say "no workload directory found under $A:"
		ls -la "$A" >&2
		say "SKIPPING adaptfs NAME/cpu and NAME/stat rows"
	fi
fi

# --- what to measure: "label<TAB>path" --------------------------------------
ANCHOR='hellofs_hl:/metric'
{
	if ((have_adaptfs)); then
		if [[ -n $name ]]; then
			printf 'adaptfs:/NAME/cpu\t%s\n' "$A/$name/cpu"
			printf 'adaptfs:/NAME/stat\t%s\n' "$A/$name/stat"
		fi
		printf 'adaptfs:/metrics.prom\t%s\n' "$A/metrics.prom"
	fi
	printf '%s\t%s\n' "$ANCHOR" "$tmp/mnt/hl/metric"
	printf 'hellofs_hl(direct_io):/metric\t%s\n' "$tmp/mnt/hl_dio/metric"
	for f in /proc/uptime /proc/meminfo $CG/memory/memory.stat $CG/cpuacct/cpuacct.usage; do
		printf '%s\t%s\n' "$f" "$f"
	done
	for f in meminfo uptime loadavg; do
		printf 'lxcfs:/proc/%s\t%s\n' "$f" "$tmp/mnt/lxcfs/proc/$f"
	done
} >"$tmp/map"
mapfile -t paths < <(cut -f2 "$tmp/map")

# --- measure: every file in every round, both modes ------------------------
# On a 2-vCPU VM a FUSE median moves by up to 2x between blocks of a few
# thousand reads (where the scheduler puts reader and daemon threads), so the
# files are interleaved in ROUNDS rounds of N/ROUNDS reads: each round
# compares all files under the same conditions; every other round runs the
# files in reverse order, so that no file always goes first.
per=$((N / ROUNDS))
rpaths=()
for ((i = ${#paths[@]} - 1; i >= 0; i--)); do rpaths+=("${paths[i]}"); done
say "readlat: $ROUNDS rounds x $per reads (+$WARMUP warm-up) of ${#paths[@]} files," \
	"open+read+close and pread (-k)"
rc=0
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# CPU-busy processes that this script did not start skew every row: name them.
ours=" $$ ${workers[*]} $(for d in "${daemons[@]}"; do echo "${d%% *}"; done | tr '\n' ' ') "
others=$(ps -eo pid=,pcpu=,etimes=,comm= | awk -v ours="$ours" '
	$2 > 20 && $3 >= 5 && index(ours, " " $1 " ") == 0 {
		printf "%spid %s %s (%s%% CPU over %d s)", sep, $1, $4, $2, $3; sep = ", " }')
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then set -- "${paths[@]}"; else set -- "${rpaths[@]}"; fi
	"$READLAT" -n "$per" -w "$WARMUP" "$@" >"$tmp/open.$r.out" 2>>"$tmp/open.err" || rc=1
	"$READLAT" -k -n "$per" -w "$WARMUP" "$@" >"$tmp/keep.$r.out" 2>>"$tmp/keep.err" || rc=1
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)
# One line per file (TSV): label path bytes, then for open+read+close: median
# of round medians, median of round p99s, min and max round median, the round
# medians ("r1,r2,..." with - for a failed round); then the same four for -k.
awk -v mapf="$tmp/map" -v R="$ROUNDS" '
	function sortnum(s, a,    n, i, j, t) {
		n = split(s, a, " ")
		for (i = 2; i <= n; i++) {
			t = a[i] + 0
			for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]
			a[j + 1] = t
		}
		return n
	}
	function med(s,    a, n) {
		n = sortnum(s, a)
		if (n == 0) return "-"
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function lo(s,    a) { return sortnum(s, a) ? a[1] : "-" }
	function hi(s,    a, n) { n = sortnum(s, a); return n ? a[n] : "-" }
	FILENAME == mapf { split($0, f, "\t"); n++; label[n] = f[1]; path[n] = f[2]; next }
	/^#/ { next }
	{
		r = FILENAME; sub(/\.out$/, "", r); sub(/.*\./, "", r)
		if (FILENAME ~ /\/open\.[0-9]+\.out$/) {
			om[$1] = om[$1] " " $2; op[$1] = op[$1] " " $4; bytes[$1] = $5; rm[$1, r] = $2
		} else {
			km[$1] = km[$1] " " $2; kp[$1] = kp[$1] " " $4
		}
	}
	END {
		for (i = 1; i <= n; i++) {
			p = path[i]; rounds = ""
			for (r = 1; r <= R; r++)
				rounds = rounds (r > 1 ? "," : "") (((p, r) in rm) ? rm[p, r] : "-")
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", label[i], p,
			       (p in bytes) ? bytes[p] : "-", med(om[p]), med(op[p]), lo(om[p]),
			       hi(om[p]), rounds, med(km[p]), med(kp[p]), lo(km[p]), hi(km[p])
		}
	}' "$tmp/map" "$tmp"/open.*.out "$tmp"/keep.*.out >"$tmp/agg"

# --- sanity checks of adaptfs content (not timed) ---------------------------
# kv FILE KEY: value of KEY in a flat keyed file.
kv() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }
checks() {
	local busy_id busy n f k1 k2 u1 u2 kern
	echo "- workloads shown by adaptfs: ${#adapt_name[@]} of $CONTAINERS" \
		"(NAME = \`$name\` for docker id \`${ids[CONTAINERS - 1]}\`)"
	[[ -n $name ]] || return 0
	n=0
	for f in "${adapt_name[@]}"; do grep -qF "$f" "$A/metrics.prom" && n=$((n + 1)); done
	echo "- workloads named in metrics.prom: $n of ${#adapt_name[@]};" \
		"$(wc -l <"$A/metrics.prom") lines, $(wc -c <"$A/metrics.prom") bytes"
	for f in cpu stat; do
		echo "- \`NAME/$f\`: st_size $(stat -c %s "$A/$name/$f")," \
			"read $(wc -c <"$A/$name/$f") bytes"
	done
	k1=$(cat "$A/$name/stat" | awk '{ print $1 }' | tr '\n' ' ')
	k2=$(dd if="$A/$name/stat" bs=7 status=none | awk '{ print $1 }' | tr '\n' ' ')
	if [[ $k1 == "$k2" ]]; then
		echo "- reading \`NAME/stat\` 7 bytes at a time gives the same keys as one read"
	else
		echo "- **reading \`NAME/stat\` 7 bytes at a time gives different keys**:" \
			"\`$k2\` vs \`$k1\`"
	fi
	echo "- \`NAME/cpu\` (idle workload):"
	echo '```'
	cat "$A/$name/cpu"
	echo '```'
	((BUSY > 0)) || return 0
	busy_id=${ids[0]}
	busy=${adapt_name[$busy_id]:-}
	[[ -n $busy ]] || { echo "- busy workload ${busy_id:0:12} not shown by adaptfs"; return 0; }
	cat "$A/$busy/cpu" >"$tmp/busy.txt"
	kern=$(($(cat "$CG/cpuacct/docker/$busy_id/cpuacct.usage") / 1000))
	u1=$(kv "$tmp/busy.txt" usage_usec)
	if [[ $u1 =~ ^[0-9]+$ ]]; then
		echo "- busy workload \`$busy\`: adaptfs usage_percent" \
			"$(kv "$tmp/busy.txt" usage_percent), usage_usec $u1; kernel cpuacct.usage" \
			"right after: $kern usec (adaptfs behind by $((kern - u1)) usec; up to one" \
			"interval of its usage is expected)"
	else
		echo "- **busy workload \`$busy\`: no numeric usage_usec in cpu**"
	fi
	# A kept-open fd re-read at offset 0 should see a newer snapshot, as with
	# /proc and sysfs files (monitoring agents that keep files open rely on it).
	read -r u1 u2 < <(perl -e '
		open(my $f, "<", $ARGV[0]) or die "open: $!";
		sub rd { my $b = ""; sysseek($f, 0, 0); while (sysread($f, my $c, 65536)) { $b .= $c }
			 return $b =~ /^usage_usec (\d+)/m ? $1 : "none" }
		my $a = rd(); select(undef, undef, undef, 2.5 * $ARGV[1]); print $a, " ", rd(), "\n";' \
		"$A/$busy/cpu" "$INTERVAL") || true
	if [[ $u1 != "$u2" ]]; then
		echo "- kept-open fd, pread at 0 after 2.5 intervals: usage_usec $u1 → $u2 (refreshed)"
	else
		echo "- **kept-open fd, pread at 0 after 2.5 intervals: usage_usec stays $u1**" \
			"(stale: the \`-k\` rows measure a cached buffer, not a fresh snapshot)"
	fi
	well_formed "$A/$busy/cpu" "$A/$busy/stat" "$A/$name/cpu" "$A/host/stat" "$A/metrics.prom"
}

# well_formed FILE...: CHECK_READERS processes open+read+close the files for
# CHECK_SECS seconds across snapshot changes; every read must be one whole
# text: not empty, no NUL byte, no empty line, ending in a newline.
well_formed() {
	local secs=${CHECK_SECS:-5} readers=${CHECK_READERS:-2} out
	out=$(perl -e '
		my ($secs, $readers, @files) = @ARGV;
		pipe(my $r, my $w) or die;
		for my $k (1 .. $readers) {
			next if fork;
			close $r;
			my ($n, $bad, %why, $ex) = (0, 0);
			my $end = time + $secs;
			while (time < $end) {
				for my $f (@files) {
					$n++;
					open(my $h, "<", $f) or do { $why{"open: $!"}++; $bad++; next };
					my $b = ""; 1 while sysread($h, $b, 65536, length $b);
					close $h;
					my $e = $b eq "" ? "empty" : $b =~ /\0/ ? "NUL byte" :
						$b !~ /\n\z/ ? "no final newline (truncated)" :
						$b =~ /\n\n/ ? "empty line" : next;
					$bad++; $f =~ s{.*/mnt/adaptfs/}{};
					$why{"$f: $e"}++;
					my $tail = substr($b, -40); $tail =~ s/\n/\\n/g; $tail =~ s/\0/\\0/g;
					$ex //= "$f: $e: ...$tail";
				}
			}
			print $w join("\t", $n, $bad, $ex // "", map { "$_=$why{$_}" } sort keys %why), "\n";
			exit 0;
		}
		close $w;
		my ($n, $bad, @ex, %why) = (0, 0);
		while (<$r>) {
			chomp; my ($a, $b, $e, @w) = split /\t/;
			$n += $a; $bad += $b; push @ex, $e if $e ne "";
			for (@w) { my ($k, $v) = /^(.*)=(\d+)$/; $why{$k} += $v }
		}
		1 while wait != -1;
		print "$n\t$bad\t", join("; ", map { "$_: $why{$_}" } sort keys %why), "\t", $ex[0] // "", "\n";
	' "$secs" "$readers" "$@") || { echo "- well-formedness check could not run"; return 0; }
	local n bad why ex
	IFS=$'\t' read -r n bad why ex <<<"$out"
	if [[ $bad == 0 ]]; then
		echo "- well-formed reads: $n of $n ($readers concurrent readers, ${secs} s," \
			"cpu/stat of two workloads, host/stat, metrics.prom)"
	else
		echo "- **malformed reads: $bad of $n** ($readers concurrent readers, ${secs} s): $why;" \
			"e.g. \`$ex\`"
	fi
}
adaptfs_alive() {
	local d pid mp how
	for d in "${daemons[@]}"; do
		read -r pid mp how <<<"$d"
		[[ $mp == "$A" ]] && { alive "$pid"; return; }
	done
	return 1
}
if ((have_adaptfs)) && adaptfs_alive; then checks >"$tmp/checks.md" 2>&1 || true; fi

# A daemon that died during the run invalidates its rows: say so, with its log.
health() {
	local d pid mp how st
	for d in "${daemons[@]}"; do
		read -r pid mp how <<<"$d"
		alive "$pid" && continue
		st=0
		wait "$pid" 2>/dev/null || st=$?
		echo "- **${mp##*/} (pid $pid) died during the run, exit status $st" \
			"$( ((st > 128)) && echo "(signal $((st - 128)))")**; last lines of its log:"
		echo '```'
		grep -v ': appeared (\|: disappeared$' "$tmp/${mp##*/}.log" | tail -n 8
		echo '```'
	done
}
health >"$tmp/health.md" 2>&1 || true

# --- report ------------------------------------------------------------------
report() {
	local mem cpu commit
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo "no commit")
	echo "# Read latency: adaptfs vs hellofs, kernel files, LXCFS"
	echo
	echo "Produced by \`bench/latency/run.sh\`$([[ $QUICK == 1 ]] && echo " (QUICK=1)");" \
		"see bench/README.md, section latency."
	echo
	echo "- date: $(date -u +%FT%TZ)"
	echo "- machine: nproc=$(nproc), $cpu, $mem, kernel $(uname -r)"
	echo "- libfuse $(pkg-config --modversion fuse3), lxcfs $(lxcfs --version 2>&1 | tail -n1)," \
		"adaptfs $( ((have_adaptfs)) && echo "at repo $commit, --interval $INTERVAL" || echo "not built (rows skipped)")"
	echo "- load average before / after the timed part: $load0 / $load1"
	echo "- other CPU-busy processes at the start: ${others:-none}"
	echo "- N=$N timed reads per file and mode in $ROUNDS interleaved rounds of $per" \
		"($WARMUP warm-up each); $CONTAINERS docker-style v1 cgroup workloads ($BUSY busy)"
	echo
	echo "Times in µs; median = median of the round medians, p99 = median of the round p99s." \
		"x = median / **hellofs_hl:/metric open+read+close median** (one anchor for both modes)."
	echo
	awk -F'\t' -v anchor="$ANCHOR" -v skipped="$((1 - have_adaptfs))" \
		-v noname="$([[ -z $name ]] && echo 1 || echo 0)" '
		function num(v) { return v == "-" ? v : sprintf("%.2f", v) }
		function x(v) { return v == "-" || base <= 0 ? "-" : sprintf("%.2f", v / base) }
		{ line[NR] = $0; if ($1 == anchor) base = $4 }
		END {
			print "| file | bytes | median | p99 | x | rounds (min–max median) | median (-k) | p99 (-k) | x (-k) |"
			print "|------|------:|-------:|----:|--:|------------------------:|------------:|---------:|-------:|"
			why = skipped ? "skipped: no adaptfs binary" : "skipped: no workload directory"
			if (skipped || noname) {
				print "| adaptfs:/NAME/cpu | " why " | | | | | | | |"
				print "| adaptfs:/NAME/stat | " why " | | | | | | | |"
			}
			if (skipped)
				print "| adaptfs:/metrics.prom | " why " | | | | | | | |"
			for (i = 1; i <= NR; i++) {
				split(line[i], f, "\t")
				k = split(f[8], rr, ","); ok = 0
				for (j = 1; j <= k; j++) if (rr[j] != "-") ok++
				printf "| %s | %s | %s | %s | %s | %s–%s%s | %s | %s | %s |\n", f[1], f[3],
				       num(f[4]), num(f[5]), x(f[4]), num(f[6]), num(f[7]),
				       ok < k ? sprintf(" (**only %d of %d rounds**)", ok, k) : "",
				       num(f[9]), num(f[10]), x(f[9])
			}
		}' "$tmp/agg"
	echo
	echo "## Targets (open+read+close)"
	echo
	awk -F'\t' -v R="$ROUNDS" '
		{ med[$1] = $4; rounds[$1] = $8; fast[$1] = $6 }
		function verdict(ok) { return ok ? "**met**" : "**missed**" }
		# per-round ratios num/den; how many rounds have ratio <= lim (>= lim if ge)
		function per_round(num, den, lim, ge,    a, b, i, q, s, ok, n) {
			split(rounds[num], a, ","); split(rounds[den], b, ",")
			for (i = 1; i <= R; i++) {
				if (a[i] == "-" || b[i] == "-" || b[i] <= 0) continue
				q = a[i] / b[i]; n++
				s = s (n > 1 ? " " : "") sprintf("%.2f", q)
				if (ge ? q >= lim : q <= lim) ok++
			}
			return sprintf("%d of %d rounds (%s)", ok, n, s)
		}
		function row(t, how, x, y, q, ok, extra) {
			printf "| %s | %s | %.2f / %.2f = **%.2f×**%s | %s |\n", t, how, x, y, q, extra, verdict(ok)
		}
		END {
			A = "adaptfs:/NAME/cpu"; H = "hellofs_hl:/metric"; D = "hellofs_hl(direct_io):/metric"
			L = "lxcfs:/proc/meminfo"
			print "| target | figure | measured | result |"
			print "|--------|--------|----------|--------|"
			if (!(A in med) || med[A] == "-" || med[H] == "-" || med[L] == "-") {
				print "| adaptfs NAME/cpu ≤ 1.2 × hellofs_hl | | no adaptfs figure | not evaluated |"
				print "| adaptfs NAME/cpu ≥ 4× faster than LXCFS /proc/meminfo | | no adaptfs figure | not evaluated |"
				exit
			}
			T1 = "adaptfs NAME/cpu ≤ 1.2 × hellofs_hl"
			T2 = "adaptfs NAME/cpu ≥ 4× faster than LXCFS /proc/meminfo"
			a = med[A]; h = med[H]; l = med[L]; fa = fast[A]; fh = fast[H]; fl = fast[L]
			row(T1, "median of round medians", a, h, a / h, a <= 1.2 * h,
			    "; " per_round(A, H, 1.2, 0))
			row(T1, "fastest round of each", fa, fh, fa / fh, fa <= 1.2 * fh,
			    sprintf("; vs hellofs_hl(direct_io) %.2f×", fa / fast[D]))
			row(T2, "median of round medians", l, a, l / a, l >= 4 * a,
			    "; " per_round(L, A, 4, 1))
			row(T2, "fastest round of each", fl, fa, fl / fa, fl >= 4 * fa, "")
		}' "$tmp/agg"
	if awk -F'\t' '$3 == 65536 { f = 1 } END { exit !f }' "$tmp/agg"; then
		echo
		echo "A bytes figure of 65536 means the file is longer than readlat's 64 KiB buffer:" \
			"that row times only its first 64 KiB."
	fi
	echo
	echo "A FUSE median can jump by 2× from one round to the next on a small VM (the" \
		"rounds column shows it; hellofs_hl is the worst). The fastest round of each" \
		"file is the steadier figure when the two verdicts disagree."
	if [[ -s $tmp/health.md ]]; then
		echo
		echo "## Daemons that died"
		echo
		cat "$tmp/health.md"
	fi
	if [[ -s $tmp/checks.md ]]; then
		echo
		echo "## adaptfs sanity checks"
		echo
		cat "$tmp/checks.md"
	fi
	if [[ -s $tmp/open.err || -s $tmp/keep.err ]]; then
		echo
		echo "## readlat messages"
		echo
		echo '```'
		sed "s|$tmp/mnt/|MNT/|g" "$tmp/open.err" "$tmp/keep.err" | sort | uniq -c
		echo '```'
	fi
	if [[ $rc != 0 ]]; then
		echo
		echo "readlat reported errors: some rows failed (see above)."
	fi
}
report | sed "s|$tmp/mnt/|MNT/|g" >"$tmp/report.md"
cat "$tmp/report.md"
if [[ $OUT != - ]]; then
	cp "$tmp/report.md" "$OUT"
	say "wrote $OUT"
	# the median column as a bar chart beside the table (gnuplot-nox)
	if command -v gnuplot >/dev/null; then
		"$here/../plot.sh" "$OUT" median "${OUT%.md}.png" && say "wrote ${OUT%.md}.png"
	fi
fi
exit "$rc"
