-- The markdown report of bench/run.sh, from results.runs and results.ops
-- (filled by the driver as it goes). Run with psql -qXAt.

CREATE TEMP VIEW stats AS
SELECT scenario, system,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY jobs_per_s) AS med,
       min(jobs_per_s) AS lo, max(jobs_per_s) AS hi, count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY last_tps / nullif(first_tps, 0)) AS trend,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY commits::float8 / nullif(jobs, 0)) AS commits_per_job,
       string_agg(DISTINCT note, '; ') FILTER (WHERE note NOT LIKE 'xmin held back%') AS notes,
       max(substring(note FROM 'xmin held back (\d+)')::bigint) AS held
  FROM results.runs GROUP BY scenario, system;

CREATE TEMP VIEW ordered AS
SELECT s.*, array_position(ARRAY['clean', 'xmin', 'depth1k', 'depth1m', 'sync'], scenario) AS so,
       array_position(ARRAY['limit', 'sql', 'sql10', 'compute', 'compute_spi', 'compute_token', 'compute10',
                            'sql_loop', 'compute_loop', 'finish_and_grab', 'finish_and_grab_nonotify'], system) AS yo
  FROM stats s;

CREATE FUNCTION pg_temp.n(x float8) RETURNS text LANGUAGE sql AS
$$ SELECT coalesce(to_char(round(x), 'FM999,999,999,990'), 'n/a') $$;

-- ratio of the medians of (s1, y1) over (s2, y2), and the range of the
-- same ratio taken round by round
CREATE FUNCTION pg_temp.ratio(s1 text, y1 text, s2 text, y2 text, OUT med float8, OUT lo float8, OUT hi float8)
LANGUAGE sql AS $$
SELECT (SELECT a.med / nullif(b.med, 0) FROM stats a, stats b
         WHERE a.scenario = s1 AND a.system = y1 AND b.scenario = s2 AND b.system = y2),
       min(a.jobs_per_s / nullif(b.jobs_per_s, 0)), max(a.jobs_per_s / nullif(b.jobs_per_s, 0))
  FROM results.runs a JOIN results.runs b USING (round)
 WHERE a.scenario = s1 AND a.system = y1 AND b.scenario = s2 AND b.system = y2
$$;

CREATE FUNCTION pg_temp.goal_row(label text, s1 text, y1 text, s2 text, y2 text, goal float8)
RETURNS text LANGUAGE sql AS $$
SELECT format('| %s | %s | %s | %s | %s |', label,
              coalesce(to_char(r.med, 'FM990.00'), 'n/a'),
              CASE WHEN r.lo IS NULL THEN '' ELSE to_char(r.lo, 'FM990.00') || ' - ' || to_char(r.hi, 'FM990.00') END,
              CASE WHEN goal IS NULL THEN 'comparison' ELSE '>= ' || goal END,
              CASE WHEN goal IS NULL OR r.med IS NULL THEN ''
                   WHEN r.med >= goal THEN '**met**' ELSE '**not met**' END)
  FROM pg_temp.ratio(s1, y1, s2, y2) r
$$;

SELECT '## jobs/s (one job = claim + finish; sql10 and compute10 count 10 jobs per transaction;'
       ' sql_loop and compute_loop commit the claim and the finish apart, two transactions per job;'
       ' finish_and_grab finishes one job and claims the next in one transaction;'
       ' finish_and_grab_nonotify does so with compute.notify = off)';
SELECT '';
SELECT '| scenario | system | median | min | max | runs | commits/job | last/first interval | notes |';
SELECT '|---|---|---:|---:|---:|---:|---:|---:|---|';
SELECT format('| %s | %s | %s | %s | %s | %s | %s | %s | %s |',
              CASE scenario WHEN 'clean' THEN 'clean'
                            WHEN 'xmin' THEN 'xmin held'
                            WHEN 'depth1k' THEN 'depth 1k'
                            WHEN 'depth1m' THEN 'depth 1M + 1M done'
                            WHEN 'sync' THEN 'sync on' END,
              system, pg_temp.n(med), pg_temp.n(lo), pg_temp.n(hi), n,
              coalesce(to_char(commits_per_job, 'FM990.00'), ''),
              coalesce(to_char(trend, 'FM990.00'), ''),
              concat_ws('; ', CASE WHEN held IS NOT NULL THEN 'horizon held back up to ' || pg_temp.n(held) || ' xacts' END,
                        notes))
  FROM ordered ORDER BY so, yo;
SELECT '';
SELECT '"commits/job": transactions committed in the database during the run over its jobs (median over'
       ' rounds; a few come from autovacuum and the driver).'
       ' "last/first interval": throughput in the last pgbench progress interval over the first (median over rounds);'
       ' below 1 means the run slowed down as it went. Depth runs queue one new job per transaction'
       ' (grab + finish + submit), so that the queue keeps its depth. Every scenario runs with'
       ' synchronous_commit=off fsync=off but "sync on", which runs with synchronous_commit=on fsync=on'
       ' (the server restarted so): one WAL flush per commit.';
SELECT '';
SELECT '## goals of issue 10 (ratios of medians; range: the same ratio round by round)';
SELECT '';
SELECT '| goal | ratio | range | target | |';
SELECT '|---|---:|---|---|---|';
SELECT pg_temp.goal_row('1. compute / limit (clean)', 'clean', 'compute', 'clean', 'limit', 0.9);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;sql / limit (clean)', 'clean', 'sql', 'clean', 'limit', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;compute_spi (the direct path off) / limit (clean)', 'clean', 'compute_spi', 'clean', 'limit', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;compute with the lease token / without (clean; issue 3)', 'clean', 'compute_token', 'clean', 'compute', NULL);
SELECT pg_temp.goal_row('2. compute10 / sql10 (clean)', 'clean', 'compute10', 'clean', 'sql10', 1.5);
SELECT pg_temp.goal_row('3. finish_and_grab / limit (sync on)', 'sync', 'finish_and_grab', 'sync', 'limit', 0.9);
SELECT pg_temp.goal_row('3. finish_and_grab / sql_loop (sync on)', 'sync', 'finish_and_grab', 'sync', 'sql_loop', 1.2);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;finish_and_grab_nonotify / limit (sync on)', 'sync', 'finish_and_grab_nonotify', 'sync', 'limit', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;finish_and_grab_nonotify / sql_loop (sync on)', 'sync', 'finish_and_grab_nonotify', 'sync', 'sql_loop', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;compute_loop / sql_loop (sync on)', 'sync', 'compute_loop', 'sync', 'sql_loop', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;sql_loop / limit (sync on)', 'sync', 'sql_loop', 'sync', 'limit', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;finish_and_grab / limit (clean)', 'clean', 'finish_and_grab', 'clean', 'limit', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;finish_and_grab / sql_loop (clean)', 'clean', 'finish_and_grab', 'clean', 'sql_loop', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;compute_loop / sql_loop (clean)', 'clean', 'compute_loop', 'clean', 'sql_loop', NULL);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;' || y || ' sync on / clean', 'sync', y, 'clean', y, NULL)
  FROM unnest(ARRAY['limit', 'sql_loop', 'compute_loop', 'finish_and_grab']) y
 WHERE EXISTS (SELECT FROM stats WHERE scenario = 'sync' AND system = y);
SELECT pg_temp.goal_row('4. compute xmin held / compute clean', 'xmin', 'compute', 'clean', 'compute', 0.8);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;' || y || ' xmin held / ' || y || ' clean', 'xmin', y, 'clean', y, NULL)
  FROM unnest(ARRAY['sql', 'limit', 'sql10', 'compute10']) y
 WHERE EXISTS (SELECT FROM stats WHERE scenario = 'xmin' AND system = y);
SELECT pg_temp.goal_row('4. compute depth 1M / depth 1k', 'depth1m', 'compute', 'depth1k', 'compute', 0.9);
SELECT pg_temp.goal_row('&nbsp;&nbsp;&nbsp;sql depth 1M / depth 1k', 'depth1m', 'sql', 'depth1k', 'sql', NULL);
SELECT format('| issue 5: compute.expire() of %s old complete jobs | %s s | %s - %s s | reported | %s jobs/s |',
              pg_temp.n(max(expired)),
              to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY expire_ms) / 1000, 'FM9990.00'),
              to_char(min(expire_ms) / 1000, 'FM9990.00'), to_char(max(expire_ms) / 1000, 'FM9990.00'),
              pg_temp.n(max(expired) / (percentile_cont(0.5) WITHIN GROUP (ORDER BY expire_ms) / 1000)))
  FROM results.ops HAVING count(*) > 0;
SELECT format('| issue 5: compute.queue_position of the last of 1,000,000 queued (= %s) | %s ms | %s - %s ms | no scan of the queue | %s |',
              pg_temp.n(max(qp_last_position)),
              to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY qp_last_ms), 'FM999990.00'),
              to_char(min(qp_last_ms), 'FM999990.00'), to_char(max(qp_last_ms), 'FM999990.00'),
              CASE WHEN percentile_cont(0.5) WITHIN GROUP (ORDER BY qp_last_ms)
                        > 10 * percentile_cont(0.5) WITHIN GROUP (ORDER BY qp_first_ms) + 5
                   THEN format('**not met**: %s ms for the first job, so it grows with the position (it counts the queue ahead)',
                               to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY qp_first_ms), 'FM999990.00'))
                   ELSE format('**met**: %s ms for the first job', to_char(percentile_cont(0.5) WITHIN GROUP (ORDER BY qp_first_ms), 'FM999990.00'))
              END)
  FROM results.ops HAVING count(*) > 0;
