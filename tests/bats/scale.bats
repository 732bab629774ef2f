#!/usr/bin/env bats
# Scale: 200 real docker-layout cgroups (one `sleep` each) under one mount;
# every one shows, every file reads, and churn of 50 in and 50 out under 4
# concurrent reader loops gives no error but ENOENT and leaks no fd; at
# 1,000 workloads, a user who opens and holds metrics.prom every interval
# costs the daemon no more memory than its per-user budget of open files.
#
# The cgroups are made in bulk here (cg_spawn makes one at a time, ~10 forks
# each); everything created is listed in $BATS_FILE_TMPDIR before it exists,
# and teardown_file removes it even after a failure. Each `sleep` ends by
# itself after 600 s, so even a killed test run leaves nothing running for long.

SCALE_N=200
SCALE_CHURN=50
SCALE_READERS=4
SCALE_READ_LIMIT=150 # seconds: hard bound on every reader loop (a pass takes ~2 s here when idle)
CTRLS=(cpuacct cpu memory blkio pids)
CG=/sys/fs/cgroup

setup_file() {
	load lib/mount
	load lib/containers
	local S=$BATS_FILE_TMPDIR
	: >"$S/cgdirs"
	: >"$S/pids"
	: >"$S/map"
	: >"$S/readers"
	scale_spawn "$SCALE_N"
	adaptfs_mount --interval 0.5
	wait_for -t 30 all_shown
}

teardown_file() {
	load lib/mount
	load lib/containers
	local S=$BATS_FILE_TMPDIR rc=0 p
	while read -r p; do
		[[ -n $p ]] && { kill -KILL "$p" 2>/dev/null || true; }
	done <"$S/readers"
	adaptfs_umount || rc=1
	scale_remove_all || rc=1
	_adapt_cgdirs_gc || rc=1
	return $rc
}

setup() {
	load lib/mount
	load lib/containers
}

# scale_spawn COUNT: COUNT new /docker/<id> cgroups in every controller, each
# with a `sleep 600` inside. Appends "id pid" to $S/map.
scale_spawn() {
	local S=$BATS_FILE_TMPDIR k=$1 hex j id c dirs=() ids=() pid pids=()
	hex=$(od -An -tx1 -N$((32 * k)) -v /dev/urandom | tr -d ' \n')
	for ((j = 0; j < k; j++)); do
		id=${hex:j*64:64}
		ids+=("$id")
		for c in "${CTRLS[@]}"; do dirs+=("$CG/$c/docker/$id"); done
	done
	printf '%s\n' "${dirs[@]}" >>"$S/cgdirs" # listed before they exist
	_adapt_locked scale_mkdirs_locked "${dirs[@]}" || return 1
	for id in "${ids[@]}"; do
		(
			for c in "${CTRLS[@]}"; do echo "$BASHPID" >"$CG/$c/docker/$id/cgroup.procs"; done
			exec sleep 600
		) </dev/null >/dev/null 2>&1 3>&- &
		pid=$!
		pids+=("$pid")
		echo "$pid" >>"$S/pids"
		echo "$id $pid" >>"$S/map"
	done
	disown "${pids[@]}" 2>/dev/null || true # no job notices; the readers stay waitable
	# every process has entered its cgroups (the last write is to pids)
	for id in "${ids[@]}"; do
		wait_for -t 10 procs_nonempty "$CG/pids/docker/$id/cgroup.procs" || return 1
	done
}

# cgroup files always stat as size 0: read one
procs_nonempty() {
	local p
	read -r p <"$1" && [[ -n $p ]]
}

# scale_mkdirs_locked DIR...: (under the helpers' host-wide lock) make the
# /docker parents where missing, registered as the cg_* helpers do so that the
# last user among concurrent test files removes them, then DIR...
scale_mkdirs_locked() {
	local c
	for c in "${CTRLS[@]}"; do
		if [[ ! -d $CG/$c/docker ]]; then
			echo "$CG/$c/docker" >>"$ADAPT_RUN_DIR/cgdirs"
			mkdir "$CG/$c/docker" || return 1
		fi
	done
	printf '%s\0' "$@" | xargs -0 mkdir
}

# scale_remove ID...: kill the cgroups' processes, rmdir them (v1 rmdir of a
# just-emptied cgroup can fail with EBUSY for a moment: retried).
scale_remove() {
	local id c p d left t
	for id in "$@"; do
		for c in "${CTRLS[@]}"; do
			while read -r p; do kill -KILL "$p" 2>/dev/null || true; done <"$CG/$c/docker/$id/cgroup.procs"
		done 2>/dev/null
	done
	for ((t = 0; t < 100; t++)); do
		left=0
		for id in "$@"; do
			for c in "${CTRLS[@]}"; do
				d=$CG/$c/docker/$id
				[[ -d $d ]] || continue
				for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
				rmdir "$d" 2>/dev/null || left=$((left + 1))
			done
		done
		((left == 0)) && return 0
		sleep 0.05
	done
	echo "scale_remove: $left cgroup dirs could not be removed" >&2
	return 1
}

scale_remove_all() {
	local S=$BATS_FILE_TMPDIR p d ids=()
	while read -r p; do
		[[ -n $p ]] && { kill -KILL "$p" 2>/dev/null || true; }
	done <"$S/pids"
	while read -r d; do
		[[ -d $d ]] && ids+=("${d##*/}")
	done <"$S/cgdirs"
	((${#ids[@]} == 0)) && return 0
	mapfile -t ids < <(printf '%s\n' "${ids[@]}" | sort -u)
	scale_remove "${ids[@]}"
}

# live ids (spawned, not removed)
live_ids() { awk '{ print $1 }' "$BATS_FILE_TMPDIR/map"; }

# all_shown: every live id has its directory (first 12 hex digits of the id)
all_shown() {
	local id
	for id in $(live_ids); do
		[[ -d $ADAPTFS_MNT/${id:0:12} ]] || return 1
	done
}

# none_shown ID...: no directory left for any of them
none_shown() {
	local id
	for id in "$@"; do
		[[ ! -e $ADAPTFS_MNT/${id:0:12} ]] || return 1
	done
}

fd_count() {
	local f n=0
	for f in /proc/"$ADAPTFS_PID"/fd/*; do n=$((n + 1)); done
	echo "$n"
}

@test "all 200 cgroups have their directory, and nothing else is missing" {
	local id n=0
	for id in $(live_ids); do
		[ -d "$ADAPTFS_MNT/${id:0:12}" ] || { echo "missing: ${id:0:12}"; return 1; }
		n=$((n + 1))
	done
	[ "$n" -eq "$SCALE_N" ]
	grep -q "^adapt_workloads [0-9]" "$ADAPTFS_MNT/metrics.prom"
	[ "$(awk '/^adapt_workloads / { print $2 }' "$ADAPTFS_MNT/metrics.prom")" -ge "$SCALE_N" ]
}

@test "every file of every one of the 200 workloads reads with content" {
	local id f files=0 line
	for id in $(live_ids); do
		for f in "$ADAPTFS_MNT/${id:0:12}"/*; do
			# PSI is the v2 hierarchy's: these cgroups are v1 only
			[[ $f == */pressure && ! -e $CG/unified/docker/$id/cpu.pressure ]] && continue
			if ! { IFS= read -r line <"$f"; } 2>"$BATS_TEST_TMPDIR/err" || [ -z "$line" ]; then
				echo "read failed or empty: $f: $(cat "$BATS_TEST_TMPDIR/err")"
				return 1
			fi
			files=$((files + 1))
		done
	done
	echo "read $files files"
	# kind cpu io threads sched_wait major_faults class stat at least
	[ "$files" -ge $((SCALE_N * 8)) ]
}

# reader_loop ERRFILE PASSFILE STOPFILE: read every file of every workload
# (and host/, metrics.prom, events) until STOPFILE exists or the time limit;
# every error message goes to ERRFILE; PASSFILE counts the finished passes.
reader_loop() {
	local err=$1 passes=$2 stop=$3 end=$((EPOCHSECONDS + SCALE_READ_LIMIT)) d f x n=0
	while [[ ! -e $stop ]] && ((EPOCHSECONDS < end)); do
		for d in "$ADAPTFS_MNT"/*; do
			if [[ -d $d ]]; then
				for f in "$d"/*; do
					{ read -r -d '' x <"$f"; } 2>>"$err" || :
				done
			elif [[ -e $d ]]; then
				{ read -r -d '' x <"$d"; } 2>>"$err" || :
			fi
		done
		n=$((n + 1))
		echo "$n" >"$passes"
	done
}

passes_at_least() { # MIN: every reader has finished MIN passes
	local i p
	for ((i = 1; i <= SCALE_READERS; i++)); do
		p=$(cat "$BATS_FILE_TMPDIR/passes.$i" 2>/dev/null || echo 0)
		((p >= $1)) || return 1
	done
}

@test "adding 50 and removing 50 cgroups under 4 reader loops gives no error but ENOENT" {
	local S=$BATS_FILE_TMPDIR i b old=() new_before pids=() gone=()
	echo "$(fd_count)" >"$S/fd_before"
	rm -f "$S/stop" "$S"/passes.* "$S"/reader.*.err
	for ((i = 1; i <= SCALE_READERS; i++)); do
		: >"$S/reader.$i.err"
		reader_loop "$S/reader.$i.err" "$S/passes.$i" "$S/stop" </dev/null >/dev/null 2>&1 3>&- &
		echo $! >>"$S/readers"
		pids+=($!)
	done
	wait_for -t 60 passes_at_least 1

	mapfile -t old < <(live_ids | head -n "$SCALE_CHURN")
	for ((b = 0; b < SCALE_CHURN; b += 10)); do
		scale_spawn 10
		scale_remove "${old[@]:b:10}"
		gone+=("${old[@]:b:10}")
		# forget the removed ones so that all_shown checks only the live
		awk -v drop="${old[*]:b:10}" 'BEGIN { n = split(drop, d, " "); for (i = 1; i <= n; i++) x[d[i]] = 1 }
			!($1 in x)' "$S/map" >"$S/map.new"
		mv "$S/map.new" "$S/map"
	done
	wait_for -t 30 all_shown
	wait_for -t 30 none_shown "${gone[@]}"
	# every reader finishes one more whole pass over the tree after the churn
	local p0
	p0=$(for ((i = 1; i <= SCALE_READERS; i++)); do cat "$S/passes.$i"; done | sort -n | tail -n1)
	wait_for -t 60 passes_at_least $((p0 + 1))
	touch "$S/stop"
	for i in "${pids[@]}"; do wait "$i" || true; done
	: >"$S/readers"

	[ "$(live_ids | wc -l)" -eq "$SCALE_N" ]
	echo "reader passes: $(cat "$S"/passes.* | tr '\n' ' ')"
	cat "$S"/reader.*.err >"$S/errors"
	echo "ENOENT messages: $(grep -c 'No such file or directory' "$S/errors" || true)"
	if grep -v 'No such file or directory' "$S/errors" | grep -q .; then
		echo "errors other than ENOENT:"
		grep -v 'No such file or directory' "$S/errors" | sort | uniq -c | head -20
		return 1
	fi
}

@test "the daemon holds no more file descriptors after the churn than before (+5)" {
	local S=$BATS_FILE_TMPDIR before after
	[ -s "$S/fd_before" ] || skip "the churn test did not run"
	before=$(cat "$S/fd_before")
	sleep 1 # two intervals: released workloads' state is freed at the next sweep
	after=$(fd_count)
	echo "fds before $before, after $after"
	ls -l /proc/"$ADAPTFS_PID"/fd
	[ "$after" -le $((before + 5)) ]
}

# vmrss_kb: the daemon's resident memory
vmrss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$ADAPTFS_PID/status"; }

@test "nobody holding metrics.prom open, one more open per interval for 20 s at 1000 workloads: RSS stays within the per-user budget, opens past it get EMFILE" {
	local S=$BATS_FILE_TMPDIR rss0 max=0 r size out budget_kb=$((16 * 1024))
	scale_spawn $((1000 - SCALE_N))
	wait_for -t 60 all_shown
	[ "$(ls "$ADAPTFS_MNT" | wc -l)" -ge 1000 ]
	size=$(stat -c %s "$ADAPTFS_MNT/metrics.prom")
	# two intervals with the 1000: the sampler's own memory has grown to it
	wait_for -t 5 test "$(stat -c %s "$ADAPTFS_MNT/metrics.prom")" -gt 0
	rss0=$(vmrss_kb)
	# the holder: one open every 0.5 s (the interval), all kept open, 40 of them
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- /usr/bin/python3 - "$ADAPTFS_MNT/metrics.prom" \
		>"$S/holder.out" 2>&1 3>&- <<'PY' &
import errno, os, sys, time
held, refused = [], 0
for i in range(40):
    try:
        fd = os.open(sys.argv[1], os.O_RDONLY)
        held.append(fd)
    except OSError as e:
        if e.errno != errno.EMFILE:
            raise
        refused += 1
    time.sleep(0.5)
print("held", len(held), "refused", refused, flush=True)
time.sleep(3)
for fd in held:
    os.close(fd)
print("closed", flush=True)
PY
	holder=$!
	while ! grep -q '^held' "$S/holder.out"; do
		_adapt_pid_alive "$holder" || break
		r=$(vmrss_kb)
		((r > max)) && max=$r
		sleep 0.2
	done
	wait "$holder"
	cat "$S/holder.out"
	echo "metrics.prom ${size} B; RSS ${rss0} kB before, ${max} kB at most while held (budget ${budget_kb} kB)"
	# what nobody held is bounded by its budget, plus two texts being rendered and slack
	[ "$max" -le $((rss0 + budget_kb + 2 * size / 1024 + 8192)) ]
	if ((40 * size > budget_kb * 1024)); then
		grep -q 'refused [1-9]' "$S/holder.out"
		grep -q "adaptfs: open refused to uid 65534: its open files pin more than 16 MiB" "$ADAPTFS_MNT/events"
	fi
	grep -q '^closed' "$S/holder.out"
	# all closed: nobody opens again
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- head -c 100 "$ADAPTFS_MNT/metrics.prom" >/dev/null
	scale_remove $(live_ids | tail -n $((1000 - SCALE_N)))
	head -n "$SCALE_N" "$S/map" >"$S/map.new"
	mv "$S/map.new" "$S/map"
}
