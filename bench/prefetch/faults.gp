# Per-process major faults per 100 ms around the request (t = 0), prefetch off and on.
# gnuplot -e "png='OUT.png'; off='faults-off.dat'; on='faults-on.dat'; offt='TITLE'; ont='TITLE';
#             xmax=SECONDS; offend=SECONDS; onend=SECONDS" faults.gp
# (offend, onend: when each run's request ended; drawn as a dashed line)
# Columns: t httpd ruby mariadbd pswpin_MiB
set terminal pngcairo size 1400,800 font ",10"
set output png
set multiplot layout 2,2 title "Sibling swap prefetch: the paper's experiment (httpd + ruby CGI + MariaDB in A, 819 MiB hog in B)"
set grid
set xrange [-10:xmax]
set key top left
set xlabel "seconds from the request"
set ylabel "major faults per 100 ms"
set style data steps
stats off using 4 nooutput
ymax = STATS_max
stats on using 4 nooutput
ymax = (STATS_max > ymax ? STATS_max : ymax) * 1.1 + 10
set yrange [0:ymax]
set title offt
set arrow 1 from offend, graph 0 to offend, graph 1 nohead dt 2 lc rgb "#555555"
plot off using 1:4 title "mariadbd" lw 2 lc rgb "#c0392b", \
     off using 1:2 title "httpd (all processes)" lw 2 lc rgb "#2471a3", \
     off using 1:3 title "ruby (query.cgi)" lw 2 lc rgb "#229954"
set title ont
set arrow 1 from onend, graph 0 to onend, graph 1 nohead dt 2 lc rgb "#555555"
plot on using 1:4 title "mariadbd" lw 2 lc rgb "#c0392b", \
     on using 1:2 title "httpd (all processes)" lw 2 lc rgb "#2471a3", \
     on using 1:3 title "ruby (query.cgi)" lw 2 lc rgb "#229954"
set ylabel "swap-in MiB per 100 ms (host pswpin)"
stats off using 5 nooutput
smax = STATS_max
stats on using 5 nooutput
smax = (STATS_max > smax ? STATS_max : smax) * 1.1 + 1
set yrange [0:smax]
set title offt . ": swap-in"
set arrow 1 from offend, graph 0 to offend, graph 1 nohead dt 2 lc rgb "#555555"
plot off using 1:5 title "pswpin" lw 2 lc rgb "#7d3c98"
set title ont . ": swap-in (prefetch reads included)"
set arrow 1 from onend, graph 0 to onend, graph 1 nohead dt 2 lc rgb "#555555"
plot on using 1:5 title "pswpin" lw 2 lc rgb "#7d3c98"
unset multiplot
