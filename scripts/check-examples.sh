#!/usr/bin/env bash
# The example workers (examples/<language>/) against a real server: one
# preloaded throwaway cluster listening on 127.0.0.1 (PgJDBC speaks TCP
# only), and for each language test/examples/check.py runs 4 copies of the
# worker on real jobs, kills one mid-job, terminates a backend, stops the
# rest with SIGTERM and checks the table. EXAMPLES=python,node (a subset);
# EXAMPLES_SEED replays a run. Prints a summary and a final line; exits
# non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

dir=$(scratch_dir examples)
keep=0
cleanup() {
	pg_stop "$dir" immediate
	if [ "$keep" = 1 ]; then echo "check-examples: outputs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

port=${EXAMPLES_PORT:-5450}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
pg_start "$dir" "$port" listen_addresses=127.0.0.1 shared_preload_libraries=compute || { keep=1; exit 1; }
export EXAMPLES_LOGDIR=$dir/logs
mkdir "$EXAMPLES_LOGDIR"

# run LANGUAGE WORKER_COMMAND...: one language's check.
passed=()
failed=()
run() {
	local lang=$1
	shift
	echo "-- $lang: $*"
	if /usr/bin/python3 test/examples/check.py "$lang" "$@"; then passed+=("$lang"); else failed+=("$lang"); fi
}
want() { [[ ",${EXAMPLES:-python,node,java,bash}," == *",$1,"* ]]; }

want python && run python /usr/bin/python3 examples/python/worker.py
if want node; then
	if (cd examples/node && npm ci --no-audit --no-fund --loglevel=error >"$dir/npm.log" 2>&1); then
		run node node examples/node/worker.js
	else
		cat "$dir/npm.log"
		echo "check-examples: node: npm ci failed"
		failed+=(node)
	fi
fi
if want java; then
	jar=/usr/share/java/postgresql.jar
	mkdir -p "$dir/classes"
	if command -v javac >/dev/null && [ -f "$jar" ] && javac -Xlint:all -Werror -d "$dir/classes" examples/java/Worker.java; then
		run java java -cp "$dir/classes:$jar" Worker
	else
		echo "check-examples: java: needs javac and $jar (bash scripts/deps.sh), and Worker.java must compile"
		failed+=(java)
	fi
fi
want bash && run bash bash examples/bash/worker.sh

if grep -qE 'terminated by signal|PANIC|TRAP:' "$dir/server.log"; then
	echo "check-examples: FAIL: the server log reports a crash"
	failed+=(server)
fi
[ ${#failed[@]} -gt 0 ] || [ -n "${EXAMPLES_KEEP:-}" ] && keep=1
echo "check-examples: ${#passed[@]} passed (${passed[*]}), ${#failed[@]} failed (${failed[*]})"
[ ${#failed[@]} -eq 0 ]
