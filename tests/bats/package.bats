#!/usr/bin/env bats
# The Debian package: build it with dpkg-buildpackage from a copy of the committed tree
# (HEAD), install it, run the installed programs, mount with the installed daemon, purge.
#
# Slow but needed: the package build takes half a minute or more and installs into the
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
}

install_pkg() {
	touch "$BATS_FILE_TMPDIR/installed"
	dpkg -i "$DEB"
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
	[[ $output == *libfuse3* && $output == *fuse3* ]]
}

@test "the installed package runs: adaptfs --version, adapttop --version, man pages" {
	install_pkg
	run /usr/sbin/adaptfs --version
	[ "$status" -eq 0 ]
	[[ $output == "adaptfs "[0-9]* ]]
	run /usr/bin/adapttop --version
	[ "$status" -eq 0 ]
	[[ $output == "adapttop "[0-9]* ]]
	for page in 8:adaptfs 5:adaptfs 5:adaptfs.conf 1:adapttop; do
		[ "$(man -w "${page%%:*}" "${page#*:}")" = "/usr/share/man/man${page%%:*}/${page#*:}.${page%%:*}.gz" ]
	done
	MANWIDTH=80 man 8 adaptfs 2>/dev/null | grep -q 'adaptfs'
	MANWIDTH=80 man 1 adapttop 2>/dev/null | grep -q 'adapttop'
}

@test "the installed adaptfs mounts, serves a file, and unmounts" {
	[[ -x /usr/sbin/adaptfs ]] || install_pkg
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

@test "dpkg --purge removes the package and its files" {
	[[ -x /usr/sbin/adaptfs ]] || install_pkg
	dpkg --purge adaptfs
	rm -f "$BATS_FILE_TMPDIR/installed"
	[ ! -e /usr/sbin/adaptfs ]
	[ ! -e /usr/bin/adapttop ]
	[ ! -e /etc/adaptfs ]
	[ ! -e /var/lib/adaptfs ]
	run dpkg-query -W -f '${Status}' adaptfs
	[[ $output != *"installed"* ]]
}
