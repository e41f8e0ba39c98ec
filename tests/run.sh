#!/usr/bin/env bash
# Runs the unit tests, then (as root) the system tests, and ends with one
# line "N passed, N failed, N skipped" over both.
#   tests/run.sh BUILD_DIR      (PYTHON selects the interpreter)
set -u
build=${1:-build}
python=${PYTHON:-python3}
passed=0 failed=0 skipped=0 rc=0

# Adds the counts of a tier's closing line "TIER: N passed, N failed[, N skipped]".
tally() {
	local line
	line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "run.sh: $2 printed no result line" >&2
		failed=$((failed + 1))
		return
	fi
	set -- $(echo "$line" | grep -oE '[0-9]+')
	passed=$((passed + $1)) failed=$((failed + $2)) skipped=$((skipped + ${3:-0}))
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "== unit tests"
"$build/unit_tests" | tee "$out"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
tally "$out" "unit tests"

echo "== system tests"
if [ "$(id -u)" != 0 ]; then
	echo "SKIP system tests: they load BPF programs and create network namespaces, which needs root (sudo make test)"
	skipped=$((skipped + 1))
else
	"$python" tests/system/run.py --socktrace "$build/socktrace" ${SYSTEM_TEST_ARGS:-} | tee "$out"
	[ "${PIPESTATUS[0]}" = 0 ] || rc=1
	tally "$out" "system tests"
fi

[ "$failed" = 0 ] || rc=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $rc
