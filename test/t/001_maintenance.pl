# The maintenance background workers (src/pg/maintenance.cpp) on a real
# server with compute in shared_preload_libraries: requeue of lost leases
# (with compute.max_attempts), expiry in batches, a database that is
# dropped and created again, one without the extension, settings changed at
# reload, a clean shutdown; and a server that preloads compute without
# compute.databases, where nothing is done.
#
# Run by scripts/check-maintenance.sh (prove, PostgreSQL::Test::Cluster).
# Every wait polls for the outcome with the framework's generous deadline;
# nothing here asserts how fast anything happens.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('maintenance');
$node->init;
$node->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'compute'
compute.databases = 'app, other, noext, later, v100'
compute.requeue_interval = '1s'
compute.expire_interval = '1s'
compute.expire_after = '1h'
compute.maintenance_batch = 100
compute.max_attempts = 2
max_worker_processes = 16
log_statement = none
log_line_prefix = '%m [%p] %b '
});
$node->start;

for my $db (qw(app other))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION compute');
}
$node->safe_psql('postgres', 'CREATE DATABASE noext');
$node->safe_psql('postgres', 'CREATE DATABASE v100');
$node->safe_psql('v100', "CREATE EXTENSION compute VERSION '1.0.0'");

# The worker of each database that exists, under a name people can read.
sub workers
{
	return $node->safe_psql('postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity"
		  . " WHERE backend_type = 'compute maintenance' AND application_name = 'compute maintenance'");
}
ok( $node->poll_query_until(
		'postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity"
		  . " WHERE backend_type = 'compute maintenance'",
		'app,noext,other,v100'),
	'one worker per listed database that exists');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'compute maintenance launcher'"
		  . " AND application_name = 'compute maintenance launcher' AND datname IS NULL"),
	'1',
	'the launcher, connected to no database');

# A job grabbed with a one-second lease, never heartbeated: the worker
# requeues it once the lease has run out.
sub lost_lease_job
{
	my ($db, $name) = @_;
	# A queue of its own, so that the grab takes this job and no other.
	$node->safe_psql($db,
		"SELECT compute.submit_job(decode(md5('$name'), 'hex'), 'q_$name');"
		  . " SELECT count(*) FROM compute.grab_job('q_$name', 1, '1 second')");
	return "decode(md5('$name'), 'hex')";
}

my $log = 0;    # offset into the server log
my $job = lost_lease_job('app', 'a');
ok( $node->poll_query_until(
		'app', "SELECT status = 'queued' AND lost_leases = 1 FROM compute.jobs WHERE job_id = $job"),
	'a job whose lease ran out is requeued');
$node->wait_for_log(qr/requeue_stale\(\) in database "app" took back 1 job whose lease ran out/, $log);
pass('the requeue is logged');

# compute.max_attempts = 2: the second lost lease fails the job, as
# requeue_stale() does for any caller.
$node->safe_psql('app', "SELECT count(*) FROM compute.grab_job('q_a', 1, '1 second')");
ok( $node->poll_query_until(
		'app',
		"SELECT status = 'failed' AND lost_leases = 2 AND error IS NOT NULL"
		  . " FROM compute.jobs WHERE job_id = $job"),
	'after compute.max_attempts lost leases the job fails');

# Expiry: 2,500 complete jobs not accessed for two hours (expire_after is
# one hour), 10 accessed just now. Batches of 100: 25 full ones.
$node->safe_psql(
	'app', q{
BEGIN;
INSERT INTO compute.jobs (job_id, status, queue)
  SELECT decode(md5('old' || i), 'hex'), 'queued', 'old' FROM generate_series(1, 2500) i;
INSERT INTO compute.jobs (job_id, status, queue)
  SELECT decode(md5('new' || i), 'hex'), 'queued', 'new' FROM generate_series(1, 10) i;
UPDATE compute.jobs SET status = 'in-progress' WHERE queue IN ('old', 'new');
UPDATE compute.jobs SET status = 'complete' WHERE queue IN ('old', 'new');
UPDATE compute.jobs SET last_accessed = now() - interval '2 hours' WHERE queue = 'old';
COMMIT;
});
ok( $node->poll_query_until(
		'app', "SELECT count(*) FROM compute.jobs WHERE queue = 'old' AND status = 'expired'", '2500'),
	'every old complete job expires, more than one batch of them');
is($node->safe_psql('app', "SELECT count(*) FROM compute.jobs WHERE queue = 'new' AND status = 'complete'"),
	'10', 'recently accessed jobs stay complete');
my ($transactions, $largest) = split /\|/,
  $node->safe_psql('app',
	    "SELECT count(*), max(n) FROM (SELECT xmin::text, count(*) AS n FROM compute.jobs"
	  . " WHERE queue = 'old' GROUP BY 1) t");
cmp_ok($transactions, '>=', 25, "expired in at least 25 transactions ($transactions)");
cmp_ok($largest, '<=', 100, "no transaction expired more than a batch ($largest)");
# All at once: the round goes on batch after batch until one comes back short
# (the jobs were committed together, so one round finds them all). The line
# is written once the round has ended, after the last (short) batch.
$node->wait_for_log(qr/expired 2500 complete jobs in database "app" not accessed for 1h, in 26 transactions/);
pass('one round expired them all, batch after batch');

# A database at 1.0.0 (no leases, so no requeue_stale()): its old complete
# jobs expire.
$node->safe_psql(
	'v100', q{
BEGIN;
INSERT INTO compute.jobs (job_id, status, queue)
  SELECT decode(md5(q), 'hex'), 'queued', q FROM unnest(ARRAY['old', 'new']) q;
UPDATE compute.jobs SET status = 'in-progress';
UPDATE compute.jobs SET status = 'complete';
UPDATE compute.jobs SET last_accessed = now() - interval '2 hours' WHERE queue = 'old';
COMMIT;
});
ok( $node->poll_query_until(
		'v100', "SELECT string_agg(queue || '=' || status, ',' ORDER BY queue) FROM compute.jobs",
		'new=complete,old=expired'),
	'in a database at 1.0.0 the old job expires');
$node->wait_for_log(qr/looking after the jobs of database "v100" \(compute 1\.0\.0\)\n.*DETAIL: +This version has no leases/);
pass('the worker of a database at 1.0.0 says it has nothing to requeue');

# A database listed without the extension: the worker waits (logged once),
# and starts when the extension is created.
$node->wait_for_log(qr/extension "compute" is not installed in database "noext"; waiting/);
pass('a database without the extension is logged');
$node->safe_psql('noext', 'CREATE EXTENSION compute');
$job = lost_lease_job('noext', 'n');
ok( $node->poll_query_until(
		'noext', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'once the extension is created, its jobs are looked after');
my $noext_lines = () =
  slurp_file($node->logfile) =~ /extension "compute" is not installed in database "noext"/g;
is($noext_lines, 1, 'the missing extension was logged once, not at every look');

# A database listed before it exists: waited for, started when created.
$node->wait_for_log(qr/database "later" does not exist; waiting for it/);
pass('a listed database that does not exist is logged');
$node->safe_psql('postgres', 'CREATE DATABASE later');
$node->safe_psql('later', 'CREATE EXTENSION compute');
$job = lost_lease_job('later', 'l');
ok( $node->poll_query_until(
		'later', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'a database created after the server started is looked after');

# DROP DATABASE of a listed database works (its worker steps aside), the
# other databases go on being looked after, and the database is looked
# after again once it is created again with the extension.
$log = -s $node->logfile;
my ($ret, $stdout, $stderr) = $node->psql('postgres', 'DROP DATABASE app');
is($ret, 0, "DROP DATABASE of a listed database succeeds $stderr");
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'compute maintenance' AND datname = 'app'",
		'0'),
	'no worker for the dropped database');
$job = lost_lease_job('other', 'o');
ok( $node->poll_query_until(
		'other', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'the other databases are still looked after');
$node->wait_for_log(qr/database "app" does not exist; waiting for it/, $log);
pass('the dropped database is logged');
($ret, $stdout, $stderr) = $node->psql('postgres', 'CREATE DATABASE copy TEMPLATE other');
is($ret, 0, "CREATE DATABASE from a listed database as its template succeeds $stderr");
$job = lost_lease_job('other', 'p');
ok( $node->poll_query_until(
		'other', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'the template database is looked after again');
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION compute');
$job = lost_lease_job('app', 'b');
ok( $node->poll_query_until(
		'app', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'the database created again is looked after again');
my $missing_lines = () = slurp_file($node->logfile, $log) =~ /database "app" does not exist/g;
is($missing_lines, 1, 'the missing database was logged once, not at every look');

# Reload: a longer interval is taken up (a lost lease stays lost), a short
# one again (it is requeued). The database list: one leaves, its worker
# stops; one comes.
$node->append_conf('postgresql.conf', "compute.requeue_interval = '1h'");
$node->reload;
# Once every worker has read the new setting (a worker reads it when it
# wakes; the reload wakes it), the next requeue is an hour away.
$node->poll_query_until('app', "SHOW compute.requeue_interval", '1h');
sleep 2;    # the workers handle SIGHUP before their next round
$job = lost_lease_job('app', 'c');
sleep 4;    # three times the old interval and the one-second lease
is($node->safe_psql('app', "SELECT status FROM compute.jobs WHERE job_id = $job"),
	'in-progress', 'with compute.requeue_interval = 1h the lost lease waits');
$node->append_conf('postgresql.conf', "compute.requeue_interval = '1s'");
$node->reload;
ok( $node->poll_query_until(
		'app', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'back to 1s at reload, the job is requeued');

$log = -s $node->logfile;
$node->safe_psql('postgres', 'CREATE DATABASE third');
$node->safe_psql('third', 'CREATE EXTENSION compute');
$node->append_conf('postgresql.conf', "compute.databases = 'app, third'");
$node->reload;
ok( $node->poll_query_until(
		'postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity"
		  . " WHERE backend_type = 'compute maintenance'",
		'app,third'),
	'after the reload, workers for exactly the listed databases');
$job = lost_lease_job('third', 't');
ok( $node->poll_query_until(
		'third', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'the newly listed database is looked after');
$node->wait_for_log(qr/stopping the worker of database "other"/, $log);
pass('the worker of the database no longer listed is stopped, and it says so');

# A clean log so far: no crash, no maintenance process ending in an error
# (a process's lines carry its backend type, log_line_prefix %b).
my $clean_part = slurp_file($node->logfile);
like($clean_part, qr/\] compute maintenance +LOG: +compute maintenance: requeue_stale/,
	"the workers' lines carry their backend type (what the next checks look for)");
unlike($clean_part, qr/background worker "compute maintenance[^"]*" \(PID \d+\) exited with exit code/,
	'no maintenance process exited with an error');
unlike($clean_part, qr/\] compute maintenance(?: launcher)? +(?:ERROR|FATAL|PANIC|WARNING):/,
	'no error or warning from the maintenance processes');

# pg_terminate_backend: a worker is started again by the launcher; the
# launcher takes its workers with it and stays away until a restart.
# (SIGTERM in the middle of a statement ends a worker with FATAL, like any
# backend: the log is no longer checked for that from here on.)
#
# Before that, database third gets a search_path that puts a hostile "<" on
# timestamps first, which would make every complete job look old; the
# worker started after pg_terminate_backend reads it (ALTER DATABASE ...
# SET applies at connection) and must not be fooled: it runs with
# search_path = pg_catalog, pg_temp.
$node->safe_psql(
	'third', q{
CREATE SCHEMA evil;
CREATE FUNCTION evil.always(timestamptz, timestamptz) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.always);
ALTER DATABASE third SET search_path = evil, pg_catalog, public;
});
my $old_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'compute maintenance' AND datname = 'third'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)");
ok( $node->poll_query_until(
		'postgres',
		"SELECT pid <> $old_pid FROM pg_stat_activity WHERE backend_type = 'compute maintenance' AND datname = 'third'"),
	'a terminated worker is started again');
$node->safe_psql(
	'third', q{
BEGIN;
INSERT INTO compute.jobs (job_id, status, queue)
  SELECT decode(md5(q), 'hex'), 'queued', q FROM unnest(ARRAY['old', 'new']) q;
UPDATE compute.jobs SET status = 'in-progress' WHERE queue IN ('old', 'new');
UPDATE compute.jobs SET status = 'complete' WHERE queue IN ('old', 'new');
UPDATE compute.jobs SET last_accessed = now() - interval '2 hours' WHERE queue = 'old';
COMMIT;
});
ok( $node->poll_query_until(
		'third', "SELECT status FROM compute.jobs WHERE queue = 'old'", 'expired'),
	'the restarted worker expires the old job');
is($node->safe_psql('third', "SELECT status FROM compute.jobs WHERE queue = 'new'"),
	'complete', "a hostile operator in the database's search_path does not make it expire a recent one");
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'compute maintenance launcher'");
ok( $node->poll_query_until(
		'postgres', "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'compute maintenance%'", '0'),
	'a terminated launcher stops its workers');
$node->restart;
ok( $node->poll_query_until(
		'postgres',
		"SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_stat_activity"
		  . " WHERE backend_type = 'compute maintenance'",
		'app,third'),
	'after a restart, the workers are back');
$job = lost_lease_job('app', 'r');
ok( $node->poll_query_until(
		'app', "SELECT status = 'queued' FROM compute.jobs WHERE job_id = $job"),
	'and at work');

# A clean fast shutdown, with the workers running: nothing crashes.
$node->stop('fast');
my $server_log = slurp_file($node->logfile);
unlike($server_log, qr/terminated by signal|was terminated|PANIC|server process .* exited|segmentation/i,
	'no crash in the server log');
like($server_log, qr/database system is shut down/, 'the server shut down');

# Preloaded without compute.databases: the launcher alone, no worker, and a
# lost lease stays lost.
my $idle = PostgreSQL::Test::Cluster->new('idle');
$idle->init;
$idle->append_conf(
	'postgresql.conf', q{
shared_preload_libraries = 'compute'
compute.requeue_interval = '1s'
compute.expire_interval = '1s'
compute.expire_after = '1s'
});
$idle->start;
$idle->safe_psql('postgres', 'CREATE EXTENSION compute');
$idle->safe_psql(
	'postgres', q{
SELECT compute.submit_job(decode(md5('i'), 'hex'), 'q');
SELECT count(*) FROM compute.grab_job('q', 1, '1 second');
SELECT compute.submit_job(decode(md5('j'), 'hex'), 'q');
SELECT count(*) FROM compute.grab_job('q', 1, '1 hour');
SELECT count(*) FROM compute.finish_job(decode(md5('j'), 'hex'), 'complete');
});
sleep 4;
is( $idle->safe_psql(
		'postgres', "SELECT string_agg(status, ',' ORDER BY job_id) FROM compute.jobs"),
	'complete,in-progress',
	'without compute.databases nothing is requeued or expired');
is( $idle->safe_psql(
		'postgres',
		"SELECT string_agg(backend_type, ',') FROM pg_stat_activity WHERE backend_type LIKE 'compute%'"),
	'compute maintenance launcher',
	'without compute.databases, only the launcher runs');
$idle->stop('fast');

done_testing();
