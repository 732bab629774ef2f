#!/usr/bin/env bats
# Sibling swap prefetch on a real swapfile and a memory-limited container:
# two siblings with swapped anonymous memory and one with swapped shmem.

setup_file() {
	load lib/mount
	load lib/containers
	load lib/swap
	swap_ensure
	adaptfs_mount --interval 0.5
}

teardown_file() {
	load lib/containers
	load lib/swap
	teardown_all
	adaptfs_umount
	swap_release
}

setup() {
	load lib/mount
	load lib/containers
	load lib/memtouch
	OUT=$BATS_TEST_TMPDIR
	MEMTOUCH=$BATS_TEST_DIRNAME/helpers/memtouch.py
}

teardown() {
	teardown_all
}

key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$2"; }
key_at_least() { local v; v=$(key "$1" "$2") && [ "$v" -ge "$3" ]; }

# A container "pf" holding sib_a (anon), sib_b (anon) and sib_c (shmem).
start_siblings() {
	cg_spawn pf bash -c "python3 $MEMTOUCH sib_a anon $1 $OUT & python3 $MEMTOUCH sib_b anon $1 $OUT & python3 $MEMTOUCH sib_c shmem $2 $OUT & wait"
	D=$ADAPTFS_MNT/$(cg_id pf | cut -c1-12)
	MEMCG=$(cg_dir pf memory)
	for s in sib_a sib_b sib_c; do
		wait_for -t 30 test -s "$OUT/$s.ready"
	done
	wait_for -t 5 test -d "$D"
}

pid_of() { cat "$OUT/$1.ready"; }
swap_kib() { awk '/^Swap:/ { s += $2 } END { print s + 0 }' "/proc/$(pid_of "$1")/smaps"; }

# Squeeze the container into swap, then give it room again: its memory stays
# swapped out until touched. $1: MiB of limit afterwards.
push_to_swap() { memtouch_push "$MEMCG" "$@"; }

# touch NAME -> majflt of NAME's next full touch (waits for its result line)
touch_all() {
	local r
	r=$(memtouch_touch "$OUT" "$1") || return
	echo "${r%% *}"
}

@test "with prefetch on, siblings' later touch costs <= 10% of the major faults it costs without" {
	start_siblings 80 48
	push_to_swap
	[ "$(swap_kib sib_b)" -gt $((40 * 1024)) ]
	[ "$(swap_kib sib_c)" -gt $((20 * 1024)) ]	# shmem went to swap too

	# off: the first process pages in, then its siblings pay their own faults
	touch_all sib_a > /dev/null
	off_b=$(touch_all sib_b)
	off_c=$(touch_all sib_c)
	echo "prefetch off: sib_b $off_b sib_c $off_c major faults"
	[ "$off_b" -gt 1000 ]
	[ "$off_c" -gt 500 ]

	push_to_swap
	echo on > "$D/prefetch"
	swapped=$(( ($(swap_kib sib_b) + $(swap_kib sib_c)) * 1024 ))
	touch_all sib_a > /dev/null
	# the engine reacts to sib_a's page-ins by asking the siblings' pages back
	wait_for -t 10 key_at_least prefetch_bytes "$D/stat" $(( swapped * 9 / 10 ))
	on_b=$(touch_all sib_b)
	on_c=$(touch_all sib_c)
	echo "prefetch on: sib_b $on_b sib_c $on_c major faults"
	[ "$on_b" -le $(( off_b / 10 )) ]
	[ "$on_c" -le $(( off_c / 10 )) ]
	key_at_least prefetch_triggers "$D/stat" 1
	grep -q "^adapt_prefetch_bytes_total{workload=\"$(basename "$D")\"" "$ADAPTFS_MNT/metrics.prom"
}

@test "a tight limit caps prefetch at the headroom and counts the skip" {
	start_siblings 80 32
	push_to_swap
	# room for ~40 MiB above what it uses now; the default margin keeps 16 MiB free
	usage=$(cat "$MEMCG/memory.usage_in_bytes")
	echo $(( usage + 40 * 1024 * 1024 )) > "$MEMCG/memory.limit_in_bytes"
	echo on > "$D/prefetch"
	touch_all sib_a > /dev/null
	wait_for -t 10 key_at_least prefetch_skipped_budget "$D/stat" 1
	bytes=$(key prefetch_bytes "$D/stat")
	echo "prefetched $bytes bytes with 40 MiB of headroom"
	# something, but never more than headroom minus the 16 MiB margin
	[ "$bytes" -gt 0 ]
	[ "$bytes" -le $(( (40 - 16) * 1024 * 1024 )) ]
}

# same_counters: the eleven prefetch counters of $OUT/stat and $OUT/prom agree
same_counters() {
	local k s p
	for k in triggers bytes read_bytes skipped_budget skipped_cooldown skipped_thrash \
		 skipped_running skipped_empty skipped_contested skipped_pushed sibling_faults; do
		s=$(key "prefetch_$k" "$OUT/stat")
		p=$(awk -v m="adapt_prefetch_${k}_total{workload=\"$(basename "$D")\"," 'index($0, m) == 1 { print $2 }' "$OUT/prom")
		[ -n "$s" ] && [ "$s" = "$p" ] || { echo "$k: stat $s, metrics.prom $p"; return 1; }
	done
}

@test "stat and metrics.prom of one snapshot show the same prefetch counters" {
	local n0 pairs=0 end ts
	start_siblings 80 32
	push_to_swap
	echo on > "$D/prefetch"
	[ "$(cat "$D/prefetch")" = "[on] off" ]	# a write reads back at once
	# sib_a's page-ins start read-backs: read pairs while the counters move
	n0=0
	[ -f "$OUT/sib_a.result" ] && n0=$(wc -l < "$OUT/sib_a.result")
	kill -USR1 "$(pid_of sib_a)"
	end=$(( $(date +%s) + 4 ))
	while [ "$(date +%s)" -lt "$end" ]; do
		cp "$D/stat" "$OUT/stat"
		cp "$ADAPTFS_MNT/metrics.prom" "$OUT/prom"
		ts=$(awk '$1 == "adapt_last_sample_timestamp_seconds" { sub(/\./, "", $2); print $2 }' "$OUT/prom")
		# a pair from one snapshot (the same timestamp) agrees
		[ "$ts" = "$(key timestamp_usec "$OUT/stat")" ] || continue
		same_counters
		pairs=$((pairs + 1))
	done
	echo "$pairs pairs from one snapshot"
	[ "$pairs" -ge 1 ]
	wait_for -t 60 sh -c "[ \$(wc -l < $OUT/sib_a.result) -gt $n0 ]"
	wait_for -t 10 key_at_least prefetch_triggers "$D/stat" 1
	# and once the counters settle, whatever the pair
	sleep 1
	cp "$D/stat" "$OUT/stat"
	cp "$ADAPTFS_MNT/metrics.prom" "$OUT/prom"
	same_counters
}

@test "prefetch on a container with no swapped memory does nothing and costs nothing measurable" {
	cg_spawn calm bash -c "python3 $MEMTOUCH calm_a anon 16 $OUT & python3 $MEMTOUCH calm_b anon 16 $OUT & wait"
	d=$ADAPTFS_MNT/$(cg_id calm | cut -c1-12)
	wait_for -t 30 test -s "$OUT/calm_a.ready"
	wait_for -t 30 test -s "$OUT/calm_b.ready"
	wait_for -t 5 test -d "$d"
	echo on > "$d/prefetch"
	# the prefetch engine runs on its own thread: measure that thread alone
	engine=$(grep -l '^adapt-prefetch$' /proc/"$ADAPTFS_PID"/task/*/comm | head -1)
	engine=${engine%/comm}
	cpu0=$(awk '{ print $14 + $15 }' "$engine/stat")
	for i in 1 2 3; do
		[ "$(touch_all calm_a)" -eq 0 ]
	done
	t0=$(date +%s%N)
	wait_for -t 5 sh -c "[ \$(( \$(date +%s%N) - $t0 )) -ge 2000000000 ]"
	cpu1=$(awk '{ print $14 + $15 }' "$engine/stat")
	[ "$(key prefetch_triggers "$d/stat")" -eq 0 ]
	[ "$(key prefetch_bytes "$d/stat")" -eq 0 ]
	# polling one memory.stat every 10 ms: under 5% of a core over those seconds
	echo "prefetch engine CPU: $((cpu1 - cpu0)) ticks"
	[ $(( cpu1 - cpu0 )) -le 12 ]
}

@test "bad writes to prefetch get EINVAL and change nothing" {
	cg_spawn bad sleep 1000
	d=$ADAPTFS_MNT/$(cg_id bad | cut -c1-12)
	wait_for -t 5 test -d "$d"
	for v in yes 2 "on off" ""; do
		run bash -c "printf '%s\n' '$v' > '$d/prefetch'"
		[ "$status" -ne 0 ]
		[[ "$output" == *"Invalid argument"* ]]
	done
	[ "$(cat "$d/prefetch")" = "on [off]" ]
}
