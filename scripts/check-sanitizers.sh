#!/usr/bin/env bash
# Sanitizers, in two parts:
#
#  unit     the core's GoogleTest unit tests built with ASan+UBSan
#           (scripts/unit.sh with SANITIZE=1), UBSan halting on any report;
#  regress  the regression suite (the Makefile's REGRESS list, with test/sql
#           and expected/ as scripts/test.sh uses them) and the isolation
#           specs (test/specs) against a real server that loads compute.so
#           built with -fsanitize=address,undefined, the sanitizer runtimes
#           preloaded (LD_PRELOAD) into the postmaster and so into every
#           backend. The server has compute in shared_preload_libraries, so
#           the queue marks (src/pg/marks.cpp) and the grab from a mark run
#           under the sanitizers too. Pass = the suites pass and the
#           sanitizers wrote no report.
#
# palloc'd memory: ASan sees only the 8 kB blocks that palloc carves up, so
# a write past a palloc'd chunk (palloc(20) written at byte 27) would go
# unseen, and Debian's server has no MEMORY_CONTEXT_CHECKING. The sanitizer
# build is compiled with -DCOMPUTE_ASAN_PALLOC (src/pg/asan_palloc.hpp):
# compute's own palloc()/palloc0() calls get a malloc'd block of their own
# whose bytes past the requested size are ASan-poisoned, so any access past
# the request is a report. The check proves it: the built compute.so calls
# palloc/palloc0 nowhere but through compute_asan_palloc.
#
# The server runs from a private copy of this machine's PostgreSQL 15 under
# the scratch directory (binaries copied, so that PostgreSQL finds its share
# directory next to them; libraries and share files linked), whose extension
# directory holds this tree's compute.control and sql/ scripts and whose
# $libdir holds no compute.so at all: dynamic_library_path points only at the
# directory of the sanitizer build, so every compute function that runs must
# run the sanitizer build. Nothing is installed; the installed extension (if
# any) is neither used nor touched. Before the suite, a backend of the same
# configuration proves it: CREATE EXTENSION, call a C function, and find the
# sanitizer build's path and libasan in that backend's /proc/self/maps and
# in the postmaster's (which loaded it from shared_preload_libraries), and
# see the grab set a queue mark in shared memory (compute._queue_marks()).
#
#   bash scripts/check-sanitizers.sh                  unit + regress (the
#                                                     regression suite and
#                                                     the isolation specs,
#                                                     preloaded)
#   SANITIZE_PARTS=regress bash scripts/check-sanitizers.sh
#   SANITIZE_LONG=1 bash scripts/check-sanitizers.sh  also both suites with
#                                                     the library loaded on
#                                                     demand (not preloaded)
#   KEEP=1  keep the scratch directory even when all passed
#
# Ends with the line "check-sanitizers: passed|FAILED: ...".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh

parts=${SANITIZE_PARTS:-unit regress}
long=${SANITIZE_LONG:-0}
san_flags="-fsanitize=address,undefined -fno-omit-frame-pointer"
start_s=$SECONDS
summary=()
failed=0

# as_pg with a time limit (a hung server must not hang the check).
as_pg_t() { # as_pg_t SECONDS COMMAND...
	local t=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		timeout --kill-after=30 "$t" runuser -u postgres -- "$@"
	else
		timeout --kill-after=30 "$t" "$@"
	fi
}

fail_part() { # fail_part PART WHY
	echo "check-sanitizers: $1: FAILED: $2"
	summary+=("$1 FAILED ($2)")
	failed=1
}

# --- unit: the core's unit tests under ASan+UBSan ------------------------------
run_unit() {
	echo "== check-sanitizers: unit tests under ASan+UBSan (build/unit-asan)"
	local log rc=0 line
	log=$(mktemp)
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1} \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		SANITIZE=1 BUILD_DIR=build/unit-asan bash scripts/unit.sh >"$log" 2>&1 || rc=$?
	line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
	if [ "$rc" -ne 0 ] || [ -z "$line" ] || grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$log"; then
		grep -E 'runtime error:|ERROR: (Address|Leak)Sanitizer|SUMMARY|Failed|\*\*\*' "$log" | head -30
		echo "-- last lines of the unit log ($log):"
		tail -n 30 "$log"
		fail_part unit "exit $rc, ${line:-no ctest summary}"
		return
	fi
	local total
	total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
	echo "$line"
	summary+=("unit: $total tests clean")
	rm -f "$log"
}

# --- regress: the regression suite on a sanitizer build of compute.so ----------


# The sanitizer runtimes of the compiler that PGXS builds with.
runtime() { # runtime NAME -> absolute path of libNAME.so
	local cxx path
	cxx=$(sed -n 's/^CXX *= *//p' "$($PG_CONFIG_BIN --pgxs | xargs dirname | xargs dirname)/Makefile.global" | head -1)
	for c in ${cxx:-g++} g++ gcc; do
		path=$($c -print-file-name="lib$1.so" 2>/dev/null) || continue
		[ -f "$path" ] && { readlink -f "$path"; return 0; }
	done
	return 1
}

run_regress() {
	echo "== check-sanitizers: regression suite on an ASan+UBSan build of compute.so"
	local dir copy asan_dir logs conf tests libasan libubsan
	dir=$(scratch_dir sanitize)
	regress_dir=$dir
	copy=$dir/src-copy
	mkdir -p "$copy" "$dir/lib" "$dir/logs"

	# A copy of the tree without build outputs, built there with the sanitizers.
	tar -C "$root" --exclude=./.git --exclude=./build --exclude='*.o' --exclude='*.d' --exclude='*.so' \
		--exclude='*.bc' -cf - . | tar -C "$copy" -xf -
	if ! grep -q '^include \$(PGXS)' "$copy/Makefile"; then
		fail_part regress "no 'include \$(PGXS)' line in the Makefile to add the sanitizer flags before"
		return
	fi
	awk -v flags="$san_flags" '/^include \$\(PGXS\)/ && !done {
		print "# check-sanitizers.sh: a sanitizer build (scratch copy only)"
		print "PG_CXXFLAGS += " flags " -DCOMPUTE_ASAN_PALLOC"
		print "PG_CFLAGS += " flags
		print "SHLIB_LINK += -fsanitize=address,undefined"
		done = 1
	} { print }' "$copy/Makefile" >"$copy/Makefile.san" && mv "$copy/Makefile.san" "$copy/Makefile"
	if ! make -C "$copy" -j2 >"$dir/build.log" 2>&1; then
		tail -n 40 "$dir/build.log"
		fail_part regress "the sanitizer build failed (log: $dir/build.log)"
		return
	fi
	local needed
	needed=$(ldd "$copy/compute.so" 2>&1)
	if ! grep -q -- '-fsanitize=address,undefined' "$dir/build.log" ||
		! grep -q libasan <<<"$needed" || ! grep -q libubsan <<<"$needed"; then
		fail_part regress "compute.so was not built with the sanitizers"
		return
	fi
	# Every palloc of compute's goes through the poisoning allocator.
	local calls direct
	calls=$(objdump -d --no-show-raw-insn "$copy/compute.so" 2>/dev/null | awk '
		/^[0-9a-f]+ <.*>:$/ { fn = $2 }
		/(call|jmp).*<(palloc|palloc0)@plt>/ { print "direct " fn }
		/(call|jmp).*<compute_asan_palloc(@plt)?>/ { print "wrapped " fn }')
	direct=$(grep -c '^direct' <<<"$calls")
	if [ "$direct" -ne 0 ] || ! grep -q '^wrapped' <<<"$calls"; then
		grep '^direct' <<<"$calls" | sort | uniq -c | head
		fail_part regress "compute.so calls palloc/palloc0 directly ($direct calls) or never through compute_asan_palloc"
		return
	fi
	echo "palloc redzones: $(grep -c '^wrapped' <<<"$calls") calls of compute_asan_palloc in" \
		"$(grep '^wrapped' <<<"$calls" | sort -u | wc -l) functions, 0 direct calls of palloc/palloc0"
	asan_dir=$dir/lib
	cp "$copy/compute.so" "$asan_dir/"

	inst_bin=$(private_install "$dir/inst" "$copy") || { fail_part regress "private install failed"; return; }
	libasan=$(runtime asan) && libubsan=$(runtime ubsan) || {
		fail_part regress "no libasan/libubsan runtime found (g++ -print-file-name)"
		return
	}
	# A small library preloaded between the two runtimes works around two
	# ways in which they and PostgreSQL get in each other's way:
	#  * The preloaded ASan runtime initializes lazily, at the first call it
	#    intercepts: a malloc() inside bindtextdomain(), which libgpg-error's
	#    constructor (postgres -> libsystemd -> libgcrypt) calls holding glibc's
	#    gettext lock. ASan's initialization calls dlsym("swift_demangle"),
	#    which fails, and dlerror() translates its message under that same
	#    lock, corrupting it: postgres then hangs in its own bindtextdomain().
	#    A swift_demangle stub (NULL: "not a Swift name") makes dlsym succeed.
	#  * UBSan initializes at its first report, in the backend, when
	#    PostgreSQL has long overwritten its environment (the process title),
	#    so UBSAN_OPTIONS is lost. __ubsan_default_options supplies them.
	# UBSan's reports go to the server log (its log_path is not honoured in
	# this setup: the setting reaches ASan's report file instead), so reports
	# are looked for in the log directory and in every server log.
	cat >"$dir/sanitizer_shim.c" <<-EOF
		#include <stddef.h>
		#include <stdint.h>
		char *swift_demangle(const char *name, size_t len, char *buf, size_t *buflen, uint32_t flags);
		char *swift_demangle(const char *name, size_t len, char *buf, size_t *buflen, uint32_t flags) {
			(void) name; (void) len; (void) buf; (void) buflen; (void) flags;
			return NULL;
		}
		const char *__ubsan_default_options(void);
		const char *__ubsan_default_options(void) {
			return "print_stacktrace=1:halt_on_error=0:log_path=$dir/logs/sanitizer";
		}
	EOF
	gcc -shared -fPIC -O2 -o "$dir/lib/libsanitizer_shim.so" "$dir/sanitizer_shim.c" || {
		fail_part regress "building the sanitizer shim"
		return
	}
	# Two configurations: the library loaded on demand, and preloaded
	# (found, like any library named without a path, in dynamic_library_path:
	# the sanitizer build).
	conf_plain=$dir/sanitize.conf
	cat >"$conf_plain" <<-EOF
		# check-sanitizers.sh: load compute only from the sanitizer build.
		dynamic_library_path = '$asan_dir'
	EOF
	conf=$dir/sanitize-preloaded.conf
	cp "$conf_plain" "$conf"
	# the suites' own settings (scripts/lib.sh), each path of the finishes
	echo "$SUITE_SETTINGS" >>"$conf_plain"
	echo "$SUITE_SETTINGS_PRELOADED" >>"$conf"
	logs=$dir/logs
	chown -R postgres: "$dir" 2>/dev/null || true
	chmod -R a+rX "$dir"
	local env=(env "LD_PRELOAD=$libasan:$dir/lib/libsanitizer_shim.so:$libubsan"
		"ASAN_OPTIONS=detect_leaks=0:log_path=$logs/sanitizer:detect_odr_violation=0"
		"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0:log_path=$logs/sanitizer")
	echo "runtimes: $libasan $libubsan; library: $asan_dir/compute.so; logs: $logs"

	# One server per configuration (initdb'd without the sanitizers: only the
	# server runs with them), on which the proof and then the suites run.
	started=()
	trap 'for d in "${started[@]}"; do as_pg "$inst_bin/pg_ctl" -D "$d/data" -m immediate -w stop >/dev/null 2>&1; done' EXIT

	# Proof that the preloaded server runs the sanitizer build.
	local pdir=$dir/preloaded maps probin
	san_server "$pdir" "$conf" || return
	local sql=("$inst_bin/psql" -qAtX -h "$pdir" -p "$sport" -U postgres -d postgres -v ON_ERROR_STOP=1)
	maps=$("${sql[@]}" -c 'CREATE EXTENSION compute' -c 'SELECT compute.expire()' \
		-c "SELECT pg_read_file('/proc/self/maps')" 2>&1)
	probin=$("${sql[@]}" -c \
		"SELECT string_agg(DISTINCT probin, ',') FROM pg_proc WHERE pronamespace = 'compute'::regnamespace AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')" 2>&1)
	# The postmaster loaded the library at start (shared_preload_libraries),
	# and a grab sets its queue's mark in shared memory.
	local pm_maps marks
	pm_maps=$(cat "/proc/$(head -n 1 "$pdir/data/postmaster.pid")/maps" 2>&1)
	marks=$("${sql[@]}" -c "SELECT count(*) FROM compute.submit_job('\\x00112233445566778899aabbccddeeff', 'proof', 'c', ARRAY['f'])" \
		-c "SELECT count(*) FROM compute.grab_job('proof', 1, interval '1 minute')" \
		-c "SELECT current_setting('shared_preload_libraries') || ' ' || count(*) FROM compute._queue_marks() WHERE queue = 'proof' AND valid" \
		-c 'DROP EXTENSION compute' 2>&1 | tail -n 1)
	if ! check_reports "$logs"; then
		server_log_reports
		return
	fi
	if ! grep -qF "$asan_dir/compute.so" <<<"$maps" || ! grep -q 'libasan' <<<"$maps" || [ "$probin" != compute ]; then
		echo "$maps" | grep -E 'compute|asan|ubsan|ERROR' | head
		fail_part regress "a backend did not map $asan_dir/compute.so and libasan (probin: $probin)"
		return
	fi
	if ! grep -qF "$asan_dir/compute.so" <<<"$pm_maps" || [ "$marks" != "compute 1" ]; then
		echo "$pm_maps" | grep -E 'compute|No such' | head
		fail_part regress "the postmaster did not preload $asan_dir/compute.so, or a grab set no queue mark ($marks)"
		return
	fi
	echo "proof: a backend maps $(grep -cF "$asan_dir/compute.so" <<<"$maps") segments of $asan_dir/compute.so" \
		"and $(basename "$libasan"), the postmaster $(grep -cF "$asan_dir/compute.so" <<<"$pm_maps")" \
		"(shared_preload_libraries); probin of compute's C functions: $probin; a grab set 1 valid queue mark"

	# The suites, with the inputs and expected outputs scripts/test.sh uses.
	tests=${REGRESS:-$(sed -n 's/^REGRESS *= *//p' "$copy/Makefile" | head -1)}
	tests=${tests:-install functions transitions errors}
	local pgxs_dir specs
	pgxs_dir=$($PG_CONFIG_BIN --pgxs | xargs dirname | xargs dirname)
	specs=$(cd "$copy/test/specs" && ls *.spec | sed 's/\.spec$//' | tr '\n' ' ')
	suite_san regress-preloaded 1 "$pgxs_dir/test/regress/pg_regress" sql $tests
	suite_san isolation-preloaded 1 "$pgxs_dir/test/isolation/pg_isolation_regress" specs $specs
	if [ "$long" = 1 ]; then
		san_server "$dir/on-demand" "$conf_plain" || return
		suite_san regress 0 "$pgxs_dir/test/regress/pg_regress" sql $tests
		suite_san isolation 0 "$pgxs_dir/test/isolation/pg_isolation_regress" specs $specs
	fi
	for d in "${started[@]}"; do
		as_pg "$inst_bin/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null 2>&1
	done
	trap - EXIT

	check_reports "$logs"
	server_log_reports
}

# server_log_reports: sanitizer reports and crashed backends in the servers'
# logs. A backend that a sanitizer stops exits with code 1 ("server process
# (PID n) exited with exit code 1"); other processes' exits are normal.
server_log_reports() {
	local crash='terminated by signal|server process \(PID [0-9]+\) exited with exit code'
	local pattern="$crash|runtime error:|(Address|Leak|UndefinedBehavior)Sanitizer"
	local server_logs=("$regress_dir"/*/server.log)
	if grep -qE "$pattern" "${server_logs[@]}" 2>/dev/null; then
		grep -hE -A12 "$pattern" "${server_logs[@]}" | head -60
		fail_part server-log "$(cat "${server_logs[@]}" | grep -cE 'runtime error:|ERROR: (Address|Leak)Sanitizer') sanitizer report(s) and $(cat "${server_logs[@]}" | grep -cE "$crash") crash(es) in the server logs"
	fi
}

# san_server DIR CONF: initdb DIR/data (without the sanitizers), append CONF
# to its configuration, start it with the sanitizer environment; sets $sport
# and $sdir (the server the next suites run on).
san_server() {
	local d=$1 c=$2
	sport=$((20000 + RANDOM % 20000))
	sdir=$d
	mkdir -p "$d" && chown postgres: "$d"
	as_pg "$inst_bin/initdb" -D "$d/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
		>"$d/initdb.log" 2>&1 || { cat "$d/initdb.log"; fail_part regress "initdb"; return 1; }
	cat "$c" >>"$d/data/postgresql.conf"
	started+=("$d")
	if ! as_pg_t 120 "${env[@]}" "$inst_bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w \
		-o "-p $sport -k $d -c listen_addresses=" start >/dev/null; then
		cat "$d/server.log"
		fail_part regress "the sanitizer server ($c) did not start"
		return 1
	fi
}

# check_reports LOGS: any sanitizer report at all fails the check (returns 1),
# its summary in the last line.
check_reports() {
	local reports r what
	reports=$(find "$1" -type f -size +0 | sort)
	[ -z "$reports" ] && return 0
	for r in $reports; do
		echo "--- $r"
		head -n 40 "$r"
	done
	what=$(grep -hE '^SUMMARY: ' $reports | sed 's/^SUMMARY: //' | sort | uniq -c | sed 's/^ *//' | head -3 | paste -sd';' -)
	fail_part sanitizer-reports "$(wc -l <<<"$reports") report file(s) in $1: ${what:-see above}"
	return 1
}

# suite_san NAME PRELOADED RUNNER SUBDIR TESTS...: one pg_regress-style suite
# with the sanitizer environment on the server last started (san_server),
# inputs and expected outputs as scripts/test.sh gives them.
suite_san() {
	local name=$1 preloaded=$2 runner=$3 subdir=$4
	shift 4
	local out=$regress_dir/$name
	mkdir -p "$out"
	cp -r "$regress_dir/src-copy/test/$subdir" "$out/$subdir"
	expected_outputs "$out/expected" "$preloaded" "$regress_dir/src-copy/expected" ||
		{ fail_part "$name" "expected outputs"; return; }
	chown -R postgres: "$out" 2>/dev/null || true
	echo "== $name under the sanitizers: $*"
	# A database of its own (--use-existing does not create it).
	local db=${name//-/_}
	"$inst_bin/psql" -qX -h "$sdir" -p "$sport" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE $db TEMPLATE template0" >"$out/createdb.log" 2>&1 ||
		{ cat "$out/createdb.log"; fail_part "$name" "CREATE DATABASE $db"; return; }
	(cd "$out" && as_pg_t 1200 "${env[@]}" "$runner" --use-existing --host="$sdir" --port="$sport" \
		--user=postgres --dbname="$db" --inputdir="$out" --outputdir="$out" --bindir="$inst_bin" "$@") \
		>"$out/summary.txt" 2>&1
	cat "$out/summary.txt" | grep -E '^(ok|not ok|test|     )|tests (passed|failed)|FAILED|failed' | head -60
	if grep -qE '^ *All [0-9]+ tests passed' "$out/summary.txt"; then
		summary+=("$name: $# tests passed")
	else
		[ -f "$out/regression.diffs" ] && head -c 20000 "$out/regression.diffs"
		fail_part "$name" "$(grep -cE '\.\.\. FAILED|failed \(ignored\)' "$out/summary.txt" || true) of $# failed (outputs in $out)"
	fi
}

for part in $parts; do
	case $part in
	unit) run_unit ;;
	regress) run_regress ;;
	*) fail_part "$part" "unknown part (SANITIZE_PARTS: unit regress)" ;;
	esac
done

took=$((SECONDS - start_s))
if [ "$failed" -eq 0 ]; then
	[ -n "${regress_dir:-}" ] && [ "${KEEP:-0}" != 1 ] && rm -rf "$regress_dir"
	echo "check-sanitizers: passed in ${took} s: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g'); 0 sanitizer reports"
	exit 0
fi
[ -n "${regress_dir:-}" ] && echo "check-sanitizers: outputs kept in $regress_dir"
echo "check-sanitizers: FAILED in ${took} s: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')"
exit 1
