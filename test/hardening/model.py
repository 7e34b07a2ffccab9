#!/usr/bin/python3
"""Random operations against a model of compute's state machine.

Several clients (threads, each with its own psycopg2 connection) run long,
seeded random sequences of every function of SPEC section 4 and the README
(1.1.0: grab_job with a lease, heartbeat, finish_job with a fencing token and
an error text, finish_jobs, requeue_stale() under compute.max_attempts) and
of plain SQL INSERT/UPDATE/DELETE on compute.jobs (an UPDATE naming attempt
presents a token), valid and invalid, in autocommit and
in explicit transactions (with and without savepoints, READ COMMITTED and
REPEATABLE READ, committed and rolled back). After every operation the
outcome is checked against a model of SPEC sections 3 and 5:

* every error carries the SQLSTATE the model predicts for that input;
* the lease columns: attempt + 1 on every grab and never changed otherwise,
  lease and lease_expires (= now() + lease) only while in-progress,
  heartbeat extends the lease (and, before 1.2.0, an explicit extend
  becomes the lease), lost_leases counted by requeue_stale() and reset by a
  resubmission, the crash-loop guard's failed status and error text, error
  only for a failed job; the rules that 1.2.0 changed follow the installed
  version (SPEC section 3);
* a refused operation changes nothing; an accepted one changes exactly what
  the model predicts, with the timestamp rules (queued: grabbed, finished,
  output_files NULL; in-progress: grabbed set; complete/failed: finished
  set, all to the transaction's now(); job_id and created never change).

What each client can predict exactly:

* its *private* jobs (a pool of job ids on queues of its own) are touched by
  no other client, so the model knows their every column;
* *shared* jobs (one pool on shared queues, used by every client) are
  contested. Inside an explicit transaction a client first locks the row
  (SELECT ... FOR UPDATE) and then predicts exactly; in autocommit it
  checks what can be checked (the SQLSTATE is one the input allows in some
  state, the returned row is consistent with the call, the row is valid);
* *global* operations (requeue_stale, expire, multi-row UPDATE/DELETE) run
  while no other client is inside an operation or a transaction (a
  readers-writer lock in the harness), so they are predicted exactly over
  the whole table; before each one the whole table is compared with the
  model (every private row exactly, every row valid).

Grabs are tracked against the database's own record: an AFTER trigger that
the harness adds on compute.jobs (table public.model_audit) logs every
committed row change with the backend pid that made it. Every job a grab
returns must be a grab by this client's backend, and the job must not have
been held in-progress by another client at that moment (the change before
it must have left the job queued). At the end, the whole audit trail is
replayed: every committed change follows the transition table, every
committed row version obeys the timestamp rules, created never changes,
attempt starts at 0 and goes up by one with each committed grab, and only then.

Environment: MODEL_SEED (random if unset; printed), MODEL_CLIENTS (4),
MODEL_OPS (operations per client, 1200), MODEL_DSN (libpq string; else the
PG* variables), MODEL_COLUMN_UPDATES=1 (also plain UPDATEs of grabbed/finished/output_files
without status: see the report), MODEL_MUTATE=<name> (a deliberately wrong
expectation or injected fault, to prove the check fails: table (finish from
queued allowed), sqlstate (22023 for a too-long queue), timestamps (finish
sets no finished), attempt (a grab starts no new attempt), lost-row (a row
deleted behind the model's back),
double-grab (a broken grab that hands out a job another client holds)).

The operation sequence of each client is drawn from random.Random(seed,
client); with several clients the interleaving (and so the states that later
choices see) is up to the scheduler. MODEL_CLIENTS=1 replays exactly.
"""

import collections
import datetime
import hashlib
import os
import random
import sys
import threading
import time
import traceback

try:
    import psycopg2
    import psycopg2.extensions
except ImportError:  # the shell wrapper installs python3-psycopg2
    sys.exit("model.py: python3-psycopg2 is missing (apt-get install python3-psycopg2)")

SEED = int(os.environ.get("MODEL_SEED") or random.SystemRandom().randrange(1, 2**31))
CLIENTS = int(os.environ.get("MODEL_CLIENTS", "4"))
OPS = int(os.environ.get("MODEL_OPS", "1200"))
DSN = os.environ.get("MODEL_DSN", "")
COLUMN_UPDATES = os.environ.get("MODEL_COLUMN_UPDATES") == "1"
MUTATE = os.environ.get("MODEL_MUTATE", "")
MAX_FAILURES = 25
SLACK = datetime.timedelta(seconds=2)

COLS = ("job_id", "status", "queue", "config", "input_files", "created", "last_accessed", "grabbed",
        "finished", "output_files", "attempt", "lease_expires", "lease", "lost_leases", "error")
SEL = ", ".join(COLS)
STATUSES = ("queued", "in-progress", "complete", "failed", "expired")
SHARED_QUEUES = ("sa", "sb")
N_PRIVATE = 24
N_SHARED = 32

CONCURRENCY_CODES = {"40P01", "40001"}  # deadlock, serialization failure
DEFAULT_LEASE = datetime.timedelta(minutes=5)
DEFAULT_MAX_ATTEMPTS = 5
# Set from the installed extension's version in main(): the rules that
# version 1.2.0 changed (SPEC section 3: failed -> expired, output files kept
# by a finish that names none; the README: heartbeat's extend keeps the
# grab's lease, a fenced finish of an unknown job is P0002).
V12 = False
PRELOADED = False  # the library preloaded: grabs scan from the queue marks


def allowed(frm, to):
    """SPEC section 3: may a job go from `frm` (None: new) to `to`?"""
    if MUTATE == "table" and frm == "queued" and to == "complete":
        return True  # a deliberately wrong expectation
    if to == "queued":
        return True
    if frm is None:
        return False
    return {
        "in-progress": frm == "queued",
        "complete": frm == "in-progress",
        "failed": frm == "in-progress",
        "expired": frm in ("queued", "in-progress", "complete") or (V12 and frm == "failed"),
    }[to]


class _Now:
    """Placeholder for "the transaction's now()" in a predicted row."""

    def __repr__(self):
        return "now()"


NOW = _Now()
UNKNOWN = object()  # a shared row whose state this client cannot know


class NowPlus:
    """Placeholder for "the transaction's now() + delta" (lease_expires)."""

    def __init__(self, delta):
        self.delta = delta

    def __repr__(self):
        return "now() + %s" % self.delta


class _Any:
    """Placeholder for a value the model cannot know (compared with nothing)."""

    def __repr__(self):
        return "any"


ANY = _Any()


def new_row(jid, queue, config, files, created=NOW, attempt=0):
    return {"job_id": jid, "status": "queued", "queue": queue, "config": config, "input_files": files,
            "created": created, "last_accessed": NOW, "grabbed": None, "finished": None, "output_files": None,
            "attempt": attempt, "lease_expires": None, "lease": None, "lost_leases": 0, "error": None}


def entering(row, to, lease=None):
    """The row after a transition to `to` (the trigger's effects)."""
    new = dict(row)
    frm = row["status"]
    new["status"] = to
    if to == "queued":
        new["grabbed"] = new["finished"] = new["output_files"] = None
        new["error"] = None
        if frm in ("complete", "failed", "expired"):  # a new submission: a new budget of lost leases
            new["lost_leases"] = 0
    elif to == "in-progress":
        new["grabbed"] = NOW
        if MUTATE != "attempt":  # the mutation: a grab that starts no new attempt
            new["attempt"] = row["attempt"] + 1
        new["lease"] = lease or DEFAULT_LEASE
        new["lease_expires"] = NowPlus(new["lease"])
    elif to in ("complete", "failed") and MUTATE != "timestamps":  # the mutation: a wrong timestamp rule
        new["finished"] = NOW
    if to == "complete":
        new["error"] = None
    if to != "in-progress":
        new["lease"] = new["lease_expires"] = None
    return new


def row_problems(r):
    """What is wrong with a stored row, per SPEC sections 2 and 3."""
    p = []
    if r["status"] not in STATUSES:
        p.append("status %r is not a valid status" % (r["status"],))
    if r["job_id"] is None or len(r["job_id"]) != 16:
        p.append("job_id is not 16 bytes")
    if r["queue"] is None or len(r["queue"]) > 32:
        p.append("bad queue %r" % (r["queue"],))
    if r["input_files"] is None:
        p.append("input_files is NULL")
    if r["created"] is None or r["last_accessed"] is None:
        p.append("created or last_accessed is NULL")
    if r["status"] == "queued" and (r["grabbed"] is not None or r["finished"] is not None
                                    or r["output_files"] is not None):
        p.append("queued but grabbed/finished/output_files not NULL")
    if r["status"] == "in-progress" and r["grabbed"] is None:
        p.append("in-progress but grabbed is NULL")
    if r["status"] in ("complete", "failed") and r["finished"] is None:
        p.append("%s but finished is NULL" % r["status"])
    if "attempt" in r:
        if r["attempt"] is None or r["attempt"] < 0 or r["lost_leases"] is None or r["lost_leases"] < 0:
            p.append("attempt %r or lost_leases %r not >= 0" % (r["attempt"], r["lost_leases"]))
        if r["status"] != "in-progress" and (r["lease"] is not None or r["lease_expires"] is not None):
            p.append("%s but holds a lease" % r["status"])
        if r["status"] == "in-progress" and r["attempt"] and (r["lease"] is None or r["lease_expires"] is None
                                                               or r["lease"] <= datetime.timedelta(0)):
            p.append("in-progress at attempt %d without a positive lease" % r["attempt"])
        if r["status"] == "complete" and r["error"] is not None:
            p.append("complete with an error text")
    return p


def norm(rec):
    if rec is None:
        return None
    r = dict(zip(COLS, rec))
    if r["job_id"] is not None:
        r["job_id"] = bytes(r["job_id"])
    return r


def hexid(b):
    return "NULL" if b is None else "\\x" + bytes(b).hex()


def B(b):
    return None if b is None else psycopg2.Binary(b)


def md5(text):
    return hashlib.md5(text.encode()).digest()


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def interval_negative(months, days, seconds):
    # interval_cmp: a month counts as 30 days, a day as 24 hours.
    return (months * 30 + days) * 86400 + seconds < 0


# Intervals for expire/requeue_stale: (text, months, days, seconds), the
# components from which the model works out whether it is negative (SPEC:
# 22023) or beyond the timestamp range (nothing is that old: 0, no error).
INTERVALS = [
    ("0 seconds", 0, 0, 0), ("1 microsecond", 0, 0, 0.000001), ("-0 seconds", 0, 0, 0),
    ("50 milliseconds", 0, 0, 0.05), ("1 hour", 0, 0, 3600), ("30 days", 0, 30, 0),
    ("1 month -29 days", 1, -29, 0), ("1 month -31 days", 1, -31, 0), ("-1 month 31 days", -1, 31, 0),
    ("-1 seconds", 0, 0, -1), ("-1 microsecond", 0, 0, -0.000001), ("2 hours", 0, 0, 7200),
    ("1 day -86401 seconds", 0, 1, -86401), ("100000000 years", 1200000000, 0, 0),
    ("-100000000 years", -1200000000, 0, 0),
]


class Interval:
    def __init__(self, text, months=0, days=0, seconds=0):
        self.text = text
        self.null = text is None
        self.negative = not self.null and interval_negative(months, days, seconds)
        # Beyond the timestamp range: now() - interval overflows.
        self.huge = not self.null and not self.negative and abs(months) > 12 * 200000


# Leases for grab_job and heartbeat: (text, timedelta or None, codes).
LEASES = [
    ("1 microsecond", datetime.timedelta(microseconds=1), set()),
    ("20 milliseconds", datetime.timedelta(milliseconds=20), set()),
    ("2 seconds", datetime.timedelta(seconds=2), set()),
    ("1 hour", datetime.timedelta(hours=1), set()),
    ("3 days", datetime.timedelta(days=3), set()),
    (None, None, {"22004"}), ("0", None, {"22023"}), ("-1 second", None, {"22023"}),
]


def pick_lease(rng, invalid_p=0.15):
    """(timedelta or None, codes, text): a lease argument."""
    if rng.random() < invalid_p:
        text, delta, codes = rng.choice(LEASES[5:])
    else:
        text, delta, codes = rng.choice(LEASES[:5])
    return delta, codes, text


def pick_interval(rng):
    if rng.random() < 0.08:
        return Interval(None)
    return Interval(*rng.choice(INTERVALS))


class RWLock:
    """Many operations at once, or one global operation alone (writers first)."""

    def __init__(self):
        self.cond = threading.Condition()
        self.readers = 0
        self.writer = False
        self.waiting = 0

    def acquire_read(self):
        with self.cond:
            while self.writer or self.waiting:
                self.cond.wait()
            self.readers += 1

    def release_read(self):
        with self.cond:
            self.readers -= 1
            if self.readers == 0:
                self.cond.notify_all()

    def acquire_write(self):
        with self.cond:
            self.waiting += 1
            while self.writer or self.readers:
                self.cond.wait()
            self.waiting -= 1
            self.writer = True

    def release_write(self):
        with self.cond:
            self.writer = False
            self.cond.notify_all()


class Result:
    __slots__ = ("code", "msg", "rows", "rowcount", "t0", "t1")

    def __init__(self, code, msg, rows, rowcount, t0, t1):
        self.code, self.msg, self.rows, self.rowcount, self.t0, self.t1 = code, msg, rows, rowcount, t0, t1


class Failure(Exception):
    pass


class Expect:
    """What the model predicts for one operation.

    codes: SQLSTATEs an error may carry; ok: whether success is allowed;
    changes: {job_id: predicted row or None} on success; result: a callable
    checking the function's result on success (raises Failure)."""

    def __init__(self, codes=(), ok=True, changes=None, result=None, invalid=False):
        self.codes = set(codes)
        self.ok = ok
        self.changes = changes or {}
        self.result = result
        self.invalid = invalid

    @classmethod
    def error(cls, *codes):
        return cls(codes=codes, ok=False, invalid=True)


class World:
    """State shared by the clients: the model of private rows, statistics."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rw = RWLock()
        self.model = {}  # job_id -> row dict or None (private rows only)
        self.retired = {}  # job_id -> the last attempt of a deleted private job
        self.owner = {}  # job_id -> client number (private), 'S' (shared)
        self.unknown = set()  # ids that no operation may create
        self.pid_client = {}
        self.failures = []
        self.stop = threading.Event()
        self.stats = collections.Counter()
        self.codes = collections.Counter()
        self.known_gaps = collections.Counter()
        self.grabs = []  # (client, job_id, grabbed, in a transaction) of grabs; None once rolled back

    def fail(self, where, text):
        with self.lock:
            self.failures.append("%s: %s" % (where, text))
        # The first failure stops every client (each ends its operation), so
        # that the report leads with the cause rather than its echoes.
        self.stop.set()

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


W = World()
SHARED_IDS = [md5("model %d shared %d" % (SEED, i)) for i in range(N_SHARED)]
for _jid in SHARED_IDS:
    W.owner[_jid] = "S"


def connect():
    conn = psycopg2.connect(DSN)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SET statement_timeout = '60s'")
    cur.execute("SET client_encoding = 'UTF8'")
    return conn


AUDIT_SQL = """
CREATE EXTENSION IF NOT EXISTS compute;
DROP TABLE IF EXISTS public.model_audit;
CREATE TABLE public.model_audit (
    seq bigserial PRIMARY KEY, job_id bytea, op text, old_status text, new_status text,
    pid int, created timestamptz, grabbed timestamptz, finished timestamptz,
    output_null boolean, problems text, attempt int);
CREATE INDEX ON public.model_audit (pid, seq);
CREATE INDEX ON public.model_audit (job_id, seq);
CREATE OR REPLACE FUNCTION public.model_audit_fn() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $f$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO public.model_audit (job_id, op, old_status, pid)
        VALUES (OLD.job_id, 'D', OLD.status, pg_backend_pid());
        RETURN OLD;
    END IF;
    INSERT INTO public.model_audit (job_id, op, old_status, new_status, pid, created, grabbed, finished,
                                    output_null, attempt)
    VALUES (NEW.job_id, left(TG_OP, 1), CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
            pg_backend_pid(), NEW.created, NEW.grabbed, NEW.finished, NEW.output_files IS NULL, NEW.attempt);
    RETURN NEW;
END $f$;
DROP TRIGGER IF EXISTS zz_model_audit ON compute.jobs;
CREATE TRIGGER zz_model_audit AFTER INSERT OR UPDATE OR DELETE ON compute.jobs
    FOR EACH ROW EXECUTE FUNCTION public.model_audit_fn();
"""


class Client:
    def __init__(self, n):
        self.n = n
        self.rng = random.Random("%d/%d" % (SEED, n))
        self.conn = connect()
        self.cur = self.conn.cursor()
        self.pid = self.conn.get_backend_pid()
        W.pid_client[self.pid] = n
        self.ids = [md5("model %d client %d job %d" % (SEED, n, i)) for i in range(N_PRIVATE)]
        self.unknown_ids = [md5("model %d client %d unknown %d" % (SEED, n, i)) for i in range(8)]
        # Private queues: two plain, one of exactly 32 characters, one multibyte.
        self.queues = ["c%da" % n, "c%db" % n, ("c%d" % n).ljust(32, "x"), "é" * 28 + "c%dq" % n]
        for jid in self.ids:
            W.model[jid] = None
            W.owner[jid] = n
        W.unknown.update(self.unknown_ids)
        self.txn = None
        self.opno = 0
        self.desc = ""

    # ---- plumbing -------------------------------------------------------

    def where(self):
        return "client %d op %d (seed %d) %s" % (self.n, self.opno, SEED, self.desc)

    def fail(self, text):
        raise Failure(text)

    def run(self, sql, params=None):
        t0 = utcnow()
        try:
            self.cur.execute(sql, params)
            rows = self.cur.fetchall() if self.cur.description else None
            res = Result(None, None, rows, self.cur.rowcount, t0, utcnow())
        except psycopg2.Error as e:
            if e.pgcode is None:
                raise
            res = Result(e.pgcode, (e.pgerror or "").strip().splitlines()[0], None, -1, t0, utcnow())
        W.count("statements")
        return res

    def must(self, sql, params=None):
        res = self.run(sql, params)
        if res.code:
            self.fail("harness statement failed: %s: %s [%s]" % (res.code, res.msg, sql))
        return res

    def fetch(self, jid):
        res = self.must("SELECT %s FROM compute.jobs WHERE job_id = %%s" % SEL, (B(jid),))
        return norm(res.rows[0]) if res.rows else None

    def kind(self, jid):
        if jid is None or len(jid) != 16:
            return "bad"
        if jid in W.unknown:
            return "unknown"
        owner = W.owner.get(jid)
        if owner == "S":
            return "shared"
        return "private" if owner == self.n else "foreign"

    def state(self, jid):
        """The row as this client knows it, None when absent, UNKNOWN."""
        k = self.kind(jid)
        if k in ("bad", "unknown"):
            return None
        if k == "private":
            if self.txn is not None and jid in self.txn["overlay"]:
                return self.txn["overlay"][jid]
            return W.model[jid]
        if self.txn is not None and jid in self.txn["locked"]:
            return self.txn["locked"][jid]
        return UNKNOWN

    def lock_shared(self, jid):
        """In a transaction, lock a shared row so that it can be predicted."""
        if self.txn is None or self.kind(jid) != "shared" or jid in self.txn["locked"]:
            return True
        res = self.run("SELECT %s FROM compute.jobs WHERE job_id = %%s FOR UPDATE" % SEL, (B(jid),))
        if res.code:
            if res.code in CONCURRENCY_CODES:
                self.concurrency_abort(res)
                return False
            self.fail("locking a shared row failed: %s %s" % (res.code, res.msg))
        self.txn["shared_touched"] = True
        if res.rows:  # a row that is absent cannot be locked: stays UNKNOWN
            self.txn["locked"][jid] = norm(res.rows[0])
        return True

    def concurrency_abort(self, res):
        W.codes[res.code] += 1
        W.count("concurrency aborts")
        self.finish_txn(commit=False, aborted=True)

    # ---- comparing ------------------------------------------------------

    def resolve(self, expected, actual, now_seen):
        """Compare a predicted row with a stored one; NOW must be the
        transaction's now(). Returns the row with NOW resolved."""
        if expected is None or actual is None:
            if expected is not actual and expected != actual:
                self.fail("row %s: expected %s, found %s" % (
                    hexid((expected or actual)["job_id"]), "absent" if expected is None else expected,
                    "absent" if actual is None else actual))
            return actual
        out = {}
        for c in COLS:
            e, a = expected[c], actual[c]
            if isinstance(e, NowPlus):
                if a is None:
                    self.fail("row %s: %s should be now() + %s, is NULL" % (hexid(actual["job_id"]), c, e.delta))
                if now_seen["value"] is None:
                    now_seen["value"] = a - e.delta
                elif a != now_seen["value"] + e.delta:
                    self.fail("row %s: %s = %s is not the transaction's now() %s + %s (whole row: %s)" % (
                        hexid(actual["job_id"]), c, a, now_seen["value"], e.delta, actual))
            elif e is ANY:
                pass
            elif e is NOW:
                if a is None:
                    self.fail("row %s: %s should be set, is NULL" % (hexid(actual["job_id"]), c))
                if now_seen["value"] is None:
                    now_seen["value"] = a
                elif a != now_seen["value"]:
                    self.fail("row %s: %s = %s is not the transaction's now() %s" % (
                        hexid(actual["job_id"]), c, a, now_seen["value"]))
            elif a != e:
                self.fail("row %s: %s expected %r, found %r (whole row: %s)" % (
                    hexid(actual["job_id"]), c, e, a, actual))
            out[c] = a
        return out

    def now_holder(self, res):
        if self.txn is not None:
            return {"value": self.txn["now"]}
        return {"value": None, "t0": res.t0, "t1": res.t1}

    def check_now(self, now_seen):
        v = now_seen.get("value")
        if v is not None and "t0" in now_seen and not (now_seen["t0"] - SLACK <= v <= now_seen["t1"] + SLACK):
            self.fail("timestamp %s is not the statement's now() (between %s and %s)" % (
                v, now_seen["t0"], now_seen["t1"]))

    def retired(self, jid):
        """The attempt a new job under this id starts at: 0, and from 1.2.0
        the last attempt of the deleted job (tokens never repeat)."""
        if not V12:
            return 0
        if self.kind(jid) != "private":
            return ANY  # a shared id: who deleted it at which attempt is unknown
        if self.txn is not None and jid in self.txn["retired"]:
            return self.txn["retired"][jid]
        return W.retired.get(jid, 0)

    def set_state(self, jid, row):
        k = self.kind(jid)
        if k == "private":
            old = self.state(jid)
            if row is None and isinstance(old, dict):
                (self.txn["retired"] if self.txn is not None else W.retired)[jid] = old["attempt"]
            if self.txn is not None:
                self.txn["overlay"][jid] = row
                self.txn["touched"].add(jid)
            else:
                W.model[jid] = row
        elif k == "shared" and self.txn is not None:
            self.txn["locked"][jid] = row

    # ---- one operation: predict, run, check -----------------------------

    def apply(self, sql, params, exp, targets):
        """Run one operation and check it against `exp`. `targets` are the job
        ids whose rows are re-read afterwards. Returns the Result."""
        sp = self.txn is not None and self.txn["savepoints"]
        if sp:
            self.must("SAVEPOINT op")
        before = {jid: self.state(jid) for jid in targets}
        if self.txn is not None and any(self.kind(j) == "shared" for j in targets):
            self.txn["shared_touched"] = True
        # A row this client cannot predict: a refusal must leave no change by
        # this backend in the audit trail (compared around the statement).
        audit_mark = None
        if any(st is UNKNOWN for st in before.values()) and (self.txn is None or sp):
            audit_mark = self.my_last_event()
        res = self.run(sql, params)
        if exp.invalid:
            W.count("invalid inputs")
        if res.code:
            W.codes[res.code] += 1
            if res.code in CONCURRENCY_CODES and self.txn is not None and (
                    any(self.kind(j) == "shared" for j in targets) or self.txn["shared_touched"]
                    or res.code == "40001" and self.txn["iso"] != "read committed"):
                if sp:
                    self.must("ROLLBACK TO SAVEPOINT op")
                    W.count("savepoint rollbacks")
                else:
                    self.concurrency_abort(res)
                return res
            if res.code not in exp.codes:
                self.fail("error %s (%s), but the model expects %s" % (
                    res.code, res.msg, "success" if not exp.codes else "one of " + ", ".join(sorted(exp.codes))))
            # A refused operation changes nothing.
            if sp:
                self.must("ROLLBACK TO SAVEPOINT op")
                W.count("savepoint rollbacks")
            elif self.txn is not None:
                self.txn["touched"].update(j for j in targets if self.kind(j) == "private")
                self.finish_txn(commit=False, aborted=True)
                return res
            for jid in targets:
                st = before[jid]
                if st is not UNKNOWN:
                    self.resolve(st, self.fetch(jid), {"value": None})
            if audit_mark is not None:
                if self.my_last_event() != audit_mark:
                    self.fail("refused with %s, but this backend's change is in the audit trail" % res.code)
                W.count("refused and unchanged (shared rows, by the audit trail)")
            W.count("refused and unchanged")
            return res
        if not exp.ok:
            self.fail("succeeded, but the model expects error %s" % ", ".join(sorted(exp.codes)))
        if sp:
            self.must("RELEASE SAVEPOINT op")
        now_seen = self.now_holder(res)
        if exp.result:
            exp.result(res, now_seen)
        for jid in targets:
            if jid is None or len(jid) != 16:
                continue
            after = self.fetch(jid)
            if jid in exp.changes:
                predicted = exp.changes[jid]
            else:
                predicted = before[jid]
            if predicted is UNKNOWN:
                if after is not None:
                    probs = row_problems(after)
                    if probs:
                        self.fail("row %s invalid after the operation: %s; %s" % (hexid(jid), probs, after))
                    if self.txn is not None and self.kind(jid) == "shared":
                        pass  # not locked by us: may change any time
                continue
            self.set_state(jid, self.resolve(predicted, after, now_seen))
        self.check_now(now_seen)
        return res

    # ---- picking arguments ----------------------------------------------

    def pick_id(self, want=None, creating=False):
        """A job id: mostly one of ours, some shared, some unknown or bad."""
        r = self.rng.random()
        if r < 0.06:
            return self.rng.choice([None, b"", b"\x01", self.rng.randbytes(15), self.rng.randbytes(17),
                                    self.rng.randbytes(32)])
        if r < 0.12 and not creating:
            return self.rng.choice(self.unknown_ids)
        if r < 0.38:
            return self.rng.choice(SHARED_IDS)
        if want:
            matching = [j for j in self.ids if (self.state(j) or {}).get("status") in want]
            if matching and self.rng.random() < 0.8:
                return self.rng.choice(matching)
        return self.rng.choice(self.ids)

    def queue_for(self, jid):
        if self.kind(jid) == "shared":
            return self.rng.choice(SHARED_QUEUES)
        return self.rng.choice(self.queues)

    def pick_queue(self, jid=None, invalid_p=0.12):
        """(queue, codes): a queue name and the SQLSTATEs it must raise."""
        if self.rng.random() < invalid_p:
            q = self.rng.choice([None, "", "q" * 33, "é" * 33, "x" * 1000, "\t" * 40])
            if q == "" and jid is not None and self.kind(jid) == "private":
                # Plain SQL may store an empty queue name (no constraint forbids
                # it), but '' would be one queue shared by every client.
                q = "q" * 33
            if q is None:
                return q, {"22004"}
            if q == "":
                return q, {"22023"}
            return q, {"22023"} if MUTATE == "sqlstate" else {"22001"}
        if jid is None:
            r = self.rng.random()
            if r < 0.35:
                return self.rng.choice(SHARED_QUEUES), set()
            if r < 0.40:
                return "nosuch%d" % self.n, set()
            return self.rng.choice(self.queues), set()
        return self.queue_for(jid), set()

    def pick_files(self, nullable, invalid_p=0.12):
        """(files, codes). files is a list, None, or the string 'omit'."""
        if self.rng.random() < invalid_p:
            f = self.rng.choice([None, [None], ["a", None], [""], ["a", ""], [["a", "b"], ["c", "d"]]])
            if f is None:
                return f, set() if nullable else {"22004"}
            if f and isinstance(f[0], list):
                return f, {"22023"}
            if None in f:
                return f, {"22004"}
            return f, {"22023"}
        return self.rng.choice([[], ["a"], ["in-1", "in-2"], ["é.txt", "x y"], ["f%d" % i for i in range(60)],
                                "omit"]), set()

    @staticmethod
    def id_codes(jid):
        if jid is None:
            return {"22004"}
        if len(jid) != 16:
            return {"22023"}
        return set()

    # ---- the operations -------------------------------------------------

    def op_submit(self):
        jid = self.pick_id(creating=True)
        queue, qcodes = self.pick_queue(jid)
        files, fcodes = self.pick_files(nullable=False)
        config = self.rng.choice([None, "cfg", "c" * 5000, "{\"é\": 1}", "omit"])
        args, params = ["%s", "%s"], [B(jid), queue]
        if config != "omit" or files != "omit":
            args.append("%s")
            params.append(None if config == "omit" else config)
        if files != "omit":
            args.append("%s::text[]")
            params.append(files)
        self.desc = "submit_job(%s, %r, %s, %r)" % (hexid(jid), queue, "..." if config else config, files)
        sql = "SELECT %s FROM compute.submit_job(%s)" % (SEL, ", ".join(args))
        codes = self.id_codes(jid) | qcodes | fcodes
        if codes:
            return self.apply(sql, params, Expect.error(*codes), [jid] if jid and len(jid) == 16 else [])
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        new_cfg = None if config == "omit" else config
        new_files = [] if files == "omit" else files
        if st is UNKNOWN:
            def check(res, now_seen):
                r = norm(res.rows[0])
                if r["job_id"] != jid or row_problems(r):
                    self.fail("submit_job returned %s" % r)
                if r["status"] == "failed" or r["status"] == "expired":
                    self.fail("submit_job returned a %s job instead of resubmitting it" % r["status"])
            return self.apply(sql, params, Expect(codes={"40001"}, result=check, changes={jid: UNKNOWN}), [jid])
        if st is None:
            new = new_row(jid, queue, new_cfg, new_files, attempt=self.retired(jid))
        elif st["status"] in ("queued", "in-progress", "complete"):
            new = dict(st, last_accessed=NOW)
        else:
            new = entering(dict(st, queue=queue, config=new_cfg, input_files=new_files, last_accessed=NOW), "queued")
        return self.apply(sql, params, Expect(changes={jid: new}, result=self.returns_row(jid, new)), [jid])

    def returns_row(self, jid, predicted):
        def check(res, now_seen):
            if len(res.rows) != 1:
                self.fail("expected one row, got %d" % len(res.rows))
            got = norm(res.rows[0])
            if predicted is None:
                if got["job_id"] is not None:
                    self.fail("expected NULL, got %s" % got)
                return
            self.resolve(predicted, got, now_seen)
        return check

    def op_grab(self):
        queue, qcodes = self.pick_queue()
        mx = self.rng.choice([1, 1, 2, 3, 4, 5])
        mcodes = set()
        if self.rng.random() < 0.08:
            mx = self.rng.choice([None, 0, -1, -2147483648])
            mcodes = {"22004"} if mx is None else {"22023"}
        omit = mx == 1 and self.rng.random() < 0.3
        lease, lcodes, lease_text = None, set(), "omit"
        if not omit and self.rng.random() < 0.5:
            lease, lcodes, lease_text = pick_lease(self.rng)
        self.desc = "grab_job(%r%s%s)" % (queue, "" if omit else ", %r" % mx,
                                         "" if lease_text == "omit" else ", %r" % lease_text)
        sql = "SELECT %s FROM compute.grab_job(%%s%s%s)" % (SEL, "" if omit else ", %s",
                                                         "" if lease_text == "omit" else ", %s::interval")
        params = ([queue] if omit else [queue, mx]) + ([] if lease_text == "omit" else [lease_text])
        mcodes |= lcodes
        if MUTATE == "double-grab" and queue in SHARED_QUEUES and self.opno % 7 == 0:
            # A broken grab: hands out a job that is already in progress.
            sql = ("SELECT %s FROM compute.jobs WHERE queue = %%s AND status = 'in-progress'"
                   " ORDER BY random() LIMIT 1" % SEL)
            params = [queue]
        if qcodes or mcodes:
            return self.apply(sql, params, Expect.error(*(qcodes | mcodes)), [])
        if queue in SHARED_QUEUES:
            return self.grab_shared(sql, params, queue, mx, lease)
        # A private (or unused) queue: exactly the oldest queued jobs.
        candidates = sorted((s for s in (self.state(j) for j in self.ids)
                             if s and s["status"] == "queued" and s["queue"] == queue),
                            key=lambda s: (s["created"], s["job_id"]))[:mx]
        changes = {s["job_id"]: entering(s, "in-progress", lease) for s in candidates}

        def check(res, now_seen):
            got = [norm(r) for r in res.rows]
            if [g["job_id"] for g in got] != [s["job_id"] for s in candidates]:
                self.fail("grab_job returned %s, the model expects %s (oldest queued first)" % (
                    [hexid(g["job_id"]) for g in got], [hexid(s["job_id"]) for s in candidates]))
            for g in got:
                self.resolve(changes[g["job_id"]], g, now_seen)
        res = self.apply(sql, params, Expect(changes=changes, result=check), list(changes))
        if res is not None and res.code is None:
            self.after_grab([norm(r) for r in res.rows])
        return res

    def grab_shared(self, sql, params, queue, mx, lease):
        def check(res, now_seen):
            got = [norm(r) for r in res.rows]
            if len(got) > mx:
                self.fail("grab_job returned %d jobs for max_jobs %d" % (len(got), mx))
            keys = [(g["created"], g["job_id"]) for g in got]
            if keys != sorted(keys):
                self.fail("grab_job did not return its jobs oldest first")
            for g in got:
                if g["status"] != "in-progress" or g["queue"] != queue or row_problems(g):
                    self.fail("grab_job returned %s" % g)
                if g["attempt"] < 1 or g["lease"] != (lease or DEFAULT_LEASE) \
                        or g["lease_expires"] != g["grabbed"] + g["lease"]:
                    self.fail("grab_job returned a job without the lease it asked for (%s): %s" % (lease, g))
                if now_seen["value"] is None:
                    now_seen["value"] = g["grabbed"]
                elif g["grabbed"] != now_seen["value"]:
                    self.fail("grab_job: grabbed is not the transaction's now(): %s" % g)
            if self.txn is not None:
                # Queued jobs of this queue that we hold locked cannot be skipped.
                mine = sorted(((s["created"], s["job_id"]) for s in self.txn["locked"].values()
                               if s and s["status"] == "queued" and s["queue"] == queue))
                if mine and len(got) < mx:
                    missing = [hexid(k[1]) for k in mine if k not in keys]
                    if missing and PRELOADED:
                        # README, Performance: a plain SELECT ... FOR UPDATE of
                        # queued rows (here this transaction's own, taken to
                        # predict them) can hide them from a grab that passes
                        # them; the mark moves past, and a full scan finds
                        # them within about a second. Documented, not covered.
                        with W.lock:
                            W.known_gaps["queued jobs locked by SELECT ... FOR UPDATE left behind the queue mark"
                                         " (README: not covered by the marks)"] += 1
                    elif missing:
                        self.fail("grab_job skipped queued jobs locked by this very transaction: %s" % missing)
        res = self.apply(sql, params, Expect(codes=set(), result=check), [])
        if res is not None and res.code is None:
            got = [norm(r) for r in res.rows]
            if self.txn is not None:
                for g in got:
                    self.txn["locked"][g["job_id"]] = g
                    self.txn["shared_touched"] = True
            self.after_grab(got)
        return res

    def after_grab(self, got):
        """Each grabbed job: a grab by our backend, of a job nobody held."""
        W.count("jobs grabbed", len(got))
        for g in got:
            res = self.must("SELECT seq, op, old_status, new_status, pid, grabbed FROM public.model_audit"
                            " WHERE job_id = %s ORDER BY seq DESC LIMIT 200", (B(g["job_id"]),))
            events = res.rows
            mine = None
            for i, ev in enumerate(events):
                if ev[4] == self.pid and ev[3] == "in-progress" and ev[2] == "queued" and ev[5] == g["grabbed"]:
                    mine = i
                    break
            if mine is None:
                held = [ev for ev in events if ev[3] == "in-progress"]
                other = W.pid_client.get(held[0][4], "pid %s" % held[0][4]) if held else None
                self.fail("grab returned job %s, but this client's backend did not grab it%s" % (
                    hexid(g["job_id"]), "; it is held by client %s since audit #%d" % (other, held[0][0])
                    if held else ""))
            prev = events[mine + 1] if mine + 1 < len(events) else None
            if prev is not None and prev[3] != "queued":
                self.fail("grab returned job %s while %s (audit #%d by client %s)" % (
                    hexid(g["job_id"]), prev[3], prev[0], W.pid_client.get(prev[4])))
            with W.lock:
                W.grabs.append((self.n, g["job_id"], g["grabbed"], self.txn is not None))
            if self.txn is not None:
                self.txn["grabs"].append(len(W.grabs) - 1)

    def my_last_event(self):
        return self.must("SELECT max(seq) FROM public.model_audit WHERE pid = pg_backend_pid()").rows[0][0]

    def holder(self, jid):
        """Which client's grab put the job in progress (from the audit)."""
        res = self.must("SELECT pid FROM public.model_audit WHERE job_id = %s AND new_status = 'in-progress'"
                        " AND old_status IS DISTINCT FROM 'in-progress' ORDER BY seq DESC LIMIT 1", (B(jid),))
        return W.pid_client.get(res.rows[0][0]) if res.rows else None

    def op_finish(self):
        jid = self.pick_id(want=("in-progress",))
        status = self.rng.choice(["complete", "complete", "failed", "failed", "queued", "in-progress", "expired",
                                  "done", "", "COMPLETE", "complete ", None] if self.rng.random() < 0.15
                                 else ["complete", "failed"])
        files, fcodes = self.pick_files(nullable=True)
        scodes = set()
        if status is None:
            scodes = {"22004"}
        elif status not in ("complete", "failed"):
            scodes = {"22023"}
        # The long form (1.1.0): a fencing token and an error text.
        lease_form = self.rng.random() < 0.5
        token, error = None, None
        if lease_form:
            st0 = self.state(jid) if jid is not None and len(jid) == 16 else None
            held = st0["attempt"] if isinstance(st0, dict) else self.rng.randint(0, 3)
            token = self.rng.choice([held, held, held, held - 1, held + 1, None, None])
            error = self.rng.choice([None, None, "why it failed", "é" * 50])
            if error is not None and status != "failed" and not scodes:
                scodes = {"22023"}  # an error text only for a failed job
        omit = files == "omit" and not lease_form
        if lease_form and files == "omit":
            files = None
        self.desc = "finish_job(%s, %r, %r%s)" % (hexid(jid), status, files,
                                                  ", attempt %r, error %r" % (token, error) if lease_form else "")
        if lease_form:
            sql = "SELECT %s FROM compute.finish_job(%%s, %%s, %%s::text[], %%s, %%s)" % SEL
            params = [B(jid), status, files, token, error]
        else:
            sql = "SELECT %s FROM compute.finish_job(%%s, %%s%s)" % (SEL, "" if omit else ", %s::text[]")
            params = [B(jid), status] + ([] if omit else [files])
        codes = self.id_codes(jid) | scodes | fcodes
        target = [jid] if jid is not None and len(jid) == 16 and self.kind(jid) != "foreign" else []
        if codes:
            return self.apply(sql, params, Expect.error(*codes), target)
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        out = None if omit else files
        fenced = token is not None
        if st is UNKNOWN:
            def check(res, now_seen):
                r = norm(res.rows[0])
                if r["job_id"] != jid or r["status"] != status or (out is not None and r["output_files"] != out) \
                        or row_problems(r) or (fenced and r["attempt"] != token):
                    self.fail("finish_job returned %s" % r)
            return self.apply(sql, params, Expect(codes={"55000", "P0002"}, result=check,
                                                  changes={jid: UNKNOWN}), [jid])
        if self.kind(jid) == "shared" and st and st["status"] == "in-progress":
            h = self.holder(jid)
            if h != self.n:
                W.count("finishes by a non-holder (exact)")
        if st is None:
            # A fenced finish of an unknown job: the lease is lost (1.1.0),
            # the job does not exist (1.2.0).
            return self.apply(sql, params, Expect.error("P0002" if V12 or not fenced else "55000"), target)
        if fenced and (st["status"] != "in-progress" or st["attempt"] != token):
            W.count("stale tokens refused" if st["status"] == "in-progress" else "tokens of jobs not in progress")
            return self.apply(sql, params, Expect(codes={"55000"}, ok=False), target)
        if not allowed(st["status"], status):
            return self.apply(sql, params, Expect(codes={"55000"}, ok=False), target)
        kept = st["output_files"] if V12 else None
        new = entering(dict(st, output_files=out if out is not None else kept,
                            error=error if lease_form else st["error"]), status)
        if fenced:
            W.count("fenced finishes")
        return self.apply(sql, params, Expect(changes={jid: new}, result=self.returns_row(jid, new)), [jid])

    def op_heartbeat(self):
        """heartbeat(job_id, attempt, extend) (1.1.0): fenced like a finish."""
        jid = self.pick_id(want=("in-progress",))
        st0 = self.state(jid) if jid is not None and len(jid) == 16 else None
        held = st0["attempt"] if isinstance(st0, dict) else self.rng.randint(0, 3)
        token = self.rng.choice([held] * 5 + [held - 1, held + 1, None])
        omit = self.rng.random() < 0.3
        extend, lcodes, text = (None, set(), None) if omit else pick_lease(self.rng)
        if not omit and text is None:
            lcodes = set()  # extend may be NULL: the grab's lease
        self.desc = "heartbeat(%s, %r%s)" % (hexid(jid), token, "" if omit else ", %r" % text)
        sql = "SELECT %s FROM compute.heartbeat(%%s, %%s%s)" % (SEL, "" if omit else ", %s::interval")
        params = [B(jid), token] + ([] if omit else [text])
        codes = self.id_codes(jid) | lcodes | ({"22004"} if token is None else set())
        target = [jid] if jid is not None and len(jid) == 16 and self.kind(jid) != "foreign" else []
        if codes:
            return self.apply(sql, params, Expect.error(*codes), target)
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        if st is UNKNOWN:
            def check(res, now_seen):
                r = norm(res.rows[0])
                if r["job_id"] != jid or r["status"] != "in-progress" or r["attempt"] != token or row_problems(r):
                    self.fail("heartbeat returned %s" % r)
            return self.apply(sql, params, Expect(codes={"55000", "P0002"}, result=check,
                                                  changes={jid: UNKNOWN}), [jid])
        if st is None:
            return self.apply(sql, params, Expect.error("55000", "P0002"), target)
        if st["status"] != "in-progress" or st["attempt"] != token:
            return self.apply(sql, params, Expect(codes={"55000"}, ok=False), target)
        length = extend or st["lease"] or DEFAULT_LEASE
        # 1.1.0: an explicit extend becomes the lease; 1.2.0: the grab's lease stays.
        lease = st["lease"] if V12 and st["lease"] is not None else length
        new = dict(st, lease=lease, lease_expires=NowPlus(length))
        W.count("heartbeats accepted")
        return self.apply(sql, params, Expect(changes={jid: new}, result=self.returns_row(jid, new)), [jid])

    def op_finish_jobs(self):
        """finish_jobs(job_ids, status, attempts) (1.1.0): all or none."""
        n = self.rng.choice([0, 1, 1, 2, 3])
        ids = [self.pick_id(want=("in-progress",)) for _ in range(n)]
        if ids and self.rng.random() < 0.08:
            ids.append(ids[0])  # a job named twice
        status = self.rng.choice(["complete", "failed"] * 6 + ["queued", None, "done"])
        fenced = self.rng.random() < 0.6
        attempts = None
        if fenced:
            attempts = []
            for j in ids:
                st0 = self.state(j) if j is not None and len(j) == 16 else None
                held = st0["attempt"] if isinstance(st0, dict) else self.rng.randint(0, 3)
                attempts.append(self.rng.choice([held] * 6 + [held + 1, held - 1]))
            if self.rng.random() < 0.06:
                attempts = attempts + [1]  # one token too many
            elif attempts and self.rng.random() < 0.04:
                attempts[0] = None
        null_ids = self.rng.random() < 0.03
        self.desc = "finish_jobs(%s, %r%s)" % ("NULL" if null_ids else [hexid(j) for j in ids], status,
                                               ", %r" % attempts if fenced else "")
        sql = "SELECT compute.finish_jobs(%%s::bytea[], %%s%s)" % (", %s::int[]" if fenced else "")
        params = [None if null_ids else [B(j) for j in ids], status] + ([attempts] if fenced else [])
        codes = set()
        if null_ids:
            codes |= {"22004"}
        for j in ids:
            codes |= self.id_codes(j)
        if status is None:
            codes |= {"22004"}
        elif status not in ("complete", "failed"):
            codes |= {"22023"}
        if fenced and (len(attempts) != len(ids)):
            codes |= {"22023"}
        if fenced and None in attempts:
            codes |= {"22004"}
        good = [j for j in ids if j is not None and len(j) == 16]
        target = sorted({j for j in good if self.kind(j) != "foreign"})
        if codes or null_ids:
            return self.apply(sql, params, Expect.error(*codes), target)
        for j in target:
            if not self.lock_shared(j):
                return
        states = {j: self.state(j) for j in target}
        unknown = any(st is UNKNOWN for st in states.values())
        if len(set(ids)) != len(ids):
            return self.apply(sql, params, Expect(codes={"22023", "55000", "P0002"}, ok=False), target)
        if not ids:
            return self.apply(sql, params, Expect(result=self.scalar(0)), [])
        refusal = set()
        for i, j in enumerate(ids):
            st = states[j]
            if st is UNKNOWN:
                continue
            if st is None:
                refusal |= {"P0002", "55000"} if fenced else {"P0002"}
            elif fenced and (st["status"] != "in-progress" or st["attempt"] != attempts[i]):
                refusal |= {"55000"}
            elif not allowed(st["status"], status):
                refusal |= {"55000"}
        if refusal:
            return self.apply(sql, params, Expect(codes=refusal | ({"55000", "P0002"} if unknown else set()),
                                                  ok=False), target)
        # All or none: on success every job finished, those this client
        # cannot see included.
        changes = {j: UNKNOWN if states[j] is UNKNOWN else entering(states[j], status) for j in ids}
        if not unknown:
            W.count("batches finished")
        return self.apply(sql, params, Expect(codes={"55000", "P0002"} if unknown else set(), changes=changes,
                                              result=self.scalar(len(ids))), target)

    def scalar(self, want):
        def check(res, now_seen):
            if res.rows[0][0] != want:
                self.fail("returned %s, the model expects %s" % (res.rows[0][0], want))
        return check

    def op_expire_job(self):
        jid = self.pick_id(want=("queued", "in-progress", "complete"))
        self.desc = "expire_job(%s)" % hexid(jid)
        sql = "SELECT %s FROM compute.expire_job(%%s)" % SEL
        codes = self.id_codes(jid)
        if codes:
            return self.apply(sql, [B(jid)], Expect.error(*codes), [])
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        if st is UNKNOWN:
            def check(res, now_seen):
                r = norm(res.rows[0])
                if r["job_id"] != jid or r["status"] != "expired" or row_problems(r):
                    self.fail("expire_job returned %s" % r)
            return self.apply(sql, [B(jid)], Expect(codes={"55000", "P0002"}, result=check,
                                                    changes={jid: UNKNOWN}), [jid])
        if st is None:
            return self.apply(sql, [B(jid)], Expect.error("P0002"), [jid])
        if not allowed(st["status"], "expired"):
            return self.apply(sql, [B(jid)], Expect(codes={"55000"}, ok=False), [jid])
        new = entering(st, "expired")
        return self.apply(sql, [B(jid)], Expect(changes={jid: new}, result=self.returns_row(jid, new)), [jid])

    def op_get_job(self):
        jid = self.pick_id()
        self.desc = "get_job(%s)" % hexid(jid)
        sql = "SELECT %s FROM compute.get_job(%%s)" % SEL
        codes = self.id_codes(jid)
        if codes:
            return self.apply(sql, [B(jid)], Expect.error(*codes), [])
        st = self.state(jid)
        if st is UNKNOWN:
            def check(res, now_seen):
                r = norm(res.rows[0])
                if r["job_id"] is not None and (r["job_id"] != jid or row_problems(r)):
                    self.fail("get_job returned %s" % r)
            return self.apply(sql, [B(jid)], Expect(result=check, changes={jid: UNKNOWN}), [jid])
        new = None if st is None else dict(st, last_accessed=NOW)
        return self.apply(sql, [B(jid)], Expect(changes={jid: new}, result=self.returns_row(jid, new)), [jid])

    def op_queue_position(self):
        jid = self.pick_id(want=("queued",))
        self.desc = "queue_position(%s)" % hexid(jid)
        sql = "SELECT compute.queue_position(%s)"
        codes = self.id_codes(jid)
        if codes:
            return self.apply(sql, [B(jid)], Expect.error(*codes), [])
        st = self.state(jid)
        if st is UNKNOWN or (st and self.kind(jid) == "shared"):
            def check(res, now_seen):
                pos = res.rows[0][0]
                if pos is not None and pos < 0:
                    self.fail("queue_position returned %s" % pos)
                if st is not UNKNOWN and (pos is None) != (st["status"] != "queued"):
                    self.fail("queue_position returned %s for a %s job" % (pos, st["status"]))
            return self.apply(sql, [B(jid)], Expect(result=check), [jid])
        if st is None or st["status"] != "queued":
            want = None
        else:
            want = sum(1 for s in (self.state(j) for j in self.ids)
                       if s and s["status"] == "queued" and s["queue"] == st["queue"]
                       and (s["created"], s["job_id"]) < (st["created"], st["job_id"]))

        def check(res, now_seen):
            if res.rows[0][0] != want:
                self.fail("queue_position returned %s, the model expects %s" % (res.rows[0][0], want))
        return self.apply(sql, [B(jid)], Expect(result=check), [jid])

    def op_delete_job(self):
        jid = self.pick_id(want=("failed", "expired", "complete"))
        self.desc = "delete_job(%s)" % hexid(jid)
        sql = "SELECT compute.delete_job(%s)"
        codes = self.id_codes(jid)
        if codes:
            return self.apply(sql, [B(jid)], Expect.error(*codes), [])
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        if st is UNKNOWN:
            return self.apply(sql, [B(jid)], Expect(changes={jid: UNKNOWN}), [jid])

        def check(res, now_seen):
            if res.rows[0][0] != (st is not None):
                self.fail("delete_job returned %s for %s job" % (res.rows[0][0], "a known" if st else "an unknown"))
        return self.apply(sql, [B(jid)], Expect(changes={jid: None}, result=check), [jid])

    def op_insert(self):
        """Plain INSERT (sometimes ON CONFLICT) into compute.jobs."""
        jid = self.pick_id(creating=True)
        if self.rng.random() < 0.15:
            jid = self.rng.choice([None, b"\x01" * 15, b""])  # bad ids: must not be created
        status = self.rng.choice(["queued"] * 6 + ["in-progress", "complete", "failed", "expired", "done",
                                                  "Queued", None])
        queue, qcodes = self.pick_queue(jid if jid and len(jid) == 16 and self.kind(jid) != "unknown" else None)
        files, fcodes = self.rng.choice([([], set()), (["i"], set()), ("omit", set()), (None, {"23502", "22004"})])
        extra = self.rng.random() < 0.3  # also set run columns (the trigger clears them for queued)
        created = self.rng.choice([None, "omit", "omit", datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
                                   + datetime.timedelta(seconds=self.rng.randrange(3))])
        conflict = self.rng.choice(["", "", " ON CONFLICT DO NOTHING", " ON CONFLICT (job_id) DO UPDATE SET"
                                    " status = 'queued', queue = EXCLUDED.queue",
                                    " ON CONFLICT (job_id) DO UPDATE SET status = 'complete'",
                                    " ON CONFLICT (job_id) DO UPDATE SET config = 'upserted'"])
        cols, vals, params = ["job_id", "status", "queue"], ["%s", "%s", "%s"], [B(jid), status, queue]
        if files != "omit":
            cols.append("input_files")
            vals.append("%s::varchar[]")
            params.append(files)
        if created != "omit":
            cols.append("created")
            vals.append("%s")
            params.append(created)
        if extra:
            cols += ["grabbed", "finished", "output_files"]
            vals += ["now()", "now()", "'{leftover}'"]
        sql = "INSERT INTO compute.jobs (%s) VALUES (%s)%s RETURNING %s" % (
            ", ".join(cols), ", ".join(vals), conflict, SEL)
        self.desc = "INSERT %s status=%r queue=%r files=%r created=%r extra=%s%s" % (
            hexid(jid), status, queue, files, created, extra, conflict)
        # Errors of the new row itself (before any conflict is looked at).
        codes = set()
        if jid is None:
            codes |= {"23502", "22004"}
        elif len(jid) != 16:
            codes |= {"23514", "22023"}
        if status is None:
            codes |= {"23502", "22004"}
        elif status not in STATUSES:
            codes |= {"22023", "23514"}
        elif status != "queued":
            codes |= {"55000"}
        if queue is None:
            codes |= {"23502", "22004"}
        elif len(queue) > 32:
            codes |= {"22001", "23514"}
        codes |= fcodes
        if created is None:
            codes |= {"23502", "22004"}
        if queue == "":
            # The trigger refuses an empty queue name, as the functions do.
            codes |= {"22023"}
        target = [jid] if jid is not None and len(jid) == 16 else []
        if codes:
            # The row is checked (BEFORE trigger, constraints) before any
            # conflict is looked at: a bad row fails either way.
            return self.apply(sql, params, Expect(codes=codes, ok=False, invalid=True), target)
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        if st is UNKNOWN:
            return self.apply(sql, params, Expect(codes={"23505", "55000", "40001"}, changes={jid: UNKNOWN}),
                              target)
        # An empty queue name breaks no constraint of the table (the functions
        # refuse it): either outcome is fine.
        soft = {"22023", "23514"} if queue == "" else set()
        if st is None:
            new = new_row(jid, queue, None, [] if files == "omit" else files, NOW if created == "omit" else created,
                          attempt=self.retired(jid))
            return self.apply(sql, params, Expect(codes=soft, changes={jid: new}, result=self.returns_rows([new])),
                              target)
        if not conflict:
            return self.apply(sql, params, Expect.error("23505"), target)
        if "NOTHING" in conflict:
            return self.apply(sql, params, Expect(changes={}, result=self.returns_rows([])), target)
        to = None
        if "config" in conflict:
            new = dict(st, config="upserted")
        else:
            to = "queued" if "'queued'" in conflict else "complete"
            if not allowed(st["status"], to):
                return self.apply(sql, params, Expect(codes={"55000"}, ok=False), target)
            new = entering(dict(st, queue=queue) if to == "queued" else st, to)
        return self.apply(sql, params, Expect(codes=soft if to == "queued" else set(), changes={jid: new},
                                              result=self.returns_rows([new])), target)

    def returns_rows(self, predicted):
        def check(res, now_seen):
            got = [norm(r) for r in res.rows]
            if len(got) != len(predicted):
                self.fail("expected %d rows back, got %d: %s" % (len(predicted), len(got), got))
            for p, g in zip(predicted, got):
                self.resolve(p, g, now_seen)
        return check

    def op_update(self):
        """Plain UPDATE of one job: a transition (SET status) or not."""
        jid = self.pick_id()
        st = None
        fence = None
        kind = self.rng.random()
        sets, params, codes = [], [], set()
        changes_status = None
        if kind < 0.6:
            status = self.rng.choice(list(STATUSES) * 3 + ["done", "", None, "in-progress-x", "status"])
            if status == "status":
                sets.append("status = status")
            else:
                sets.append("status = %s")
                params.append(status)
            changes_status = status
            if status in ("complete", "failed") and self.rng.random() < 0.35 and jid is not None and len(jid) == 16:
                # A token presented through plain SQL: the trigger fences it.
                st0 = self.state(jid)
                held = st0["attempt"] if isinstance(st0, dict) else self.rng.randint(0, 3)
                fence = self.rng.choice([held, held, held + 1, held - 1])
                sets.append("attempt = %s")
                params.append(fence)
            if status is None:
                codes |= {"23502", "22004"}
            elif status == "in-progress-x":
                codes |= {"22001"}
            elif status != "status" and status not in STATUSES:
                codes |= {"22023", "23514"}
            if status == "queued" and self.rng.random() < 0.5:
                q, _ = self.pick_queue(jid if jid and len(jid) == 16 else None, invalid_p=0.2)
                sets.append("queue = %s")
                params.append(q)
                if q is None:
                    codes |= {"23502", "22004"}
                elif len(q) > 32:
                    codes |= {"22001", "23514"}
                elif q == "":
                    codes |= {"22023"}  # the trigger refuses an empty queue name
                changes_status = ("queued", q)
        else:
            what = self.rng.choice(["last_accessed", "config", "input_files", "queue", "queue_bad", "files_null",
                                    "created_same", "created", "job_id", "job_id_bad"]
                                   + (["grabbed_null", "grabbed_now", "finished_null", "finished_now",
                                       "output_files"] if COLUMN_UPDATES else []))
            if what == "last_accessed":
                sets.append("last_accessed = now()")
            elif what == "config":
                sets.append("config = %s")
                params.append(self.rng.choice([None, "updated"]))
            elif what == "input_files":
                sets.append("input_files = %s::varchar[]")
                params.append(["u1", "u2"])
            elif what == "queue":
                sets.append("queue = %s")
                params.append(self.queue_for(jid) if jid and len(jid) == 16 else "sa")
            elif what == "queue_bad":
                sets.append("queue = %s")
                params.append(self.rng.choice([None, "q" * 33]))
                codes |= {"23502", "22004"} if params[-1] is None else {"22001", "23514"}
            elif what == "files_null":
                sets.append("input_files = NULL")
                codes |= {"23502", "22004"}
            elif what == "created_same":
                sets.append("created = created")
            elif what == "created":
                sets.append("created = created + interval '1 second'")
                codes |= {"55000"}
            elif what == "job_id":
                sets.append("job_id = %s")
                params.append(B(md5("model %d moved %d" % (SEED, self.rng.randrange(10**9)))))
                codes |= {"55000"}
            elif what == "job_id_bad":
                sets.append("job_id = '\\x01'::bytea")
                codes |= {"55000", "23514"}
            elif what.endswith("_null"):
                sets.append("%s = NULL" % what[:-5])
            elif what.endswith("_now"):
                sets.append("%s = now()" % what[:-4])
            else:
                sets.append("output_files = '{sneaked}'")
            changes_status = what
        returning = self.rng.random() < 0.5
        sql = "UPDATE compute.jobs SET %s WHERE job_id = %%s%s" % (", ".join(sets), " RETURNING " + SEL if returning
                                                                   else "")
        params.append(B(jid))
        self.desc = "UPDATE %s SET %s %r" % (hexid(jid), ", ".join(sets), params[:-1])
        target = [jid] if jid is not None and len(jid) == 16 and self.kind(jid) != "foreign" else []
        if not target:
            # No row matches: nothing happens (constant errors may still be raised).
            return self.apply(sql, params, Expect(codes=codes & {"22001"}, result=self.count_rows(0)), [])
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        if st is None:
            return self.apply(sql, params, Expect(codes=codes & {"22001"}, result=self.count_rows(0)), target)
        if st is UNKNOWN:
            return self.apply(sql, params, Expect(codes=codes | {"55000", "40001"}, changes={jid: UNKNOWN},
                                                  invalid=bool(codes)), target)
        if codes:
            return self.apply(sql, params, Expect(codes=codes, ok=False, invalid=True), target)
        # A valid statement on a known row.
        if kind < 0.6:
            to = st["status"] if changes_status == "status" else changes_status
            queue = None
            if isinstance(to, tuple):
                to, queue = to
            if fence is not None and (st["status"] != "in-progress" or st["attempt"] != fence):
                W.count("stale tokens refused (plain SQL)")
                return self.apply(sql, params, Expect(codes={"55000"}, ok=False), target)
            if not allowed(st["status"], to):
                return self.apply(sql, params, Expect(codes={"55000"}, ok=False), target)
            new = entering(st if queue is None else dict(st, queue=queue), to)
        else:
            w = changes_status
            new = dict(st)
            if w == "last_accessed":
                new["last_accessed"] = NOW
            elif w == "config":
                new["config"] = params[0]
            elif w == "input_files":
                new["input_files"] = ["u1", "u2"]
            elif w == "queue":
                new["queue"] = params[0]
            elif w.endswith("_null"):
                new[w[:-5]] = None
            elif w.endswith("_now"):
                new[w[:-4]] = NOW
            elif w == "output_files":
                new["output_files"] = ["sneaked"]
            if w in ("grabbed_null", "grabbed_now", "finished_null", "finished_now", "output_files"):
                # The spec does not say; what must hold is the timestamp rules:
                # an UPDATE that would break them must be refused (unchanged).
                placeholder = {c: (st["created"] if v is NOW else v) for c, v in new.items()}
                if row_problems(placeholder):
                    return self.apply(sql, params, Expect(codes={"55000", "23514", "22023"}, ok=False), target)
        return self.apply(sql, params, Expect(changes={jid: new}, result=self.returns_rows([new])
                                              if returning else self.count_rows(1)), target)

    def count_rows(self, n):
        def check(res, now_seen):
            if res.rowcount != n:
                self.fail("expected %d rows affected, got %d" % (n, res.rowcount))
        return check

    def op_delete(self):
        jid = self.pick_id()
        self.desc = "DELETE %s" % hexid(jid)
        sql = "DELETE FROM compute.jobs WHERE job_id = %s"
        if jid is None or len(jid) != 16 or self.kind(jid) == "foreign":
            return self.apply(sql, [B(jid)], Expect(result=self.count_rows(0)), [])
        if not self.lock_shared(jid):
            return
        st = self.state(jid)
        if st is UNKNOWN:
            return self.apply(sql, [B(jid)], Expect(changes={jid: UNKNOWN}), [jid])
        return self.apply(sql, [B(jid)], Expect(changes={jid: None}, result=self.count_rows(1 if st else 0)), [jid])

    # ---- transactions ---------------------------------------------------

    def begin_txn(self):
        W.rw.acquire_read()
        iso = "repeatable read" if self.rng.random() < 0.15 else "read committed"
        self.must("BEGIN ISOLATION LEVEL " + iso.upper())
        now = self.must("SELECT now()").rows[0][0]
        self.txn = {"now": now, "overlay": {}, "locked": {}, "touched": set(), "grabs": [], "retired": {},
                    "savepoints": self.rng.random() < 0.5, "iso": iso, "shared_touched": False,
                    "left": self.rng.randint(1, 6)}
        W.count("transactions")

    def finish_txn(self, commit, aborted=False):
        txn = self.txn
        self.txn = None
        try:
            if commit:
                res = self.run("COMMIT")
                if res.code:
                    self.fail("COMMIT failed: %s %s" % (res.code, res.msg))
                W.model.update(txn["overlay"])
                W.retired.update(txn["retired"])
                W.count("transactions committed")
            else:
                self.must("ROLLBACK")
                W.count("transactions aborted by an error" if aborted else "transactions rolled back")
                with W.lock:
                    for i in txn["grabs"]:
                        W.grabs[i] = None
            # Every private row the transaction touched: as committed, or as before.
            for jid in txn["touched"] | set(txn["overlay"]):
                self.resolve(W.model[jid], self.fetch(jid), {"value": None})
        finally:
            W.rw.release_read()

    # ---- the loop -------------------------------------------------------

    OPS_TABLE = [("submit", 14), ("grab", 14), ("finish", 14), ("expire_job", 5), ("get_job", 6),
                 ("queue_position", 5), ("delete_job", 4), ("insert", 7), ("update", 14), ("delete", 3),
                 ("heartbeat", 6), ("finish_jobs", 5), ("global", 3)]

    def step(self):
        names = [n for n, _ in self.OPS_TABLE]
        weights = [w for _, w in self.OPS_TABLE]
        op = self.rng.choices(names, weights)[0]
        if op == "global":
            if self.txn is None:
                W.count("global operations")
                global_op(self)
                return
            op = "get_job"
        started_here = False
        if self.txn is None:
            if self.rng.random() < 0.2:
                self.begin_txn()
            else:
                W.rw.acquire_read()
                started_here = True
        try:
            getattr(self, "op_" + op)()
            W.count("operations")
            W.count("op " + op)
        finally:
            if started_here:
                W.rw.release_read()
        if self.txn is not None:
            self.txn["left"] -= 1
            if self.txn["left"] <= 0:
                self.finish_txn(commit=self.rng.random() < 0.8)

    def main(self):
        try:
            for self.opno in range(1, OPS + 1):
                if W.stop.is_set():
                    break
                self.desc = ""
                self.step()
                if MUTATE == "lost-row" and self.n == 0 and self.opno == OPS // 2:
                    lose_a_row(self)
            if self.txn is not None:
                self.finish_txn(commit=True)
        except Failure as e:
            W.fail(self.where(), str(e))
            if self.txn is not None:
                try:
                    self.txn["overlay"].clear()
                    self.finish_txn(commit=False)
                except Exception:
                    pass
        except Exception:
            W.fail(self.where(), "harness error:\n" + traceback.format_exc())
            W.stop.set()


class Checker(Client):
    """The final check, on a connection of its own."""

    def __init__(self):
        self.n, self.opno, self.desc, self.txn = "final", 0, "", None
        self.conn = connect()
        self.cur = self.conn.cursor()


def lose_a_row(client):
    """MODEL_MUTATE=lost-row: a row vanishes behind the model's back."""
    other = psycopg2.connect(DSN)
    other.autocommit = True
    present = [j for j in client.ids if W.model[j] is not None]
    if present:
        other.cursor().execute("DELETE FROM compute.jobs WHERE job_id = %s", (B(present[0]),))
    other.close()


# ---- global operations: alone, predicted over the whole table --------------


def read_table(client):
    res = client.must("SELECT %s FROM compute.jobs ORDER BY job_id" % SEL)
    return {bytes(r[0]): norm(r) for r in res.rows}


def check_table(client, table, when):
    """Every row valid; private rows exactly as modeled; no stray rows."""
    for jid, r in table.items():
        probs = row_problems(r)
        if probs:
            client.fail("%s: row %s is invalid: %s; %s" % (when, hexid(jid), probs, r))
        if jid in W.unknown:
            client.fail("%s: job %s exists, but no operation could create it" % (when, hexid(jid)))
        if jid not in W.owner:
            client.fail("%s: unexpected job %s in the table" % (when, hexid(jid)))
    for jid, owner in W.owner.items():
        if owner == "S":
            continue
        if W.model[jid] != table.get(jid):
            client.fail("%s: private job %s of client %s: model %s, table %s" % (
                when, hexid(jid), owner, W.model[jid], table.get(jid)))


def global_op(client):
    W.rw.acquire_write()
    try:
        global_op_alone(client)
    finally:
        try:
            if client.conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                client.run("ROLLBACK")
        finally:
            W.rw.release_write()


def global_op_alone(client):
    rng = client.rng
    if True:
        client.desc = "global"
        before = read_table(client)
        check_table(client, before, "before a global operation")
        W.count("whole-table checks")
        iso = rng.choice(["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
        client.must("BEGIN ISOLATION LEVEL " + iso)
        now = client.must("SELECT now()").rows[0][0]
        queues = sorted({r["queue"] for r in before.values()} | set(SHARED_QUEUES))
        kind = rng.choice(["requeue_stale", "requeue_stale", "expire", "expire", "status", "status", "resubmit",
                           "delete", "age", "requeue_leases", "requeue_leases", "requeue_leases"])
        exp_table = dict(before)
        result = None
        codes = set()
        params = []
        if kind in ("requeue_stale", "expire"):
            iv = pick_interval(rng)
            if kind == "expire" and rng.random() < 0.1:
                iv = Interval("30 days", 0, 30, 0)
                sql = "SELECT compute.expire()"
            else:
                sql = "SELECT compute.%s(%%s::interval)" % kind
                params = [iv.text]
            client.desc = "global %s" % (sql % tuple(repr(p) for p in params))
            if iv.null:
                codes = {"22004"}
            elif iv.negative:
                codes = {"22023"}
            elif iv.huge:
                # Nothing is older than that: 0.
                result = 0
            else:
                threshold = client.must("SELECT now() - %s::interval", (iv.text,)).rows[0][0]
                n = 0
                for jid, r in before.items():
                    if kind == "expire" and r["status"] == "complete" and r["last_accessed"] < threshold:
                        exp_table[jid] = entering(r, "expired")
                        n += 1
                    if kind == "requeue_stale" and r["status"] == "in-progress" and r["grabbed"] is not None \
                            and r["grabbed"] < threshold:
                        exp_table[jid] = entering(r, "queued")
                        n += 1
                result = n
        elif kind == "requeue_leases":
            # requeue_stale() (1.1.0): jobs whose lease ran out go back to the
            # queue, or fail once they lost compute.max_attempts leases.
            max_attempts = rng.choice([None, 1, 2, 3, 5])
            if max_attempts is not None:
                client.must("SET LOCAL compute.max_attempts = %d" % max_attempts)
            limit = max_attempts or DEFAULT_MAX_ATTEMPTS
            sql = "SELECT compute.requeue_stale()"
            client.desc = "global requeue_stale() with compute.max_attempts = %s" % limit
            n = 0
            for jid, r in before.items():
                if r["status"] == "in-progress" and r["lease_expires"] is not None and r["lease_expires"] < now:
                    lost = r["lost_leases"] + 1
                    if lost >= limit:
                        exp_table[jid] = dict(entering(r, "failed"), lost_leases=lost, error=(
                            "lease lost %d times (compute.max_attempts = %d): the job may be crashing its workers"
                            % (lost, limit)))
                        W.count("jobs failed by the crash-loop guard")
                    else:
                        exp_table[jid] = dict(entering(r, "queued"), lost_leases=lost)
                    n += 1
            W.count("leases taken back", n)
            result = n
        elif kind == "status":
            to = rng.choice(STATUSES)
            q = rng.choice(queues)
            sql = "UPDATE compute.jobs SET status = %s WHERE queue = %s"
            params = [to, q]
            client.desc = "global UPDATE SET status = %r WHERE queue = %r" % (to, q)
            rows = [r for r in before.values() if r["queue"] == q]
            if any(not allowed(r["status"], to) for r in rows):
                codes = {"55000"}  # one forbidden row: no row changes
            else:
                for r in rows:
                    exp_table[r["job_id"]] = entering(r, to)
                result = len(rows)
        elif kind == "resubmit":
            sql = "UPDATE compute.jobs SET status = 'queued' WHERE status IN ('failed', 'expired')"
            client.desc = "global " + sql
            rows = [r for r in before.values() if r["status"] in ("failed", "expired")]
            for r in rows:
                exp_table[r["job_id"]] = entering(r, "queued")
            result = len(rows)
        elif kind == "delete":
            q = rng.choice(queues)
            sql = "DELETE FROM compute.jobs WHERE status IN ('expired', 'failed') AND queue = %s"
            params = [q]
            client.desc = "global DELETE expired/failed of %r" % q
            rows = [r for r in before.values() if r["status"] in ("expired", "failed") and r["queue"] == q]
            for r in rows:
                exp_table[r["job_id"]] = None
            result = len(rows)
        else:
            sql = "UPDATE compute.jobs SET last_accessed = last_accessed - interval '2 hours' WHERE status = 'complete'"
            client.desc = "global " + sql
            rows = [r for r in before.values() if r["status"] == "complete"]
            for r in rows:
                exp_table[r["job_id"]] = dict(r, last_accessed=r["last_accessed"] - datetime.timedelta(hours=2))
            result = len(rows)
        res = client.run(sql, params)
        if codes or res.code:
            W.count("invalid inputs" if codes else "global refusals")
            if res.code:
                W.codes[res.code] += 1
            if res.code not in codes:
                client.fail("error %s (%s), the model expects %s" % (res.code, res.msg, codes or "success"))
            client.must("ROLLBACK")
            after = read_table(client)
            if after != before:
                client.fail("a refused global operation changed the table")
            return
        got = res.rows[0][0] if res.rows else res.rowcount
        if got != result:
            client.fail("returned %s, the model expects %s" % (got, result))
        after = read_table(client)
        now_seen = {"value": now}
        for jid in set(after) | {j for j, r in exp_table.items() if r is not None}:
            client.resolve(exp_table.get(jid), after.get(jid), now_seen)
        if rng.random() < 0.15:
            client.must("ROLLBACK")
            W.count("global operations rolled back")
            if read_table(client) != before:
                client.fail("a rolled-back global operation changed the table")
            return
        client.must("COMMIT")
        final = read_table(client)
        if final != after:
            client.fail("the table after COMMIT differs from inside the transaction")
        for jid, owner in W.owner.items():
            if owner != "S":
                if W.model[jid] is not None and final.get(jid) is None:
                    W.retired[jid] = W.model[jid]["attempt"]
                W.model[jid] = final.get(jid)


# ---- the end: the whole table, the audit trail ------------------------------


def replay_audit(client):
    """Every committed change, in order, per job: follows the table."""
    res = client.must("SELECT seq, job_id, op, old_status, new_status, pid, created, grabbed, finished,"
                      " output_null, attempt FROM public.model_audit ORDER BY job_id, seq")
    last = {}
    created = {}
    attempts = {}
    events = 0
    grab_events = set()
    for seq, jid, op, old, new, pid, cr, gr, fi, onull, att in res.rows:
        jid = bytes(jid)
        events += 1
        where = "audit #%d job %s" % (seq, hexid(jid))
        prev = last.get(jid)
        if op == "I":
            if prev is not None:
                W.fail(where, "inserted while it existed (as %s)" % prev)
            if new != "queued":
                W.fail(where, "created as %s" % new)
            # From 1.2.0 a job created again under a deleted job's id goes
            # on from its last attempt (tokens never repeat).
            start = attempts.get(jid, 0) if V12 else 0
            if att != start:
                W.fail(where, "created at attempt %s, not %d" % (att, start))
            created[jid] = cr
        elif op == "U":
            if old != prev:
                W.fail(where, "old status %s, but the previous committed change left %s" % (old, prev))
            if old != new and not allowed(old, new):
                W.fail(where, "committed a forbidden change %s -> %s" % (old, new))
            if cr != created.get(jid):
                W.fail(where, "created changed from %s to %s" % (created.get(jid), cr))
            if new == "in-progress" and old == "queued":
                grab_events.add((W.pid_client.get(pid), jid, gr))
            # Every grab starts a new attempt; nothing else changes it.
            want = attempts.get(jid, 0) + (1 if new == "in-progress" and old == "queued" else 0)
            if att != want:
                W.fail(where, "attempt %s after %s -> %s, but %d grabs of the job were committed before" % (
                    att, old, new, attempts.get(jid, 0) + (1 if want != attempts.get(jid, 0) else 0)))
        else:
            if old != prev:
                W.fail(where, "deleted as %s, but the previous committed change left %s" % (old, prev))
            new = None
        if new is not None:
            problems = row_problems({"job_id": jid, "status": new, "queue": "q", "input_files": [],
                                     "created": cr, "last_accessed": cr, "grabbed": gr, "finished": fi,
                                     "output_files": None if onull else ["x"]})
            if problems:
                W.fail(where, "committed row version breaks the rules: %s" % problems)
        last[jid] = new
        if att is not None:
            attempts[jid] = att
    table = read_table(client)
    for jid, st in last.items():
        if (table.get(jid) or {}).get("status") != st:
            W.fail("audit", "job %s: the trail ends in %s, the table says %s" % (
                hexid(jid), st, (table.get(jid) or {}).get("status")))
    missing = 0
    for g in W.grabs:
        if g is not None and (g[0], g[1], g[2]) not in grab_events:
            missing += 1
            if missing <= 3:
                W.fail("audit", "client %d was handed job %s (grabbed %s) by a grab that is not in the trail" % g[:3])
    return events


def main():
    global V12, PRELOADED
    setup = connect()
    cur = setup.cursor()
    cur.execute(AUDIT_SQL)
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'compute'")
    version = cur.fetchone()[0]
    V12 = tuple(int(x) for x in version.split(".")) >= (1, 2, 0)
    cur.execute("SHOW shared_preload_libraries")
    preloaded = PRELOADED = "compute" in cur.fetchone()[0]
    setup.close()
    print("model: compute %s (%s rules), library %s" % (version, "1.2.0" if V12 else "1.1.0",
                                                       "preloaded" if preloaded else "loaded on demand"))
    print("model: seed %d, %d clients x %d operations%s%s%s" % (
        SEED, CLIENTS, OPS, "", ", column updates" if COLUMN_UPDATES else "",
        ", MUTATION " + MUTATE if MUTATE else ""), flush=True)
    start = time.time()
    clients = [Client(n) for n in range(CLIENTS)]
    threads = [threading.Thread(target=c.main, name="client %d" % c.n) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = 0
    final = Checker()
    try:
        final.desc = "final check"
        table = read_table(final)
        check_table(final, table, "at the end")
        events = replay_audit(final)
    except Failure as e:
        W.fail("final check", str(e))
    elapsed = time.time() - start
    s = W.stats
    table = read_table(final)
    by_status = collections.Counter(r["status"] for r in table.values())
    print("model: %s" % ", ".join("%s=%d" % kv for kv in sorted(s.items())))
    print("model: SQLSTATEs seen: %s" % ", ".join("%s x%d" % kv for kv in sorted(W.codes.items())))
    print("model: final table: %s" % ", ".join("%s=%d" % kv for kv in sorted(by_status.items())))
    for gap, n in sorted(W.known_gaps.items()):
        print("model: tolerated known gap: %s x%d" % (gap, n))
    if W.failures:
        for f in W.failures[:MAX_FAILURES]:
            print("model: FAIL: %s" % f)
        print("model: FAILED (seed %d): %d failure(s)" % (SEED, len(W.failures)))
        return 1
    print("model: passed (seed %d): %d operations (%d invalid inputs, %d refused and unchanged), %d transactions, "
          "%d global operations, %d jobs grabbed, %d audit events replayed, %d statements in %.1f s" % (
              SEED, s["operations"] + s["global operations"], s["invalid inputs"], s["refused and unchanged"],
              s["transactions"], s["global operations"], s["jobs grabbed"], events, s["statements"], elapsed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
