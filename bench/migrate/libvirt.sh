#!/bin/bash
# bench/migrate/libvirt.sh — libvirt's guests: adaptfs (echo host=PEER > placement, which runs
# libvirt's own migration) against virsh by hand, and libvirt's post-copy as the anchor of the
# slow-link case of run.sh (issue 23).
#
#   sudo bench/migrate/libvirt.sh            # ROUNDS=5, writes bench/migrate/results-libvirt.md
#   sudo OUT=- bench/migrate/libvirt.sh      # prints the table only
#
# Two test hosts hA and hB of tests/bats/lib/hosts.bash, each with a libvirtd of its own
# (tests/bats/lib/libvirt.bash: its network namespace, listening on its address; hA's adaptfs
# given hB's as [host hB] libvirt_uri = qemu+tcp://ADDR/system).
#
# Live: a transient TCG domain on hA (256 MiB, 1 vCPU, a NIC on the hosts' bridge) whose /init
# fills 128 MiB of its RAM (adapt.fill=128) and then serves HTTP; moved hA -> hB -> hA by virsh
# once, untimed (each libvirtd's first incoming guest costs it seconds of probing QEMU). Then
# ROUNDS rounds, each one pair of moves per tool (hA -> hB, then hB -> hA), tools alternating
# from round to round:
#   adaptfs  echo host=hB > MNT/NAME/placement, wall clock around the write; downtime from the
#            "moved to hB live (libvirt) in T ms (downtime D ms)" line of events;
#   virsh    virsh -c SRC migrate --live --p2p --migrateuri tcp://DST_ADDR NAME DST_URI (libvirt's
#            defaults otherwise), wall clock around it; downtime from libvirt's job-completed
#            event (virsh event, started before).
# Slow link: the same kind of domain with 640 MiB rewriting 256 MiB of random bytes in a loop
# (adapt.dirty=256), faster than 64 MiB/s carries it. One move hA -> hB per tool and round:
#   virsh postcopy   virsh migrate --live --p2p --postcopy --postcopy-after-precopy
#                    --bandwidth 64 (libvirt's post-copy: switched to after the first pass);
#   adaptfs postcopy [migration] max_bandwidth = 64 MiB/s, converge = postcopy, postcopy_after
#                    = 2 (through libvirt: --postcopy --timeout 2 --timeout-postcopy
#                    --bandwidth 64), hA's daemon restarted with it.
# The guest's own uptime, over HTTP, must go on across every slow-link move.
#
# Environment: ROUNDS [5], SLOW_ROUNDS [1], OUT [bench/migrate/results-libvirt.md].
# Needs what tests/bats/lib/hosts.bash and lib/libvirt.bash need (libvirt-daemon-system), a
# built ./adaptfs and ./adaptfs-migrate. On any exit the libvirtds and the hosts go.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ROUNDS=${ROUNDS:-5}
SLOW_ROUNDS=${SLOW_ROUNDS:-1}
OUT=${OUT:-$here/results-libvirt.md}
FILL=128
SLOW_MIB=256

die() { echo "bench/migrate/libvirt: $*" >&2; exit 1; }
((EUID == 0)) || die "run as root"
[[ -x $repo/adaptfs && -x $repo/adaptfs-migrate ]] || die "build first: make adaptfs adaptfs-migrate"

work=$(mktemp -d /tmp/adaptfs-bmiglv.XXXXXX)
export ADAPT_TEST_STATE=$work/state
export ADAPTFS_BIN=$repo/adaptfs
# shellcheck source=../../tests/bats/lib/hosts.bash
source "$repo/tests/bats/lib/hosts.bash"
# shellcheck source=../../tests/bats/lib/libvirt.bash
source "$repo/tests/bats/lib/libvirt.bash"
why=$(lv_why_not)
[[ -z $why ]] || die "$why"

cleanup() {
	local rc=$? h
	for h in hA hB; do
		[[ -d $(host_dir "$h" 2>/dev/null)/libvirt ]] && lv_stop "$(host_dir "$h")/libvirt"
	done
	# shellcheck disable=SC2119 # no options: only what this run set up
	hosts_down || echo "bench/migrate/libvirt: hosts_down reported leftovers" >&2
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

samples=$work/samples.tsv
printf 'case\ttool\tfrom\tto\ttotal_ms\tdowntime_ms\tload1\tdetail\n' >"$samples"
load1() { cut -d' ' -f1 /proc/loadavg; }
span() { echo $(((${2/./} - ${1/./}) / 1000)); }
lv() { local h=$1; shift; lv_virsh "$(host_dir "$h")/libvirt" "$@"; }
peer_uri() { echo "qemu+tcp://$(host_addr "$1")/system"; }
running_on() { [[ $(lv "$1" domstate "$2" 2>/dev/null) == running ]]; }

# a domain NAME on hA serving HTTP at IP once its /init is ready (LV_MEM, LV_APPEND_EXTRA)
guest_up() { # NAME IP
	local xml=$work/$1.xml
	lv_domain_xml "$1" httpd "$(printf '02:ad:0a:e9:00:%02x' "${2##*.}")" "$2" >"$xml"
	lv hA create "$xml" >/dev/null || die "$1 did not start"
	wait_for -t 600 grep -q "$VM_READY_MARKER" "$LV_SERIAL_DIR/$1.serial.log" || die "$1 did not boot"
}

adaptfs_move() { # CASE NAME FROM TO TOOL
	local mnt n0 t0 t1 line
	mnt=$(host_mnt "$3")
	wait_for -t 30 test -d "$mnt/$2" || die "$2: not in $3's adaptfs"
	n0=$(wc -l <"$mnt/events")
	t0=$EPOCHREALTIME
	echo "host=$4" >"$mnt/$2/placement" || {
		tail -n +"$((n0 + 1))" "$mnt/events" >&2
		die "$1: adaptfs $3 -> $4 failed"
	}
	t1=$EPOCHREALTIME
	line=$(tail -n +"$((n0 + 1))" "$mnt/events" | grep "$2: placement: moved to $4 live (libvirt) in" | tail -n1)
	[[ -n $line ]] || die "$1: no 'moved to $4' line in $3's events"
	printf '%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n' "$1" "$5" "$3" "$4" "$(span "$t0" "$t1")" \
		"$(sed 's/.*downtime \([0-9]*\) ms.*/\1/' <<<"$line")" "$(load1)" \
		"event_total_ms=$(sed 's/.* in \([0-9]*\) ms.*/\1/' <<<"$line")" >>"$samples"
}

virsh_move() { # CASE NAME FROM TO TOOL [VIRSH_MIGRATE_OPTION...]
	local c=$1 name=$2 s=$3 d=$4 tool=$5 ev t0 t1
	shift 5
	virsh -q -c "$(lv_uri "$(host_dir "$s")/libvirt")" event --domain "$name" --event job-completed \
		--timeout 600 >"$work/event" 2>&1 &
	ev=$!
	# connected to libvirtd (a socket among its fds) before the job starts
	wait_for -t 5 sh -c "ls -l /proc/$ev/fd 2>/dev/null | grep -q socket:" || die "virsh event did not connect"

	t0=$EPOCHREALTIME
	lv "$s" migrate --live --p2p --migrateuri "tcp://$(host_addr "$d")" "$@" "$name" "$(peer_uri "$d")" ||
		die "$c: virsh migrate $s -> $d failed"
	t1=$EPOCHREALTIME
	wait "$ev"
	printf '%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n' "$c" "$tool" "$s" "$d" "$(span "$t0" "$t1")" \
		"$(awk '$1 == "downtime:" { print $2 }' "$work/event")" "$(load1)" "$*" >>"$samples"
}

live_case() {
	local c="libvirt live, $FILL MiB dirtied" name=blv ip=$HOSTS_NET.190 r tools t
	echo "== $c" >&2
	LV_MEM=$((FILL + 128)) LV_APPEND_EXTRA="adapt.fill=$FILL" guest_up "$name" "$ip"
	# untimed: each libvirtd's first incoming guest costs it seconds of probing QEMU
	for hop in hA:hB hB:hA; do
		lv "${hop%:*}" migrate --live --p2p --migrateuri "tcp://$(host_addr "${hop#*:}")" "$name" \
			"$(peer_uri "${hop#*:}")" || die "warm-up move ${hop%:*} -> ${hop#*:} failed"
	done
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r % 2)); then tools="adaptfs virsh"; else tools="virsh adaptfs"; fi
		for t in $tools; do
			for hop in hA:hB hB:hA; do
				set -- "${hop%:*}" "${hop#*:}"
				wait_for -t 30 running_on "$1" "$name" || die "$name does not run on $1"
				if [[ $t == adaptfs ]]; then
					adaptfs_move "$c" "$name" "$1" "$2" adaptfs
				else
					virsh_move "$c" "$name" "$1" "$2" virsh
				fi
				echo "  $(tail -n1 "$samples")" >&2
			done
		done
	done
}

slow_case() {
	local c="slow link (64 MiB/s), $SLOW_MIB MiB rewritten in a loop" name=bslowlv ip=$HOSTS_NET.191 r t u0 u1 s
	echo "== $c" >&2
	LV_MEM=$((2 * SLOW_MIB + 128)) LV_APPEND_EXTRA="adapt.dirty=$SLOW_MIB" guest_up "$name" "$ip"
	printf '[migration]\nmax_bandwidth = %d\nconverge = postcopy\npostcopy_after = 2\ntimeout = 60\n' \
		$((64 * 1048576)) >>"$(host_conf hA)"
	printf '[migration]\nmax_bandwidth = %d\nconverge = postcopy\npostcopy_after = 2\ntimeout = 60\n' \
		$((64 * 1048576)) >>"$(host_conf hB)"
	host_restart hA || die "hA did not restart"
	host_restart hB || die "hB did not restart"
	s=hA
	for ((r = 1; r <= SLOW_ROUNDS; r++)); do
		for t in "virsh postcopy" "adaptfs postcopy"; do
			local d=hB
			[[ $s == hB ]] && d=hA
			wait_for -t 30 running_on "$s" "$name" || die "$name does not run on $s"
			u0=$(uptime_of "$ip") || die "$name does not answer"
			if [[ $t == adaptfs* ]]; then
				adaptfs_move "$c" "$name" "$s" "$d" "$t"
			else
				virsh_move "$c" "$name" "$s" "$d" "$t" --postcopy --postcopy-after-precopy --bandwidth 64
			fi
			u1=$(uptime_of "$ip") || die "$name does not answer after the move"
			awk -v a="$u1" -v b="$u0" 'BEGIN { exit !(a > b) }' || die "$c: the guest's uptime went from $u0 to $u1"
			sed -i '$ s/$/ uptime '"$u0"'->'"$u1"' s/' "$samples"
			echo "  $(tail -n1 "$samples")" >&2
			s=$d
		done
	done
}

start_date=$(date -u +%FT%TZ)
started=$EPOCHREALTIME
vm_image_build
hosts_up hA hB || die "hosts_up failed"
export LV_SERIAL_DIR=$ADAPT_HOSTS_DIR/shared
mkdir -p "$LV_SERIAL_DIR"
for h in hA hB; do
	lv_start "$(host_dir "$h")/libvirt" "$h" >&2 || die "libvirtd on $h did not come up"
	printf '[libvirt]\nuri = %s\n' "$(lv_uri "$(host_dir "$h")/libvirt")" >>"$(host_conf "$h")"
done
sed -i "/^\[host hB\]\$/a libvirt_uri = $(peer_uri hB)" "$(host_conf hA)"
sed -i "/^\[host hA\]\$/a libvirt_uri = $(peer_uri hA)" "$(host_conf hB)"
host_restart hA && host_restart hB || die "the daemons did not restart"
live_case
slow_case
elapsed=$(span "$started" "$EPOCHREALTIME")

report() {
	/usr/bin/python3 - "$samples" <<PY
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(c, tool, key):
    v = [float(r[key]) for r in rows if r["case"].startswith(c) and r["tool"] == tool and r[key] not in ("", "-")]
    return (statistics.median(v) if v else None), v
f = lambda x: "-" if x is None else "%.0f" % x
print("# Migration of libvirt's guests: adaptfs against virsh by hand")
print()
print("Produced by \`bench/migrate/libvirt.sh\`; see its head and bench/README.md, section migrate.")
print()
print("- date: $start_date; whole run $((elapsed / 1000)) s")
print("- machine: nproc=$(nproc), kernel $(uname -r); libvirt $(libvirtd --version | awk '{ print $NF }'); $($VM_QEMU --version | head -n1) (TCG)")
print("- adaptfs at repo $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'), hosts hA hB of tests/bats/lib/hosts.bash, one libvirtd each; rounds: $ROUNDS live (each one move hA→hB and one hB→hA per tool, tools alternating), $SLOW_ROUNDS slow-link")
print()
print("Times in ms, medians over all samples of a case. ratio = adaptfs / virsh.")
print()
print("| case | adaptfs median total ms | virsh median total ms | ratio | adaptfs median downtime ms | virsh median downtime ms | samples |")
print("|------|------:|------:|------:|------:|------:|------:|")
at, atv = med("libvirt live", "adaptfs", "total_ms")
vt, vtv = med("libvirt live", "virsh", "total_ms")
ad, _ = med("libvirt live", "adaptfs", "downtime_ms")
vd, _ = med("libvirt live", "virsh", "downtime_ms")
print("| libvirt live, $FILL MiB dirtied | %s | %s | **%.2f×** | %s | %s | %d+%d |" % (f(at), f(vt), at / vt, f(ad), f(vd), len(atv), len(vtv)))
print()
print("## Slow link: libvirt's post-copy as the anchor")
print()
print("| tool | total ms | downtime ms | uptime across the move |")
print("|------|------:|------:|------|")
for r in rows:
    if r["case"].startswith("slow"):
        print("| %s | %s | %s | %s |" % (r["tool"], r["total_ms"], r["downtime_ms"], r["detail"].split(" uptime ")[-1] if " uptime " in r["detail"] else "-"))
print()
print("## Targets")
print()
print("| target | measured | result |")
print("|--------|----------|--------|")
print("| libvirt live: total ≤ 1.2 × virsh by hand | %.2f× | %s |" % (at / vt, "met" if at / vt <= 1.2 else "**missed**"))
print("| libvirt live: median downtime ≤ 50 ms | %s ms | %s |" % (f(ad), "met" if ad is not None and ad <= 50 else "**missed**"))
sd, _ = med("slow", "adaptfs postcopy", "downtime_ms")
print("| slow link: adaptfs post-copy through libvirt completes, uptime going on, downtime ≤ 300 ms | %s ms | %s |" % (f(sd), "met" if sd is not None and sd <= 300 else "**missed**"))
print()
print("## Every sample")
print()
print("| case | tool | move | total ms | downtime ms | load1 | detail |")
print("|------|------|------|------:|------:|------:|--------|")
for r in rows:
    print("| %s | %s | %s→%s | %s | %s | %s | %s |" % (r["case"], r["tool"], r["from"], r["to"], r["total_ms"], r["downtime_ms"], r["load1"], r["detail"]))
PY
}

if [[ $OUT == - ]]; then
	report
else
	report >"$OUT.new" || die "report failed"
	mv "$OUT.new" "$OUT"
	echo "bench/migrate/libvirt: wrote $OUT" >&2
fi
