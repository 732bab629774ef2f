#!/usr/bin/env bats
# Sibling prefetch on a managed workload (adaptfs(5), SIBLING PREFETCH,
# MANAGED WORKLOADS): as a container it is prefetched as any container is;
# switched to a VM it keeps the setting, across a restart of adaptfs too,
# and is left alone; back as a container it is prefetched again, in its new
# cgroup.
#
# The recipe adq-pf runs three memtouch.py siblings (two anonymous, one
# shmem) in its runc container; its root is an empty directory with the
# host's /usr bound read-only (for python3), its data directory the
# siblings' output. As a VM its command only waits: the VM part is about
# what the engine does not do. Its bridge is adq-br0 (10.240.0.1/24); what
# the daemon makes for it is adaptfs-adq-pf (runc container, netns,
# cgroups; adaptfs-adq-pf.vm: QEMU's); teardown_file removes all of it.

BR=adq-br0
SWITCH_TIMEOUT=240

st() { echo "$BATS_FILE_TMPDIR"; }
data() { echo "$(st)/data"; }

setup_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	load lib/swap
	local d r
	d=$(st)
	r=$d/root
	managed_setup "$d" "$BR" 10.240.0.1/24 02:ad:00:00:ee:01
	mkdir -p "$(data)" "$r"/{usr,proc,sys,dev,tmp,etc,data}
	for l in bin sbin lib lib64; do
		[[ -e /usr/$l ]] && ln -s "usr/$l" "$r/$l"
	done
	mount --bind -o ro /usr "$r/usr"
	cp "$BATS_TEST_DIRNAME/helpers/memtouch.py" "$(data)/"
	swap_ensure
	# the siblings as a container; as a VM (QEMU's CPU in /proc/cpuinfo) a wait
	cat >"$(data)/start.sh" <<-'EOF'
		trap "exit 0" TERM
		if ! grep -qi qemu /proc/cpuinfo; then
			python3 /data/memtouch.py sib_a anon 80 /data &
			python3 /data/memtouch.py sib_b anon 80 /data &
			python3 /data/memtouch.py sib_c shmem 48 /data &
		fi
		while :; do sleep 1 & wait $!; done
	EOF
	cat >"$d/recipes/adq-pf.conf" <<-EOF
		[workload]
		rootfs = $r
		command = /bin/sh /data/start.sh
		address = 10.240.0.10/24
		data = $(data)
		memory = 512M
		stop_timeout = 5
		standby = no
	EOF
	managed_mount --interval 0.5 --config "$d/adaptfs.conf"
}

teardown_file() {
	load lib/mount
	load lib/containers
	load lib/managed
	load lib/swap
	local rc=0
	managed_teardown "$(st)/adaptfs.conf" "$(st)/run" "$BR" adq-pf || rc=1
	if mountpoint -q "$(st)/root/usr"; then
		umount "$(st)/root/usr" || rc=1
	fi
	swap_release
	return $rc
}

setup() {
	load lib/mount
	load lib/containers
	load lib/managed
	load lib/memtouch
}

teardown() {
	managed_umount_restarted
	teardown_all
}

W() { echo "$ADAPTFS_MNT/adq-pf"; }
kind_is() { [ "$(cat "$(W)/kind")" = "$1" ]; }
key() { awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' "$(W)/stat"; }
key_at_least() { local v; v=$(key "$1") && [ "$v" -ge "$2" ]; }
show() { tail -n 20 "$ADAPTFS_MNT/events"; grep prefetch "$(W)/stat"; }

# The container's memory cgroup (runc's cgroupfs driver: /adaptfs-NAME).
memcg() {
	local d=/sys/fs/cgroup/memory/adaptfs-adq-pf
	[[ -d $d ]] || d=/sys/fs/cgroup/adaptfs-adq-pf
	echo "$d"
}
# The host's pid of sibling NAME (the container has its own pid namespace:
# memtouch.py's .ready holds the pid it sees); siblings name themselves.
host_pid() {
	local p
	for p in $(cat "$(memcg)/cgroup.procs"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$1" ] && { echo "$p"; return 0; }
	done
	return 1
}
siblings_up() {
	local s
	for s in sib_a sib_b sib_c; do
		[ -s "$(data)/$s.ready" ] && host_pid "$s" >/dev/null || return 1
	done
}
swap_kib() { awk '/^Swap:/ { s += $2 } END { print s + 0 }' "/proc/$(host_pid "$1")/smaps"; }
# Squeeze the container into swap, then give it its room back: its memory
# stays swapped out until touched.
push_to_swap() { memtouch_push "$(memcg)" 512; }
# touch NAME -> the major faults its next full touch cost
touch_all() {
	local r
	r=$(memtouch_touch "$(data)" "$1" "$(host_pid "$1")") || return 1
	echo "${r%% *}"
}
write_ctl() { timeout "$SWITCH_TIMEOUT" bash -c 'echo "$1" > "$2"' _ "$2" "$(W)/$1"; }

# Faults of sib_b and sib_c paging in after sib_a, prefetch off: the base
# a prefetch is measured against (OFF_B, OFF_C).
faults_without_prefetch() {
	push_to_swap
	[ "$(swap_kib sib_b)" -gt $((40 * 1024)) ]
	[ "$(swap_kib sib_c)" -gt $((20 * 1024)) ]
	touch_all sib_a >/dev/null
	OFF_B=$(touch_all sib_b)
	OFF_C=$(touch_all sib_c)
	echo "prefetch off: sib_b $OFF_B sib_c $OFF_C major faults"
	[ "$OFF_B" -gt 1000 ]
	[ "$OFF_C" -gt 500 ]
}

# With prefetch on: sib_a's page-in brings its siblings back before they
# touch, so each pays at most a tenth of its faults without.
faults_with_prefetch() {
	local swapped b c t0
	push_to_swap
	t0=$(key prefetch_bytes || echo 0)
	swapped=$((($(swap_kib sib_b) + $(swap_kib sib_c)) * 1024))
	touch_all sib_a >/dev/null
	wait_for -t 10 key_at_least prefetch_bytes $((t0 + swapped * 9 / 10)) || { show; false; }
	b=$(touch_all sib_b)
	c=$(touch_all sib_c)
	echo "prefetch on: sib_b $b sib_c $c major faults"
	[ "$b" -le $((OFF_B / 10)) ]
	[ "$c" -le $((OFF_C / 10)) ]
}

@test "a managed container's siblings are prefetched: each pays at most a tenth of its major faults without" {
	wait_for -t 60 kind_is "container adaptfs" || { show; adaptfs_log; false; }
	wait_for -t 60 siblings_up
	[ "$(cat "$(W)/prefetch")" = "on [off]" ]
	faults_without_prefetch
	run write_ctl prefetch on
	[ "$status" -eq 0 ] || { show; false; }
	[ "$(cat "$(W)/prefetch")" = "[on] off" ]
	faults_with_prefetch
	key_at_least prefetch_triggers 1
}

@test "switched to a VM it keeps prefetch on, across a restart of adaptfs too, and is left alone; back as a container, its new siblings are prefetched" {
	wait_for -t 60 kind_is "container adaptfs" || { show; adaptfs_log; false; }
	run write_ctl prefetch on
	[ "$status" -eq 0 ] || { show; false; }
	run write_ctl mode vm
	[ "$status" -eq 0 ] || { show; adaptfs_log; false; }
	kind_is "vm adaptfs"
	[ "$(cat "$(W)/prefetch")" = "[on] off" ]
	# a write of the setting is taken as a VM too, for when it is a container
	run write_ctl prefetch on
	[ "$status" -eq 0 ]
	# the next adaptfs adopts the VM and gives it its setting back: it is
	# kept under the workload's name, not its instance's
	ADAPTFS_STOP_TIMEOUT=60 adaptfs_umount
	ADAPTFS_STOP_TIMEOUT=60 adaptfs_mount --interval 0.5 --config "$(st)/adaptfs.conf"
	wait_for -t 30 kind_is "vm adaptfs" || { show; adaptfs_log; false; }
	[ "$(cat "$(W)/prefetch")" = "[on] off" ]
	grep -q "adq-pf: prefetch: on, as written before adaptfs restarted" "$ADAPTFS_MNT/events"
	triggers=$(key prefetch_triggers)

	rm -f "$(data)"/sib_?.ready "$(data)"/sib_?.result
	run write_ctl mode container
	[ "$status" -eq 0 ] || { show; adaptfs_log; false; }
	kind_is "container adaptfs"
	# nothing was triggered while it ran as a VM
	[ "$(key prefetch_triggers)" = "$triggers" ]
	wait_for -t 60 siblings_up
	[ "$(cat "$(W)/prefetch")" = "[on] off" ]
	run write_ctl prefetch off
	faults_without_prefetch
	run write_ctl prefetch on
	faults_with_prefetch
	[ "$(key prefetch_triggers)" -gt "$triggers" ]
}
