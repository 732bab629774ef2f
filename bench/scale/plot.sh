#!/bin/bash
# bench/scale/plot.sh - the scale results against N as one PNG of three line plots.
#
# usage: bench/scale/plot.sh RESULTS.md [OUT.png]     (OUT default: RESULTS.png)
#   1. CPU per sweep (--interval 5): the daemon (schedstat mean), its quietest interval, and
#      the raw loop scaled to the workloads adaptfs sampled;
#   2. read latency medians with 8 readers: hellofs_hl, NAME/cpu, NAME/stat, metrics.prom,
#      LXCFS proc/meminfo;
#   3. discovery of a new cgroup, median and p99, with the 100 ms target.
# Figures are read from the "## N = ..." sections run.sh writes; log scales on both axes.
# Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail

(($# == 1 || $# == 2)) || { echo "usage: $0 RESULTS.md [OUT.png]" >&2; exit 2; }
in=$1 out=${2:-${1%.md}.png}
[[ -r $in ]] || { echo "scale/plot.sh: cannot read $in" >&2; exit 2; }
command -v gnuplot >/dev/null || { echo "scale/plot.sh: gnuplot not installed (apt install gnuplot-nox)" >&2; exit 2; }

data=$(mktemp)
trap 'rm -f "$data"' EXIT
# one line per N: N daemon quiet raw hellofs cpu stat prom meminfo disco_median disco_p99
awk -F'|' '
	function num(s) { return match(s, /[0-9]+(\.[0-9]+)?/) ? substr(s, RSTART, RLENGTH) + 0 : "NaN" }
	function flush() { if (n != "") print n, v["d"], v["q"], v["r"], v["h"], v["c"], v["s"], v["p"], v["m"], v["dm"], v["dp"] }
	/^## / { flush(); n = ""; delete v; for (k in keys) v[k] = "NaN" }
	/^## N = [0-9]+/ { n = $0; sub(/^## N = /, "", n); n += 0 }
	n == "" { next }
	/daemon CPU per sweep, schedstat/  { v["d"] = num($3) }
	/the quietest interval/            { v["q"] = num($3) }
	/rawloop mean scaled to/           { v["r"] = num($3) }
	/^\| hellofs_hl:\/metric /         { v["h"] = num($4) }
	/^\| adaptfs:\/NAME\/cpu /         { v["c"] = num($4) }
	/^\| adaptfs:\/NAME\/stat /        { v["s"] = num($4) }
	/^\| adaptfs:\/metrics.prom /      { v["p"] = num($4) }
	/^\| lxcfs:\/proc\/meminfo /       { v["m"] = num($4) }
	/discovery: mkdir/ { split($3, a, "/"); v["dm"] = num(a[1]); v["dp"] = num(a[2]) }
	BEGIN { split("d q r h c s p m dm dp", ks, " "); for (i in ks) keys[ks[i]] }
	END { flush() }
' "$in" >"$data"
[[ -s $data ]] || { echo "scale/plot.sh: no '## N = ...' section in $in" >&2; exit 1; }
title=$(awk '/^# / { sub(/^# /, ""); print; exit }' "$in")

gnuplot <<GP
set terminal pngcairo size 1500,520 font "sans,10" noenhanced
set output "$out"
set multiplot layout 1,3 title "${title//\"/\\\"}"
set logscale xy
set xrange [*:*]
set offsets graph 0.08, graph 0.08, 0, 0
set xtics (10, 100, 1000, 10000)
set xlabel "N (workloads of the run)"
set grid xtics ytics mytics
set key top left
set style data linespoints
set title "CPU per sweep, --interval 5, no readers"
set ylabel "ms"
plot "$data" using 1:2 title "adaptfs (mean)" lw 2 pt 7 lc rgb "#c0392b", \
     "" using 1:3 title "adaptfs (quietest interval)" lw 2 pt 6 dt 2 lc rgb "#c0392b", \
     "" using 1:4 title "raw loop, same files" lw 2 pt 5 lc rgb "#2471a3"
set title "read latency, 8 readers: median"
set ylabel "µs (open + read to EOF + close)"
plot "$data" using 1:5 title "hellofs_hl /metric" lw 2 pt 5 lc rgb "#2471a3", \
     "" using 1:6 title "adaptfs NAME/cpu" lw 2 pt 7 lc rgb "#c0392b", \
     "" using 1:7 title "adaptfs NAME/stat" lw 2 pt 6 lc rgb "#e67e22", \
     "" using 1:8 title "adaptfs metrics.prom" lw 2 pt 9 lc rgb "#7d3c98", \
     "" using 1:9 title "LXCFS proc/meminfo" lw 2 pt 13 lc rgb "#229954"
set title "discovery: new cgroup to MNT/NAME"
set ylabel "ms"
plot "$data" using 1:10 title "median" lw 2 pt 7 lc rgb "#2471a3", \
     "" using 1:11 title "p99 (worst of 50)" lw 2 pt 6 lc rgb "#c0392b", \
     100 title "target 100 ms" with lines dt 2 lw 1 lc rgb "#555555"
unset multiplot
GP
echo "$out"
