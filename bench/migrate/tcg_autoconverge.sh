#!/bin/bash
# bench/migrate/tcg_autoconverge.sh — is QEMU's auto-converge safe for a guest under TCG?
# (issue 23; the reason adaptfs leaves auto-converge off for TCG guests, adaptfs.conf(5) BUGS)
#
#   sudo bench/migrate/tcg_autoconverge.sh     # TRIES=3 per limit, ~7 min, writes results-tcg-autoconverge.md
#
# No adaptfs: each try boots a guest on hA of tests/bats/lib/hosts.bash that rewrites 32 MiB of
# random bytes in a loop (adapt.dirty=32, faster than the 16 MiB/s link), moves it to hB with
# bare_migrate.py (max-bandwidth 16 MiB/s, the auto-converge capability, downtime-limit LIMIT),
# waits 3 s, then asks the guest for its uptime over HTTP and looks in its serial log at the peer
# for what the guest kernel says of its own memory (BUG, Oops, list corruption, bad page map).
#
# Environment: TRIES [3]  LIMITS ["30 300"] (downtime-limit, ms)  OUT [results-tcg-autoconverge.md, - for stdout]
# Needs root and what tests/bats/lib/hosts.bash needs (qemu-system-x86, linux-image-amd64,
# busybox-static, python3, iproute2, curl). hosts_down on any exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
TRIES=${TRIES:-3}
LIMITS=${LIMITS:-30 300}
OUT=${OUT:-$here/results-tcg-autoconverge.md}
((EUID == 0)) || { echo "tcg_autoconverge: run as root" >&2; exit 1; }

work=$(mktemp -d /tmp/adaptfs-tcgac.XXXXXX)
export ADAPT_TEST_STATE=$work/state ADAPTFS_BIN=$repo/adaptfs
# shellcheck source=../../tests/bats/lib/hosts.bash
source "$repo/tests/bats/lib/hosts.bash"
cleanup() { local rc=$?; hosts_down >/dev/null 2>&1; rm -rf "$work"; exit $rc; }
trap cleanup EXIT
trap 'exit 130' INT TERM

hosts_up hA hB || exit 1
rows=$work/rows
try=0
for limit in $LIMITS; do
	for ((i = 1; i <= TRIES; i++)); do
		try=$((try + 1))
		name=tac$try
		VM_MEM=256 VM_APPEND_EXTRA=adapt.dirty=32 host_vm_up hA "$name" >/dev/null || { echo "boot failed" >&2; exit 1; }
		ip=$(host_vm_ip hA "$name")
		host_vm_args hA "$name" >"$work/args"
		u0=$(uptime_of "$ip")
		out=$(/usr/bin/python3 "$here/bare_migrate.py" --hostexec "$HOSTEXEC" --qemu "$VM_QEMU" \
			--dst-host hB --dst-addr "$(host_addr hB)" --dst-dir "$(host_dir hB)/run/$name" \
			--src-pid "$(host_vm_pid hA "$name")" --args "$work/args" --tap "$(host_vm_tap hA "$name")" \
			--max-bandwidth 16777216 --downtime-limit "$limit" --capability auto-converge \
			--timeout 150 --poll 0.02)
		rc=$?
		sleep 3
		u1=$(uptime_of "$ip")
		said=$(grep -m1 -oE "BUG[^[]*|Oops[^[]*|list_(add|del) corruption[^[]*|Kernel panic[^[]*" \
			"$(host_dir hB)/run/$name/$name.serial" 2>/dev/null | head -c 90)
		printf '| %s | %s | %s | %s | %s → %s | %s |\n' "$try" "$limit" \
			"$( ((rc == 0)) && jq -r '"\(.total_ms | round) ms, downtime \(.downtime_ms) ms"' <<<"$out" || echo "failed ($rc)")" \
			"$( [[ -n $u1 ]] && echo yes || echo **no**)" "${u0:--}" "${u1:--}" "${said:-nothing}" >>"$rows"
		echo "tcg_autoconverge: $(tail -n1 "$rows")" >&2
		pid=$(cat "$(host_dir hB)/run/$name/$name.pid" 2>/dev/null) && kill "$pid" 2>/dev/null
		host_vm_down hA "$name" >/dev/null 2>&1
	done
done

report() {
	echo "# auto-converge under TCG: the guest's memory after the move"
	echo
	echo "Produced by \`bench/migrate/tcg_autoconverge.sh\` (no adaptfs: bare_migrate.py, QMP by hand); see bench/README.md, section migrate."
	echo
	echo "- date: $(date -u +%FT%TZ); machine: nproc=$(nproc), kernel $(uname -r); $("$VM_QEMU" --version | head -n1), TCG"
	echo "- guest: microvm, 256 MiB, /init rewriting 32 MiB of random bytes in a loop; link capped at 16 MiB/s; auto-converge on"
	echo
	echo "| try | downtime-limit ms | move | HTTP after | guest uptime before → after, s | the guest kernel at the peer said |"
	echo "|--:|--:|---|---|---|---|"
	cat "$rows"
	echo
	echo "A guest whose kernel reports a BUG, an Oops or corrupted lists after the move had its memory"
	echo "changed under it: pages the move lost or sent stale. adaptfs leaves auto-converge off for guests"
	echo "under TCG (adaptfs.conf(5), BUGS); under KVM the kernel tracks dirty pages, not TCG's softmmu."
}
if [[ $OUT == - ]]; then report; else report >"$OUT" && echo "tcg_autoconverge: wrote $OUT" >&2; fi
