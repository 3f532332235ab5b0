#!/bin/sh
# Regenerates the trace corpus (traces/corpus/, see README.md there):
#  - every workload recorded by `devirt run`, once without switches and once
#    (or twice) with switch triggers, each run alone in its own database;
#  - QEMU traces of drivers nobody here wrote: Debian's qemu-system-x86_64
#    booting its default BIOS (SeaBIOS) from an IDE disk, as a `-trace` log
#    and as seen from the kernel by `devirt observe`;
#  - QEMU running our own ata-stress guest (our driver on QEMU's IDE model).
# Databases are VACUUMed and gzipped, logs gzipped (gzip -n: no name or time
# stamp in the header). Our own runs are deterministic (same guest and
# arguments, same trace), so regenerating them keeps every expected outcome
# in manifest.ini; the QEMU traces depend on QEMU's and SeaBIOS's timing and
# version, so their counts in manifest.ini may need updating afterwards
# (traces/corpus/outcome.sh prints a section from what a trace does now).
#
# Needs: bin/devirt and build/guest (make all), qemu-system-x86_64, sqlite3,
# /dev/kvm; the observed trace needs root (BPF) and is kept as it is without.
# Usage: traces/corpus/make-corpus.sh [all|own|qemu]   (make corpus: all)
#   own: only our workloads' runs (their manifest counts stay valid);
#   qemu: only the QEMU traces. CORPUS_OUT=DIR writes elsewhere (to compare).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
WHAT=${1:-all}
case $WHAT in all|own|qemu) ;; *) echo "usage: $0 [all|own|qemu]" >&2; exit 2 ;; esac
DEVIRT=${DEVIRT:-bin/devirt}
case $DEVIRT in /*) ;; *) DEVIRT=$ROOT/$DEVIRT ;; esac   # runs happen in $TMP
OUT=${CORPUS_OUT:-$ROOT/traces/corpus}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TMP=$(mktemp -d /tmp/devirt-corpus.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM

# Runs happen inside $TMP with build/ linked in, so the runs record short
# relative paths (image build/guest/NAME.elf, database NAME.db) instead of
# this checkout's location.
ln -s "$ROOT/build" "$TMP/build"
export DEVIRT_GUEST_DIR=build/guest

# Makes $OUT/$1.db.gz from the database $TMP/$1.db: one file without a WAL,
# free pages dropped, compressed.
pack_db() {
	sqlite3 "$TMP/$1.db" 'PRAGMA journal_mode=DELETE; VACUUM;' >/dev/null
	gzip -9n -c "$TMP/$1.db" > "$OUT/$1.db.gz"
	echo "  $1.db.gz $(wc -c < "$OUT/$1.db.gz") bytes"
}

# record NAME "GUEST [RUN OPTIONS]" "GUEST ARGUMENTS": one run of a workload
# into a fresh database (so every corpus database holds run 1 only); $2 and
# $3 are split on spaces (they hold no glob characters). The guest must pass.
record() {
	# shellcheck disable=SC2086  # $2 and $3 are lists of words
	(cd "$TMP" && "$DEVIRT" run $2 --db "$1.db" --console /dev/null -- $3) 2>"$TMP/err" ||
		{ cat "$TMP/err" >&2; echo "make-corpus: $1 failed" >&2; exit 1; }
	pack_db "$1"
}

if [ "$WHAT" != qemu ]; then
echo "make-corpus: our workloads"
# Arguments are small so that every database stays a few hundred KB and the
# corpus test (exhaustive injection included) stays fast; the workload table
# in the top README gives their meaning.
record hello                  "hello"                                              "ticks=20 hz=1000"
record hello-switch           "hello --switch every=13:roundtrip:all"              "ticks=20 hz=1000"
record ata-stress             "ata-stress"                                         "sectors=2"
record ata-stress-switch      "ata-stress --switch every=101:roundtrip:ata --block defer" "sectors=2"
record ata-stress-takeover    "ata-stress --switch every=97:roundtrip:ata --midseq takeover" "sectors=1"
record uart-echo              "uart-echo"                                          "bytes=64"
record uart-echo-switch       "uart-echo --switch every=23:roundtrip:uart --block defer" "bytes=64"
record uart-echo-virtualized  "uart-echo --mode uart=virtualized"                  "bytes=64"
record ringblk-stress         "ringblk-stress"                                     "requests=128"
record ringblk-stress-switch  "ringblk-stress --switch every=50:roundtrip:ringblk --block defer" "requests=128"
record ringblk-stress-trap    "ringblk-stress --ringblk-trap --switch every=31:roundtrip:ringblk" "requests=64"
record mixed                  "mixed"                                              "rounds=1 sectors=1 depth=2 bytes=16"
record mixed-switch           "mixed --switch every=77:roundtrip:all"              "rounds=2"
fi
[ "$WHAT" != own ] || { echo "make-corpus: done (our workloads)"; exit 0; }

# The SeaBIOS boot disks (1 MiB raw). SeaBIOS reads the boot sector (LBA 0)
# to 0x7c00 and runs it; both boot sectors end QEMU through isa-debug-exit
# (exit status (0x21 << 1) | 1 = 67).
# make_disk FILE mbr: the boot sector only exits, so SeaBIOS's ATA driver
# does IDENTIFY and one READ SECTORS:
#   b0 21 e6 f4  mov al, 0x21; out 0xf4, al
#   f4 eb fd     hlt; jmp hlt
# make_disk FILE int13: the boot sector makes SeaBIOS's driver read four
# sectors (one READ SECTORS with BSY between blocks) and write one through
# int 13h before exiting (a failed int 13h exits with 69):
#   31 c0        xor ax, ax
#   8e c0        mov es, ax
#   bb 00 7e     mov bx, 0x7e00     buffer es:bx
#   b8 04 02     mov ax, 0x0204     ah 2 = read, al = 4 sectors
#   b9 02 00     mov cx, 0x0002     cylinder 0, sector 2 (LBA 1)
#   b6 00        mov dh, 0          head 0 (dl = the boot drive, from SeaBIOS)
#   cd 13        int 0x13
#   72 11        jc fail
#   b8 01 03     mov ax, 0x0301     ah 3 = write, al = 1 sector
#   b9 06 00     mov cx, 0x0006     sector 6 (LBA 5), from 0x7e00 (LBA 1's copy)
#   cd 13        int 0x13
#   72 07        jc fail
#   b0 21 e6 f4  mov al, 0x21; out 0xf4, al      pass: exit status 67
#   f4 eb fd     hlt; jmp hlt
# fail:
#   b0 22 e6 f4  mov al, 0x22; out 0xf4, al      exit status 69
#   f4 eb fd     hlt; jmp hlt
# Sectors 1-4 hold a text pattern so that the data read is not all zeros.
make_disk() {
	if [ "$2" = mbr ]; then
		printf '\260\041\346\364\364\353\375' > "$1"
	else
		printf '\061\300\216\300\273\000\176\270\004\002\271\002\000\266\000\315\023\162\021' > "$1"
		printf '\270\001\003\271\006\000\315\023\162\007' >> "$1"
		printf '\260\041\346\364\364\353\375\260\042\346\364\364\353\375' >> "$1"
	fi
	truncate -s 1M "$1"
	printf '\125\252' | dd of="$1" bs=1 seek=510 conv=notrunc 2>/dev/null
	yes 'devirt corpus: a sector SeaBIOS reads through int 13h. ' | head -c 2048 |
		dd of="$1" bs=512 seek=1 conv=notrunc 2>/dev/null
}

# QEMU as the tests run it: KVM, no display, no default devices (no CD-ROM
# on the secondary channel), the exit device at 0xf4. Exit status $1 is a
# pass; anything else stops the script.
qemu() {
	want=$1
	shift
	st=0
	timeout 120 qemu-system-x86_64 -enable-kvm -display none -nodefaults -no-reboot -monitor none \
		-serial null -device isa-debug-exit,iobase=0xf4,iosize=4 "$@" 2>"$TMP/err" || st=$?
	[ "$st" -eq "$want" ] ||
		{ cat "$TMP/err" >&2; echo "make-corpus: qemu exited $st, not $want: $*" >&2; exit 1; }
}

echo "make-corpus: QEMU traces"
# SeaBIOS's ATA driver as QEMU's trace events saw it (QEMU's IDE model
# answering), booting each disk. The logs are kept as QEMU wrote them (host
# pointers included); `devirt import qemu` reads them gzipped.
for v in mbr int13; do
	name=seabios-ide; [ $v = mbr ] && name=seabios-ide-mbr
	make_disk "$TMP/seabios.img" $v
	qemu 67 -drive "file=$TMP/seabios.img,format=raw,if=ide" -trace 'ide_*' -trace 'serial_*' -D "$TMP/$name.log"
	gzip -9n -c "$TMP/$name.log" > "$OUT/$name.log.gz"
	echo "  $name.log.gz $(wc -c < "$OUT/$name.log.gz") bytes"
done

# The same boot seen from the kernel (KVM's tracepoints, devirt observe):
# every port access that reached QEMU, PCI configuration included. Needs
# root; without it the committed file stays.
make_disk "$TMP/seabios.img" int13
st=0
(cd "$TMP" && "$DEVIRT" observe --db seabios-ide-observed.db --timeout 100s -- \
	qemu-system-x86_64 -enable-kvm -display none -nodefaults -no-reboot -monitor none -serial null \
	-device isa-debug-exit,iobase=0xf4,iosize=4 -drive file=seabios.img,format=raw,if=ide) \
	>/dev/null 2>"$TMP/err" || st=$?
if [ "$st" -eq 0 ] && grep -q 'exited with status 67' "$TMP/err"; then
	pack_db seabios-ide-observed
elif [ "$st" -eq 3 ]; then
	echo "  seabios-ide-observed.db.gz kept: devirt observe cannot run here ($(tail -1 "$TMP/err"))"
else
	cat "$TMP/err" >&2
	echo "make-corpus: devirt observe failed ($st)" >&2
	exit 1
fi

# Our ata-stress guest on QEMU's IDE model: our driver, QEMU's device (the
# conformance report compares QEMU's answers with our model's).
truncate -s 16M "$TMP/ata.img"
qemu 33 -drive "file=$TMP/ata.img,format=raw,if=ide" -kernel build/guest/ata-stress.elf \
	-append "sectors=2 seed=3" -trace 'ide_*' -trace 'serial_*' -D "$TMP/qemu-ata-stress.log"
gzip -9n -c "$TMP/qemu-ata-stress.log" > "$OUT/qemu-ata-stress.log.gz"
echo "  qemu-ata-stress.log.gz $(wc -c < "$OUT/qemu-ata-stress.log.gz") bytes"

set -- "$OUT"/*.gz
echo "make-corpus: $(cat "$@" | wc -c) bytes in $# files; now check traces/corpus/manifest.ini" \
	"(make test, or the corpus tests alone: traces/corpus/README.md)"
