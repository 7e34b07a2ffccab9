#!/usr/bin/python3
"""Calls compute's functions with random and edge arguments, in odd contexts.

The companion of sqlsmith in scripts/check-sqlsmith.sh: where sqlsmith
builds random SQL over the whole catalog, this sends compute's own
functions what a careless or hostile client could: job ids of every length
(0 to 1 MB), NULLs, queue names of 0 to 100,000 characters and odd Unicode,
huge and multi-dimensional arrays, arrays with NULL or empty elements or odd
bounds, max_jobs at the int limits, intervals at and beyond the timestamp
range, unknown statuses, fencing tokens (attempt) at the int limits, lease
lengths and compute.max_attempts out of range (1.1.0); and calls them in bulk over the table, from
cursors, prepared statements, PL/pgSQL exception blocks (subtransactions),
a trigger on compute.jobs that calls compute back (recursion to the stack
limit), COPY, and under a statement timeout of a millisecond or two (the
query is cancelled somewhere inside the C++ code).

Most calls fail, as they should. A failure of this check is a lost
connection (the backend died), an internal error (SQLSTATE class XX or 58),
a compute call whose error carries a SQLSTATE outside the set it may
raise, or an error message that is not valid UTF-8. Committed changes stay, so that sqlsmith (running at the same time)
and the final invariant check see them. (check-sqlsmith.sh also reads the
server log: every error that compute's own code raised, whoever called it,
must carry one of the SQLSTATEs compute documents.)

Environment: FUZZ_SEED (random if unset; printed), FUZZ_SECONDS (60),
FUZZ_DSN (libpq string; else the PG* variables).
"""

import collections
import hashlib
import io
import os
import random
import sys
import time

try:
    import psycopg2
except ImportError:
    sys.exit("fuzz_calls.py: python3-psycopg2 is missing (apt-get install python3-psycopg2)")

SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(1, 2**31))
SECONDS = float(os.environ.get("FUZZ_SECONDS", "60"))
DSN = os.environ.get("FUZZ_DSN", "")
rng = random.Random(SEED)

# What a compute call may answer besides success: SPEC section 5, the
# table's constraints, concurrency, cancellation, limits, and the casts of
# the literals themselves (bad interval or array text never reaches compute).
ALLOWED = {
    "22004", "22023", "22001", "55000", "P0002",  # SPEC section 5
    "42501",  # a queue the role has no queue right for (1.2.0)
    "23502", "23514", "23505",  # constraints of plain SQL
    "40001", "40P01", "55P03",  # concurrency
    "57014",  # statement timeout
    "54000", "54001", "53200",  # program limits, stack depth, out of memory
    "22P02", "22007", "22015", "2202E", "22P05", "22021", "2200X",  # literal input
    "39P01",  # trigger function called directly
    "42883", "42804", "42P18",  # a call shape with no matching function
    "42704",  # a role name that does not exist (the regrole literal)
    "25P02",  # after an error inside an explicit transaction
    "34000", "24000",  # cursor states
}


def rand_bytes(n):
    return rng.randbytes(n)


def job_id():
    r = rng.random()
    if r < 0.35 and KNOWN:
        return psycopg2.Binary(rng.choice(KNOWN))
    if r < 0.5:
        return psycopg2.Binary(rand_bytes(16))
    if r < 0.6:
        return None
    return psycopg2.Binary(rand_bytes(rng.choice([0, 1, 8, 15, 17, 31, 32, 255, 4096, 1 << 20])))


UNICODE = ["é", "ß", "漢", "🙂", "\u0301", "\u200b", "\ufeff", "\U0010fffd", "\t", "\n", " ", "'", "\\", "\"", "%",
           "\u00a0", "a"]


def text(maxlen=40):
    r = rng.random()
    if r < 0.1:
        return None
    if r < 0.15:
        return ""
    if r < 0.5:
        return rng.choice(QUEUES)
    if r < 0.6:
        return rng.choice(["q", "x"]) * rng.choice([32, 33, 64, 1000, 100000])
    if r < 0.65:  # long multibyte text: error messages that quote it get long
        return rng.choice(["é", "漢", "🙂"]) * rng.choice([32, 33, 400, 1000, 3000])
    n = rng.randint(1, maxlen)
    return "".join(rng.choice(UNICODE) for _ in range(n))


def status():
    return rng.choice(["complete", "failed", "queued", "in-progress", "expired", "", "COMPLETE", "complete\x01",
                       "done", None, "failed ", "é" * 11, "x" * 1000])


def files():
    r = rng.random()
    if r < 0.15:
        return None, ""
    if r < 0.25:
        return [None], ""
    if r < 0.3:
        return [""], ""
    if r < 0.4:
        return [["a", "b"], ["c", "d"]], ""
    if r < 0.45:
        return [[["a"]]], ""
    if r < 0.5:
        return ["f"] * rng.choice([1000, 100000]), ""
    if r < 0.55:
        return ["x" * (1 << 20)], ""
    if r < 0.6:
        return None, rng.choice(["'[5:6]={a,b}'", "'{}'", "'{{}}'", "'[0:0]={z}'", "'{NULL,NULL}'",
                                 "array_fill('f'::text, ARRAY[3, 2])", "array_fill(NULL::text, ARRAY[0])"])
    return [text(10) or "f" for _ in range(rng.randint(0, 5))], ""


def files_sql():
    value, literal = files()
    if literal:
        return literal + "::text[]", []
    return "%s::text[]", [value]


def interval():
    return rng.choice(["0", "1 microsecond", "-1 microsecond", "1 hour", "-1 hour", "30 days", "1 month -30 days",
                       "1 month -31 days", "178000000 years", "-178000000 years", "100000 years", "infinity",
                       "-infinity", "1 day -86400 seconds", "2147483647 days", "-2147483648 months",
                       "PT0.000001S", "P-1D", "1e10 seconds", None, "garbage"])


def max_jobs():
    return rng.choice([None, -2147483648, -1, 0, 1, 2, 5, 100, 2147483647])


# Results are read as text: a lease of 100,000 years is valid, but its end is
# beyond what Python's datetime can hold.
for _oid, _name in ((1184, "TIMESTAMPTZ_TEXT"), (1114, "TIMESTAMP_TEXT"), (1082, "DATE_TEXT"), (1186, "INTERVAL_TEXT")):
    psycopg2.extensions.register_type(psycopg2.extensions.new_type((_oid,), _name, lambda v, c: v))
for _oid, _name in ((1185, "TIMESTAMPTZ_ARRAY_TEXT"), (1115, "TIMESTAMP_ARRAY_TEXT"), (1182, "DATE_ARRAY_TEXT"),
                    (1187, "INTERVAL_ARRAY_TEXT")):
    psycopg2.extensions.register_type(psycopg2.extensions.new_type((_oid,), _name, lambda v, c: v))


class Fuzzer:
    def __init__(self):
        self.conn = psycopg2.connect(DSN)
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET statement_timeout = '10s'")
        self.calls = 0
        self.codes = collections.Counter()
        self.by_form = collections.Counter()
        self.failures = []

    def refresh(self):
        global KNOWN, QUEUES, HAS_LEASES, HAS_RIGHTS, HAS_WAIT, HAS_WAIT_JOB, HAS_OBSERVE, HAS_QUEUE_FORMS
        self.cur.execute("SELECT to_regprocedure('compute.heartbeat(bytea, int, interval)') IS NOT NULL,"
                         " to_regprocedure('compute.grant_queue(regrole, text, text)') IS NOT NULL"
                         " AND to_regrole('fz_worker') IS NOT NULL,"
                         " to_regproc('compute.finish_and_grab') IS NOT NULL,"
                         " to_regproc('compute.wait_job') IS NOT NULL AND to_regproc('compute.submit_jobs') IS NOT NULL"
                         " AND to_regproc('compute.queue_channel') IS NOT NULL")
        HAS_LEASES, HAS_RIGHTS, HAS_WAIT, HAS_WAIT_JOB = self.cur.fetchone()
        self.cur.execute("SELECT to_regproc('compute.health') IS NOT NULL AND to_regclass('compute.queue_stats') IS NOT NULL")
        HAS_OBSERVE = self.cur.fetchone()[0]
        self.cur.execute("SELECT to_regproc('compute.finish_job_in') IS NOT NULL")
        HAS_QUEUE_FORMS = self.cur.fetchone()[0]
        self.cur.execute("SELECT job_id FROM compute.jobs ORDER BY random() LIMIT 200")
        KNOWN = [bytes(r[0]) for r in self.cur.fetchall()]
        self.cur.execute("SELECT DISTINCT queue FROM compute.jobs LIMIT 20")
        QUEUES = [r[0] for r in self.cur.fetchall()] or ["q0"]
        # Keep the table small enough for row-by-row calls, and jobs in every
        # status: submit, grab, finish a few.
        self.cur.execute("SELECT count(compute.delete_job(job_id)) FROM (SELECT job_id FROM compute.jobs"
                         " ORDER BY random() LIMIT greatest(0, (SELECT count(*) FROM compute.jobs) - 3000)) d")
        self.cur.execute("SELECT count(*) FILTER (WHERE status = 'queued') FROM compute.jobs")
        if self.cur.fetchone()[0] < 50:
            self.cur.execute("SELECT count(compute.submit_job(decode(md5('fuzz ' || %s || i), 'hex'), 'q' || (i %% 3),"
                             " 'cfg', ARRAY['in'])) FROM generate_series(1, 100) i", (time.time(),))
            self.cur.execute("SELECT count(*) FROM compute.grab_job('q0', 20)")
            self.cur.execute("SELECT count(compute.finish_job(job_id, CASE WHEN random() < 0.5 THEN 'complete'"
                             " ELSE 'failed' END)) FROM compute.jobs WHERE status = 'in-progress' AND random() < 0.5")

    def run(self, form, sql, params=None, compute_call=True):
        """Execute; an error is fine unless it is internal or the backend died."""
        self.calls += 1
        self.by_form[form] += 1
        try:
            self.cur.execute(sql, params)
            if self.cur.description:
                self.cur.fetchall()
            return None
        except psycopg2.Error as e:
            code = e.pgcode
            if code is None or self.conn.closed:
                self.failures.append("%s: the connection was lost (backend crash?): %s\n    statement: %s" % (
                    form, str(e).strip(), self.shown(sql, params)))
                raise SystemExit(self.report())
            self.codes[code] += 1
            if "\ufffd" in (e.pgerror or ""):
                # The client could not decode the message: it is not valid UTF-8.
                msg = "%s: SQLSTATE %s: the error message is not valid UTF-8 (cut inside a character?): ...%r\n" \
                      "    statement: %s" % (form, code, (e.pgerror or "").strip().splitlines()[0][-40:],
                                             self.shown(sql, params))
                self.failures.append(msg)
            if code[:2] in ("XX", "58") or (compute_call and code not in ALLOWED):
                self.failures.append("%s: SQLSTATE %s: %s\n    statement: %s" % (
                    form, code, (e.pgerror or "").strip().splitlines()[0], self.shown(sql, params)))
            if self.conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_INERROR:
                pass  # the caller's explicit transaction ends with ROLLBACK
            return code

    def shown(self, sql, params):
        try:
            text_ = self.cur.mogrify(sql, params).decode("utf-8", "replace")
        except Exception:
            text_ = sql
        return text_ if len(text_) < 600 else text_[:600] + "... (%d characters)" % len(text_)

    # ---- the forms ------------------------------------------------------

    def f_submit(self):
        fsql, fparams = files_sql()
        n = rng.randint(2, 4)
        args = ["%s::bytea", "%s::text", "%s::text", fsql][:n]
        params = [job_id(), text(), rng.choice([None, "cfg", "c" * rng.choice([1, 100000, 5000000])])][:min(n, 3)]
        params += fparams if n == 4 else []
        self.run("submit_job", "SELECT * FROM compute.submit_job(%s)" % ", ".join(args), params)

    def f_grab(self):
        if rng.random() < 0.3:
            self.run("grab_job", "SELECT * FROM compute.grab_job(%s::text)", [text()])
        else:
            self.run("grab_job", "SELECT * FROM compute.grab_job(%s::text, CAST(%s AS int))%s" % (
                "%s", "%s", rng.choice(["", " LIMIT 0", " LIMIT 1", " ORDER BY 1 DESC"])), [text(), max_jobs()])

    def f_finish(self):
        fsql, fparams = files_sql()
        if rng.random() < 0.2:
            self.run("finish_job", "SELECT * FROM compute.finish_job(%s::bytea, %s::text)", [job_id(), status()])
        else:
            self.run("finish_job", "SELECT * FROM compute.finish_job(%%s::bytea, %%s::text, %s)" % fsql,
                     [job_id(), status()] + fparams)

    def f_single(self):
        fn = rng.choice(["expire_job", "get_job", "queue_position", "delete_job"])
        self.run(fn, "SELECT compute.%s(%%s::bytea)" % fn, [job_id()])

    def f_interval(self):
        fn = rng.choice(["expire", "requeue_stale"])
        if fn == "expire" and rng.random() < 0.2:
            return self.run(fn, "SELECT compute.expire()")
        iv = interval()
        # A literal that does not parse fails before compute is called.
        self.run(fn, "SELECT compute.%s(CAST(%%s AS interval))" % fn, [iv])

    def f_bulk(self):
        sql = rng.choice([
            "SELECT count(compute.get_job(job_id)) FROM compute.jobs",
            "SELECT count(compute.queue_position(job_id)) FROM compute.jobs",
            "SELECT count(*) FROM (SELECT DISTINCT queue FROM compute.jobs) q, LATERAL compute.grab_job(q.queue, 3)",
            "SELECT count(compute.finish_job(job_id, 'complete', ARRAY['o'])) FROM compute.jobs"
            " WHERE status = 'in-progress' AND random() < 0.5",
            "SELECT count(compute.finish_job(job_id, 'failed')) FROM compute.jobs",
            "SELECT count(compute.expire_job(job_id)) FROM compute.jobs WHERE random() < 0.1",
            "SELECT count(compute.submit_job(job_id, queue || 'x', config, input_files)) FROM compute.jobs",
            "SELECT count(compute.submit_job(decode(md5(random()::text), 'hex'), 'q' || (i % 3)))"
            " FROM generate_series(1, 500) i",
            "SELECT count(compute.delete_job(job_id)) FROM compute.jobs WHERE status = 'expired' AND random() < 0.3",
            "SELECT (compute.get_job(job_id)).* FROM compute.jobs LIMIT 20",
            "SELECT compute.get_job(job_id) = j FROM compute.jobs j LIMIT 50",
            "UPDATE compute.jobs SET status = 'queued' WHERE status IN ('failed', 'expired') AND random() < 0.5",
            "UPDATE compute.jobs SET status = 'expired' WHERE random() < 0.05",
            "UPDATE compute.jobs SET status = 'in-progress' WHERE random() < 0.05",
            "INSERT INTO compute.jobs (job_id, status, queue) SELECT job_id, 'queued', queue FROM compute.jobs"
            " WHERE random() < 0.1 ON CONFLICT (job_id) DO UPDATE SET status = 'queued'",
            "INSERT INTO compute.jobs (job_id, status, queue) SELECT job_id, 'complete', queue FROM compute.jobs"
            " LIMIT 3 ON CONFLICT DO NOTHING",
            "WITH g AS (SELECT * FROM compute.grab_job('q1', 4)) SELECT count(compute.finish_job(job_id, 'complete'))"
            " FROM g",
            "SELECT compute.grab_job('q2', 2), compute.grab_job('q2', 2)",
            "SELECT compute._jobs_guard()",
        ])
        self.run("bulk", sql)

    def f_cursor(self):
        self.run("cursor", "BEGIN", compute_call=False)
        self.run("cursor", "DECLARE c CURSOR FOR SELECT * FROM compute.grab_job(%s, %s)", [text(), max_jobs()])
        self.run("cursor", "FETCH %d FROM c" % rng.randint(0, 3))
        if rng.random() < 0.3:
            self.run("cursor", "SELECT compute.finish_job(%s::bytea, %s)", [job_id(), status()])
        self.run("cursor", rng.choice(["COMMIT", "ROLLBACK"]), compute_call=False)

    def f_subtxn(self):
        # PL/pgSQL exception blocks: each compute call in a subtransaction.
        jid = job_id()
        body = rng.choice([
            "PERFORM compute.finish_job(%(id)s, 'complete'); PERFORM compute.finish_job(%(id)s, 'complete');",
            "PERFORM compute.grab_job('q0', 3); RAISE EXCEPTION 'undo';",
            "PERFORM compute.expire_job(%(id)s); PERFORM compute.submit_job(%(id)s, 'q0');",
            "PERFORM compute.submit_job(%(id)s, repeat('x', 40));",
            "PERFORM compute.requeue_stale('0'); PERFORM 1/0;",
        ])
        nested = rng.random() < 0.5
        sql = "DO $d$ BEGIN FOR i IN 1..%d LOOP BEGIN %s%s EXCEPTION WHEN others THEN NULL; END; END LOOP; END $d$" % (
            rng.randint(1, 20),
            "BEGIN " if nested else "", body % {"id": self.cur.mogrify("%s::bytea", [jid]).decode()})
        if nested:
            sql = sql.replace("EXCEPTION WHEN others THEN NULL; END; END LOOP",
                              "EXCEPTION WHEN division_by_zero THEN NULL; END; EXCEPTION WHEN others THEN NULL;"
                              " END; END LOOP")
        self.run("subtransaction", sql)

    def f_timeout(self):
        # Cancel a statement somewhere inside compute's C++ functions.
        self.run("timeout", "SET statement_timeout = '%dms'" % rng.randint(1, 3), compute_call=False)
        self.run("timeout", rng.choice([
            "SELECT count(compute.submit_job(decode(md5(random()::text), 'hex'), 'q' || (i % 3)))"
            " FROM generate_series(1, 20000) i",
            "SELECT count(compute.get_job(job_id)) FROM compute.jobs, generate_series(1, 20)",
            "SELECT compute.expire('0'), compute.requeue_stale('0')",
            "SELECT count(*) FROM compute.grab_job('q0', 100000)",
            "SELECT count(compute.queue_position(job_id)) FROM compute.jobs, generate_series(1, 20)",
        ]))
        self.run("timeout", "SET statement_timeout = '10s'", compute_call=False)

    def f_trigger(self):
        # A user trigger on compute.jobs that calls compute back.
        call = rng.choice(["PERFORM compute.get_job(NEW.job_id)", "PERFORM compute.queue_position(NEW.job_id)",
                           "PERFORM compute.expire_job(NEW.job_id)", "PERFORM compute.grab_job(NEW.queue, 2)",
                           "PERFORM compute.submit_job(NEW.job_id, NEW.queue)", "PERFORM compute.expire('0')"])
        self.run("trigger", "BEGIN", compute_call=False)
        self.run("trigger", "CREATE FUNCTION pg_temp.fz_back() RETURNS trigger LANGUAGE plpgsql AS"
                 " $t$ BEGIN %s; RETURN NEW; END $t$" % call, compute_call=False)
        self.run("trigger", "CREATE TRIGGER fz_back %s ON compute.jobs FOR EACH ROW EXECUTE FUNCTION pg_temp.fz_back()"
                 % rng.choice(["AFTER UPDATE", "BEFORE UPDATE", "AFTER INSERT OR UPDATE"]), compute_call=False)
        self.run("trigger", rng.choice([
            "SELECT count(*) FROM compute.grab_job('q0', 2)",
            "SELECT compute.expire_job(job_id) FROM compute.jobs WHERE status = 'queued' LIMIT 1",
            "SELECT compute.get_job(job_id) FROM compute.jobs LIMIT 3",
            "SELECT compute.submit_job(decode(md5(random()::text), 'hex'), 'q0')",
        ]))
        self.run("trigger", "ROLLBACK", compute_call=False)

    def f_prepared(self):
        self.run("prepared", "DEALLOCATE ALL", compute_call=False)
        self.run("prepared", "PREPARE g(text, int) AS SELECT * FROM compute.grab_job($1, $2)", compute_call=False)
        self.run("prepared", "PREPARE f(bytea, text) AS SELECT * FROM compute.finish_job($1, $2)", compute_call=False)
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.5:
                self.run("prepared", "EXECUTE g(%s, %s)", [text(), max_jobs()])
            else:
                self.run("prepared", "EXECUTE f(%s, %s)", [job_id(), status()])

    def f_copy(self):
        rows = []
        for _ in range(rng.randint(1, 20)):
            jid = rng.choice([rand_bytes(16), rand_bytes(3)] + KNOWN[:3])
            st = rng.choice(["queued", "queued", "complete", "bogus", "\\N"])
            rows.append("\\\\x%s\t%s\tq%d\n" % (jid.hex(), st, rng.randint(0, 2)))
        self.calls += 1
        self.by_form["copy"] += 1
        try:
            self.cur.copy_expert("COPY compute.jobs (job_id, status, queue) FROM STDIN", io.StringIO("".join(rows)))
        except psycopg2.Error as e:
            if e.pgcode is None:
                self.failures.append("copy: the connection was lost: %s" % e)
                raise SystemExit(self.report())
            self.codes[e.pgcode] += 1
            if e.pgcode[:2] in ("XX", "58"):
                self.failures.append("copy: SQLSTATE %s: %s" % (e.pgcode, e.pgerror))

    def f_lease(self):
        """The lease functions of version 1.1.0, when installed."""
        if not HAS_LEASES:
            return self.f_grab()
        attempt = rng.choice([None, -2147483648, -1, 0, 1, 2, 3, 2147483647, "row"])
        att_sql = "(SELECT attempt FROM compute.jobs WHERE job_id = %s::bytea)" if attempt == "row" else "CAST(%s AS int)"
        jid = job_id()
        att_params = [jid] if attempt == "row" else [attempt]
        r = rng.random()
        if r < 0.25:
            # A job in progress, with its own token or a neighbour of it.
            pick = ("(SELECT job_id, attempt FROM compute.jobs WHERE status = 'in-progress'"
                    " ORDER BY random() LIMIT 1) j")
            offset = rng.choice([0, 0, 0, -1, 1])
            if rng.random() < 0.5:
                return self.run("heartbeat", "SELECT f.* FROM %s, compute.heartbeat(j.job_id, j.attempt + %%s,"
                                " CAST(%%s AS interval)) f" % pick, [offset, interval()])
            return self.run("finish_job", "SELECT f.* FROM %s, compute.finish_job(j.job_id, %%s, NULL,"
                            " j.attempt + %%s) f" % pick, [rng.choice(["complete", "failed"]), offset])
        if r < 0.4:
            self.run("heartbeat", "SELECT * FROM compute.heartbeat(%%s::bytea, %s, CAST(%%s AS interval))" % att_sql,
                     [jid] + att_params + [interval()])
        elif r < 0.6:
            fsql, fparams = files_sql()
            self.run("finish_job", "SELECT * FROM compute.finish_job(%%s::bytea, %%s::text, %s, %s, %%s::text)" % (
                fsql, att_sql), [jid, status()] + fparams + att_params + [rng.choice([None, "", "boom", "e" * 100000])])
        elif r < 0.8:
            self.run("grab_job", "SELECT * FROM compute.grab_job(%s::text, CAST(%s AS int), CAST(%s AS interval))",
                     [text(), max_jobs(), interval()])
        else:
            if rng.random() < 0.5:
                self.run("max_attempts", "SET compute.max_attempts = %s" % rng.choice(
                    ["0", "-1", "1", "2", "5", "2147483647", "'abc'", "DEFAULT"]), compute_call=False)
            self.run("requeue_stale", "SELECT compute.requeue_stale()")

    def f_batch(self):
        """finish_jobs (1.1.0): batches of every shape, fenced or not."""
        if not HAS_LEASES:
            return self.f_finish()
        r = rng.random()
        st = status() if rng.random() < 0.3 else rng.choice(["complete", "failed"])
        if r < 0.35:
            # Jobs in progress, with their own tokens, some off by one.
            n = rng.choice([1, 2, 3, 10])
            off = rng.choice([0, 0, 0, 1, -1])
            fenced = rng.random() < 0.7
            return self.run("finish_jobs", "SELECT compute.finish_jobs(array_agg(job_id), %%s%s) FROM (SELECT job_id,"
                            " attempt FROM compute.jobs WHERE status = 'in-progress' ORDER BY random() LIMIT %d) j" % (
                                ", array_agg(attempt + %d)" % off if fenced else "", n), [st])
        if r < 0.5:
            # Grab a batch and finish it in one statement.
            return self.run("finish_jobs", "SELECT compute.finish_jobs(ARRAY(SELECT job_id FROM compute.grab_job(%s,"
                            " %s)), %s)", [rng.choice(QUEUES), rng.choice([1, 3, 10]), st])
        ids = [job_id() for _ in range(rng.choice([0, 1, 2, 5]))]
        if ids and rng.random() < 0.2:
            ids.append(ids[0])  # named twice
        shape = rng.random()
        if shape < 0.1:
            ids_sql, ids_params = "NULL::bytea[]", []
        elif shape < 0.2:
            ids_sql, ids_params = rng.choice(["'{}'::bytea[]", "'{{\\x00,\\x01},{\\x02,\\x03}}'::bytea[]",
                                               "'[3:4]={\\x00,\\x01}'::bytea[]", "ARRAY[NULL]::bytea[]"]), []
        else:
            ids_sql, ids_params = "%s::bytea[]", [ids]
        att = rng.choice([None, "omit", [1] * len(ids), [rng.choice([-1, 0, 1, 2, 2147483647]) for _ in ids],
                          [1] * (len(ids) + 1), [None] * len(ids)])
        if att == "omit":
            return self.run("finish_jobs", "SELECT compute.finish_jobs(%s, %%s)" % ids_sql, ids_params + [st])
        self.run("finish_jobs", "SELECT compute.finish_jobs(%s, %%s, %%s::int[])" % ids_sql, ids_params + [st, att])

    def f_hold(self):
        """A worker's life with leases (1.1.0), mostly valid: grab with a
        lease, heartbeat with the token, finish fenced; and the reaper."""
        if not HAS_LEASES:
            return self.f_grab()
        lease = rng.choice(["1 second", "50 milliseconds", "1 minute", "5 minutes", None])
        self.run("grab_job", "SELECT job_id, attempt FROM compute.grab_job(%s, %s, CAST(%s AS interval))",
                 [rng.choice(QUEUES), rng.choice([1, 2]), lease])
        self.cur.execute("SELECT job_id, attempt FROM compute.jobs WHERE status = 'in-progress'"
                         " ORDER BY random() LIMIT 2")
        rows = self.cur.fetchall()
        for jid, att in rows:
            for _ in range(rng.randint(0, 3)):
                self.run("heartbeat", "SELECT * FROM compute.heartbeat(%s, %s, CAST(%s AS interval))",
                         [jid, att, rng.choice([None, None, "1 second", "1 minute", "-1 second", "0"])])
            if rng.random() < 0.6:
                self.run("finish_job", "SELECT * FROM compute.finish_job(%s, %s, %s::text[], %s, %s)",
                         [jid, rng.choice(["complete", "failed"]), rng.choice([None, ["o"]]),
                          att + rng.choice([0, 0, 0, -1]), rng.choice([None, "why"])])
        if rng.random() < 0.2:
            self.run("requeue_stale", "SELECT compute.requeue_stale()")
        if rng.random() < 0.5:
            self.run("_queue_marks", "SELECT count(*) FROM compute._queue_marks()")

    def f_queue_forms(self):
        """The queue-carrying forms (1.2.0): a job in progress given its own
        queue, another one or a bad one, with its token or a neighbour of it;
        batches of one queue."""
        if not HAS_QUEUE_FORMS:
            return self.f_lease()
        if rng.random() < 0.5:
            pick = ("(SELECT job_id, attempt, queue FROM compute.jobs WHERE status = 'in-progress'"
                    " ORDER BY random() LIMIT %d) j")
            pick_params = []
        else:
            # Freshly grabbed.
            pick = "(SELECT job_id, attempt, queue FROM compute.grab_job(%%s::text, %d)) j"
            pick_params = [rng.choice(QUEUES)]
        queue_sql = rng.choice(["j.queue", "j.queue", "j.queue", "j.queue", "%s::text", "NULL::text", "''"])
        queue_params = [rng.choice(QUEUES + [text()])] if queue_sql == "%s::text" else []
        offset = rng.choice([0, 0, 0, 0, 0, -1, 1])
        r = rng.random()
        if r < 0.35:
            return self.run("heartbeat_in", ("SELECT f.* FROM %s, compute.heartbeat_in(%s, j.job_id, j.attempt + %%s,"
                                             " CAST(%%s AS interval)) f") % (pick % 1, queue_sql),
                            pick_params + queue_params + [offset, rng.choice([None, "1 minute", interval()])])
        if r < 0.7:
            return self.run("finish_job_in", ("SELECT f.* FROM %s, compute.finish_job_in(%s, j.job_id, %%s, %%s::text[],"
                                              " j.attempt + %%s, %%s) f") % (pick % 1, queue_sql),
                            pick_params + queue_params
                            + [rng.choice(["complete", "failed"]) if rng.random() < 0.8 else status(),
                               rng.choice([None, ["o"], ["o"], [""]]), offset, rng.choice([None, None, "why"])])
        n = rng.choice([1, 2, 3, 10])
        fenced = rng.random() < 0.7
        self.run("finish_jobs_in", ("SELECT compute.finish_jobs_in(min(%s), array_agg(j.job_id), %%s%s) FROM %s") % (
            queue_sql, ", array_agg(j.attempt + %d)" % offset if fenced else "", pick % n),
            queue_params + [rng.choice(["complete", "failed"]) if rng.random() < 0.8 else status()] + pick_params)

    def f_andgrab(self):
        """finish_and_grab and the waiting grab (1.2.0): waits of at most a
        few milliseconds (a longer one only sleeps)."""
        if not HAS_WAIT:
            return self.f_finish()
        wait = rng.choice(["0", "0", "0", "1 millisecond", "5 milliseconds"]) if rng.random() < 0.85 else \
            rng.choice(["-1 second", None, "garbage"])
        if rng.random() < 0.3:
            return self.run("grab_job", "SELECT * FROM compute.grab_job(%s, %s, CAST(%s AS interval), CAST(%s AS"
                            " interval))", [rng.choice(QUEUES), max_jobs(), rng.choice(["1 minute", None, "0"]), wait])
        st = status() if rng.random() < 0.1 else rng.choice(["complete", "failed"])
        if rng.random() < 0.7:
            # A worker's own job, with its token (or off by one).
            self.run("grab_job", "SELECT * FROM compute.grab_job(%s, 1, '1 minute')", [rng.choice(QUEUES)])
            return self.run("finish_and_grab", "SELECT g.* FROM (SELECT job_id, attempt FROM compute.jobs WHERE status"
                            " = 'in-progress' ORDER BY random() LIMIT 1) j, compute.finish_and_grab(j.job_id, %s, %s,"
                            " %s::text[], j.attempt + %s, NULL, %s, '1 minute', CAST(%s AS interval)) g",
                            [st, rng.choice(QUEUES), rng.choice([None, ["o"]]), rng.choice([0] * 6 + [1, -1]),
                             rng.choice([1, 1, 2, 5]), wait])
        fsql, fparams = files_sql()
        self.run("finish_and_grab", "SELECT * FROM compute.finish_and_grab(%%s::bytea, %%s, %%s, %s, CAST(%%s AS int),"
                 " %%s, CAST(%%s AS int), CAST(%%s AS interval), CAST(%%s AS interval))" % fsql,
                 [job_id(), st, text()] + fparams + [rng.choice([None, 0, 1, 2147483647]),
                                                     rng.choice([None, "why"]), max_jobs(), interval(), wait])

    def f_waitsubmit(self):
        """wait_job, submit_jobs and queue_channel (1.2.0); waits of a few
        milliseconds at most."""
        if not HAS_WAIT_JOB:
            return self.f_submit()
        r = rng.random()
        if r < 0.35:
            timeout = rng.choice(["0", "1 millisecond", "5 milliseconds"]) if rng.random() < 0.85 else \
                rng.choice(["-1 second", None, "garbage", "178000000 years"])
            if timeout == "178000000 years":
                timeout = "0"  # (a valid wait that long only sleeps)
            return self.run("wait_job", "SELECT * FROM compute.wait_job(%s::bytea, CAST(%s AS interval))",
                            [job_id(), timeout])
        if r < 0.7:
            n = rng.choice([1, 1, 2, 5, 20, 0])
            ids = [psycopg2.Binary(hashlib_md5("fz batch %d %d" % (rng.randrange(10 ** 6), i))) for i in range(n)]
            if ids and rng.random() < 0.3:
                ids = [job_id() for _ in range(n)]  # bad, NULL, known ids
            if ids and rng.random() < 0.1:
                ids.append(ids[0])  # named twice
            configs = rng.choice(["omit", None, ["c"] * len(ids), ["c"] * (len(ids) + 1), [None] * len(ids)])
            fsql, fparams = files_sql()
            args, params = ["%s::bytea[]", "%s"], [ids, text() if rng.random() < 0.3 else rng.choice(QUEUES)]
            if configs != "omit":
                args.append("%s::text[]")
                params.append(configs)
                if rng.random() < 0.7:
                    args.append(fsql)
                    params += fparams
            return self.run("submit_jobs", "SELECT * FROM compute.submit_jobs(%s)" % ", ".join(args), params)
        self.run("queue_channel", "SELECT compute.queue_channel(%s)", [text()])

    def f_observe(self):
        """The queue overview and the health check (1.2.0): read-only, with
        edge windows and thresholds now and then (mostly valid ones, so that
        both functions complete enough calls)."""
        if not HAS_OBSERVE:
            return self.f_single()

        def window():
            return rng.choice(["1 hour", "5 minutes", "0", "30 days"]) if rng.random() < 0.8 else interval()

        r = rng.random()
        if r < 0.2:
            cols = rng.choice(["*", "queue, queued, wait_p99", "queue, expired", "count(*)"])
            return self.run("queue_stats", "SELECT %s FROM compute.queue_stats" % cols, compute_call=False)
        if r < 0.6:
            return self.run("queue_stats", "SELECT * FROM compute.queue_stats(CAST(%s AS interval), %s)",
                            [window(), rng.choice([True, False, True, False, None])])
        names = ["horizon_warn", "horizon_critical", "lease_warn", "lease_critical", "stall_warn", "stall_critical",
                 "dead_warn", "dead_critical", "slot_warn_xids", "slot_critical_xids"]
        args, params = [], []
        for name in rng.sample(names, rng.choice([0, 0, 1, 1, 2, 3])):
            if name.startswith("dead"):
                args.append("%s => CAST(%%s AS float8)" % name)
                params.append(rng.choice([0.3, 0.6, 1, 0, 1.5, -1, "NaN", None]))
            elif name.startswith("slot"):
                args.append("%s => CAST(%%s AS bigint)" % name)
                params.append(rng.choice([10 ** 7, 10 ** 8, 0, 1, -1, None]))
            else:
                args.append("%s => CAST(%%s AS interval)" % name)
                params.append(window())
        self.run("health", "SELECT * FROM compute.health(%s)" % ", ".join(args), params)

    def f_rights(self):
        """Queue rights (1.2.0): grant and revoke them, and call compute as
        a role they limit (SET ROLE fz_worker)."""
        if not HAS_RIGHTS:
            return self.f_single()
        role = rng.choice(["fz_worker"] * 7 + ["fuzzer", None, "no_such_role"])
        pattern = rng.choice([rng.choice(QUEUES)] * 4 + ["q%", "q%", "%", "", "q_", "\\%", None, text(8)])
        right = rng.choice(["submit", "work", "admin"] * 5 + ["", "Work", None])
        if rng.random() < 0.7:
            self.run("grant_queue", "SELECT compute.grant_queue(%s::regrole, %s, %s)", [role, pattern, right])
        else:
            n = rng.randint(1, 3)
            self.run("revoke_queue", "SELECT compute.revoke_queue(%s)" % ", ".join(["%s::regrole", "%s", "%s"][:n]),
                     [role, pattern, right][:n])
        if rng.random() < 0.7:
            self.run("rights", "SET ROLE fz_worker", compute_call=False)
            for _ in range(rng.randint(1, 4)):
                # (Forms that read compute.jobs directly need the superuser.)
                rng.choice([self.f_submit, self.f_grab, self.f_finish, self.f_single, self.f_interval])()
                if self.conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                    self.cur.execute("ROLLBACK")
            self.run("rights", "RESET ROLE", compute_call=False)
        if rng.random() < 0.3:
            # Now and then all of them go: sqlsmith's role is not kept out for long.
            self.run("revoke_queue", "SELECT compute.revoke_queue(r) FROM unnest(ARRAY['fuzzer', 'fz_worker']::regrole[]) r")

    FORMS = [("f_submit", 14), ("f_grab", 12), ("f_finish", 12), ("f_single", 12), ("f_interval", 8), ("f_bulk", 10),
             ("f_cursor", 4), ("f_subtxn", 6), ("f_timeout", 4), ("f_trigger", 4), ("f_prepared", 3), ("f_copy", 3),
             ("f_lease", 10), ("f_batch", 8), ("f_hold", 8), ("f_rights", 6), ("f_andgrab", 8),
             ("f_waitsubmit", 12), ("f_observe", 8), ("f_queue_forms", 12)]

    def report(self):
        print("fuzz_calls: SQLSTATEs: %s" % ", ".join("%s x%d" % kv for kv in sorted(self.codes.items())))
        print("fuzz_calls: forms: %s" % ", ".join("%s=%d" % kv for kv in sorted(self.by_form.items())))
        for f in self.failures[:20]:
            print("fuzz_calls: FAIL: %s" % f)
        errors = sum(self.codes.values())
        if self.failures:
            print("fuzz_calls: FAILED (seed %d): %d statements, %d errors, %d failures" % (
                SEED, self.calls, errors, len(self.failures)))
            return 1
        print("fuzz_calls: passed (seed %d): %d statements, %d errors (all with an expected SQLSTATE)" % (
            SEED, self.calls, errors))
        return 0

    def main(self):
        names = [n for n, _ in self.FORMS]
        weights = [w for _, w in self.FORMS]
        end = time.time() + SECONDS
        n = 0
        while time.time() < end:
            if n % 200 == 0:
                self.refresh()
            n += 1
            getattr(self, rng.choices(names, weights)[0])()
            if self.conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                self.cur.execute("ROLLBACK")
        return self.report()


KNOWN = []
QUEUES = ["q0"]
HAS_LEASES = False
HAS_RIGHTS = False
HAS_WAIT = False
HAS_WAIT_JOB = False
HAS_OBSERVE = False
HAS_QUEUE_FORMS = False


def hashlib_md5(text_):
    return hashlib.md5(text_.encode()).digest()

if __name__ == "__main__":
    print("fuzz_calls: seed %d, %.0f s" % (SEED, SECONDS), flush=True)
    sys.exit(Fuzzer().main())
