#!/usr/bin/env bats
# Staleness can be seen: every file's mtime is the time of the snapshot it shows, metrics.prom
# says when its figures were sampled, how long the round took and which build serves them,
# and carries the moves to peers and the peers' reachability that host/stat and hosts have.

setup_file() {
	load lib/mount
	load lib/containers
	cfg=$BATS_FILE_TMPDIR/adaptfs.conf
	# one peer whose transport works (runs the probe here), one whose transport fails
	cat >"$cfg" <<CONF
[host frsh-near]
address = 10.232.1.2
transport = env
[host frsh-dead]
address = 10.232.1.9
transport = false
CONF
	adaptfs_mount --interval 0.5 --config "$cfg"
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
}

setup() {
	load lib/mount
	load lib/containers
}

teardown() {
	teardown_all
}

mtime() { stat -c %Y "$1"; }
# the file's mtime is within $2 seconds of now
mtime_recent() { awk -v m="$(mtime "$1")" -v n="$(date +%s)" -v d="$2" 'BEGIN { exit !(m >= n - d && m <= n + 1) }'; }
mtime_after() { (($(mtime "$1") > $2)); }
mtime_since() { (($(mtime "$1") >= $2)); }
prom_value() { awk -v k="$1" '$1 == k { print $2; ok = 1 } END { exit !ok }' "$ADAPTFS_MNT/metrics.prom"; }

@test "a file's mtime and ctime are its snapshot's time, a couple of intervals old at most, and advance" {
	local f m
	for f in metrics.prom host/cpu host/stat hosts; do
		mtime_recent "$ADAPTFS_MNT/$f" 3
		[ "$(stat -c %Z "$ADAPTFS_MNT/$f")" = "$(mtime "$ADAPTFS_MNT/$f")" ]
	done
	m=$(mtime "$ADAPTFS_MNT/metrics.prom")
	wait_for -t 5 mtime_after "$ADAPTFS_MNT/metrics.prom" "$m"
	m=$(mtime "$ADAPTFS_MNT/host/stat")
	wait_for -t 5 mtime_after "$ADAPTFS_MNT/host/stat" "$m"
}

@test "a workload's files carry the snapshot's time, its directory the time it appeared" {
	local name t0 m
	t0=$(date +%s)
	cg_spawn frsh_a sleep 1000
	name=$(cg_id frsh_a | cut -c1-12)
	wait_for -t 5 test -d "$ADAPTFS_MNT/$name"
	# the root changed when the workload appeared (attributes are cached up to 1 s)
	wait_for -t 3 mtime_since "$ADAPTFS_MNT" "$t0"
	m=$(mtime "$ADAPTFS_MNT/$name")
	((m >= t0 && m <= $(date +%s)))
	mtime_recent "$ADAPTFS_MNT/$name/cpu" 3
	mtime_recent "$ADAPTFS_MNT/$name/placement" 3
	m=$(mtime "$ADAPTFS_MNT/$name/stat")
	wait_for -t 5 mtime_after "$ADAPTFS_MNT/$name/stat" "$m"
	# the directory stays at its appearance while its files advance
	[ "$(mtime "$ADAPTFS_MNT/$name")" -le "$m" ]
}

@test "events' mtime is the time of its newest line" {
	local m
	m=$(mtime "$ADAPTFS_MNT/events")
	((m > 0))
	cg_spawn frsh_ev sleep 1000
	wait_for -t 5 grep -q "$(cg_id frsh_ev | cut -c1-12): appeared" "$ADAPTFS_MNT/events"
	mtime_recent "$ADAPTFS_MNT/events" 3
}

@test "metrics.prom has the sample time, which advances, the round's duration and the build" {
	local t n
	t=$(prom_value adapt_last_sample_timestamp_seconds)
	n=$(date +%s)
	awk -v t="$t" -v n="$n" 'BEGIN { exit !(t > n - 3 && t < n + 1) }'
	wait_for -t 5 awk -v t="$t" '$1 == "adapt_last_sample_timestamp_seconds" && $2 > t { ok = 1 } END { exit !ok }' "$ADAPTFS_MNT/metrics.prom"
	# the round's duration, in seconds, is less than the 0.5 s interval on an idle host
	prom_value adapt_sample_duration_seconds | awk '{ exit !($1 >= 0 && $1 < 0.5) }'
	grep -Eq '^adapt_build_info\{version="[^"]+"\} 1$' "$ADAPTFS_MNT/metrics.prom"
	grep -q '^# TYPE adapt_last_sample_timestamp_seconds gauge$' "$ADAPTFS_MNT/metrics.prom"
}

@test "metrics.prom has the moves to peers by result and each probed peer's reachability" {
	grep -qx 'adapt_migrations_total{result="done"} 0' "$ADAPTFS_MNT/metrics.prom"
	grep -qx 'adapt_migrations_total{result="failed"} 0' "$ADAPTFS_MNT/metrics.prom"
	grep -qx 'migrations 0' "$ADAPTFS_MNT/host/stat"
	# the same reachability as hosts says, once the probes are done
	wait_for -t 10 grep -qx "frsh-dead address=10.232.1.9 reachable=no" "$ADAPTFS_MNT/hosts"
	wait_for -t 10 grep -q "^frsh-near .*reachable=yes" "$ADAPTFS_MNT/hosts"
	wait_for -t 5 grep -qx 'adapt_peer_up{host="frsh-dead"} 0' "$ADAPTFS_MNT/metrics.prom"
	wait_for -t 5 grep -qx 'adapt_peer_up{host="frsh-near"} 1' "$ADAPTFS_MNT/metrics.prom"
}

@test "promtool check metrics passes with the new series" {
	command -v promtool || skip "promtool (Debian package prometheus) not installed"
	run promtool check metrics <"$ADAPTFS_MNT/metrics.prom"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
