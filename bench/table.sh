#!/bin/sh
# Regenerates the table of the latest benchmark figures in README.md, between
# the lines <!-- bench-table:begin --> and <!-- bench-table:end --> (in
# "## Benchmarks"). Every row comes from the latest rows of the CSVs under
# bench/results/ (bench/latest.sh); a CSV that does not exist leaves its rows
# out. The header names the date of the newest figure and this machine (CPUs,
# CPU model, memory, kernel, how KVM is provided, OS).
set -eu
cd "$(dirname "$0")/.."
. bench/latest.sh
R=bench/results
README=${README:-README.md}
BEGIN='<!-- bench-table:begin -->'
END='<!-- bench-table:end -->'
grep -qx "$BEGIN" "$README" && grep -qx "$END" "$README" || {
	echo "table.sh: $README lacks the lines $BEGIN and $END" >&2; exit 1; }
DIR=$(mktemp -d /tmp/devirt-bench-table-XXXXXX)
trap 'rm -rf "$DIR"' EXIT

# The data: each CSV's latest rows, tagged with the CSV's name in front.
{
	latest $R/exit-cost.csv kind | sed 's/^/exit-cost,/'
	latest $R/exit-split.csv kind | sed 's/^/exit-split,/'
	latest $R/observer.csv kind | sed 's/^/observer,/'
	latest $R/logging.csv workload | sed 's/^/logging,/'
	latest $R/qemu.csv | sed 's/^/qemu,/'
	latest $R/switch-latency.csv | sed 's/^/switch,/'
	latest $R/pause.csv | sed 's/^/pause,/'
	latest $R/replay.csv | sort -t, -k3,3r -k5,5n | sed 's/^/replay,/'
	latest $R/campaign.csv | sed 's/^/campaign,/'
} > "$DIR/data"
[ -s "$DIR/data" ] || { echo "table.sh: no figures under $R (run make bench)" >&2; exit 1; }

# The machine.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
if [ -d /sys/module/kvm_pvm ]; then kvm="nested KVM (PVM)"
elif grep -qw hypervisor /proc/cpuinfo; then kvm="nested KVM"
else kvm="KVM"; fi
os=$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -s)
qemu=$(qemu-system-x86_64 --version 2>/dev/null | sed -n '1s/.*version \([^ ]*\).*/QEMU \1/p')
machine="$(nproc) CPUs $cpu, $mem, Linux $(uname -r), $kvm, $os"

awk -F, -v machine="$machine" -v qemu="${qemu:-QEMU}" '
# 1234567 -> 1,234,567
function commas(n,   s, r) {
	s = sprintf("%.0f", n); r = ""
	while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
	return s r
}
# nanoseconds, readable
function dur(ns) {
	if (ns == 0) return "0"
	if (ns < 1000) return sprintf("%d ns", ns)
	if (ns < 100000) return sprintf("%.1f us", ns / 1e3)
	if (ns < 1000000) return sprintf("%.0f us", ns / 1e3)
	if (ns < 100000000) return sprintf("%.1f ms", ns / 1e6)
	return sprintf("%.0f ms", ns / 1e6)
}
function rate(n) { return n >= 1e6 ? sprintf("%.1fM", n / 1e6) : n >= 1e4 ? sprintf("%.0fk", n / 1e3) : commas(n) }
function secs(s) { return s < 0.1 ? sprintf("%.3f", s) : s < 10 ? sprintf("%.2f", s) : sprintf("%.1f", s) }
function mb(b) { return sprintf("%.1f MB", b / 1e6) }
function pol(p) { sub(/midseq=wait ?/, "", p); return p }
function row(figure, value) { rows[++nr] = "| " figure " | " value " |" }
# median of the n values v[k, 1..n] (insertion sort; a handful of values)
function median(v, k, n,   i, j, a, t) {
	for (i = 1; i <= n; i++) a[i] = v[k, i] + 0
	for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return a[int((n + 1) / 2)]
}
# The rows a source collects over several lines, once its lines end.
function flush(src,   i, p, g, a, b) {
	if (src == "observer")
		row("observer: exits/s with `--kernel-trace` / without (both with the SQLite trace)",
		    sprintf("%s (%s events, %d lost)", obs, commas(oev), olost))
	else if (src == "logging") {
		row("logging: exits/s with the SQLite trace / without", lg)
		row("logging: trace rows written per second (same workloads)", lr)
	} else if (src == "switch") {
		row("**switch latency**, request to completion: workload (policy), device",
		    "per action: median / p99 virtual, median / p99 wall (switches)")
		for (i = 1; i <= ns; i++) {
			split(order[i], p, SUBSEP)
			row(sprintf("`%s` (%s), %s", p[1], pol(p[2]), p[3]), sw[order[i]])
		}
	} else if (src == "pause") {
		for (i = 1; i <= np; i++) rows[++nr] = pr[i]
		if ("wait" in pmax || "quiesce" in pmax)
			row("pause: longest V4 wait / D1 quiesce window, virtual",
			    sprintf("%s (%s) / %s (%s)", dur(pmax["wait"]), pwhere["wait"], dur(pmax["quiesce"]), pwhere["quiesce"]))
	} else if (src == "campaign") {
		for (i = 1; i <= nc; i++) {
			g = corder[i]; a = g SUBSEP "snapshot"; b = g SUBSEP "fresh"
			row(sprintf("campaign `%s` (%s runs): runs/s, snapshot reset / new VM (best round); VM setup per run, median", g, cg[g]),
			    sprintf("%.1f / %.1f; %.2f / %.2f ms", cbest[a], cbest[b], median(cset, a, cn[a]), median(cset, b, cn[b])))
		}
	}
}
$1 != prev { flush(prev); prev = $1 }
{
	src = $1
	if ($2 > newest) newest = $2
	if (src == "exit-cost") {
		row(sprintf("%s exit round trip (`exitloop`, slope between n=%s and n=%s)", $4 == "pio" ? "port-I/O" : "MMIO", commas($5), commas($6)),
		    sprintf("%.2f us", $8 / 1e3))
	} else if (src == "exit-split") {
		row(sprintf("exit split, %s (under the observer): round trip / in the monitor / in KVM_RUN (kernel + guest) / kernel exit path", $4),
		    sprintf("%.1f us / %.2f us / %.1f us / %.2f us (the monitor %.1f%%)", $7 / 1e3, $8 / 1e3, $9 / 1e3, $10 / 1e3, $11))
	} else if (src == "observer") {
		obs = obs (obs == "" ? "" : ", ") sprintf("%s %.3f", $4, $10); oev += $11; olost += $12
	} else if (src == "logging") {
		lg = lg (lg == "" ? "" : ", ") sprintf("`%s` %.3f", $4, $9)
		lr = lr (lr == "" ? "" : ", ") commas($13)
	} else if (src == "qemu" && $4 == "startup") {
		row(sprintf("vs %s: startup (`hello %s`: process, firmware, load), wall s: QEMU / QEMU `-trace` / devirt `--no-log` / devirt `--db`", qemu, $5),
		    sprintf("%s / %s / %s / %s", secs($7), secs($8), secs($9), secs($10)))
	} else if (src == "qemu") {
		w = $4
		row(sprintf("vs QEMU: `%s %s`, wall s: QEMU / QEMU `-trace` / devirt `--no-log` / devirt `--db` (best of %d)", w, $5, $6),
		    sprintf("%s / %s / %s / %s", secs($7), secs($8), secs($9), secs($10)))
		if ($19 == "" && $20 == "")
			net = "with the startups subtracted: QEMU'"'"'s share is within its startup noise"
		else
			net = sprintf("with the startups subtracted %s / %s", $19 == "" ? "-" : $19, $20 == "" ? "-" : $20)
		row(sprintf("vs QEMU: `%s`, devirt / QEMU, tracing off / on; tracing on / off, QEMU / devirt", w),
		    sprintf("%s / %s (%s); %s / %s", $11, $12, net, $13, $14))
		row(sprintf("vs QEMU: `%s`, trace size: QEMU log / devirt database", w),
		    sprintf("%s, %s lines / %s, %s rows", mb($21), commas($22), mb($23), commas($24)))
	} else if (src == "switch") {
		k = $4 SUBSEP $5 SUBSEP $6
		if (!(k in sw)) order[++ns] = k
		sw[k] = sw[k] (sw[k] == "" ? "" : "; ") sprintf("%s %s / %s, %s / %s (%d)",
			$7 == "virtualize" ? "virt" : $7 == "devirtualize" ? "devirt" : $7, dur($9), dur($10), dur($11), dur($12), $8)
	} else if (src == "pause") {
		if ($7 == "busy" || $7 == "defer")
			pr[++np] = sprintf("| pause `%s`, `%s` (%s), %s: pauses, polls; median / p99 / max, virtual | %d, %d; %s / %s / %s |",
				$7, $4, pol($5), $6, $8, $12, dur($9), dur($10), dur($11))
		else if (!($7 in pmax) || $11 > pmax[$7]) { pmax[$7] = $11; pwhere[$7] = sprintf("`%s` (%s) %s", $4, pol($5), $6) }
	} else if (src == "replay") {
		if (!nrp++)
			row("**replay**: trace (accesses)", "strict replay, accesses/s `--no-store` / stored; exhaustive roundtrip " \
			    "injection: wall s, injections (per s), accesses replayed per injection, median distance, violations")
		row(sprintf("`%s %s` (%s)", $4, $5, commas($6)),
		    sprintf("%s / %s; %s s, %s (%s/s), %s, %s, %d", rate($11), rate($9), secs($13), commas($14), commas($15),
			    commas($18), commas($19), $21))
	} else if (src == "campaign") {
		k = $4 SUBSEP $6
		if (!($4 in cg)) { cg[$4] = $5; corder[++nc] = $4 }
		if ($8 > cbest[k]) cbest[k] = $8
		cset[k, ++cn[k]] = $9
	}
}
END {
	flush(prev)
	printf "| figure (`make bench`, %s; %s) | value |\n", substr(newest, 1, 10), machine
	print "|---|---|"
	for (i = 1; i <= nr; i++) print rows[i]
}' "$DIR/data" > "$DIR/table"

awk -v begin="$BEGIN" -v end="$END" -v table="$DIR/table" '
	$0 == begin { print; while ((getline l < table) > 0) print l; skip = 1; next }
	$0 == end { skip = 0 }
	!skip' "$README" > "$DIR/readme"
cat "$DIR/readme" > "$README"
echo "table.sh: $(grep -c '^| ' "$DIR/table") lines between the bench-table markers in $README"
