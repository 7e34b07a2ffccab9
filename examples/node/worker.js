// A compute worker in Node.js with pg (npm).
//
// Takes jobs of COMPUTE_QUEUE with a waiting grab and a lease, heartbeats
// while the task runs, stores the result and finishes the job with its
// attempt token in one transaction (finish_and_grab takes the next job in
// the same statement), reconnects with backoff when the connection drops,
// and on SIGTERM finishes its current job and exits 0. Connection: libpq's
// PG* variables. See examples/README.md for the task and the results table.
'use strict';
const { Client } = require('pg');

const QUEUE = process.env.COMPUTE_QUEUE || 'examples';
const NAME = process.env.WORKER_NAME || `node-${process.pid}`;
const LEASE = Number(process.env.LEASE_SECONDS || 60);
const WAIT = Number(process.env.WAIT_SECONDS || 30);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (...words) => console.log(NAME, ...words);
// No SQLSTATE, or class 08 (connection) or 57P (operator intervention): the
// connection is gone.
const connectionLost = (e) => !/^[0-9A-Z]{5}$/.test(e.code || '') || /^(08|57P)/.test(e.code);

let client = null;
let stopping = false;
let waiting = false;

process.on('SIGTERM', () => {
  stopping = true;
  if (waiting && client) {
    // End the waiting grab at once (57014; no job is taken) from a second connection.
    const canceller = new Client({ application_name: `${NAME}-cancel` });
    const pid = client.processID;
    canceller.connect()
      .then(() => canceller.query('SELECT pg_cancel_backend($1)', [pid]))
      .catch(() => {})
      .finally(() => canceller.end().catch(() => {}));
  }
});

async function connect() {
  for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
    const c = new Client({ application_name: NAME });
    c.on('error', () => {}); // a dropped connection also fails the query in flight
    try {
      await c.connect();
      return c;
    } catch (e) {
      log('connect failed, retrying in', delay / 1000, 's:', e.message);
      c.end().catch(() => {});
      await sleep(delay);
    }
  }
}

const JOB = 'job_id, attempt, config';

async function grab() {
  if (stopping) return null;
  waiting = true;
  try {
    const r = await client.query(
      `SELECT ${JOB} FROM compute.grab_job($1, 1, make_interval(secs => $2), make_interval(secs => $3))`,
      [QUEUE, LEASE, WAIT]);
    return r.rows[0] || null;
  } catch (e) {
    if (e.code === '57014' && stopping) return null; // cancelled by SIGTERM
    throw e;
  } finally {
    waiting = false;
  }
}

// The task: sleep config's ms, heartbeating; {status, result, error}, or
// null if the lease was lost.
async function run(job) {
  const task = JSON.parse(job.config);
  const deadline = Date.now() + task.ms;
  for (let left; (left = deadline - Date.now()) > 0;) {
    await sleep(Math.min(left, (LEASE * 1000) / 4));
    try {
      await client.query('SELECT compute.heartbeat($1, $2)', [job.job_id, job.attempt]);
    } catch (e) {
      if (e.code === '55000') return null; // another attempt owns the job
      throw e;
    }
  }
  if (task.fail !== undefined) return { status: 'failed', result: null, error: task.fail };
  return { status: 'complete', result: String(task.n * task.n), error: null };
}

// Stores the result and finishes the job in one transaction; returns the
// next job (finish_and_grab, not waiting) or, when stopping, null.
async function finish(job, { status, result, error }) {
  const output = status === 'complete' ? [`${job.job_id.toString('hex')}.out`] : null;
  await client.query('BEGIN');
  try {
    await client.query('INSERT INTO results (job_id, attempt, worker, status, result) VALUES ($1, $2, $3, $4, $5)',
      [job.job_id, job.attempt, NAME, status, result]);
    let next = null;
    if (stopping) {
      await client.query('SELECT compute.finish_job($1, $2, $3, $4, $5)', [job.job_id, status, output, job.attempt, error]);
    } else {
      const r = await client.query(
        `SELECT ${JOB} FROM compute.finish_and_grab($1, $2, $3, $4, $5, $6, 1, make_interval(secs => $7))`,
        [job.job_id, status, QUEUE, output, job.attempt, error, LEASE]);
      next = r.rows[0] || null;
    }
    await client.query('COMMIT');
    return next;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

async function main() {
  client = await connect();
  let job = null;
  while (!stopping || job) {
    try {
      if (job === null) {
        job = await grab();
        continue;
      }
      const hex = job.job_id.toString('hex');
      log('took', hex, job.attempt);
      const outcome = await run(job);
      if (outcome === null) {
        log('lost', hex, job.attempt);
        job = null;
        continue;
      }
      for (;;) { // the finish is retried over reconnects; 55000 ends it
        try {
          const done = job;
          job = await finish(done, outcome);
          log('finished', hex, done.attempt, outcome.status);
          break;
        } catch (e) {
          if (e.code === '55000') { // or our own commit went through before the drop
            log('lost', hex, job.attempt);
            job = null;
            break;
          }
          if (!connectionLost(e)) throw e;
          log('connection lost while finishing; reconnecting');
          client.end().catch(() => {});
          client = await connect();
        }
      }
    } catch (e) {
      if (!connectionLost(e)) throw e;
      log('connection lost; reconnecting:', e.message);
      client.end().catch(() => {});
      client = await connect();
      // a job in hand keeps its lease until it expires: go on with it
    }
  }
  await client.end();
  log('stopped');
}

main().then(() => process.exit(0), (e) => {
  console.error(NAME, 'failed:', e);
  process.exit(1);
});
