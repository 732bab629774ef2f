# shellcheck shell=bash
# tests/v2/lib.bash — cgroups of a pure v2 host, as the engines lay them out,
# with real processes in them. Loaded by the v2 bats files (tests/v2/run).
#
#   v2_spawn CGPATH CMD...  make /sys/fs/cgroup/CGPATH (every controller
#                           enabled in each new parent, as systemd and the
#                           engines do), start CMD inside it, wait until it is
#                           in; prints its pid. Every cgroup made is recorded.
#   v2_dir CGPATH           /sys/fs/cgroup/CGPATH
#   v2_cleanup              kill (cgroup.kill) and remove every cgroup made,
#                           deepest first; for teardown.
#   v2_mount                setup_file of a v2 bats file: skip unless this is
#                           the pure v2 guest, then mount adaptfs (lib/mount).

# shellcheck source=../bats/lib/common.bash
source "${BASH_SOURCE[0]%/*}/../bats/lib/common.bash"

V2_ROOT=/sys/fs/cgroup
V2_CONTROLLERS="+cpu +cpuset +io +memory +pids"

v2_dir() { echo "$V2_ROOT/${1#/}"; }

v2_mount() {
	[[ -f $V2_ROOT/cgroup.controllers && ! -d $V2_ROOT/cpu ]] ||
		skip "not a pure cgroup v2 host: run through tests/v2/run"
	adaptfs_mount
}

_v2_made() { echo "$BATS_FILE_TMPDIR/v2-made"; }

_v2_mkdirs() { # CGPATH
	local cur=$V2_ROOT comp
	local -a comps
	IFS=/ read -ra comps <<<"${1#/}"
	for comp in "${comps[@]}"; do
		[[ -n $comp ]] || continue
		if [[ $cur != "$V2_ROOT" ]] && ! grep -q memory "$cur/cgroup.subtree_control"; then
			echo "$V2_CONTROLLERS" >"$cur/cgroup.subtree_control" || return 1
		fi
		cur=$cur/$comp
		if [[ ! -d $cur ]]; then
			mkdir "$cur" || return 1
			echo "$cur" >>"$(_v2_made)"
		fi
	done
}

v2_spawn() {
	local cg=${1:?usage: v2_spawn CGPATH CMD...} ready
	shift
	_v2_mkdirs "$cg" || return 1
	ready=$(mktemp -u "$BATS_FILE_TMPDIR/ready.XXXXXX")
	bash -c 'echo $$ >"$1/cgroup.procs" && : >"$2" && shift 2 && exec "$@"' \
		v2_spawn "$(v2_dir "$cg")" "$ready" "$@" </dev/null >/dev/null 2>&1 3>&- &
	disown "$!"
	wait_for -t 10 test -e "$ready" || return 1
	echo "$!"
}

v2_cleanup() {
	local d
	[[ -f $(_v2_made) ]] || return 0
	# deepest first: a parent goes once its children have
	while read -r d; do
		[[ -d $d ]] || continue
		echo 1 >"$d/cgroup.kill"
		wait_for -t 5 grep -qx 'populated 0' "$d/cgroup.events" || true
		rmdir "$d" || echo "v2_cleanup: cannot remove $d" >&2
	done < <(sort -r "$(_v2_made)")
	rm -f "$(_v2_made)"
}
