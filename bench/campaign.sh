#!/bin/sh
# Campaign throughput: the same campaign with every run on one VM reset
# from its snapshot (reset = snapshot, the default) and with a new VM per
# run (reset = fresh), alternated so that drift on these shared machines
# hits both. hello (a few hundred exits) shows the per-run cost of VM
# creation against the reset; mixed (a campaign-sized run with switches)
# shows what it means for a real campaign. Prints runs/s, ms per run and
# the median VM setup per run (the reset, or creating and closing the VM:
# the campaign summary's "vm setup" line, which load on the machine
# disturbs far less than the end-to-end rate); appends CSV rows to
# bench/results/campaign.csv.
set -eu
cd "$(dirname "$0")/.."
DEVIRT=${DEVIRT:-bin/devirt}
CSV=bench/results/campaign.csv
DIR=$(mktemp -d /tmp/devirt-bench-campaign-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
mkdir -p bench/results
[ -f "$CSV" ] || echo "date,host,guest,runs,reset,seconds,runs_per_s,setup_median_ms" > "$CSV"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
HOST=$(hostname)

# bench NAME GUEST ARGS RUNS [INJECT-LINES]
bench() {
	name=$1 guest=$2 args=$3 runs=$4 inject=${5:-}
	cfg="$DIR/$name.ini"
	printf '[campaign]\nname = %s\nguest = %s\nargs = %s\nruns = %s\nseed = 1\n%s\n' \
		"$name" "$guest" "$args" "$runs" "$inject" > "$cfg"
	echo "== $name: $runs runs of $guest $args"
	for round in 1 2 3; do
		for reset in snapshot fresh; do
			rm -f "$DIR/$name.db"*
			out=$("$DEVIRT" campaign "$cfg" --reset "$reset" --db "$DIR/$name.db") || {
				echo "$name ($reset): campaign failed" >&2; echo "$out" >&2; exit 1; }
			# "campaign NAME: N runs of GUEST in S s (R runs/s), ..."
			secs=$(echo "$out" | sed -n '1s/.* in \([0-9.]*\) s (.*/\1/p')
			rate=$(echo "$out" | sed -n '1s/.*(\([0-9.]*\) runs\/s).*/\1/p')
			setup=$(echo "$out" | sed -n 's/.*vm setup:.*median \([0-9.]*\) ms.*/\1/p')
			printf "  round %d  %-8s %6.1f s  %7.2f runs/s  %7.1f ms/run  setup %6.2f ms/run\n" "$round" "$reset" \
				"$secs" "$rate" "$(echo "$secs $runs" | awk '{ print $1 * 1000 / $2 }')" "$setup"
			echo "$DATE,$HOST,$guest,$runs,$reset,$secs,$rate,$setup" >> "$CSV"
		done
	done
}

bench hello hello "ticks=2 hz=1000" 100
bench mixed mixed "rounds=1" 20 "$(printf '[inject]\ntrigger = every\nevery = 211')"
echo "CSV: $CSV"
