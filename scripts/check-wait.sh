#!/usr/bin/env bash
# Waiting grabs (grab_job's wait, finish_and_grab's wait) against real
# servers: one with compute preloaded (waiters woken by commits) and one
# without (the documented fallback). See test/wait/wait_test.py.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

dir=$(scratch_dir wait)
trap 'pg_stop "$dir/pre"; pg_stop "$dir/un"; rm -rf "$dir"' EXIT
mkdir -p "$dir/pre" "$dir/un"
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pre" "$dir/un"
pg_start "$dir/pre" 5432 shared_preload_libraries=compute max_prepared_transactions=5
/usr/bin/python3 test/wait/wait_test.py preloaded
pg_start "$dir/un" 5433
/usr/bin/python3 test/wait/wait_test.py unpreloaded
echo "check-wait: passed"
