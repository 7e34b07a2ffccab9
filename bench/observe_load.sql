-- bench/observe.sh: :jobs jobs of a week's history on 8 queues, as a
-- restore would load them (session_replication_role = replica: the guard
-- checks nothing, so rows can be written in any status with their own
-- times). Job i was created i * (7 days / :jobs) ago, so the newest are
-- queued. Queues q0-q5 keep up: their jobs older than 10 minutes finished
-- (5% failed), grabbed 0-120 s after they were created and run for 1-300 s;
-- the last 1,200 of them are in progress (every fourth past its lease).
-- Queues q6 and q7 are behind: nothing of theirs newer than 12 hours was
-- grabbed. Complete jobs older than 5 days are expired.
SET session_replication_role = replica;
INSERT INTO compute.jobs (job_id, status, queue, config, input_files, created, last_accessed, grabbed, finished,
                          output_files, attempt, lease_expires, lease, error)
SELECT decode(md5('observe ' || i), 'hex'), s.status, s.queue,
       format('{"frame": %s, "scene": "scene-%s"}', i, i % 977), ARRAY['scene-' || (i % 977) || '.blend'],
       s.created, s.created, s.grabbed, s.finished,
       CASE WHEN s.status IN ('complete', 'expired') THEN ARRAY['frame-' || i || '.exr'] END,
       CASE WHEN s.grabbed IS NULL THEN 0 ELSE 1 END,
       CASE WHEN s.status = 'in-progress' THEN s.grabbed + CASE WHEN i % 4 = 0 THEN interval '1 minute' ELSE interval '1 day' END END,
       CASE WHEN s.status = 'in-progress' THEN interval '5 minutes' END,
       CASE WHEN s.status = 'failed' THEN 'exit code 1' END
  FROM generate_series(1, :jobs) i,
       LATERAL (SELECT 'q' || (i % 8) AS queue,
                       now() - (i * (interval '7 days' / :jobs)) AS created,
                       (i % 8) >= 6 AS behind) q,
       LATERAL (SELECT q.created + (hashint4(i) & 127) * interval '1 second' AS grabbed_at) g,
       LATERAL (SELECT q.queue, q.created,
                       CASE WHEN q.behind AND q.created > now() - interval '12 hours' THEN 'queued'
                            WHEN NOT q.behind AND q.created > now() - interval '10 minutes' THEN 'queued'
                            WHEN NOT q.behind AND q.created > now() - interval '10 minutes'
                                                              - 1600 * (interval '7 days' / :jobs) THEN 'in-progress'
                            WHEN (hashint4(i + 7) & 1023) < 51 THEN 'failed'
                            WHEN q.created < now() - interval '5 days' THEN 'expired'
                            ELSE 'complete' END AS status) s0,
       LATERAL (SELECT s0.queue, s0.created, s0.status,
                       CASE WHEN s0.status <> 'queued' THEN least(g.grabbed_at, now()) END AS grabbed,
                       CASE WHEN s0.status IN ('complete', 'failed', 'expired')
                            THEN least(g.grabbed_at + (1 + (hashint4(-i) & 255)) * interval '1 second', now()) END AS finished) s;
RESET session_replication_role;
