#!/usr/bin/env bash
# Sanitizers, in two parts:
#
#  unit     the core's GoogleTest unit tests built with ASan+UBSan
#           (scripts/unit.sh with SANITIZE=1), UBSan halting on any report;
#  regress  the regression suite (the Makefile's REGRESS list, with test/sql
#           and expected/ as scripts/test.sh uses them) against a real server
#           that loads compute.so built with -fsanitize=address,undefined,
#           the sanitizer runtimes preloaded (LD_PRELOAD) into the postmaster
#           and so into every backend. Pass = the suite passes and the
#           sanitizers wrote no report.
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
# sanitizer build's path and libasan in that backend's /proc/self/maps.
#
#   bash scripts/check-sanitizers.sh                  unit + regress
#   SANITIZE_PARTS=regress bash scripts/check-sanitizers.sh
#   SANITIZE_LONG=1 bash scripts/check-sanitizers.sh  also the isolation specs
#                                                     on the sanitizer build
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
	local dir copy inst_bin asan_dir logs conf tests libasan libubsan
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
		print "PG_CXXFLAGS += " flags
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
	conf=$dir/sanitize.conf
	cat >"$conf" <<-EOF
		# check-sanitizers.sh: load compute only from the sanitizer build.
		dynamic_library_path = '$asan_dir'
	EOF
	logs=$dir/logs
	chown -R postgres: "$dir" 2>/dev/null || true
	chmod -R a+rX "$dir"
	local env=(env "LD_PRELOAD=$libasan:$dir/lib/libsanitizer_shim.so:$libubsan"
		"ASAN_OPTIONS=detect_leaks=0:log_path=$logs/sanitizer:detect_odr_violation=0"
		"UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=0:log_path=$logs/sanitizer")
	echo "runtimes: $libasan $libubsan; library: $asan_dir/compute.so; logs: $logs"

	# Proof that such a server runs the sanitizer build.
	local pdir=$dir/proof port=$((20000 + RANDOM % 20000)) maps probin
	mkdir -p "$pdir" && chown postgres: "$pdir"
	trap 'as_pg "$inst_bin/pg_ctl" -D "$pdir/data" -m immediate -w stop >/dev/null 2>&1' EXIT
	as_pg "$inst_bin/initdb" -D "$pdir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C \
		>"$pdir/initdb.log" 2>&1 || { cat "$pdir/initdb.log"; fail_part regress "initdb"; return; }
	cat "$conf" >>"$pdir/data/postgresql.conf"
	if ! as_pg_t 120 "${env[@]}" "$inst_bin/pg_ctl" -D "$pdir/data" -l "$pdir/server.log" -w \
		-o "-p $port -k $pdir -c listen_addresses=" start >/dev/null; then
		cat "$pdir/server.log"
		fail_part regress "the sanitizer server did not start"
		return
	fi
	maps=$("$inst_bin/psql" -qAtX -h "$pdir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-c 'CREATE EXTENSION compute' -c 'SELECT compute.expire()' -c "SELECT pg_read_file('/proc/self/maps')" 2>&1)
	probin=$("$inst_bin/psql" -qAtX -h "$pdir" -p "$port" -U postgres -d postgres -c \
		"SELECT string_agg(DISTINCT probin, ',') FROM pg_proc WHERE pronamespace = 'compute'::regnamespace AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')" 2>&1)
	as_pg "$inst_bin/pg_ctl" -D "$pdir/data" -m fast -w stop >/dev/null 2>&1
	trap - EXIT
	if ! grep -qF "$asan_dir/compute.so" <<<"$maps" || ! grep -q 'libasan' <<<"$maps" || [ "$probin" != compute ]; then
		echo "$maps" | grep -E 'compute|asan|ubsan|ERROR' | head
		fail_part regress "a backend did not map $asan_dir/compute.so and libasan (probin: $probin)"
		return
	fi
	echo "proof: a backend maps $(grep -cF "$asan_dir/compute.so" <<<"$maps") segments of $asan_dir/compute.so" \
		"and $(basename "$libasan"); probin of compute's C functions: $probin"

	# The suites, as scripts/test.sh runs them, on a pg_regress temporary instance.
	tests=${REGRESS:-$(sed -n 's/^REGRESS *= *//p' "$copy/Makefile" | head -1)}
	tests=${tests:-install functions transitions errors}
	suite_san regress "$($PG_CONFIG_BIN --pgxs | xargs dirname | xargs dirname)/test/regress/pg_regress" sql $tests
	if [ "$long" = 1 ]; then
		local specs
		specs=$(cd "$copy/test/specs" && ls *.spec | sed 's/\.spec$//' | tr '\n' ' ')
		suite_san isolation "$($PG_CONFIG_BIN --pgxs | xargs dirname | xargs dirname)/test/isolation/pg_isolation_regress" \
			specs $specs
	fi

	# Any report at all fails the check.
	local reports
	reports=$(find "$logs" -type f -size +0 | sort)
	if [ -n "$reports" ]; then
		for r in $reports; do
			echo "--- $r"
			head -n 40 "$r"
		done
		fail_part sanitizer-reports "$(wc -l <<<"$reports") report file(s) in $logs"
	fi
	# A backend that a sanitizer stops exits with code 1 ("server process
	# (PID n) exited with exit code 1"); other processes' exits are normal.
	local crash='terminated by signal|server process \(PID [0-9]+\) exited with exit code'
	local pattern="$crash|runtime error:|(Address|Leak|UndefinedBehavior)Sanitizer"
	if grep -qE "$pattern" "$dir"/*/log/postmaster.log "$dir/proof/server.log" 2>/dev/null; then
		grep -hE -A12 "$pattern" "$dir"/*/log/postmaster.log "$dir/proof/server.log" | head -60
		fail_part server-log "$(cat "$dir"/*/log/postmaster.log "$dir/proof/server.log" | grep -cE 'runtime error:|ERROR: (Address|Leak)Sanitizer') sanitizer report(s) and $(cat "$dir"/*/log/postmaster.log "$dir/proof/server.log" | grep -cE "$crash") crash(es) in the server logs"
	fi
}

# suite_san NAME RUNNER SUBDIR TESTS...: one pg_regress-style suite with the
# sanitizer environment, inputs copied as scripts/test.sh does.
suite_san() {
	local name=$1 runner=$2 subdir=$3
	shift 3
	local out=$regress_dir/$name
	mkdir -p "$out/expected"
	cp -r "$regress_dir/src-copy/test/$subdir" "$out/$subdir"
	cp "$regress_dir"/src-copy/expected/*.out "$out/expected/"
	chown -R postgres: "$out" 2>/dev/null || true
	echo "== $name under the sanitizers: $*"
	(cd "$out" && as_pg_t 1200 "${env[@]}" "$runner" --temp-instance="$out/tmp" --temp-config="$conf" \
		--inputdir="$out" --outputdir="$out" --bindir="$inst_bin" "$@") >"$out/summary.txt" 2>&1
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
