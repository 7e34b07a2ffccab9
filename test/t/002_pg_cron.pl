# The alternative to the maintenance workers that the README shows: compute
# loaded on demand (not preloaded) and pg_cron (Debian's postgresql-15-cron)
# calling requeue_stale() and expire(). A real pg_cron runs the two
# statements as the README schedules them, and the jobs change.
#
# Debian 12 ships pg_cron 1.4.2, whose finest schedule is a minute: the test
# waits for the next minute's run, with the framework's deadline.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
my $socket_dir = $node->host;
$node->append_conf(
	'postgresql.conf', qq{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
cron.host = '$socket_dir'
log_statement = none
});
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION pg_cron');
$node->safe_psql('postgres', 'CREATE EXTENSION compute');
my $cron_version = $node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'");
note("pg_cron $cron_version");
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'compute%'"),
	'0', 'compute is not preloaded: no maintenance process');

# As in the README (once a minute: pg_cron 1.4 has no schedule in seconds).
$node->safe_psql(
	'postgres', q{
SELECT cron.schedule('compute-requeue', '* * * * *', 'SELECT compute.requeue_stale()');
SELECT cron.schedule('compute-expire', '* * * * *', $$SELECT compute.expire('1 hour')$$);
});

$node->safe_psql(
	'postgres', q{
SELECT compute.submit_job(decode(md5('lost'), 'hex'), 'lost');
SELECT count(*) FROM compute.grab_job('lost', 1, '1 second');
BEGIN;
INSERT INTO compute.jobs (job_id, status, queue)
  SELECT decode(md5(q), 'hex'), 'queued', q FROM unnest(ARRAY['old', 'new']) q;
UPDATE compute.jobs SET status = 'in-progress' WHERE queue IN ('old', 'new');
UPDATE compute.jobs SET status = 'complete' WHERE queue IN ('old', 'new');
UPDATE compute.jobs SET last_accessed = now() - interval '2 hours' WHERE queue = 'old';
COMMIT;
});

ok( $node->poll_query_until(
		'postgres',
		"SELECT string_agg(queue || '=' || status || '/' || lost_leases, ',' ORDER BY queue) FROM compute.jobs",
		'lost=queued/1,new=complete/0,old=expired/0'),
	"pg_cron's runs requeue the lost lease and expire the old job (and only it)");

my $runs = $node->safe_psql(
	'postgres', q{
SELECT string_agg(DISTINCT j.jobname || ':' || d.status, ',')
  FROM cron.job_run_details d JOIN cron.job j USING (jobid)
});
like($runs, qr/compute-requeue:succeeded/, 'the requeue ran and succeeded');
like($runs, qr/compute-expire:succeeded/,  'the expiry ran and succeeded');
unlike($runs, qr/failed/, 'no run failed');

$node->stop('fast');
done_testing();
