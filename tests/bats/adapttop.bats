#!/usr/bin/env bats
# adapttop(1) against a real mount and real workloads: the screen under tmux (send-keys,
# capture-pane) and batch mode.
#
# Screen lines (capture-pane, 1-based): 1 title, 2 host, 3 status, 4 column titles, 5.. rows.
# A row splits on blanks into NAME KIND CPU% PAR WAIT% IO NET MAJFLT/s MEM CLASS MODE
# PLACEMENT PREFETCH STANDBY.

setup_file() {
	load lib/mount
	load lib/containers
	_adapt_need tmux
	: "${ADAPTTOP_BIN:=$_ADAPT_REPO_ROOT/adapttop/adapttop}"
	[[ -x $ADAPTTOP_BIN ]] || { echo "$ADAPTTOP_BIN is not built (make adapttop)" >&2; return 1; }
	export ADAPTTOP_BIN
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
	TMUX_SOCK=$BATS_TEST_TMPDIR/tmux.sock
}

teardown() {
	top_stop
	teardown_all
}

# ---------------------------------------------------------------- helpers -----------------

tm() { tmux -S "$TMUX_SOCK" "$@"; }

# top_start [ADAPTTOP ARGS...]: adapttop on our mount in a detached tmux session "top" of
# TOP_W x 40 characters (default 200)
top_start() {
	top_session "$@"
	wait_for -t 5 screen_has "adapttop - $ADAPTFS_MNT"
}

# top_session [ADAPTTOP ARGS...]: the session alone. With TOP_STATUS=FILE adapttop's exit
# status is written to FILE when it exits (tmux's own pane_dead_status can be lost).
top_session() {
	local cmd
	cmd=$(printf '%q ' "$ADAPTTOP_BIN" -m "$ADAPTFS_MNT" -d 0.5 "$@")
	if [[ -n ${TOP_STATUS:-} ]]; then
		cmd="$cmd; echo \$? >$(printf '%q' "$TOP_STATUS")"
	else
		cmd="exec $cmd"
	fi
	# the tmux server must not hold bats' fd 3, or bats waits for it at the end of the file
	tm -f /dev/null new-session -d -s top -x "${TOP_W:-200}" -y 40 "$cmd" </dev/null >/dev/null 2>&1 3>&-
	TMUX_SERVER_PID=$(tm display-message -p -t top '#{pid}')
}

# The server is ours (own socket, its pid recorded at start): stop it and wait for it.
top_stop() {
	[[ -n ${TMUX_SERVER_PID:-} ]] || return 0
	tm kill-server >/dev/null 2>&1 || true
	wait_for -t 5 _adapt_pid_gone "$TMUX_SERVER_PID" || kill -KILL "$TMUX_SERVER_PID" 2>/dev/null || true
	TMUX_SERVER_PID=
}

screen() { tm capture-pane -p -t top; }
# wait_screen CMD...: wait_for CMD (3 s), printing the screen when it does not come true
wait_screen() { wait_for -t "${WAIT_SCREEN:-3}" "$@" || { echo "screen:"; screen; false; }; }
screen_has() { screen | grep -qF -- "$1"; }
status_line() { screen | sed -n 3p; }
keys() { tm send-keys -t top "$@"; }

# row_field NAME N: field N of NAME's row on screen
row_field() { screen | awk -v n="$1" -v f="$2" 'NR > 4 && $1 == n { print $f; ok = 1 } END { exit !ok }'; }
row_shown() { row_field "$1" 1 >/dev/null; }
row_gone() { ! row_shown "$1"; }
# row_line NAME: NAME's line on screen
row_line() { screen | awk -v n="$1" 'NR > 4 && $1 == n { print NR; ok = 1 } END { exit !ok }'; }
# row_above A B: A's row is shown above B's
row_above() { local a b; a=$(row_line "$1") && b=$(row_line "$2") && ((a < b)); }
cpu_above() { local v; v=$(row_field "$1" 3) && awk -v v="$v" -v x="$2" 'BEGIN { exit !(v + 0 > x) }'; }
# the selection bar is drawn in reverse video: an SGR with 7 (ESC[7m, ESC[0;7m) before the name
row_selected() {
	tm capture-pane -e -p -t top | awk -v n="$1 " '
		{ p = index($0, n) }
		p && substr($0, 1, p - 1) ~ /\033\[([0-9;]*;)?7m/ { ok = 1 }
		END { exit !ok }'
}

# select NAME: the viewer's find ('/' NAME Enter), then check the bar is on NAME's row
select_row() {
	keys /
	keys -l "$1"
	# the screen has taken the keys (else a status read next could be the previous one)
	wait_screen status_is "find: $1"
	keys Enter
	wait_screen not_finding
	wait_screen row_selected "$1"
}
status_is() { [ "$(status_line)" = "$1" ]; }
not_finding() { ! status_line | grep -q '^find:'; }
# the status line differs from $1 and tells the outcome of a write
status_final() { local st; st=$(status_line) && [ "$st" != "$1" ] && grep -Eq ': done$|failed: ' <<<"$st"; }

# wl NAME: the directory of a cg_spawn'ed docker-layout workload (named by its 12-char id)
wl_name() { cg_id "$1" | cut -c1-12; }

# a workload named NAME (systemd-nspawn layout: named by its machine name)
spawn_named() {
	local name=$1
	shift
	CG_PATH="/machine.slice/systemd-nspawn@$name.service" cg_spawn "$name" "$@"
	# seconds, not tenths, on a host loaded with other tests' cgroups
	wait_for -t 10 test -d "$ADAPTFS_MNT/$name"
}

# ---------------------------------------------------------------- tests -------------------

@test "a spinning workload's row appears with CPU% above 50" {
	cg_spawn busy bash -c 'while :; do :; done'
	name=$(wl_name busy)
	wait_for -t 3 test -d "$ADAPTFS_MNT/$name"
	# other tests on this host may have hundreds of workloads: show only ours
	top_start -f "$name"
	wait_for -t 5 row_shown "$name"
	[ "$(row_field "$name" 2)" = container/docker ]
	wait_for -t 15 cpu_above "$name" 50
	# the host line carries the host's figures
	screen | sed -n 2p | grep -Eq '^host: cores [0-9]+  cpu [0-9.]+%  load [0-9.]+ [0-9.]+ [0-9.]+  memory '
}

@test "sorting by name and by cpu reorders two workloads" {
	spawn_named adt_a_idle sleep 1000
	spawn_named adt_z_busy bash -c 'while :; do :; done'
	top_start -f adt_
	WAIT_SCREEN=15 wait_screen cpu_above adt_z_busy 50
	keys N
	wait_screen screen_has "sort: name"
	wait_screen row_above adt_a_idle adt_z_busy
	keys c
	wait_screen screen_has "sort: cpu"
	wait_screen row_above adt_z_busy adt_a_idle
	# r reverses the name order
	keys N r
	wait_screen screen_has "sort: name (reversed)"
	wait_screen row_above adt_z_busy adt_a_idle
}

@test "q quits the viewer and ends its tmux session" {
	top_start
	pid=$(tm display-message -p -t top '#{pane_pid}')
	_adapt_pid_alive "$pid"
	keys q
	wait_for -t 3 _adapt_pid_gone "$pid"
	run tm has-session -t top
	[ "$status" -ne 0 ]
}

@test "a workload that goes away disappears from the screen" {
	spawn_named adt_gone sleep 1000
	top_start -f adt_
	wait_for -t 5 row_shown adt_gone
	cg_kill adt_gone
	wait_for -t 5 row_gone adt_gone
}

# press KEY on NAME's row and check the status line reports the write to NAME/FILE exactly:
# success, and then the file reads differently; or the write's error, the same one a shell's
# write of that value gets (ENOENT while this adaptfs has no such control file).
control_key_outcome() {
	local key=$1 name=$2 file=$3 path before_status after_status before_file value reason
	path=$ADAPTFS_MNT/$name/$file
	select_row "$name"
	before_status=$(status_line)
	before_file=$(cat "$path" 2>/dev/null) || before_file=ABSENT
	keys "$key"
	# nothing is written before the answer
	wait_screen status_asks "$name"
	[ "$(cat "$path" 2>/dev/null || echo ABSENT)" = "$before_file" ]
	keys y
	WAIT_SCREEN=30 wait_screen status_final "$before_status"
	after_status=$(status_line)
	echo "$key: status before: '$before_status' after: '$after_status'"
	[ "$after_status" != "$before_status" ]
	[[ $after_status =~ ^$name:\ $file\ ([a-z]+) ]]
	value=${BASH_REMATCH[1]}
	if [[ $after_status == *": done" ]]; then
		[ -e "$path" ]
		[ "$(cat "$path")" != "$before_file" ]
		grep -q "\[$value\]" "$path"
	elif [[ ! -e $path ]]; then
		[[ $after_status == *"failed: No such file or directory" ]]
	else
		run bash -c "echo $value > '$path'"
		[ "$status" -ne 0 ]
		reason=${output##*: }
		[[ $after_status == *"failed: $reason" ]]
	fi
}

status_asks() { status_line | grep -q "^$1: write [a-z]* [a-z]*? (y/n)$"; }

@test "t asks, then y writes the selected workload's prefetch and shows the outcome" {
	spawn_named adt_pf sleep 1000
	top_start -f adt_
	wait_for -t 5 row_shown adt_pf
	control_key_outcome t adt_pf prefetch
	# and back: the other value, the status line follows
	control_key_outcome t adt_pf prefetch
}

@test "o asks, then y writes the next mode of the selected workload and shows the outcome" {
	spawn_named adt_mode sleep 1000
	top_start -f adt_
	wait_for -t 5 row_shown adt_mode
	control_key_outcome o adt_mode mode
}

@test "any answer but y writes nothing" {
	spawn_named adt_no sleep 1000
	top_start -f adt_
	wait_for -t 5 row_shown adt_no
	select_row adt_no
	before=$(cat "$ADAPTFS_MNT/adt_no/prefetch")
	keys t
	wait_screen status_asks adt_no
	keys n
	wait_screen status_is "adt_no: prefetch unchanged"
	keys o
	wait_screen status_asks adt_no
	keys q
	# q answered the question: the viewer still runs
	wait_screen status_is "adt_no: mode unchanged"
	[ "$(cat "$ADAPTFS_MNT/adt_no/prefetch")" = "$before" ]
	! grep -q "adt_no: prefetch\|adt_no: mode" "$ADAPTFS_MNT/events"
}

@test "P and M sort by CPU and by memory, as in top, and write nothing" {
	spawn_named adt_pm sleep 1000
	top_start -f adt_
	wait_for -t 5 row_shown adt_pm
	select_row adt_pm
	pf=$(cat "$ADAPTFS_MNT/adt_pm/prefetch")
	mode=$(cat "$ADAPTFS_MNT/adt_pm/mode")
	keys N
	wait_screen screen_has "sort: name"
	keys M
	wait_screen screen_has "sort: memory"
	keys P
	wait_screen screen_has "sort: cpu"
	! status_line | grep -q '(y/n)'
	[ "$(cat "$ADAPTFS_MNT/adt_pm/prefetch")" = "$pf" ]
	[ "$(cat "$ADAPTFS_MNT/adt_pm/mode")" = "$mode" ]
	! grep -q "adt_pm: prefetch\|adt_pm: mode" "$ADAPTFS_MNT/events"
	# -s takes them too
	run "$ADAPTTOP_BIN" -b -n 1 -s M -f adt_pm -m "$ADAPTFS_MNT"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == *"sort: memory" ]]
}

@test "at 80 columns the columns after NAME scroll into view with Right and back with Left" {
	spawn_named adt_wide sleep 1000
	TOP_W=80 top_start -f adt_wide
	wait_for -t 5 row_shown adt_wide
	header() { screen | sed -n 4p; }
	header | grep -q '^NAME '
	! header | grep -q PREFETCH
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do keys Right; done
	wait_screen eval 'header | grep -q "PLACEMENT *PREFETCH *STANDBY *$"'
	# NAME stays; the row's last fields are its placement, prefetch (as the files say) and standby
	header | grep -q '^NAME '
	[ "$(row_field adt_wide 1)" = adt_wide ]
	pf=$(sed 's/.*\[\([a-z]*\)\].*/\1/' "$ADAPTFS_MNT/adt_wide/prefetch")
	wait_screen eval 'screen | awk -v pf="$pf" '\''$1 == "adt_wide" && $(NF - 1) == pf && $NF == "-" { ok = 1 } END { exit !ok }'\'
	for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do keys Left; done
	wait_screen eval 'header | grep -q "^NAME *KIND *CPU%"'
}

@test "-n without -b quits after that many frames" {
	st=$BATS_TEST_TMPDIR/status
	TOP_STATUS=$st top_session -n 2
	wait_for -t 10 test -s "$st"
	[ "$(cat "$st")" = 0 ]
}

@test "into a pipe it prints batch frames, and -n stops it" {
	run bash -c "'$ADAPTTOP_BIN' -n 2 -d 0.2 -m '$ADAPTFS_MNT' | cat"
	[ "$status" -eq 0 ]
	[ "$(grep -c "^adapttop - $ADAPTFS_MNT - " <<<"$output")" -eq 2 ]
	[ "$(grep -c '^NAME  *KIND ' <<<"$output")" -eq 2 ]
	# text only: no terminal escapes
	! grep -q $'\033' <<<"$output"
}

@test "the filter key shows only the workloads whose name contains the text" {
	spawn_named adt_flt_one sleep 1000
	spawn_named adt_flt_two sleep 1000
	top_start -f adt_flt_
	wait_screen row_shown adt_flt_one
	wait_screen row_shown adt_flt_two
	wait_screen screen_has "2 of "
	keys -l '\'
	wait_screen status_is "filter: adt_flt_"
	keys BSpace BSpace BSpace BSpace BSpace BSpace BSpace BSpace
	keys -l adt_flt_tw
	wait_screen status_is "filter: adt_flt_tw"
	keys Enter
	wait_screen row_gone adt_flt_one
	wait_screen row_shown adt_flt_two
	wait_screen screen_has "1 of "
	wait_screen screen_has "workloads match 'adt_flt_tw'"
}

@test "batch mode prints COUNT parseable frames" {
	cg_spawn busy bash -c 'while :; do :; done'
	name=$(wl_name busy)
	wait_for -t 3 test -d "$ADAPTFS_MNT/$name"
	# let the spinning workload's rate cover a whole interval
	wait_for -t 5 awk '$1 == "cpu_usage_percent" && $2 > 50 { ok = 1 } END { exit !ok }' "$ADAPTFS_MNT/$name/stat"
	run "$ADAPTTOP_BIN" -b -n 3 -d 0.3 -m "$ADAPTFS_MNT"
	[ "$status" -eq 0 ]
	# frames: title, host, empty, titles, rows..., empty
	[ "$(grep -c "^adapttop - $ADAPTFS_MNT - " <<<"$output")" -eq 3 ]
	[ "$(grep -c '^host: cores ' <<<"$output")" -eq 3 ]
	[ "$(grep -c '^NAME  *KIND  *CPU%  *PAR  *WAIT%  *IO r/w  *NET rx/tx  *MAJFLT/s  *MEM  *CLASS  *MODE  *PLACEMENT  *PREFETCH  *STANDBY$' <<<"$output")" -eq 3 ]
	# every row has 14 one-word fields, and numbers (or "-") where figures belong
	awk '
		/^NAME / { inrows = 1; next }
		/^$/ { inrows = 0; next }
		inrows {
			rows++
			if (NF != 14) { print "bad row: " $0; bad = 1 }
			for (i = 3; i <= 5; i++) if ($i != "-" && $i !~ /^[0-9]+\.[0-9][0-9]$/) { print "bad field " i ": " $0; bad = 1 }
		}
		END { exit bad || rows < 3 }
	' <<<"$output"
	# the spinning workload, in each frame, above 50%
	[ "$(awk -v n="$name" '$1 == n && $2 == "container/docker" && $3 > 50' <<<"$output" | wc -l)" -eq 3 ]
}

@test "batch mode -s sorts, -r reverses" {
	spawn_named adt_a_idle sleep 1000
	spawn_named adt_z_idle sleep 1000
	run "$ADAPTTOP_BIN" -b -n 1 -s N -m "$ADAPTFS_MNT"
	[ "$status" -eq 0 ]
	# -f: only the names that contain the text
	run "$ADAPTTOP_BIN" -b -n 1 -f adt_z_ -m "$ADAPTFS_MNT"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == *" - 1 of "*" workloads match 'adt_z_' - "* ]]
	[ "$(awk '/^NAME /{r=1;next} r && NF' <<<"$output")" = "$(awk '/^NAME /{r=1;next} r && NF && $1 == "adt_z_idle"' <<<"$output")" ]
	run "$ADAPTTOP_BIN" -b -n 1 -s N -m "$ADAPTFS_MNT"
	a=$(grep -n '^adt_a_idle ' <<<"$output" | cut -d: -f1)
	z=$(grep -n '^adt_z_idle ' <<<"$output" | cut -d: -f1)
	((a < z))
	run "$ADAPTTOP_BIN" -b -n 1 -s N -r -m "$ADAPTFS_MNT"
	a=$(grep -n '^adt_a_idle ' <<<"$output" | cut -d: -f1)
	z=$(grep -n '^adt_z_idle ' <<<"$output" | cut -d: -f1)
	((z < a))
}

@test "workloads coming and going while batch mode reads never break a frame" {
	# churn: a workload appears and is removed every few tenths of a second
	(
		for i in $(seq 1 12); do
			spawn_named "adt_churn$((i % 3))" sleep 1000 || exit 1
			cg_kill "adt_churn$((i % 3))" || exit 1
		done
	) 3>&- &
	churn=$!
	run "$ADAPTTOP_BIN" -b -n 25 -d 0.1 -m "$ADAPTFS_MNT"
	wait "$churn"
	[ "$status" -eq 0 ]
	grep -q '^adt_churn' <<<"$output"
	# a row is either whole (kind read) or not there at all
	awk '/^NAME / { r = 1; next } /^$/ { r = 0; next } r && (NF != 14 || $2 == "-") { print; bad = 1 } END { exit bad }' <<<"$output"
}

@test "a missing mount is one clear message and exit status 1" {
	run "$ADAPTTOP_BIN" -b -n 1 -m "$BATS_TEST_TMPDIR/nonexistent"
	[ "$status" -eq 1 ]
	[[ $output == *"nonexistent: No such file or directory"* ]]
	mkdir "$BATS_TEST_TMPDIR/plain"
	run "$ADAPTTOP_BIN" -m "$BATS_TEST_TMPDIR/plain"
	[ "$status" -eq 1 ]
	[[ $output == *"is not an adaptfs mount"* ]]
	run "$ADAPTTOP_BIN" -b -n 0
	[ "$status" -eq 2 ]
}

# ---------------------------------------------------------------- -o json ------------------

@test "-b -n 2 -o json: one object per workload per iteration, jq parses it, values match the files" {
	command -v jq || skip "jq not installed"
	spawn_named adt_json bash -c 'while :; do :; done'
	d=$ADAPTFS_MNT/adt_json
	echo on >"$d/prefetch"
	# rates come with the workload's second sample
	wait_for -t 10 grep -q '^cpu_usage_percent ' "$d/stat"
	out=$BATS_TEST_TMPDIR/json stats=$BATS_TEST_TMPDIR/stats
	# adapttop runs while every snapshot of the workload's stat is recorded (the daemon
	# publishes one per 0.5 s; this reads it every 10 ms), so that each object can be
	# compared with the stat file of the very snapshot it shows (stat_timestamp_usec)
	python3 - "$ADAPTTOP_BIN" "$ADAPTFS_MNT" "$d/stat" "$out" "$stats" <<-'PY'
		import json, subprocess, sys, time
		top, mnt, stat, out, stats = sys.argv[1:]
		seen = {}
		p = subprocess.Popen([top, "-b", "-n", "2", "-d", "0.6", "-o", "json", "-f", "adt_json",
		                      "-m", mnt], stdout=open(out, "w"))
		while True:
		    done = p.poll() is not None
		    kv = dict(l.split(" ", 1) for l in open(stat).read().splitlines())
		    seen[kv["timestamp_usec"].strip()] = kv
		    if done:
		        break
		    time.sleep(0.01)
		json.dump(seen, open(stats, "w"))
		sys.exit(p.returncode)
	PY
	cat "$out"
	# jq parses every line: two iterations of this one workload
	[ "$(jq -s length "$out")" -eq 2 ]
	[ "$(jq -r '.iteration' "$out" | tr '\n' ' ')" = "1 2 " ]
	[ "$(jq -r .name "$out" | sort -u)" = adt_json ]
	# the iteration timestamps: microseconds since the Epoch, now, about -d apart
	now=$(date +%s%6N)
	jq -e --argjson now "$now" '.timestamp_usec | type == "number" and . <= $now and . > $now - 30000000' "$out"
	jq -s -e '(.[1].timestamp_usec - .[0].timestamp_usec) >= 600000' "$out"
	# the text fields are what the files say
	jq -r '"\(.kind) \(.engine)"' "$out" | sort -u | grep -qx "$(cat "$d/kind")"
	jq -r .placement "$out" | sort -u | grep -qx "$(cat "$d/placement")"
	[ "$(jq -r .prefetch "$out" | sort -u)" = on ]
	[ "$(jq -r .mode "$out" | sort -u)" = container ]
	# (the class may turn from idle to cpu between the two)
	! jq -r .class "$out" | grep -Evx 'idle|cpu|io|net|memory'
	# every figure a number, equal to its key in the stat of the snapshot it is from; a key
	# the stat lacks is left out of the object
	python3 - "$out" "$stats" <<-'PY'
		import json, sys
		keys = ["cpu_usage_percent", "threads_parallelism", "sched_wait_percent",
		        "io_read_bytes_per_sec", "io_write_bytes_per_sec", "io_net_rx_bytes_per_sec",
		        "io_net_tx_bytes_per_sec", "major_faults_per_sec", "memory_current_bytes"]
		stats = json.load(open(sys.argv[2]))
		for line in open(sys.argv[1]):
		    o = json.loads(line)
		    st = stats[str(o["stat_timestamp_usec"])]
		    for k in keys:
		        if k not in st:
		            assert k not in o, (k, o)
		            continue
		        assert isinstance(o[k], (int, float)), (k, o[k])
		        assert o[k] == float(st[k]), (k, o[k], st[k])
		    print("iteration", o["iteration"], "matches the stat of", o["stat_timestamp_usec"])
	PY
}

@test "-o json leaves out what the files lack, and -o takes text or json alone" {
	command -v jq || skip "jq not installed"
	# a tree of plain files in the mount's layout: every value known exactly
	m=$BATS_TEST_TMPDIR/tree
	mkdir -p "$m/host" "$m/vm1" "$m/ct1"
	echo "cores_online 2" >"$m/host/stat"
	echo "vm qemu" >"$m/vm1/kind"
	printf 'cpu_usage_percent 12.34\nmemory_current_bytes 1024\ntimestamp_usec 1700000000000000\n' >"$m/vm1/stat"
	echo "container lxc" >"$m/ct1/kind"
	printf 'cpu_usage_percent 0.00\nthreads_parallelism 1.50\nsched_wait_percent 2.25\nio_read_bytes_per_sec 10.00\nio_write_bytes_per_sec 20.00\nio_net_rx_bytes_per_sec 30.00\nio_net_tx_bytes_per_sec 40.00\nmajor_faults_per_sec 0.50\nmemory_current_bytes 5\ntimestamp_usec 7\n' >"$m/ct1/stat"
	echo "net mode=container" >"$m/ct1/class"
	echo "container vm [auto]" >"$m/ct1/mode"
	echo "host=h1 cpus=0-1,3" >"$m/ct1/placement"
	echo "[on] off" >"$m/ct1/prefetch"
	run "$ADAPTTOP_BIN" -b -n 1 -s N -o json -m "$m"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -c 'del(.timestamp_usec)' <<<"${lines[0]}")" = '{"iteration":1,"name":"ct1","kind":"container","engine":"lxc","cpu_usage_percent":0,"threads_parallelism":1.5,"sched_wait_percent":2.25,"io_read_bytes_per_sec":10,"io_write_bytes_per_sec":20,"io_net_rx_bytes_per_sec":30,"io_net_tx_bytes_per_sec":40,"major_faults_per_sec":0.5,"memory_current_bytes":5,"stat_timestamp_usec":7,"class":"net","mode":"auto","placement":"host=h1 cpus=0-1,3","prefetch":"on"}' ]
	[ "$(jq -c 'del(.timestamp_usec)' <<<"${lines[1]}")" = '{"iteration":1,"name":"vm1","kind":"vm","engine":"qemu","cpu_usage_percent":12.34,"memory_current_bytes":1024,"stat_timestamp_usec":1700000000000000}' ]
	# -o json is batch output even on a terminal; text is the frames
	run "$ADAPTTOP_BIN" -n 1 -o text -m "$m"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "adapttop - $m - "* ]]
	run "$ADAPTTOP_BIN" -b -n 1 -o yaml -m "$m"
	[ "$status" -eq 2 ]
	[ "${lines[0]}" = "adapttop: -o yaml: give text or json" ]
	run "$ADAPTTOP_BIN" -b -n 1 -o json -m "$BATS_TEST_TMPDIR/nonexistent"
	[ "$status" -eq 1 ]
	[ -z "$(grep -v 'nonexistent: No such file or directory' <<<"$output")" ]
}

@test "-o json on a terminal prints JSON lines, not the screen" {
	command -v jq || skip "jq not installed"
	spawn_named adt_json_tty sleep 1000
	# script(1) gives adapttop a pseudo-terminal as its standard output
	run script -qec "$(printf '%q ' "$ADAPTTOP_BIN" -n 1 -o json -f adt_json_tty -m "$ADAPTFS_MNT")" /dev/null
	[ "$status" -eq 0 ]
	! grep -q $'\033' <<<"$output"
	[ "$(tr -d '\r' <<<"$output" | jq -r .name)" = adt_json_tty ]
}
