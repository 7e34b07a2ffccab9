#!/usr/bin/python3
"""Server crashes under a multi-client load (scripts/check-crash.sh).

pgbench clients (CRASH_CLIENTS, 8) grab and finish CRASH_JOBS jobs (20,000)
with test/hardening/crash_worker.sql: grab one job (its own transaction),
then in one transaction finish it and log the finish (finished, grabbed,
output) into finish_log. Meanwhile crashes are injected, one per round of
load, in a seeded order:

  grab       kill -9 of a backend that pg_stat_activity shows active in
             compute.grab_job(...)
  finish     kill -9 of a backend active in compute.finish_job(...)
  uncommitted  kill -9 of a backend idle in the finish transaction, after
             finish_job and before COMMIT
  immediate  pg_ctl -m immediate stop of the whole server, then a restart

A killed backend makes the postmaster restart every backend (crash
recovery); an immediate stop does the same at the next start. pgbench
clients abort when their connection dies; the round ends, and the next one
starts once the server accepts connections again.

Right before each crash the complete jobs and their log rows are read (all
committed). After recovery:

* every job complete before the crash is still complete, exactly as it was
  (finished, grabbed, output_files), with exactly one log row;
* every log row's job is complete with the logged finished/grabbed/output;
  no job is complete without a log row, none has two;
* every row obeys the timestamp rules; nothing is failed or expired; the
  table still has all CRASH_JOBS jobs;
* the jobs left in-progress by killed clients are brought back by
  compute.requeue_stale('0 seconds') (it returns exactly how many there were,
  and none is left in-progress).

After the last crash the load runs until every job is complete; then the
same checks hold for all CRASH_JOBS jobs. Exit status 0 when all hold.

Environment: CRASH_DIR (the cluster's directory: data/ and the socket, as
made by scripts/lib.sh pg_start), CRASH_SEED, CRASH_JOBS, CRASH_CLIENTS,
CRASH_PLAN (comma-separated kinds, in that order; else CRASH_EACH of each
kind, 3, shuffled), CRASH_MUTATE
(lost-row: after a crash, one committed finish is undone behind the check's
back, as if its commit was lost; no-requeue: requeue_stale is never called)
to show that the check fails.
"""

import os
import random
import signal
import subprocess
import sys
import time

try:
    import psycopg2
except ImportError:
    sys.exit("crash.py: python3-psycopg2 is missing (apt-get install python3-psycopg2)")

DIR = os.environ["CRASH_DIR"]
DATA = os.path.join(DIR, "data")
SEED = int(os.environ.get("CRASH_SEED") or random.SystemRandom().randrange(1, 2**31))
JOBS = int(os.environ.get("CRASH_JOBS", "20000"))
CLIENTS = int(os.environ.get("CRASH_CLIENTS", "8"))
MUTATE = os.environ.get("CRASH_MUTATE", "")
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crash_worker.sql")
rng = random.Random(SEED)
KINDS = ("grab", "finish", "uncommitted", "immediate")
EACH = int(os.environ.get("CRASH_EACH") or 3)
PLAN = [k for k in os.environ.get("CRASH_PLAN", "").split(",") if k] or list(KINDS) * EACH
for k in PLAN:
    if k not in KINDS:
        sys.exit("crash.py: unknown crash kind %r (one of %s)" % (k, ", ".join(KINDS)))
if not os.environ.get("CRASH_PLAN"):
    rng.shuffle(PLAN)

ACTIVITY = {
    "grab": "state = 'active' AND query LIKE '%compute.grab_job(%'",
    "finish": "state = 'active' AND query LIKE '%compute.finish_job(%'",
    "uncommitted": "state = 'idle in transaction' AND query LIKE '%compute.finish_job(%'",
}


class Failed(Exception):
    pass


def as_pg(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + cmd
    return cmd


def connect(wait=60.0):
    """A connection, waiting while the server restarts or recovers."""
    end = time.time() + wait
    while True:
        try:
            conn = psycopg2.connect("")
            conn.autocommit = True
            return conn
        except psycopg2.OperationalError:
            if time.time() > end:
                raise Failed("the server did not accept connections within %.0f s" % wait)
            time.sleep(0.05)


def query(sql, params=None, conn=None):
    own = conn is None
    conn = conn or connect()
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else cur.rowcount
    finally:
        if own:
            conn.close()


def postmaster_pid():
    try:
        with open(os.path.join(DATA, "postmaster.pid")) as f:
            return int(f.readline())
    except (OSError, ValueError):
        return None


def complete_jobs(conn):
    """The complete jobs and their log rows: {job_id: (finished, grabbed, output_files, log rows)}."""
    rows = query("SELECT j.job_id, j.finished, j.grabbed, j.output_files, coalesce(l.n, 0)"
                 " FROM compute.jobs j LEFT JOIN (SELECT job_id, count(*) n FROM finish_log GROUP BY 1) l"
                 " USING (job_id) WHERE j.status = 'complete'", conn=conn)
    return {bytes(r[0]): tuple(r[1:]) for r in rows}


def verify(before, when):
    """The checks after a recovery (or at the end). Returns (in-progress, complete)."""
    conn = connect()
    try:
        problems = []
        after = complete_jobs(conn)
        lost = [j for j in before if j not in after]
        changed = [j for j in before if j in after and after[j][:3] != before[j][:3]]
        if lost:
            problems.append("%d job(s) complete before the crash are not complete now (e.g. %s)" % (
                len(lost), lost[0].hex()))
        if changed:
            j = changed[0]
            problems.append("%d complete job(s) changed across the crash (e.g. %s: %s -> %s)" % (
                len(changed), j.hex(), before[j][:3], after[j][:3]))
        (total, bad_status, bad_rules, log_rows, log_distinct, log_orphans, log_mismatch, unlogged, multi,
         in_progress, complete) = query("""
            SELECT (SELECT count(*) FROM compute.jobs),
                   (SELECT count(*) FROM compute.jobs WHERE status NOT IN ('queued', 'in-progress', 'complete')),
                   (SELECT count(*) FROM compute.jobs WHERE NOT (
                        (status <> 'queued' OR (grabbed IS NULL AND finished IS NULL AND output_files IS NULL))
                        AND (status <> 'in-progress' OR grabbed IS NOT NULL)
                        AND (status <> 'complete' OR finished IS NOT NULL))),
                   (SELECT count(*) FROM finish_log),
                   (SELECT count(DISTINCT job_id) FROM finish_log),
                   (SELECT count(*) FROM finish_log l LEFT JOIN compute.jobs j USING (job_id)
                     WHERE j.status IS DISTINCT FROM 'complete'),
                   (SELECT count(*) FROM finish_log l JOIN compute.jobs j USING (job_id)
                     WHERE j.status = 'complete' AND ((j.finished, j.grabbed) IS DISTINCT FROM (l.finished, l.grabbed)
                        OR j.output_files IS DISTINCT FROM ARRAY['out-' || encode(j.job_id, 'hex')]::varchar[])),
                   (SELECT count(*) FROM compute.jobs j WHERE status = 'complete'
                     AND NOT EXISTS (SELECT FROM finish_log l WHERE l.job_id = j.job_id)),
                   (SELECT count(*) FROM (SELECT job_id FROM finish_log GROUP BY 1 HAVING count(*) > 1) d),
                   (SELECT count(*) FROM compute.jobs WHERE status = 'in-progress'),
                   (SELECT count(*) FROM compute.jobs WHERE status = 'complete')
            """, conn=conn)[0]
        if total != JOBS:
            problems.append("%d jobs in the table, not %d" % (total, JOBS))
        if bad_status:
            problems.append("%d job(s) failed or expired (nothing here fails or expires a job)" % bad_status)
        if bad_rules:
            problems.append("%d row(s) break the timestamp rules" % bad_rules)
        if log_orphans:
            problems.append("%d finish_log row(s) whose job is not complete" % log_orphans)
        if log_mismatch:
            problems.append("%d complete job(s) differ from what their finish transaction logged" % log_mismatch)
        if unlogged:
            problems.append("%d job(s) complete without a finish_log row" % unlogged)
        if multi or log_rows != log_distinct:
            problems.append("%d job(s) finished more than once (%d log rows, %d distinct)" % (
                multi, log_rows, log_distinct))
        if problems:
            raise Failed("%s: %s" % (when, "; ".join(problems)))
        return in_progress, complete
    finally:
        conn.close()


def requeue(stuck):
    if MUTATE == "no-requeue":
        return 0
    n = query("SELECT compute.requeue_stale('0 seconds')")[0][0]
    left = query("SELECT count(*) FROM compute.jobs WHERE status = 'in-progress'")[0][0]
    if n != stuck or left != 0:
        raise Failed("requeue_stale('0 seconds') requeued %d of %d stuck job(s); %d left in-progress" % (n, stuck, left))
    return n


def start_load(per_client, round_no):
    log = open(os.path.join(DIR, "pgbench.%d.log" % round_no), "w")
    proc = subprocess.Popen(["pgbench", "-n", "-M", "extended", "-c", str(CLIENTS), "-j", "2", "-t", str(per_client),
                             "-f", WORKER], stdout=log, stderr=subprocess.STDOUT)
    return proc, log.name


def load_errors(path):
    """Errors in a pgbench log other than lost connections and recovery."""
    bad = []
    with open(path, errors="replace") as f:
        for line in f:
            if "aborted in command" in line and "ERROR:" in line:
                bad.append(line.strip())
    return bad


def find_victim(conn, kind, timeout=5.0):
    end = time.time() + timeout
    cur = conn.cursor()
    while time.time() < end:
        cur.execute("SELECT pid, state, left(query, 120) FROM pg_stat_activity"
                    " WHERE application_name = 'pgbench' AND " + ACTIVITY[kind] + " LIMIT 1")
        row = cur.fetchone()
        if row:
            return row
        time.sleep(0.0005)
    return None


def inject(kind, stats):
    """Crash the server the way `kind` says; returns a description."""
    conn = connect()
    try:
        if kind == "immediate":
            before = complete_jobs(conn)
            conn.close()
            subprocess.run(as_pg(["pg_ctl", "-D", DATA, "-m", "immediate", "-w", "stop"]), check=True,
                           stdout=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.1, 0.5))
            # pg_ctl restart starts the stopped server with its last options.
            subprocess.run(as_pg(["pg_ctl", "-D", DATA, "-l", os.path.join(DIR, "server.log"), "-w", "restart"]),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stats["immediate"] += 1
            return before, "pg_ctl -m immediate stop, restart"
        # Read the committed state first (a lower bound of what the crash
        # must keep), then kill as soon as a victim shows up.
        before = complete_jobs(conn)
        end = time.time() + 5
        while time.time() < end:
            victim = find_victim(conn, kind, timeout=end - time.time())
            if victim is None:
                break
            try:
                os.kill(victim[0], signal.SIGKILL)
            except ProcessLookupError:
                continue  # its client had just ended
            stats[kind] += 1
            return before, "kill -9 %d (%s: %s)" % (victim[0], victim[1], victim[2])
        stats["missed " + kind] += 1
        return None, "no backend %s found within 5 s" % ACTIVITY[kind]
    finally:
        if not conn.closed:
            conn.close()


def main():
    print("crash: seed %d, %d jobs, %d clients, plan %s%s" % (SEED, JOBS, CLIENTS, ",".join(PLAN),
                                                           ", MUTATION " + MUTATE if MUTATE else ""), flush=True)
    stats = {k: 0 for k in KINDS}
    stats.update({"missed " + k: 0 for k in KINDS})
    start = time.time()
    requeued = 0
    checks = 0
    rounds = 0
    aborted_rounds = 0
    plan = list(PLAN)
    try:
        while True:
            in_progress, complete = verify({}, "before round %d" % (rounds + 1))
            left = JOBS - complete
            if left == 0:
                break
            if rounds > len(PLAN) + 30:
                raise Failed("the load did not finish: %d job(s) left after %d rounds" % (left, rounds))
            rounds += 1
            per_client = left // CLIENTS + 50
            pm = postmaster_pid()
            proc, log = start_load(per_client, rounds)
            if plan:
                kind = plan.pop(0)
                time.sleep(rng.uniform(0.02, 0.15))
                if proc.poll() is not None:
                    plan.insert(0, kind)  # the load ended first
                else:
                    before, what = inject(kind, stats)
                    proc.wait()
                    if before is None:
                        print("crash: round %d: %s" % (rounds, what), flush=True)
                    else:
                        if MUTATE == "lost-row" and before:
                            # Simulate a lost commit: one finish transaction undone.
                            lost = psycopg2.Binary(next(iter(before)))
                            query("DELETE FROM finish_log WHERE job_id = %s", (lost,))
                            query("UPDATE compute.jobs SET status = 'queued' WHERE job_id = %s", (lost,))
                        in_progress, complete = verify(before, "after %s" % what)
                        checks += 1
                        n = requeue(in_progress)
                        requeued += n
                        print("crash: round %d: %s; recovered (postmaster %s -> %s): %d complete before, %d now,"
                              " %d stuck in-progress requeued" % (rounds, what, pm, postmaster_pid(), len(before),
                                                                    complete, n), flush=True)
            proc.wait()
            if proc.returncode != 0:
                aborted_rounds += 1
            errors = load_errors(log)
            if errors:
                raise Failed("a pgbench client hit an error that is not a lost connection: %s (%d such)" % (
                    errors[0], len(errors)))
            in_progress, complete = verify({}, "after round %d" % rounds)
            if in_progress:
                n = requeue(in_progress)
                requeued += n
        final_in_progress, final_complete = verify({}, "at the end")
    except Failed as e:
        print("crash: FAIL: %s" % e)
        print("crash: FAILED (seed %d): crashes injected: %s" % (SEED, stats))
        return 1
    crashes = sum(stats[k] for k in KINDS)
    if crashes == 0:
        print("crash: FAILED (seed %d): no crash could be injected: %s" % (SEED, stats))
        return 1
    print("crash: passed (seed %d): %d crashes injected (%s), all %d jobs complete exactly once and as committed,"
          " %d post-crash checks, %d stuck jobs requeued, %d rounds (%d ended by a crash), %.1f s" % (
              SEED, crashes, ", ".join("%s=%d" % (k, v) for k, v in stats.items() if v), final_complete, checks,
              requeued, rounds, aborted_rounds, time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
