#!/bin/bash
# bench/migrate/tcg_throttle.sh — does throttling a TCG guest from outside QEMU move it safely?
# (issue 23: QEMU's own auto-converge corrupted TCG guests, results-tcg-autoconverge.md)
#
#   sudo bench/migrate/tcg_throttle.sh     # TRIES=3 per limit, ~5 min, writes results-tcg-throttle.md
#   sudo THROTTLE=0 BW=10737418240 TRIES=6 OUT=bench/migrate/results-tcg-nothrottle.md \
#        bench/migrate/tcg_throttle.sh     # the control: no throttle, a link fast enough for plain pre-copy
#
# The same tries as tcg_autoconverge.sh (no adaptfs: a guest on hA of tests/bats/lib/hosts.bash
# rewriting 32 MiB of random bytes in a loop, adapt.dirty=32, moved to hB by bare_migrate.py over
# a 16 MiB/s link with downtime-limit LIMIT), but with QEMU's auto-converge OFF and
# bare_migrate.py --outside-throttle: the guest's vCPU thread is held by SCHED_DEADLINE to
# 80%, 70%... 1% of a CPU, a step per pass that does not converge, QEMU's migration thread
# untouched, undone when the move ends. After the move: 3 s, then the guest's uptime and its
# 4 MiB /www/big (against the md5 it wrote at boot) over HTTP, and what the guest kernel says of
# its memory in its serial log at the peer (BUG, Oops, list corruption, panic).
#
# Environment: TRIES [3]  LIMITS ["30 300"] (downtime-limit, ms)  OUT [results-tcg-throttle.md, - for stdout]
#   THROTTLE [1]  0: no throttle at all (the control: plain pre-copy, which converges only on a
#                 link faster than the guest dirties)   BW [16777216] max-bandwidth, bytes/s
# Needs root, SCHED_DEADLINE (the vCPU thread may not be pinned: its CPUs must span its root
# domain) and what tests/bats/lib/hosts.bash needs (qemu-system-x86, linux-image-amd64,
# busybox-static, python3, iproute2, curl). hosts_down on any exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TRIES=${TRIES:-3}
LIMITS=${LIMITS:-30 300}
OUT=${OUT:-$here/results-tcg-throttle.md}
THROTTLE=${THROTTLE:-1}
BW=${BW:-16777216}
((EUID == 0)) || { echo "tcg_throttle: run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/adaptfs-tcgth.XXXXXX)
export ADAPT_TEST_STATE=$work/state ADAPTFS_BIN=$repo/adaptfs
# shellcheck source=../../tests/bats/lib/hosts.bash
source "$repo/tests/bats/lib/hosts.bash"
cleanup() { local rc=$?; hosts_down >/dev/null 2>&1; rm -rf "$work"; exit $rc; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# the policies of a QEMU's vCPU threads ("CPU n/TCG" with debug-threads=on): SCHED_OTHER once undone
vcpu_policies() { # PID
	local t
	for t in /proc/"$1"/task/*; do
		[[ $(cat "$t/comm" 2>/dev/null) == CPU* ]] && chrt -p "${t##*/}" | sed -n 's/.*policy: //p'
	done | sort -u | paste -sd,
}

# the guest's /www/big against the md5 it wrote at boot
big_intact() { # IP
	local want got
	want=$(nsenter --net=/run/netns/adt-cli -- curl -sf -m 5 "http://$1:8080/big.md5" | cut -d' ' -f1)
	got=$(nsenter --net=/run/netns/adt-cli -- curl -sf -m 20 "http://$1:8080/big" | md5sum | cut -d' ' -f1)
	if [[ -z $want ]]; then echo "-"; elif [[ $want == "$got" ]]; then echo same; else echo "**differs**"; fi
}

hosts_up hA hB || exit 1
rows=$work/rows
try=0
for limit in $LIMITS; do
	for ((i = 1; i <= TRIES; i++)); do
		try=$((try + 1))
		name=tth$try
		VM_MEM=256 VM_APPEND_EXTRA=adapt.dirty=32 host_vm_up hA "$name" >/dev/null || { echo "boot failed" >&2; exit 1; }
		ip=$(host_vm_ip hA "$name")
		src=$(host_vm_pid hA "$name")
		host_vm_args hA "$name" >"$work/args"
		u0=$(uptime_of "$ip")
		throttle=()
		((THROTTLE)) && throttle=(--outside-throttle)
		out=$(/usr/bin/python3 "$here/bare_migrate.py" --hostexec "$HOSTEXEC" --qemu "$VM_QEMU" \
			--dst-host hB --dst-addr "$(host_addr hB)" --dst-dir "$(host_dir hB)/run/$name" \
			--src-pid "$src" --args "$work/args" --tap "$(host_vm_tap hA "$name")" \
			--max-bandwidth "$BW" --downtime-limit "$limit" "${throttle[@]}" \
			--timeout 150 --poll 0.02)
		rc=$?
		if ((rc == 0)); then
			move=$(jq -r '"\(.total_ms | round) ms, downtime \(.downtime_ms) ms"' <<<"$out")
			where=hB
		else
			# the source runs on: its vCPU thread must be back to its own policy
			move="failed ($rc), source's vCPU after: $(vcpu_policies "$src")"
			where=hA
		fi
		sleep 3
		# with -no-reboot a guest that resets ends its QEMU
		dpid=$(jq -r '.pid // empty' <<<"$out" 2>/dev/null)
		if ((rc == 0)) && { [[ -z $dpid ]] || ! kill -0 "$dpid" 2>/dev/null; }; then
			move+=", then the peer's QEMU exited"
		fi
		u1=$(uptime_of "$ip")
		big=$( [[ -n $u1 ]] && big_intact "$ip" || echo "-")
		serial=$(host_dir "$where")/run/$name/$name.serial
		[[ $where == hA ]] && serial=$(host_vm_log hA "$name")
		said=$(grep -m1 -oE "BUG[^[]*|Oops[^[]*|list_(add|del) corruption[^[]*|Kernel panic[^[]*" \
			"$serial" 2>/dev/null | tr -d '\r' | head -n1 | head -c 90)
		printf '| %s | %s | %s | %s%%, %s passes | %s | %s → %s | %s | %s |\n' "$try" "$limit" "$move" \
			"$(jq -r '.throttle_max // "-"' <<<"$out" 2>/dev/null)" "$(jq -r '.passes // "-"' <<<"$out" 2>/dev/null)" \
			"$( [[ -n $u1 ]] && echo yes || echo **no**)" "${u0:--}" "${u1:--}" "$big" "${said:-nothing}" >>"$rows"
		echo "tcg_throttle: $(tail -n1 "$rows")" >&2
		pid=$(cat "$(host_dir hB)/run/$name/$name.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
		host_vm_down hA "$name" >/dev/null 2>&1
	done
done

report() {
	if ((THROTTLE)); then
		echo "# TCG guest throttled from outside QEMU: the move and the guest's memory after it"
	else
		echo "# TCG guest, no throttle (the control): the move and the guest's memory after it"
	fi
	echo
	echo "Produced by \`bench/migrate/tcg_throttle.sh\` (no adaptfs: bare_migrate.py$( ((THROTTLE)) && echo " --outside-throttle"), QMP by hand); see bench/README.md, section migrate."
	echo
	echo "- date: $(date -u +%FT%TZ); machine: nproc=$(nproc), kernel $(uname -r); $("$VM_QEMU" --version | head -n1), TCG"
	echo "- guest: microvm, 256 MiB, /init rewriting 32 MiB of random bytes in a loop; link capped at $((BW / 1048576)) MiB/s;"
	if ((THROTTLE)); then
		echo "  QEMU's auto-converge off; the vCPU thread held by SCHED_DEADLINE (period 50 ms) to 80%, 70%, ... 1%"
		echo "  of a CPU, a step per pass past the second (QEMU's own steps), undone when the move ends"
	else
		echo "  no throttle at all (QEMU's auto-converge off, no --outside-throttle): plain pre-copy"
	fi
	echo
	echo "| try | downtime-limit ms | move | throttle reached | HTTP after | guest uptime before → after, s | /www/big after | the guest kernel said |"
	echo "|--:|--:|---|---|---|---|---|---|"
	cat "$rows"
	echo
	echo "A guest whose kernel reports a BUG, an Oops or corrupted lists after the move, or whose"
	echo "/www/big no longer matches its md5, had its memory changed under it. Compare"
	echo "results-tcg-autoconverge.md: QEMU's own cpu-throttle, the same guest over a 16 MiB/s link."
}
if [[ $OUT == - ]]; then report; else report >"$OUT" && echo "tcg_throttle: wrote $OUT" >&2; fi
