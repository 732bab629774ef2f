#!/usr/bin/env bats
# The Prometheus rules of etc/prometheus/adaptfs.rules.yml with the real tools: promtool
# checks them and runs their unit tests (tests/prometheus/adaptfs.rules.test.yml: each
# alert fires, and stays silent on the near misses), and every family they name is
# served by a real mount through the real node_exporter, as the rules expect it (the
# textfile recipe of adaptfs(5)), including the error a stopped daemon leaves.

setup_file() {
	export RULES=$BATS_TEST_DIRNAME/../../etc/prometheus/adaptfs.rules.yml
	export RULES_TEST=$BATS_TEST_DIRNAME/../prometheus/adaptfs.rules.test.yml
}

setup() {
	load lib/mount
	load lib/containers
	STARTED=()
}

# the node_exporter a test started, by pid; the daemon; the workloads
teardown() {
	stop_started
	teardown_all
	adaptfs_umount || true
}

# port_of PID: the TCP port PID listens on (it was given port 0)
port_of() { ss -ltnpH 2>/dev/null | awk -v p="pid=$1," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit 0 }' | grep .; }

# start node_exporter's textfile collector on DIR (port 0); NE_PORT
node_exporter_start() {
	prometheus-node-exporter --web.listen-address=127.0.0.1:0 --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$1" \
		</dev/null >"$BATS_TEST_TMPDIR/node_exporter.log" 2>&1 3>&- &
	STARTED+=("$!")
	wait_for -t 10 port_of "$!" || { cat "$BATS_TEST_TMPDIR/node_exporter.log" >&2; return 1; }
	NE_PORT=$(port_of "$!")
}

scrape() { curl -fsS --max-time 10 "http://127.0.0.1:$NE_PORT/metrics"; }

@test "promtool check rules passes on etc/prometheus/adaptfs.rules.yml" {
	command -v promtool || skip "promtool (Debian package prometheus) not installed"
	run promtool check rules "$RULES"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"SUCCESS: "*" rules found"* ]]
}

@test "promtool test rules: every alert fires on its series and stays silent otherwise" {
	command -v promtool || skip "promtool (Debian package prometheus) not installed"
	run promtool test rules "$RULES_TEST"
	echo "$output"
	[ "$status" -eq 0 ]
	# every alert of the rules file is tested both firing and silent
	local alert
	for alert in $(awk '$1 == "-" && $2 == "alert:" { print $3 }' "$RULES"); do
		grep -Eq "alertname: $alert\$" "$RULES_TEST" || { echo "$alert never fires in the test"; false; }
		grep -Eq "alertname: $alert, eval_time: [0-9]+m, exp_alerts: \\[\\]" "$RULES_TEST" ||
			{ echo "$alert is never tested silent"; false; }
	done
}

@test "every family the rules name is served by a real mount through node_exporter; a stopped daemon is a textfile error" {
	command -v prometheus-node-exporter || skip "prometheus-node-exporter not installed"
	command -v curl || skip "curl not installed"
	# a peer that never answers (adapt_peer_up 0), a container with prefetch counters
	cfg=$BATS_TEST_TMPDIR/adaptfs.conf
	printf '[host dead]\naddress = 10.232.0.9\ntransport = false\n' >"$cfg"
	adaptfs_mount --interval 0.5 --config "$cfg"
	cg_spawn promrules sleep 1000
	name=$(cg_id promrules | cut -c1-12)
	wait_for -t 5 test -d "$ADAPTFS_MNT/$name"
	echo on >"$ADAPTFS_MNT/$name/prefetch"
	wait_for -t 10 grep -q '^adapt_peer_up{host="dead"} 0$' "$ADAPTFS_MNT/metrics.prom"
	wait_for -t 5 grep -q "^adapt_prefetch_skipped_thrash_total{workload=\"$name\"" "$ADAPTFS_MNT/metrics.prom"
	# the recipe: a textfile directory with a symlink adapt.prom -> MNT/metrics.prom
	dir=$BATS_TEST_TMPDIR/textfile
	mkdir -p "$dir"
	ln -s "$ADAPTFS_MNT/metrics.prom" "$dir/adapt.prom"
	node_exporter_start "$dir"
	scrape >"$BATS_TEST_TMPDIR/up.txt"
	grep -q '^node_textfile_scrape_error 0$' "$BATS_TEST_TMPDIR/up.txt"
	# (words with a colon are the recording rules' own names)
	names=$(grep -v '^ *#' "$RULES" | grep -Eo '[a-z0-9_:]+' | grep -E '^(adapt|node)_[a-z0-9_]+$' |
		grep -v '^node_exporter' | sort -u)
	[ -n "$names" ]
	for n in $names; do
		grep -Eq "^$n[{ ]" "$BATS_TEST_TMPDIR/up.txt" || { echo "not served: $n"; false; }
	done
	# the file label of node_textfile_mtime_seconds is matched by the rules' regex (RE2 is
	# anchored: ^...$ here), and the mtime is the snapshot's time, not 0
	re=$(grep -o 'node_textfile_mtime_seconds{file=~"[^"]*"' "$RULES" | sed 's/.*=~"//; s/"$//; s/\\\\/\\/g')
	line=$(grep '^node_textfile_mtime_seconds{' "$BATS_TEST_TMPDIR/up.txt")
	file=$(sed 's/.*file="\([^"]*\)".*/\1/' <<<"$line")
	grep -Eq "^($re)\$" <<<"$file" || { echo "file=\"$file\" not matched by $re"; false; }
	mtime=$(awk '{ printf "%d", $2 }' <<<"$line")
	(( mtime > $(date +%s) - 60 ))
	# the sample age the rules compute is small on a working daemon
	ts=$(awk '/^adapt_last_sample_timestamp_seconds / { printf "%d", $2 }' "$BATS_TEST_TMPDIR/up.txt")
	(( $(date +%s) - ts < 10 ))
	# the daemon stops: no adapt_ family and node_textfile_scrape_error 1 (AdaptfsDown)
	adaptfs_umount
	scrape >"$BATS_TEST_TMPDIR/down.txt"
	grep -q '^node_textfile_scrape_error 1$' "$BATS_TEST_TMPDIR/down.txt"
	! grep -q '^adapt_' "$BATS_TEST_TMPDIR/down.txt"
}
