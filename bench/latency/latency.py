#!/usr/bin/python3
"""The latency benchmark of issue 9 (bench/latency.sh starts the server).

  latency.py run                       the whole benchmark (settings below)
  latency.py worker SYSTEM QUEUE OUT   one compute worker (the driver starts them)

Submit to grab: one submitter (this process) submits jobs one by one at a
steady rate, each in its own autocommit statement, while WORKERS worker
processes take them:

  wait      compute.grab_job(queue, 1, '1 minute', '1 second') in a loop
  listen    LISTEN on compute.queue_channel(queue); grab_job (no wait) until
            the queue is empty, then sleep in select() until notified
  poll      grab_job (no wait); when it found nothing, sleep 100 ms
  graphile  graphile-worker 0.18 (graphile.mjs): graphile_worker.add_job
            submits, its runner (concurrency 1) runs a task `lat`

A compute worker finishes each job (finish_job, complete) before it grabs
again; graphile-worker completes its task's job likewise.

Latency = t_got - t_commit, both on the machine's CLOCK_MONOTONIC (all
processes run on one machine):
  t_commit  the submit transaction's commit timestamp
            (pg_xact_commit_timestamp of its xid: the server needs
            track_commit_timestamp = on), taken by the server as it writes
            the commit record, before the job becomes visible or anybody is
            woken. It is on the wall clock (CLOCK_REALTIME); the submitter
            reads both clocks just before each submit and converts it.
  t_got     the worker's clock when the job reached it: the grab's row
            arrived (compute; time.monotonic_ns()), or first thing in the
            task (graphile-worker; process.hrtime.bigint()).
The submit's round trip (sent to acknowledged, on the submitter's clock) is
reported apart.

Submit to result: a service submits one job, then learns its result, then
the next (at the same rate, or at once when the result took longer than the
interval); one `wait` worker grabs each job and finishes it at once:

  wait_job        SELECT status FROM compute.wait_job(job_id, '30 seconds')
  get_job_100ms   sleep 100 ms, then compute.get_job(job_id), until the job
  get_job_10ms    is complete (sleep 10 ms)

A poller's first look comes one period after its submit: one that looked at
once would win or lose a race against the worker's ~1 ms (a result of about
the round trip or of a full period, at random).

Latency = the service's clock when it had the complete job - t_commit.

Settings (environment; defaults in brackets):
  LATENCY_JOBS [2000]          measured jobs per (system, workers)
  LATENCY_ROUNDS [4; 1 below 400 jobs]  rounds; each runs every system once
                               on its share of the jobs (fresh workers each time)
  LATENCY_INTERVAL_MS [5]      one submit every this many ms
  LATENCY_WORKERS ["1 4"]      worker processes per system (each a run)
  LATENCY_SYSTEMS ["wait listen poll graphile"]
  LATENCY_RESULT_JOBS [LATENCY_JOBS / 4]
  LATENCY_RESULT_SYSTEMS ["wait_job get_job_100ms get_job_10ms"]
  LATENCY_WARMUP [LATENCY_JOBS / 10, at most 20]  jobs before each run, not
                               measured (at most LATENCY_RESULT_JOBS before
                               each submit-to-result run)
  LATENCY_OUT [build/bench-latency]
Connection: libpq's PG* variables.
"""
import hashlib
import math
import os
import select
import statistics
import subprocess
import sys
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
GRAB_SYSTEMS = ("wait", "listen", "poll", "graphile")
LABELS = {"wait": "waiting grab", "listen": "LISTEN + grab", "poll": "poll every 100 ms",
          "graphile": "graphile-worker 0.18", "wait_job": "wait_job",
          "get_job_100ms": "get_job every 100 ms", "get_job_10ms": "get_job every 10 ms"}
RESULT_SYSTEMS = {"wait_job": None, "get_job_100ms": 0.1, "get_job_10ms": 0.01}
STOP = "stop"  # the config of the job that ends a compute worker


def connect(name):
    conn = psycopg2.connect(application_name=name)
    conn.autocommit = True
    return conn


# ---------------------------------------------------------------- workers

def worker(system, queue, out):
    """One compute worker. It ends when it takes a job whose config is
    'stop', and writes '<job id hex>\\t<ns>' per job it took to out."""
    conn = connect(f"lat-{system}")
    cur = conn.cursor()
    got = []
    stopped = False

    def grab(wait):
        nonlocal stopped
        cur.execute("SELECT job_id, config FROM compute.grab_job(%s, 1, '1 minute', %s)", (queue, wait))
        row = cur.fetchone()
        if row:
            got.append((bytes(row[0]).hex(), time.monotonic_ns()))
            cur.execute("SELECT 1 FROM compute.finish_job(%s, 'complete')", (row[0],))
            stopped = row[1] == STOP
        return row is not None and not stopped

    if system == "listen":
        cur.execute("SELECT compute.queue_channel(%s)", (queue,))
        cur.execute(f'LISTEN "{cur.fetchone()[0]}"')
    print("ready", flush=True)
    while not stopped:
        if system == "wait":
            grab("1 second")
        elif system == "poll":
            if not grab("0") and not stopped:
                time.sleep(0.1)
        else:  # listen
            # A notification that arrives during a grab may be for a commit
            # that grab did not see: clear first, grab until empty, and
            # sleep only when nothing arrived meanwhile.
            del conn.notifies[:]
            while grab("0"):
                pass
            if not stopped and not conn.notifies:
                select.select([conn], [], [], 1.0)
                conn.poll()
    with open(out, "w") as f:
        f.writelines(f"{k}\t{t}\n" for k, t in got)


# ---------------------------------------------------------------- driver

def log(*words):
    print("bench-latency:", *words, file=sys.stderr, flush=True)


def pct(sorted_values, p):
    """Nearest-rank percentile of a sorted list."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def summary(values_ns):
    v = sorted(x / 1e6 for x in values_ns)
    return {"n": len(v), "median": statistics.median(v), "p90": pct(v, 90), "p99": pct(v, 99), "max": v[-1]}


class Run:
    """One system with its workers: submits jobs, collects when they arrived."""

    def __init__(self, driver, system, workers, name):
        self.d, self.system, self.workers, self.name = driver, system, workers, name
        self.queue = f"lat_{name}"
        self.procs, self.outs = [], []
        self.sent = {}  # job id hex -> (xid, realtime - monotonic offset, t_sent, t_ack)

    def start_workers(self):
        for k in range(self.workers):
            out = os.path.join(self.d.out, "workers", f"{self.name}-{k}.tsv")
            if self.system == "graphile":
                cmd = ["node", os.path.join(HERE, "graphile.mjs"), "work", out]
            else:
                cmd = [sys.executable, os.path.abspath(__file__), "worker", self.system, self.queue, out]
            self.procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
            self.outs.append(out)
        for p in self.procs:
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError(f"{self.name}: a worker did not start ({line!r})")

    def stop_workers(self):
        """compute's workers each take one stop job; graphile-worker gets SIGTERM."""
        if self.system == "graphile":
            for p in self.procs:
                p.terminate()
        else:
            for k in range(len(self.procs)):
                self.d.cur.execute("SELECT 1 FROM compute.submit_job(%s, %s, %s)",
                                   (self.key("stop", k), self.queue, STOP))
        bad = []
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.returncode != 0:
                bad.append(p.returncode)
        self.procs = []
        if bad:
            raise RuntimeError(f"{self.name}: workers exited with {bad}")

    def key(self, label, i):
        return hashlib.md5(f"{self.name} {label} {i}".encode()).digest()

    def submit(self, job_id, measured=True):
        """One submit in autocommit; remembers its xid and the clocks."""
        cur = self.d.cur
        offset = time.time_ns() - time.monotonic_ns()
        t_sent = time.monotonic_ns()
        if self.system == "graphile":
            cur.execute("SELECT pg_current_xact_id()::text FROM graphile_worker.add_job('lat', "
                        "json_build_object('k', %s::text))", (job_id.hex(),))
        else:
            cur.execute("SELECT pg_current_xact_id()::text FROM compute.submit_job(%s, %s)", (job_id, self.queue))
        xid = cur.fetchone()[0]
        t_ack = time.monotonic_ns()
        if measured:
            self.sent[job_id.hex()] = (xid, offset, t_sent, t_ack)

    def commit_times(self):
        """{job id hex: commit time on CLOCK_MONOTONIC, ns} of the measured submits."""
        keys = list(self.sent)
        self.d.cur.execute("SELECT (extract(epoch FROM pg_xact_commit_timestamp(x::xid)) * 1000000)::bigint "
                           "FROM unnest(%s::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n",
                           ([self.sent[k][0] for k in keys],))
        return {k: us * 1000 - self.sent[k][1] for k, (us,) in zip(keys, self.d.cur.fetchall())}

    def pending(self):
        cur = self.d.cur
        if self.system == "graphile":
            cur.execute("SELECT count(*) FROM graphile_worker._private_jobs")
        else:
            cur.execute("SELECT count(*) FROM compute.jobs WHERE queue = %s AND status IN ('queued', 'in-progress')",
                        (self.queue,))
        return cur.fetchone()[0]

    def wait_drained(self, timeout=120.0):
        end = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > end:
                raise RuntimeError(f"{self.name}: jobs still pending after {timeout:.0f} s")
            time.sleep(0.05)

    def arrivals(self, label, n, measured):
        """Submits n jobs, one every interval (a fixed schedule: no drift)."""
        interval = self.d.interval_ns
        t0 = time.monotonic_ns() + interval
        for i in range(n):
            delay = t0 + i * interval - time.monotonic_ns()
            if delay > 0:
                time.sleep(delay / 1e9)
            self.submit(self.key(label, i), measured)

    def grab_latencies(self):
        try:
            self.start_workers()
            self.arrivals("warmup", self.d.warmup, False)
            self.wait_drained()
            self.arrivals("job", self.d.jobs, True)
            self.wait_drained()
        finally:
            self.stop_workers()
        got = {}
        for out in self.outs:
            with open(out) as f:
                for line in f:
                    k, t = line.split()
                    if k in got:
                        raise RuntimeError(f"{self.name}: job {k} taken twice")
                    got[k] = int(t)
        missing = [k for k in self.sent if k not in got]
        if missing:
            raise RuntimeError(f"{self.name}: {len(missing)} jobs never reached a worker")
        commit = self.commit_times()
        return [got[k] - commit[k] for k in self.sent], self.round_trips()

    def result_latencies(self, period):
        """Submit, then wait_job (period None) or get_job every period s."""
        done = {}
        cur = self.d.cur
        try:
            self.start_workers()
            next_t = time.monotonic_ns()
            warmup = min(self.d.warmup, self.d.result_jobs)
            for i in range(-warmup, self.d.result_jobs):
                next_t += self.d.interval_ns
                delay = next_t - time.monotonic_ns()
                if delay > 0:
                    time.sleep(delay / 1e9)
                else:
                    next_t = time.monotonic_ns()  # the last result took longer than the interval
                job_id = self.key("result", i)
                self.submit(job_id, i >= 0)
                if period is None:
                    cur.execute("SELECT status FROM compute.wait_job(%s, '30 seconds')", (job_id,))
                    status = cur.fetchone()[0]
                    if status != "complete":
                        raise RuntimeError(f"{self.name}: wait_job returned a {status} job after 30 s")
                else:
                    status = None
                    while status != "complete":
                        time.sleep(period)
                        cur.execute("SELECT status FROM compute.get_job(%s)", (job_id,))
                        status = cur.fetchone()[0]
                done[job_id.hex()] = time.monotonic_ns()
        finally:
            self.stop_workers()
        commit = self.commit_times()
        return [done[k] - commit[k] for k in self.sent], self.round_trips()

    def round_trips(self):
        return [t_ack - t_sent for _, _, t_sent, t_ack in self.sent.values()]


class Driver:
    def __init__(self):
        env = os.environ.get
        self.total_jobs = int(env("LATENCY_JOBS", "2000"))
        self.rounds = max(1, min(int(env("LATENCY_ROUNDS", "4" if self.total_jobs >= 400 else "1")), self.total_jobs))
        self.interval_ns = int(float(env("LATENCY_INTERVAL_MS", "5")) * 1e6)
        self.workers = [int(w) for w in env("LATENCY_WORKERS", "1 4").split()]
        self.systems = env("LATENCY_SYSTEMS", " ".join(GRAB_SYSTEMS)).split()
        self.total_result_jobs = int(env("LATENCY_RESULT_JOBS", str(max(1, self.total_jobs // 4))))
        self.result_systems = env("LATENCY_RESULT_SYSTEMS", " ".join(RESULT_SYSTEMS)).split()
        self.warmup = int(env("LATENCY_WARMUP", str(min(20, max(1, self.total_jobs // 10)))))
        self.out = env("LATENCY_OUT", "build/bench-latency")
        for s in self.systems:
            if s not in GRAB_SYSTEMS:
                sys.exit(f"bench-latency: unknown system '{s}' ({' '.join(GRAB_SYSTEMS)})")
        for s in self.result_systems:
            if s not in RESULT_SYSTEMS:
                sys.exit(f"bench-latency: unknown result system '{s}' ({' '.join(RESULT_SYSTEMS)})")
        os.makedirs(os.path.join(self.out, "workers"), exist_ok=True)
        self.conn = connect("lat-submitter")
        self.cur = self.conn.cursor()
        self.jobs = self.result_jobs = 0  # of the current round
        self.rows = []      # (measure, system, workers, latency summary, submit round trip summary)
        self.samples = []   # (measure, system, workers, round, job, latency ns)

    def per_round(self, total, r):
        """Round r's share of total jobs (the first rounds take the remainder)."""
        return total // self.rounds + (1 if r < total % self.rounds else 0)

    def record(self, measure, system, workers, samples, rtt):
        """samples: (round, job in the round, latency ns) of every job."""
        s = summary([x for _, _, x in samples])
        self.rows.append((measure, system, workers, s, summary(rtt)))
        self.samples += [(measure, system, workers) + x for x in samples]
        log(f"{measure}: {LABELS[system]}, {workers} worker{'s' if workers > 1 else ''}: median "
            f"{s['median']:.2f} ms, p99 {s['p99']:.2f} ms, max {s['max']:.2f} ms ({s['n']} jobs)")

    def table(self):
        lines = ["| measure | system | workers | jobs | median ms | p90 ms | p99 ms | max ms "
                 "| submit round trip, median ms |",
                 "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for measure, system, w, s, r in self.rows:
            lines.append(f"| {measure} | {LABELS[system]} | {w} | {s['n']:,} | {s['median']:.2f} | "
                         f"{s['p90']:.2f} | {s['p99']:.2f} | {s['max']:.2f} | {r['median']:.2f} |")
        by = {(s, w): x for m, s, w, x, _ in self.rows if m == "submit to grab"}
        goal = [f"- {w} worker{'s' if w > 1 else ''} each: waiting grab p99 {by['wait', w]['p99']:.2f} ms / "
                f"graphile-worker median {by['graphile', w]['median']:.2f} ms = "
                f"{by['wait', w]['p99'] / by['graphile', w]['median']:.2f} (target <= 1): "
                f"**{'met' if by['wait', w]['p99'] <= by['graphile', w]['median'] else 'not met'}**"
                for w in self.workers if ("wait", w) in by and ("graphile", w) in by]
        if goal:
            lines += ["", "Goal of issue 9: the waiting grab's p99 at or below graphile-worker's median, same run.",
                      ""] + goal
        return "\n".join(lines)

    def main(self):
        started = time.time()
        load_start = open("/proc/loadavg").read().split()[:3]
        self.cur.execute("CREATE EXTENSION IF NOT EXISTS compute")
        self.cur.execute("SELECT version(), current_setting('shared_preload_libraries'), "
                         "current_setting('track_commit_timestamp')")
        version, preload, commit_ts = self.cur.fetchone()
        if "compute" not in preload or commit_ts != "on":
            sys.exit("bench-latency: the server must preload compute and track commit timestamps "
                     "(shared_preload_libraries=compute track_commit_timestamp=on)")
        if "graphile" in self.systems:
            subprocess.run(["node", os.path.join(HERE, "graphile.mjs"), "migrate"], check=True)
        log(f"{self.total_jobs} jobs per system in {self.rounds} round(s), one every {self.interval_ns / 1e6:g} ms; "
            f"systems {' '.join(self.systems)}; workers {' '.join(map(str, self.workers))}; "
            f"{self.total_result_jobs} jobs for {' '.join(self.result_systems)}")
        # Rounds interleave the systems, so that a burst of other load on the
        # machine does not hit one system only; each round takes its share.
        grab = {(s, w): ([], []) for w in self.workers for s in self.systems}
        result = {s: ([], []) for s in self.result_systems}
        for r in range(self.rounds):
            self.jobs = self.per_round(self.total_jobs, r)
            for w in self.workers:
                for s in self.systems:
                    lat, rtt = Run(self, s, w, f"{s}_w{w}_r{r}").grab_latencies()
                    grab[s, w][0].extend((r, i, x) for i, x in enumerate(lat))
                    grab[s, w][1].extend(rtt)
            self.result_jobs = self.per_round(self.total_result_jobs, r)
            for s in self.result_systems if self.result_jobs else ():
                run = Run(self, "wait", 1, f"result_{s}_r{r}")
                lat, rtt = run.result_latencies(RESULT_SYSTEMS[s])
                result[s][0].extend((r, i, x) for i, x in enumerate(lat))
                result[s][1].extend(rtt)
            log(f"round {r + 1} of {self.rounds} done")
        for (s, w), (lat, rtt) in grab.items():
            self.record("submit to grab", s, w, lat, rtt)
        for s, (lat, rtt) in result.items():
            if lat:
                self.record("submit to result", s, 1, lat, rtt)
        elapsed = time.time() - started
        load_end = open("/proc/loadavg").read().split()[:3]
        cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        node = (subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
                if "graphile" in self.systems else "-")
        knobs = " ".join(f"{v}='{os.environ[v]}'" for v in
                         ("LATENCY_JOBS", "LATENCY_ROUNDS", "LATENCY_INTERVAL_MS", "LATENCY_WORKERS", "LATENCY_SYSTEMS",
                          "LATENCY_RESULT_JOBS", "LATENCY_RESULT_SYSTEMS", "LATENCY_WARMUP") if os.environ.get(v))
        text = "\n".join([
            "# compute latency benchmark",
            "",
            f"- machine: {os.cpu_count()} CPUs, {cpu}; load average {' '.join(load_start)} at start, "
            f"{' '.join(load_end)} at end",
            f"- server: {version}; {os.environ.get('LATENCY_SETTINGS', '')}",
            f"- Node.js {node}; run: `{knobs + ' ' if knobs else ''}bash bench/latency.sh`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}, took {elapsed:.0f} s",
            f"- {self.rounds} round(s), each runs every system (with fresh workers) on its share of the jobs; "
            f"one submit every {self.interval_ns / 1e6:g} ms ({self.warmup} unmeasured first); latency from "
            "the submit's commit timestamp to the worker holding the job (submit to grab) or the service "
            "holding the complete job (submit to result), on one clock",
            "",
            self.table(),
            ""])
        with open(os.path.join(self.out, "results.md"), "w") as f:
            f.write(text)
        with open(os.path.join(self.out, "samples.tsv"), "w") as f:
            f.write("measure\tsystem\tworkers\tround\tjob\tlatency_us\n")
            f.writelines(f"{m}\t{s}\t{w}\t{r + 1}\t{i}\t{x / 1000:.1f}\n" for m, s, w, r, i, x in self.samples)
        print(text)
        log(f"written to {self.out}/results.md (every sample: {self.out}/samples.tsv)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "worker":
        worker(*sys.argv[2:])
    elif sys.argv[1:] == ["run"]:
        Driver().main()
    else:
        sys.exit(__doc__)
