#!/bin/sh
# collectd-adaptfs.sh — collectd exec plugin: every adaptfs workload's rates and gauges as
# collectd values (Debian package collectd or collectd-core; plugin exec).
#
# collectd.conf:
#   LoadPlugin exec
#   <Plugin exec>
#     Exec "nobody" "/usr/local/lib/collectd/adaptfs.sh" "/adapt"
#   </Plugin>
# (collectd refuses to exec as root; adaptfs's metric files are world-readable.)
#
# Each interval it prints, per workload NAME and figure KEY of NAME/stat that is a current
# value (…_percent, …_per_sec, threads_parallelism, threads_total, threads_running,
# memory_current_bytes):
#   PUTVAL "HOST/adaptfs-NAME/gauge-KEY" interval=SECONDS N:VALUE
# and the same for the host's figures as HOST/adaptfs-host/gauge-KEY. Counters are left to
# adaptfs's own rates. Uses only cat, awk and sleep.

mount=${1:-/adapt}
host=${COLLECTD_HOSTNAME:-$(cat /proc/sys/kernel/hostname)}
interval=${COLLECTD_INTERVAL:-10}
interval=${interval%.*}

put() { # PLUGIN_INSTANCE FLAT_KEYED_TEXT
	printf '%s\n' "$2" | awk -v h="$host" -v p="$1" -v i="$interval" '
		$1 ~ /(_percent|_per_sec|_avg10)$/ || $1 ~ /^(threads_parallelism|threads_total|threads_running|memory_current_bytes|cores_online|load1|load5|load15|memory_available_bytes)$/ {
			printf "PUTVAL \"%s/adaptfs-%s/gauge-%s\" interval=%s N:%s\n", h, p, $1, i, $2
		}'
}

while :; do
	if text=$(cat "$mount/host/stat" 2>/dev/null); then
		put host "$text"
	fi
	for dir in "$mount"/*/; do
		name=${dir%/}
		name=${name##*/}
		[ "$name" = host ] && continue
		# gone between the listing and the read: skipped this round
		text=$(cat "$dir/stat" 2>/dev/null) || continue
		put "$name" "$text"
	done
	sleep "$interval" || exit 0
done
