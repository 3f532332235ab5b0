#!/bin/sh
# Prints a manifest.ini section for one corpus trace from what replaying it
# gives now: the replay's verdict (identical, or the conformance report's
# counts by register) and, with ACTION, the exhaustive injection's row.
# A starting point for a new entry (README.md, "Adding a trace to the
# corpus"); read what it prints before committing it as the expectation.
# Usage: traces/corpus/outcome.sh NAME.db.gz|NAME.log.gz|PATH [ACTION]
#   ACTION: virtualize, devirtualize or roundtrip (--exhaustive --actions=ACTION)
set -eu
# A bare name is a file of the corpus; a path is taken as it is.
case ${1:-} in
/*) src=$1 ;;
*/*) src=$(pwd)/$1 ;;
*) src=traces/corpus/${1:-} ;;
esac
cd "$(dirname "$0")/../.."
DEVIRT=${DEVIRT:-bin/devirt}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	echo "usage: $0 NAME.db.gz|NAME.log.gz [ACTION]" >&2
	exit 2
fi
file=$(basename "$1")
[ -f "$src" ] || { echo "$0: $src: no such file" >&2; exit 2; }
TMP=$(mktemp -d /tmp/devirt-outcome.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
db=$TMP/t.db

# The replay stores itself as a new run: always on a temporary copy.
case $file in
*.db.gz)  kind=db;       name=${file%.db.gz};  gunzip -c "$src" > "$db" ;;
*.log.gz) kind=qemu-log; name=${file%.log.gz}; "$DEVIRT" import qemu "$src" --db "$db" >/dev/null 2>"$TMP/err" ||
		{ cat "$TMP/err" >&2; exit 1; } ;;
*) echo "$0: $file: expected NAME.db.gz or NAME.log.gz" >&2; exit 2 ;;
esac
cp "$db" "$TMP/x.db"

st=0
"$DEVIRT" replay "$db" --run 1 > "$TMP/out" 2>&1 || st=$?
[ "$st" -eq 0 ] || { cat "$TMP/out" >&2; echo "$0: replay exited $st" >&2; exit 1; }
echo "[$name]"
echo "file = $file"
echo "kind = $kind"
echo "about = (what it is; how it was made)"
# "replay of run 1 (GUEST, KIND): identical" or "...: replayed against our
# models" followed by "conformance: our models answered X of Y reads ..."
# and a row per register: "  DEVICE REGISTER N differ; first: ..."
awk '
/^replay of run .*: identical$/ { print "replay = identical" }
/^conformance: our models answered / { print "replay = conformance"; print "reads = " $7; print "differ = " $5 }
/^  [^ ]+ +[^ ]+ +[0-9]+ differ;/ { print "differ." $1 "." $2 " = " $3 }
/ events, .* accesses, / { print "events = " $1; print "accesses = " $3 }
' "$TMP/out"

[ $# -eq 2 ] || exit 0
st=0
"$DEVIRT" replay "$TMP/x.db" --run 1 --exhaustive --actions="$2" --no-progress > "$TMP/out" 2>&1 || st=$?
[ "$st" -le 1 ] || { cat "$TMP/out" >&2; echo "$0: exhaustive replay exited $st" >&2; exit 1; }
echo "exhaustive = $2"
# "ACTION INJECTIONS IDENTICAL RECONVERGED DIST_MEDIAN DIST_MAX VIOLATIONS"
# and "trace: ...; P polls and W waits inserted"
awk -v a="$2" '
$1 == a && NF == 7 { print "injections = " $2; print "injections_identical = " $3; print "violations = " $7 }
/^trace: .* polls and .* waits inserted$/ {
	for (i = 1; i <= NF; i++) { if ($i == "polls") p = $(i - 1); if ($i == "waits") w = $(i - 1) }
	print "polls = " p; print "waits = " w
}
' "$TMP/out"
