#!/usr/bin/env bash
# The seed compatibility test (issue 8): the compute platform library's own
# statements (VEuPathDB/lib-compute-platform, intern/db/queries/, the commit
# named in the program's header), replayed through JDBC in the platform's
# order by test/compat/PlatformCompat.java, one client and then
# PLATFORM_CLIENTS (6) at once, on a throwaway cluster. Needs Debian's
# default-jdk-headless and libpostgresql-jdbc-java (scripts/deps.sh); plain
# javac, no build tool. PgJDBC speaks TCP, so this cluster listens on
# 127.0.0.1 (the first free port from PLATFORM_PORT, 5446).
#
# PLATFORM_LIB_GIT=/path/to/lib-compute-platform/.git (optional) also
# compares the program's statements with the library's, byte for byte, at
# the commit the program names.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

jar=/usr/share/java/postgresql.jar
command -v javac >/dev/null && [ -f "$jar" ] ||
	{ echo "check-platform: FAIL: needs javac and $jar (bash scripts/deps.sh)"; exit 1; }

dir=$(scratch_dir platform)
keep=0
cleanup() {
	pg_stop "$dir" immediate
	if [ "$keep" = 1 ]; then echo "check-platform: outputs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

mkdir "$dir/classes"
javac -Xlint:all -Werror -d "$dir/classes" test/compat/PlatformCompat.java ||
	{ keep=1; echo "check-platform: FAIL: the program does not compile"; exit 1; }
java_cmd=(java -cp "$dir/classes:$jar" -Dclients="${PLATFORM_CLIENTS:-6}" PlatformCompat)

if [ -n "${PLATFORM_LIB_GIT:-}" ]; then
	commit=$(sed -n 's/.* at commit \([0-9a-f]\{40\}\).*/\1/p' test/compat/PlatformCompat.java | head -1)
	"${java_cmd[@]}" --print-sql >"$dir/ours.sql"
	PLATFORM_LIB_GIT=$PLATFORM_LIB_GIT COMMIT=$commit /usr/bin/python3 - "$dir/ours.sql" <<'PY' || exit 1
import os, re, subprocess, sys
git, commit = os.environ["PLATFORM_LIB_GIT"], os.environ["COMMIT"]
base = "lib/src/main/kotlin/org/veupathdb/lib/compute/platform/intern/db/queries/"
files = subprocess.run(["git", "--git-dir", git, "ls-tree", "-r", "--name-only", commit, base],
                       check=True, capture_output=True, text=True).stdout.split()
theirs = {}
for f in files:
    text = subprocess.run(["git", "--git-dir", git, "show", commit + ":" + f],
                          check=True, capture_output=True, text=True).stdout
    for m in re.finditer(r'const val SQL = """(.*?)"""', text, re.S):
        theirs[f[len(base):]] = m.group(1)
ours = {}
for chunk in open(sys.argv[1]).read().split("\0\n"):
    if chunk:
        name, sql = chunk.split("\n", 1)
        ours[name[3:]] = sql
bad = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
print(f"check-platform: {len(ours)} statements compared with the library at {commit[:12]}:",
      "identical" if not bad else f"DIFFER: {bad}")
sys.exit(1 if bad else 0)
PY
fi

port=${PLATFORM_PORT:-5446}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
pg_start "$dir" "$port" listen_addresses=127.0.0.1 || { keep=1; exit 1; }
# The platform connects as an ordinary role with the grants the README's
# section on the platform lists (a table it has no privilege on is not in
# information_schema.tables, so its migrator would not see compute.meta).
psql -qAtX -v ON_ERROR_STOP=1 -c 'CREATE DATABASE platform' -d postgres >/dev/null &&
	psql -qAtX -v ON_ERROR_STOP=1 -d platform >/dev/null <<'SQL' || { keep=1; echo "check-platform: FAIL: CREATE EXTENSION compute"; exit 1; }
CREATE EXTENSION compute;
CREATE ROLE platform LOGIN;
GRANT USAGE ON SCHEMA compute TO platform;
GRANT SELECT, INSERT, UPDATE, DELETE ON compute.jobs TO platform;
GRANT SELECT ON compute.meta TO platform;
SQL
version=$(psql -qAtX -d platform -c "SELECT extversion FROM pg_extension WHERE extname = 'compute'")
echo "check-platform: compute $version on 127.0.0.1:$port"

timeout "${PLATFORM_TIMEOUT:-300}" "${java_cmd[@]}" "jdbc:postgresql://127.0.0.1:$port/platform?user=platform" |
	tee "$dir/run.log"
rc=${PIPESTATUS[0]}
if grep -qE 'terminated by signal|server process .* was terminated|PANIC|TRAP:' "$dir/server.log"; then
	echo "check-platform: FAIL: the server log reports a crash"
	rc=1
fi
if [ "$rc" -ne 0 ]; then
	keep=1
	[ "$rc" -eq 124 ] && echo "check-platform: FAIL: timed out"
	grep -q '^platform: ' "$dir/run.log" || echo "platform: FAILED (exit $rc) before the summary"
	exit 1
fi
