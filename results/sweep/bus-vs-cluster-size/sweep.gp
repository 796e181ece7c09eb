# rcsim sweep: bytes_per_node_per_s against masters (idle_cluster).
# Data: summary.csv (median, min, max per value). Render: cd into this directory, gnuplot sweep.gp
set datafile separator ','
set title "idle_cluster: bytes_per_node_per_s vs masters\nmedian, min-max over 5 seeds (1..5); cluster-node-timeout=15000, run until 30s"
set xlabel 'masters'
set ylabel 'bytes_per_node_per_s (bytes per node per s)'
set grid
set key top left
set autoscale xfix
set offsets graph 0.05, graph 0.05, graph 0.08, 0
set yrange [0:*]
set terminal svg size 900,560 dynamic noenhanced font 'sans,12'
set output 'sweep.svg'
plot 'summary.csv' skip 1 using 1:45:46:47 with yerrorlines lw 2 pt 7 title 'bytes_per_node_per_s'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 900,560 noenhanced font 'sans,10'
} else {
  set terminal png size 900,560 noenhanced
}
set output 'sweep.png'
replot
unset output
