#!/bin/bash
# PID 1 inside the vmtest guest (started by tests/vm/init after switch_root).
# The root filesystem is the host's, read-only over 9p; writable places are
# tmpfs. The host's run directory is the 9p tag "vmtest-out", mounted on
# /run/vmtest/out: it holds vmtest.conf (written by tests/vm/run.sh) and
# receives every result. The VM reboots at the end, which ends qemu
# (-no-reboot); whatever happens, the last thing written is out/status.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 TERM=dumb
# under emulation a helper's start can take longer than the tests' deadlines
export SOCKTRACE_TEST_TIMEOUT_SCALE=3
umask 022

out=/run/vmtest/out

finish() {
	sync
	echo b > /proc/sysrq-trigger   # reboot at once; qemu -no-reboot exits
	sleep 10
}

fatal() {
	echo "vmtest-guest: FATAL: $*"
	[ -d "$out" ] && echo "fatal: $*" > "$out/status"
	finish
}

# Under TCG every exec of a dynamically linked binary costs tens of ms and
# mount(8) pulls in five libraries: the static busybox does the setup.
bb=/bin/busybox
[ -x "$bb" ] || bb=
mnt() {  # mnt TYPE DIR [OPTIONS]
	[ -d "$2" ] || $bb mkdir -p "$2"
	$bb mount -t "$1" ${3:+-o "$3"} "$1" "$2" || fatal "mount -t $1 $2 failed"
}

mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts "gid=5,mode=620,ptmxmode=666"
mnt tmpfs /dev/shm "mode=1777"
mnt tmpfs /run "mode=755"
mnt tmpfs /tmp "mode=1777"
mnt tmpfs /var/tmp "mode=1777"
mnt bpf /sys/fs/bpf
mnt tracefs /sys/kernel/tracing
mnt debugfs /sys/kernel/debug
mnt cgroup2 /sys/fs/cgroup
$bb mkdir -p /run/netns /run/lock "$out"
$bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 vmtest-out "$out" ||
	fatal "mounting the results share (9p tag vmtest-out) failed"
echo running > "$out/status"

# shellcheck source=/dev/null
. "$out/vmtest.conf" || fatal "no $out/vmtest.conf"
# set by vmtest.conf: REPO SOCKTRACE TESTS KROOT VARIANTS TEST_FILTER VARIANT_TIMEOUT
# the tests' snapshot is on the writable share: they must not write there
{ mount --bind "$TESTS" "$TESTS" && mount -o remount,bind,ro "$TESTS"; } ||
	fatal "cannot make $TESTS read-only"

# Modules (veth, ...) load on demand from the extracted kernel package: the
# kernel's usermode helper and any modprobe in PATH use a wrapper with -d.
$bb mkdir -p /run/vmtest/bin
printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "'$KROOT'" > /run/vmtest/bin/modprobe
$bb chmod 755 /run/vmtest/bin/modprobe
echo /run/vmtest/bin/modprobe > /proc/sys/kernel/modprobe
export PATH=/run/vmtest/bin:$PATH

$bb hostname vmtest 2>/dev/null
ip link set lo up || fatal "ip link set lo up failed"

# the checkout may be hidden under the guest's tmpfs: the tests only need
# the snapshots in the cache
cd "$REPO" 2>/dev/null || cd /
kver=$(uname -r)
echo "$kver" > "$out/kernel"
read -r up _ < /proc/uptime
echo "$up" > "$out/boot-uptime"
echo "vmtest-guest: kernel $kver up after ${up}s; repository $REPO"

echo "vmtest-guest: == $SOCKTRACE --probes"
"$SOCKTRACE" --probes 2>&1 | tee "$out/probes.txt"
"$SOCKTRACE" --probes -j > "$out/probes.json" 2> "$out/probes.err"
echo $? > "$out/probes.rc"
# what each forced kind reports, checked against the above by check_probes.py
for k in tp_btf tracepoint fentry kprobe; do
	"$SOCKTRACE" --probes -j --hook "$k" > "$out/probes-$k.json" 2>> "$out/probes.err"
done

# guest CPU time busy and idle (jiffies): how much of a variant's time the
# VM's CPUs waited, i.e. what another VM could use meanwhile
cpu_times() { awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8, $5 + $6; exit}' /proc/stat; }

# a variant is KIND, or KIND=FILTER for its own -k instead of TEST_FILTER
for spec in $VARIANTS; do
	v=${spec%%=*} vfilter=$TEST_FILTER
	[ "$v" = "$spec" ] || vfilter=${spec#*=}
	hook=()
	[ "$v" = auto ] || hook=(--hook "$v")
	filter=()
	[ -z "$vfilter" ] || filter=(-k "$vfilter")
	if [ "$v" != auto ]; then
		# a kind this kernel cannot run is skipped with socktrace's reason
		why=$("$SOCKTRACE" --probes -j --hook "$v" 2>&1 | /usr/bin/python3 -c '
import json, sys
kind = sys.argv[1]
try:
    doc = json.loads(sys.stdin.read())
except ValueError as e:
    sys.exit("socktrace --probes -j --hook %s printed no JSON (%s)" % (kind, e))
for c in doc.get("concerns", []):
    if c.get("name") == "tcp_state" and not c.get("selected"):
        why = [v.get("reason") for v in c.get("variants", []) if v.get("kind") == kind]
        print("--hook %s cannot trace TCP states on this kernel: %s"
              % (kind, why[0] if why and why[0] else "no such variant"))
' "$v")
		if [ -n "$why" ]; then
			echo "vmtest-guest: SKIP hook $v: $why"
			echo "$why" > "$out/system-$v.unavailable"
			continue
		fi
	fi
	echo "vmtest-guest: == system tests, hook $v${vfilter:+, -k $vfilter}"
	read -r start _ < /proc/uptime
	read -r busy0 idle0 <<< "$(cpu_times)"
	timeout -k 10 "$VARIANT_TIMEOUT" /usr/bin/python3 "$TESTS/run.py" \
		--socktrace "$SOCKTRACE" --hook-tests-only "${hook[@]}" "${filter[@]}" -v 2>&1 |
		tee "$out/system-$v.txt"
	rc=${PIPESTATUS[0]}
	echo "$rc" > "$out/system-$v.rc"
	read -r end _ < /proc/uptime
	awk -v s="$start" -v e="$end" 'BEGIN {printf "%.1f\n", e - s}' > "$out/system-$v.secs"
	read -r busy1 idle1 <<< "$(cpu_times)"
	awk -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) \
		'BEGIN {printf "%.0f\n", b + i ? 100 * i / (b + i) : 0}' > "$out/system-$v.idle"
	[ "$rc" != 124 ] || echo "vmtest-guest: hook $v timed out after ${VARIANT_TIMEOUT}s"
	# a test must leave no namespace, link or process behind for the next variant
	ip netns list > "$out/system-$v.leftover-netns" 2>&1
done

lsmod > "$out/lsmod.txt" 2>&1 || cat /proc/modules > "$out/lsmod.txt"
dmesg > "$out/dmesg.txt" 2>&1
echo "done" > "$out/status"
finish
