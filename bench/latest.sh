# Sourced by bench/plots.sh and bench/table.sh (not run on its own).
#
# latest CSV COLUMN...: prints, without the header, the rows of CSV that
# belong to the most recent run of each series, a series being the rows
# with the same values in the named COLUMNs. The CSVs accumulate history,
# one script run after another; every row starts with the ISO date of the
# run that wrote it (one date per script run, or per series for the
# scripts that take it per row), so the latest rows of a series are those
# with its greatest date. Header lines repeated inside a file are skipped.
# Prints nothing (status 0) when CSV does not exist.
latest() {
	_csv=$1
	shift
	[ -f "$_csv" ] || return 0
	awk -F, -v keys="$*" '
	NR == 1 {
		for (i = 1; i <= NF; i++) col[$i] = i
		nk = split(keys, kn, " ")
		for (i = 1; i <= nk; i++)
			if (!(kn[i] in col)) { print "latest: no column " kn[i] " in " FILENAME > "/dev/stderr"; exit 1 }
		next
	}
	$1 == "date" { next }
	{
		k = ""
		for (i = 1; i <= nk; i++) k = k SUBSEP $(col[kn[i]])
		row[++n] = $0; key[n] = k; date[n] = $1
		if (!(k in max) || $1 > max[k]) max[k] = $1
	}
	END { for (i = 1; i <= n; i++) if (date[i] == max[key[i]]) print row[i] }' "$_csv"
}
