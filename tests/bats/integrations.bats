#!/usr/bin/env bats
# The monitoring integrations of etc/examples/ against a real mount, real workloads and the
# real programs from Debian: alert.sh (+ its cron line), prometheus-node-exporter's textfile
# collector, promtool, the inotifywait prefetch watcher, collectd's exec plugin.

setup_file() {
	load lib/mount
	load lib/containers
	export EXAMPLES=$_ADAPT_REPO_ROOT/etc/examples
	adaptfs_mount --interval 0.5
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
}

setup() {
	load lib/mount
	load lib/containers
	STARTED=()
}

# every process a test started in the background, by pid; then the workloads
teardown() {
	stop_started
	if [[ -f $BATS_TEST_TMPDIR/collectd.dir ]]; then
		rm -rf "$(cat "$BATS_TEST_TMPDIR/collectd.dir")"
	fi
	teardown_all
}

# start CMD... in the background, output to FILE, without bats' fd 3; its pid in STARTED
start_bg() {
	local out=$1
	shift
	"$@" </dev/null >"$out" 2>&1 3>&- &
	BG_PID=$!
	STARTED+=("$BG_PID")
}

wl_name() { cg_id "$1" | cut -c1-12; }
workloads_listed() { grep -o 'workload="[^"]*"' "$ADAPTFS_MNT/metrics.prom" | sort -u; }
class_is() { grep -q "^$2 " "$ADAPTFS_MNT/$1/class"; }

# a fake mount: host/stat and workloads NAME=CLASS:FAULTS_PER_SEC...
fake_mount() {
	local dir=$1 spec name rest
	shift
	mkdir -p "$dir/host"
	echo "cores_online 2" >"$dir/host/stat"
	for spec in "$@"; do
		name=${spec%%=*}
		rest=${spec#*=}
		mkdir -p "$dir/$name"
		echo "${rest%%:*} mode=container" >"$dir/$name/class"
		printf 'total 1000\nper_sec %s\n' "${rest#*:}" >"$dir/$name/major_faults"
	done
}

# ---------------------------------------------------------------- alert.sh + cron ---------

@test "alert.sh alerts for a spinning workload once the classifier calls it cpu" {
	cg_spawn spin bash -c 'while :; do :; done'
	name=$(wl_name spin)
	wait_for -t 3 test -d "$ADAPTFS_MNT/$name"
	# the class needs a smoothing window of samples to settle
	wait_for -t 60 class_is "$name" cpu || { cat "$ADAPTFS_MNT/$name/class" "$ADAPTFS_MNT/$name/stat"; false; }
	run sh "$EXAMPLES/alert.sh" "$ADAPTFS_MNT" 1000000 cpu
	echo "$output"
	[ "$status" -eq 1 ]
	grep -Eq "^ALERT $name class=cpu major_faults_per_sec=[0-9.]+ reason=class\$" <<<"$output"
	# not in the set and far below the threshold: no line for it
	run sh "$EXAMPLES/alert.sh" "$ADAPTFS_MNT" 1000000 memory io
	[[ $output != *"ALERT $name "* ]]
}

@test "alert.sh: faults above the threshold alert, below do not; exit status says if any did" {
	m=$BATS_TEST_TMPDIR/fake
	fake_mount "$m" calm=idle:0.00 thrash=memory:250.00 busy=cpu:12.50
	run sh "$EXAMPLES/alert.sh" "$m" 100 nosuch
	[ "$status" -eq 1 ]
	[ "$output" = "ALERT thrash class=memory major_faults_per_sec=250.00 reason=faults" ]
	run sh "$EXAMPLES/alert.sh" "$m" 10 memory
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "ALERT busy class=cpu major_faults_per_sec=12.50 reason=faults" ]
	[ "${lines[1]}" = "ALERT thrash class=memory major_faults_per_sec=250.00 reason=class,faults" ]
	[ "${#lines[@]}" -eq 2 ]
	run sh "$EXAMPLES/alert.sh" "$m" 1000 nosuch
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# a workload whose files vanished, or lack a key, is skipped or shown without the figure
	mkdir "$m/gone"
	printf 'total 3\n' >"$m/calm/major_faults"
	run sh "$EXAMPLES/alert.sh" "$m" 1000 idle
	[ "$status" -eq 1 ]
	[ "$output" = "ALERT calm class=idle major_faults_per_sec=- reason=class" ]
	run sh "$EXAMPLES/alert.sh" "$BATS_TEST_TMPDIR/nonexistent" 10
	[ "$status" -eq 2 ]
	run sh "$EXAMPLES/alert.sh" "$m" lots
	[ "$status" -eq 2 ]
}

@test "the cron example is a valid cron.d line whose command runs alert.sh into logger" {
	line=$(grep -v '^#' "$EXAMPLES/adaptfs-alert.cron" | grep .)
	[ "$(wc -l <<<"$line")" -eq 1 ]
	read -r m h dom mon dow user cmd <<<"$line"
	[ "$m $h $dom $mon $dow $user" = "* * * * * root" ]
	[[ $cmd == *"| logger -t adaptfs-alert"* ]]
	# the same command, with this tree's script and a fake mount; logger prints what it would
	# send (no syslog socket here: it is pointed at loopback UDP and sends nothing)
	cmd=${cmd//\/usr\/local\/sbin\/adaptfs-alert/sh $EXAMPLES/alert.sh}
	cmd=${cmd//\/adapt /$ADAPTFS_MNT }
	cmd=${cmd/logger /logger --no-act --stderr -n 127.0.0.1 -P 9 -d }
	m=$BATS_TEST_TMPDIR/fake
	fake_mount "$m" thrash=memory:250.00
	real=$cmd
	cmd=${cmd//$ADAPTFS_MNT /$m }
	run bash -c "$cmd"
	[ "$status" -eq 0 ]
	[[ $output == *"adaptfs-alert"*"ALERT thrash class=memory"* ]]
	# and on the real mount: alert.sh reads it (status 0, or 1 with alerts; 2 would be an
	# unreadable mount), every line it hands to logger an ALERT
	run bash -c "set -o pipefail; $real"
	echo "$output"
	[[ $status -eq 0 || $status -eq 1 ]]
	! grep -v 'ALERT ' <<<"$output" | grep -q adaptfs-alert
}

# ---------------------------------------------------------------- Prometheus --------------

# port_of PID: the TCP port PID listens on (it was given port 0)
port_of() { ss -ltnpH 2>/dev/null | awk -v p="pid=$1," 'index($0, p) { n = split($4, a, ":"); print a[n]; exit 0 }' | grep .; }

# scrape with the node exporter's textfile collector reading DIR; prints /metrics
node_exporter_scrape() {
	local dir=$1 port
	start_bg "$BATS_TEST_TMPDIR/node_exporter.log" prometheus-node-exporter \
		--web.listen-address=127.0.0.1:0 --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$dir"
	wait_for -t 10 port_of "$BG_PID" || { cat "$BATS_TEST_TMPDIR/node_exporter.log" >&2; return 1; }
	port=$(port_of "$BG_PID")
	curl -fsS --max-time 10 "http://127.0.0.1:$port/metrics"
}

@test "node_exporter's textfile collector serves adapt_ metrics for every workload" {
	command -v prometheus-node-exporter || skip "prometheus-node-exporter not installed"
	command -v curl || skip "curl not installed"
	cg_spawn spin bash -c 'while :; do :; done'
	name=$(wl_name spin)
	# rates come with the second sample after discovery
	wait_for -t 5 grep -q "^adapt_cpu_usage_percent{.*workload=\"$name\"" "$ADAPTFS_MNT/metrics.prom"
	# a directory holding a symlink adapt.prom -> MNT/metrics.prom: the collector reads *.prom
	dir=$BATS_TEST_TMPDIR/textfile
	mkdir -p "$dir"
	ln -s "$ADAPTFS_MNT/metrics.prom" "$dir/adapt.prom"
	before=$(workloads_listed)
	node_exporter_scrape "$dir" >"$BATS_TEST_TMPDIR/metrics"
	after=$(workloads_listed)
	grep -q '^node_textfile_scrape_error 0$' "$BATS_TEST_TMPDIR/metrics"
	grep -Eq "^adapt_cpu_usage_percent\\{.*workload=\"$name\".*\\} [0-9.e+-]+\$" "$BATS_TEST_TMPDIR/metrics" ||
		{ grep "workload=\"$name\"" "$BATS_TEST_TMPDIR/metrics" | head; false; }
	# every workload of the mount is there (other tests on this host add and remove theirs:
	# those listed both before and after the scrape)
	for w in $(comm -12 <(echo "$before") <(echo "$after")); do
		grep -q "^adapt_cpu_usage_seconds_total{.*$w" "$BATS_TEST_TMPDIR/metrics" || { echo "missing $w"; false; }
	done
}

@test "node_exporter's textfile directory can be the mount itself" {
	command -v prometheus-node-exporter || skip "prometheus-node-exporter not installed"
	command -v curl || skip "curl not installed"
	cg_spawn idle sleep 1000
	name=$(wl_name idle)
	wait_for -t 3 grep -q "workload=\"$name\"" "$ADAPTFS_MNT/metrics.prom"
	node_exporter_scrape "$ADAPTFS_MNT" >"$BATS_TEST_TMPDIR/metrics"
	grep -q '^node_textfile_scrape_error 0$' "$BATS_TEST_TMPDIR/metrics"
	grep -q "^adapt_threads{.*workload=\"$name\"" "$BATS_TEST_TMPDIR/metrics"
	grep -q '^adapt_host_cores ' "$BATS_TEST_TMPDIR/metrics"
}

@test "promtool check metrics passes on metrics.prom with workloads" {
	command -v promtool || skip "promtool (Debian package prometheus) not installed"
	cg_spawn idle sleep 1000
	wait_for -t 3 grep -q "workload=\"$(wl_name idle)\"" "$ADAPTFS_MNT/metrics.prom"
	run promtool check metrics <"$ADAPTFS_MNT/metrics.prom"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "every adapt_ family the Telegraf snippet names is served" {
	local name names
	cg_spawn tlg sleep 1000
	wait_for -t 3 grep -q "^adapt_major_faults_total{workload=\"$(wl_name tlg)\"" "$ADAPTFS_MNT/metrics.prom"
	names=$(grep -o 'adapt_[a-z0-9_]*' "$EXAMPLES/telegraf.conf" | sort -u)
	[ -n "$names" ]
	for name in $names; do
		grep -Eq "^$name[{ ]" "$ADAPTFS_MNT/metrics.prom" || { echo "not served: $name"; false; }
	done
}

# ---------------------------------------------------------------- prefetch watcher --------

@test "the prefetch watcher turns prefetch on for a new matching cgroup, or says why not" {
	command -v inotifywait || skip "inotifywait (inotify-tools) not installed"
	# the parent exists before the watch: the watcher sees the new child by its own event
	CG_PATH='/machine.slice/systemd-nspawn@{name}.service' cg_spawn adt_watch_parent sleep 1000
	out=$BATS_TEST_TMPDIR/watcher.out
	start_bg "$out" bash "$EXAMPLES/prefetch-watcher.sh" -m "$ADAPTFS_MNT" -t 10 \
		'^/machine\.slice/systemd-nspawn@adt_watch\.service$'
	watcher=$BG_PID
	wait_for -t 20 grep -q '^prefetch-watcher: watching ' "$out" || { cat "$out"; false; }
	CG_PATH='/machine.slice/systemd-nspawn@{name}.service' cg_spawn adt_watch sleep 1000
	wait_for -t 15 grep -q 'adt_watch\.service: ' "$out" || { cat "$out"; false; }
	cat "$out"
	line=$(grep 'adt_watch\.service: ' "$out")
	# only the matching cgroup, once
	[ "$(wc -l <<<"$line")" -eq 1 ]
	run grep -c 'adt_watch_parent' "$out"
	[ "$output" = 0 ]
	case $line in
	*": adt_watch: prefetch on")
		grep -q '\[on\]' "$ADAPTFS_MNT/adt_watch/prefetch" ;;
	*": adt_watch: prefetch on failed: "?*)
		# the explicit error: no prefetch file in this adaptfs, or refused for this workload
		[[ ! -e $ADAPTFS_MNT/adt_watch/prefetch || $line != *"No such file or directory" ]] ;;
	*)
		echo "unexpected: $line"; false ;;
	esac
	# killing the watcher stops its inotifywait too
	kids=$(ps -o pid= --ppid "$watcher" | tr -d ' ')
	kill -TERM "$watcher"
	wait_for -t 5 _adapt_pid_gone "$watcher"
	for k in $kids; do wait_for -t 5 _adapt_pid_gone "$k"; done
}

# ---------------------------------------------------------------- collectd ----------------

@test "collectd's exec plugin records adaptfs figures through collectd-adaptfs.sh" {
	command -v collectd || skip "collectd not installed (Debian package collectd-core)"
	cg_spawn spin bash -c 'while :; do :; done'
	name=$(wl_name spin)
	wait_for -t 3 test -d "$ADAPTFS_MNT/$name"
	# collectd execs as an unprivileged user: the script and data live where it may go
	d=$(mktemp -d /tmp/adaptfs-collectd.XXXXXX)
	chmod 0755 "$d"
	echo "$d" >"$BATS_TEST_TMPDIR/collectd.dir"
	install -m 0755 "$EXAMPLES/collectd-adaptfs.sh" "$d/adaptfs.sh"
	cat >"$d/collectd.conf" <<-EOF
		Hostname "adt"
		FQDNLookup false
		Interval 1
		BaseDir "$d"
		PIDFile "$d/collectd.pid"
		TypesDB "/usr/share/collectd/types.db"
		LoadPlugin exec
		LoadPlugin csv
		<Plugin exec>
		  Exec "nobody" "$d/adaptfs.sh" "$ADAPTFS_MNT"
		</Plugin>
		<Plugin csv>
		  DataDir "$d/csv"
		</Plugin>
	EOF
	start_bg "$BATS_TEST_TMPDIR/collectd.log" collectd -f -C "$d/collectd.conf"
	csv_glob="$d/csv/adt/adaptfs-$name/gauge-cpu_usage_percent-*"
	wait_for -t 20 bash -c "compgen -G '$csv_glob'" || { cat "$BATS_TEST_TMPDIR/collectd.log"; false; }
	# a row "epoch,value" with the spinning workload's CPU above 50
	wait_for -t 10 bash -c "awk -F, 'NR > 1 && \$2 > 50 { ok = 1 } END { exit !ok }' $csv_glob"
	compgen -G "$d/csv/adt/adaptfs-host/gauge-cpu_usage_percent-*"
	kill -TERM "$BG_PID"
	wait_for -t 10 _adapt_pid_gone "$BG_PID"
	rm -rf "$d"
}
