#!/usr/bin/env bats
# Thread-heavy workloads: a workload of 4,000 threads (helpers/threads.c, real
# pthreads sleeping in pause()) neither stretches the sampler's round nor holds
# up discovery, and its thread count is exact. The daemon is scoped to a
# cgroup subtree of this test's own, so other workloads on the machine do not
# count in its round, and finds the thread-heavy ones by a pattern of its
# config: other daemons on the machine (other test runs) do not take them for
# containers and sample them too. The bound on the round is generous (shared
# 2-CPU machines); bench/scale/threads.sh measures the 50 ms target. Needs
# root, cc.

THREADS=4000
ROUND_LIMIT=0.2 # seconds: median of adapt_sample_duration_seconds over 5 rounds

setup_file() {
	[[ $EUID -eq 0 ]] || return 0
	cc -O2 -Wall -pthread -o "$BATS_FILE_TMPDIR/threads" "$BATS_TEST_DIRNAME/helpers/threads.c"
}

setup() {
	load lib/mount
	load lib/containers
	[[ $EUID -eq 0 ]] || skip "needs root (cgroups)"
	SCOPE=/adapt-threads-$$
	printf '[discovery]\nscope = %s\npattern = %s/t-*\n' "$SCOPE" "$SCOPE" >"$BATS_TEST_TMPDIR/adaptfs.conf"
	adaptfs_mount --config "$BATS_TEST_TMPDIR/adaptfs.conf" --interval 1
}

teardown() {
	teardown_all
	adaptfs_umount
}

key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }
prom() { awk -v k="$1" '$1 == k { print $2; ok = 1 } END { exit !ok }' "$ADAPTFS_MNT/metrics.prom"; }
wl() { echo "$ADAPTFS_MNT/t-$1"; }
total_is() { [[ $(key total "$1/threads" 2>/dev/null) == "$2" ]]; }

# snapshot_after T: a snapshot newer than timestamp T is published
snapshot_after() { awk -v a="$(prom adapt_last_sample_timestamp_seconds)" -v t="$1" 'BEGIN { exit !(a > t) }'; }

@test "4,000 threads: total exact, the round well under the interval, discovery within 2 intervals" {
	CG_PATH="$SCOPE/t-{name}" cg_spawn heavy "$BATS_FILE_TMPDIR/threads" "$THREADS"
	wait_for -t 10 grep -qx ready "$(cg_log heavy)"
	d=$(wl heavy)
	wait_for -t 10 total_is "$d" "$THREADS"

	# five full rounds with the workload in them
	durations=() t=$(prom adapt_last_sample_timestamp_seconds)
	for i in 1 2 3 4 5; do
		wait_for -t 5 snapshot_after "$t"
		t=$(prom adapt_last_sample_timestamp_seconds)
		durations+=("$(prom adapt_sample_duration_seconds)")
		total_is "$d" "$THREADS" || { cat "$d/threads" >&2; false; }
	done
	echo "# rounds (s): ${durations[*]}; threads: $(tr '\n' ' ' <"$d/threads")" >&3
	median=$(printf '%s\n' "${durations[@]}" | sort -g | sed -n 3p)
	awk -v m="$median" -v l="$ROUND_LIMIT" 'BEGIN { exit !(m <= l) }' ||
		{ echo "median round ${median}s > ${ROUND_LIMIT}s: ${durations[*]}" >&2; false; }

	# what was read is said: some, at most all; running counts among them
	sampled=$(key sampled "$d/threads")
	((sampled >= 64 && sampled <= THREADS))
	(($(key running "$d/threads") <= THREADS))
	grep -q '^threads_sampled ' "$d/stat"
	grep -q "^adapt_threads_sampled{workload=\"$(basename "$d")\"" "$ADAPTFS_MNT/metrics.prom"

	# a new workload beside it shows within two intervals
	CG_PATH="$SCOPE/t-{name}" cg_spawn fresh sleep 1000
	wait_for -t 2 test -d "$(wl fresh)"
	wait_for -t 2 total_is "$(wl fresh)" 1
}

@test "past the read budget sched_wait never goes backwards and every thread is read in turn" {
	# spinning threads: each one waits on the run queue, so its wait keeps growing
	CG_PATH="$SCOPE/t-{name}" cg_spawn heavy "$BATS_FILE_TMPDIR/threads" "$THREADS" 4
	wait_for -t 10 grep -qx ready "$(cg_log heavy)"
	d=$(wl heavy)
	wait_for -t 10 total_is "$d" "$THREADS"
	last=0 read_sum=0 t=$(prom adapt_last_sample_timestamp_seconds)
	# enough samples for every thread's turn (sampled per sample, summed)
	for ((i = 0; i < 60 && read_sum < 2 * THREADS; i++)); do
		wait_for -t 5 snapshot_after "$t"
		t=$(prom adapt_last_sample_timestamp_seconds)
		w=$(key wait_usec "$d/sched_wait")
		s=$(key sampled "$d/threads")
		((w >= last)) || { echo "wait_usec went back: $last -> $w" >&2; false; }
		last=$w read_sum=$((read_sum + s))
	done
	echo "# $i samples read $read_sum threads; wait_usec $last" >&3
	((read_sum >= 2 * THREADS))
	# the spinners run (or wait to) at their turn: seen once every thread was read
	(($(key running "$d/threads") >= 1))
}
