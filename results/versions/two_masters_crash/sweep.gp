# rcsim sweep: promoted_ms, last_promoted_ms, converged_ms against version (two_masters_crash).
# Data: summary.csv (median, min, max per value). Render: cd into this directory, gnuplot sweep.gp
set datafile separator ','
set title "two_masters_crash: promoted_ms, last_promoted_ms, converged_ms vs version\nmedian, min-max over 200 seeds (1..200)"
set xlabel 'version'
set ylabel 'promoted_ms, last_promoted_ms, converged_ms (ms after the fault)'
set grid
set key top left
set xrange [-0.5:5-0.5]
set offsets 0, 0, graph 0.08, 0
set yrange [0:*]
set terminal svg size 900,560 dynamic noenhanced font 'sans,12'
set output 'sweep.svg'
plot 'summary.csv' skip 1 using 0:29:30:31:xticlabels(1) with yerrorlines lw 2 pt 7 title 'promoted_ms', \
     'summary.csv' skip 1 using 0:37:38:39:xticlabels(1) with yerrorlines lw 2 pt 7 title 'last_promoted_ms', \
     'summary.csv' skip 1 using 0:33:34:35:xticlabels(1) with yerrorlines lw 2 pt 7 title 'converged_ms'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 900,560 noenhanced font 'sans,10'
} else {
  set terminal png size 900,560 noenhanced
}
set output 'sweep.png'
replot
unset output
