# shellcheck shell=bash
# tests/bats/lib/swap.bash — a swapfile for tests that need memory to go to swap.
#   swap_ensure   swapon a 1 GiB swapfile in $BATS_FILE_TMPDIR unless 768 MiB of swap are
#                 free already (a smaller swap, or one another user filled, is not enough:
#                 a test's reclaim would fail with the device full)
#   swap_release  swapoff and remove it again (call from teardown_file; idempotent)

swap_free_mib() { awk '$1 == "SwapFree:" { print int($2 / 1024) }' /proc/meminfo; }

swap_ensure() {
	local f=$BATS_FILE_TMPDIR/swapfile
	(($(swap_free_mib) >= 768)) && return 0
	[ -f "$f" ] && return 0
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
