#!/bin/sh
# alert.sh — print one alert line per adaptfs workload whose class is in a set, or whose major
# faults per second exceed a threshold. Uses only cat and awk (and the shell), so it runs on
# any host with adaptfs, from cron or by hand.
#
# usage: alert.sh [MOUNT [THRESHOLD [CLASS...]]]
#   MOUNT      the adaptfs mount (default /adapt)
#   THRESHOLD  major faults per second above which a workload alerts (default 100)
#   CLASS...   classes that alert whatever the faults (default: memory)
#
# Output, one line per alerting workload:
#   ALERT web class=memory major_faults_per_sec=250.00 reason=class,faults
# Exit status: 0 no alert, 1 at least one alert, 2 the mount cannot be read or bad arguments.
# See etc/examples/adaptfs-alert.cron for a cron job that logs the lines to syslog.

mount=${1:-/adapt}
threshold=${2:-100}
[ $# -gt 2 ] && shift 2 || set -- memory
classes=$*

# host/stat is in every adaptfs mount: without it this is not one (or the daemon is gone)
if ! cat "$mount/host/stat" >/dev/null 2>&1; then
	echo "alert.sh: $mount is not a readable adaptfs mount" >&2
	exit 2
fi
if ! awk -v t="$threshold" 'BEGIN { exit !(t ~ /^[0-9]+(\.[0-9]+)?$/) }'; then
	echo "alert.sh: threshold '$threshold' is not a number" >&2
	exit 2
fi

status=0
for dir in "$mount"/*/; do
	name=${dir%/}
	name=${name##*/}
	[ "$name" = host ] && continue
	# a workload that goes away between the listing and the read is skipped
	class=$(cat "$dir/class" 2>/dev/null) || continue
	faults=$(cat "$dir/major_faults" 2>/dev/null) || continue
	line=$(printf '%s\n' "$faults" | awk -v name="$name" -v class="$class" -v t="$threshold" \
		-v set="$classes" '
		$1 == "per_sec" { rate = $2; have = 1 }
		END {
			split(class, c, " ")		# "cpu mode=vm" -> "cpu"
			n = split(set, s, " ")
			for (i = 1; i <= n; i++)
				if (s[i] == c[1])
					why = "class"
			if (have && rate + 0 > t + 0)
				why = why (why ? "," : "") "faults"
			if (why)
				printf "ALERT %s class=%s major_faults_per_sec=%s reason=%s\n", name, c[1],
				       have ? rate : "-", why
		}')
	if [ -n "$line" ]; then
		echo "$line"
		status=1
	fi
done
exit $status
