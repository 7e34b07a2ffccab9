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
PGXS_DIR=$(dirname "$(dirname "$($PG_CONFIG_BIN --pgxs)")")

passed=0
failed=0
failures=()
count() { # count NAME PASSED FAILED
	passed=$((passed + $2))
	failed=$((failed + $3))
	[ "$3" -gt 0 ] && failures+=("$1")
	return 0
}

# pg_regress-style suite: suite NAME RUNNER INPUT_SUBDIR SERVER_SETTINGS TESTS...
# SERVER_SETTINGS (one line of postgresql.conf, or "") go into the temporary
# instance's configuration; when they preload the library, the suite gets the
# preloaded run's expected outputs (expected_outputs in scripts/lib.sh).
suite() {
	local name=$1 runner=$2 subdir=$3 settings=$4
	shift 4
	local dir
	dir=$(scratch_dir "$name")
	cp -r "test/$subdir" "$dir/$subdir"
	local preloaded=0
	grep -qE "^shared_preload_libraries = .*compute" <<<"$settings" && preloaded=1
	expected_outputs "$dir/expected" "$preloaded" || {
		count "$name" 0 1
		return
	}
	echo "$settings" >"$dir/settings.conf"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
	echo "== $name: $* (in $dir)"
	(cd "$dir" && as_pg "$runner" --temp-instance="$dir/tmp" --temp-config="$dir/settings.conf" \
		--inputdir="$dir" --outputdir="$dir" --bindir="$PGBIN" "$@") | tee "$dir/summary.txt"
	local total=$# bad
	bad=$(grep -cE '\.\.\. FAILED' "$dir/summary.txt" || true)
	if grep -qE '^ *All [0-9]+ tests passed' "$dir/summary.txt"; then
		rm -rf "$dir"
	else
		[ "$bad" -eq 0 ] && bad=$total
		[ -f "$dir/regression.diffs" ] && head -c 20000 "$dir/regression.diffs"
		echo "$name: outputs kept in $dir"
	fi
	count "$name" $((total - bad)) "$bad"
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
preload="shared_preload_libraries = 'compute'"
suite regress "$PGXS_DIR/test/regress/pg_regress" sql "" $REGRESS
suite regress-preloaded "$PGXS_DIR/test/regress/pg_regress" sql "$preload" $REGRESS
suite isolation "$PGXS_DIR/test/isolation/pg_isolation_regress" specs "" $ISOLATION
suite isolation-preloaded "$PGXS_DIR/test/isolation/pg_isolation_regress" specs "$preload" $ISOLATION

# The last, selftest, proves that the hardening checks fail when what they
# check breaks (the short variant of test/hardening/selftest.sh).
CHECKS=(multiclient check-marks check-wait chaos check-dump check-platform check-examples check-model check-crash check-sqlsmith
	check-fuzz check-sanitizers check-memory test/hardening/selftest.sh)

# Standalone checks: each starts its own cluster, prints one summary line
# and exits non-zero on failure.
for check in "${CHECKS[@]}"; do
	script=scripts/$check.sh
	[[ $check == */* ]] && script=$check check=$(basename "$check" .sh)
	echo "== $check"
	if bash "$script"; then count "$check" 1 0; else count "$check" 0 1; fi
done

echo
[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]}"
echo "test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
