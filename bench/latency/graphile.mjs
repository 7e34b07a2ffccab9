// graphile-worker's side of the latency benchmark (bench/latency.py runs it).
//
//   node graphile.mjs migrate      installs graphile-worker's schema, then exits
//   node graphile.mjs work OUT     one runner (concurrency 1) with the task
//                                  `lat`; prints "ready" once it runs; on
//                                  SIGTERM stops and writes to OUT one line per
//                                  job: "<payload.k>\t<ns>"
//
// <ns> is process.hrtime.bigint() taken first thing in the task: the
// system-wide CLOCK_MONOTONIC, the clock the Python driver and workers read
// with time.monotonic_ns(). Graphile-worker's defaults otherwise (LISTEN on
// jobs:insert, pollInterval 2 s, no local queue, no batched completion).
// Connection: libpq's PG* variables (node-postgres reads them).
import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { Logger, run, runMigrations } from 'graphile-worker';

// Only warnings and errors (the default logger writes a line per job).
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`graphile: ${level}: ${message}`);
});
const pgPool = new pg.Pool({ max: 4 });
pgPool.on('error', (e) => console.error('graphile: pool error:', e.message));
pgPool.on('connect', (client) => client.on('error', (e) => console.error('graphile: client error:', e.message)));

const [mode, out] = process.argv.slice(2);
if (mode === 'migrate') {
  await runMigrations({ pgPool, logger });
  await pgPool.end();
} else if (mode === 'work' && out) {
  const got = [];
  const runner = await run({
    pgPool,
    logger,
    concurrency: 1,
    noHandleSignals: true,
    taskList: {
      lat: async (payload) => {
        const t = process.hrtime.bigint();
        got.push(`${payload.k}\t${t}\n`);
      },
    },
  });
  process.on('SIGTERM', async () => {
    await runner.stop();
    await pgPool.end();
    writeFileSync(out, got.join(''));
    process.exit(0);
  });
  console.log('ready');
} else {
  console.error('usage: node graphile.mjs migrate | work OUT');
  process.exit(2);
}
