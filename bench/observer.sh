#!/bin/sh
# Observer overhead: what the kernel-side BPF observer (--kernel-trace) costs
# the run loop. exitloop runs in three configurations, alternating within each
# repetition so all three see the same machine noise: (a) the SQLite trace
# (--db), (b) the trace plus --kernel-trace, (c) --no-log for reference.
# Reports exits per second of each and b/a, the observer's overhead on top of
# the trace, plus the observer's event and lost counts (lost must be 0, or the
# kexit table is incomplete). Appends CSV rows to bench/results/observer.csv.
# Needs root (BPF).
set -eu
cd "$(dirname "$0")/.."
DEVIRT=${DEVIRT:-bin/devirt}
N=${N:-100000}
REPS=${REPS:-3}
CSV=bench/results/observer.csv
DB=$(mktemp -u /tmp/devirt-bench-XXXXXX.db)
mkdir -p bench/results
[ -f "$CSV" ] || echo "date,host,kind,n,reps,exits_per_s_trace,exits_per_s_trace_kernel,exits_per_s_nolog,ratio,events,lost" > "$CSV"
trap 'rm -f "$DB" "$DB-wal" "$DB-shm"' EXIT

# Runs exitloop with extra options; prints exits per second of the run loop.
eps() {
	kind=$1; shift
	rm -f "$DB" "$DB-wal" "$DB-shm"
	"$DEVIRT" run exitloop --stats "$@" -- "n=$N" "mode=$kind" 2>&1 >/dev/null |
		sed -n 's/.*stats: exits=\([0-9]*\) .*wall_ns=\([0-9]*\) .*/\1 \2/p' |
		awk '{ printf "%.0f\n", $1 / ($2 / 1e9) } END { if (NR != 1) { print "observer.sh: no stats line" > "/dev/stderr"; exit 1 } }'
}

# max A B: the larger; noise on a shared machine only slows a run down.
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

printf '%-6s %8s %12s %12s %12s %7s %8s %5s\n' kind n trace/s +kernel/s nolog/s ratio events lost
for kind in pio mmio; do
	a=0 b=0 c=0 events=0 lost=0
	for r in $(seq "$REPS"); do
		x=$(eps "$kind" --db "$DB")
		a=$(max "$a" "$x")
		x=$(eps "$kind" --db "$DB" --kernel-trace)
		# events/lost of the fastest kernel-trace run; lost is summed so that
		# any loss in any repetition shows up
		set -- $(sqlite3 -separator ' ' "$DB" "select events, lost from observer order by run desc limit 1")
		lost=$((lost + $2))
		[ "$x" -gt "$b" ] && b=$x events=$1
		x=$(eps "$kind" --no-log)
		c=$(max "$c" "$x")
	done
	ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
	printf '%-6s %8s %12s %12s %12s %7s %8s %5s\n' "$kind" "$N" "$a" "$b" "$c" "$ratio" "$events" "$lost"
	[ "$lost" -eq 0 ] || echo "observer.sh: warning: $kind: the observer lost $lost events; kexit is incomplete" >&2
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$(hostname),$kind,$N,$REPS,$a,$b,$c,$ratio,$events,$lost" >> "$CSV"
done
echo "CSV: $CSV"
