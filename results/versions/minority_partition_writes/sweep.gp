# rcsim sweep: lost_writes, promoted_ms against version (minority_partition_writes).
# Data: summary.csv (median, min, max per value). Render: cd into this directory, gnuplot sweep.gp
set datafile separator ','
set title "minority_partition_writes: lost_writes, promoted_ms vs version\nmedian, min-max over 100 seeds (1..100)"
set xlabel 'version'
set ylabel 'lost_writes, promoted_ms'
set grid
set key top left
set xrange [-0.5:5-0.5]
set offsets 0, 0, graph 0.08, 0
set yrange [0:*]
set terminal svg size 900,560 dynamic noenhanced font 'sans,12'
set output 'sweep.svg'
plot 'summary.csv' skip 1 using 0:61:62:63:xticlabels(1) with yerrorlines lw 2 pt 7 title 'lost_writes', \
     'summary.csv' skip 1 using 0:29:30:31:xticlabels(1) with yerrorlines lw 2 pt 7 title 'promoted_ms'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 900,560 noenhanced font 'sans,10'
} else {
  set terminal png size 900,560 noenhanced
}
set output 'sweep.png'
replot
unset output
