# Plots of the latest benchmark figures; run by bench/plots.sh, which picks
# the latest CSV rows into data files under `dir` (same columns as the CSVs
# in bench/results/, header dropped) and sets `out` (where the PNGs go),
# `replay_wl` (the replay workloads in block order) and rx, ry (the point
# of the replay plot's slope-1 reference line). A missing or empty data
# file leaves its plot out.

set datafile separator ","
set terminal pngcairo size 1400,560 font "sans,10" noenhanced
set style fill solid 0.85 border -1
set grid ytics lc rgb "#dddddd"
set key below horizontal
has(f) = int(system(sprintf("test -s '%s/%s' && echo 1 || echo 0", dir, f)))
file(f) = sprintf("%s/%s", dir, f)
c1 = "#4477aa"; c2 = "#88bbee"; c3 = "#cc6677"; c4 = "#ee99aa"

# --- exit cost: ns per exit round trip (slope), and where it goes ---------
if (has("exit-cost.dat")) {
	set output out . "/exit-cost.png"
	set multiplot layout 1,2 title "Exit cost floor (exitloop guest)"
	set title "wall ns per exit round trip (slope between two loop counts)"
	set style data histograms
	set style histogram clustered gap 1
	set boxwidth 0.8
	set yrange [0:*]
	set ylabel "ns"
	plot file("exit-cost.dat") using 7:xtic(3) title "slope" lc rgb c1, \
	     '' using 8 title "mean incl. boot" lc rgb c2, \
	     '' using 0:7:(sprintf("%.0f", $7)) with labels offset -2.2,0.7 notitle
	if (has("exit-split.dat")) {
		set title "one exit under the BPF observer: monitor vs KVM_RUN (ns)"
		set style histogram rowstacked
		set boxwidth 0.5
		plot file("exit-split.dat") using 7:xtic(3) title "in the monitor (userspace)" lc rgb c3, \
		     '' using 8 title "in KVM_RUN (kernel + guest)" lc rgb c1, \
		     '' using 0:($7 + $8):(sprintf("%.1f%% monitor", $10)) with labels offset 0,0.7 notitle
	}
	unset multiplot
	set yrange [*:*]
}

# --- overhead of the SQLite trace and of the kernel-side observer ---------
if (has("logging.dat")) {
	set output out . "/overhead.png"
	set multiplot layout 1,2 title "Overheads: exits/s with / without (1.0 = free)"
	set style data histograms
	set style histogram clustered gap 1
	set boxwidth 0.8
	set yrange [0:1.3]
	set ylabel "ratio"
	set title "SQLite trace (--db vs --no-log)"
	plot file("logging.dat") using 8:xtic(3) title "exits/s ratio" lc rgb c1, \
	     '' using 0:8:(sprintf("%.3f", $8)) with labels offset 0,0.7 notitle, \
	     0.95 with lines dt 2 lc rgb "red" title "goal 0.95"
	if (has("observer.dat")) {
		set title "BPF observer (--kernel-trace on top of --db)"
		plot file("observer.dat") using 9:xtic(3) title "exits/s ratio" lc rgb c3, \
		     '' using 0:9:(sprintf("%.3f", $9)) with labels offset 0,0.7 notitle, \
		     1 with lines dt 2 lc rgb "gray" title "1.0"
	}
	unset multiplot
	set yrange [*:*]
}

# --- side by side with QEMU -------------------------------------------------
if (has("qemu.dat")) {
	set output out . "/qemu.png"
	set multiplot layout 1,3 title "Same images under qemu-system-x86_64 -enable-kvm and devirt run (best wall time)"
	set style data histograms
	set style histogram clustered gap 1
	set boxwidth 0.9
	set yrange [0:*]
	set ylabel "seconds"
	set title "wall time per run (startup = hello ticks=1)"
	plot file("qemu.dat") using 6:xtic(3) title "QEMU" lc rgb c3, \
	     '' using 7 title "QEMU -trace" lc rgb c4, \
	     '' using 8 title "devirt --no-log" lc rgb c1, \
	     '' using 9 title "devirt --db" lc rgb c2
	set title "devirt / QEMU (raw; net = startup subtracted)"
	set ylabel "ratio (< 1: devirt faster)"
	plot file("qemu.dat") using 10:xtic(3) title "tracing off" lc rgb c1, \
	     '' using 11 title "tracing on" lc rgb c2, \
	     '' using 18 title "net, off" lc rgb c3, \
	     '' using 19 title "net, on" lc rgb c4, \
	     1 with lines dt 2 lc rgb "gray" notitle
	set title "tracing on / off, per VMM"
	set ylabel "ratio"
	plot file("qemu.dat") using 12:xtic(3) title "QEMU -trace / off" lc rgb c3, \
	     '' using 13 title "devirt --db / --no-log" lc rgb c1, \
	     1 with lines dt 2 lc rgb "gray" notitle
	unset multiplot
	set yrange [*:*]
}

# --- replay and exhaustive injection against trace length ----------------
if (has("replay.dat")) {
	set output out . "/replay.png"
	set multiplot layout 1,3 title "Replay against trace length (log-log)"
	set style data linespoints
	set logscale xy
	set xlabel "accesses in the trace"
	set format x "%.0s%c"
	set title "exhaustive roundtrip injection: wall seconds"
	set ylabel "seconds"
	set key inside top left vertical
	set xrange [500:200000]
	plot for [i = 1:words(replay_wl)] file("replay.dat") index i - 1 using 5:12 title word(replay_wl, i) lw 2 pt 7 lc i, \
	     (rx > 0 ? ry * x / rx : NaN) with lines dt 2 lc rgb "gray" title "linear (through mixed)", \
	     (rx > 0 ? ry * (x / rx)**2 : NaN) with lines dt 3 lc rgb "gray" title "quadratic"
	set title "probe cost: accesses replayed per injection"
	set ylabel "accesses"
	plot for [i = 1:words(replay_wl)] file("replay.dat") index i - 1 using 5:17 title word(replay_wl, i) lw 2 pt 7 lc i
	set title "strict replay: accesses/s"
	set ylabel "accesses/s"
	set format y "%.0s%c"
	set key inside bottom left vertical
	plot for [i = 1:words(replay_wl)] file("replay.dat") index i - 1 using 5:10 title word(replay_wl, i) . " (--no-store)" lw 2 pt 7 lc i, \
	     for [i = 1:words(replay_wl)] file("replay.dat") index i - 1 using 5:8 title word(replay_wl, i) . " (stored)" lw 1 dt 2 pt 6 lc i
	unset multiplot
	unset logscale
	set format x "% h"; set format y "% h"
	unset xlabel
	set xrange [*:*]
	set key below horizontal
}

# --- switch latency and pauses (virtual time is deterministic) ------------
if (has("switch.dat")) {
	set terminal pngcairo size 1400,900 font "sans,10" noenhanced
	set output out . "/switch-latency.png"
	set multiplot layout 2,1 title "Switch latency, request to completion, per workload (policy), device and action (0 not drawn)"
	set style data histograms
	set style histogram clustered gap 1
	set boxwidth 0.9
	set logscale y
	set yrange [0.1:*]
	set xtics rotate by 40 right
	set lmargin 20
	set ylabel "us"
	set title "wall"
	plot file("switch.dat") using ($10 / 1e3):xtic(12) title "median" lc rgb c1, '' using ($11 / 1e3) title "p99" lc rgb c2
	set title "virtual"
	plot file("switch.dat") using ($8 > 0 ? $8 / 1e3 : 1e-3):xtic(12) title "median" lc rgb c3, \
	     '' using ($9 > 0 ? $9 / 1e3 : 1e-3) title "p99" lc rgb c4
	unset multiplot
	if (has("pause.dat")) {
		set terminal pngcairo size 1400,560 font "sans,10" noenhanced
		set output out . "/pause.png"
		set title "Pause windows by workload (policy), device and kind, virtual time: busy/defer answers, V4 waits, D1 quiescing (0 not drawn)"
		plot file("pause.dat") using ($8 > 0 ? $8 / 1e3 : 1e-3):xtic(12) title "median" lc rgb c1, \
		     '' using ($9 > 0 ? $9 / 1e3 : 1e-3) title "p99" lc rgb c2, \
		     '' using ($10 > 0 ? $10 / 1e3 : 1e-3) title "max" lc rgb c3
	}
	unset logscale
	set yrange [*:*]
	set xtics norotate
	set lmargin -1
	set terminal pngcairo size 1400,560 font "sans,10" noenhanced
}

# --- campaign: snapshot reset vs a new VM per run --------------------------
if (has("campaign.dat")) {
	set output out . "/campaign.png"
	set multiplot layout 1,2 title "Live campaign: every run on one VM reset from its snapshot vs a new VM per run"
	set style data histograms
	set style histogram clustered gap 1
	set boxwidth 0.8
	set yrange [0:*]
	set title "runs/s (best of the rounds)"
	set ylabel "runs/s"
	plot file("campaign.dat") using 2:xtic(1) title "snapshot reset" lc rgb c1, '' using 3 title "new VM" lc rgb c3
	set title "VM setup per run (median)"
	set ylabel "ms"
	plot file("campaign.dat") using 4:xtic(1) title "snapshot reset" lc rgb c1, '' using 5 title "new VM" lc rgb c3
	unset multiplot
}
