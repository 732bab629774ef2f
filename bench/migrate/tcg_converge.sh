#!/bin/bash
# bench/migrate/tcg_converge.sh — does a move converge safely for a guest under TCG, throttled
# by QEMU's auto-converge, throttled from outside QEMU, or not at all?
# (issue 23; the reason adaptfs leaves auto-converge off for TCG guests, adaptfs.conf(5) BUGS)
#
#   sudo HOW=autoconverge bench/migrate/tcg_converge.sh   # ~7 min, writes results-tcg-autoconverge.md
#   sudo HOW=outside bench/migrate/tcg_converge.sh        # ~5 min, writes results-tcg-throttle.md
#   sudo HOW=none TRIES=6 bench/migrate/tcg_converge.sh   # ~3 min, writes results-tcg-nothrottle.md
#
# No adaptfs: each try boots a guest on hA of tests/bats/lib/hosts.bash that rewrites 32 MiB of
# random bytes in a loop (adapt.dirty=32), moves it to hB with bare_migrate.py (max-bandwidth BW,
# downtime-limit LIMIT), throttled as HOW says:
#   autoconverge  QEMU's auto-converge capability (its own cpu-throttle), over a 16 MiB/s link,
#                 slower than the guest dirties;
#   outside       auto-converge off, bare_migrate.py --outside-throttle: the guest's vCPU thread
#                 held by SCHED_DEADLINE to 80%, 70%... 1% of a CPU, a step per pass that does
#                 not converge, QEMU's migration thread untouched, undone when the move ends
#                 (same 16 MiB/s link); a move that fails shows its source's vCPU policies after;
#   none          no throttle at all (the control: plain pre-copy, which converges only on a
#                 link faster than the guest dirties, so BW defaults to 10 GiB/s here).
# After the move: 3 s, then whether the peer's QEMU still runs (with -no-reboot a guest that
# resets ends it), the guest's uptime and its 4 MiB /www/big (against the md5 it wrote at boot)
# over HTTP, and what the guest kernel says of its own memory in its serial log (at the peer, or
# at hA if the move failed): BUG, Oops, list corruption, panic.
#
# Environment: HOW [outside] autoconverge|outside|none   TRIES [3]   LIMITS ["30 300"] (downtime-limit, ms)
#   BW [16777216; 10737418240 for none] max-bandwidth, bytes/s
#   OUT [results-tcg-autoconverge.md | results-tcg-throttle.md | results-tcg-nothrottle.md by HOW, - for stdout]
# Needs root, for outside SCHED_DEADLINE (the vCPU thread may not be pinned: its CPUs must span
# its root domain), and what tests/bats/lib/hosts.bash needs (qemu-system-x86, linux-image-amd64,
# busybox-static, python3, iproute2, curl, jq). hosts_down on any exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
HOW=${HOW:-outside}
TRIES=${TRIES:-3}
LIMITS=${LIMITS:-30 300}
case $HOW in
autoconverge) bw0=16777216 out0=results-tcg-autoconverge.md how=(--capability auto-converge) ;;
outside) bw0=16777216 out0=results-tcg-throttle.md how=(--outside-throttle) ;;
none) bw0=10737418240 out0=results-tcg-nothrottle.md how=() ;;
*) echo "tcg_converge: HOW=autoconverge|outside|none, not '$HOW'" >&2; exit 2 ;;
esac
[[ -z ${THROTTLE:-} ]] || { echo "tcg_converge: THROTTLE is gone: HOW=none (or outside)" >&2; exit 2; }
BW=${BW:-$bw0}
OUT=${OUT:-$here/$out0}
((EUID == 0)) || { echo "tcg_converge: run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/adaptfs-tcgcv.XXXXXX)
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

# the throttle a move reached: bare_migrate.py knows only its own (--outside-throttle)
throttle_reached() { # JSON
	local passes
	passes=$(jq -r '.passes // "-"' <<<"$1" 2>/dev/null)
	case $HOW in
	autoconverge) echo "QEMU's own, ${passes:--} passes" ;;
	*) echo "$(jq -r '.throttle_max // "-"' <<<"$1" 2>/dev/null)%, ${passes:--} passes" ;;
	esac
}

hosts_up hA hB || exit 1
rows=$work/rows
try=0
for limit in $LIMITS; do
	for ((i = 1; i <= TRIES; i++)); do
		try=$((try + 1))
		name=tcv$try
		VM_MEM=256 VM_APPEND_EXTRA=adapt.dirty=32 host_vm_up hA "$name" >/dev/null || { echo "boot failed" >&2; exit 1; }
		ip=$(host_vm_ip hA "$name")
		src=$(host_vm_pid hA "$name")
		host_vm_args hA "$name" >"$work/args"
		u0=$(uptime_of "$ip")
		out=$(/usr/bin/python3 "$here/bare_migrate.py" --hostexec "$HOSTEXEC" --qemu "$VM_QEMU" \
			--dst-host hB --dst-addr "$(host_addr hB)" --dst-dir "$(host_dir hB)/run/$name" \
			--src-pid "$src" --args "$work/args" --tap "$(host_vm_tap hA "$name")" \
			--max-bandwidth "$BW" --downtime-limit "$limit" "${how[@]}" \
			--timeout 150 --poll 0.02)
		rc=$?
		if ((rc == 0)); then
			move=$(jq -r '"\(.total_ms | round) ms, downtime \(.downtime_ms) ms"' <<<"$out")
			where=hB
		else
			move="failed ($rc)"
			# the source runs on: its vCPU thread must be back to its own policy
			[[ $HOW == outside ]] && move+=", source's vCPU after: $(vcpu_policies "$src")"
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
		printf '| %s | %s | %s | %s | %s | %s → %s | %s | %s |\n' "$try" "$limit" "$move" \
			"$(throttle_reached "$out")" \
			"$( [[ -n $u1 ]] && echo yes || echo **no**)" "${u0:--}" "${u1:--}" "$big" "${said:-nothing}" >>"$rows"
		echo "tcg_converge: $(tail -n1 "$rows")" >&2
		pid=$(cat "$(host_dir hB)/run/$name/$name.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
		host_vm_down hA "$name" >/dev/null 2>&1
	done
done

# the command line that made it: HOW and any knob off its default
made_by() {
	local k="HOW=$HOW"
	[[ $TRIES == 3 ]] || k+=" TRIES=$TRIES"
	[[ $LIMITS == "30 300" ]] || k+=" LIMITS=\"$LIMITS\""
	[[ $BW == "$bw0" ]] || k+=" BW=$BW"
	echo "$k bench/migrate/tcg_converge.sh"
}

report() {
	case $HOW in
	autoconverge) echo "# auto-converge under TCG: the guest's memory after the move" ;;
	outside) echo "# TCG guest throttled from outside QEMU: the move and the guest's memory after it" ;;
	none) echo "# TCG guest, no throttle (the control): the move and the guest's memory after it" ;;
	esac
	echo
	echo "Produced by \`$(made_by)\` (no adaptfs: bare_migrate.py${how[*]:+ ${how[*]}}, QMP by hand); see bench/README.md, section migrate."
	echo
	echo "- date: $(date -u +%FT%TZ); machine: nproc=$(nproc), kernel $(uname -r); $("$VM_QEMU" --version | head -n1), TCG"
	echo "- guest: microvm, 256 MiB, /init rewriting 32 MiB of random bytes in a loop; link capped at $((BW / 1048576)) MiB/s;"
	case $HOW in
	autoconverge)
		echo "  QEMU's auto-converge on (its own cpu-throttle)" ;;
	outside)
		echo "  QEMU's auto-converge off; the vCPU thread held by SCHED_DEADLINE (period 50 ms) to 80%, 70%, ... 1%"
		echo "  of a CPU, a step per pass past the second (QEMU's own steps), undone when the move ends" ;;
	none)
		echo "  no throttle at all (QEMU's auto-converge off, no --outside-throttle): plain pre-copy" ;;
	esac
	echo
	echo "| try | downtime-limit ms | move | throttle reached | HTTP after | guest uptime before → after, s | /www/big after | the guest kernel said |"
	echo "|--:|--:|---|---|---|---|---|---|"
	cat "$rows"
	echo
	echo "A guest whose kernel reports a BUG, an Oops or corrupted lists after the move, or whose"
	echo "/www/big no longer matches its md5, had its memory changed under it: pages the move lost"
	echo "or sent stale."
	case $HOW in
	autoconverge)
		echo "adaptfs leaves auto-converge off for guests under TCG (adaptfs.conf(5), BUGS); under KVM"
		echo "the kernel tracks dirty pages, not TCG's softmmu." ;;
	*)
		echo "Compare results-tcg-autoconverge.md: QEMU's own cpu-throttle, the same guest over a"
		echo "16 MiB/s link." ;;
	esac
}
if [[ $OUT == - ]]; then report; else report >"$OUT" && echo "tcg_converge: wrote $OUT" >&2; fi
