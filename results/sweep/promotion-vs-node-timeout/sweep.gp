# rcsim sweep: pfail_ms, fail_ms, promoted_ms against cluster-node-timeout (master_crash).
# Data: summary.csv (median, min, max per value). Render: cd into this directory, gnuplot sweep.gp
set datafile separator ','
set title "master_crash: pfail_ms, fail_ms, promoted_ms vs cluster-node-timeout\nmedian, min-max over 10 seeds (1..10); run until 60s"
set xlabel 'cluster-node-timeout'
set ylabel 'pfail_ms, fail_ms, promoted_ms (ms after the fault)'
set grid
set key top left
set autoscale xfix
set offsets graph 0.05, graph 0.05, graph 0.08, 0
set yrange [0:*]
set terminal svg size 900,560 dynamic noenhanced font 'sans,12'
set output 'sweep.svg'
plot 'summary.csv' skip 1 using 1:17:18:19 with yerrorlines lw 2 pt 7 title 'pfail_ms', \
     'summary.csv' skip 1 using 1:21:22:23 with yerrorlines lw 2 pt 7 title 'fail_ms', \
     'summary.csv' skip 1 using 1:29:30:31 with yerrorlines lw 2 pt 7 title 'promoted_ms'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 900,560 noenhanced font 'sans,10'
} else {
  set terminal png size 900,560 noenhanced
}
set output 'sweep.png'
replot
unset output
