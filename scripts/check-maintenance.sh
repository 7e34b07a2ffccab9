#!/usr/bin/env bash
# The maintenance background workers and the pg_cron alternative, on real
# servers started by PostgreSQL's TAP framework (PostgreSQL::Test::Cluster,
# from postgresql-server-dev-15; IPC::Run from libipc-run-perl), run with
# prove: test/t/001_maintenance.pl (compute preloaded, compute.databases),
# test/t/002_pg_cron.pl (Debian's postgresql-15-cron). The servers run as
# the postgres OS user when we are root, in a scratch directory, from the
# binaries of PG_CONFIG's installation (where compute is installed).
#   TAP_TESTS="001_maintenance.pl" bash scripts/check-maintenance.sh   # one file
# Prints one summary line; exits non-zero on failure (the logs are kept).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

perl_lib=$PGXS_LIB_DIR/test/perl
[ -f "$perl_lib/PostgreSQL/Test/Cluster.pm" ] || {
	echo "check-maintenance: no PostgreSQL::Test::Cluster in $perl_lib (postgresql-server-dev-15)"
	exit 1
}
perl -MIPC::Run -e 1 2>/dev/null || {
	echo "check-maintenance: no IPC::Run (apt-get install libipc-run-perl; scripts/deps.sh)"
	exit 1
}
[ -f "$($PG_CONFIG_BIN --pkglibdir)/pg_cron.so" ] || {
	echo "check-maintenance: no pg_cron.so in $($PG_CONFIG_BIN --pkglibdir) (apt-get install postgresql-15-cron; scripts/deps.sh)"
	exit 1
}

dir=$(scratch_dir maintenance)
mkdir -p "$dir/t"
cp test/t/*.pl "$dir/t/"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
tests=()
for t in ${TAP_TESTS:-$(cd test/t && ls *.pl)}; do tests+=("t/$t"); done

set +e
# PG_TEST_TIMEOUT_DEFAULT (the framework's deadline, 180 s) may be lowered
# to see a broken build fail sooner.
(cd "$dir" && as_pg env PATH="$PGBIN:$PATH" PERL5LIB="$perl_lib" PG_REGRESS="$PG_REGRESS" TESTDIR="$dir" \
	${PG_TEST_TIMEOUT_DEFAULT:+PG_TEST_TIMEOUT_DEFAULT=$PG_TEST_TIMEOUT_DEFAULT} \
	prove -v "${tests[@]}") 2>&1 | tee "$dir/prove.log"
status=${PIPESTATUS[0]}
set -e

summary=$(grep -E '^Files=[0-9]+, Tests=[0-9]+' "$dir/prove.log" | tail -1 | sed -E 's/^(Files=[0-9]+, Tests=[0-9]+).*/\1/')
if [ "$status" -eq 0 ] && grep -q '^All tests successful' "$dir/prove.log"; then
	rm -rf "$dir"
	echo "check-maintenance: passed (${summary:-no summary})"
	exit 0
fi
for f in "$dir"/tmp_check/log/*.log; do
	[ -f "$f" ] || continue
	echo "== the last lines of $f"
	tail -n 40 "$f"
done
echo "check-maintenance: FAILED (${summary:-prove did not finish}); logs kept in $dir/tmp_check/log"
exit 1
