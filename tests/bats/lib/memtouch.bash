# shellcheck shell=bash
# tests/bats/lib/memtouch.bash — driving the holders of tests/bats/helpers/memtouch.py.
#   memtouch_touch DIR NAME [PID]
#                             have holder NAME (its files in DIR) read all its memory once;
#                             prints the "majflt usec bad_pages" line it appends for that,
#                             once written (up to $MEMTOUCH_TIMEOUT s, default 60). PID: its
#                             pid on the host, where DIR/NAME.ready has the one its pid
#                             namespace shows
#   memtouch_push CGDIR [MIB] push the holders in memory cgroup CGDIR (v1 or v2) out to
#                             swap: its limit squeezed to 24 MiB (retried until the kernel
#                             takes it, up to 20 s), then set to MIB (default 1024), so
#                             that what went out stays out until it is touched

memtouch_touch() {
	local n0=0
	[ -f "$1/$2.result" ] && n0=$(wc -l <"$1/$2.result")
	kill -USR1 "${3:-$(cat "$1/$2.ready")}"
	wait_for -t "${MEMTOUCH_TIMEOUT:-60}" sh -c "[ \$(wc -l < $1/$2.result) -gt $n0 ]"
	tail -n1 "$1/$2.result"
}

memtouch_push() {
	local f=$1/memory.limit_in_bytes
	[[ -e $f ]] || f=$1/memory.max
	wait_for -t 20 sh -c "echo $((24 << 20)) > $f"
	echo $((${2:-1024} << 20)) >"$f"
}
