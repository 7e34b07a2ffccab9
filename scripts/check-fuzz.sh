#!/usr/bin/env bash
# Input fuzzing of the C++ core: builds test/fuzz/core_fuzz.cpp with clang
# (-fsanitize=fuzzer,address,undefined) over src/core/*.cpp and runs libFuzzer
# for a bounded time, starting from the seed corpus test/fuzz/corpus/. The
# harness checks the core's parsing and validation against the contract
# (SPEC sections 3 and 5) on every input; a broken invariant, a sanitizer
# report, a crash, a leak or a hang fails the check and leaves a reproducer.
#
#   bash scripts/check-fuzz.sh                  60 s (CI)
#   FUZZ_SECONDS=3600 bash scripts/check-fuzz.sh
#   FUZZ_MERGE=1 bash scripts/check-fuzz.sh     afterwards, add the inputs
#                                               that reach new code to the
#                                               seed corpus (set cover)
#   BUILD_DIR=build/fuzz (default)
#
# A failure prints the reproducer's path and the command that replays it.
# Ends with the line "check-fuzz: passed|FAILED: N executions in S s, ...".
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
build_dir=${BUILD_DIR:-build/fuzz}
corpus=test/fuzz/corpus
dict=test/fuzz/core.dict

fail() {
	echo "check-fuzz: FAILED: $*"
	exit 1
}

# clang and its fuzzer runtime (Debian: clang, libclang-rt-N-dev).
apt_install() {
	echo "check-fuzz: installing $* with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq "$@" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}
CXX_FUZZ=${CXX_FUZZ:-clang++}
if ! command -v "$CXX_FUZZ" >/dev/null; then
	apt_install clang
fi
clang_major=$("$CXX_FUZZ" -dumpversion | cut -d. -f1)
if [ ! -f "$("$CXX_FUZZ" -print-runtime-dir)/libclang_rt.fuzzer-x86_64.a" ] &&
	[ ! -f "$("$CXX_FUZZ" -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then
	apt_install "libclang-rt-$clang_major-dev"
fi

mkdir -p "$build_dir"
bin=$build_dir/core_fuzz
echo "== check-fuzz: building $bin with $CXX_FUZZ $clang_major"
"$CXX_FUZZ" -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Wall -Wextra -Isrc test/fuzz/core_fuzz.cpp src/core/*.cpp -o "$bin"

work=$(mktemp -d "${TMPDIR:-/tmp}/compute-fuzz.XXXXXX")
mkdir "$work/corpus" "$work/artifacts"
seeds=$(find "$corpus" -type f | wc -l)
[ "$seeds" -gt 0 ] || fail "no seed corpus in $corpus"

# The first corpus directory receives new inputs: a scratch one, so that the
# committed seeds change only on request (FUZZ_MERGE=1). Every seed runs
# first; then mutation until the time is up. libFuzzer's own limits: 10 s per
# input (hang), 2 GB RSS, inputs up to 4 KB; leaks are reported (ASan).
echo "== check-fuzz: $seconds s from $seeds seeds (work dir $work)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rc=0
timeout --kill-after=30 $((seconds + 300)) "$bin" -max_total_time="$seconds" -print_final_stats=1 \
	-timeout=10 -rss_limit_mb=2048 -max_len=4096 -dict="$dict" -artifact_prefix="$work/artifacts/" \
	"$work/corpus" "$corpus" >"$work/fuzz.log" 2>&1 || rc=$?

fuzz_stat() { sed -n "s/^stat::$1: *//p" "$work/fuzz.log" | tail -1; }
execs=$(fuzz_stat number_of_executed_units)
per_sec=$(fuzz_stat average_exec_per_sec)
last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -1 || true)
cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
units=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
took=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$work/fuzz.log" | grep -oE '[0-9]+ second' | cut -d' ' -f1 || true)
artifacts=$(find "$work/artifacts" -type f | wc -l)

if [ "$rc" -ne 0 ] || [ "$artifacts" -gt 0 ] || [ -z "$execs" ]; then
	grep -E 'core_fuzz: invariant|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY|context:' \
		"$work/fuzz.log" | head -20 || true
	echo "-- last lines of $work/fuzz.log:"
	tail -n 30 "$work/fuzz.log"
	for a in "$work"/artifacts/*; do
		[ -f "$a" ] && echo "reproducer: $a (replay: $PWD/$bin $a)"
	done
	what=$(grep -m1 -oE 'core_fuzz: invariant failed at line [0-9]+: .*|SUMMARY: .*' "$work/fuzz.log" | cut -c1-200 || true)
	fail "libFuzzer exit $rc, ${execs:-?} executions, $artifacts reproducer(s) in $work/artifacts${what:+: $what}"
fi

if [ "${FUZZ_MERGE:-0}" = 1 ]; then
	before=$seeds
	"$bin" -set_cover_merge=1 -use_counters=0 "$corpus" "$work/corpus" >"$work/merge.log" 2>&1 ||
		{ tail "$work/merge.log"; fail "merging into $corpus"; }
	echo "check-fuzz: seed corpus $before -> $(find "$corpus" -type f | wc -l) files (git add $corpus)"
fi

rm -rf "$work"
echo "check-fuzz: passed: $execs executions in ${took:-$seconds} s ($per_sec/s), coverage $cov edges," \
	"$ft features, $seeds seeds -> $units corpus units, 0 crashes"
