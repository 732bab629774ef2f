#!/usr/bin/env bats
# Warm standby (adaptfs-workloads(5), standby =): a busybox httpd recipe with
# standby = yes keeps the other mode's instance prepared, switches to it
# under a client polling every 20 ms, shows the standby's cost, notices a
# standby killed under it, and leaves nothing behind when it stops.
#
# Everything here is named ads-*: bridge ads-br0 (10.238.0.1/24), recipe
# ads-web (10.238.0.10). What the daemon makes for it is adaptfs-ads-web
# (runc container, netns, cgroups; adaptfs-ads-web.vm: QEMU's cgroups) and
# adapt<hash>[v] interfaces on ads-br0; teardown_file removes all of it even
# if a test failed half way.

BR=ads-br0
WEB=10.238.0.10
SWITCH_TIMEOUT=240

st() { echo "$BATS_FILE_TMPDIR"; }

setup_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	local d
	d=$(st)
	managed_setup "$d" "$BR" 10.238.0.1/24 02:ad:00:00:eb:01
	managed_web_files "$d" "ads-web-page-$$"
	# each start of the command appends a line to the data directory: a
	# standby that ran it early would show
	# /data/fail-vm makes the command exit at once in a VM (QEMU's CPU in
	# /proc/cpuinfo): a standby that fails to get ready
	WEB_FIRST='grep -qi qemu /proc/cpuinfo && test -e /data/fail-vm && exit 1' \
		managed_web_recipe "$d/recipes/ads-web.conf" "$d/web-root" "$d/web-data" "$WEB/24" 180 "standby = yes"
	managed_mount --interval 0.5 --config "$d/adaptfs.conf"
}

teardown_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	kill_poller
	managed_teardown "$(st)/adaptfs.conf" "$(st)/run" "$BR" ads-web
}

setup() {
	load lib/mount
	load lib/containers
	load lib/managed
}

teardown() {
	kill_poller
	teardown_all
}

start_poller() { poller_start "http://$WEB:8080/index.html" ads-web-page- 0.02 "$(st)/poll.log"; }
kill_poller() { poller_stop "$(st)/poll.log"; }

poll_lines() { wc -l <"$(st)/poll.log"; }
oks_after() { tail -n +"$(($1 + 1))" "$(st)/poll.log" | grep -c ' ok$'; }
polled_ok_after() { [ "$(oks_after "$1")" -gt 0 ]; }
# runs of failed answers after line N of the poll log
fail_runs_after() {
	tail -n +"$(($1 + 1))" "$(st)/poll.log" | awk '$2 != "ok" && prev == "ok" { runs++ } { prev = $2 } END { print runs + 0 }'
}
answers() { timeout 3 busybox wget -q -O - "http://$WEB:8080/index.html" | grep -q ads-web-page; }
kind_is() { [ "$(cat "$ADAPTFS_MNT/ads-web/kind")" = "$1" ]; }
stat_key() { awk -v k="$1" '$1 == k { print $2 }' "$ADAPTFS_MNT/ads-web/stat"; }
state_key() { awk -v k="$1" '$1 == k { print $2 }' "$(st)/run/workloads/ads-web/state"; }
standby_ready() { [ "$(stat_key standby_ready)" = 1 ]; }
switches_are() { [ "$(stat_key mode_switches)" = "$1" ]; }
write_mode() { timeout "$SWITCH_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$1" "$ADAPTFS_MNT/ads-web/mode"; }
said() { grep -q "ads-web: $1" "$ADAPTFS_MNT/events"; }
boots() { wc -l <"$(st)/web-data/boots"; }

# A switch to the ready standby under the poller: one short gap at most.
switch_warm() { # MODE
	local n sw
	wait_for -t "$SWITCH_TIMEOUT" standby_ready || { tail -n 20 "$ADAPTFS_MNT/events"; false; }
	sw=$(stat_key mode_switches)
	n=$(poll_lines)
	run write_mode "$1"
	[ "$status" -eq 0 ] || { tail -n 20 "$ADAPTFS_MNT/events"; adaptfs_log; false; }
	kind_is "$1 adaptfs"
	wait_for -t 10 polled_ok_after "$(poll_lines)"
	sleep_until_lines $((n + 10))
	echo "failed stretches: $(fail_runs_after "$n")"
	[ "$(fail_runs_after "$n")" -le 1 ]
	! grep -q ' wrong$' "$(st)/poll.log"
	grep -Eq "ads-web: mode: now $1 \(downtime [0-9.]+ s\), warm: quiesce [0-9.]+ s, hand-over [0-9.]+ s, ready [0-9.]+ s" "$ADAPTFS_MNT/events"
	wait_for -t 10 switches_are $((${sw:-0} + 1))
	[ "$(stat_key mode_warm)" = 1 ]
	# the three parts add up to the downtime (each read of the clock apart)
	local sum=$(($(stat_key mode_quiesce_usec) + $(stat_key mode_handover_usec) + $(stat_key mode_ready_usec)))
	echo "downtime $(stat_key mode_downtime_usec) us, parts $sum us"
	[ "$(stat_key mode_downtime_usec)" -ge "$sum" ]
	[ "$(stat_key mode_downtime_usec)" -le $((sum + 1000)) ]
}
has_lines() { [ "$(poll_lines)" -ge "$1" ]; }
sleep_until_lines() { wait_for -t 30 has_lines "$1"; }

@test "standby = yes: a VM waits, paused at its link, beside the running container; its cost is shown" {
	wait_for -t 60 kind_is "container adaptfs"
	wait_for -t 10 answers
	wait_for -t "$SWITCH_TIMEOUT" said "standby: vm ready" || { tail -n 20 "$ADAPTFS_MNT/events"; false; }
	pid=$(state_key standby_pid)
	[ -n "$pid" ] && [ -d "/proc/$pid" ]
	# QEMU, in its own cgroup, paused; its tap on the bridge but down
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-name adaptfs-ads-web,"
	grep -q ":/adaptfs-ads-web.vm$" "/proc/$pid/cgroup"
	tap=$(ip -o link show master "$BR" | awk -F': ' '$2 ~ /v$/ { print $2 }')
	[ -n "$tap" ]
	! ip -o link show dev "$tap" | grep -q ',UP'
	# the standby has not run the command: one boot, the container's
	[ "$(boots)" -eq 1 ]
	wait_for -t 10 standby_ready
	[ "$(stat_key standby_memory_bytes)" -gt $((1 << 20)) ]
	[ -n "$(stat_key standby_cpu_usec)" ]
	grep -Eq '^adapt_standby_memory_bytes\{workload="ads-web"[^}]*\} [1-9]' "$ADAPTFS_MNT/metrics.prom"
	grep -Eq '^adapt_standby_ready\{workload="ads-web"[^}]*\} 1$' "$ADAPTFS_MNT/metrics.prom"
	# adapttop's last column: the memory it holds, as MEM is shown
	top=$_ADAPT_REPO_ROOT/adapttop/adapttop
	if [[ -x $top ]]; then
		run "$top" -b -n 1 -f ads-web -m "$ADAPTFS_MNT"
		echo "$output"
		awk '$1 == "ads-web" { found = 1; if ($NF !~ /^[0-9.]+[KMG]$/) exit 1 } END { exit !found }' <<<"$output"
	else
		echo "# adapttop is not built (make adapttop): its STANDBY column not checked" >&3
	fi
	answers
}

@test "switches to the standby both ways under a 20 ms client: one short gap at most, never a wrong answer" {
	wait_for -t 60 kind_is "container adaptfs"
	wait_for -t 10 answers
	b0=$(boots)
	start_poller
	wait_for -t 10 polled_ok_after 0

	switch_warm vm
	[ "$(boots)" -eq $((b0 + 1)) ]
	# the old side is gone, the other prepared again: a created container
	! pgrep -f -- "-name adaptfs-ads-web," >/dev/null || [ "$(pgrep -f -- "-name adaptfs-ads-web," | wc -l)" -eq 1 ]
	wait_for -t 60 said "standby: container created"
	[ "$(runc state adaptfs-ads-web | jq -r .status)" = created ]

	switch_warm container
	[ "$(boots)" -eq $((b0 + 2)) ]
	[ "$(runc state adaptfs-ads-web | jq -r .status)" = running ]
	[ "$(stat_key mode_switches)" -eq 2 ]
	grep "ads-web: mode: now" "$ADAPTFS_MNT/events"
}

@test "a standby that fails to get ready: EIO, the frozen container serves on, the same process" {
	wait_for -t 60 kind_is "container adaptfs"
	wait_for -t "$SWITCH_TIMEOUT" standby_ready
	pid=$(state_key pid)
	b0=$(boots)
	touch "$(st)/web-data/fail-vm"
	run write_mode vm
	rm -f "$(st)/web-data/fail-vm"
	[ "$status" -ne 0 ]
	[[ $output == *"Input/output error"* ]]
	said "mode: vm failed to start: QEMU exited"
	said "mode: running as container again"
	kind_is "container adaptfs"
	# resumed, not started again: the same init, no new boot line
	[ "$(state_key pid)" = "$pid" ]
	[ "$(boots)" -eq "$b0" ]
	answers
	# and a standby again
	wait_for -t "$SWITCH_TIMEOUT" standby_ready
}

@test "a standby killed with kill -9 is noticed within an interval; the next switch still works" {
	wait_for -t "$SWITCH_TIMEOUT" standby_ready
	pid=$(state_key standby_pid)
	kind=$(state_key standby)
	[ -n "$pid" ]
	kill -KILL "$pid"
	t0=$EPOCHREALTIME
	wait_for -t 5 said "standby: the $kind (pid $pid) is gone"
	t1=$EPOCHREALTIME
	echo "noticed after $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
	# interval 0.5 s; wait_for polls every 0.1 s
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1.0) }'
	now=$(cat "$ADAPTFS_MNT/ads-web/kind")
	other=vm
	[ "$now" = "vm adaptfs" ] && other=container
	run write_mode "$other"
	[ "$status" -eq 0 ] || { tail -n 20 "$ADAPTFS_MNT/events"; false; }
	kind_is "$other adaptfs"
	answers
	# and a standby again after it
	wait_for -t "$SWITCH_TIMEOUT" standby_ready
}

@test "a removed recipe stops the workload and its standby: nothing is left" {
	wait_for -t "$SWITCH_TIMEOUT" standby_ready
	pid=$(state_key standby_pid)
	mv "$(st)/recipes/ads-web.conf" "$(st)/ads-web.conf.removed"
	kill -HUP "$ADAPTFS_PID"
	wait_for -t 60 said "recipe removed: stopping it"
	wait_for -t 30 sh -c "! test -e '$ADAPTFS_MNT/ads-web'"
	wait_for -t 10 _adapt_pid_gone "$pid"
	! pgrep -f -- "-name adaptfs-ads-web," >/dev/null
	! runc state adaptfs-ads-web >/dev/null 2>&1
	[ ! -e /run/netns/adaptfs-ads-web ]
	[ -z "$(ip -o link show master "$BR")" ]
	for c in /sys/fs/cgroup/*/adaptfs-ads-web* /sys/fs/cgroup/adaptfs-ads-web*; do
		[ ! -d "$c" ]
	done
}
