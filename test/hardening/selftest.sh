#!/usr/bin/env bash
# Proves that the hardening checks fail when what they check breaks: runs
# each check, briefly, with each of its deliberate faults (a wrong
# expectation in the model, a simulated lost row or double grab, a backend
# crash, a broken job row, a lost commit, a skipped requeue) and expects a
# non-zero exit and a FAIL line. Ends with "selftest: N passed, M failed".
#
# `make test` runs the short variant (every model mutation on a small run
# loaded on demand, the lease-invariant mutation of the SQL fuzzing and one
# of the crash check: under two minutes); SELFTEST_LONG=1 (or
# HARDENING_LONG=1) runs every case at the sizes below.
set -uo pipefail
cd "$(dirname "$0")/../.."
long=${SELFTEST_LONG:-${HARDENING_LONG:-0}}

passed=0
failed=0
expect_failure() { # expect_failure NAME PATTERN ENV... -- SCRIPT
	local name=$1 pattern=$2 out
	shift 2
	out=$(mktemp)
	env "$@" >"$out" 2>&1
	local rc=$?
	if [ "$rc" -ne 0 ] && grep -qE "$pattern" "$out"; then
		echo "selftest: $name: fails as it should: $(grep -m1 -E "$pattern" "$out" | cut -c1-220)"
		passed=$((passed + 1))
	else
		echo "selftest: $name: NOT DETECTED (exit $rc); output:"
		tail -20 "$out"
		failed=$((failed + 1))
	fi
	# A failing check keeps its cluster directory for a look: not wanted here.
	sed -nE 's/.*outputs kept in (\/tmp\/compute-[^ ]+)$/\1/p' "$out" | xargs -r rm -rf
	rm -f "$out"
}

if [ "$long" = 1 ]; then
	model_size=(MODEL_OPS=800) smith_seconds=12 crash_cases=(lost-row no-requeue)
else
	model_size=(MODEL_OPS=300 MODEL_PRELOAD=0) smith_seconds=8 crash_cases=(no-requeue)
fi
for m in table sqlstate timestamps attempt lost-row double-grab; do
	expect_failure "model/$m" 'model: FAIL' MODEL_MUTATE=$m "${model_size[@]}" MODEL_SEED=7 bash scripts/check-model.sh
done
if [ "$long" = 1 ]; then
	expect_failure "sqlsmith/crash" 'check-sqlsmith: FAIL: the server log reports a crash' SQLSMITH_MUTATE=crash \
		SQLSMITH_SECONDS=$smith_seconds SQLSMITH_SEED=7 bash scripts/check-sqlsmith.sh
	expect_failure "sqlsmith/invariant" 'check-sqlsmith: FAIL: .* in an invalid state' SQLSMITH_MUTATE=invariant \
		SQLSMITH_SECONDS=$smith_seconds SQLSMITH_SEED=7 bash scripts/check-sqlsmith.sh
fi
expect_failure "sqlsmith/lease" 'check-sqlsmith: FAIL: .* in an invalid state' SQLSMITH_MUTATE=lease \
	SQLSMITH_SECONDS=$smith_seconds SQLSMITH_SEED=7 bash scripts/check-sqlsmith.sh
for m in "${crash_cases[@]}"; do
	expect_failure "crash/$m" 'crash: FAIL' CRASH_MUTATE=$m CRASH_JOBS=5000 CRASH_SEED=7 bash scripts/check-crash.sh
done
echo "selftest: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
