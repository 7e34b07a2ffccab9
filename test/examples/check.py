#!/usr/bin/python3
"""Runs one example worker (examples/<language>/) against a real server and
checks what it did.  Usage: check.py LANGUAGE WORKER_COMMAND...

In its own database (ex_LANGUAGE, created here with the extension and the
workers' results table), it submits EXAMPLES_JOBS (60) jobs, some of them
meant to fail, half before the workers start and half while they run, and
runs 4 copies of the worker with 3-second leases (3 jobs run 7 s: only
heartbeats keep them) while it calls requeue_stale() every 0.5 s. Worker 1 is SIGKILLed (its process group)
right after it took a job; worker 3's backend is terminated once while it
runs a statement (pg_terminate_backend of an active backend: a backend
that has already sent its last result goes unnoticed by a worker that
opens a session per statement, like the bash one); worker 4 is paused (SIGSTOP) right after it took
a job until another worker took that job, then resumed; worker 2 gets
SIGTERM right after it took a job and must finish that job and exit 0; once every job has ended, workers 3 and 4
get SIGTERM while they wait and must exit 0.

Then, from the table the workers write (results: one row per accepted
finish, inserted in the finish's transaction) and from compute.jobs: every
job ended exactly once, as its config says (complete with result n*n and
its output file, or failed with its error text), by its current attempt;
nothing queued or in-progress; the killed worker's job was taken back and
finished by another worker at a later attempt; the paused worker gave
its job up (logged it lost, recorded no result for it); the terminated worker
reconnected. Prints one summary line; exits 1 on any failure.
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg

lang, command = sys.argv[1], sys.argv[2:]
N = int(os.environ.get("EXAMPLES_JOBS", "60"))
SEED = int(os.environ.get("EXAMPLES_SEED", str(random.randrange(1 << 30))))
rng = random.Random(SEED)
db = "ex_" + lang
logdir = os.environ.get("EXAMPLES_LOGDIR", "/tmp")
problems = []


def fail(msg):
    problems.append(msg)
    print(f"examples {lang}: FAIL: {msg}", flush=True)


with psycopg.connect(dbname="postgres", autocommit=True) as c:
    c.execute(f"DROP DATABASE IF EXISTS {db}")
    c.execute(f"CREATE DATABASE {db}")
admin = psycopg.connect(dbname=db, autocommit=True)
admin.execute(open(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "schema.sql")).read())

jobs = {}
for i in range(N):
    cfg = {"i": i, "seed": SEED, "n": rng.randrange(1, 100000), "ms": rng.randrange(200, 700)}
    if i % 20 == 3 and i < N - 20:  # longer than two leases: only heartbeats keep it (not among the fed reserve)
        cfg["ms"] = 7000
    if i % 15 == 7:
        cfg["fail"] = f"job {i}: the input is unreadable (on purpose)"
    config = json.dumps(cfg)
    jobs[hashlib.md5(config.encode()).digest()] = cfg


def submit(ids):
    with admin.transaction():
        for job_id in ids:
            admin.execute("SELECT compute.submit_job(%s, 'examples', %s)", (job_id, json.dumps(jobs[job_id])))


ids = list(jobs)
submit(ids[: N // 2])

env = dict(os.environ, PGHOST="127.0.0.1", PGDATABASE=db, PGUSER="postgres", COMPUTE_QUEUE="examples",
           LEASE_SECONDS="3", WAIT_SECONDS="5")
workers = {}
for k in range(1, 5):
    name = f"{lang}-{k}"
    out = open(os.path.join(logdir, name + ".log"), "w")
    p = subprocess.Popen(command, env=dict(env, WORKER_NAME=name, PGAPPNAME=name), stdout=out,
                         stderr=subprocess.STDOUT, start_new_session=True)
    workers[k] = (name, p, out.name)
started = time.monotonic()

requeued = 0
elapsed = stop_time = float("nan")
reaping = True


def reaper():
    global requeued
    with psycopg.connect(dbname=db, autocommit=True) as c:
        while reaping:
            requeued += c.execute("SELECT compute.requeue_stale()").fetchone()[0]
            time.sleep(0.5)


reaper_thread = threading.Thread(target=reaper)
reaper_thread.start()


def lines(k):
    with open(workers[k][2]) as f:
        return [l.split() for l in f.read().splitlines()]


def wait_mid_job(k, after, timeout=60):
    """Polls worker k's log until it has finished `after` jobs and a new
    last line says it took one (new: written since the polling began, so
    that the worker is at the start of that job); that job."""
    deadline = time.monotonic() + timeout
    seen = len(lines(k))
    while time.monotonic() < deadline:
        ls = lines(k)
        done = sum(1 for l in ls if l[1:2] == ["finished"])
        if done >= after and len(ls) > seen and len(ls[-1]) == 4 and ls[-1][1] == "took":
            return ls[-1][2], int(ls[-1][3])
        if workers[k][1].poll() is not None:
            break
        time.sleep(0.005)
    return None


try:
    held = N - 20  # the last 20 are fed in groups of 4 while a worker is awaited mid-job
    for i in range(N // 2, held, 5):  # the rest arrives while the workers wait
        submit(ids[i:min(i + 5, held)])
        time.sleep(0.2)

    reserve = ids[held:]  # fed to the workers while one is awaited mid-job

    def catch_mid_job(k, after):
        """wait_mid_job, feeding 4 fresh jobs whenever the queue may have
        run dry before worker k took one."""
        while True:
            found = wait_mid_job(k, after, timeout=10)
            if found is not None or not reserve:
                return found
            submit(reserve[:4])
            del reserve[:4]

    killed = catch_mid_job(1, 2)
    if killed is None:
        fail("worker 1 never took a job")
    os.killpg(workers[1][1].pid, signal.SIGKILL)
    workers[1][1].wait()

    deadline = time.monotonic() + 30
    terminated = False
    while not terminated and time.monotonic() < deadline:
        terminated = admin.execute("SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = %s AND state = 'active'", (workers[3][0],)).fetchone()[0]
        time.sleep(0.05)
    if not terminated:
        fail("worker 3 never had a backend to terminate")

    # A worker paused past its lease (SIGSTOP) whose job another worker took
    # meanwhile must, once resumed, neither finish that job nor record a result.
    paused = catch_mid_job(4, 3)
    if paused is None:
        fail("worker 4 never took a job")
    else:
        os.killpg(workers[4][1].pid, signal.SIGSTOP)  # the whole worker freezes
        pid_ = bytes.fromhex(paused[0])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st, att = admin.execute("SELECT status, attempt FROM compute.jobs WHERE job_id = %s", (pid_,)).fetchone()
            if att > paused[1] or st not in ("queued", "in-progress"):
                break
            time.sleep(0.05)
        else:
            fail(f"worker 4's job {paused[0]} was not taken back while it was paused")
        os.killpg(workers[4][1].pid, signal.SIGCONT)

    stopped = catch_mid_job(2, 1)
    if stopped is None:
        fail("worker 2 never took a job")
    submit(reserve)  # what is left of the fresh jobs
    workers[2][1].send_signal(signal.SIGTERM)
    try:
        rc = workers[2][1].wait(timeout=30)
        if rc != 0:
            fail(f"worker 2 exited {rc} after SIGTERM mid-job")
    except subprocess.TimeoutExpired:
        fail("worker 2 did not stop within 30 s of SIGTERM")

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        left = admin.execute("SELECT count(*) FROM compute.jobs WHERE status IN ('queued', 'in-progress')").fetchone()[0]
        if left == 0:
            break
        time.sleep(0.2)
    else:
        fail(f"{left} jobs still queued or in-progress after 120 s")
    elapsed = time.monotonic() - started

    for k in (3, 4):
        workers[k][1].send_signal(signal.SIGTERM)
    term = time.monotonic()
    for k in (3, 4):
        try:
            rc = workers[k][1].wait(timeout=30)
            stop_time = time.monotonic() - term
            if rc != 0:
                fail(f"worker {k} exited {rc} after SIGTERM")
        except subprocess.TimeoutExpired:
            fail(f"worker {k} did not stop within 30 s of SIGTERM")
finally:
    reaping = False
    reaper_thread.join()
    for name, p, _ in workers.values():
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()

# What the table says.
rows = admin.execute("SELECT job_id, status, attempt, output_files, error, lost_leases FROM compute.jobs").fetchall()
state = {r[0]: r[1:] for r in rows}
results = {}
for job_id, attempt, worker, status, result in admin.execute(
        "SELECT job_id, attempt, worker, status, result FROM results ORDER BY at"):
    results.setdefault(job_id, []).append((attempt, worker, status, result))

if set(state) != set(jobs):
    fail(f"compute.jobs holds {len(state)} jobs, {len(set(state) & set(jobs))} of the {N} submitted")
bad = []
for job_id, cfg in jobs.items():
    status, attempt, output_files, error, _ = state.get(job_id, (None,) * 5)
    got = results.get(job_id, [])
    want = "failed" if "fail" in cfg else "complete"
    if len(got) != 1:
        bad.append(f"{job_id.hex()}: {len(got)} finishes recorded by workers {[g[1] for g in got]}")
    elif status != want or got[0][2] != want:
        bad.append(f"{job_id.hex()}: {status} (worker says {got[0][2]}), expected {want}")
    elif got[0][0] != attempt:
        bad.append(f"{job_id.hex()}: finished by attempt {got[0][0]}, the job is at {attempt}")
    elif want == "complete" and (got[0][3] != str(cfg["n"] ** 2) or output_files != [job_id.hex() + ".out"]):
        bad.append(f"{job_id.hex()}: result {got[0][3]}, output {output_files}; expected {cfg['n'] ** 2}")
    elif want == "failed" and error != cfg["fail"]:
        bad.append(f"{job_id.hex()}: error {error!r}, expected {cfg['fail']!r}")
for b in bad[:5]:
    fail(b)
if len(bad) > 5:
    fail(f"... and {len(bad) - 5} more jobs")

if killed:
    kid = bytes.fromhex(killed[0])
    got = results.get(kid, [])
    if not got or got[0][1] == workers[1][0] or got[0][0] <= killed[1] or state[kid][4] < 1:
        fail(f"the killed worker's job {killed[0]} (attempt {killed[1]}) was not taken back: "
             f"finished {got}, lost leases {state[kid][4]}")
if stopped:
    sid = bytes.fromhex(stopped[0])
    got = results.get(sid, [])
    if [g[:2] for g in got] != [(stopped[1], workers[2][0])]:
        fail(f"worker 2, stopped by SIGTERM while running {stopped[0]} (attempt {stopped[1]}), "
             f"did not finish it: finishes {got}")
if paused:
    pid_ = bytes.fromhex(paused[0])
    got = results.get(pid_, [])
    if any(g[1] == workers[4][0] and g[0] == paused[1] for g in got) or \
            ["lost", paused[0], str(paused[1])] not in [l[1:] for l in lines(4)]:
        fail(f"worker 4, paused past its lease while running {paused[0]} (attempt {paused[1]}), "
             f"did not give it up: finishes {got}")
if not any("reconnecting" in l for l in open(workers[3][2]).read().splitlines()):
    fail("worker 3 did not report reconnecting after its backend was terminated")
for k in (2, 3, 4):
    if not lines(k) or lines(k)[-1][1:] != ["stopped"]:
        fail(f"worker {k} did not log a clean stop")

per_worker = {name: sum(1 for g in results.values() for x in g if x[1] == name) for name, _, _ in workers.values()}
failed_jobs = sum(1 for c in jobs.values() if "fail" in c)
print(f"examples {lang}: {N} jobs ({N - failed_jobs} to complete, {failed_jobs} to fail) ended in {elapsed:.1f} s; "
      f"finishes per worker {per_worker}; {requeued} requeued by requeue_stale(); worker 1 SIGKILLed mid-job, "
      f"worker 3's backend terminated, worker 4 paused past its lease, worker 2 SIGTERMed mid-job, "
      f"idle workers stopped {stop_time:.2f} s after SIGTERM; seed {SEED}: "
      f"{f'FAILED ({len(problems)} problems)' if problems else 'passed'}", flush=True)
sys.exit(1 if problems else 0)
