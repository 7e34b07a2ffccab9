#!/usr/bin/env bash
# The mutation run: proves that the checks have teeth. Each mutant of
# test/mutants/mutants.txt is a deliberate one-line breakage of the source
# (a grab without SKIP LOCKED, a finish without the token check, ...) with
# the check that claims to catch it (one regression test, one isolation
# spec, a unit-test filter, or a scripts/check-*.sh). For each mutant, in a
# scratch copy of this tree: apply it, rebuild (make: only what the mutant
# changes is recompiled), install into a private installation (scripts/lib.sh private_install; the
# system's PostgreSQL is not touched), run its check, put the text back.
# The check must fail: KILLED; if it passes, SURVIVED.
#
# Before any mutant, every selected check runs once on the unmutated copy
# (the baseline) and must pass there: a check that fails anyway would
# "kill" every mutant and prove nothing. Every mutant of the list, run or
# not, must apply (its text found exactly once): the list cannot go stale
# silently. The run fails if a mutant survives, does not apply or build, or
# a baseline fails. Mutants marked "pending" (their check cannot kill them
# yet) are applied, not run, and listed.
#
# Which mutants run:
#   default          MUTANTS_TESTS (16) of the mutants whose check is a
#                    single test (regress, isolation, unit), and
#                    MUTANTS_SCRIPTS (1) of those whose check is a
#                    scripts/check-*.sh, each rotating through its list by a
#                    seed: MUTANTS_SEED, else the current git commit (its
#                    first 7 hex digits), else the day; printed, so that a
#                    run can be repeated (make test's share of the CI
#                    budget; every mutant is killed in MUTANTS_ALL=1 runs)
#   MUTANTS_ALL=1    all of them (the long variant)
#   MUTANTS=a,b      exactly the named ones
#   MUTANTS_PENDING=1   also the pending ones (their result does not count)
#
#   MUTANTS_LIST=file   another list (default test/mutants/mutants.txt)
#   MUTANTS_BASELINE=all (default) | tests (skip the baseline of the
#                    scripts/check-*.sh: scripts/test.sh runs them itself)
#   MUTANTS_TIMEOUT=seconds a check may take (1200); a check that hangs on a
#                    mutant is stopped (its process group) and counts as
#                    killing it (KILLED (timeout))
#   KEEP=1           keep the scratch directory (logs of every build and check)
#
# Ends with a table (mutant, check, result, seconds) and the line
# "check-mutants: passed|FAILED: ...".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh

list=${MUTANTS_LIST:-test/mutants/mutants.txt}
timeout_s=${MUTANTS_TIMEOUT:-1200}
start_s=$SECONDS
failed=0
fail() {
	echo "check-mutants: FAILED: $*"
	failed=1
}

# --- the list: every mutant must apply to this tree ----------------------------
entries=$(python3 test/mutants/mutants.py list "$list" "$root") || {
	echo "check-mutants: FAILED: the list $list does not apply to this tree (above)"
	exit 1
}
names=() pendings=() files=() checks=()
while IFS=$'\t' read -r name pending file check; do
	names+=("$name")
	pendings+=("$pending")
	files+=("$file")
	checks+=("$check")
done <<<"$entries"
echo "== check-mutants: ${#names[@]} mutants in $list, each applies to this tree"

# --- which to run ----------------------------------------------------------------
if [ -n "${MUTANTS_SEED:-}" ]; then
	seed=$MUTANTS_SEED seed_from="MUTANTS_SEED"
elif commit=$(git -C "$root" rev-parse --short=7 HEAD 2>/dev/null); then
	seed=$((16#$commit)) seed_from="commit $commit"
else
	seed=$(($(date +%s) / 86400)) seed_from="the day"
fi
scripted=() singles=()
for i in "${!names[@]}"; do
	[ "${pendings[$i]}" = 0 ] || continue
	if [[ ${checks[$i]} == script\ * ]]; then scripted+=("$i"); else singles+=("$i"); fi
done
# in_rotation I COUNT LIST...: whether mutant I is among COUNT consecutive
# entries of LIST from the seed's position.
in_rotation() {
	local i=$1 count=$2 k
	shift 2
	local list=("$@")
	for ((k = 0; k < count && k < ${#list[@]}; k++)); do
		[ "${list[$(((seed + k) % ${#list[@]}))]}" = "$i" ] && return 0
	done
	return 1
}
selected=()
for i in "${!names[@]}"; do
	run=0
	if [ -n "${MUTANTS:-}" ]; then
		[[ ",$MUTANTS," == *",${names[$i]},"* ]] && run=1
	elif [ "${pendings[$i]}" = 1 ]; then
		run=${MUTANTS_PENDING:-0}
	elif [ "${MUTANTS_ALL:-0}" = 1 ]; then
		run=1
	elif [[ ${checks[$i]} == script\ * ]]; then
		in_rotation "$i" "${MUTANTS_SCRIPTS:-1}" "${scripted[@]}" && run=1
	else
		in_rotation "$i" "${MUTANTS_TESTS:-16}" "${singles[@]}" && run=1
	fi
	[ "$run" = 1 ] && selected+=("$i")
done
if [ -n "${MUTANTS:-}" ]; then
	for want in ${MUTANTS//,/ }; do
		grep -qx -- "$want" <<<"$(printf '%s\n' "${names[@]}")" || fail "MUTANTS names no mutant $want"
	done
	echo "selected: MUTANTS=$MUTANTS"
elif [ "${MUTANTS_ALL:-0}" = 1 ]; then
	echo "selected: all (MUTANTS_ALL=1)"
else
	echo "selected: ${MUTANTS_TESTS:-16} of the ${#singles[@]} single-test mutants and ${MUTANTS_SCRIPTS:-1} of the" \
		"${#scripted[@]} scripts/check-*.sh mutants by seed $seed (from $seed_from; MUTANTS_SEED=$seed repeats it," \
		"MUTANTS_ALL=1 runs all)"
fi
[ ${#selected[@]} -gt 0 ] || { fail "no mutant selected"; exit 1; }

# --- the scratch copy, built and installed privately ---------------------------
scratch=$(scratch_dir mutants)
copy=$scratch/src
mkdir -p "$copy" "$scratch/logs" "$scratch/tmp"
chmod 755 "$scratch/tmp"
[ "$(id -u)" -eq 0 ] && chown postgres: "$scratch/tmp"
tar -C "$root" --exclude=./.git --exclude=./build --exclude='*.o' --exclude='*.d' --exclude='*.so' \
	--exclude='*.bc' --exclude=./results --exclude=./log --exclude=./tmp_check --exclude=./tmp_check_iso -cf - . |
	tar -C "$copy" -xf -
inst_bin=$(private_install "$scratch/inst" "$copy") || {
	echo "check-mutants: FAILED: private install in $scratch/inst"
	exit 1
}
inst_pg_config=$inst_bin/pg_config

# Interrupted: stop the running check (its process group) and its clusters.
check_pid=
stop_clusters() {
	local pidfile
	for pidfile in $(find "$scratch/tmp" -name postmaster.pid 2>/dev/null); do
		as_pg "$inst_bin/pg_ctl" -D "$(dirname "$pidfile")" -m immediate -w stop >/dev/null 2>&1
	done
}
trap '[ -n "$check_pid" ] && kill -TERM -- "-$check_pid" 2>/dev/null; stop_clusters; echo "check-mutants: interrupted (outputs in $scratch)"; exit 130' INT TERM

build() { # build LOG: make and install the copy into the private installation
	make -C "$copy" -j2 PG_CONFIG="$inst_pg_config" >"$1" 2>&1 &&
		make -C "$copy" install PG_CONFIG="$inst_pg_config" >>"$1" 2>&1
}
echo "== building the unmutated copy ($copy, installed into $scratch/inst)"
if ! build "$scratch/logs/build-base.log"; then
	tail -n 30 "$scratch/logs/build-base.log"
	echo "check-mutants: FAILED: the unmutated copy does not build (log: $scratch/logs/build-base.log)"
	exit 1
fi

# run_check LOG CHECK...: runs a check in the copy against the private
# installation; its exit status. Every cluster it starts lives under
# $scratch/tmp (TMPDIR) and is stopped afterwards, whatever happened.
run_check() {
	local log=$1 rc
	shift
	set -m # the check in a process group of its own, to stop it as a whole
	(
		cd "$copy" || exit 1
		unset PGBIN PGHOST PGPORT PGDATABASE PGUSER
		export PG_CONFIG=$inst_pg_config TMPDIR=$scratch/tmp
		# A step that waits longer than this is cancelled and the spec fails
		# (isolationtester's default is 360 s): a mutant that makes a session
		# block for good, such as a grab without SKIP LOCKED, costs seconds.
		export PGISOLATIONTIMEOUT=${PGISOLATIONTIMEOUT:-10}
		. scripts/lib.sh
		kind=$1
		shift
		case $kind in
		regress) run_suite mutant "$PG_REGRESS" sql "$SUITE_SETTINGS" install "$@" ;;
		regress-preloaded) run_suite mutant "$PG_REGRESS" sql "$SUITE_SETTINGS_PRELOADED" install "$@" ;;
		isolation) run_suite mutant "$PG_ISOLATION_REGRESS" specs "$SUITE_SETTINGS" "$@" ;;
		isolation-preloaded) run_suite mutant "$PG_ISOLATION_REGRESS" specs "$SUITE_SETTINGS_PRELOADED" "$@" ;;
		unit)
			cmake -S . -B build/unit-mutants >/dev/null && cmake --build build/unit-mutants -j2 >/dev/null &&
				ctest --test-dir build/unit-mutants -R "$1" --no-tests=error --output-on-failure
			;;
		script)
			script=$1
			shift
			env "$@" bash "scripts/$script"
			;;
		esac
	) >"$log" 2>&1 </dev/null &
	local pid=$! waited=0
	set +m
	check_pid=$pid
	while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$timeout_s" ]; do
		sleep 1
		waited=$((waited + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "check-mutants: timed out after $timeout_s s" >>"$log"
		kill -TERM -- "-$pid" 2>/dev/null
		sleep 5
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	wait "$pid"
	rc=$?
	check_pid=
	# Clusters left running (a killed or timed-out check), then the outputs
	# that a failing check keeps: the mutant's log says what failed.
	stop_clusters
	[ "${KEEP:-0}" = 1 ] || find "$scratch/tmp" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
	grep -q "check-mutants: timed out" "$log" && return 124
	return "$rc"
}

# --- the baseline: each selected check passes on the unmutated copy ------------
declare -A baseline_ok
echo "== baseline: each selected check on the unmutated copy"
for i in "${selected[@]}"; do
	check=${checks[$i]}
	[ -n "${baseline_ok[$check]:-}" ] && continue
	if [[ $check == script\ * ]] && [ "${MUTANTS_BASELINE:-all}" = tests ]; then
		baseline_ok[$check]=skipped
		continue
	fi
	t0=$SECONDS
	log=$scratch/logs/baseline-$(tr -c 'A-Za-z0-9_.-' _ <<<"$check").log
	read -ra words <<<"$check"
	if run_check "$log" "${words[@]}"; then
		baseline_ok[$check]=yes
		echo "baseline: $check: passes ($((SECONDS - t0)) s)"
	else
		baseline_ok[$check]=no
		tail -n 30 "$log"
		fail "baseline: $check fails on the unmutated copy ($((SECONDS - t0)) s; log: $log)"
	fi
done

# A snapshot of the built copy: after each mutant, the copy goes back to it
# with the old modification times, so that the next build recompiles only
# what the next mutant changes.
cp -a "$copy" "$scratch/pristine"

# --- the mutants ------------------------------------------------------------------
results=()
killed=0 survived=0 errors=0 pending_run=0
for i in "${selected[@]}"; do
	name=${names[$i]} check=${checks[$i]} pending=${pendings[$i]}
	file=${files[$i]}
	echo "== mutant $name ($file) -> $check"
	t0=$SECONDS
	result=
	if [ "${baseline_ok[$check]}" = no ]; then
		result="NOT RUN (check fails unmutated)"
	elif ! python3 test/mutants/mutants.py apply "$list" "$copy" "$name"; then
		result="DOES NOT APPLY"
	elif ! build "$scratch/logs/build-$name.log"; then
		tail -n 20 "$scratch/logs/build-$name.log"
		result="DOES NOT BUILD (log: $scratch/logs/build-$name.log)"
	else
		read -ra words <<<"$check"
		run_check "$scratch/logs/check-$name.log" "${words[@]}"
		case $? in
		0) result=SURVIVED ;;
		124) result="KILLED (timeout)" ;;
		*) result=KILLED ;;
		esac
	fi
	# The unmutated sources and build outputs back, with their old mtimes.
	cp -a "$scratch/pristine/." "$copy/"
	took=$((SECONDS - t0))
	if [ "$pending" = 1 ]; then
		pending_run=$((pending_run + 1))
		result="$result (pending: does not count)"
	else
		case $result in
		KILLED*) killed=$((killed + 1)) ;;
		SURVIVED)
			survived=$((survived + 1))
			tail -n 15 "$scratch/logs/check-$name.log"
			fail "$name survived $check (log: $scratch/logs/check-$name.log)"
			;;
		*) errors=$((errors + 1)) && fail "$name: $result" ;;
		esac
	fi
	echo "mutant $name: $result ($took s)"
	results+=("$(printf '%-32s %-52s %-9s %4s s%s' "$name" "$check" "${result%% (*}" "$took" \
		"$([ "$pending" = 1 ] && echo "  (pending)")")")
done

echo
printf '%-32s %-52s %-9s %6s\n' mutant check result time
printf '%s\n' "${results[@]}"
for i in "${!names[@]}"; do
	[ "${pendings[$i]}" = 1 ] && [[ " ${selected[*]} " != *" $i "* ]] &&
		printf '%-32s %-52s %-9s\n' "${names[$i]}" "${checks[$i]}" PENDING
done
took=$((SECONDS - start_s))
summary="$killed killed, $survived survived, $errors not run or broken of ${#selected[@]} run"
summary+=" ($pending_run of them pending) in $took s; ${#names[@]} mutants in the list, all apply"
if [ "$failed" -eq 0 ]; then
	[ "${KEEP:-0}" = 1 ] || rm -rf "$scratch"
	echo "check-mutants: passed: $summary"
	exit 0
fi
echo "check-mutants: outputs kept in $scratch"
echo "check-mutants: FAILED: $summary"
exit 1
