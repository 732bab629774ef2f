# bench/modes/modes.gp - throughput per mode against instances per host.
#   gnuplot -e "dat='results.dat'; png='results.png'; ttl='TITLE'" modes.gp
# dat: "WORKLOAD-MODE N VALUE" per line (pi: M samples/s, web: requests/s), as run.sh writes it.
# Two panels (the units differ), log y (a TCG VM is an order of magnitude slower), one line
# per workload/mode.
if (!exists("dat")) dat = 'results.dat'
if (!exists("png")) png = 'results.png'
if (!exists("ttl")) ttl = 'bench/modes'
set terminal pngcairo size 1100,480 font ",10"
set output png
set multiplot layout 1,2 title ttl
set logscale y
set grid ytics mytics xtics
set xlabel "instances per host (N)"
set xtics 1
set xrange [0.7:4.3]
set key top left
set format y "%g"
sel(wl) = sprintf("< awk '$1 == \"%s\"' %s", wl, dat)

set title "Monte-Carlo Pi (CPU-heavy)"
set ylabel "samples / s, all instances (millions)"
plot sel("pi-container") using 2:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "pi, container (runc)", \
     sel("pi-vm") using 2:3 with linespoints lw 2 pt 5 lc rgb "#d62728" title "pi, VM (QEMU microvm)"

set title "busybox httpd, static page, wrk (network)"
set ylabel "requests / s, all instances"
plot sel("web-container") using 2:3 with linespoints lw 2 pt 7 lc rgb "#2ca02c" title "web, container (runc)", \
     sel("web-vm") using 2:3 with linespoints lw 2 pt 5 lc rgb "#ff7f0e" title "web, VM (QEMU microvm)"
unset multiplot
