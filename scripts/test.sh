#!/usr/bin/env bash
# Runs every test: the core's unit tests (CTest), then the regression suite,
# the isolation specs and the multi-client run, each against a temporary
# PostgreSQL instance that is started and stopped here. The extension must be
# installed first; `make test` builds, installs and passes the test lists
# (REGRESS, ISOLATION) from the Makefile. Exits non-zero on any failure and
# ends with the line "test: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
: "${REGRESS:?set by make test}" "${ISOLATION:?set by make test}"

passed=0
failed=0
failures=()
count() { # count NAME PASSED FAILED
	passed=$((passed + $2))
	failed=$((failed + $3))
	[ "$3" -gt 0 ] && failures+=("$1")
	return 0
}

# suite NAME RUNNER INPUT_SUBDIR SERVER_SETTINGS TESTS...: one pg_regress-
# style suite (scripts/lib.sh run_suite), counted.
suite() {
	run_suite "$@"
	count "$1" $((suite_total - suite_failed)) "$suite_failed"
}

echo "== packaging: one version in compute.control, META.json and the script that installs it"
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" compute.control)
script=$(ls sql/compute--*"$version".sql 2>/dev/null | grep -E -- "--$version\.sql$" | head -1)
if grep -q "\"version\": \"$version\"" META.json && [ -n "$script" ] && grep -q "'$version'" "$script"; then
	echo "version $version: consistent ($script)"
	count packaging 1 0
else
	echo "version $version: META.json or the script reaching it (${script:-none}) disagrees"
	count packaging 0 1
fi

echo "== unit tests (CTest)"
unit_log=$(mktemp)
bash scripts/unit.sh 2>&1 | tee "$unit_log"
if line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$unit_log"); then
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
	count unit $((total - bad)) "$bad"
else
	count unit 0 1
fi

# Each suite twice: with the library loaded on demand, and preloaded
# (shared_preload_libraries), where grab_job scans from the queue marks in
# shared memory. The results must be the same, but for marks: marks.out is
# the preloaded run's answer and marks_1.out the other's, and each run is held
# to its own (a run that silently lost its preload fails).
suite regress "$PG_REGRESS" sql "$SUITE_SETTINGS" $REGRESS
suite regress-preloaded "$PG_REGRESS" sql "$SUITE_SETTINGS_PRELOADED" $REGRESS
suite isolation "$PG_ISOLATION_REGRESS" specs "$SUITE_SETTINGS" $ISOLATION
suite isolation-preloaded "$PG_ISOLATION_REGRESS" specs "$SUITE_SETTINGS_PRELOADED" $ISOLATION

# The last two: selftest proves that the hardening checks fail when what
# they check breaks (the short variant of test/hardening/selftest.sh); the
# mutation run, its default subset (every mutant killed by one test, one of
# those killed by a scripts/check-*.sh, rotating by commit; see
# scripts/check-mutants.sh). The checks above ran unmutated already, so the
# mutation run skips their baseline.
CHECKS=(multiclient check-marks check-wait check-maintenance check-examples check-exporter check-docs chaos check-dump check-platform check-model check-crash check-sqlsmith
	check-fuzz check-sanitizers check-memory check-dist check-package test/hardening/selftest.sh check-mutants)
export MUTANTS_BASELINE=${MUTANTS_BASELINE:-tests}

# Standalone checks: each starts its own cluster, prints one summary line
# and exits non-zero on failure.
# Each check's output is also kept, so that the end of the run can repeat
# the last lines of every failing one (CI shows only the tail of the log).
check_logs=$(mktemp -d)
for check in "${CHECKS[@]}"; do
	script=scripts/$check.sh
	[[ $check == */* ]] && script=$check check=$(basename "$check" .sh)
	echo "== $check"
	if bash "$script" 2>&1 | tee "$check_logs/$check.log"; then count "$check" 1 0; else count "$check" 0 1; fi
done

echo
for check in "${failures[@]}"; do
	if [ -f "$check_logs/$check.log" ]; then
		echo "== the last lines of failing $check (the whole output is above)"
		tail -n "${TEST_FAILURE_LINES:-25}" "$check_logs/$check.log" | cut -c1-600
	fi
done
rm -rf "$check_logs"
[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
echo "test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
