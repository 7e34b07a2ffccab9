#!/usr/bin/env bash
# compute's metrics through the real Prometheus postgres_exporter (Debian's
# prometheus-postgres-exporter) with docs/postgres_exporter.yml, against a
# throwaway server with compute preloaded: test/exporter/check.py puts jobs
# in, reads /metrics and checks the values, and that the Grafana dashboard
# (docs/grafana-dashboard.json) uses only metrics the query file defines.
# The exporter connects as a role with only the grants the README gives it.
# Prints one summary line; exits non-zero on failure.
#
#   EXPORTER_QUERIES=file   another query file (default docs/postgres_exporter.yml)
#   EXPORTER_PORT=n         the exporter's HTTP port on 127.0.0.1 (default: a free one)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

exporter=/usr/bin/prometheus-postgres-exporter
queries=${EXPORTER_QUERIES:-docs/postgres_exporter.yml}

# The package (scripts/deps.sh installs it too). Its maintainer scripts
# would start its own service (port 9187, a DATA_SOURCE_NAME from
# /etc/default): a policy-rc.d that refuses starting it keeps apt from doing
# so, on a machine without one of its own (a container's usually refuses
# everything already).
if [ ! -x "$exporter" ]; then
	echo "check-exporter: installing prometheus-postgres-exporter"
	policy=/usr/sbin/policy-rc.d
	made_policy=0
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# scripts/check-exporter.sh: no service of prometheus-postgres-exporter\n[ "$1" = prometheus-postgres-exporter ] && exit 101\nexit 0\n' >"$policy"
		chmod 755 "$policy"
		made_policy=1
	fi
	rc=0
	apt_log=$(mktemp)
	{ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-postgres-exporter python3-yaml ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			prometheus-postgres-exporter python3-yaml; }; } >"$apt_log" 2>&1 || rc=$?
	[ "$made_policy" = 0 ] || rm -f "$policy"
	[ "$rc" = 0 ] || { cat "$apt_log"; echo "check-exporter: FAILED: cannot install prometheus-postgres-exporter"; exit 1; }
	rm -f "$apt_log"
fi
version=$("$exporter" --version 2>&1 | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -1)

dir=$(scratch_dir exporter)
exporter_pid=
cleanup() {
	[ -z "$exporter_pid" ] || kill "$exporter_pid" 2>/dev/null || true
	[ -z "$exporter_pid" ] || wait "$exporter_pid" 2>/dev/null || true
	pg_stop "$dir"
	if [ "${keep:-0}" = 1 ]; then echo "check-exporter: kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
pg_start "$dir" "${EXPORTER_PG_PORT:-5432}" shared_preload_libraries=compute

# The exporter's role: pg_monitor for the exporter's own metrics, and the
# grants of the README's "Operating" section for compute's.
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION compute;
CREATE ROLE compute_exporter LOGIN;
GRANT pg_monitor TO compute_exporter; -- its own metrics, and compute.stats
GRANT USAGE ON SCHEMA compute TO compute_exporter;
GRANT SELECT ON compute.queue_stats TO compute_exporter;
GRANT EXECUTE ON FUNCTION compute.health(interval, interval, interval, interval, interval, interval, float8, float8,
                                         bigint, bigint) TO compute_exporter;
SQL

port=${EXPORTER_PORT:-$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
DATA_SOURCE_NAME="host=$dir port=$PGPORT user=compute_exporter dbname=postgres sslmode=disable" \
	"$exporter" --extend.query-path="$queries" --web.listen-address="127.0.0.1:$port" --log.level=warn \
	>"$dir/exporter.log" 2>&1 &
exporter_pid=$!

rc=0
/usr/bin/python3 test/exporter/check.py "host=$dir port=$PGPORT user=postgres dbname=postgres" \
	"http://127.0.0.1:$port/metrics" "$queries" docs/grafana-dashboard.json >"$dir/check.log" 2>&1 || rc=$?
if ! kill -0 "$exporter_pid" 2>/dev/null; then
	echo "check-exporter: the exporter died:"
	cat "$dir/exporter.log"
	rc=1
fi
if [ "$rc" != 0 ]; then
	keep=1
	cat "$dir/check.log"
	echo "check-exporter: the exporter's log:"
	tail -20 "$dir/exporter.log"
	exit 1
fi
grep -v '^check-exporter: passed' "$dir/check.log" || true
echo "$(grep '^check-exporter: passed' "$dir/check.log") (prometheus-postgres-exporter $version)"
