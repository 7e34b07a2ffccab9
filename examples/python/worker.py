#!/usr/bin/python3
"""A compute worker in Python with psycopg 3 (Debian's python3-psycopg).

Takes jobs of COMPUTE_QUEUE with a waiting grab and a lease, heartbeats while
the task runs, stores the result and finishes the job with its attempt token
in one transaction (finish_and_grab takes the next job in the same
statement), reconnects with backoff when the connection drops, and on
SIGTERM finishes its current job and exits 0. Connection: libpq's PG*
variables. See examples/README.md for the task and the results table.
"""
import json
import os
import signal
import sys
import time

import psycopg
from psycopg import errors

QUEUE = os.environ.get("COMPUTE_QUEUE", "examples")
NAME = os.environ.get("WORKER_NAME", f"python-{os.getpid()}")
LEASE = float(os.environ.get("LEASE_SECONDS", "60"))
WAIT = float(os.environ.get("WAIT_SECONDS", "30"))

stopping = False
conn = None
waiting = False  # in a waiting grab, which SIGTERM may cancel


def on_sigterm(signum, frame):
    global stopping
    stopping = True
    if waiting and conn is not None:
        conn.cancel()  # ends the waiting grab at once (57014); no job is taken


def log(*words):
    print(NAME, *words, flush=True)


def connect():
    """A connection, retried with backoff until the server answers."""
    delay = 0.1
    while True:
        try:
            return psycopg.connect(autocommit=True, application_name=NAME)
        except psycopg.OperationalError as e:
            log("connect failed, retrying in", delay, "s:", str(e).strip().splitlines()[0])
            time.sleep(delay)
            delay = min(delay * 2, 5)


def grab():
    """The next job, waiting up to WAIT seconds; None when the wait passed."""
    global waiting
    waiting = True
    try:
        if stopping:
            return None
        return conn.execute(
            "SELECT job_id, attempt, config FROM compute.grab_job(%s, 1, make_interval(secs => %s), make_interval(secs => %s))",
            (QUEUE, LEASE, WAIT)).fetchone()
    except errors.QueryCanceled:
        return None  # cancelled by SIGTERM
    finally:
        waiting = False


def run(job_id, attempt, config):
    """The task: sleep config's ms, heartbeating; (status, result, error), or None if the lease was lost."""
    task = json.loads(config)
    deadline = time.monotonic() + task["ms"] / 1000
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, LEASE / 4))
        try:
            conn.execute("SELECT compute.heartbeat(%s, %s)", (job_id, attempt))
        except errors.ObjectNotInPrerequisiteState:  # 55000: another attempt owns the job
            return None
    if "fail" in task:
        return "failed", None, task["fail"]
    return "complete", str(task["n"] * task["n"]), None


def finish(job_id, attempt, status, result, error):
    """Stores the result and finishes the job in one transaction; returns the
    next job (finish_and_grab, not waiting) or, when stopping, None."""
    output = [job_id.hex() + ".out"] if status == "complete" else None
    with conn.transaction():
        conn.execute("INSERT INTO results (job_id, attempt, worker, status, result) VALUES (%s, %s, %s, %s, %s)",
                     (job_id, attempt, NAME, status, result))
        if stopping:
            conn.execute("SELECT compute.finish_job(%s, %s, %s, %s, %s)", (job_id, status, output, attempt, error))
            return None
        return conn.execute(
            "SELECT job_id, attempt, config FROM compute.finish_and_grab(%s, %s, %s, %s, %s, %s, 1, make_interval(secs => %s))",
            (job_id, status, QUEUE, output, attempt, error, LEASE)).fetchone()


def main():
    global conn
    signal.signal(signal.SIGTERM, on_sigterm)
    conn = connect()
    job = None
    while not stopping or job:
        try:
            if job is None:
                job = grab()
                continue
            job_id, attempt, config = job
            log("took", job_id.hex(), attempt)
            outcome = run(job_id, attempt, config)
            if outcome is None:
                log("lost", job_id.hex(), attempt)
                job = None
                continue
            while True:  # the finish is retried over reconnects; 55000 ends it
                try:
                    job = finish(job_id, attempt, *outcome)
                    log("finished", job_id.hex(), attempt, outcome[0])
                    break
                except errors.ObjectNotInPrerequisiteState:
                    log("lost", job_id.hex(), attempt)  # or our own commit went through before the drop
                    job = None
                    break
                except psycopg.OperationalError:
                    log("connection lost while finishing; reconnecting")
                    conn = connect()
        except psycopg.OperationalError as e:
            log("connection lost; reconnecting:", str(e).strip().splitlines()[0])
            conn = connect()
            # a job in hand keeps its lease until it expires: go on with it
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
