#!/usr/bin/env bats
# bench/plot.sh: a column of a markdown results table becomes a PNG bar chart.

setup() {
	command -v gnuplot || skip "gnuplot not installed (Debian package gnuplot-nox)"
	PLOT=$BATS_TEST_DIRNAME/../../bench/plot.sh
	cat >"$BATS_TEST_TMPDIR/results.md" <<-'EOF2'
		# Read latency: a test table

		| file | bytes | median | p99 |
		|------|------:|-------:|----:|
		| adaptfs:/NAME/cpu | 60 | 51.62 | 156.66 |
		| `hellofs:/metric` | 188 | **42.30** | 139.99 |
		| lxcfs:/proc/meminfo | 1503 | 228.85 | n/a |

		| target | result |
		|--------|--------|
		| x | met |
	EOF2
}

# width and height of a PNG from its IHDR chunk
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{ printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8 }'; }

@test "a results column becomes a PNG with one bar per row that has a number" {
	run "$PLOT" "$BATS_TEST_TMPDIR/results.md" median
	[ "$status" -eq 0 ]
	[ "$output" = "$BATS_TEST_TMPDIR/results-median.png" ]
	[ "$(head -c 8 "$output" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]
	# the width grows with the rows: 480 + 40 per bar, three bars here
	[ "$(png_size "$output")" = "600 480" ]
	run "$PLOT" "$BATS_TEST_TMPDIR/results.md" p99 "$BATS_TEST_TMPDIR/p99.png" "p99"
	[ "$status" -eq 0 ]
	[ "$(png_size "$BATS_TEST_TMPDIR/p99.png")" = "560 480" ]
}

@test "a column no table has is an error, not an empty picture" {
	run "$PLOT" "$BATS_TEST_TMPDIR/results.md" nosuch
	[ "$status" -eq 1 ]
	[[ $output == *"no table"*"nosuch"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/results-nosuch.png" ]
	run "$PLOT" "$BATS_TEST_TMPDIR/results.md"
	[ "$status" -eq 2 ]
}
