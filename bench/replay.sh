#!/bin/sh
# Replay throughput and the cost of exhaustive injection against the
# trace's length. Records traces of about 1k to 100k accesses, then for each:
#   strict replay            devirt replay DB --run 1: accesses/s as printed,
#                            with the replay stored as a run (the default)
#                            and with --no-store (the comparison alone).
#                            The printed time leaves out the store's final
#                            drain: up to the writer's ring (65,536 rows)
#                            a stored replay only queues its rows, beyond it
#                            it waits for SQLite, so the stored rate drops
#                            to the insert rate near 100k accesses
#   exhaustive roundtrip     devirt replay DB --run 1 --exhaustive
#                            --actions=roundtrip: wall seconds, injections,
#                            injections/s, accesses replayed by all probes
#                            (and per injection), median probe distance,
#                            violations (must be 0)
# Each replay starts from a copy of the freshly recorded database, so the
# runs stored by earlier repetitions do not slow the next one's inserts.
#
# Workloads: none spans 1k-100k. uart-echo makes the short traces (~1k-5k;
# only com1 accesses to inject at): it cannot go beyond ~7k, as its interrupt
# handler gives up after 256 IIR reads and the loopback exchange happens in
# one interrupt, so bytes stays under ~2,000. mixed rounds=N (all three
# devices; each round the same ATA, ringblk and UART work, ~4.2k accesses
# on a ~3.6k boot: the ATA driver's reset delays) makes 10k-100k with the
# same shape at every length, so its exhaustive cost shows the growth with
# length alone. ata-stress sectors=N is there too because it grows faster:
# its requests are 1-32 sectors long, capped by N, and a probe runs until the
# engine is at rest again after the command in flight (its "distance"), so
# the cost per injection grows with N up to N = 32 and is linear beyond.
# The plot puts them all on log-log axes.
#
# Strict replays keep the best of REPS (noise only adds time; they take
# milliseconds). Exhaustive runs keep the best of EXH_REPS (default 2: the
# longest take 30-50 s each, and single runs varied by 25% here).
# Appends one CSV row per trace to bench/results/replay.csv.
set -eu
cd "$(dirname "$0")/.."
DEVIRT=${DEVIRT:-bin/devirt}
REPS=${REPS:-3}
EXH_REPS=${EXH_REPS:-2}
CSV=bench/results/replay.csv
DIR=$(mktemp -d /tmp/devirt-bench-replay-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
mkdir -p bench/results
[ -f "$CSV" ] || echo "date,host,workload,args,accesses,reps,replay_s,accesses_per_s,replay_nostore_s,accesses_per_s_nostore,exh_reps,exh_s,injections,injections_per_s,accesses_replayed,accesses_replayed_per_s,replayed_per_injection,dist_median,dist_max,violations" > "$CSV"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
HOST=$(hostname)
now() { date +%s%N; }

# lower A B: true when A < B (both decimal).
lower() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

printf '%-11s %-28s %8s | %12s %12s | %8s %10s %8s %12s %9s %6s %4s\n' workload args accesses \
	"replay acc/s" "no-store" "exh s" injections "inj/s" "acc replayed" "acc/inj" "dist" viol

# bench GUEST ARGS: record, then replay and exhaustive on copies.
bench() {
	guest=$1 args=$2
	rec=$DIR/rec.db db=$DIR/db.db disk=$DIR/disk.img
	rm -f "$rec" "$rec-wal" "$rec-shm" "$disk"
	set --
	if [ "$guest" = ata-stress ] || [ "$guest" = mixed ]; then truncate -s 16M "$disk"; set -- --disk "$disk"; fi
	# shellcheck disable=SC2086 # guest arguments are words
	"$DEVIRT" run "$guest" --db "$rec" "$@" -- $args >/dev/null 2>&1 || {
		echo "replay.sh: recording $guest $args failed" >&2; exit 1; }
	accesses=$(sqlite3 "$rec" "select count(*) from access where run = 1")

	# strict replay: "... replayed in S s: N accesses/s"
	rate=0 rate_ns=0 secs=0 secs_ns=0
	for r in $(seq "$REPS"); do
		for store in store no-store; do
			rm -f "$db" "$db-wal" "$db-shm"
			cp "$rec" "$db"
			set -- "$db" --run 1
			[ "$store" = store ] || set -- "$@" --no-store
			out=$("$DEVIRT" replay "$@") || { echo "replay.sh: $guest $args: replay failed" >&2; echo "$out" >&2; exit 1; }
			echo "$out" | grep -q ': identical$' || { echo "replay.sh: $guest $args: not identical" >&2; echo "$out" >&2; exit 1; }
			s=$(echo "$out" | sed -n 's/.* replayed in \([0-9.]*\) s: \([0-9]*\) accesses\/s.*/\1 \2/p')
			set -- $s
			if [ "$store" = store ]; then
				[ "$2" -gt "$rate" ] && rate=$2 secs=$1
			else
				[ "$2" -gt "$rate_ns" ] && rate_ns=$2 secs_ns=$1
			fi
		done
	done

	# exhaustive roundtrip: the "roundtrip" row (injections identical
	# reconverged dist-median dist-max violations) and the "trace:" line
	best=""
	for r in $(seq "$EXH_REPS"); do
		rm -f "$db" "$db-wal" "$db-shm"
		cp "$rec" "$db"
		t0=$(now)
		out=$("$DEVIRT" replay "$db" --run 1 --exhaustive --actions=roundtrip --no-progress) || {
			echo "replay.sh: $guest $args: exhaustive replay failed or found violations" >&2; echo "$out" >&2; exit 1; }
		t1=$(now)
		wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
		if [ -z "$best" ] || lower "$wall" "$best"; then
			best=$wall
			row=$(echo "$out" | awk '$1 == "roundtrip" { print $2, $5, $6, $7 }')
			replayed=$(echo "$out" | sed -n 's/^trace: .*; \([0-9]*\) accesses replayed (\([0-9]*\) accesses\/s).*/\1 \2/p')
		fi
	done
	set -- $row $replayed
	[ $# -eq 6 ] || { echo "replay.sh: $guest $args: cannot read the exhaustive summary" >&2; echo "$out" >&2; exit 1; }
	awk -v w="$guest" -v a="$args" -v acc="$accesses" -v reps="$REPS" -v rs="$secs" -v rate="$rate" \
	    -v rsn="$secs_ns" -v raten="$rate_ns" -v xr="$EXH_REPS" -v xs="$best" -v inj="$1" -v dmed="$2" \
	    -v dmax="$3" -v viol="$4" -v rep="$5" -v reprate="$6" -v pre="$DATE,$HOST" -v csv="$CSV" 'BEGIN {
		printf "%-11s %-28s %8d | %12d %12d | %8.2f %10d %8.0f %12d %9.0f %6d %4d\n", w, a, acc, rate, raten,
		       xs, inj, inj / xs, rep, rep / inj, dmed, viol
		printf "%s,%s,%s,%d,%d,%s,%d,%s,%d,%d,%.3f,%d,%.0f,%d,%d,%.1f,%d,%d,%d\n", pre, w, a, acc, reps, rs, rate,
		       rsn, raten, xr, xs, inj, inj / xs, rep, reprate, rep / inj, dmed, dmax, viol >> csv
	}'
}

bench uart-echo "bytes=100 seed=3 trigger=14"	# ~1k accesses
bench uart-echo "bytes=1300 seed=3 trigger=14"	# ~5k
bench mixed "rounds=2 seed=3"			# ~12k
bench mixed "rounds=6 seed=3"			# ~29k
bench mixed "rounds=23 seed=3"			# ~100k
bench ata-stress "sectors=2 seed=3"		# ~11k
bench ata-stress "sectors=12 seed=3"		# ~32k
bench ata-stress "sectors=45 seed=3"		# ~100k
echo "(replay acc/s: strict replay, stored / --no-store; exh: exhaustive roundtrip injection, wall s;"
echo " acc replayed: by all probes; dist: median probe distance in events before it reconverged)"
echo "CSV: $CSV"
