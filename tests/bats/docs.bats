#!/usr/bin/env bats
# The documentation says what a real mount serves: every file name, every key of every flat
# keyed and nested keyed file, every metrics.prom family and label is in man/adaptfs.5, and
# every key follows the unit rule of its CONVENTIONS (units in key names: _usec, _bytes,
# _per_sec, _percent; metrics.prom in base units). Every example of etc/examples is run by a
# test against a real mount.

setup_file() {
	load lib/mount
	load lib/containers
	cfg=$BATS_FILE_TMPDIR/adaptfs.conf
	# a peer whose probe answers, so that hosts has every key
	cat >"$cfg" <<-CONF
		[host docs-peer]
		address = 10.232.2.2
		transport = env
	CONF
	adaptfs_mount --interval 0.5 --config "$cfg"
	export CG_CONTROLLERS="cpuacct cpu memory blkio pids cpuset unified"
	# a container with prefetch on (its prefetch_* counters) and a pin (cpus= in placement)
	CG_PATH=/machine.slice/systemd-nspawn@docs_w.service cg_spawn docs_w sleep 1000
	wait_for -t 15 test -d "$ADAPTFS_MNT/docs_w"
	echo on >"$ADAPTFS_MNT/docs_w/prefetch"
	echo cpus=0 >"$ADAPTFS_MNT/docs_w/placement"
	# rates come with the second sample, the peer with its first probe
	wait_for -t 10 grep -q '^cpu_usage_percent ' "$ADAPTFS_MNT/docs_w/stat"
	wait_for -t 15 grep -q ' reachable=yes' "$ADAPTFS_MNT/hosts"
	export MAN5=$_ADAPT_REPO_ROOT/man/adaptfs.5
}

teardown_file() {
	load lib/containers
	teardown_all
	adaptfs_umount
}

setup() {
	load lib/mount
}

W=docs_w

# served_names: every file name, then every key and label the mount serves, one a line
served_names() {
	local m=$ADAPTFS_MNT f
	# file names: the root's fixed entries, host/'s and a workload's
	ls "$m" | grep -Ev "^$W\$" | grep -Fx -e events -e metrics.prom -e host -e hosts
	ls "$m/host" "$m/$W" | grep -v -e '^$' -e ':$'
	# flat keyed files: the first word of each line
	for f in cores cpu load memory pressure stat; do awk '{ print $1 }' "$m/host/$f"; done
	for f in cpu io threads sched_wait major_faults memory stat; do awk '{ print $1 }' "$m/$W/$f"; done
	# nested keyed and KEY=VALUE lines: hosts, class, placement
	cat "$m/hosts" "$m/$W/class" "$m/$W/placement" | tr ' ' '\n' | sed -n 's/^\([a-z_]*\)=.*/\1/p'
	# metrics.prom: families and label names
	awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$m/metrics.prom"
	grep -v '^#' "$m/metrics.prom" | grep -o '[{,][a-z_]*="' | tr -d '{,="'
}

# man_words PAGE: the page's text without troff's escapes, one word a line
man_words() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/\\(aq//g' "$1" |
		grep -o '[A-Za-z0-9_.]*' | sort -u
}

# missing_from PAGE NAMES...: print the names the page does not have as a word
missing_from() {
	local page=$1
	shift
	comm -23 <(printf '%s\n' "$@" | sort -u) <(man_words "$page")
}

@test "every file, key and label a real mount serves is in adaptfs.5" {
	mapfile -t names < <(served_names | sort -u)
	echo "${#names[@]} names served"
	# the fixture served what it should: a workload's stat with prefetch counters, hosts
	# with its peer's keys, metrics.prom with its labels
	printf '%s\n' "${names[@]}" | grep -qx prefetch_triggers
	printf '%s\n' "${names[@]}" | grep -qx reachable
	printf '%s\n' "${names[@]}" | grep -qx adapt_peer_up
	printf '%s\n' "${names[@]}" | grep -qx workload
	missing=$(missing_from "$MAN5" "${names[@]}")
	[ -z "$missing" ] || { echo "served but not in man/adaptfs.5:"; echo "$missing"; false; }
}

@test "the check fails for a served key the page lacks" {
	# the page without one key that every mount serves: the check names it
	sed 's/cores_online//g' "$MAN5" >"$BATS_TEST_TMPDIR/adaptfs.5"
	mapfile -t names < <(served_names | sort -u)
	[ "$(comm -13 <(missing_from "$MAN5" "${names[@]}") \
		<(missing_from "$BATS_TEST_TMPDIR/adaptfs.5" "${names[@]}"))" = cores_online ]
}

@test "every key follows the unit rule: units in the name, no doubled prefix, metrics.prom in base units" {
	local m=$ADAPTFS_MNT bad=
	keys=$(for f in cores cpu load memory pressure stat; do awk '{ print $1 }' "$m/host/$f"; done
		for f in cpu io threads sched_wait major_faults memory stat; do awk '{ print $1 }' "$m/$W/$f"; done)
	# flat keys: _usec, _bytes, _per_sec, _percent; never another time or size unit, never
	# the file's name twice (load_load1)
	bad+=$(grep -Ev '(^|_)per_sec$' <<<"$keys" |
		grep -E '_(ms|msec|millis|ns|nsec|us|s|sec|secs|seconds|kb|kib|mb|mib|gb|gib|pct)$' || true)
	bad+=$(grep -E '^([a-z]+)_\1' <<<"$keys" || true)
	# metrics.prom: seconds and bytes, counters end in _total and nothing else does
	bad+=$(awk '$1 == "#" && $2 == "TYPE" {
		if ($3 ~ /_(usec|ms|msec|ns|nsec|kb|kib|mb|mib)(_total)?$/) print $3
		if (($4 == "counter") != ($3 ~ /_total$/)) print $3 " (" $4 ")"
	}' "$m/metrics.prom")
	[ -z "$bad" ] || { echo "against the unit rule:"; echo "$bad"; false; }
	# the rule as adaptfs.5 states it
	grep -q '^Keys are snake_case with the unit in the name:' "$MAN5"
}

@test "every example in etc/examples is run against a real mount by a test" {
	# EXAMPLE -> the bats file and test that run it
	declare -A by=(
		[alert.sh]='integrations.bats:alert.sh alerts for a spinning workload'
		[adaptfs-alert.cron]='integrations.bats:the cron example is a valid cron.d line'
		[prefetch-watcher.sh]='integrations.bats:the prefetch watcher turns prefetch on'
		[collectd-adaptfs.sh]="integrations.bats:collectd's exec plugin records adaptfs figures"
		[telegraf.conf]='integrations.bats:every adapt_ family the Telegraf snippet names is served'
		[adaptfs-watch.py]='poll.bats:placement: a poller for POLLPRI wakes'
	)
	local dir=$_ADAPT_REPO_ROOT/etc/examples f file t
	for f in "$dir"/*; do
		f=${f##*/}
		[[ -n ${by[$f]:-} ]] || { echo "etc/examples/$f: no test runs it (add one, and a line here)"; false; }
		file=${by[$f]%%:*} t=${by[$f]#*:}
		grep -qF "@test \"$t" "$_ADAPT_REPO_ROOT/tests/bats/$file" || { echo "$file has no test \"$t...\""; false; }
		grep -q "$f" "$_ADAPT_REPO_ROOT/tests/bats/$file" || { echo "$file does not name $f"; false; }
	done
	# and each one is still there
	for f in "${!by[@]}"; do [ -e "$dir/$f" ]; done
}
