# bench/prefetch/budget.gp — first-request latency and extra swap-in against the
# read-back budget. Variables (gnuplot -e): png, dat (budget-MiB ms extra% "label"
# per budget, "no cap" at twice the largest cap), offms and idealms (the off-runs'
# and the ideal run's medians).
set terminal pngcairo size 900,520 font ",10"
set output png
set title "bench/prefetch: the read-back budget per trigger"
set xlabel "read-back budget per trigger, MiB (max\\_bytes\\_per\\_trigger; no cap at the right)"
set logscale x 2
set offsets graph 0.04, graph 0.04, 0, 0
set ylabel "first request, ms (median)"
set y2label "extra swap-in vs prefetch off, %"
set y2tics
set ytics nomirror
set yrange [0:*]
set key top right
set grid
plot dat using 1:2 with linespoints lw 2 pt 7 title "first request (on)", \
     dat using 1:2:4 with labels offset 0,1 notitle, \
     offms with lines dt 2 lc rgb "red" title "prefetch off", \
     idealms with lines dt 3 lc rgb "dark-green" title "ideal (no pressure)", \
     dat using 1:3 axes x1y2 with linespoints lw 1 pt 5 title "extra swap-in (right axis)"
