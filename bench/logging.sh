#!/bin/sh
# Logging overhead: the same workload with the SQLite trace off (--no-log) and
# on (--db), alternating so both see the same machine noise. Reports exits per
# second of the run loop for each, their ratio (goal >= 0.95), the whole
# command's wall time (which includes draining the trace), and rows written
# per second. Appends CSV rows to bench/results/logging.csv.
set -eu
cd "$(dirname "$0")/.."
DEVIRT=${DEVIRT:-bin/devirt}
REPS=${REPS:-3}
CSV=bench/results/logging.csv
DB=$(mktemp -u /tmp/devirt-bench-XXXXXX.db)
mkdir -p bench/results
[ -f "$CSV" ] || echo "date,host,workload,reps,exits,exits_per_s_nolog,exits_per_s_log,ratio,cmd_s_nolog,cmd_s_log,rows,rows_per_s" > "$CSV"

now() { date +%s%N; }

# Runs one configuration; prints "exits wall_ns cmd_ns".
one() {
	t0=$(now)
	out=$("$DEVIRT" run --stats "$@" 2>&1 >/dev/null)
	t1=$(now)
	echo "$out" | sed -n 's/.*stats: exits=\([0-9]*\) .*wall_ns=\([0-9]*\) .*/\1 \2/p' | tr '\n' ' '
	echo $((t1 - t0))
}

# bench NAME GUEST GUEST-ARGS: REPS alternating runs without and with the trace.
bench() {
	name=$1 guest=$2 gargs=$3
	nolog_w=0; log_w=0; nolog_c=0; log_c=0; exits=0
	for r in $(seq "$REPS"); do
		rm -f "$DB" "$DB-wal" "$DB-shm"
		read -r exits w c <<-EOT
		$(one "$guest" --no-log -- $gargs)
		EOT
		nolog_w=$((nolog_w + w)); nolog_c=$((nolog_c + c))
		read -r exits w c <<-EOT
		$(one "$guest" --db "$DB" -- $gargs)
		EOT
		log_w=$((log_w + w)); log_c=$((log_c + c))
	done
	rows=$(sqlite3 "$DB" "select (select count(*) from access) + (select count(*) from irq) + (select count(*) from halt)")
	awk -v n="$name" -v e="$exits" -v nw="$nolog_w" -v lw="$log_w" -v nc="$nolog_c" -v lc="$log_c" \
	    -v rows="$rows" -v reps="$REPS" -v host="$(hostname)" -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v csv="$CSV" 'BEGIN {
		a = e * reps / (nw / 1e9); b = e * reps / (lw / 1e9);
		printf "%-24s exits %7d  nolog %7.0f/s  log %7.0f/s  ratio %.3f  cmd %.2fs/%.2fs  %.0f rows/s\n",
		       n, e, a, b, b / a, nc / reps / 1e9, lc / reps / 1e9, rows / (lc / reps / 1e9);
		printf "%s,%s,%s,%d,%d,%.0f,%.0f,%.4f,%.3f,%.3f,%d,%.0f\n", date, host, n, reps, e, a, b, b / a,
		       nc / reps / 1e9, lc / reps / 1e9, rows, rows / (lc / reps / 1e9) >> csv;
	}'
}

bench "exitloop n=100000 pio" exitloop "n=100000 mode=pio"
bench "ata-stress sectors=64" ata-stress "sectors=64"
bench "mixed rounds=6" mixed "rounds=6"
rm -f "$DB" "$DB-wal" "$DB-shm"
echo "CSV: $CSV"
