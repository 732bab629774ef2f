# shellcheck shell=bash
# tests/bats/lib/memtouch.bash — driving the holders of tests/bats/helpers/memtouch.py.
#   memtouch_touch DIR NAME   have holder NAME (its files in DIR) read all its memory once;
#                             prints the "majflt usec bad_pages" line it appends for that,
#                             once written (up to $MEMTOUCH_TIMEOUT s, default 60)

memtouch_touch() {
	local n0=0
	[ -f "$1/$2.result" ] && n0=$(wc -l <"$1/$2.result")
	kill -USR1 "$(cat "$1/$2.ready")"
	wait_for -t "${MEMTOUCH_TIMEOUT:-60}" sh -c "[ \$(wc -l < $1/$2.result) -gt $n0 ]"
	tail -n1 "$1/$2.result"
}
