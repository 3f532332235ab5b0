#!/bin/sh
# Exit-cost floor: wall-clock nanoseconds per guest exit round trip (guest ->
# KVM -> devirt -> KVM -> guest), for port I/O and for MMIO. Each kind runs
# the exitloop guest at two loop counts; the slope between them removes boot
# and set-up cost, leaving the price of one exit. Prints a table and appends
# CSV rows to bench/results/exit-cost.csv.
set -eu
cd "$(dirname "$0")/.."
DEVIRT=${DEVIRT:-bin/devirt}
SMALL=${SMALL:-20000}
LARGE=${LARGE:-200000}
REPS=${REPS:-3}
CSV=bench/results/exit-cost.csv
mkdir -p bench/results
[ -f "$CSV" ] || echo "date,host,kind,n_small,n_large,reps,ns_per_exit_slope,ns_per_exit_mean" > "$CSV"

# Prints "exits wall_ns" of one run.
stats() {
	"$DEVIRT" run exitloop --stats -- "n=$1" "mode=$2" 2>&1 >/dev/null |
		sed -n 's/.*stats: exits=\([0-9]*\) .*wall_ns=\([0-9]*\) .*/\1 \2/p'
}

printf '%-6s %14s %14s\n' kind ns/exit ns/exit-mean
for kind in pio mmio; do
	best=""
	for r in $(seq "$REPS"); do
		set -- $(stats "$SMALL" "$kind") $(stats "$LARGE" "$kind")
		slope=$(awk -v e1="$1" -v w1="$2" -v e2="$3" -v w2="$4" 'BEGIN { printf "%.1f", (w2 - w1) / (e2 - e1) }')
		mean=$(awk -v e="$3" -v w="$4" 'BEGIN { printf "%.1f", w / e }')
		# keep the fastest repetition: noise on a shared machine only adds time
		if [ -z "$best" ] || awk -v a="$slope" -v b="$best" 'BEGIN { exit !(a < b) }'; then
			best=$slope
			bmean=$mean
		fi
	done
	printf '%-6s %14s %14s\n' "$kind" "$best" "$bmean"
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$(hostname),$kind,$SMALL,$LARGE,$REPS,$best,$bmean" >> "$CSV"
done
echo "CSV: $CSV"
