#!/usr/bin/env bash
# Runs the unit tests (plain, then under ASan and UBSan), the packaging
# tests, then (as root) the system tests, then the reader fuzzer for
# FUZZ_SECONDS (default 60; 0 skips it), and ends with one line
# "N passed, N failed, N skipped" over all of them.
#   tests/run.sh BUILD_DIR      (PYTHON selects the interpreter;
#                                FUZZ_ONLY=1 runs only the fuzzer;
#                                SYSTEM_TESTS=0 skips the system tests;
#                                SYSTEM_TEST_ARGS are options for them)
set -u
build=${1:-build}
python=${PYTHON:-python3}
passed=0 failed=0 skipped=0 rc=0

# Adds the counts of a tier's closing line "TIER: N passed, N failed[, N skipped]".
tally() {
	local line
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if ! [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)? ]]; then
		echo "run.sh: $2 printed no result line" >&2
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
	skipped=$((skipped + ${BASH_REMATCH[4]:-0}))
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# libFuzzer on copies of the seeds, so that the source tree stays as it is;
# a finding is saved under BUILD_DIR/fuzz/ and fails the tier.
fuzz_one() {
	local target=$1 seeds=$2 secs=$3 corpus log result
	corpus=$(mktemp -d) log=$(mktemp)
	cp "$seeds"/* "$corpus"/
	if "$build/fuzz/$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$build/fuzz/" "$corpus" >"$log" 2>&1; then
		result=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
		if [[ $result =~ ([0-9]+)\ runs\ in\ ([0-9]+) ]] && [ "${BASH_REMATCH[2]}" -gt 0 ]; then
			result="$result, $((BASH_REMATCH[1] / BASH_REMATCH[2])) inputs/s"
		fi
		echo "PASS $target: $result"
		fuzz_passed=$((fuzz_passed + 1))
	else
		tail -n 40 "$log"
		echo "FAIL $target: see the report above; the input is in $build/fuzz/"
		fuzz_failed=$((fuzz_failed + 1))
	fi
	rm -rf "$corpus" "$log"
}

# The recording reader gets two thirds of the time, the DNS answer parser
# (c-ares' reply parsers) the rest.
fuzz() {
	local secs=${FUZZ_SECONDS:-60} dns_secs
	fuzz_passed=0 fuzz_failed=0
	echo "== fuzz: recording reader and DNS answer parser, ${secs}s"
	if [ "$secs" = 0 ]; then
		echo "SKIP fuzz: FUZZ_SECONDS=0"
		skipped=$((skipped + 1))
	else
		dns_secs=$((secs / 3 > 0 ? secs / 3 : 1))
		fuzz_one reader_fuzz tests/fuzz/seeds $((secs - dns_secs > 0 ? secs - dns_secs : 1))
		fuzz_one dns_fuzz tests/fuzz/dns-seeds "$dns_secs"
	fi
	echo "fuzz: $fuzz_passed passed, $fuzz_failed failed" | tee "$out"
	tally "$out" "fuzz"
}

if [ -n "${FUZZ_ONLY:-}" ]; then
	fuzz
	[ "$failed" = 0 ] || rc=1
	echo "$passed passed, $failed failed, $skipped skipped"
	exit $rc
fi

echo "== unit tests"
"$build/unit_tests" | tee "$out"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
tally "$out" "unit tests"

echo "== unit tests under ASan and UBSan"
if [ -x "$build/asan/unit_tests" ]; then
	if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 "$build/asan/unit_tests" > "$out" 2>&1; then
		rc=1
		cat "$out"
	fi
	sed -n 's/^unit: /asan: /p' "$out" | tail -n 1 | tee "$out.tally"
	tally "$out.tally" "unit tests under sanitizers"
	rm -f "$out.tally"
else
	echo "SKIP unit tests under sanitizers: $build/asan/unit_tests was not built (make unit-asan)"
	skipped=$((skipped + 1))
fi

echo "== packaging tests"
"$python" tests/pkg/run.py --build "$build" | tee "$out"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
tally "$out" "packaging tests"

echo "== system tests"
read -r -a system_args <<<"${SYSTEM_TEST_ARGS:-}"
if [ "${SYSTEM_TESTS:-1}" = 0 ]; then
	echo "SKIP system tests: SYSTEM_TESTS=0"
	skipped=$((skipped + 1))
elif [ "$(id -u)" != 0 ]; then
	echo "SKIP system tests: they load BPF programs and create network namespaces, which needs root (sudo make test)"
	skipped=$((skipped + 1))
else
	"$python" tests/system/run.py --socktrace "$build/socktrace" "${system_args[@]}" | tee "$out"
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	tally "$out" "system tests"
fi

fuzz

[ "$failed" = 0 ] || rc=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
