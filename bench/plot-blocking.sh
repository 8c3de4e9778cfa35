#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Plots the block mode of spawn-async-bench: the time the calling thread
# spends inside the spawn call against the caller's heap size, one line per
# method (p50 solid, p99 dashed), as PNG and SVG.
#
#   bench/plot-blocking.sh bench-results.csv docs/performance-blocking
#
# Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail

csv=${1:?usage: $0 RESULTS.csv OUTPUT-PREFIX}
out=${2:?usage: $0 RESULTS.csv OUTPUT-PREFIX}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One data file per method: heap_mib p50_ms p99_ms, in the order measured.
awk -F, -v dir="$tmp" '
  NR > 1 && $1 == "block" && $4 == "block" {
    if (!($2 in file)) {
      n++
      file[$2] = sprintf("%s/%02d.dat", dir, n)
      printf "%s\n", $2 > sprintf("%s/%02d.name", dir, n)
    }
    printf "%s %.6f %.6f\n", $3, $7 / 1000, $8 / 1000 > file[$2]
  }' "$csv"

if ! ls "$tmp"/*.dat >/dev/null 2>&1; then
  echo "$0: no block rows in $csv" >&2
  exit 1
fi

plots=""
i=0
for dat in "$tmp"/*.dat; do
  i=$((i + 1))
  name=$(cat "${dat%.dat}.name")
  sort -n "$dat" -o "$dat"
  plots+="'$dat' using 1:2 with linespoints ls $i title '$name p50', "
  plots+="'$dat' using 1:3 with lines ls $i dt 2 notitle, "
done
plots+="0.03 with lines lc rgb '#888888' dt 3 title 'target: p50 30 us', "
plots+="0.2 with lines lc rgb '#444444' dt 3 title 'target: p99 0.2 ms'"

for term in png svg; do
  if [ "$term" = png ]; then
    setterm="set terminal pngcairo size 900,560 font 'sans,10'"
  else
    setterm="set terminal svg size 900,560 dynamic font 'sans,10'"
  fi
  gnuplot <<GNUPLOT
$setterm
set output '$out.$term'
set termoption noenhanced
set title 'Time the caller blocks per spawn of /bin/true (solid: p50, dashed: p99)'
set xlabel 'caller heap, MiB (allocated and touched)'
set ylabel 'blocking time per call, ms'
set logscale xy
set xrange [8:16384]
set yrange [0.0005:1000]
set format y '%g'
set grid xtics ytics mytics
set key outside right top
set style line 1 lc rgb '#1b9e77' lw 2 pt 7
set style line 2 lc rgb '#d95f02' lw 2 pt 5
set style line 3 lc rgb '#7570b3' lw 2 pt 9
set style line 4 lc rgb '#e7298a' lw 2 pt 11
set style line 5 lc rgb '#66a61e' lw 2 pt 13
set style line 6 lc rgb '#e6ab02' lw 2 pt 3
plot $plots
GNUPLOT
done
echo "wrote $out.png and $out.svg"
