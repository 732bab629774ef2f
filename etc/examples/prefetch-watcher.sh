#!/bin/bash
# prefetch-watcher.sh — turn sibling swap prefetch on for every new container whose cgroup
# matches a pattern, as soon as adaptfs shows it.
#
# usage: prefetch-watcher.sh [-m MOUNT] [-t SECONDS] PATTERN
#   PATTERN     extended regular expression (awk) matched against each new cgroup's path
#               relative to the hierarchy, as adaptfs's events show it:
#               '^/docker/[0-9a-f]{64}$'  '^/lxc\.payload\.web'  '^/machine\.slice/libpod-'
#   -m MOUNT    the adaptfs mount (default /adapt)
#   -t SECONDS  how long to wait for adaptfs to show a new cgroup (default 10)
#
# Watches cgroupfs with inotifywait (Debian package inotify-tools): the cpuacct hierarchy on
# cgroup v1, the root of the unified hierarchy on v2. For each new directory that matches,
# it waits for the "NAME: appeared (container ENGINE, CGROUP)" line in MOUNT/events (see
# adaptfs(5)), then writes "on" to MOUNT/NAME/prefetch. One line per cgroup on stdout:
#   prefetch-watcher: /docker/0123...: web: prefetch on
#   prefetch-watcher: /docker/0123...: web: prefetch on failed: Operation not supported
#   prefetch-watcher: /docker/0123...: no adaptfs workload within 10 s
# and "prefetch-watcher: watching DIR" once the watches are set up. Runs until killed.
set -u

mount=/adapt
wait_s=10
while getopts m:t: opt; do
	case $opt in
	m) mount=$OPTARG ;;
	t) wait_s=$OPTARG ;;
	*) echo "usage: $0 [-m MOUNT] [-t SECONDS] PATTERN" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [[ $# -ne 1 ]]; then
	echo "usage: $0 [-m MOUNT] [-t SECONDS] PATTERN" >&2
	exit 2
fi
pattern=$1

command -v inotifywait >/dev/null || { echo "prefetch-watcher: inotifywait not found (apt install inotify-tools)" >&2; exit 2; }
[[ -r $mount/events ]] || { echo "prefetch-watcher: $mount is not an adaptfs mount" >&2; exit 2; }
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	root=/sys/fs/cgroup				# v2: one hierarchy
elif [[ -d /sys/fs/cgroup/cpuacct ]]; then
	root=$(cd -P /sys/fs/cgroup/cpuacct && pwd)	# v1: often a link to cpu,cpuacct
else
	echo "prefetch-watcher: no cgroup v2 root or v1 cpuacct hierarchy under /sys/fs/cgroup" >&2
	exit 2
fi

# NAME of the workload whose "appeared" event names cgroup $1, if adaptfs shows it yet
workload_of() {
	awk -v cg="$1" '
		index($0, ": appeared (container ") && substr($0, length($0) - length(cg) - 2) == ", " cg ")" {
			name = $2; sub(/:$/, "", name)
		}
		END { if (name == "") exit 1; print name }' "$mount/events"
}

# a new matching cgroup: wait for its workload, then turn prefetch on
handle() {
	local cg=$1 name= err deadline=$((SECONDS + wait_s))
	while ! name=$(workload_of "$cg"); do
		if ((SECONDS >= deadline)); then
			echo "prefetch-watcher: $cg: no adaptfs workload within $wait_s s"
			return 1
		fi
		sleep 0.2
	done
	# a subshell: the shell reports a failed open or write on its stderr
	if err=$( (echo on >"$mount/$name/prefetch") 2>&1); then
		echo "prefetch-watcher: $cg: $name: prefetch on"
	else
		echo "prefetch-watcher: $cg: $name: prefetch on failed: ${err##*: }"
	fi
}

# when each cgroup was last handled: a directory can come both by its event and by the scan
# of a new parent; a cgroup made again later (a restarted container) is handled again
declare -A seen
coproc INOTIFY { exec inotifywait -m -r -e create --format 'EVENT %e %w%f' "$root" 2>&1; }
# on exit, stop inotifywait and the handlers still waiting
trap 'kill "$INOTIFY_PID" $(jobs -p) 2>/dev/null' EXIT
trap 'exit 0' TERM INT HUP

while read -r tag events path <&"${INOTIFY[0]}"; do
	case $tag in
	EVENT) ;;
	Watches) echo "prefetch-watcher: watching $root for '$pattern'"; continue ;;
	*) continue ;;	# "Setting up watches." and inotifywait's warnings
	esac
	[[ $events == *ISDIR* ]] || continue
	# a directory made inside a new one before its watch was set up has no event of its own
	while read -r dir; do
		cg=${dir#"$root"}
		last=${seen[$cg]:-}
		[[ -n $last ]] && ((SECONDS - last < 5)) && continue
		seen[$cg]=$SECONDS
		awk -v p="$pattern" -v cg="$cg" 'BEGIN { exit !(cg ~ p) }' || continue
		handle "$cg" &
	done < <(find "$path" -type d 2>/dev/null)
done
