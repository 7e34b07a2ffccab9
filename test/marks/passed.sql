-- check-marks: for each job, how long it waited after a newer job (created
-- later) had been grabbed; jobs still queued count until now. Prints the
-- longest such wait in seconds and how many jobs waited over 1 s.
WITH j AS (
    SELECT created, coalesce(grabbed, clock_timestamp()) AS grabbed FROM compute.jobs
), passed AS (
    SELECT grabbed - min(grabbed) OVER (ORDER BY created DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS wait
      FROM j
)
SELECT round(coalesce(extract(epoch FROM max(wait)), 0)::numeric, 3),
       count(*) FILTER (WHERE wait > interval '1 second'),
       (SELECT count(*) FROM compute.jobs)
  FROM passed;
