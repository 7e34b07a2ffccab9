#!/usr/bin/env bash
# Installs what building, testing and the demo need, from Debian's packages.
# Does nothing when everything is there already.
#   scripts/deps.sh [GROUP...]   groups: base (the default), package, citus
# `make demo` needs only base; `make test`, `make deb` and `make dist` also
# the package group (Debian packaging and PGXN); scripts/check-citus.sh the
# citus group (building Citus from its source).
set -euo pipefail

groups=("${@:-base}")
base=(
	make g++                   # build
	postgresql-15              # server: initdb, postgres, pg_ctl
	postgresql-client-15       # psql, pgbench
	postgresql-server-dev-15   # PGXS, pg_regress, pg_isolation_regress
	cmake libgtest-dev         # unit tests of the C++ core
	python3 python3-psycopg2   # the chaos run and the model test (Debian's /usr/bin/python3)
	clang libclang-rt-14-dev   # libFuzzer harness of the core (check-fuzz)
	sqlsmith                   # SQL fuzzing (check-sqlsmith)
	default-jdk-headless libpostgresql-jdbc-java # the platform's statements through JDBC (check-platform), the Java example worker
	binutils                   # objdump (check-sanitizers: palloc goes through the ASan wrapper)
	python3-psycopg            # the Python example worker (psycopg 3) and its check (check-examples)
	nodejs npm                 # the Node.js example worker (pg from npm, `npm ci` in check-examples)
	graphviz                   # dot: docs/states.svg (make docs, check-docs)
	prometheus-postgres-exporter python3-yaml # the real exporter with docs/postgres_exporter.yml (check-exporter)
	libipc-run-perl            # IPC::Run for PostgreSQL's TAP framework (check-maintenance)
	postgresql-15-cron         # pg_cron, the alternative to the maintenance worker (check-maintenance)
)
package=(
	dpkg-dev debhelper         # dpkg-buildpackage, dh (make deb, check-package)
	postgresql-server-dev-all  # pg_buildext, the dh pgxs_loop sequence, pg_virtualenv
	git                        # git archive (make dist, the previous release's package)
	pgxnclient                 # pgxn: reads and checks the PGXN archive (check-package)
)
citus=(
	liblz4-dev libzstd-dev     # Citus's build, from its source in ../shared/citus (make test-citus)
	libkrb5-dev                # gssapi/gssapi.h, for Citus's build
)
packages=()
for g in "${groups[@]}"; do
	case "$g" in
	base) packages+=("${base[@]}") ;;
	package) packages+=("${package[@]}") ;;
	citus) packages+=("${citus[@]}") ;;
	*) echo "deps: unknown group $g" >&2; exit 2 ;;
	esac
done
missing=()
for p in "${packages[@]}"; do
	case "$p" in \#*) continue ;; esac
	# A Node.js from another source (NodeSource's nodejs) brings its own npm.
	[ "$p" = npm ] && command -v npm >/dev/null && continue
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# prometheus-postgres-exporter's maintainer scripts would start its service
# (port 9187): unless the machine has a policy of its own, a policy-rc.d
# refuses that one service for the time of the install (check-exporter runs
# the exporter itself, on a port of its own).
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ " ${missing[*]} " == *" prometheus-postgres-exporter "* ]] && [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# scripts/deps.sh: no service of prometheus-postgres-exporter\n[ "$1" = prometheus-postgres-exporter ] && exit 101\nexit 0\n' |
		$SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	made_policy=1
fi
rc=0
{ $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } || rc=$?
[ "$made_policy" = 0 ] || $SUDO rm -f "$policy"
exit "$rc"
