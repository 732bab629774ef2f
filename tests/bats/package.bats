#!/usr/bin/env bats
# The Debian package: build it with dpkg-buildpackage from a copy of the committed tree
# (HEAD), check it with lintian, install it, run the installed programs, verify its unit
# (systemd-analyze verify: systemd is not PID 1 here) and run the unit's ExecStartPre,
# ExecStart, ExecReload and ExecStopPost lines as systemd would (on a temporary mount
# point, with a notify socket), upgrade it to a second build of the same tree at a higher
# version (a managed workload started by the old daemon keeps its pid through the upgrade
# and the restart, and the new daemon adopts it), and purge it (no file of it left).
#
# Slow but needed: the package builds take a minute or more each and install into the
# system's /usr for the length of this file (purged in teardown_file even when a test
# fails). Skip it locally with: bats --filter-tags '!slow' tests/bats
# bats file_tags=slow

# Why this host cannot run the file, or "" (bats 1.8 cannot skip from setup_file: each test
# skips in setup with this reason).
pkg_skip_reason() {
	command -v dpkg-buildpackage >/dev/null || { echo "dpkg-buildpackage not installed (Debian package dpkg-dev)"; return; }
	command -v dh >/dev/null || { echo "dh not installed (Debian package debhelper)"; return; }
	command -v git >/dev/null || { echo "git not installed: the package is built from HEAD"; return; }
	git -C "$_ADAPT_REPO_ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1 ||
		{ echo "not a git checkout: the package is built from HEAD"; return; }
	if dpkg-query -W -f '${Status}' adaptfs 2>/dev/null | grep -q 'install ok installed'; then
		echo "an adaptfs package is already installed on this host: not replacing or purging it"
	fi
}

setup_file() {
	load lib/mount
	PKG_SKIP=$(pkg_skip_reason)
	export PKG_SKIP
	[[ -z $PKG_SKIP ]] || return 0
	export PKG_DIR=$BATS_FILE_TMPDIR/pkg
	mkdir -p "$PKG_DIR/src"
	git -C "$_ADAPT_REPO_ROOT" archive HEAD | tar -x -C "$PKG_DIR/src"
	(cd "$PKG_DIR/src" && dpkg-buildpackage -us -uc -b) >"$PKG_DIR/build.log" 2>&1 3>&- ||
		{ tail -50 "$PKG_DIR/build.log" >&2; return 1; }
	DEB=$(compgen -G "$PKG_DIR/adaptfs_*.deb")
	export DEB
}

teardown_file() {
	load lib/mount
	adaptfs_umount || true
	# purged even when a test failed half-way; only if this file installed it
	if [[ -f $BATS_FILE_TMPDIR/installed ]]; then
		dpkg --purge adaptfs >/dev/null 2>&1 || true
	fi
}

setup() {
	[[ -z $PKG_SKIP ]] || skip "$PKG_SKIP"
	load lib/mount
	UNIT_PID= UNIT_MNT= NOTIFY_PID= NOTIFY_SOCK= WL_DIR=
}

# what a test started: the daemon it ran as the unit would (by pid), its mount point,
# the notify socket's listener
teardown() {
	[[ -z $PKG_SKIP ]] || return 0
	if [[ -n $UNIT_PID ]] && _adapt_pid_alive "$UNIT_PID"; then
		kill -TERM "$UNIT_PID" 2>/dev/null || true
		wait_for -t 5 _adapt_pid_gone "$UNIT_PID" || kill -KILL "$UNIT_PID" 2>/dev/null || true
	fi
	if [[ -n $UNIT_MNT ]]; then
		adaptfs_mounted "$UNIT_MNT" && { fusermount3 -u -z "$UNIT_MNT" || umount -l "$UNIT_MNT" || true; }
		rmdir "$UNIT_MNT" 2>/dev/null || true
	fi
	if [[ -n $NOTIFY_PID ]]; then
		kill -TERM "$NOTIFY_PID" 2>/dev/null || true
		wait_for -t 5 _adapt_pid_gone "$NOTIFY_PID" || kill -KILL "$NOTIFY_PID" 2>/dev/null || true
	fi
	[[ -z $NOTIFY_SOCK ]] || rm -f "$NOTIFY_SOCK"
	wl_teardown
	adaptfs_umount || true
}

install_pkg() {
	touch "$BATS_FILE_TMPDIR/installed"
	dpkg -i "$DEB"
}

# installed_version: the installed adaptfs's version, or nothing
installed_version() { dpkg-query -W -f '${Status} ${Version}' adaptfs 2>/dev/null | awk '$3 == "installed" { print $4 }'; }

ensure_installed() { [[ -n $(installed_version) ]] || install_pkg; }

# unit_line KEY: the value of KEY= in the installed unit (one line expected)
unit_line() {
	local v
	v=$(sed -n "s/^$1=//p" /lib/systemd/system/adaptfs.service)
	[[ -n $v && $v != *$'\n'* ]] || { echo "unit has no single $1= line" >&2; return 1; }
	echo "$v"
}

# unit_argv LINE: LINE's words into ARGV, the unit's mount point /adapt replaced with
# UNIT_MNT and $MAINPID with UNIT_PID, as systemd would expand them; IGNORE_FAIL=1 when
# LINE starts with "-" (systemd then ignores its failure)
unit_argv() {
	local line=$1 w
	IGNORE_FAIL=0
	if [[ $line == -* ]]; then
		IGNORE_FAIL=1
		line=${line#-}
	fi
	ARGV=()
	for w in $line; do
		case $w in
		/adapt) ARGV+=("$UNIT_MNT") ;;
		'$MAINPID') ARGV+=("$UNIT_PID") ;;
		*) ARGV+=("$w") ;;
		esac
	done
}

# UNIT_ENV: the prefix that runs a command as systemd runs a unit's: a clean environment
# (PATH and the service's NOTIFY_SOCKET). An array, not a function: "${UNIT_ENV[@]}" CMD &
# is one process (env execs CMD), so $! is the daemon's pid, as $MAINPID is.
unit_env_set() {
	UNIT_ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
	[[ -z $NOTIFY_SOCK ]] || UNIT_ENV+=("NOTIFY_SOCKET=$NOTIFY_SOCK")
}

# a datagram socket in the manner of systemd's notify socket: every message received is
# one line of FILE
notify_listen() {
	local file=$1
	NOTIFY_SOCK=$(mktemp -u /tmp/adaptfs-notify.XXXXXX)
	python3 - "$NOTIFY_SOCK" "$file" </dev/null >/dev/null 2>&1 3>&- <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode(errors="replace").replace("\n", " ") + "\n")
        out.flush()
PY
	NOTIFY_PID=$!
	wait_for -t 5 test -S "$NOTIFY_SOCK"
}

# nth_has N FILE WORD: at least N lines of FILE contain WORD
nth_has() { (($(grep -c "$3" "$2") >= $1)); }

# A managed workload (a busybox httpd in runc, adaptfs-workloads(5)) run by the installed
# daemon on a mount point of its own; WL_* name what it made, for teardown.
WL_BR=apk-br0
WL_IP=10.237.0.10
wl_answers() { timeout 3 busybox wget -q -O - "http://$WL_IP:8080/index.html" | grep -q apk-page; }
wl_pid() { runc state adaptfs-apk-web 2>/dev/null | jq -r 'select(.status == "running") | .pid'; }
wl_start_daemon() {
	"${UNIT_ENV[@]}" /usr/sbin/adaptfs -f -c "$WL_DIR/adaptfs.conf" "$UNIT_MNT" </dev/null >>"$WL_DIR/adaptfs.log" 2>&1 3>&- &
	UNIT_PID=$!
	wait_for -t 10 test -e "$UNIT_MNT/host/cores"
}
wl_setup() {
	load lib/containers
	_adapt_need runc jq ip || skip "runc, jq and ip are needed for a managed workload"
	WL_DIR=$BATS_TEST_TMPDIR/wl
	mkdir -p "$WL_DIR/recipes" "$WL_DIR/run" "$WL_DIR/data"
	_adapt_busybox_rootfs "$WL_DIR/root"
	echo "apk-page-$$" >"$WL_DIR/data/index.html"
	printf '[managed]\nrecipes = %s/recipes\nrun_dir = %s/run\nbridge = %s\nbridge_address = 10.237.0.1/24\nbridge_mac = 02:ad:00:00:ec:01\n' \
		"$WL_DIR" "$WL_DIR" "$WL_BR" >"$WL_DIR/adaptfs.conf"
	cat >"$WL_DIR/recipes/apk-web.conf" <<-EOF
		[workload]
		rootfs = $WL_DIR/root
		command = /bin/sh -c 'trap "exit 0" TERM; httpd -p 8080 -h /data; while :; do sleep 1 & wait \$!; done'
		address = $WL_IP/24
		data = $WL_DIR/data
		ready_port = 8080
		stop_timeout = 2
	EOF
	UNIT_MNT=$(mktemp -d /tmp/adaptfs-unit.XXXXXX)
	unit_env_set
}
wl_teardown() {
	[[ -n ${WL_DIR:-} ]] || return 0
	"$_ADAPT_REPO_ROOT/adaptfs" -c "$WL_DIR/adaptfs.conf" --stop-workloads >/dev/null 2>&1 || true
	if runc state adaptfs-apk-web >/dev/null 2>&1; then
		runc kill adaptfs-apk-web KILL 2>/dev/null || true
		runc delete -f adaptfs-apk-web >/dev/null 2>&1 || true
	fi
	[[ -e /run/netns/adaptfs-apk-web ]] && ip netns del adaptfs-apk-web
	ip link show dev "$WL_BR" >/dev/null 2>&1 && ip link del dev "$WL_BR"
	WL_DIR=
}

@test "dpkg-buildpackage builds adaptfs_*.deb with the programs, man pages and service" {
	[ -f "$DEB" ]
	run dpkg-deb -c "$DEB"
	[ "$status" -eq 0 ]
	for f in ./usr/sbin/adaptfs ./usr/bin/adapttop \
		./usr/share/man/man8/adaptfs.8.gz ./usr/share/man/man5/adaptfs.5.gz \
		./usr/share/man/man5/adaptfs.conf.5.gz ./usr/share/man/man1/adapttop.1.gz \
		./etc/adaptfs/adaptfs.conf.example ./usr/share/doc/adaptfs/examples/alert.sh \
		./usr/share/adaptfs/prometheus/adaptfs.rules.yml; do
		grep -q " $f\$" <<<"$output" || { echo "missing $f"; false; }
	done
	if [[ -f $PKG_DIR/src/etc/adaptfs.service ]]; then
		grep -q ' ./lib/systemd/system/adaptfs.service$' <<<"$output"
		# dh_installsystemd: enabled on install, started where systemd runs
		dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./postinst | grep -q "deb-systemd-helper enable 'adaptfs.service'"
	fi
	run dpkg-deb -f "$DEB" Depends
	echo "Depends: $output"
	[[ $output == *libfuse3* && $output == *fuse3* ]]
	# only what adaptfs needs to start: no Xen libraries (the backend is built only with
	# the build profile pkg.adaptfs.xen), no engine
	[[ $output != *xen* ]]
	for engine in runc crun qemu lxc criu busybox cpio openssh linux-image prometheus; do
		[[ $output != *"$engine"* ]] || { echo "Depends names $engine"; false; }
	done
	# the engines stay Recommends and Suggests
	[[ $(dpkg-deb -f "$DEB" Recommends) == *runc* ]]
	[[ $(dpkg-deb -f "$DEB" Suggests) == *criu* ]]
}

@test "lintian reports nothing on the .deb but the overrides of debian/adaptfs.lintian-overrides" {
	command -v lintian || skip "lintian not installed"
	run lintian --fail-on error,warning,info --info --display-info "$DEB"
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -E '^[EWI]: ' <<<"$output" || false
}

@test "the installed package runs: adaptfs --version, adapttop --version, man pages" {
	ensure_installed
	run /usr/sbin/adaptfs --version
	[ "$status" -eq 0 ]
	[[ $output == "adaptfs "[0-9]* ]]
	run /usr/bin/adapttop --version
	[ "$status" -eq 0 ]
	[[ $output == "adapttop "[0-9]* ]]
	# no Xen library linked in (the .deb leaves the backend out)
	ldd /usr/sbin/adaptfs >"$BATS_TEST_TMPDIR/ldd"
	! grep -qi xen "$BATS_TEST_TMPDIR/ldd" || false
	for page in 8:adaptfs 5:adaptfs 5:adaptfs.conf 1:adapttop; do
		[ "$(man -w "${page%%:*}" "${page#*:}")" = "/usr/share/man/man${page%%:*}/${page#*:}.${page%%:*}.gz" ]
	done
	MANWIDTH=80 man 8 adaptfs 2>/dev/null | grep -q 'adaptfs'
	MANWIDTH=80 man 1 adapttop 2>/dev/null | grep -q 'adapttop'
}

@test "the installed adaptfs mounts, serves a file, and unmounts" {
	ensure_installed
	ADAPTFS_BIN=/usr/sbin/adaptfs adaptfs_mount
	grep -Eq '^online [0-9]+$' "$ADAPTFS_MNT/host/cores"
	run /usr/bin/adapttop -b -n 1 -m "$ADAPTFS_MNT"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "adapttop - $ADAPTFS_MNT - "* ]]
	mnt=$ADAPTFS_MNT
	adaptfs_umount
	run adaptfs_mounted "$mnt"
	[ "$status" -ne 0 ]
}

@test "the conffile documents every section and key of adaptfs.conf(5); uncommented, the installed daemon starts with it" {
	ensure_installed
	conf=/etc/adaptfs/adaptfs.conf.example
	dpkg-query -W -f '${Conffiles}' adaptfs | grep -q " $conf "
	# every key adaptfs.conf(5) defines (a .TP item KEY= in a [SECTION] section) is in
	# its section of the conffile, commented out
	keys=$(awk '/^\.SH /{ sec = "" } /^\.SH \[[a-z]+\] SECTION$/{ sec = substr($2, 2, length($2) - 2) }
		sec && prev == ".TP" && /^\.B[IR]? [a-z0-9_]+=/{ k = $2; sub(/=.*/, "", k); print sec ":" k } { prev = $0 }' \
		"$PKG_DIR/src/man/adaptfs.conf.5")
	[[ $keys == *policy:enabled* && $keys == *migration:timeout* ]]
	for sk in $keys; do
		awk -v s="[${sk%%:*}]" -v k="${sk#*:}" '/^\[/{ cur = $0 } cur == s && $0 ~ "^#" k " = " { f = 1 } END { exit !f }' "$conf" ||
			{ echo "not in $conf: [${sk%%:*}] ${sk#*:}"; false; }
	done
	# every example value, uncommented, loads (less the keys that name this host's own
	# groups, paths, peers and cgroups)
	sed -E 's/^#([a-z0-9_]+ = )/\1/' "$conf" |
		grep -Ev '^(pattern|transport|address|libvirt_uri|group|bridge_address|scope|state_dir|run_dir|recipes) = ' \
		>"$BATS_TEST_TMPDIR/all.conf"
	grep -q '^\[policy\]$' "$BATS_TEST_TMPDIR/all.conf"
	grep -q '^overload = ' "$BATS_TEST_TMPDIR/all.conf"
	grep -q '^downtime_ms = ' "$BATS_TEST_TMPDIR/all.conf"
	ADAPTFS_BIN=/usr/sbin/adaptfs adaptfs_mount --config "$BATS_TEST_TMPDIR/all.conf"
	grep -Eq '^online [0-9]+$' "$ADAPTFS_MNT/host/cores"
	adaptfs_umount
}

@test "systemd-analyze verify accepts the installed unit" {
	command -v systemd-analyze || skip "systemd-analyze not installed (Debian package systemd)"
	ensure_installed
	run systemd-analyze verify /lib/systemd/system/adaptfs.service
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q adaptfs <<<"$output" || false
}

@test "the unit's ExecStartPre, ExecStart, ExecReload and ExecStopPost run as systemd runs them" {
	ensure_installed
	[ "$(unit_line Type)" = notify ]
	UNIT_MNT=$(mktemp -u /tmp/adaptfs-unit.XXXXXX)
	notify_listen "$BATS_TEST_TMPDIR/notify"
	unit_env_set
	# ExecStartPre: makes the mount point
	unit_argv "$(unit_line ExecStartPre)"
	"${UNIT_ENV[@]}" "${ARGV[@]}"
	[ -d "$UNIT_MNT" ]
	# ExecStart: the daemon in the foreground, READY=1 once it serves
	unit_argv "$(unit_line ExecStart)"
	[ "${ARGV[0]}" = /usr/sbin/adaptfs ]
	[ "${ARGV[-1]}" = "$UNIT_MNT" ]
	"${UNIT_ENV[@]}" "${ARGV[@]}" </dev/null >"$BATS_TEST_TMPDIR/unit.log" 2>&1 3>&- &
	UNIT_PID=$!
	wait_for -t 10 grep -q READY=1 "$BATS_TEST_TMPDIR/notify" || { cat "$BATS_TEST_TMPDIR/unit.log"; false; }
	[ "$(cat /proc/$UNIT_PID/comm)" = adaptfs ]
	adaptfs_mounted "$UNIT_MNT"
	grep -Eq '^online [0-9]+$' "$UNIT_MNT/host/cores"
	grep -q '^adapt_build_info{' "$UNIT_MNT/metrics.prom"
	# ExecReload: adaptfs --check-config, then SIGHUP to $MAINPID (systemd runs the
	# lines in order and stops at a failure); RELOADING=1, then READY=1 again, still serving
	local reload n=0
	while IFS= read -r reload; do
		unit_argv "$reload"
		"${UNIT_ENV[@]}" "${ARGV[@]}"
		n=$((n + 1))
	done < <(sed -n 's/^ExecReload=//p' /lib/systemd/system/adaptfs.service)
	[ "$n" = 2 ]
	[[ " ${ARGV[*]} " == *" $UNIT_PID "* ]]
	wait_for -t 10 nth_has 2 "$BATS_TEST_TMPDIR/notify" READY=1 || { cat "$BATS_TEST_TMPDIR/notify"; false; }
	grep -q RELOADING=1 "$BATS_TEST_TMPDIR/notify"
	_adapt_pid_alive "$UNIT_PID"
	! grep -q 'reload failed' "$UNIT_MNT/events" || false
	grep -Eq '^online [0-9]+$' "$UNIT_MNT/host/cores"
	# stop: systemd sends SIGTERM to the main process; it unmounts and exits 0
	kill -TERM "$UNIT_PID"
	wait_for -t 10 _adapt_pid_gone "$UNIT_PID"
	wait "$UNIT_PID"
	! adaptfs_mounted "$UNIT_MNT" || false
	# ExecStopPost: the lazy unmount of a mount a crashed daemon left; "-": its failure
	# (nothing mounted) is ignored
	unit_argv "$(unit_line ExecStopPost)"
	[ "$IGNORE_FAIL" = 1 ]
	"${UNIT_ENV[@]}" "${ARGV[@]}" || true
	rmdir "$UNIT_MNT"
	UNIT_MNT=
}

@test "dpkg -i of a higher version upgrades the installed package and keeps a changed conffile" {
	ensure_installed
	v1=$(installed_version)
	# the same tree at a higher version: a changelog entry on top
	mkdir -p "$PKG_DIR/v2/src"
	git -C "$_ADAPT_REPO_ROOT" archive HEAD | tar -x -C "$PKG_DIR/v2/src"
	v2=$v1+upgradetest1
	maint=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$PKG_DIR/v2/src/debian/changelog" | head -1)
	{
		printf 'adaptfs (%s) unstable; urgency=medium\n\n  * Test build of the same tree (tests/bats/package.bats).\n\n -- %s  %s\n\n' \
			"$v2" "$maint" "$(date -R)"
		cat "$PKG_DIR/v2/src/debian/changelog"
	} >"$PKG_DIR/v2/changelog"
	mv "$PKG_DIR/v2/changelog" "$PKG_DIR/v2/src/debian/changelog"
	(cd "$PKG_DIR/v2/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b) >"$PKG_DIR/v2/build.log" 2>&1 3>&- ||
		{ tail -50 "$PKG_DIR/v2/build.log"; false; }
	deb2=$(compgen -G "$PKG_DIR/v2/adaptfs_${v2}_*.deb")
	dpkg --compare-versions "$v2" gt "$v1"
	# the operator changed the conffile; the package did not: dpkg keeps the change
	conf=/etc/adaptfs/adaptfs.conf.example
	echo "# changed by tests/bats/package.bats" >>"$conf"
	# a managed workload, run by the installed daemon, runs through the upgrade
	wl_setup
	wl_start_daemon
	wait_for -t 60 grep -q "apk-web: started as container" "$WL_DIR/adaptfs.log" || { cat "$WL_DIR/adaptfs.log"; false; }
	wait_for -t 10 wl_answers
	pid=$(wl_pid)
	[ -n "$pid" ]
	run dpkg -i "$deb2"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(installed_version)" = "$v2" ]
	# the restart the package asks of systemd after an upgrade (systemd is not PID 1
	# here: done as systemd would, SIGTERM, then the new binary): the workload never stops,
	# the new daemon adopts it
	[ "$(wl_pid)" = "$pid" ]
	kill -TERM "$UNIT_PID"
	wait_for -t 10 _adapt_pid_gone "$UNIT_PID"
	[ "$(wl_pid)" = "$pid" ]
	wl_answers
	wl_start_daemon
	wait_for -t 30 grep -q "apk-web: adopted: running as container, pid $pid" "$WL_DIR/adaptfs.log" ||
		{ cat "$WL_DIR/adaptfs.log"; false; }
	[ "$(wl_pid)" = "$pid" ]
	wl_answers
	kill -TERM "$UNIT_PID"
	wait_for -t 10 _adapt_pid_gone "$UNIT_PID"
	run /usr/sbin/adaptfs -c "$WL_DIR/adaptfs.conf" --stop-workloads
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"apk-web: stopping it (container, pid $pid)"* ]]
	! runc state adaptfs-apk-web >/dev/null 2>&1
	tail -1 "$conf" | grep -qx '# changed by tests/bats/package.bats'
	# every file of the new version is in place, none but the conffile differs
	run dpkg --verify adaptfs
	echo "$output"
	[[ -z $output || $output == *" c $conf" ]]
	[ "$(wc -l <<<"$output")" -le 1 ]
	run /usr/sbin/adaptfs --version
	[ "$status" -eq 0 ]
	ADAPTFS_BIN=/usr/sbin/adaptfs adaptfs_mount
	grep -Eq '^online [0-9]+$' "$ADAPTFS_MNT/host/cores"
	adaptfs_umount
}

@test "dpkg --purge removes the package and every file of it" {
	ensure_installed
	# every path the package installed, and its conffiles
	dpkg-query -L adaptfs >"$BATS_TEST_TMPDIR/files"
	grep -q '^/usr/sbin/adaptfs$' "$BATS_TEST_TMPDIR/files"
	dpkg --purge adaptfs
	rm -f "$BATS_FILE_TMPDIR/installed"
	while read -r f; do
		[[ -n $f && $f != /. ]] || continue
		if [[ -d $f ]]; then
			# a directory other packages share (/usr/share/man/man8 ...) stays; one of
			# adaptfs's own must go
			case $f in
			*/adaptfs | */adaptfs/*) echo "directory left: $f"; false ;;
			esac
		else
			[[ ! -e $f && ! -L $f ]] || { echo "file left: $f"; false; }
		fi
	done <"$BATS_TEST_TMPDIR/files"
	[ ! -e /usr/sbin/adaptfs ]
	[ ! -e /usr/bin/adapttop ]
	[ ! -e /etc/adaptfs ]
	[ ! -e /var/lib/adaptfs ]
	[ ! -e /usr/share/adaptfs ]
	run dpkg-query -W -f '${Status}' adaptfs
	[[ $output != *"installed"* ]]
}
