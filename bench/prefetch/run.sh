#!/bin/bash
# bench/prefetch/run.sh — the second paper's experiment (sibling swap prefetch),
# reproduced with real servers in v1 memory cgroups (issue 4, "Measure").
#
# Debian packages it needs: the Makefile's DEPS_BENCH (apache2 mariadb-server ruby
# ruby-mysql2) and, from DEPS_TEST, curl gnuplot-nox python3 util-linux; build-essential
# pkg-config libfuse3-dev fuse3 only for DELAY_US > 0 (slowfs.c). Run by hand as root it
# installs what is missing through tests/deps-install (their services stay stopped: the
# bench starts its own); tests never call it. `make deps-bench` installs them all.
#
#   make && sudo bench/prefetch/run.sh            # 1 ideal + 5 off + 5 on, writes results.md + PNG
#   sudo QUICK=1 bench/prefetch/run.sh            # 1 ideal + 1 off + 1 on, prints the table only
#   sudo DELAY_US=1000 bench/prefetch/run.sh      # swap on a slow device (+1 ms per I/O), writes
#                                                 # results-slow.md + faults-slow.png
#   sudo BUDGETS="32 128 256 0" bench/prefetch/run.sh  # the read-back budget: per round one off
#                                                 # run and one on-run per max_bytes_per_trigger
#                                                 # (MiB; 0 = no cap), SWEEP_RUNS rounds; writes
#                                                 # results-budget.md + budget.png
#
# What it builds (everything under one temp dir, removed on exit, even on failure):
#   cgroups /adaptbench.PID (memory limit PARENT_MIB, default 1024 MiB) holding svc_a and
#   svc_b (A_MIB and B_LIMIT_MIB, default 819 MiB each) in the v1 memory, cpu, cpuacct and
#   pids hierarchies and in the cgroup2 tree (for PSI);
#   a swapfile of SWAP_MIB (2048) MiB if no swap is on; with DELAY_US > 0 instead a slow
#   swap device of that size (slowfs.c + a loop device: this kernel has no dm-delay);
#   service A: apache2 (mpm prefork, 127.0.0.1:PORT) with query.cgi (ruby + ruby-mysql2)
#   and mariadbd (own datadir, socket in the temp dir, --innodb-buffer-pool-size=655M),
#   all started inside svc_a; service B: hog.py (B_MIB MiB written once and held) in svc_b;
#   adaptfs mounted on a temp dir with "[discovery] pattern = /adaptbench.PID/*".
# Knobs: RUNS (5), QUICK, PARENT_MIB, A_MIB, B_LIMIT_MIB, B_MIB, SWAP_MIB, DELAY_US, PORT,
#   SETTLE (s between B's last page and the request, 5), AFTER (s recorded after it, 10),
#   SQUEEZE_MIB (A's limit for a moment before B starts, 64; 0: no squeeze),
#   DB_SCALE (row-count factor, 1), DB_PAD (bytes of notes per employee, 1000), POOL (655M),
#   BUDGETS (MiB per trigger, empty: no sweep), SWEEP_RUNS (2),
#   ADAPTFS, OUT (results.md), PNG, KEEP (keep the temp dir).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
QUICK=${QUICK:-0}
RUNS=${RUNS:-5}
((QUICK)) && RUNS=1
PARENT_MIB=${PARENT_MIB:-1024}
A_MIB=${A_MIB:-819}
B_LIMIT_MIB=${B_LIMIT_MIB:-819}
B_MIB=${B_MIB:-819}
SWAP_MIB=${SWAP_MIB:-2048}
DELAY_US=${DELAY_US:-0}
PORT=${PORT:-18411}
SETTLE=${SETTLE:-5}
AFTER=${AFTER:-10}
DB_SCALE=${DB_SCALE:-1}
DB_PAD=${DB_PAD:-1000}
SQUEEZE_MIB=${SQUEEZE_MIB:-64}
POOL=${POOL:-655M}
ADAPTFS=${ADAPTFS:-$ROOT/adaptfs}
BUDGETS=${BUDGETS:-}
SWEEP_RUNS=${SWEEP_RUNS:-2}
SUFFIX=
((DELAY_US > 0)) && SUFFIX=-slow
[[ -n $BUDGETS ]] && SUFFIX=-budget
if ((QUICK)); then OUT=${OUT:-}; else OUT=${OUT:-$HERE/results$SUFFIX.md}; fi
if [[ -n $BUDGETS ]]; then PNG=${PNG:-${OUT:+$(dirname "$OUT")/budget.png}}; fi
PNG=${PNG:-${OUT:+$(dirname "$OUT")/faults$SUFFIX.png}}
CTRLS="memory cpu cpuacct pids unified"
CG=/adaptbench.$$
A=$CG/svc_a
B=$CG/svc_b

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root"
[[ -x $ADAPTFS ]] || die "no $ADAPTFS: run make first"
[[ -d /sys/fs/cgroup/memory ]] || die "needs the v1 memory controller at /sys/fs/cgroup/memory"

need_pkgs() {
	local p missing=()
	for p in apache2 mariadb-server ruby ruby-mysql2 curl gnuplot-nox python3; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if ((DELAY_US > 0)); then
		for p in build-essential pkg-config libfuse3-dev fuse3; do
			dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
		done
	fi
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		sh "$ROOT/tests/deps-install" "${missing[@]}" >/dev/null
	fi
}
need_pkgs
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || command -v python3)

T=$(mktemp -d /var/tmp/pfbench.XXXXXX)
chmod 755 "$T"
mkdir -p "$T/run" "$T/log" "$T/mnt" "$T/httpd" "$T/cgi-bin" "$T/samples"
chown mysql "$T/run"
chmod 1777 "$T/log"

# ---------------------------------------------------------------- cleanup ---------------------
STARTED=()		# pids we started and have not reaped yet, killed in reverse order
forget() { local p keep=(); for p in "${STARTED[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done; STARTED=("${keep[@]}"); }
SWAPFILE='' LOOPDEV='' SLOWFS_PID='' ADAPTFS_PID=''
cg_pids() { cat "/sys/fs/cgroup/memory$1/cgroup.procs" 2>/dev/null || true; }
cg_kill_all() {	# every process of a cgroup we made: only our own servers live there
	local i p
	for i in $(seq 100); do
		p=$(cg_pids "$1")
		[[ -z $p ]] && return 0
		# shellcheck disable=SC2086
		kill -KILL $p 2>/dev/null || true
		sleep 0.05
	done
}
cg_remove() {
	local c d
	for d in "$A" "$B" "$CG"; do
		cg_kill_all "$d"
		for c in $CTRLS; do
			[[ -d /sys/fs/cgroup/$c$d ]] || continue
			for _ in $(seq 50); do rmdir "/sys/fs/cgroup/$c$d" 2>/dev/null && break; sleep 0.1; done
		done
	done
}
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	set +e
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		kill -TERM "${STARTED[i]}" 2>/dev/null
	done
	sleep 0.5
	for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
		kill -KILL "${STARTED[i]}" 2>/dev/null
	done
	cg_remove
	if [[ -n $ADAPTFS_PID ]]; then
		kill -TERM "$ADAPTFS_PID" 2>/dev/null
		wait_for 5 gone "$ADAPTFS_PID"
		mountpoint -q "$T/mnt" && { fusermount3 -u "$T/mnt" || umount -l "$T/mnt"; }
	fi
	[[ -n $SWAPFILE ]] && { swapoff "$SWAPFILE"; rm -f "$SWAPFILE"; }
	if [[ -n $LOOPDEV ]]; then
		swapoff "$LOOPDEV"
		losetup -d "$LOOPDEV"
	fi
	if [[ -n $SLOWFS_PID ]]; then
		mountpoint -q "$T/slow" && { fusermount3 -u "$T/slow" || umount -l "$T/slow"; }
		kill -TERM "$SLOWFS_PID" 2>/dev/null
	fi
	if [[ -n ${KEEP:-} ]]; then log "kept $T"; else rm -rf "$T"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start "$@" inside cgroup $1 (every hierarchy of CTRLS): the child moves itself, then execs.
cg_exec() {
	local cg=$1
	shift
	bash -c 'cg=$1; shift; for c in '"$CTRLS"'; do echo $$ > /sys/fs/cgroup/$c$cg/cgroup.procs || exit 97; done; exec "$@"' \
		cg_exec "$cg" "$@"
}
wait_for() {	# SECONDS CMD...
	local t=$1 i
	shift
	for ((i = 0; i < t * 20; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}
now() { date +%s.%N; }
gone() {	# PID: exited (a zombie counts: we reap it later)
	local st
	st=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 0
	[[ -z $st || $st == Z || $st == X ]]
}
stop_pid() {	# PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (30)
	kill -TERM "$1" 2>/dev/null || return 0
	wait_for "${2:-30}" gone "$1" || kill -KILL "$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- swap ------------------------
swap_setup() {
	if ((DELAY_US > 0)); then
		# A slow swap device. This kernel has no device mapper (so no dm-delay) and no nbd or
		# ublk: slowfs.c (FUSE, built here) serves one file whose every read and write waits
		# DELAY_US more; a loop device (direct I/O) on it is the swap, used before any other
		# swap (priority 32767). slowfs and the loop run outside the benchmark's cgroups.
		# shellcheck disable=SC2046 # pkg-config prints several words
		cc -O2 -o "$T/slowfs" "$HERE/slowfs.c" $(pkg-config --cflags --libs fuse3) ||
			die "cannot build slowfs (needs build-essential, pkg-config, libfuse3-dev)"
		mkdir -p "$T/slow"
		fallocate -l "${SWAP_MIB}M" "$T/swap.img"
		"$T/slowfs" "$T/swap.img" "$DELAY_US" "$T/slow" -o max_threads=64 2>"$T/log/slowfs.log" &
		SLOWFS_PID=$!	# stopped by cleanup after swapoff, not with the other pids
		wait_for 10 test -f "$T/slow/disk" || die "slowfs did not mount"
		LOOPDEV=$(losetup --find --show --direct-io=on "$T/slow/disk")
		mkswap "$LOOPDEV" >/dev/null
		swapon -p 32767 "$LOOPDEV"
		SWAP_DESC="a ${SWAP_MIB} MiB loop device (direct I/O) on a FUSE file (slowfs.c) whose every read and write waits ${DELAY_US} µs more, priority 32767"
	elif [[ -z $(swapon --show --noheadings) ]]; then
		SWAPFILE=$T/swapfile
		fallocate -l "${SWAP_MIB}M" "$SWAPFILE"
		chmod 600 "$SWAPFILE"
		mkswap "$SWAPFILE" >/dev/null
		swapon "$SWAPFILE"
		SWAP_DESC="a ${SWAP_MIB} MiB swapfile made for the run on $(df --output=source "$T" | tail -1)"
	else
		SWAP_DESC="swap already on: $(swapon --show --noheadings --bytes | awk '{ printf "%s %d MiB; ", $1, $3 / 1048576 }')"
	fi
	log "swap: $SWAP_DESC"
}

# ---------------------------------------------------------------- the services ----------------
MYSQLD_ARGS=(--no-defaults --datadir="$T/data" --socket="$T/run/mysqld.sock" --skip-networking
	--user=mysql --pid-file="$T/run/mysqld.pid" --log-error="$T/log/mysqld.err"
	--innodb-buffer-pool-size="$POOL" --innodb-buffer-pool-size-max="$POOL"
	--innodb-buffer-pool-dump-at-shutdown=0 --innodb-buffer-pool-load-at-startup=0
	--slow-query-log=1 --long-query-time=0 --slow-query-log-file="$T/log/query.log")
sql() { mariadb --no-defaults -S "$T/run/mysqld.sock" -uroot "$@"; }
mysqld_up() {
	wait_for 60 sql -e "SELECT 1" || { tail -20 "$T/log/mysqld.err" >&2; die "mariadbd did not start"; }
}

build_db() {
	log "generating the employees-like database (scale $DB_SCALE, $DB_PAD bytes of notes per employee)"
	"$PY" "$HERE/gendb.py" "$T/gen" "$DB_SCALE" "$DB_PAD" >"$T/log/gendb.out"
	chmod 755 "$T/gen"
	mariadb-install-db --no-defaults --datadir="$T/data" --user=mysql --skip-test-db \
		--auth-root-authentication-method=normal >"$T/log/install-db.log" 2>&1 ||
		{ cat "$T/log/install-db.log" >&2; die "mariadb-install-db failed"; }
	mariadbd "${MYSQLD_ARGS[@]}" --local-infile=1 &
	local pid=$!
	STARTED+=("$pid")
	mysqld_up
	sql <"$T/gen/schema.sql"
	sql --local-infile=1 <"$T/gen/load.sql" >/dev/null
	sql -e "CREATE USER bench@localhost; GRANT SELECT ON employees.* TO bench@localhost;"
	DB_ROWS=$(sql -N -e "SELECT CONCAT((SELECT COUNT(*) FROM employees.employees), ' employees, ',
		(SELECT COUNT(*) FROM employees.titles), ' titles (', (SELECT COUNT(*) FROM employees.titles
		WHERE title = 'Engineer'), ' Engineer)')")
	DB_SIZE=$(sql -N -e "SELECT ROUND(SUM(data_length + index_length) / 1048576, 1) FROM
		information_schema.tables WHERE table_schema = 'employees'")
	stop_pid "$pid" 60
	wait "$pid" 2>/dev/null || true
	forget "$pid"
	rm -rf "$T/gen"
	log "database: $DB_ROWS, $DB_SIZE MiB in InnoDB"
}

write_httpd_conf() {
	local m=/usr/lib/apache2/modules
	cp "$HERE/query.cgi" "$T/cgi-bin/query.cgi"
	chmod 755 "$T/cgi-bin/query.cgi"
	cat >"$T/httpd/httpd.conf" <<-EOF
		ServerRoot "$T/httpd"
		ServerName localhost
		Listen 127.0.0.1:$PORT
		PidFile $T/httpd/httpd.pid
		DefaultRuntimeDir $T/httpd
		ErrorLog $T/log/httpd-error.log
		LogLevel warn
		LoadModule mpm_prefork_module $m/mod_mpm_prefork.so
		LoadModule authz_core_module $m/mod_authz_core.so
		LoadModule alias_module $m/mod_alias.so
		LoadModule env_module $m/mod_env.so
		LoadModule cgi_module $m/mod_cgi.so
		User www-data
		Group www-data
		StartServers 2
		MinSpareServers 2
		MaxSpareServers 4
		ScriptAlias /cgi-bin/ $T/cgi-bin/
		<Directory $T/cgi-bin>
		    Require all granted
		</Directory>
		SetEnv PF_SOCK $T/run/mysqld.sock
		SetEnv PF_LOG $T/log/ruby.log
	EOF
}
URL=http://127.0.0.1:$PORT/cgi-bin/query.cgi

# ---------------------------------------------------------------- adaptfs ---------------------
BUDGET_MIB=0	# [prefetch] max_bytes_per_trigger of the adaptfs running, MiB (0: none)
start_adaptfs() {
	printf '[discovery]\npattern = %s/*\nrescan_interval = 1\n[prefetch]\nmax_bytes_per_trigger = %d\n' \
		"$CG" $((BUDGET_MIB << 20)) >"$T/adaptfs.conf"
	"$ADAPTFS" -f --interval 1 -c "$T/adaptfs.conf" "$T/mnt" 2>>"$T/log/adaptfs.log" &
	ADAPTFS_PID=$!
	wait_for 10 mountpoint -q "$T/mnt" || { cat "$T/log/adaptfs.log" >&2; die "adaptfs did not mount"; }
}
stop_adaptfs() {
	kill -TERM "$ADAPTFS_PID"
	wait_for 10 gone "$ADAPTFS_PID" || die "adaptfs did not stop"
	wait "$ADAPTFS_PID" 2>/dev/null || true
	ADAPTFS_PID=
	wait_for 10 sh -c "! mountpoint -q $T/mnt" || die "adaptfs left $T/mnt mounted"
}
pf_stat() {	# prints "triggers bytes skipped_budget skipped_cooldown skipped_thrash sibling_faults"
	awk '$1 ~ /^prefetch_/ { v[$1] = $2 }
	     END { printf "%d %d %d %d %d %d\n", v["prefetch_triggers"], v["prefetch_bytes"],
		v["prefetch_skipped_budget"], v["prefetch_skipped_cooldown"],
		v["prefetch_skipped_thrash"], v["prefetch_sibling_faults"] }' "$T/mnt/svc_a/stat" 2>/dev/null ||
		echo "0 0 0 0 0 0"
}
pswpin() { awk '$1 == "pswpin" { print $2 }' /proc/vmstat; }
# pages swapped in without I/O: zero-filled pages the kernel did not write out (0 if unknown)
szin() { awk '$1 == "swpin_zero" { z = $2 } END { print z + 0 }' /proc/vmstat; }
# anon pages read back from swap into A and B (memcg refaults: prefetch reads count too,
# other work on the host does not, unlike the host-wide pswpin)
refaults() { awk '$1 == "total_workingset_refault_anon" { print $2 }' "/sys/fs/cgroup/memory$CG/memory.stat"; }

# ---------------------------------------------------------------- one run ---------------------
# run_one N MODE (ideal | off | on): appends one line to $T/runs.tsv
run_one() {
	local n=$1 mode=$2 c httpd mysqld hog sampler t0 t1 lat code
	log "run $n: $mode"
	for c in $CTRLS; do mkdir -p "/sys/fs/cgroup/$c$A" "/sys/fs/cgroup/$c$B"; done
	echo $((PARENT_MIB << 20)) >"/sys/fs/cgroup/memory$CG/memory.limit_in_bytes"
	echo $((A_MIB << 20)) >"/sys/fs/cgroup/memory$A/memory.limit_in_bytes"
	echo $((B_LIMIT_MIB << 20)) >"/sys/fs/cgroup/memory$B/memory.limit_in_bytes"
	wait_for 10 test -f "$T/mnt/svc_a/stat" || die "adaptfs does not show svc_a"
	if [[ $mode == on ]]; then echo on >"$T/mnt/svc_a/prefetch"; fi
	: >"$T/log/ruby.log"
	chmod 666 "$T/log/ruby.log"
	rm -f "$T/httpd/httpd.pid"

	# the paper's sequence: httpd, MariaDB, (here: a warm-up request), then B
	cg_exec "$A" apache2 -f "$T/httpd/httpd.conf" -DFOREGROUND &
	httpd=$!
	STARTED+=("$httpd")
	wait_for 20 curl -s -o /dev/null "http://127.0.0.1:$PORT/" ||
		{ cat "$T/log/httpd-error.log" >&2; die "httpd did not start"; }
	cg_exec "$A" mariadbd "${MYSQLD_ARGS[@]}" &
	mysqld=$!
	STARTED+=("$mysqld")
	mysqld_up
	curl -sf -o /dev/null "$URL" || die "warm-up request failed: $(tail -5 "$T/log/httpd-error.log")"
	curl -sf -o /dev/null "$URL" || die "warm-up request failed"
	sleep 2

	local samples=$T/samples/run$n-$mode.txt
	"$PY" "$HERE/probe.py" sample "$samples" "/sys/fs/cgroup/memory$A/cgroup.procs" &
	sampler=$!
	STARTED+=("$sampler")
	local pf_b=(0 0 0 0 0 0)
	read -ra pf_b <<<"$(pf_stat)"
	local sw_b a_kib b_kib rf_b rf0 rf1 rf2 load
	sw_b=$(pswpin)
	local sz_b sz0 sz1 sz2
	sz_b=$(szin)
	rf_b=$(refaults)
	hog=
	if [[ $mode != ideal ]] && ((SQUEEZE_MIB > 0)); then
		# A idles while B works: push A's memory to swap by lowering its limit for a moment
		# (the kernel's reclaim under the parent's limit alone takes as much from idle B as
		# from idle A and leaves most of the database resident), then give A its limit back.
		wait_for 30 sh -c "echo $((SQUEEZE_MIB << 20)) > /sys/fs/cgroup/memory$A/memory.limit_in_bytes" ||
			die "could not squeeze A to $SQUEEZE_MIB MiB"
		echo $((A_MIB << 20)) >"/sys/fs/cgroup/memory$A/memory.limit_in_bytes"
	fi
	if [[ $mode != ideal ]]; then
		rm -f "$T/run/hog.ready"
		cg_exec "$B" "$PY" "$HERE/hog.py" "$B_MIB" "$T/run/hog.ready" &
		hog=$!
		STARTED+=("$hog")
		wait_for 120 test -s "$T/run/hog.ready" || die "B did not finish writing its memory"
	fi
	sleep "$SETTLE"

	# just before the request: what is in swap, and every counter
	local mpid hpids before pf0 pf1 pf2 sw0 sw1 sw2 m0 m1 h0 h1
	mpid=$(cat "$T/run/mysqld.pid")
	hpids=$(for p in $(cg_pids "$A"); do [[ $(cat "/proc/$p/comm" 2>/dev/null) == apache2 ]] && echo "$p"; done || true)
	read -r hswap _ <<<"$("$PY" "$HERE/probe.py" mem $hpids)"
	before=$("$PY" "$HERE/probe.py" before "$mpid" "$T/run/pagemap.state")
	read -ra pf0 <<<"$(pf_stat)"
	a_kib=$(($(cat "/sys/fs/cgroup/memory$A/memory.usage_in_bytes") >> 10))
	b_kib=$(($(cat "/sys/fs/cgroup/memory$B/memory.usage_in_bytes") >> 10))
	m0=$("$PY" "$HERE/probe.py" majflt "$mpid" | awk '{ print $3 }')
	h0=$("$PY" "$HERE/probe.py" majflt $hpids | awk '{ s += $3 } END { print s + 0 }')
	load=$(cut -d' ' -f1 /proc/loadavg)
	local stacks
	"$PY" "$HERE/probe.py" stacks "$samples.stacks" "$T/run/stacks.ready" "$mpid" "$ADAPTFS_PID" &
	stacks=$!
	STARTED+=("$stacks")
	wait_for 20 test -e "$T/run/stacks.ready" || die "the stack sampler did not start"
	local bsw0 bsw1 po0 po1 sched
	bsw0=$(awk '$1 == "swap" { print $2 }' "/sys/fs/cgroup/memory$B/memory.stat" 2>/dev/null || echo 0)
	po0=$(awk '$1 == "pswpout" { print $2 }' /proc/vmstat)
	rm -f "$T/run/sched.state"
	"$PY" "$HERE/probe.py" sched "$mpid" "$T/run/sched.state"
	rf0=$(refaults)
	sz0=$(szin)
	sw0=$(pswpin)
	t0=$(now)
	read -r code lat < <(curl -s -o "$T/run/answer.html" -w '%{http_code} %{time_total}\n' "$URL")
	t1=$(now)
	kill -TERM "$stacks"
	sw1=$(pswpin)
	sz1=$(szin)
	rf1=$(refaults)
	sched=$("$PY" "$HERE/probe.py" sched "$mpid" "$T/run/sched.state")
	po1=$(awk '$1 == "pswpout" { print $2 }' /proc/vmstat)
	bsw1=$(awk '$1 == "swap" { print $2 }' "/sys/fs/cgroup/memory$B/memory.stat" 2>/dev/null || echo 0)
	m1=$("$PY" "$HERE/probe.py" majflt "$mpid" | awk '{ print $3 }')
	h1=$("$PY" "$HERE/probe.py" majflt $hpids | awk '{ s += $3 } END { print s + 0 }')
	read -ra pf1 <<<"$(pf_stat)"
	local after
	after=$("$PY" "$HERE/probe.py" after "$mpid" "$T/run/pagemap.state")
	sleep "$AFTER"
	sw2=$(pswpin)
	sz2=$(szin)
	rf2=$(refaults)
	read -ra pf2 <<<"$(pf_stat)"
	kill -TERM "$sampler"
	wait "$sampler" "$stacks" 2>/dev/null || true
	forget "$stacks"
	rm -f "$T/run/stacks.ready"
	echo "$t0 $t1" >"$samples.req"

	local ruby rows ruby_ms ruby_life q_ms
	ruby_life=$(awk '{ print $5 }' "$T/log/ruby.log" | tail -1)
	q_ms=$(awk '/^# Query_time:/ { q = $3 } /JOIN titles/ { last = q } END { printf "%.1f", last * 1000 }' "$T/log/query.log")
	ruby=$(awk '{ print $2 }' "$T/log/ruby.log" | tail -1)
	ruby_ms=$(awk '{ print $3 }' "$T/log/ruby.log" | tail -1)
	rows=$(grep -o '[0-9]* engineers' "$T/run/answer.html" | cut -d' ' -f1)
	local bw bs ba ar
	read -r bw bs ba <<<"$before"
	read -ra ar <<<"$after"
	# one line of key=value per run (report.py reads it):
	# lat_ms code rows; mariadbd before the request: m_swap_kib m_rss_kib m_swapped_pages,
	# httpd h_swap_kib, cgroup usage a_kib b_kib; major faults during the request m_maj h_maj
	# r_maj (ruby, from the CGI itself) r_ms r_life_ms, q_ms (MariaDB's Query_time), load
	# (1-min load average); sz_* like sw_* for swpin_zero (zero-filled pages, no I/O);
	# the mariadbd thread that ran most during the request: q_run_ms
	# q_wait_ms (run queue) q_blocked_ms (the rest of the request's wall time); b_out_kib: B's
	# memory swapped out during the request; pswpout_req (host); refaults rf_pre rf_req rf_after (like sw_*); pswpin pages: sw_pre (B's start to the request),
	# sw_req (the request), sw_after (request + AFTER s); mariadbd pages back from swap
	# swapped_in, still_swapped, ref_kib (anon+file referenced by the request); prefetch
	# during the request pf_req_trig pf_req_bytes, before it pf_pre_trig pf_pre_bytes, whole
	# run pf_trig pf_bytes pf_budget pf_cooldown pf_thrash pf_sib
	echo "n=$n mode=$mode budget_mib=$BUDGET_MIB lat_ms=$(awk -v l="$lat" 'BEGIN { printf "%.1f", l * 1000 }') code=$code" \
		"rows=${rows:-0} m_swap_kib=$bw m_rss_kib=$bs m_swapped_pages=$ba h_swap_kib=${hswap:-0}" \
		"a_kib=$a_kib b_kib=$b_kib m_maj=$((m1 - m0)) h_maj=$((h1 - h0)) r_maj=${ruby:--1}" \
		"r_ms=${ruby_ms:--1} r_life_ms=${ruby_life:--1} q_ms=${q_ms:--1} load=$load" \
		"q_run_ms=$(cut -d' ' -f1 <<<"$sched") q_wait_ms=$(cut -d' ' -f2 <<<"$sched")" \
		"q_blocked_ms=$(cut -d' ' -f3 <<<"$sched") b_out_kib=$(((bsw1 - bsw0) >> 10))" \
		"pswpout_req=$((po1 - po0))" \
		"sz_pre=$((sz0 - sz_b)) sz_req=$((sz1 - sz0)) sz_after=$((sz2 - sz0))" \
		"rf_pre=$((rf0 - rf_b)) rf_req=$((rf1 - rf0)) rf_after=$((rf2 - rf0))" \
		"sw_pre=$((sw0 - sw_b)) sw_req=$((sw1 - sw0)) sw_after=$((sw2 - sw0))" \
		"swapped_in=${ar[0]} ref_kib=${ar[1]} still_swapped=${ar[2]}" \
		"pf_req_trig=$((pf1[0] - pf0[0])) pf_req_bytes=$((pf1[1] - pf0[1]))" \
		"pf_pre_trig=$((pf0[0] - pf_b[0])) pf_pre_bytes=$((pf0[1] - pf_b[1]))" \
		"pf_trig=$((pf2[0] - pf_b[0])) pf_bytes=$((pf2[1] - pf_b[1])) pf_budget=$((pf2[2] - pf_b[2]))" \
		"pf_cooldown=$((pf2[3] - pf_b[3])) pf_thrash=$((pf2[4] - pf_b[4])) pf_sib=$((pf2[5] - pf_b[5]))" \
		>>"$T/runs.tsv"
	tail -1 "$T/runs.tsv" >&2

	# stop A and B, remove the two cgroups (the parent stays for the next run)
	[[ -n $hog ]] && kill -KILL "$hog" 2>/dev/null
	stop_pid "$mysqld" 60
	stop_pid "$httpd" 20
	cg_kill_all "$A"
	cg_kill_all "$B"
	wait "$httpd" "$mysqld" ${hog:+"$hog"} 2>/dev/null || true
	forget "$httpd" "$mysqld" "$sampler" $hog
	for c in $CTRLS; do
		for d in "$A" "$B"; do
			for _ in $(seq 50); do rmdir "/sys/fs/cgroup/$c$d" 2>/dev/null && break; sleep 0.1; done
		done
	done
	wait_for 10 sh -c "! test -e $T/mnt/svc_a" || true
}

# ---------------------------------------------------------------- main ------------------------
for c in $CTRLS; do mkdir "/sys/fs/cgroup/$c$CG"; done
# other work on this shared 2-CPU machine disturbs timings less (v1 default: 1024)
echo 8192 >"/sys/fs/cgroup/cpu$CG/cpu.shares"
swap_setup
build_db
chown -R mysql "$T/data"
write_httpd_conf
start_adaptfs

MODES=(ideal)
if [[ -n $BUDGETS ]]; then
	for ((i = 0; i < SWEEP_RUNS; i++)); do
		MODES+=(off)
		for b in $BUDGETS; do MODES+=("on:$b"); done
	done
else
	for ((i = 0; i < RUNS; i++)); do MODES+=(off on); done
fi
n=0
for mode in "${MODES[@]}"; do
	n=$((n + 1))
	if [[ $mode == on:* && ${mode#on:} != "$BUDGET_MIB" ]]; then
		stop_adaptfs
		BUDGET_MIB=${mode#on:}
		start_adaptfs
	fi
	run_one "$n" "${mode%%:*}"
done

cat >"$T/meta" <<EOF
machine=$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)
date=$(date -u '+%Y-%m-%d %H:%M UTC')
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
swap=$SWAP_DESC
db=$DB_ROWS, every employee with $DB_PAD bytes of notes, $DB_SIZE MiB in InnoDB
limits=parent $PARENT_MIB MiB, A $A_MIB MiB, B $B_LIMIT_MIB MiB; B writes $B_MIB MiB
settle=$SETTLE
squeeze=$SQUEEZE_MIB
after=$AFTER
delay=$DELAY_US
EOF
if [[ -n $BUDGETS ]]; then
	"$PY" "$HERE/report_budget.py" "$T" "$OUT" "$PNG" <"$T/meta"
else
	"$PY" "$HERE/report.py" "$T" "$OUT" "$PNG" "$HERE" <"$T/meta"
fi
