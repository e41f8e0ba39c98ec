#!/usr/bin/env bash
# The kernel matrix (make vmtest): tests/vm/run.sh once per x86_64 kernel,
# tests/vm/arm64.sh for arm64, one after the other (each VM uses both
# CPUs), then one table: kernel x architecture x variant -> passed,
# failed or skipped (the kernel's reason), from each run's results.tsv.
#
#   tests/vm/matrix.sh [--kernels "5.10 6.1 6.12 arm64"] [--ci]
#                      [--socktrace PATH] [--cache DIR] [--timeout SECS]
#                      [--table FILE]
#
# Per x86_64 kernel: socktrace --probes (checked by check_probes.py) and
# the hook-dependent system tests, by default with the automatic choice
# and with fentry and kprobe forced on every kernel (about 15 minutes per
# variant under TCG). --ci trims that to what CI can afford: fentry and
# kprobe forced on 6.1 (every hook-dependent test: 18 minutes each on a
# busy host), auto over CI_TESTS (the tests of the paths that differ
# between kernels) and fentry over FEXIT_TESTS on 5.10 and 6.12, and
# arm64's smoke test. Not auto on 6.1: it picks what the host's run and
# the fentry variant already cover (check_probes.py checks the choice). --timeout bounds the whole matrix: each kernel gets
# what is left less 4 minutes per kernel still to come. --table writes the
# table as Markdown between the markers of FILE (docs/support-matrix.md).
#
# Ends with "vmtest: N passed, N failed, N skipped"; exit 0 iff no cell
# failed.
set -u
set -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernels="5.10 6.1 6.12 arm64"
ci=0
socktrace=build/socktrace
cache=${SOCKTRACE_VM_DIR:-}
timeout_s=
table=
# CI's tests on 5.10 and 6.12: TCP (v4, v6, netns, accept in another
# process, forks, a daemon's accept()), refusals, hangs and timeouts
# (so_error, retransmits), getsockopt() unchanged, UDP with udp_recvmsg()'s
# flags (MSG_PEEK, mmsg) and the probes
CI_TESTS=loopback_ipv4,loopback_ipv6,accept_in_other_process,netns_veth_ipv4,refused_connect,
CI_TESTS+=snapshot_listener_owner,connect_refused_ipv6,connect_hang_ipv4,connect_timeout,
CI_TESTS+=connect_startup_retrans_exact,connect_icmp_reject_ipv4,udp_msg_peek,
CI_TESTS+=udp_sendmmsg_recvmmsg,udp_dual_stack,owner_fork_after_accept_ipv4,
CI_TESTS+=owner_existing_connection_close,owner_daemon_after_listen,
CI_TESTS+=so_error_getsockopt_unchanged,probes_json,core_btf_reduced
# and with fentry forced, those that go through the fexit programs on
# inet_csk_listen_start(), inet_csk_accept() and udp_recvmsg(), whose
# arguments differ on each of these kernels
FEXIT_TESTS=loopback_ipv4,accept_in_other_process,owner_fork_after_accept_ipv4,udp_msg_peek,core_btf_reduced

usage() { sed -n '2,/^set -u/{/^#/s/^# \{0,1\}//p}' "$0"; }
while [ $# -gt 0 ]; do
	case "$1" in
	--kernels) kernels=$2; shift 2 ;;
	--ci) ci=1; shift ;;
	--socktrace) socktrace=$2; shift 2 ;;
	--cache) cache=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--table) table=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "vmtest: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for k in $kernels; do
	case "$k" in 5.10|6.1|6.12|arm64) ;;
	*) echo "vmtest: unknown kernel '$k' (5.10 6.1 6.12 arm64)" >&2; exit 2 ;;
	esac
done
# as run.sh: vm/ beside the binary, unless the guest's tmpfs would hide it
if [ -z "$cache" ]; then
	cache=$(dirname "$socktrace")/vm
	case "$(cd "$(dirname "$socktrace")" && pwd)/" in
	/tmp/*|/run/*|/var/tmp/*) cache=/var/cache/socktrace-vmtest ;;
	esac
fi
mkdir -p "$cache" || { echo "vmtest: cannot create $cache" >&2; exit 1; }
cache=$(cd "$cache" && pwd)

# what one kernel runs: VARIANTS and the -k filter
plan() {
	case "$ci:$1" in
	1:6.1) echo "fentry kprobe|" ;;
	1:*) echo "auto fentry=$FEXIT_TESTS|$CI_TESTS" ;;
	0:6.1) echo "fentry kprobe auto|" ;;
	*) echo "auto fentry kprobe|" ;;
	esac
}

start=$SECONDS
left=$(wc -w <<< "$kernels")
runs=() took=()
for k in $kernels; do
	left=$((left - 1))
	targs=()
	if [ -n "$timeout_s" ]; then
		t=$((timeout_s - (SECONDS - start) - left * 240))
		[ "$t" -gt 120 ] || t=120
		targs=(--timeout "$t")
	fi
	echo "vmtest: ==== kernel $k"
	t0=$SECONDS
	if [ "$k" = arm64 ]; then
		OUTPUT=$(dirname "$socktrace") "$here/arm64.sh" --cache "$cache" "${targs[@]}"
		runs+=("$cache/last-arm64")
	else
		IFS='|' read -r variants filter <<< "$(plan "$k")"
		"$here/run.sh" --kernel "$k" --socktrace "$socktrace" --cache "$cache" \
			--variants "$variants" ${filter:+-k "$filter"} "${targs[@]}"
		runs+=("$cache/last-$k")
	fi
	took+=("$(printf '%-6s %4ds' "$k" $((SECONDS - t0)))")
	# a run that died before writing a line still shows in the table
	[ -s "${runs[-1]}/results.tsv" ] ||
		printf '%s\t%s\tvm\tfailed\tthe run wrote no results (see its output above)\n' \
			"$k" "$([ "$k" = arm64 ] && echo aarch64 || echo x86_64)" > "${runs[-1]}/results.tsv"
done

rows=$(for r in "${runs[@]}"; do cat "$r/results.tsv"; done)
echo
sel=
[ "$ci" = 0 ] || sel=", CI's selection"
echo "vmtest: ==== the matrix ($((SECONDS - start))s$sel)"
for t in "${took[@]}"; do echo "vmtest:   $t"; done
awk -F'\t' '{printf "vmtest:   %-22s %-8s %-10s %-8s %s\n", $1, $2, $3, $4, $5}' <<< "$rows"
# why each test failed, next to the table: a CI log's tail is often all one reads
for r in "${runs[@]}"; do
	for f in "$r"/system-*.txt; do
		[ -e "$f" ] || continue
		v=${f##*/system-}
		awk -v tag="$(basename "$r" | sed 's/^last-//') ${v%.txt}" '
			/^FAIL / {n = 8}
			!/^FAIL / && !/^[ \t]/ {n = 0}
			n > 0 {printf "vmtest:   [%s] %s\n", tag, substr($0, 1, 300); n--}
		' "$f"
	done
done
if [ -n "$table" ]; then
	{
		echo "| kernel | arch | variant | result | detail |"
		echo "|---|---|---|---|---|"
		awk -F'\t' '{gsub(/\|/, "\\|"); printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' <<< "$rows"
	} > "$cache/matrix.md"
	awk -v f="$cache/matrix.md" '
		/^<!-- matrix:end -->/ {skip = 0}
		!skip {print}
		/^<!-- matrix:begin -->/ {while ((getline l < f) > 0) print l; skip = 1}
	' "$table" > "$table.tmp" && mv "$table.tmp" "$table" && echo "vmtest: table written to $table"
fi
passed=$(awk -F'\t' '$4 == "passed"' <<< "$rows" | wc -l)
failed=$(awk -F'\t' '$4 == "failed"' <<< "$rows" | wc -l)
skipped=$(awk -F'\t' '$4 == "skipped"' <<< "$rows" | wc -l)
echo "vmtest: $passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
