"""The chaos run of issue 3: leases with fencing under killed workers.

W worker threads (each with its own connection, application_name
'chaos-worker-<i>') grab jobs of queue 'chaos' with a short lease, work a
random short time, sometimes heartbeat (a few long jobs live on heartbeats
past their first lease), sometimes stall past their lease (a stale worker:
half of them sleep lease + 0.05..0.5 s, half poll until their job was
requeued and grabbed again, so that their finish lands while the newer
attempt runs), and finish with their fencing token (the attempt) in a
transaction that also logs (job_id, attempt, worker) into finish_log, so the
log holds exactly the accepted finishes; a finish refused with 55000 is a
rejected stale finish (rolled back, the job dropped). A few poison jobs
"crash" their worker: it drops its connection abruptly (no Terminate
message) without finishing, and reconnects.
A killer thread terminates random worker backends every ~300 ms; a reaper
thread (SET compute.max_attempts = 3) calls compute.requeue_stale() every
~200 ms. The run stops when every normal job is complete and every poison job
failed, or at the hard timeout.

Then it checks, in the database: every normal job complete; exactly one
finish_log row per complete job, by the worker that a grab handed the job's
last attempt to (no stale finish was accepted). The ground truth there is
what the workers saw, not what compute wrote: each worker records the
(job_id, attempt) of every grab answer it received, and finish_log holds the
token the worker presented (from its grab's answer), so a finish that slips
past the fence is caught even if it also rewrote the job's attempt. Also:
the attempts in compute.jobs never below the highest handed out, none handed
out twice, their sum between the grabs seen and the grabs seen plus those
whose answer a kill cut; no poison job handed out after its 3rd attempt;
every poison job failed with lost_leases = 3 and an error about the
lease; nothing queued or in-progress; every grab ended either in an accepted
finish or in a lost lease (sum of attempts = finishes + leases the reaper
reclaimed); no lease was lost that its worker had started or renewed less
than half a lease before (that would be fencing refusing a live lease). Any
other error than 55000 fails the run, except lost connections (the kills),
after which the worker reconnects. Exit status 0 when all hold, 1 otherwise.

A normal job can itself lose 3 leases by bad luck (killed or stalled workers
three times in a row); the crash-loop guard then fails it, which is right. The
monitor resubmits such a job (as an operator would; lost_leases restarts at 0
and the attempt keeps counting) and the checks verify that each of its 3 lost
attempts is accounted for by the chaos the driver injected.

Settings (environment): CHAOS_SEED, CHAOS_JOBS (3000), CHAOS_POISON (5),
CHAOS_WORKERS (6), CHAOS_LEASE (lease in seconds, 1), CHAOS_STALE (share of
jobs whose worker stalls past its lease, 0.04), CHAOS_WORK_MS (max work per
job, 20), CHAOS_KILL_MS (mean time between kills, 300), CHAOS_REAP_MS (200),
CHAOS_TIMEOUT (hard timeout in seconds, 150).
CHAOS_BREAK=token finishes WITHOUT the token (attempt NULL): the broken
client the checks must catch; CHAOS_BREAK=guard leaves compute.max_attempts
at its default in the reaper, which the poison checks must catch.
"""

import hashlib
import os
import random
import socket
import sys
import threading
import time
import traceback

import psycopg2

MAX_ATTEMPTS = 3
QUEUE = "chaos"


def env_int(name, default):
    return int(os.environ.get(name, default))


def env_float(name, default):
    return float(os.environ.get(name, default))


SEED = env_int("CHAOS_SEED", int.from_bytes(os.urandom(4), "big"))
JOBS = env_int("CHAOS_JOBS", 3000)
POISON = env_int("CHAOS_POISON", 5)
WORKERS = env_int("CHAOS_WORKERS", 6)
LEASE = env_float("CHAOS_LEASE", 1.0)
STALE = env_float("CHAOS_STALE", 0.04)
WORK_MS = env_float("CHAOS_WORK_MS", 20)
KILL_MS = env_float("CHAOS_KILL_MS", 300)
REAP_MS = env_float("CHAOS_REAP_MS", 200)
TIMEOUT = env_float("CHAOS_TIMEOUT", 150)
BREAK = os.environ.get("CHAOS_BREAK", "")
if BREAK not in ("", "token", "guard"):
    sys.exit("chaos: CHAOS_BREAK must be empty, token or guard")

LONG = 0.005  # share of long jobs, kept alive past their lease by heartbeats
HEARTBEAT = 0.2  # share of short jobs that heartbeat once halfway
LEASE_SQL = "%g seconds" % LEASE

stop = threading.Event()
fatal = []  # errors that fail the run at once
fatal_lock = threading.Lock()


def die(who, message):
    with fatal_lock:
        fatal.append("%s: %s" % (who, message))
    stop.set()


def connect(name):
    conn = psycopg2.connect("", application_name=name, options="-c statement_timeout=20s")
    conn.autocommit = True
    return conn


def connection_lost(conn, err):
    """A kill's doing: the backend was terminated or the connection dropped."""
    if not isinstance(err, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return False
    code = getattr(err, "pgcode", None)
    if code in ("57P01", "57P02", "57P03") or (code or "").startswith("08"):
        return True
    return code is None or bool(conn is None or conn.closed)


def crash(conn):
    """Drop the connection the way a killed process does: no Terminate
    message, no finish; the server just sees the socket go away."""
    try:
        s = socket.socket(fileno=os.dup(conn.fileno()))
        s.shutdown(socket.SHUT_RDWR)
        s.close()
    except OSError:
        pass
    try:
        conn.close()
    except Exception:
        pass


class Worker:
    """One worker thread. Records one entry per grabbed attempt:
    (job_id, attempt) -> outcome."""

    def __init__(self, i):
        self.i = i
        self.name = "chaos-worker-%d" % i
        self.rng = random.Random("%d/worker/%d" % (SEED, i))
        self.outcomes = {}  # (job_id bytes, attempt) -> outcome
        self.handed = []  # (job_id bytes, attempt) of every grab answer this worker received
        self.c = dict(grabs=0, accepted=0, rejected=0, poison_crashes=0, reconnects=0,
                      killed_holding=0, grab_lost=0, finish_lost=0, stale=0, stale_ambush=0,
                      stale_rejected=0, stale_accepted=0, stale_killed=0,
                      rejected_newer=0, rejected_queued=0, rejected_done=0,
                      heartbeats=0, heartbeat_rejected=0, long_jobs=0, early_losses=0)
        self.early = []  # leases lost although this worker kept them alive
        self.thread = threading.Thread(target=self.run, name=self.name, daemon=True)

    def run(self):
        try:
            self.loop()
        except Exception:
            die(self.name, traceback.format_exc())

    def loop(self):
        conn = None
        failures = 0
        while not stop.is_set():
            if conn is None or conn.closed:
                try:
                    conn = connect(self.name)
                    failures = 0
                except psycopg2.OperationalError as err:
                    failures += 1
                    if failures > 50:
                        die(self.name, "cannot reconnect: %s" % err)
                        return
                    time.sleep(0.05)
                    continue
            self.job = None  # (job_id, attempt) while this worker holds one
            self.phase = "grab"
            try:
                self.one_job(conn)
            except psycopg2.Error as err:
                if not connection_lost(conn, err):
                    die(self.name, "unexpected error in %s: [%s] %s" % (self.phase, err.pgcode, err))
                    return
                self.c["reconnects"] += 1
                if self.job is not None and self.stale_now:
                    self.c["stale_killed"] += 1  # killed before its finish was answered
                if self.phase == "grab":
                    self.c["grab_lost"] += 1  # the grab may have committed: its attempt is unseen
                elif self.phase == "finish":
                    self.c["finish_lost"] += 1  # may or may not have committed: the database decides
                    self.outcomes[self.job] = "finish-lost"
                else:
                    self.c["killed_holding"] += 1
                    self.outcomes[self.job] = "killed"
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
        if conn is not None:
            conn.close()

    def one_job(self, conn):
        cur = conn.cursor()
        rng = self.rng
        sent = time.monotonic()
        cur.execute("SELECT job_id, attempt, config, lease_expires IS NOT NULL"
                    " FROM compute.grab_job(%s, 1, %s::interval)", (QUEUE, LEASE_SQL))
        row = cur.fetchone()
        if row is None:
            time.sleep(0.02)
            return
        job_id, attempt, config, leased = bytes(row[0]), row[1], row[2], row[3]
        if not leased:
            die(self.name, "grab_job returned job %s without a lease" % job_id.hex())
            return
        self.c["grabs"] += 1
        self.job = (job_id, attempt)
        self.handed.append(self.job)
        self.stale_now = False
        # The lease runs at least until sent + LEASE (the server's now() is
        # later than our send); renewed (lower bound) at each heartbeat.
        held_from = sent
        self.phase = "work"
        if config.startswith("poison"):
            time.sleep(rng.uniform(0, 0.05))
            self.outcomes[self.job] = "crashed"
            self.c["poison_crashes"] += 1
            crash(conn)
            return
        mode = rng.random()
        if mode < STALE:
            self.stale_now = True
            self.c["stale"] += 1
            if rng.random() < 0.5:
                # A stall that ends at the worst moment: just after the job
                # was requeued and grabbed again, while the newer attempt
                # runs (the case fencing exists for).
                self.c["stale_ambush"] += 1
                until = time.monotonic() + LEASE + 2
                while time.monotonic() < until:
                    time.sleep(0.005)
                    cur.execute("SELECT status, attempt FROM compute.jobs WHERE job_id = %s", (job_id,))
                    status, now_attempt = cur.fetchone()
                    if now_attempt > attempt or status not in ("queued", "in-progress"):
                        break
            else:
                # A stall past the lease (a GC pause, a stopped VM): the
                # reaper may or may not have reclaimed the lease yet.
                time.sleep(LEASE + rng.uniform(0.05, 0.5))
        elif mode < STALE + LONG:
            self.c["long_jobs"] += 1
            for _ in range(4):
                time.sleep(LEASE * 0.3)
                held_from = self.heartbeat(cur, job_id, attempt, held_from)
                if held_from is None:
                    return
        elif mode < STALE + LONG + HEARTBEAT:
            time.sleep(rng.uniform(0, WORK_MS) / 2000)
            held_from = self.heartbeat(cur, job_id, attempt, held_from)
            if held_from is None:
                return
            time.sleep(rng.uniform(0, WORK_MS) / 2000)
        else:
            time.sleep(rng.uniform(0, WORK_MS) / 1000)
        self.finish(conn, cur, job_id, attempt, held_from)

    def heartbeat(self, cur, job_id, attempt, held_from):
        self.phase = "heartbeat"
        sent = time.monotonic()
        try:
            cur.execute("SELECT attempt FROM compute.heartbeat(%s, %s)", (job_id, attempt))
            cur.fetchone()
        except psycopg2.Error as err:
            if err.pgcode != "55000":
                raise
            self.c["heartbeat_rejected"] += 1
            self.outcomes[self.job] = "heartbeat-rejected"
            self.lost_early(job_id, attempt, "heartbeat", sent - held_from, err)
            return None
        self.c["heartbeats"] += 1
        self.phase = "work"
        return sent

    def finish(self, conn, cur, job_id, attempt, held_from):
        self.phase = "finish"
        token = None if BREAK == "token" else attempt
        sent = time.monotonic()
        conn.autocommit = False
        try:
            cur.execute("SELECT attempt FROM compute.finish_job(%s, 'complete', %s, %s)",
                        (job_id, ["out-" + job_id.hex()], token))
            at_commit = cur.fetchone()[0]
            cur.execute("INSERT INTO finish_log (job_id, attempt, job_attempt, worker, stale)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        (job_id, attempt, at_commit, self.i, self.stale_now))
            conn.commit()
        except psycopg2.Error as err:
            if err.pgcode != "55000":
                raise
            conn.rollback()
            conn.autocommit = True
            self.c["rejected"] += 1
            # What the job was doing just after (informative only).
            cur.execute("SELECT status, attempt FROM compute.jobs WHERE job_id = %s", (job_id,))
            status, now_attempt = cur.fetchone()
            if status == "queued":
                self.c["rejected_queued"] += 1
            elif status == "in-progress" and now_attempt > attempt:
                self.c["rejected_newer"] += 1
            else:
                self.c["rejected_done"] += 1
            self.outcomes[self.job] = "rejected"
            if self.stale_now:
                self.c["stale_rejected"] += 1
            else:
                self.lost_early(job_id, attempt, "finish", sent - held_from, err)
            return
        conn.autocommit = True
        self.c["accepted"] += 1
        self.outcomes[self.job] = "accepted"
        if self.stale_now:
            self.c["stale_accepted"] += 1

    def lost_early(self, job_id, attempt, what, held_for, err):
        """A 55000 for a lease this worker kept alive: fine only if the lease
        may really have run out (the worker waited about a lease or more)."""
        if held_for < LEASE * 0.5:
            self.c["early_losses"] += 1
            self.early.append("%s of job %s attempt %d rejected %.3f s after the lease was"
                              " (re)started: %s" % (what, job_id.hex(), attempt, held_for,
                                                     str(err).strip().splitlines()[0]))


class Killer:
    def __init__(self):
        self.rng = random.Random("%d/killer" % SEED)
        self.kills = 0
        self.thread = threading.Thread(target=self.run, name="chaos-killer", daemon=True)

    def run(self):
        try:
            conn = connect("chaos-killer")
            cur = conn.cursor()
            while not stop.is_set():
                stop.wait(self.rng.uniform(0.5, 1.5) * KILL_MS / 1000)
                cur.execute("SELECT pid FROM pg_stat_activity"
                            " WHERE application_name LIKE 'chaos-worker-%%' AND pid <> pg_backend_pid()"
                            " ORDER BY pid")
                pids = [r[0] for r in cur.fetchall()]
                if not pids or stop.is_set():
                    continue
                cur.execute("SELECT pg_terminate_backend(%s)", (self.rng.choice(pids),))
                if cur.fetchone()[0]:
                    self.kills += 1
            conn.close()
        except Exception:
            die("killer", traceback.format_exc())


class Reaper:
    def __init__(self):
        self.reclaimed = 0
        self.calls = 0
        self.max_attempts = None
        self.thread = threading.Thread(target=self.run, name="chaos-reaper", daemon=True)

    def run(self):
        try:
            conn = connect("chaos-reaper")
            cur = conn.cursor()
            if BREAK != "guard":
                cur.execute("SET compute.max_attempts = %s", (MAX_ATTEMPTS,))
            while True:
                cur.execute("SELECT compute.requeue_stale()")
                self.reclaimed += cur.fetchone()[0]
                self.calls += 1
                if self.max_attempts is None:
                    cur.execute("SHOW compute.max_attempts")
                    self.max_attempts = int(cur.fetchone()[0])
                if stop.is_set():
                    break
                stop.wait(REAP_MS / 1000)
            conn.close()
        except Exception:
            die("reaper", traceback.format_exc())


def setup(conn):
    cur = conn.cursor()
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'compute'")
    row = cur.fetchone()
    if row is None:
        sys.exit("chaos: extension compute is not installed in this database")
    version = row[0]
    cur.execute("""
        CREATE TABLE chaos_jobs (job_id bytea PRIMARY KEY, poison boolean NOT NULL, n int NOT NULL);
        CREATE TABLE finish_log (
            job_id bytea NOT NULL,
            attempt int NOT NULL,      -- the token the finishing worker held
            job_attempt int NOT NULL,  -- the job's attempt in the row finish_job returned
            worker int NOT NULL,
            stale boolean NOT NULL,    -- the worker had stalled past its lease
            at timestamptz NOT NULL DEFAULT clock_timestamp());
        """)
    rng = random.Random("%d/jobs" % SEED)
    kinds = [False] * JOBS
    # Poison jobs at random places in grab order (among the first 80%, so
    # they have time to crash-loop before the normal jobs run out).
    for _ in range(POISON):
        kinds.insert(rng.randrange(0, int(JOBS * 0.8) + 1), True)
    n_normal = n_poison = 0
    for poison in kinds:  # one transaction each: created orders the queue
        if poison:
            n_poison += 1
            n, config = n_poison, "poison %d: kills its worker" % n_poison
            job_id = psycopg2.Binary(bytes.fromhex(md5hex("chaos poison %d" % n)))
        else:
            n_normal += 1
            n, config = n_normal, "normal %d" % n_normal
            job_id = psycopg2.Binary(bytes.fromhex(md5hex("chaos job %d" % n)))
        cur.execute("SELECT compute.submit_job(%s, %s, %s); INSERT INTO chaos_jobs VALUES (%s, %s, %s)",
                    (job_id, QUEUE, config, job_id, poison, n))
    return version


def md5hex(text):
    return hashlib.md5(text.encode()).hexdigest()


class Monitor:
    """Watches for the end; resubmits normal jobs the crash-loop guard failed."""

    def __init__(self, conn):
        self.conn = conn
        self.resubmitted = []  # (job_id, attempt, lost_leases, error) at failure

    def poll(self):
        cur = self.conn.cursor()
        cur.execute("""
            SELECT j.job_id, j.attempt, j.lost_leases, j.error, j.config
              FROM compute.jobs j JOIN chaos_jobs c USING (job_id)
             WHERE NOT c.poison AND j.status = 'failed'""")
        for job_id, attempt, lost, error, config in cur.fetchall():
            self.resubmitted.append((bytes(job_id), attempt, lost, error))
            cur.execute("SELECT status FROM compute.submit_job(%s, %s, %s)", (job_id, QUEUE, config))
            status = cur.fetchone()[0]
            if status != "queued":
                die("monitor", "resubmitting failed job %s gave status %s" % (bytes(job_id).hex(), status))
        cur.execute("""
            SELECT count(*) FILTER (WHERE NOT c.poison AND j.status = 'complete'),
                   count(*) FILTER (WHERE c.poison AND j.status = 'failed')
              FROM compute.jobs j JOIN chaos_jobs c USING (job_id)""")
        complete, failed = cur.fetchone()
        return complete == JOBS and failed == POISON


def check(conn, workers, reaper, monitor):
    """The end checks; returns the list of what broke."""
    broke = []
    cur = conn.cursor()

    def q(sql, *args):
        cur.execute(sql, args)
        return cur.fetchall()

    rows = q("""SELECT encode(j.job_id, 'hex'), j.status FROM compute.jobs j JOIN chaos_jobs c USING (job_id)
                WHERE NOT c.poison AND j.status <> 'complete' ORDER BY 1""")
    if rows:
        broke.append("%d normal job(s) not complete, e.g. %s" % (len(rows), rows[:5]))

    # The attempts the grabs handed out, as the workers received them (the
    # grab's answer, not the job's row): the ground truth for the checks
    # below, independent of what compute writes into compute.jobs.
    cur.execute("CREATE TEMP TABLE handed (job_id bytea NOT NULL, attempt int NOT NULL, worker int NOT NULL)")
    handed = [(psycopg2.Binary(j), a, w.i) for w in workers for j, a in w.handed]
    for i in range(0, len(handed), 1000):
        chunk = handed[i:i + 1000]
        cur.execute("INSERT INTO handed VALUES " + ",".join(["(%s, %s, %s)"] * len(chunk)),
                    [v for row in chunk for v in row])
    # Exactly once, at the last attempt handed out: a complete job has one
    # accepted finish, by the worker a grab handed that attempt to, and no
    # grab handed out a later attempt (a finish by an older attempt is a stale
    # finish, whatever the job's row says now). Nothing here reads
    # compute.jobs.attempt, nor what finish_job returned.
    rows = q("""SELECT encode(j.job_id, 'hex'), j.status,
                       (SELECT array_agg(h.attempt || '@w' || h.worker ORDER BY h.attempt)
                          FROM handed h WHERE h.job_id = j.job_id),
                       (SELECT array_agg(l.attempt || '@w' || l.worker
                                         || CASE WHEN l.stale THEN ' stale' ELSE '' END ORDER BY l.at)
                          FROM finish_log l WHERE l.job_id = j.job_id)
                  FROM compute.jobs j JOIN chaos_jobs c USING (job_id)
                 WHERE (j.status = 'complete') IS DISTINCT FROM
                       ((SELECT count(*) FROM finish_log l WHERE l.job_id = j.job_id) = 1
                        AND (SELECT bool_and(EXISTS (SELECT FROM handed h WHERE h.job_id = l.job_id
                                                        AND h.attempt = l.attempt AND h.worker = l.worker)
                                             AND NOT EXISTS (SELECT FROM handed h WHERE h.job_id = l.job_id
                                                             AND h.attempt > l.attempt))
                               FROM finish_log l WHERE l.job_id = j.job_id))
                 ORDER BY 1""")
    if rows:
        broke.append("%d job(s) whose accepted finishes (finish_log: token@worker) are not exactly one, by the"
                     " last attempt a grab handed out (handed: attempt@worker): a stale or duplicate finish"
                     " was accepted, e.g. %s" % (len(rows), rows[:5]))
    # finish_job answers with the token it was given.
    rows = q("SELECT encode(job_id, 'hex'), attempt, job_attempt FROM finish_log WHERE attempt <> job_attempt")
    if rows:
        broke.append("%d accepted finish(es) whose finish_job row is at another attempt than the token"
                     " presented (token, returned), e.g. %s" % (len(rows), rows[:5]))
    (logged,), = q("SELECT count(*) FROM finish_log")
    if logged != JOBS:
        broke.append("finish_log holds %d accepted finishes for %d normal jobs" % (logged, JOBS))

    rows = q("""SELECT encode(j.job_id, 'hex'), j.status, j.lost_leases, j.attempt, j.error
                  FROM compute.jobs j JOIN chaos_jobs c USING (job_id)
                 WHERE c.poison AND NOT (j.status = 'failed' AND j.lost_leases = %s
                                         AND j.error ILIKE '%%lease%%' AND j.attempt = %s
                                         AND j.lease_expires IS NULL AND j.finished IS NOT NULL)
                 ORDER BY 1""", MAX_ATTEMPTS, MAX_ATTEMPTS)
    if rows:
        broke.append("%d poison job(s) not failed after exactly %d lost leases (with an error about the"
                     " lease), e.g. %s" % (len(rows), MAX_ATTEMPTS, rows[:5]))

    # The guard, by the grabs the workers saw: no poison job was handed out
    # again after its last allowed attempt.
    rows = q("""SELECT encode(h.job_id, 'hex'), array_agg(h.attempt ORDER BY h.attempt)
                  FROM handed h JOIN chaos_jobs c USING (job_id) WHERE c.poison
                 GROUP BY h.job_id HAVING max(h.attempt) > %s""", MAX_ATTEMPTS)
    if rows:
        broke.append("%d poison job(s) grabbed again after %d lost leases (attempts handed out), e.g. %s"
                     % (len(rows), MAX_ATTEMPTS, rows[:5]))

    rows = q("SELECT status, count(*) FROM compute.jobs WHERE status IN ('queued', 'in-progress') GROUP BY 1")
    if rows:
        broke.append("jobs left behind: %s" % rows)
    rows = q("SELECT count(*) FROM compute.jobs WHERE lease_expires IS NOT NULL AND status <> 'in-progress'")
    if rows[0][0]:
        broke.append("%d job(s) hold a lease without being in-progress" % rows[0][0])

    # Every grab ends in an accepted finish or a lost lease.
    (grabs, lost_now, total), = q("SELECT sum(attempt), sum(lost_leases), count(*) FROM compute.jobs")
    # The attempts in the table against the grabs the workers saw (a grab
    # whose answer a kill cut may have committed unseen): per job, the
    # attempt is at least the highest attempt handed out, and all in all
    # the seen grabs plus the cut ones bound the sum.
    seen = len(handed)
    cut = sum(w.c["grab_lost"] for w in workers)
    if grabs is None or not seen <= grabs <= seen + cut:
        broke.append("grabs: the attempts of compute.jobs sum to %s, but the workers were handed %d attempts"
                     " (+ at most %d grab answers cut by kills)" % (grabs, seen, cut))
    rows = q("""SELECT encode(j.job_id, 'hex'), j.attempt, max(h.attempt), count(*), count(DISTINCT h.attempt)
                  FROM compute.jobs j JOIN handed h USING (job_id)
                 GROUP BY j.job_id, j.attempt
                HAVING j.attempt < max(h.attempt) OR count(*) <> count(DISTINCT h.attempt)""")
    if rows:
        broke.append("%d job(s) whose attempt (job, highest handed out, grabs, distinct attempts) went back or"
                     " was handed out twice, e.g. %s" % (len(rows), rows[:5]))
    if total != JOBS + POISON:
        broke.append("compute.jobs holds %d jobs, expected %d" % (total, JOBS + POISON))
    if grabs != logged + reaper.reclaimed:
        broke.append("grabs (sum of attempt = %d) != accepted finishes (%d) + leases reclaimed by"
                     " requeue_stale (%d)" % (grabs, logged, reaper.reclaimed))
    if reaper.reclaimed != lost_now + MAX_ATTEMPTS * len(monitor.resubmitted):
        broke.append("requeue_stale reclaimed %d leases, but lost_leases sums to %d (+ %d x %d before"
                     " resubmission)" % (reaper.reclaimed, lost_now, MAX_ATTEMPTS, len(monitor.resubmitted)))
    if reaper.max_attempts != MAX_ATTEMPTS:
        broke.append("the reaper's compute.max_attempts is %s, not %d" % (reaper.max_attempts, MAX_ATTEMPTS))

    # A normal job the guard failed must have lost its 3 leases to our chaos.
    outcomes = {}
    for w in workers:
        outcomes.update(w.outcomes)
    unseen_grabs = sum(w.c["grab_lost"] for w in workers)
    for job_id, attempt, lost, error in monitor.resubmitted:
        why = []
        for a in range(attempt - lost + 1, attempt + 1):
            o = outcomes.get((job_id, a))
            if o is None and unseen_grabs:
                o = "grab answer lost to a kill"
            why.append(o)
        if lost != MAX_ATTEMPTS or "accepted" in why or None in why or "lease" not in (error or ""):
            broke.append("normal job %s failed by the guard at attempt %d with lost_leases %d (%s), but"
                         " its attempts were: %s" % (job_id.hex(), attempt, lost, error, why))

    early = [e for w in workers for e in w.early]
    if early:
        broke.append("%d lease(s) lost although kept alive (< %.1f s since grab/heartbeat), e.g. %s"
                     % (len(early), LEASE * 0.5, early[:3]))
    stale_logged = q("SELECT count(*), count(*) FILTER (WHERE attempt = job_attempt) FROM finish_log"
                     " WHERE stale")[0]
    (overwrote,), = q("SELECT count(*) FROM finish_log WHERE attempt <> job_attempt")
    return broke, grabs, logged, stale_logged, overwrote


def main():
    print("chaos: seed %d (CHAOS_SEED=%d to replay the same choices), %d jobs + %d poison, %d workers,"
          " lease %s%s" % (SEED, SEED, JOBS, POISON, WORKERS, LEASE_SQL,
                           ", BROKEN ON PURPOSE: " + BREAK if BREAK else ""), flush=True)
    t0 = time.monotonic()
    admin = connect("chaos-driver")
    version = setup(admin)

    workers = [Worker(i) for i in range(1, WORKERS + 1)]
    killer, reaper, monitor = Killer(), Reaper(), Monitor(admin)
    started = time.monotonic()
    for t in [reaper] + workers + [killer]:
        t.thread.start()
    done = False
    timed_out = False
    try:
        while not stop.is_set():
            if monitor.poll():
                done = True
                break
            if time.monotonic() - started > TIMEOUT:
                timed_out = True
                break
            time.sleep(0.25)
    except Exception:
        die("monitor", traceback.format_exc())
    load = time.monotonic() - started
    stop.set()
    for t in workers + [killer, reaper]:
        t.thread.join(timeout=30)
        if t.thread.is_alive():
            fatal.append("%s still running 30 s after the stop" % t.thread.name)

    c = {k: sum(w.c[k] for w in workers) for k in workers[0].c}
    broke = list(fatal)
    if timed_out:
        broke.append("hard timeout: not done after %.0f s" % TIMEOUT)
    grabs = logged = stale_logged = overwrote = None
    if not fatal:
        more, grabs, logged, stale_logged, overwrote = check(admin, workers, reaper, monitor)
        broke += more
    admin.close()

    # Stale workers: accepted finishes are the database's word (finish_log),
    # since a kill may cut the answer to a finish that committed.
    if logged is None:
        logged = c["accepted"]
    stale_all, stale_current = stale_logged or (c["stale_accepted"], c["stale_accepted"])
    stale_cut = c["stale_killed"] - (stale_all - c["stale_accepted"])
    figures = [
        "jobs %d + %d poison" % (JOBS, POISON),
        "workers %d" % WORKERS,
        "grabs %s" % grabs,
        "kills injected %d" % killer.kills,
        "reconnects %d" % c["reconnects"],
        "poison crashes %d" % c["poison_crashes"],
        "stale workers %d (%d stalled until the job was grabbed again, %d killed before their finish"
        " was answered)" % (c["stale"], c["stale_ambush"], stale_cut),
        "stale finishes attempted %d / rejected %d / accepted while still the current attempt %d"
        % (c["stale_rejected"] + stale_all, c["stale_rejected"], stale_current),
        "finishes accepted over a newer attempt %s" % overwrote,
        "rejected finishes by what the job was doing just after: newer attempt in progress %d, queued %d,"
        " finished %d" % (c["rejected_newer"], c["rejected_queued"], c["rejected_done"]),
        "other rejected finishes %d" % (c["rejected"] - c["stale_rejected"]),
        "heartbeats %d (rejected %d)" % (c["heartbeats"], c["heartbeat_rejected"]),
        "leases lost %d (reclaimed by requeue_stale in %d calls)" % (reaper.reclaimed, reaper.calls),
        "normal jobs failed by the guard and resubmitted %d" % len(monitor.resubmitted),
        "accepted finishes %d" % logged,
    ]
    summary = "chaos: %s in %.1f s of load, %.1f s in all (seed %d, compute %s): %s" % (
        "PASSED" if not broke else "FAILED", load, time.monotonic() - t0, SEED, version, ", ".join(figures))
    for b in broke:
        print("chaos: BROKEN: " + b)
    print(summary, flush=True)
    return 0 if not broke and done else 1


if __name__ == "__main__":
    sys.exit(main())
