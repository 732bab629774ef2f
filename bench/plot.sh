#!/bin/bash
# bench/plot.sh — one column of a benchmark's markdown results table as a PNG bar chart.
#
# usage: bench/plot.sh RESULTS.md COLUMN [OUT.png] [TITLE]
#   RESULTS.md  a results file with at least one markdown table (| a | b |, then |---|---|)
#   COLUMN      the header of the column to plot, exactly as written ("median", "p99 (-k)")
#   OUT.png     default: RESULTS.md's directory/RESULTS-COLUMN.png (COLUMN made file-safe)
#   TITLE       default: the first "# " heading of RESULTS.md
# The first table whose header has COLUMN is used; each row is one bar, labelled by its first
# cell; a cell's first number is its value (markup such as **1.22×** is ignored), rows
# without a number are left out. Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail

if (($# < 2 || $# > 4)); then
	echo "usage: $0 RESULTS.md COLUMN [OUT.png] [TITLE]" >&2
	exit 2
fi
in=$1 col=$2
[[ -r $in ]] || { echo "plot.sh: cannot read $in" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not installed (apt install gnuplot-nox)" >&2; exit 2; }
safe=$(tr -c 'A-Za-z0-9._-' '_' <<<"$col" | sed 's/_*$//')
out=${3:-${in%.md}-$safe.png}
title=${4:-$(awk '/^# / { sub(/^# /, ""); print; exit }' "$in")}

data=$(mktemp)
trap 'rm -f "$data"' EXIT
# label<TAB>value for each row of the first table that has COLUMN
awk -F'|' -v col="$col" '
	function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
	done { exit }
	/^\|/ {
		if (!k) {				# a header row: look for the column
			for (i = 2; i < NF; i++) if (trim($i) == col) k = i
			sep = 1
			next
		}
		if (sep) { sep = 0; next }		# the |---| line under the header
		if (match($k, /-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
			label = trim($2); gsub(/[*`]/, "", label)
			printf "%s\t%s\n", label, substr($k, RSTART, RLENGTH)
			rows++
		}
		next
	}
	k && rows { done = 1 }				# the table ended
	END { exit !rows }
' "$in" >"$data" || { echo "plot.sh: no table in $in has a column '$col' with numbers" >&2; exit 1; }

n=$(wc -l <"$data")
gnuplot <<GP
set terminal pngcairo size $((480 + 40 * n)),480 font "sans,9"
set output "$out"
set title "${title//\"/\\\"}"
set ylabel "${col//\"/\\\"}"
set rmargin 12
set boxwidth 0.7
set style fill solid 0.8 border -1
set xtics rotate by -35 scale 0 noenhanced
set grid ytics
set yrange [0:*]
set key off
set datafile separator "\t"
set xrange [-0.6:$n - 0.4]
plot "$data" using 0:2:xtic(1) with boxes linecolor rgb "#3b6ea5"
GP
echo "$out"
