#!/bin/sh
# Installs the Debian packages devirt needs: with apt-get when root and
# something is missing, otherwise prints the one line to run. A no-op when
# everything is present.
set -eu
PKGS="build-essential libcriterion-dev libsqlite3-dev sqlite3 libpcre2-dev libinih-dev zlib1g-dev
libbpf-dev bpftool clang libelf-dev gnuplot-nox qemu-system-x86 parallel chromium"
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "devirt: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
echo "devirt: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q || true
apt-get install -y -q --no-install-recommends$missing
