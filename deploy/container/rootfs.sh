#!/bin/sh
# Stages the root file system of socktrace's image from this host's files:
# the binary, its ELF interpreter, the shared libraries it needs and those
# of libmicrohttpd (which --metrics opens), and /etc/services for port
# names. No base image and no registry: the Containerfile copies it FROM
# scratch.
#   deploy/container/rootfs.sh BINARY LIBMICROHTTPD ROOTFS
set -eu
if [ $# -ne 3 ]; then
	echo "usage: $0 BINARY LIBMICROHTTPD ROOTFS" >&2
	exit 2
fi
bin=$1 mhd=$2 root=$3
case $mhd in
/*) [ -e "$mhd" ] || { echo "rootfs.sh: $mhd does not exist" >&2; exit 1; } ;;
*)
	echo "rootfs.sh: no $mhd on this host (Debian: libmicrohttpd12); --metrics needs it" >&2
	exit 1
	;;
esac

# copies a file (a symbolic link's target, under the link's name) to the
# same path under the root
put() {
	mkdir -p "$root$(dirname "$1")"
	cp -L "$1" "$root$1"
}

mkdir -p "$root"
install -D -m 0755 "$bin" "$root/usr/sbin/socktrace"
# libmicrohttpd beside libc, where the dynamic loader's default path finds it
libc=$(ldd "$bin" | awk '$1 == "libc.so.6" { print $3 }')
if [ -z "$libc" ]; then
	echo "rootfs.sh: ldd names no libc.so.6 for $bin (built for another architecture?)" >&2
	exit 1
fi
mkdir -p "$root$(dirname "$libc")"
cp -L "$mhd" "$root$(dirname "$libc")/libmicrohttpd.so.12"
# "name => /path (addr)" and the interpreter's "/path (addr)"; vdso has no file
for f in $( { ldd "$bin"; ldd "$mhd"; } | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
	put "$f"
done
put /etc/services
# socktrace writes nothing outside a recording; a /tmp for a user's -w /tmp/...
mkdir -p "$root/tmp"
chmod 1777 "$root/tmp"
