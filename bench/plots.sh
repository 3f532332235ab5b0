#!/bin/sh
# Plots the latest figures: picks the latest rows of each CSV under
# bench/results/ (bench/latest.sh), does the few aggregations a plot needs
# (best and median of the campaign's rounds, short labels), and hands the
# data files to bench/plots.gp, which writes bench/results/*.png. A CSV that
# does not exist yet leaves its plot out.
set -eu
cd "$(dirname "$0")/.."
. bench/latest.sh
R=bench/results
DIR=$(mktemp -d /tmp/devirt-bench-plots-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
command -v gnuplot >/dev/null || { echo "plots.sh: gnuplot not found (Debian: gnuplot-nox)" >&2; exit 1; }

# Scripts that date each row (or series) separately: latest per series.
latest $R/exit-cost.csv kind > "$DIR/exit-cost.dat"
latest $R/exit-split.csv kind > "$DIR/exit-split.dat"
latest $R/observer.csv kind > "$DIR/observer.dat"
latest $R/logging.csv workload > "$DIR/logging.dat"
# Scripts that date a whole run: the rows of the latest run.
latest $R/qemu.csv > "$DIR/qemu.dat"
latest $R/switch-latency.csv | awk -F, -v OFS=, '{
	p = $4; sub(/midseq=wait ?/, "", p); sub(/block=busy/, "busy", p); sub(/block=defer/, "defer", p)
	sub(/midseq=takeover/, "takeover", p); gsub(/ /, "+", p)
	a = $6 == "virtualize" ? "virt" : $6 == "devirtualize" ? "devirt" : $6
	print $0, $3 " (" p ") " $5 " " a }' > "$DIR/switch.dat"
latest $R/pause.csv | awk -F, -v OFS=, '{
	p = $4; sub(/midseq=wait ?/, "", p); sub(/block=busy/, "busy", p); sub(/block=defer/, "defer", p)
	sub(/midseq=takeover/, "takeover", p); gsub(/ /, "+", p)
	print $0, $3 " (" p ") " $5 " " $6 }' > "$DIR/pause.dat"
# campaign: per guest, the best runs/s of the rounds and the median of
# their setup medians, snapshot reset then fresh VM
# ("guest,snapshot_runs_per_s,fresh_runs_per_s,snapshot_setup_ms,fresh_setup_ms")
latest $R/campaign.csv | sort -t, -k3,3 -k8,8n | awk -F, -v OFS=, '
	{ k = $3 SUBSEP $5; if ($7 > best[k]) best[k] = $7; s[k, ++n[k]] = $8; if (!($3 in seen)) { seen[$3]; g[++m] = $3 } }
	END { for (i = 1; i <= m; i++) { a = g[i] SUBSEP "snapshot"; b = g[i] SUBSEP "fresh"
		print g[i], best[a], best[b], s[a, int((n[a] + 1) / 2)], s[b, int((n[b] + 1) / 2)] } }' > "$DIR/campaign.dat"
# replay: one block per workload (two blank lines between), by length; the
# workloads' names in block order; the point the slope-1 reference line goes
# through: mixed's shortest trace (the same work per round at every length)
latest $R/replay.csv | sort -t, -k3,3 -k5,5n | awk -F, '
	NR > 1 && $3 != w { printf "\n\n" } { print; w = $3 }' > "$DIR/replay.dat"
REPLAY_WL=$(cut -d, -f3 "$DIR/replay.dat" | sed '/^$/d' | uniq | tr '\n' ' ')
set -- $(awk -F, '$3 == "mixed" { print $5, $12; exit }' "$DIR/replay.dat") 0 0

gnuplot -e "dir='$DIR'; out='$R'; replay_wl='$REPLAY_WL'; rx=$1; ry=$2" bench/plots.gp
for f in exit-cost overhead qemu replay switch-latency pause campaign; do
	if [ -f "$R/$f.png" ]; then echo "$R/$f.png"; fi
done
