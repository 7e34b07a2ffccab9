#!/usr/bin/python3
"""Waiting grabs against a real server (scripts/check-wait.sh starts it).

Each waiter sets compute.wait_recheck to an hour, so a waiter that returns a
job before its wait has passed was woken by the committing transaction, not
by the safety re-check. Whether a backend is still waiting is read from
pg_stat_activity (wait_event_type 'Extension'). Prints one line per case and
a closing "N passed, M failed" line; exits non-zero on any failure.

  wait_test.py preloaded     the cases of a server with compute preloaded
  wait_test.py unpreloaded   the documented fallback (looks every 100 ms)
"""
import datetime
import hashlib
import statistics
import sys
import threading
import time

import psycopg2

passed = 0
failed = 0


def connect():
    conn = psycopg2.connect("")
    conn.autocommit = True
    return conn


def job_id(name):
    return hashlib.md5(name.encode()).digest()


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"wait: ok: {name}")
    else:
        failed += 1
        print(f"wait: FAILED: {name} {detail}")


class Waiter(threading.Thread):
    """A session that runs one waiting grab (or finish_and_grab)."""

    def __init__(self, sql, args=()):
        super().__init__(daemon=True)
        self.conn = connect()
        cur = self.conn.cursor()
        cur.execute("SET compute.wait_recheck = '1h'")
        cur.execute("SELECT pg_backend_pid()")
        self.pid = cur.fetchone()[0]
        self.sql, self.args = sql, args
        self.rows, self.error = None, None

    def run(self):
        try:
            cur = self.conn.cursor()
            cur.execute(self.sql, self.args)
            self.rows = cur.fetchall()
        except psycopg2.Error as e:
            self.error = e.pgcode

    def names(self):
        return sorted(bytes(r[0]) for r in (self.rows or []))


def waiting(admin, pid):
    cur = admin.cursor()
    cur.execute("SELECT wait_event_type = 'Extension' FROM pg_stat_activity WHERE pid = %s", (pid,))
    row = cur.fetchone()
    return bool(row and row[0])


def settle(admin, waiters, timeout=10.0):
    """Until every waiter is asleep on its latch."""
    end = time.time() + timeout
    while time.time() < end:
        if all(waiting(admin, w.pid) for w in waiters):
            return True
        time.sleep(0.02)
    return False


def grab_sql(queue, wait):
    return f"SELECT job_id FROM compute.grab_job('{queue}', 1, '1 minute', '{wait}')"


def lease_from_wake(admin, queue):
    """A job taken after the grab slept 1.5 s gets its whole lease from then:
    grabbed and lease_expires are stamped when it woke, not at now()."""
    w = Waiter(f"SELECT job_id, grabbed, lease_expires, statement_timestamp(), clock_timestamp() "
               f"FROM compute.grab_job('{queue}', 1, '2 seconds', '30 s')")
    w.start()
    time.sleep(1.5)
    admin.cursor().execute("SELECT compute.submit_job(%s, %s)", (job_id(queue), queue))
    w.join(10)
    ok = bool(w.rows)
    if ok:
        _, grabbed, expires, started, returned = w.rows[0]
        ok = (grabbed - started >= datetime.timedelta(seconds=1.4) and grabbed <= returned and
              expires - grabbed == datetime.timedelta(seconds=2))
    check("a job taken after the grab slept gets its lease (and grabbed) from the moment it woke",
          ok, f"rows={w.rows} error={w.error}")


def preloaded(admin):
    cur = admin.cursor()
    # 1. Woken by a submit committed in another session.
    w = Waiter(grab_sql("w1", "30 s"))
    w.start()
    check("the waiter sleeps", settle(admin, [w]))
    cur.execute("SELECT compute.submit_job(%s, 'w1')", (job_id("a"),))
    w.join(10)
    check("a commit in another session wakes the waiter, which takes the job",
          not w.is_alive() and w.names() == [job_id("a")], f"rows={w.rows} error={w.error}")

    lease_from_wake(admin, "w1b")

    # 2. A rolled-back submit wakes nobody: the waiter keeps waiting.
    w = Waiter(grab_sql("w2", "3 s"))
    w.start()
    settle(admin, [w])
    other = connect()
    other.autocommit = False
    ocur = other.cursor()
    ocur.execute("SELECT compute.submit_job(%s, 'w2')", (job_id("b"),))
    time.sleep(0.2)
    check("an uncommitted submit does not wake the waiter", waiting(admin, w.pid))
    other.rollback()
    time.sleep(0.3)
    check("a rolled-back submit does not wake the waiter", waiting(admin, w.pid))
    w.join(10)
    check("the wait ends with no rows when it has passed", w.rows == [] and w.error is None,
          f"rows={w.rows} error={w.error}")

    # 3. Two waiters, one job: one gets it, the other keeps waiting.
    ws = [Waiter(grab_sql("w3", "4 s")) for _ in range(2)]
    for w in ws:
        w.start()
    check("two waiters sleep", settle(admin, ws))
    cur.execute("SELECT compute.submit_job(%s, 'w3')", (job_id("c"),))
    time.sleep(0.5)
    done = [w for w in ws if not w.is_alive()]
    still = [w for w in ws if w.is_alive()]
    check("one job wakes one waiter", len(done) == 1 and done[0].names() == [job_id("c")] and
          len(still) == 1 and waiting(admin, still[0].pid), f"done={len(done)}")
    for w in ws:
        w.join(10)
    check("the other waiter gets nothing", sum(len(w.rows or []) for w in ws) == 1)

    # 4. A batch of 3 jobs in one transaction wakes 3 of 4 waiters.
    ws = [Waiter(grab_sql("w4", "4 s")) for _ in range(4)]
    for w in ws:
        w.start()
    settle(admin, ws)
    cur.execute("SELECT count(compute.submit_job(decode(md5('batch ' || i), 'hex'), 'w4')) FROM generate_series(1, 3) i")
    time.sleep(0.5)
    check("a transaction that queues 3 jobs wakes 3 waiters, each takes one",
          sum(1 for w in ws if not w.is_alive() and len(w.rows or []) == 1) == 3)
    for w in ws:
        w.join(10)

    # 5. A requeue (plain UPDATE) and requeue_stale() wake waiters too.
    cur.execute("SELECT compute.submit_job(%s, 'w5')", (job_id("d"),))
    cur.execute("SELECT count(*) FROM compute.grab_job('w5', 1, '1 minute')")
    w = Waiter(grab_sql("w5", "30 s"))
    w.start()
    settle(admin, [w])
    cur.execute("UPDATE compute.jobs SET status = 'queued' WHERE job_id = %s", (job_id("d"),))
    w.join(10)
    check("a requeue wakes the waiter", w.names() == [job_id("d")], f"rows={w.rows}")
    cur.execute("UPDATE compute.jobs SET lease_expires = now() - interval '1 second' WHERE job_id = %s",
                (job_id("d"),))
    w = Waiter(grab_sql("w5", "30 s"))
    w.start()
    settle(admin, [w])
    cur.execute("SELECT compute.requeue_stale()")
    w.join(10)
    check("requeue_stale() wakes the waiter", w.names() == [job_id("d")], f"rows={w.rows}")

    # 6. finish_and_grab waits for the next job the same way.
    cur.execute("SELECT attempt FROM compute.jobs WHERE job_id = %s", (job_id("d"),))
    attempt = cur.fetchone()[0]
    w = Waiter("SELECT job_id FROM compute.finish_and_grab(%s, 'complete', 'w5', attempt => %s, wait => '30 s')",
               (job_id("d"), attempt))
    w.start()
    settle(admin, [w])
    cur.execute("SELECT compute.submit_job(%s, 'w5')", (job_id("e"),))
    w.join(10)
    cur.execute("SELECT status FROM compute.jobs WHERE job_id = %s", (job_id("d"),))
    check("finish_and_grab finishes, then waits and takes the next job",
          w.names() == [job_id("e")] and cur.fetchone()[0] == "complete", f"rows={w.rows} error={w.error}")

    # 7. Cancel and statement_timeout end a wait with 57014; nothing is left
    # listed: the next submit wakes the next waiter.
    w = Waiter(grab_sql("w6", "1 hour"))
    w.start()
    settle(admin, [w])
    cur.execute("SELECT pg_cancel_backend(%s)", (w.pid,))
    w.join(10)
    check("pg_cancel_backend ends a wait with 57014", w.error == "57014", f"error={w.error}")
    w = Waiter("SET statement_timeout = '300ms'; " + grab_sql("w6", "1 hour"))
    w.start()
    w.join(10)
    check("statement_timeout ends a wait with 57014", w.error == "57014", f"error={w.error}")
    w = Waiter(grab_sql("w6", "30 s"))
    w.start()
    settle(admin, [w])
    cur.execute("SELECT compute.submit_job(%s, 'w6')", (job_id("f"),))
    w.join(10)
    check("after a cancelled wait the next waiter is woken", w.names() == [job_id("f")])

    # 8. wait_job: woken by the finishing commit, not by a rolled-back one.
    cur.execute("SELECT compute.submit_job(%s, 'w7')", (job_id("g"),))
    cur.execute("SELECT attempt FROM compute.grab_job('w7', 1, '1 minute')")
    attempt = cur.fetchone()[0]
    w = Waiter("SELECT job_id, status FROM compute.wait_job(%s, '30 s')", (job_id("g"),))
    w.start()
    check("wait_job sleeps while the job runs", settle(admin, [w]))
    other = connect()
    other.autocommit = False
    ocur = other.cursor()
    ocur.execute("SELECT compute.finish_job(%s, 'complete', '{g.out}', %s)", (job_id("g"), attempt))
    other.rollback()
    time.sleep(0.3)
    check("a rolled-back finish does not end wait_job", waiting(admin, w.pid))
    cur.execute("SELECT compute.finish_job(%s, 'complete', '{g.out}', %s)", (job_id("g"), attempt))
    w.join(10)
    check("the finishing commit wakes wait_job, which returns the finished job",
          w.rows and w.rows[0][1] == "complete", f"rows={w.rows} error={w.error}")
    w = Waiter("SELECT status FROM compute.wait_job(%s, '30 s')", (job_id("nope"),))
    w.start()
    w.join(10)
    check("wait_job of an unknown job: P0002", w.error == "P0002", f"error={w.error}")

    # 9. NOTIFY: a queue's channel once per transaction, at commit only; the
    # terminal transitions on compute_finished, one per job, when
    # compute.notify_finished is on (off by default).
    listener = connect()
    lcur = listener.cursor()
    lcur.execute("SELECT compute.queue_channel('n1')")
    channel = lcur.fetchone()[0]
    lcur.execute(f"LISTEN {channel}; LISTEN compute_finished")

    def drain(seconds=0.3):
        time.sleep(seconds)
        listener.poll()
        got = list(listener.notifies)
        listener.notifies.clear()
        return got

    other = connect()
    other.autocommit = False
    ocur = other.cursor()
    ocur.execute("SELECT count(*) FROM compute.submit_jobs(ARRAY(SELECT decode(md5('n ' || i), 'hex') FROM generate_series(1, 1000) i), 'n1')")
    check("nothing is notified before the commit", drain() == [])
    other.commit()
    got = drain()
    check("1000 submits in one transaction notify the queue's channel once",
          [n.channel for n in got] == [channel], f"got={[(n.channel, n.payload) for n in got]}")
    ocur.execute("SELECT compute.submit_job(decode(md5('n rolled back'), 'hex'), 'n1')")
    other.rollback()
    check("a rolled-back submit notifies nothing", drain() == [])
    lcur.execute("SELECT compute.queue_channel('n2')")
    channel2 = lcur.fetchone()[0]
    lcur.execute(f"LISTEN {channel2}")
    ocur.execute("SAVEPOINT s; SELECT compute.submit_job(decode(md5('n savepoint'), 'hex'), 'n2'); ROLLBACK TO SAVEPOINT s")
    ocur.execute("SAVEPOINT k; SELECT compute.submit_job(decode(md5('n kept'), 'hex'), 'n1'); RELEASE SAVEPOINT k")
    other.commit()
    got = drain()
    check("a rolled-back savepoint takes its NOTIFY back, a released one keeps it",
          [n.channel for n in got] == [channel], f"got={[(n.channel, n.payload) for n in got]}")
    ocur.execute("SELECT compute.submit_job(decode(md5('n prepared'), 'hex'), 'n1')")
    try:
        ocur.execute("PREPARE TRANSACTION 'compute_wait_test'")
        ocur.execute("COMMIT PREPARED 'compute_wait_test'")
        prepared = "ok"
    except psycopg2.Error as e:
        prepared = e.pgcode
        other.rollback()
    check("a transaction that queues a job can be prepared (it notifies nothing)",
          prepared == "ok" and drain() == [], f"prepare={prepared}")
    cur.execute("SELECT count(compute.finish_job(job_id, 'complete')) FROM compute.grab_job('n1', 2)")
    check("finishes notify nothing by default (compute.notify_finished is off)", drain() == [])
    cur.execute("SET compute.notify_finished = on")
    cur.execute("SELECT count(compute.finish_job(job_id, 'complete')) FROM compute.grab_job('n1', 3)")
    cur.execute("RESET compute.notify_finished")
    got = drain()
    check("with compute.notify_finished, 3 finishes notify compute_finished three times, with job id and status",
          len(got) == 3 and all(n.channel == "compute_finished" and n.payload.endswith(" complete") and
                                len(n.payload.split()[0]) == 32 for n in got),
          f"got={[(n.channel, n.payload) for n in got]}")

    # submit_jobs against a loop of single submits (figures).
    t0 = time.time()
    cur.execute("SELECT count(*) FROM compute.submit_jobs(ARRAY(SELECT decode(md5('batch fig ' || i), 'hex') FROM generate_series(1, 5000) i), 'fig')")
    batch = 5000 / (time.time() - t0)
    t0 = time.time()
    for i in range(2000):
        cur.execute("SELECT compute.submit_job(%s, 'fig')", (job_id(f"single fig {i}"),))
    single = 2000 / (time.time() - t0)
    print(f"wait: figures: submit_jobs of 5000 in one call {batch:,.0f} jobs/s; 2000 single submit_job calls "
          f"(autocommit, one round trip each) {single:,.0f} jobs/s; ratio {batch / single:.1f}")

    # Figures: submit-to-grab latency, jobs arriving one by one.
    latencies = []
    for i in range(40):
        w = Waiter("SELECT job_id, clock_timestamp() FROM compute.grab_job('lat', 1, '1 minute', '30 s')")
        w.start()
        settle(admin, [w])
        t0 = time.time()
        cur.execute("SELECT compute.submit_job(%s, 'lat')", (job_id(f"lat {i}"),))
        w.join(10)
        latencies.append((time.time() - t0) * 1000)
    latencies.sort()
    print(f"wait: figures: submit (autocommit) to grab returned, 40 jobs one by one: median "
          f"{statistics.median(latencies):.2f} ms, max {latencies[-1]:.2f} ms (client-side, includes the round trips)")


def unpreloaded(admin):
    cur = admin.cursor()
    w = Waiter(grab_sql("u1", "30 s"))
    w.start()
    time.sleep(0.3)
    cur.execute("SELECT compute.submit_job(%s, 'u1')", (job_id("u"),))
    w.join(10)
    check("without preloading a waiting grab still finds the job (it looks every 100 ms)",
          w.names() == [job_id("u")], f"rows={w.rows} error={w.error}")
    lease_from_wake(admin, "u2")


def main():
    admin = connect()
    admin.cursor().execute("CREATE EXTENSION IF NOT EXISTS compute")
    {"preloaded": preloaded, "unpreloaded": unpreloaded}[sys.argv[1]](admin)
    print(f"wait: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


main()
