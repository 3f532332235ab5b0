#!/bin/sh
# Switch latency: runs workloads with roundtrips on every device and reads
# the engine's own records back with SQL. For each device and action:
# median and p99 of the switch's latency from request to completion, in
# virtual time (deterministic: the guest's exits and the devices' latencies)
# and wall time (the monitor's real cost, noisy); then the pause windows
# (busy/defer answers, V4 waits, D1 quiescing) by kind.
# Appends CSV rows to bench/results/switch-latency.csv and the pauses to
# bench/results/pause.csv.
set -eu
cd "$(dirname "$0")/.."
DEVIRT=${DEVIRT:-bin/devirt}
CSV=bench/results/switch-latency.csv
PCSV=bench/results/pause.csv
DB=$(mktemp -u /tmp/devirt-switch-XXXXXX.db)
mkdir -p bench/results
[ -f "$CSV" ] || echo "date,host,workload,policy,device,action,switches,vt_median_ns,vt_p99_ns,wall_median_ns,wall_p99_ns" > "$CSV"
[ -f "$PCSV" ] || echo "date,host,workload,policy,device,kind,pauses,vt_median_ns,vt_p99_ns,vt_max_ns,polls" > "$PCSV"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
HOST=$(hostname)

# percentiles of column COL over switches grouped by device, action
SQL_SWITCH="
WITH s AS (SELECT device, action, completed_vtime_ns - requested_vtime_ns AS vt, wall_ns AS w
           FROM switch WHERE outcome = 'done' AND reason IS NULL),
r AS (SELECT *, row_number() OVER (PARTITION BY device, action ORDER BY vt) AS rv,
                row_number() OVER (PARTITION BY device, action ORDER BY w) AS rw,
                count(*) OVER (PARTITION BY device, action) AS n FROM s)
SELECT device, action, n,
       max(CASE WHEN rv = (n + 1) / 2 THEN vt END), max(CASE WHEN rv = (99 * n + 99) / 100 THEN vt END),
       max(CASE WHEN rw = (n + 1) / 2 THEN w END), max(CASE WHEN rw = (99 * n + 99) / 100 THEN w END)
FROM r GROUP BY device, action ORDER BY device, action;"

SQL_PAUSE="
WITH p AS (SELECT device, kind, end_vtime_ns - start_vtime_ns AS vt, polls FROM pause),
r AS (SELECT *, row_number() OVER (PARTITION BY device, kind ORDER BY vt) AS rv,
                count(*) OVER (PARTITION BY device, kind) AS n FROM p)
SELECT device, kind, n, max(CASE WHEN rv = (n + 1) / 2 THEN vt END),
       max(CASE WHEN rv = (99 * n + 99) / 100 THEN vt END), max(vt), sum(polls)
FROM r GROUP BY device, kind ORDER BY device, kind;"

# bench GUEST SWITCH POLICY-OPTIONS...
bench() {
	guest=$1 sw=$2
	shift 2
	rm -f "$DB" "$DB-wal" "$DB-shm"
	"$DEVIRT" run "$guest" --db "$DB" --switch "$sw" "$@" >/dev/null 2>&1 || {
		echo "$guest $sw $*: run failed" >&2; exit 1; }
	policy=$(sqlite3 "$DB" "SELECT policy FROM switch LIMIT 1")
	echo "== $guest --switch $sw ($policy)"
	printf "  %-8s %-13s %6s %12s %12s %12s %12s\n" device action n vt_med_us vt_p99_us wall_med_us wall_p99_us
	sqlite3 -separator ' ' "$DB" "$SQL_SWITCH" | awk -v pre="$DATE,$HOST,$guest,$policy" -v csv="$CSV" '{
		printf "  %-8s %-13s %6d %12.1f %12.1f %12.1f %12.1f\n", $1, $2, $3, $4 / 1e3, $5 / 1e3, $6 / 1e3, $7 / 1e3
		printf "%s,%s,%s,%s,%s,%s,%s,%s\n", pre, $1, $2, $3, $4, $5, $6, $7 >> csv
	}'
	printf "  %-8s %-8s %6s %12s %12s %12s %8s\n" device pause n med_us p99_us max_us polls
	sqlite3 -separator ' ' "$DB" "$SQL_PAUSE" | awk -v pre="$DATE,$HOST,$guest,$policy" -v csv="$PCSV" '{
		printf "  %-8s %-8s %6d %12.1f %12.1f %12.1f %8d\n", $1, $2, $3, $4 / 1e3, $5 / 1e3, $6 / 1e3, $7
		printf "%s,%s,%s,%s,%s,%s,%s,%s\n", pre, $1, $2, $3, $4, $5, $6, $7 >> csv
	}'
}

bench mixed every=101:roundtrip:all --block busy
bench mixed every=101:roundtrip:all --block defer
bench mixed every=101:roundtrip:all --midseq takeover
bench ata-stress every=997:roundtrip:ata
bench ringblk-stress every=7:roundtrip:ringblk --block defer
bench uart-echo every=31:roundtrip:uart
rm -f "$DB" "$DB-wal" "$DB-shm"
echo "CSV: $CSV, $PCSV"
