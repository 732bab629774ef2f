# The soak's daemon RSS and open fds over time (bench/soak/run.sh writes both files).
# gnuplot -e "png='results.png'; dat='results.dat'; ttl='TITLE'; warmup=60" soak.gp
# dat columns: t_s rss_kb fds threads workloads (one line per sample, "#" lines ignored).
# The dashed line is the least-squares fit of RSS over t >= warmup (the verdict's slope).
set terminal pngcairo size 1000,700 font "sans,10" noenhanced
set output png
set multiplot layout 2,1 title ttl
set grid
set xlabel "seconds into the run"
set xrange [0:*]
set key bottom right
stats dat using (column(1) >= warmup ? column(1) : NaN):(column(2) / 1024.0) nooutput
a = STATS_slope; b = STATS_intercept
set title sprintf("daemon RSS: %+.1f kB/min fitted over t >= %d s (the summary's slope)", a * 60 * 1024, warmup)
set ylabel "VmRSS MiB"
set yrange [0:*]
set arrow 1 from warmup, graph 0 to warmup, graph 1 nohead dt 3 lc rgb "#888888"
set label 1 "warm-up" at warmup, graph 0.05 right offset -0.5, 0 textcolor rgb "#888888"
plot dat using 1:($2 / 1024.0) title "VmRSS" with linespoints lw 2 pt 7 ps 0.6 lc rgb "#c0392b", \
     [warmup:*] a * x + b title "fit (t >= warm-up)" with lines dt 2 lw 1.5 lc rgb "#555555"
set title "daemon open fds and threads"
set ylabel "count"
set yrange [0:*]
set key bottom right
plot dat using 1:3 title "open fds" with steps lw 2 lc rgb "#2471a3", \
     dat using 1:4 title "threads" with steps lw 2 dt 2 lc rgb "#229954"
unset multiplot
