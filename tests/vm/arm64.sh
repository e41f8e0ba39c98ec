#!/usr/bin/env bash
# The arm64 smoke test: socktrace cross-built for aarch64, under Debian's
# arm64 6.1 kernel (linux-image-arm64) in qemu-system-aarch64 -M virt
# -cpu max (TCG). Needs root on Debian (installs the cross toolchain and
# the arm64 libraries, enabling the arm64 architecture in dpkg, when
# missing). tests/vm/matrix.sh runs it (make vmtest).
#
#   tests/vm/arm64.sh [--cache DIR] [--timeout SECS]
#
# Builds socktrace with gcc-aarch64-linux-gnu against libbpf-dev:arm64,
# libelf-dev:arm64, libc-ares-dev:arm64 and zlib1g-dev:arm64 in OUTPUT/aarch64 (make ARCH=aarch64;
# the BPF side from vmlinux/aarch64/vmlinux.h) and tests/vm/smoke.c
# statically. The guest's root is an initramfs of Debian arm64 packages:
# busybox-static and the libraries socktrace links (libc6, libelf1, zlib1g),
# with tests/vm/arm64-init as /init, which runs socktrace --probes, then
# socktrace -j around the smoke helper's TCP connection and UDP exchange
# on loopback, automatic and with each hook kind forced; check_smoke.py
# reads the console. Results in CACHE/last-arm64/ (console.log, the guest's
# outputs, results.tsv). The packages are downloaded once with apt-get
# download into CACHE/arm64 ($SOCKTRACE_VM_DIR, else build/vm).
#
# Environment: SOCKTRACE_VM_DIR, SOCKTRACE_VM_KERNEL (arm64 kernel package),
# VMTEST_MEM (1G), VMTEST_SMP (2), OUTPUT (build).
#
# Ends with "vmtest: N passed, N failed, N skipped"; exit 0 iff none failed.
set -u
set -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
output=${OUTPUT:-build}
cache=${SOCKTRACE_VM_DIR:-}
timeout_s=1200
mem=${VMTEST_MEM:-1G}
smp=${VMTEST_SMP:-2}

usage() { sed -n '2,/^set -u/{/^#/s/^# \{0,1\}//p}' "$0"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--cache) cache=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "vmtest: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done

say() { echo "vmtest: $*"; }
die() {
	echo "vmtest: arm64: $*" >&2
	[ -z "${out:-}" ] || printf '%s\taarch64\tvm\tfailed\t%s\n' "${kver:-6.1}" "$*" >> "$out/results.tsv"
	echo "vmtest: 0 passed, 1 failed, 0 skipped"
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (installs packages)"
[ "$(uname -m)" = x86_64 ] || die "runs on x86_64 hosts only (cross-builds for aarch64)"
cd "$repo" || die "cannot cd to $repo"
[ -n "$cache" ] || cache=$output/vm
mkdir -p "$cache/arm64" || die "cannot create $cache/arm64"
cache=$(cd "$cache" && pwd)
exec 9>"$cache/.lock-arm64"
flock -n 9 || { say "waiting for another arm64 vmtest using $cache"; flock 9; }
out=$cache/last-arm64
rm -rf "$out" "$cache"/tmp-arm64.*
mkdir -p "$out"

# ---- host packages: the cross toolchain, arm64 libraries (multiarch), qemu ----
# shellcheck source=tests/vm/pkgs.sh
. "$here/pkgs.sh"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	say "dpkg --add-architecture arm64"
	dpkg --add-architecture arm64 || die "dpkg --add-architecture arm64 failed"
	apt_locked update -qq || die "apt-get update failed"
fi
pkgs_ensure gcc-aarch64-linux-gnu libc6-dev:arm64 libbpf-dev:arm64 libelf-dev:arm64 \
	zlib1g-dev:arm64 libc-ares-dev:arm64 qemu-system-arm cpio

# ---- build ----
say "building socktrace for aarch64 in $output/aarch64"
make --no-print-directory -j"$(nproc)" OUTPUT="$output/aarch64" ARCH=aarch64 \
	CC=aarch64-linux-gnu-gcc "$output/aarch64/socktrace" >/dev/null ||
	die "cross-building socktrace failed"
aarch64-linux-gnu-gcc -O2 -Wall -Wextra -static "$here/smoke.c" -o "$output/aarch64/smoke" ||
	die "cross-building the smoke helper failed"

# ---- packages: kernel and root file system ----
dl=$cache/arm64
pkg=${SOCKTRACE_VM_KERNEL:-$(apt-cache depends linux-image-arm64:arm64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-arm64(:arm64)?$/ {sub(/:arm64$/, "", $2); print $2; exit}')}
[ -n "$pkg" ] || die "cannot find Debian's arm64 kernel package (apt-cache depends linux-image-arm64:arm64)"
kver=${pkg#linux-image-}
root_pkgs=(busybox-static libc6 libelf1 zlib1g)
fetch=()
for p in "$pkg" "${root_pkgs[@]}"; do
	compgen -G "$dl/${p}_*_arm64.deb" >/dev/null || fetch+=("$p:arm64")
done
if [ ${#fetch[@]} -gt 0 ]; then
	say "apt-get download ${fetch[*]}"
	(cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "${fetch[@]}") ||
		die "apt-get download ${fetch[*]} failed (apt-get update may help)"
fi
tmp=$(mktemp -d "$cache/tmp-arm64.XXXXXX")
qpid=''
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "vmtest: interrupted" >&2; exit 130' INT TERM HUP

newest_deb() { find "$dl" -maxdepth 1 -name "${1}_*_arm64.deb" | sort -V | tail -n 1; }
deb=$(newest_deb "$pkg")
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./boot || die "extracting $deb failed"
kernel=$tmp/boot/vmlinuz-$kver
[ -s "$kernel" ] || die "no /boot/vmlinuz-$kver in $deb"

root=$tmp/root
mkdir -p "$root"
for p in "${root_pkgs[@]}"; do
	dpkg-deb -x "$(newest_deb "$p")" "$root" || die "extracting $p failed"
done
# what the guest does not need
rm -rf "${root:?}/usr/share" "${root:?}/etc" "${root:?}/var"
mkdir -p "$root/bin" "$root/dev" "$root/etc"
[ -x "$root/bin/busybox" ] || die "no /bin/busybox in busybox-static:arm64"
cp "$output/aarch64/socktrace" "$output/aarch64/smoke" "$root/" || die "copying the binaries failed"
{ cp "$here/arm64-init" "$root/init" && chmod 755 "$root/init"; } || die "copying arm64-init failed"
printf 'tcp\t\t6\tTCP\nudp\t\t17\tUDP\n' > "$root/etc/protocols"
# every library socktrace needs is there (the loader would say so in the guest, too late)
for lib in $(aarch64-linux-gnu-readelf -d "$root/socktrace" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p'); do
	[ -n "$(find "$root" -name "$lib" -print -quit)" ] || die "$lib, needed by socktrace, is in none of ${root_pkgs[*]}"
done
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$tmp/initramfs.cpio" ||
	die "building the initramfs failed"

# ---- boot ----
say "booting $kver under qemu-system-aarch64 -M virt -cpu max (TCG), -m $mem -smp $smp; timeout ${timeout_s}s"
say "console: $out/console.log"
t0=$SECONDS
# pauth-impdef: the architected pointer authentication costs much under TCG
timeout -k 10 "$timeout_s" qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -accel tcg \
	-m "$mem" -smp "$smp" -nographic -no-reboot -nic none \
	-kernel "$kernel" -initrd "$tmp/initramfs.cpio" \
	-append "console=ttyAMA0 quiet loglevel=1 panic=-1 rdinit=/init" \
	< /dev/null 2>&1 | tee "$out/console.log" | tr -d '\r' |
	grep --line-buffered -vE '^(\{"type"|@@(begin|end) )' | sed -u 's/^/  | /'
qrc=${PIPESTATUS[0]}
wall=$((SECONDS - t0))

echo
say "summary (arm64 under qemu-system-aarch64 -cpu max, TCG, ${wall}s wall)"
[ "$qrc" = 0 ] || say "  qemu exited with status $qrc$([ "$qrc" = 124 ] && echo " (timed out after ${timeout_s}s)")"
/usr/bin/python3 "$here/check_smoke.py" "$out/console.log" "$out" | sed 's/^/vmtest:   /'
passed=$(awk -F'\t' '$4 == "passed"' "$out/results.tsv" | wc -l)
failed=$(awk -F'\t' '$4 == "failed"' "$out/results.tsv" | wc -l)
skipped=$(awk -F'\t' '$4 == "skipped"' "$out/results.tsv" | wc -l)
say "results in $out"
echo "vmtest: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
