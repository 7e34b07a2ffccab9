#!/bin/bash
# Instructions per job (callgrind): compute grab+finish vs the limit (two
# primary-key UPDATEs), each in single-user mode on the same data, N jobs
# minus none. Deterministic, unlike jobs/s. Usage: N=1000 bash bench/callgrind.sh
# CG_SETUP: SQL run on the loaded database first (the cost of an index, say:
# CG_SETUP='DROP INDEX compute.jobs_finished_idx'); CG_PORT: the port of the
# loading server (5499); CG_OPTIONS: settings of the measured server, e.g.
# CG_OPTIONS='-c compute.direct_path=off'.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
N=${N:-2000}
D=$(scratch_dir cg)
pg_start "$D" "${CG_PORT:-5499}" shared_preload_libraries=compute autovacuum=off >/dev/null
psql -qX -v ON_ERROR_STOP=1 -f bench/schema.sql >/dev/null
psql -qX -v ON_ERROR_STOP=1 -c "INSERT INTO compute.jobs (job_id, status, queue, created) SELECT decode(md5('job ' || i), 'hex'), 'queued', 'q', now() + i * interval '1 ms' FROM generate_series(1, 20000) i" \
  -c "INSERT INTO bench.jobs (job_id, status, queue, created) SELECT decode(md5('job ' || i), 'hex'), 'queued', 'q', now() + i * interval '1 ms' FROM generate_series(1, 20000) i" \
  -c "VACUUM ANALYZE" >/dev/null
[ -z "${CG_SETUP:-}" ] || psql -qX -v ON_ERROR_STOP=1 -c "$CG_SETUP" >/dev/null
pg_stop "$D"
mk() { # mk SYSTEM COUNT -> script
	local sys=$1 n=$2 i
	for ((i = 1; i <= n; i++)); do
		case $sys in
		compute) printf "BEGIN;\nSELECT count(compute.finish_job(job_id, 'complete')) FROM compute.grab_job('q');\nCOMMIT;\n" ;;
		limit) printf "BEGIN;\nUPDATE bench.jobs SET status = 'in-progress', grabbed = now() WHERE job_id = decode(md5('job %d'), 'hex');\nUPDATE bench.jobs SET status = 'complete', finished = now() WHERE job_id = decode(md5('job %d'), 'hex');\nCOMMIT;\n" $((i+5000)) $((i+5000)) ;;
		sql) printf "BEGIN;\nUPDATE bench.jobs SET status = 'complete', finished = now() WHERE job_id = (WITH c AS (UPDATE bench.jobs SET status = 'in-progress', grabbed = now() WHERE job_id = (SELECT job_id FROM bench.jobs WHERE queue = 'q' AND status = 'queued' ORDER BY created LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING job_id) SELECT job_id FROM c);\nCOMMIT;\n" ;;
		esac
	done
}
for sys in compute limit; do
	for n in 0 $N; do
		mk $sys $n > "$D/$sys.$n.sql"; chown postgres "$D/$sys.$n.sql"
		cp -a "$D/data" "$D/data.$sys.$n"
		as_pg valgrind --tool=callgrind --callgrind-out-file="$D/cg.$sys.$n" postgres --single -D "$D/data.$sys.$n" -c shared_preload_libraries=compute -c autovacuum=off ${CG_OPTIONS:-} postgres < "$D/$sys.$n.sql" > "$D/out.$sys.$n" 2>&1 || true
		ir=$(grep -m1 "^summary:" "$D/cg.$sys.$n" | awk '{print $2}')
		echo "$sys $n $ir"
		rm -rf "$D/data.$sys.$n"
	done
done | awk -v n=$N '{ir[$1" "$2]=$3; sys[$1]=1} END {for (s in sys) printf "%s: %.0f instructions per job\n", s, (ir[s" "n]-ir[s" 0"])/n}'
rm -rf "$D"
