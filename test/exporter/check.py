"""The metrics of docs/postgres_exporter.yml, as the real postgres_exporter
serves them (scripts/check-exporter.sh starts both the server and the
exporter), and the Grafana dashboard that draws them.

    check.py DSN METRICS_URL QUERY_FILE DASHBOARD

1. Puts jobs into the database through compute's functions (and, for times
   that must be exact or old, as a restore writes them: session_replication_
   role = replica), remembering what each metric must say.
2. Fetches METRICS_URL (retrying while the exporter starts) and parses the
   Prometheus text format.
3. Checks: the exporter is up and loaded the query file without error;
   every metric the query file defines is served; each expected value is
   there, per queue (and status, kind, quantile, check), exactly.
4. Checks the dashboard: valid JSON, panels with Prometheus queries, and every
   compute_* metric name in them is one the query file defines (and the
   exporter served).
Prints one summary line; exits 1 on any failure.
"""
import json
import math
import re
import sys
import time
import urllib.request

import psycopg2
import yaml

DSN, URL, QUERY_FILE, DASHBOARD = sys.argv[1:5]
failures = []


def fail(message):
    failures.append(message)
    print("check-exporter: FAIL: " + message)


# --- 1. jobs -------------------------------------------------------------
conn = psycopg2.connect(DSN)
conn.autocommit = True
cur = conn.cursor()


def q(sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall() if cur.description else None


def job(name):
    return "decode(md5('exporter %s'), 'hex')" % name


# render: 12 submitted, 5 grabbed (1-hour leases), 3 finished complete and 1
# failed, 1 still running. encode: 4 submitted, 1 expired while queued.
q("SELECT count(compute.submit_job(decode(md5('exporter render ' || i), 'hex'), 'render')) FROM generate_series(1, 12) i")
q("SELECT count(compute.submit_job(decode(md5('exporter encode ' || i), 'hex'), 'encode')) FROM generate_series(1, 4) i")
grabbed = [r[0] for r in q("SELECT job_id FROM compute.grab_job('render', 5, '1 hour') ORDER BY job_id")]
for i, job_id in enumerate(grabbed[:4]):
    q("SELECT compute.finish_job(%s, %s)", (job_id, "failed" if i == 3 else "complete"))
q("SELECT compute.expire_job(job_id) FROM (SELECT job_id FROM compute.jobs WHERE queue = 'encode' ORDER BY job_id LIMIT 1) j")
# timed: ten jobs finished in the last hour, job i waited i * 10 s and ran i
# minutes; stuck: a job whose lease ran out 2 hours ago; stalled: a job
# queued 2 hours ago that nobody grabbed.
q("""BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO compute.jobs (job_id, status, queue, created, last_accessed, grabbed, finished, attempt)
SELECT decode(md5('exporter timed ' || i), 'hex'), 'complete', 'timed', now() - interval '55 minutes', now(),
       now() - interval '55 minutes' + i * interval '10 seconds',
       now() - interval '55 minutes' + i * interval '10 seconds' + i * interval '1 minute', 1
  FROM generate_series(1, 10) i;
INSERT INTO compute.jobs (job_id, status, queue, created, last_accessed, grabbed, attempt, lease_expires, lease)
VALUES (decode(md5('exporter stuck'), 'hex'), 'in-progress', 'stuck', now() - interval '3 hours', now(),
        now() - interval '150 minutes', 1, now() - interval '2 hours', interval '30 minutes');
INSERT INTO compute.jobs (job_id, status, queue, created, last_accessed)
VALUES (decode(md5('exporter stalled'), 'hex'), 'queued', 'stalled', now() - interval '2 hours', now());
COMMIT""")

L = "compute_queue_latency_seconds"
expected = {
    # compute_queue_*: the queue overview
    ("compute_queue_queued", "render"): 7, ("compute_queue_queued", "encode"): 3,
    ("compute_queue_queued", "stalled"): 1, ("compute_queue_queued", "timed"): 0,
    ("compute_queue_in_progress", "render"): 1, ("compute_queue_in_progress", "stuck"): 1,
    ("compute_queue_in_progress", "encode"): 0,
    ("compute_queue_lease_expired", "stuck"): 1, ("compute_queue_lease_expired", "render"): 0,
    ("compute_queue_grabbed_recent", "render"): 5, ("compute_queue_grabbed_recent", "timed"): 10,
    ("compute_queue_grabbed_recent", "stuck"): 0,
    ("compute_queue_completed_recent", "render"): 3, ("compute_queue_completed_recent", "timed"): 10,
    ("compute_queue_failed_recent", "render"): 1, ("compute_queue_failed_recent", "timed"): 0,
    ("compute_queue_oldest_queued_age_seconds", "timed"): 0,
    # percentile_cont of 10, 20, ..., 100 s and of 1 ... 10 minutes
    (L, "timed", "wait", "0.5"): 55, (L, "timed", "wait", "0.95"): 95.5, (L, "timed", "wait", "0.99"): 99.1,
    (L, "timed", "run", "0.5"): 330, (L, "timed", "run", "0.95"): 573, (L, "timed", "run", "0.99"): 594.6,
    (L, "encode", "wait", "0.5"): math.nan, (L, "encode", "run", "0.5"): math.nan,
    # compute_jobs: every status
    ("compute_jobs", "render", "queued"): 7, ("compute_jobs", "render", "in-progress"): 1,
    ("compute_jobs", "render", "complete"): 3, ("compute_jobs", "render", "failed"): 1,
    ("compute_jobs", "render", "expired"): 0, ("compute_jobs", "encode", "expired"): 1,
    ("compute_jobs", "encode", "queued"): 3, ("compute_jobs", "timed", "complete"): 10,
    # compute_health_*: worst verdict (2 critical), findings, value
    ("compute_health_status", "stuck_leases"): 2, ("compute_health_findings", "stuck_leases"): 1,
    ("compute_health_value", "stuck_leases"): 1,
    ("compute_health_status", "stalled_queue"): 2, ("compute_health_findings", "stalled_queue"): 1,
    ("compute_health_status", "horizon_prepared"): 0, ("compute_health_status", "horizon_replication"): 0,
    ("compute_health_status", "dead_rows"): 0, ("compute_health_status", "index_size"): 0,
    # compute_stats_*: the live counters (rows loaded in replica mode are not counted)
    ("compute_stats_submitted", "render"): 12, ("compute_stats_grabbed", "render"): 5,
    ("compute_stats_completed", "render"): 3, ("compute_stats_failed", "render"): 1,
    ("compute_stats_submitted", "encode"): 4, ("compute_stats_expired", "encode"): 1,
    ("compute_stats_dedupe_hits", "render"): 0, ("compute_stats_refused", "render"): 0,
}
# Bounds where the value moves with the clock: (min, max).
bounds = {
    ("compute_queue_oldest_queued_age_seconds", "stalled"): (7200, 7200 + 600),
    ("compute_health_value", "stalled_queue"): (7200, 7200 + 600),
    ("compute_queue_oldest_queued_age_seconds", "render"): (0, 600),
}
# The key of a series: its name and its label values but datname and server.
KEY_LABELS = {"compute_queue_latency_seconds": ("queue", "kind", "quantile"), "compute_jobs": ("queue", "status"),
              "compute_health_status": ("check_name",), "compute_health_findings": ("check_name",),
              "compute_health_value": ("check_name",)}

# --- 2. the exporter's answer --------------------------------------------
body = None
deadline = time.time() + 30
while time.time() < deadline:
    try:
        with urllib.request.urlopen(URL, timeout=10) as response:
            body = response.read().decode()
        if re.search(r"^pg_up 1", body, re.M):
            break
    except OSError:
        pass
    time.sleep(0.5)
if body is None:
    print("check-exporter: FAILED: no answer from %s" % URL)
    sys.exit(1)

series = {}
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
for line in body.splitlines():
    if not line or line.startswith("#"):
        continue
    m = LINE.match(line)
    if not m:
        fail("unparsable line in /metrics: %r" % line)
        continue
    name, labels, value = m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))
    if name.startswith("compute"):
        key = (name,) + tuple(labels.get(label, "") for label in KEY_LABELS.get(name, ("queue",)))
        if key in series:
            fail("series %s served twice" % (key,))
        series[key] = value
    else:
        series.setdefault((name,) + tuple(sorted(labels.items())), value)

if series.get(("pg_up",)) != 1:
    fail("pg_up is %s, not 1" % series.get(("pg_up",)))
load_errors = [v for k, v in series.items() if k[0] == "pg_exporter_user_queries_load_error"]
if load_errors != [0]:
    fail("the query file was not loaded cleanly (pg_exporter_user_queries_load_error %s)" % load_errors)
if series.get(("pg_exporter_last_scrape_error",)) != 0:
    fail("pg_exporter_last_scrape_error is %s" % series.get(("pg_exporter_last_scrape_error",)))

# --- 3. the query file's metrics, and their values ------------------------
defined = set()
for namespace, spec in yaml.safe_load(open(QUERY_FILE)).items():
    for column in spec["metrics"]:
        (column_name, attrs), = column.items()
        if attrs["usage"] != "LABEL":
            defined.add(namespace + "_" + column_name)
served = {k[0] for k in series if k[0].startswith("compute")}
for name in sorted(defined - served):
    fail("metric %s of the query file is not served" % name)
for name in sorted(served - defined):
    fail("metric %s is served but not defined by the query file" % name)

checked = 0
for key, want in expected.items():
    got = series.get(key)
    checked += 1
    if got is None:
        fail("%s: no such series" % (key,))
    elif not (math.isnan(want) and math.isnan(got)) and not (abs(got - want) < 1e-6):
        fail("%s = %s, want %s" % (key, got, want))
for key, (low, high) in bounds.items():
    got = series.get(key)
    checked += 1
    if got is None or not low <= got <= high:
        fail("%s = %s, want it in [%s, %s]" % (key, got, low, high))

# --- 4. the dashboard ------------------------------------------------------
try:
    dashboard = json.load(open(DASHBOARD))
except ValueError as e:
    dashboard = {}
    fail("%s is not valid JSON: %s" % (DASHBOARD, e))


def panels(container):
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)


exprs = [t.get("expr", "") for p in panels(dashboard) for t in p.get("targets", [])]
n_panels = sum(1 for p in panels(dashboard) if p.get("type") != "row")
used = set()
for expr in exprs:
    used |= set(re.findall(r"\bcompute_[a-z0-9_]*", expr))
for v in dashboard.get("templating", {}).get("list", []):
    used |= set(re.findall(r"\bcompute_[a-z0-9_]*", json.dumps(v.get("query", ""))))
if n_panels < 8 or not exprs or any(not e.strip() for e in exprs):
    fail("the dashboard has %d panels and %d queries (some empty?)" % (n_panels, len(exprs)))
for name in sorted(used - defined):
    fail("the dashboard uses %s, which the query file does not define" % name)
for name in sorted(defined - used):
    print("check-exporter: note: the dashboard does not draw %s" % name)

compute_series = sum(1 for k in series if k[0].startswith("compute"))
summary = ("%d compute series served, %d values checked, %d metric names defined, %d served; dashboard: %d panels, "
           "%d queries using %d metric names, %d of them undefined" % (compute_series, checked, len(defined),
                                                                       len(served), n_panels, len(exprs), len(used),
                                                                       len(used - defined)))
if failures:
    print("check-exporter: FAILED: %d failures; %s" % (len(failures), summary))
    sys.exit(1)
print("check-exporter: passed: " + summary)
