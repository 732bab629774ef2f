# shellcheck shell=bash
# tests/bats/lib/swap.bash — a swapfile for tests that need memory to go to swap.
#   swap_ensure   swapon a 1 GiB swapfile in $BATS_FILE_TMPDIR unless swap is already on
#   swap_release  swapoff and remove it again (call from teardown_file; idempotent)

swap_ensure() {
	[ -n "$(swapon --show --noheadings)" ] && return 0
	local f=$BATS_FILE_TMPDIR/swapfile
	dd if=/dev/zero of="$f" bs=1M count=1024 status=none
	chmod 600 "$f"
	mkswap "$f" >/dev/null
	swapon "$f"
}

swap_release() {
	local f=$BATS_FILE_TMPDIR/swapfile
	if [ -f "$f" ]; then
		swapoff "$f" 2>/dev/null || true
		rm -f "$f"
	fi
}
