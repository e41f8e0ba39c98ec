#!/usr/bin/env bash
# Runs socktrace's system tests under one of Debian's stock x86_64 kernels
# booted with qemu: 5.10 (bullseye), 6.1 (bookworm, the default) or 6.12
# (bookworm), all with BTF, kprobes and fentry, so the fentry and kprobe
# hook variants that this host cannot load run too. Needs root on Debian
# (installs qemu-system-x86 busybox-static cpio kmod when missing).
# tests/vm/matrix.sh runs it once per kernel (make vmtest).
#
#   tests/vm/run.sh [--kernel 5.10|6.1|6.12] [--socktrace PATH] [--cache DIR]
#                   [--variants "fentry kprobe auto"] [-k SUBSTRING[,SUBSTRING...]]
#                   [--timeout SECS] [--variant-timeout SECS]
#
# The guest's root is the host's root filesystem, shared read-only over 9p;
# an initramfs of busybox + the virtio/9p modules mounts it and runs
# tests/vm/guest.sh, which mounts tmpfs on /tmp /run /var/tmp, runs
# `socktrace --probes` and then tests/system/run.py once per hook variant,
# from the repository's directory. The binary and tests/system are copied
# first, so edits during the run do not mix in. Results land in
# CACHE/last-KERNEL/ (console.log, probes.*, system-VARIANT.txt, and
# results.tsv: one line per probes check and variant, which matrix.sh
# reads). A variant the kernel cannot run (socktrace --probes --hook says
# why) is skipped with that reason. A variant written KIND=SUBSTRING,...
# runs the tests that match those, instead of -k's.
# The kernel package is downloaded once with apt-get download into CACHE
# ($SOCKTRACE_VM_DIR, else vm/ beside the binary: build/vm) and reused;
# bullseye's through apt lists of its own in CACHE/apt/bullseye, which
# leave the host's apt setup alone. Nothing else comes from the network,
# and the guest has none.
#
# Environment: SOCKTRACE_VM_DIR (cache dir), SOCKTRACE_VM_KERNEL (kernel
# package, e.g. linux-image-6.1.0-56-amd64), VMTEST_MEM (768M), VMTEST_SMP (2),
# VMTEST_TIMEOUT (whole qemu run; default 300 s plus one variant timeout
# per variant), VMTEST_VARIANT_TIMEOUT (one variant's system tests inside
# the guest, 1600 s: a 6.1 variant's 110 tests took 1142 s and more than
# 1200 s on the CI host; under TCG a variant's 83 tests (those of userspace
# alone run on the host only) took up to 850 s on a busy 2-core host),
# VMTEST_ACCEL (tcg; KVM
# aborts on some hosts), for debugging VMTEST_APPEND (more kernel command
# line) and VMTEST_GUEST (another guest script, on the shared root, as PID 1).
#
# Ends with "vmtest: N passed, N failed, N skipped" (the system tests of
# every variant plus the probes check); exit 0 iff the VM booted, ran every
# variant to its end and nothing failed.
set -u
set -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
socktrace=build/socktrace
cache=${SOCKTRACE_VM_DIR:-}
variants="fentry kprobe auto"
series=6.1
filter=
timeout_s=${VMTEST_TIMEOUT:-}
variant_timeout=${VMTEST_VARIANT_TIMEOUT:-1600}
mem=${VMTEST_MEM:-768M}
smp=${VMTEST_SMP:-2}
accel=${VMTEST_ACCEL:-tcg}

usage() { sed -n '2,/^set -u/{/^#/s/^# \{0,1\}//p}' "$0"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) series=$2; shift 2 ;;
	--socktrace) socktrace=$2; shift 2 ;;
	--cache) cache=$2; shift 2 ;;
	--variants) variants=$2; shift 2 ;;
	-k) filter=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--variant-timeout) variant_timeout=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "vmtest: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[ -n "$timeout_s" ] || timeout_s=$((300 + $(wc -w <<<"$variants") * variant_timeout))
# default: vm/ beside the binary, i.e. build/vm for build/socktrace; but
# the guest mounts fresh tmpfs over /tmp, /run and /var/tmp, so a checkout
# there (a CI clone, say) keeps its cache, where the guest reads the kernel
# modules, the test snapshot and its own script, in /var/cache instead
if [ -z "$cache" ]; then
	cache=$(dirname "$socktrace")/vm
	case "$(cd "$(dirname "$socktrace")" && pwd)/" in
	/tmp/*|/run/*|/var/tmp/*) cache=/var/cache/socktrace-vmtest ;;
	esac
fi

say() { echo "vmtest: $*"; }
die() {
	echo "vmtest: $*" >&2
	echo "vmtest: 0 passed, 1 failed, 0 skipped"
	exit 1
}

for v in $variants; do
	case "${v%%=*}" in auto|tp_btf|tracepoint|fentry|kprobe) ;;
	*) die "unknown variant '$v' (auto tp_btf tracepoint fentry kprobe)" ;;
	esac
done
case "$series" in 5.10|6.1|6.12) ;;
*) die "unknown kernel '$series' (5.10 6.1 6.12)" ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (installs packages; the guest runs the tests as root)"
[ "$(uname -m)" = x86_64 ] || die "runs on x86_64 hosts only (boots Debian's amd64 kernel)"
[ -x "$socktrace" ] || die "$socktrace is not an executable file (run make first)"
[ -f "$repo/tests/system/run.py" ] || die "no $repo/tests/system/run.py"

# ---- host packages ----
# shellcheck source=tests/vm/pkgs.sh
. "$here/pkgs.sh"
pkgs_ensure qemu-system-x86 busybox-static cpio kmod xz-utils python3 iproute2

mkdir -p "$cache" || die "cannot create $cache"
cache=$(cd "$cache" && pwd)
case "$cache/" in
/tmp/*|/run/*|/var/tmp/*|/proc/*|/sys/*|/dev/*)
	die "the cache ($cache) must not be under /tmp, /run or /var/tmp: the guest mounts tmpfs there" ;;
esac
# one run per kernel at a time; runs of different kernels may share the cache
exec 9>"$cache/.lock-$series"
flock -n 9 || { say "waiting for another vmtest of $series using $cache"; flock 9; }
rm -rf "$cache/tmp-$series".*   # left by a run that was killed

# ---- kernel ----
# newest PATH...: the highest version of the PATHs that exist
newest() {
	local f
	for f in "$@"; do
		[ ! -e "$f" ] || printf '%s\n' "$f"
	done | sort -V | tail -n 1
}

# apt for bullseye: lists of its own in the cache, the host's setup untouched
apt_dir=$cache/apt/bullseye
apt_private=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=-
	-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
	-o APT::Architectures=amd64)
apt_opts=()
[ "$series" != 5.10 ] || apt_opts=("${apt_private[@]}")
apt_update() {
	if [ "$series" = 5.10 ]; then
		mkdir -p "$apt_dir/lists/partial" || return 1
		cat > "$apt_dir/sources.list" <<-EOF
		deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
		deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bullseye-security main
		EOF
	fi
	apt-get "${apt_opts[@]}" update -qq
}

# Debian's package of the kernel series, from the apt lists (no network):
# what linux-image-amd64 depends on for 5.10 (bullseye) and 6.1 (bookworm),
# the newest linux-image-6.12.N+deb12-amd64 for 6.12
kernel_pkg() {
	case "$series" in
	6.12)
		apt-cache pkgnames linux-image-6.12. 2>/dev/null |
			grep -E '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' | sort -V | tail -n 1 ;;
	*)
		apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null |
			awk -v s="$series" '$1 == "Depends:" && index($2, "linux-image-" s ".") == 1 &&
				$2 ~ /-amd64$/ {print $2; exit}' ;;
	esac
}
pkg=${SOCKTRACE_VM_KERNEL:-$(kernel_pkg)}
if [ -z "$pkg" ]; then
	# the lists cannot say: the newest kernel of the series already cached
	pkg=$(newest "$cache"/linux-image-"$series".*-amd64)
	pkg=${pkg##*/}
	if [ -z "$pkg" ] || [ ! -e "$cache/$pkg/.ready" ]; then
		say "apt-get update (to find Debian's $series kernel package)"
		apt_update || die "apt-get update failed"
		pkg=$(kernel_pkg)
	fi
fi
[ -n "$pkg" ] || die "cannot find Debian's $series kernel package in the apt lists"
kver=${pkg#linux-image-}
kdir=$cache/$pkg
if [ ! -e "$kdir/.ready" ]; then
	deb=$(newest "$cache/${pkg}"_*_amd64.deb)
	if [ -z "$deb" ]; then
		say "apt-get download $pkg"
		(cd "$cache" && apt-get "${apt_opts[@]}" download -q -o APT::Sandbox::User=root "$pkg") ||
			die "apt-get download $pkg failed (apt-get update may help)"
		deb=$(newest "$cache/${pkg}"_*_amd64.deb)
		[ -n "$deb" ] || die "apt-get download left no ${pkg}_*_amd64.deb in $cache"
	fi
	say "extracting $(basename "$deb")"
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp"
	dpkg-deb -x "$deb" "$kdir.tmp" || die "dpkg-deb -x $deb failed"
	depmod -b "$kdir.tmp" "$kver" || die "depmod for $kver failed"
	# The uncompressed ELF vmlinux boots through PVH straight into the kernel
	# (about twice as fast under TCG as the bzImage through the BIOS): find
	# the compressed payload in the bzImage, as scripts/extract-vmlinux does.
	img=$kdir.tmp/boot/vmlinuz-$kver
	for fmt in '\3757zXZ:xz -dcq --single-stream' '\037\213\010:gzip -dcq' \
		'(\265/\375:zstd -dcq' '\002!L\030:lz4 -dcq'; do
		sig=${fmt%%:*} cmd=${fmt#*:}
		command -v "${cmd%% *}" >/dev/null || continue
		# $sig holds printf escapes; the words are byte offsets
		# shellcheck disable=SC2059,SC2013
		for off in $(LC_ALL=C grep -aboF "$(printf "$sig")" "$img" | cut -d: -f1); do
			tail -c +$((off + 1)) "$img" | $cmd > "$kdir.tmp/vmlinux" 2>/dev/null
			if [ "$(head -c 4 "$kdir.tmp/vmlinux" | od -An -c | tr -d ' ')" = '177ELF' ]; then
				break 2
			fi
		done
		rm -f "$kdir.tmp/vmlinux"
	done
	[ -s "$kdir.tmp/vmlinux" ] || say "no ELF vmlinux found in $img: booting the bzImage (slower)"
	touch "$kdir.tmp/.ready"
	rm -rf "$kdir"
	mv "$kdir.tmp" "$kdir"
	# older kernels of this series
	for old in "$cache/linux-image-$series".*-amd64 "$cache/linux-image-$series".*-amd64_*.deb; do
		case "$old" in "$kdir"|"$deb"|"$kdir"_*) ;; *) [ -e "$old" ] && rm -rf "$old" ;; esac
	done
fi
kernel=$kdir/vmlinux
[ -s "$kernel" ] || kernel=$kdir/boot/vmlinuz-$kver

# ---- run directory and initramfs ----
out=$cache/last-$series
rm -rf "$out"
mkdir -p "$out"
tmp=$(mktemp -d "$cache/tmp-$series.XXXXXX")
qpid='' tpid=''
cleanup() {
	[ -z "$qpid" ] || kill "$qpid" 2>/dev/null
	[ -z "$tpid" ] || kill "$tpid" 2>/dev/null
	[ -z "$qpid" ] || wait "$qpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "vmtest: interrupted" >&2; exit 130' INT TERM HUP

# Snapshots of the binary and of the system tests: a rebuild or an edit
# while the VM runs changes nothing (the guest's 9p root caches loosely, so
# it could even see a mix of old and new files).
cp "$socktrace" "$out/socktrace" || die "cannot copy $socktrace"
mkdir -p "$out/tests-system"
(cd "$repo/tests/system" && tar --exclude=__pycache__ -cf - .) | (cd "$out/tests-system" && tar -xf -) ||
	die "cannot copy tests/system"

mkdir -p "$tmp/initramfs/bin" "$tmp/initramfs/dev" "$tmp/initramfs/mods"
cp /bin/busybox "$tmp/initramfs/bin/busybox"
file /bin/busybox 2>/dev/null | grep -q 'dynamically linked' && die "/bin/busybox is not static (busybox-static)"
cp "$here/init" "$tmp/initramfs/init"
# the guest script from the cache, which the guest can see wherever the
# checkout is
cp "$here/guest.sh" "$out/guest.sh" || die "cannot copy guest.sh"
chmod 755 "$out/guest.sh"
chmod 755 "$tmp/initramfs/init" "$tmp/initramfs/bin/busybox"
mknod -m 600 "$tmp/initramfs/dev/console" c 5 1
modprobe -d "$kdir" -S "$kver" -a --show-depends virtio_pci 9pnet_virtio 9p > "$tmp/deps" ||
	die "modprobe --show-depends for the 9p modules failed"
# busybox's insmod wants them uncompressed (6.12's are .ko.xz)
awk '$1 == "insmod" && !seen[$2]++ {print $2}' "$tmp/deps" | while read -r ko; do
	name=$(basename "$ko")
	case "$ko" in
	*.ko.xz) xz -dc "$ko" > "$tmp/initramfs/mods/${name%.xz}" ;;
	*.ko.zst) zstd -qdc "$ko" > "$tmp/initramfs/mods/${name%.zst}" ;;
	*.ko.gz) gzip -dc "$ko" > "$tmp/initramfs/mods/${name%.gz}" ;;
	*) cp "$ko" "$tmp/initramfs/mods/" ;;
	esac && echo "${name%.ko*}.ko" >> "$tmp/initramfs/mods/order"
done
grep -qx 9p.ko "$tmp/initramfs/mods/order" || die "9p.ko not found in $kdir"
(cd "$tmp/initramfs" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) > "$tmp/initramfs.cpio" ||
	die "building the initramfs failed"

cat > "$out/vmtest.conf" <<EOF
REPO='$repo'
SOCKTRACE='$out/socktrace'
TESTS='$out/tests-system'
KROOT='$kdir'
VARIANTS='$variants'
TEST_FILTER='$filter'
VARIANT_TIMEOUT='$variant_timeout'
EOF

# ---- boot ----
cmdline="console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off no_timer_check"
cmdline="$cmdline vmtest.guest=${VMTEST_GUEST:-$out/guest.sh} ${VMTEST_APPEND:-}"
# 5.10 live-patches the static keys of the syscall tracepoints with int3
# (text_poke_bp) while the other vCPU runs that code; under multi-threaded
# TCG both vCPUs then looped on the int3 for good (soft lockups in
# syscall_trace_enter and asm_exc_int3), in 3 of 7 runs of CI's
# selection. One host thread for both vCPUs keeps the patching coherent.
if [ -z "${VMTEST_ACCEL:-}" ] && [ "$series" = 5.10 ]; then
	accel=tcg,thread=single
fi
say "booting $kver ($(basename "$kernel")) under qemu -accel $accel, -m $mem -smp $smp; timeout ${timeout_s}s"
say "console: $out/console.log"
t0=$(date +%s.%N)
# Boots the guest once: the console goes to console.log and, prefixed, to
# our output as it comes.
boot() {
	rm -f "$tmp/console"
	mkfifo "$tmp/console" || die "mkfifo failed"
	tee "$out/console.log" < "$tmp/console" | sed -u 's/\r$//; s/^/  | /' &
	tpid=$!
	timeout -k 10 "$timeout_s" qemu-system-x86_64 -accel "$accel" -m "$mem" -smp "$smp" \
		-nographic -no-reboot -nic none \
		-kernel "$kernel" -initrd "$tmp/initramfs.cpio" -append "$cmdline" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=root,mount_tag=/dev/root \
		-fsdev local,id=out,path="$out",security_model=none,multidevs=remap \
		-device virtio-9p-pci,fsdev=out,mount_tag=vmtest-out \
		< /dev/null > "$tmp/console" 2>&1 &
	qpid=$!
	wait "$qpid"
	qrc=$?
	qpid=
	wait "$tpid" 2>/dev/null
	tpid=
}
boot
# A kernel that panics before the guest script starts (TCG has made
# 6.12's early text patching trap, rarely) ran nothing of ours: once more.
if [ ! -s "$out/status" ] && grep -q 'Kernel panic' "$out/console.log" 2>/dev/null; then
	cp "$out/console.log" "$out/console-panic.log"
	say "the kernel panicked before the guest script ran (console-panic.log): booting again"
	boot
fi
t1=$(date +%s.%N)
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", b - a}')

# ---- results ----
status=$(cat "$out/status" 2>/dev/null)
problem=
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	problem="the VM did not finish within ${timeout_s}s (VMTEST_TIMEOUT)"
elif [ "$qrc" != 0 ]; then
	problem="qemu exited with status $qrc"
elif [ -z "$status" ]; then
	problem="the VM never ran the guest script (boot failure)"
elif [ "$status" != "done" ]; then
	problem="the guest script did not finish: $status"
fi

passed=0 failed=0 skipped=0
summary=()
gkver=$(cat "$out/kernel" 2>/dev/null || echo "$kver")
# results.tsv: KERNEL ARCH VARIANT passed|failed|skipped DETAIL, for matrix.sh
result() { printf '%s\tx86_64\t%s\t%s\t%s\n' "$gkver" "$1" "$2" "${3//$'\t'/ }" >> "$out/results.tsv"; }

if [ -s "$out/probes.json" ]; then
	if check=$(/usr/bin/python3 "$here/check_probes.py" "$out/probes.json" "$gkver" 2>&1); then
		passed=$((passed + 1))
		summary+=("$gkver probes: $check")
		result probes passed "$check"
	else
		failed=$((failed + 1))
		summary+=("$gkver probes: FAIL: $check")
		result probes failed "$check"
	fi
elif [ -n "$status" ]; then
	failed=$((failed + 1))
	summary+=("$gkver probes: FAIL: socktrace --probes -j printed nothing (exit $(cat "$out/probes.rc" 2>/dev/null)): $(head -c 500 "$out/probes.err" 2>/dev/null)")
	result probes failed "socktrace --probes -j printed nothing"
fi

for spec in $variants; do
	v=${spec%%=*} vfilter=$filter
	[ "$v" = "$spec" ] || vfilter=${spec#*=}
	f=$out/system-$v.txt
	[ -n "$status" ] || break
	line=$(grep -E '^system: [0-9]+ passed, [0-9]+ failed' "$f" 2>/dev/null | tail -n 1)
	rc=$(cat "$out/system-$v.rc" 2>/dev/null)
	secs=$(cat "$out/system-$v.secs" 2>/dev/null)
	if [ -s "$out/system-$v.unavailable" ]; then
		skipped=$((skipped + 1))
		summary+=("$gkver $v: SKIPPED: $(cat "$out/system-$v.unavailable")")
		result "$v" skipped "$(cat "$out/system-$v.unavailable")"
		continue
	fi
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		if [ "$rc" = 124 ]; then
			why="timed out after ${variant_timeout}s (VMTEST_VARIANT_TIMEOUT)"
		elif [ -z "$rc" ] && [ -e "$f" ]; then
			why="did not finish (the VM stopped first)"
		elif [ -z "$rc" ]; then
			why="never ran"
		else
			why="printed no result line (exit $rc)"
		fi
		summary+=("$gkver $v: FAIL: system tests $why")
		result "$v" failed "system tests $why"
		continue
	fi
	read -r p fl s <<< "$(echo "$line" | grep -oE '[0-9]+' | tr '\n' ' ')"
	s=${s:-0}
	passed=$((passed + p)) failed=$((failed + fl)) skipped=$((skipped + s))
	if [ "$fl" = 0 ] && [ "$rc" != 0 ]; then
		failed=$((failed + 1))
		line="$line; but exit status $rc"
	fi
	note=
	if [ "$p" = 0 ] && [ "$fl" = 0 ] && [ "$s" -gt 0 ]; then
		note=" -- all SKIPPED: $(grep -m1 '^SKIP ' "$f" | sed 's/^SKIP [^:]*: //')"
	fi
	leftover=$(cat "$out/system-$v.leftover-netns" 2>/dev/null)
	[ -z "$leftover" ] || note="$note (network namespaces left behind: ${leftover//$'\n'/ })"
	idle=$(cat "$out/system-$v.idle" 2>/dev/null)
	summary+=("$gkver $v: ${line#system: }${secs:+ in ${secs}s}${idle:+ (guest CPUs ${idle}% idle)}${note}")
	if [ "$fl" != 0 ] || [ "$rc" != 0 ]; then
		result "$v" failed "${line#system: }: $(grep -E '^FAIL ' "$f" | sed 's/^FAIL \([^:]*\):.*/\1/' | paste -sd ' ')"
	elif [ "$p" = 0 ]; then
		result "$v" skipped "${line#system: }${note}"
	else
		result "$v" passed "${line#system: }${secs:+ in ${secs}s}${vfilter:+ (-k $vfilter)}"
	fi
done

echo
say "summary (kernel $gkver under qemu -accel $accel, ${wall}s wall${filter:+, tests matching -k $filter})"
boot=$(cat "$out/boot-uptime" 2>/dev/null)
[ -z "$boot" ] || say "  guest up after ${boot}s of guest time"
for line in "${summary[@]}"; do say "  $line"; done
for spec in $variants; do
	v=${spec%%=*}
	grep -E '^FAIL ' "$out/system-$v.txt" 2>/dev/null | sed "s/^/vmtest:     [$v] /"
done
if [ -n "$problem" ]; then
	failed=$((failed + 1))
	result vm failed "$problem"
	echo "vmtest: FAIL: $problem; the console's last lines:" >&2
	tail -n 40 "$out/console.log" | tr -d '\r' | sed 's/^/  | /' >&2
fi
say "results in $out"
echo "vmtest: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
