#!/usr/bin/env bash
# compute on Citus (README, "Distributed mode"): a coordinator and two
# workers started on this machine by PostgreSQL's TAP framework
# (PostgreSQL::Test::Cluster), compute installed on all three and
# distributed by queue; test/citus/001_citus.pl says what is checked.
#
# Citus is not in Debian's archive: it is built from its source tarball,
# ../shared/citus/citus-13.2.2.tar.gz next to the checkout (CITUS_TARBALL),
# into a private installation under CITUS_CACHE (default
# /tmp/compute-citus): a copy of PG_CONFIG's PostgreSQL installation with
# compute and Citus added, never the system's. The build is kept there and
# reused (a second run takes no build). If PG_CONFIG's installation has
# Citus already (citus.control), that one is used, with the compute
# installed there. With neither, the check says "skipped" and passes, so
# that make test-citus passes on a machine without Citus.
#   bash scripts/check-citus.sh                      # prints one summary line
#   CITUS_KEEP=1 bash scripts/check-citus.sh         # keep the servers' logs
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

CITUS_VERSION=13.2.2
tarball=${CITUS_TARBALL:-../shared/citus/citus-$CITUS_VERSION.tar.gz}
cache=${CITUS_CACHE:-/tmp/compute-citus}
start=$(date +%s)

if [ -f "$($PG_CONFIG_BIN --sharedir)/extension/citus.control" ]; then
	pg_config=$PG_CONFIG_BIN
	echo "check-citus: using the Citus installed with $pg_config (and installing compute there, as make test does)"
	make -s install PG_CONFIG="$pg_config" >/dev/null
elif [ ! -f "$tarball" ]; then
	echo "check-citus: skipped (no Citus: not installed with $PG_CONFIG_BIN, and no source at $tarball)"
	exit 0
else
	[ -f compute.so ] || { echo "check-citus: build compute first (make)"; exit 1; }
	bash scripts/deps.sh citus
	src=$cache/citus-$CITUS_VERSION
	stamp=$src/.compute-built
	want="$(sha256sum "$tarball" | cut -d' ' -f1) $($PG_CONFIG_BIN --version)"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		echo "check-citus: building Citus $CITUS_VERSION from $tarball in $src (about 5-9 minutes on 2 cores)"
		rm -rf "$src"
		mkdir -p "$cache"
		tar -xzf "$tarball" -C "$cache"
		[ -d "$src" ] || { echo "check-citus: $tarball did not unpack to $src"; exit 1; }
		# PostgreSQL 15.20 exports have_createdb_privilege() from
		# commands/dbcommands.h; Citus 13.2.2 still defines its own for
		# PostgreSQL < 16, and the two clash: the server's is used instead.
		perl -0 -i -pe 's/static inline bool\s*\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n//s' \
			"$src/src/include/pg_version_compat.h"
		build_start=$(date +%s)
		# (No LLVM bitcode: nothing here needs Citus's code inlined by the JIT.)
		(cd "$src" && ./configure PG_CONFIG="$PG_CONFIG_BIN" --without-libcurl >"$cache/configure.log" 2>&1 &&
			make -j"$(nproc)" with_llvm=no >"$cache/make.log" 2>&1) || {
			tail -n 30 "$cache/configure.log" "$cache/make.log" 2>/dev/null
			echo "check-citus: FAILED to build Citus (logs in $cache)"
			exit 1
		}
		echo "$want" >"$stamp"
		echo "check-citus: built Citus in $(($(date +%s) - build_start)) s"
	fi
	# A fresh private installation each run: PostgreSQL's binaries and
	# files (linked), this tree's compute, the built Citus.
	inst=$cache/inst
	rm -rf "$inst"
	private_install "$inst" "$PWD" "$PWD/compute.so" >/dev/null
	pg_config=$inst$($PG_CONFIG_BIN --bindir)/pg_config
	make -C "$src" install-extension with_llvm=no PG_CONFIG="$pg_config" >"$cache/install.log" 2>&1 || {
		tail -n 30 "$cache/install.log"
		echo "check-citus: FAILED to install Citus into $inst"
		exit 1
	}
	chmod -R a+rX "$cache"
fi
PGBIN=$($pg_config --bindir)

perl_lib=$PGXS_LIB_DIR/test/perl
[ -f "$perl_lib/PostgreSQL/Test/Cluster.pm" ] || {
	echo "check-citus: no PostgreSQL::Test::Cluster in $perl_lib (postgresql-server-dev-15)"
	exit 1
}
perl -MIPC::Run -e 1 2>/dev/null || {
	echo "check-citus: no IPC::Run (apt-get install libipc-run-perl; scripts/deps.sh)"
	exit 1
}

dir=$(scratch_dir citus)
mkdir -p "$dir/t"
cp test/citus/*.pl "$dir/t/"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
set +e
(cd "$dir" && as_pg env PATH="$PGBIN:$PATH" PERL5LIB="$perl_lib" PG_REGRESS="$PG_REGRESS" TESTDIR="$dir" \
	${PG_TEST_TIMEOUT_DEFAULT:+PG_TEST_TIMEOUT_DEFAULT=$PG_TEST_TIMEOUT_DEFAULT} \
	${CITUS_JOBS:+CITUS_JOBS=$CITUS_JOBS} \
	prove -v t/*.pl) 2>&1 | tee "$dir/prove.log"
status=${PIPESTATUS[0]}
set -e

summary=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$dir/prove.log" | tail -1 | sed -E 's/^(Files=[0-9]+, Tests=[0-9]+).*/\1/')
if [ "$status" -eq 0 ] && grep -q '^All tests successful' "$dir/prove.log"; then
	[ -n "${CITUS_KEEP:-}" ] || rm -rf "$dir"
	echo "check-citus: passed (${summary:-no summary}) in $(($(date +%s) - start)) s"
	exit 0
fi
for f in "$dir"/tmp_check/log/*.log; do
	[ -f "$f" ] || continue
	echo "== the last lines of $f"
	tail -n 40 "$f"
done
echo "check-citus: FAILED (${summary:-prove did not finish}); logs kept in $dir/tmp_check/log"
exit 1
