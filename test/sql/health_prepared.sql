-- compute.health() names a prepared transaction that holds the xmin horizon
-- back (by its gid), and forgets it once it is rolled back. Needs
-- max_prepared_transactions > 0 (SUITE_SETTINGS in scripts/lib.sh), so
-- `make test` runs it, `make installcheck` does not.
\set SHOW_CONTEXT never
SELECT current_setting('max_prepared_transactions')::int > 0 AS prepared_transactions_enabled;
SELECT check_name, subject, verdict, reason FROM compute.health() WHERE check_name = 'horizon_prepared';

BEGIN;
SELECT status FROM compute.submit_job(t.id('prepared-holder'), 'prepared');
PREPARE TRANSACTION 'regress_health_holder';
-- Held for less than the default 5 minutes: named, but ok; with a
-- threshold of 0 it is a warning, and the reason says what to do.
SELECT check_name, subject, verdict,
       reason LIKE 'prepared transaction ''regress_health_holder'' (owner %) was prepared % ago; it holds the xmin horizon % back: vacuum cannot remove the row versions of compute.jobs that died since' AS reason_names_it
  FROM compute.health() WHERE check_name = 'horizon_prepared';
SELECT check_name, subject, verdict,
       reason LIKE 'prepared transaction ''regress_health_holder'' %(COMMIT PREPARED or ROLLBACK PREPARED it)' AS reason_says_what_to_do,
       value >= 0 AS value_is_seconds
  FROM compute.health(horizon_warn => '0', horizon_critical => '1 day') WHERE check_name = 'horizon_prepared';
-- The prepared transaction is not a session: the other horizon rows stay ok.
SELECT check_name, verdict FROM compute.health(horizon_warn => '0', horizon_critical => '1 day')
 WHERE check_name LIKE 'horizon%' AND check_name <> 'horizon_prepared';
ROLLBACK PREPARED 'regress_health_holder';
SELECT check_name, subject, verdict, reason FROM compute.health(horizon_warn => '0') WHERE check_name = 'horizon_prepared';
SELECT count(*) AS jobs FROM compute.jobs WHERE queue = 'prepared';
