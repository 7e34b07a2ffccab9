# compute on a three-node Citus cluster (README, "Distributed mode"): a
# coordinator and two workers on this machine, compute installed at 1.1.0
# and updated with ALTER EXTENSION on all three, then distributed by queue
# (compute.distribute()), and:
#   - the transition matrix through plain UPDATE on the distributed table,
#     the same as on one server (a fourth server, without Citus) and as the
#     contract's table;
#   - 8 workers grabbing and finishing 20,000 jobs across 4 queues, every
#     job complete exactly once;
#   - fencing, requeue_stale() and a deleted and resubmitted job's tokens
#     across shards;
#   - the plan of every statement the hot calls run, single-shard (Citus
#     "Task Count: 1"), and the forms without the queue still working, on
#     every shard;
#   - submit's dedupe across queues, and what distributed mode refuses.
# It prints (never asserts) the jobs/s of the grab+finish loop on the
# cluster and on the plain server.
#
# Run by scripts/check-citus.sh (prove, PostgreSQL::Test::Cluster), with
# Citus and compute in the installation on the PATH.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $shards = 8;
my $jobs = $ENV{CITUS_JOBS} // 20000;

# The servers listen on Unix sockets only; Citus connects to the nodes by
# their socket directory as host name.
my @nodes;
for my $name (qw(coordinator worker1 worker2))
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf(
		'postgresql.conf', qq{
shared_preload_libraries = 'citus, compute'
max_prepared_transactions = 50
max_connections = 100
citus.local_hostname = '@{[$node->host]}'
max_worker_processes = 16
log_statement = none
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	push @nodes, $node;
}
my ($coord, @workers) = @nodes;
$coord->safe_psql('postgres',
	"SELECT citus_set_coordinator_host('@{[$coord->host]}', @{[$coord->port]})");
$coord->safe_psql('postgres',
	"SELECT citus_add_node('@{[$_->host]}', @{[$_->port]})")
  for @workers;
is($coord->safe_psql('postgres', 'SELECT count(*) FROM citus_get_active_worker_nodes()'),
	'2', 'a coordinator with two workers');

# One server without Citus: the reference.
my $single = PostgreSQL::Test::Cluster->new('single');
$single->init;
$single->append_conf('postgresql.conf', "shared_preload_libraries = 'compute'\nmax_connections = 100\n");
$single->start;
$single->safe_psql('postgres', 'CREATE EXTENSION compute');

# --- Install at 1.1.0 and update on all three nodes -----------------------
# Citus propagates CREATE EXTENSION and ALTER EXTENSION ... UPDATE to the
# workers: the scripts run on every node, each on its own tables.
$coord->safe_psql('postgres', "CREATE EXTENSION compute VERSION '1.1.0'");
$coord->safe_psql('postgres',
	"SELECT compute.submit_job(decode(md5('before ' || i), 'hex'), 'old') FROM generate_series(1, 10) i");
$coord->safe_psql('postgres', "SELECT count(*) FROM compute.grab_job('old', 2)");
$coord->safe_psql('postgres', "SELECT count(compute.finish_job(job_id, 'complete')) FROM compute.grab_job('old', 1)");
is($_->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'compute'"),
	'1.1.0', $_->name . ': compute 1.1.0')
  for @nodes;
$coord->safe_psql('postgres', 'ALTER EXTENSION compute UPDATE');
for my $node (@nodes)
{
	is( $node->safe_psql(
			'postgres',
			"SELECT extversion || ' ' || (SELECT value FROM compute.meta WHERE key = 'version')"
			  . " FROM pg_extension WHERE extname = 'compute'"),
		'1.2.0 1.2.0',
		$node->name . ': updated to 1.2.0 (extension and compute.meta)');
}

# --- Distribute ------------------------------------------------------------
my ($rc, $out, $err);
$coord->safe_psql('postgres', "SELECT compute.distribute($shards)");
is( $coord->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'compute.jobs'::regclass"),
	$shards,
	"compute.jobs distributed over $shards shards");
is( $coord->safe_psql(
		'postgres',
		"SELECT count(DISTINCT p.groupid) FROM pg_dist_placement p JOIN pg_dist_shard s USING (shardid)"
		  . " WHERE s.logicalrelid = 'compute.jobs'::regclass"),
	'2', 'its shards on both workers');
is( $coord->safe_psql(
		'postgres',
		"SELECT string_agg(status || ' ' || n, ',' ORDER BY status) FROM"
		  . " (SELECT status, count(*) n FROM compute.jobs WHERE queue = 'old' GROUP BY 1) s"),
	'complete 1,in-progress 2,queued 7',
	'the jobs written before distribute() are in the shards, in every status they had');
($rc, $out, $err) = $coord->psql('postgres',
	"UPDATE compute.jobs SET status = 'complete' WHERE queue = 'old' AND status = 'queued'");
like($err, qr/cannot go from "queued" to "complete"/, 'the guard is awake on the shards after the copy');
($rc, $out, $err) = $coord->psql('postgres', 'SELECT compute.distribute()');
like($err, qr/distributed already/, 'distribute() twice is refused');
($rc, $out, $err) = $single->psql('postgres', 'SELECT compute.distribute()');
like($err, qr/needs the Citus extension/, 'distribute() without Citus is refused');

# --- The transition matrix through plain UPDATE ----------------------------
my @statuses = qw(queued in-progress complete failed expired);
my %path = (
	'queued' => [],
	'in-progress' => ['in-progress'],
	'complete' => [ 'in-progress', 'complete' ],
	'failed' => [ 'in-progress', 'failed' ],
	'expired' => ['expired']);

# The contract's table (SPEC section 3): allowed from -> to.
my %allowed = map { $_ => 1 } (
	map({ "$_>queued" } @statuses),
	'queued>in-progress', 'in-progress>complete', 'in-progress>failed',
	map({ "$_>expired" } qw(queued in-progress complete failed)));

# Each cell: a job of its own queue (so the cells spread over the shards),
# brought to `from` and then to `to` by plain SQL; the outcome and the run
# columns as the trigger left them.
sub matrix
{
	my ($node) = @_;
	my @cells;
	for my $from (@statuses)
	{
		for my $to (@statuses)
		{
			my $queue = "m $from $to";
			my $where = "queue = '$queue' AND job_id = decode(md5('$queue'), 'hex')";
			my $setup = "INSERT INTO compute.jobs (job_id, status, queue) VALUES (decode(md5('$queue'), 'hex'), 'queued', '$queue');\n";
			$setup .= "UPDATE compute.jobs SET status = '$_' WHERE $where;\n" for @{ $path{$from} };
			$node->safe_psql('postgres', $setup);
			my ($rc, $out, $err) = $node->psql('postgres',
				"\\set VERBOSITY verbose\nUPDATE compute.jobs SET status = '$to' WHERE $where");
			my $outcome = $rc == 0 ? 'ok' : ($err =~ /ERROR:\s+([0-9A-Z]{5})/ ? $1 : "error: $err");
			my $row = $node->safe_psql('postgres',
				"SELECT status || ' ' || (grabbed IS NOT NULL) || (finished IS NOT NULL) || ' ' || attempt"
				  . " || ' ' || (lease_expires IS NOT NULL) FROM compute.jobs WHERE $where");
			push @cells, "$from>$to: $outcome, $row";
		}
	}
	return join("\n", @cells);
}
my $distributed_matrix = matrix($coord);
is($distributed_matrix, matrix($single), 'the transition matrix on the distributed table is the one of one server');
my @refused = grep { !/: ok,/ } split /\n/, $distributed_matrix;
is( join(' ', map { /^(\S+):/; $1 } grep { /: ok,/ } split /\n/, $distributed_matrix),
	join(' ', grep { $allowed{$_} } map { my $f = $_; map { "$f>$_" } @statuses } @statuses),
	'the cells allowed are the contract\'s');
ok(!(grep { !/: 55000,/ } @refused), 'every refused cell is 55000');

# A refused write of a multi-row UPDATE changes no row, on any shard.
$coord->safe_psql('postgres',
	"INSERT INTO compute.jobs (job_id, status, queue) SELECT decode(md5('multi' || i), 'hex'), 'queued', 'multi' || (i % 3) FROM generate_series(1, 6) i");
$coord->safe_psql('postgres', "UPDATE compute.jobs SET status = 'in-progress' WHERE job_id = decode(md5('multi1'), 'hex')");
($rc, $out, $err) = $coord->psql('postgres',
	"UPDATE compute.jobs SET status = 'complete' WHERE queue LIKE 'multi%'");
like($err, qr/cannot go from "queued" to "complete"/, 'a multi-shard UPDATE with forbidden rows is refused');
is($coord->safe_psql('postgres', "SELECT count(*) FROM compute.jobs WHERE queue LIKE 'multi%' AND status = 'complete'"),
	'0', '... and changes no row');

# --- Plans: every statement of the hot calls runs on one shard --------------
# auto_explain shows the plans of the statements compute's functions run
# (log_nested_statements) as NOTICEs: Citus says how many shards each
# task list reaches ("Task Count").
$coord->safe_psql('postgres',
	"INSERT INTO compute.jobs (job_id, status, queue) SELECT decode(md5('plan' || i), 'hex'), 'queued', 'plans' FROM generate_series(1, 12) i");
sub plans_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $coord->psql(
		'postgres', qq{LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_level = notice;
SET client_min_messages = notice;
$sql});
	die "$sql: $err" if $rc != 0;
	my @counts = $err =~ /Task Count: (\d+)/g;
	return join(',', @counts);
}
sub job_of
{
	my ($sql) = @_;
	return split /\|/, $coord->safe_psql('postgres', $sql);
}
my ($id, $attempt) = job_of("SELECT job_id, attempt FROM compute.grab_job('plans', 1)");
is(plans_of("SELECT compute.grab_job('plans', 1, '5 minutes')"), '1', 'grab_job: one shard');
is(plans_of("SELECT compute.grab_job('plans', 2, '5 minutes', '1 second')"), '1', 'waiting grab_job (a job there): one shard');
is(plans_of("SELECT compute.heartbeat_in('plans', '$id', $attempt)"), '1', 'heartbeat_in: one shard');
is(plans_of("SELECT compute.finish_job_in('plans', '$id', 'complete', '{out}', $attempt)"), '1', 'finish_job_in: one shard');
($id, $attempt) = job_of("SELECT job_id, attempt FROM compute.grab_job('plans', 1)");
is(plans_of("SELECT compute.finish_and_grab('$id', 'complete', 'plans', NULL, $attempt)"), '1,1',
	'finish_and_grab: its finish and its grab, each on one shard');
my @batch = split /\n/, $coord->safe_psql('postgres', "SELECT job_id::text || ' ' || attempt FROM compute.grab_job('plans', 2)");
my $ids = join(',', map { "'" . (split / /)[0] . "'::bytea" } @batch);
my $attempts = join(',', map { (split / /)[1] } @batch);
is(plans_of("SELECT compute.finish_jobs_in('plans', ARRAY[$ids], 'complete', '{$attempts}')"), '1', 'finish_jobs_in: one shard');
# The forms without the queue work, on every shard (slower: see README).
($id, $attempt) = job_of("SELECT job_id, attempt FROM compute.grab_job('plans', 1)");
is(plans_of("SELECT compute.heartbeat('$id', $attempt)"), $shards, 'heartbeat without the queue: every shard');
is(plans_of("SELECT compute.finish_job('$id', 'complete', NULL, $attempt)"), $shards, 'finish_job without the queue: every shard');
is($coord->safe_psql('postgres', "SELECT status FROM compute.get_job('$id')"), 'complete', '... and it finished the job');

# --- Fencing, requeue_stale() and tokens across shards ---------------------
$coord->safe_psql('postgres',
	"SELECT compute.submit_jobs(ARRAY[decode(md5('fence' || i), 'hex')], 'fence' || i) FROM generate_series(1, 4) i");
my %held;
for my $i (1 .. 4)
{
	my ($fid, $fattempt) = job_of("SELECT job_id, attempt FROM compute.grab_job('fence$i', 1, '10 milliseconds')");
	$held{$i} = [ $fid, $fattempt ];
}
ok($coord->poll_query_until('postgres',
		"SELECT bool_and(lease_expires < now()) FROM compute.jobs WHERE queue LIKE 'fence%'"),
	'the four leases ran out');
is($coord->safe_psql('postgres', 'SELECT compute.requeue_stale()'), '4', 'requeue_stale() takes back the jobs of four queues');
is($coord->safe_psql('postgres', "SELECT string_agg(status || ' ' || lost_leases, ',') FROM compute.jobs WHERE queue LIKE 'fence%'"),
	join(',', ('queued 1') x 4), '... queued again, one lease lost each');
my ($fid, $fattempt) = @{ $held{1} };
($rc, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT compute.finish_job_in('fence1', '$fid', 'complete', NULL, $fattempt)");
like($err, qr/55000: job [0-9a-f]+: the lease of attempt 1 was lost/, 'a finish with the lost lease\'s token is refused (55000)');
($rc, $out, $err) = $coord->psql('postgres', "\\set VERBOSITY verbose\nSELECT compute.heartbeat_in('fence1', '$fid', $fattempt)");
like($err, qr/55000/, 'so is its heartbeat');
my ($fid2, $fattempt2) = job_of("SELECT job_id, attempt FROM compute.grab_job('fence1', 1)");
is("$fid2 $fattempt2", "$fid 2", 'the job is grabbed again at attempt 2');
($rc, $out, $err) = $coord->psql('postgres', "SELECT compute.finish_jobs_in('fence1', ARRAY['$fid'::bytea], 'complete', '{1}')");
like($err, qr/lease of attempt 1 was lost/, 'finish_jobs_in with the old token is refused');
is($coord->safe_psql('postgres', "SELECT status FROM compute.finish_job_in('fence1', '$fid', 'complete', NULL, 2)"),
	'complete', 'the new token finishes it');
# A job deleted and submitted again goes on from its last token.
my ($did, $dattempt) = job_of("SELECT job_id, attempt FROM compute.grab_job('fence2', 1)");
is($coord->safe_psql('postgres', "SELECT compute.delete_job('$did')"), 't', 'delete_job on a distributed table');
is($coord->safe_psql('postgres', "SELECT attempt FROM compute.submit_job('$did', 'fence2')"), $dattempt,
	'submitted again, it goes on from the deleted job\'s token');
is($coord->safe_psql('postgres', "SELECT attempt FROM compute.grab_job('fence2', 1)"), $dattempt + 1, '... and its next grab is a new token');
($rc, $out, $err) = $coord->psql('postgres', "SELECT compute.finish_job_in('fence2', '$did', 'complete', NULL, $dattempt)");
like($err, qr/lease of attempt $dattempt was lost/, 'the deleted job\'s worker cannot finish the new one');

# --- Submits: job_id unique across queues -----------------------------------
my $sid = "decode(md5('submit once'), 'hex')";
$coord->safe_psql('postgres', "SELECT compute.submit_job($sid, 'first')");
is($coord->safe_psql('postgres', "SELECT queue FROM compute.submit_job($sid, 'second')"), 'first',
	'a job submitted to another queue is the existing one (dedupe by hash, across shards)');
is($coord->safe_psql('postgres', "SELECT count(*) FROM compute.jobs WHERE job_id = $sid"), '1', '... one row');
is( $coord->safe_psql(
		'postgres',
		"SELECT string_agg(queue || ' ' || status, ',' ORDER BY queue)"
		  . " FROM compute.submit_jobs(ARRAY[$sid, decode(md5('batch new'), 'hex'), decode(md5('batch new'), 'hex')], 'second')"),
	'first queued,second queued,second queued',
	'submit_jobs (one look across the shards for the batch): the existing job from its queue, a new one named twice once');
is($coord->safe_psql('postgres', "SELECT count(*) FROM compute.jobs WHERE job_id IN ($sid, decode(md5('batch new'), 'hex'))"),
	'2', '... two rows');
$coord->safe_psql('postgres', "UPDATE compute.jobs SET status = 'expired' WHERE queue = 'first' AND job_id = $sid");
is($coord->safe_psql('postgres', "SELECT status || ' ' || queue FROM compute.submit_job($sid, 'first', 'again')"),
	'queued first', 'an expired job is resubmitted in its own queue');
$coord->safe_psql('postgres', "UPDATE compute.jobs SET status = 'expired' WHERE queue = 'first' AND job_id = $sid");
($rc, $out, $err) = $coord->psql('postgres', "SELECT compute.submit_job($sid, 'second')");
like($err, qr/resubmitted to its own queue/, 'resubmitting it to another queue is refused (distributed mode)');

# --- 8 workers, 20,000 jobs, 4 queues ---------------------------------------
# Each worker takes one job and finishes it in one statement (two routed
# statements of one shard, one commit), with its token; pgbench clients
# 0..7 work on queue w<client_id % 4>, two per queue, jobs / 8 each.
sub load_jobs
{
	my ($node) = @_;
	$node->safe_psql('postgres',
		"INSERT INTO compute.jobs (job_id, status, queue, config)"
		  . " SELECT decode(md5('load ' || i), 'hex'), 'queued', 'w' || (i % 4), 'job ' || i FROM generate_series(1, $jobs) i");
}
sub run_workers
{
	my ($node, $label) = @_;
	my $script = "$PostgreSQL::Test::Utils::tmp_check/worker.sql";
	open my $fh, '>', $script or die $!;
	print $fh "\\set q :client_id % 4\n"
	  . "SELECT compute.finish_job_in(g.queue, g.job_id, 'complete', ARRAY['out-' || g.attempt], g.attempt)"
	  . " FROM compute.grab_job('w' || :q, 1, '5 minutes') g;\n";
	close $fh;
	my $per_client = $jobs / 8;
	my $t0 = time;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run [ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', $per_client, '-f', $script,
		'-h', $node->host, '-p', $node->port, 'postgres' ], '>', \$stdout, '2>', \$stderr;
	my $elapsed = time - $t0;
	ok($ok, "$label: pgbench ran") or diag($stderr);
	my ($tps) = $stdout =~ /tps = ([0-9.]+) \(without initial connection time\)/;
	diag(sprintf("%s: %d jobs grabbed and finished by 8 workers in %.1f s: %s jobs/s (pgbench)",
			$label, $jobs, $elapsed, $tps // '?'));
	return $tps;
}
# Two workers of a queue may race for its last job (one skips the other's
# lock and finds none): what such a race left is taken here.
sub drain
{
	my ($node) = @_;
	$node->safe_psql('postgres',
		"SELECT count(compute.finish_job_in(g.queue, g.job_id, 'complete', ARRAY['out-' || g.attempt], g.attempt))"
		  . " FROM generate_series(0, 3) q, compute.grab_job('w' || q, $jobs) g");
}
load_jobs($coord);
run_workers($coord, 'Citus (coordinator + 2 workers)');
drain($coord);
is( $coord->safe_psql(
		'postgres',
		"SELECT count(*) FILTER (WHERE status = 'complete' AND attempt = 1 AND output_files = '{out-1}')"
		  . " || ' ' || count(*) FROM compute.jobs WHERE queue LIKE 'w_'"),
	"$jobs $jobs",
	"every one of the $jobs jobs complete, exactly once (grabbed once, finished by its token)");
is($coord->safe_psql('postgres',
		"SELECT string_agg(queue || ' ' || n, ',' ORDER BY queue) FROM (SELECT queue, count(*) n FROM compute.jobs WHERE queue LIKE 'w_' GROUP BY 1) q"),
	join(',', map { "w$_ " . ($jobs / 4) } 0 .. 3), 'across the four queues');
load_jobs($single);
run_workers($single, 'one server');
drain($single);
is($single->safe_psql('postgres', "SELECT count(*) FROM compute.jobs WHERE queue LIKE 'w_' AND status = 'complete' AND attempt = 1"),
	$jobs, 'the same on one server');

# The forms without the queue, for comparison (README): the same loop with
# finish_job(job_id), a multi-shard UPDATE (two-phase commit across the
# workers), on fewer jobs.
my $unrouted = $ENV{CITUS_UNROUTED_JOBS} // 400;
$coord->safe_psql('postgres',
	"INSERT INTO compute.jobs (job_id, status, queue) SELECT decode(md5('slow ' || i), 'hex'), 'queued', 's' || (i % 4)"
	  . " FROM generate_series(1, $unrouted) i");
{
	my $script = "$PostgreSQL::Test::Utils::tmp_check/unrouted.sql";
	open my $fh, '>', $script or die $!;
	print $fh "\\set q :client_id % 4\n"
	  . "SELECT compute.finish_job(g.job_id, 'complete', NULL, g.attempt) FROM compute.grab_job('s' || :q, 1) g;\n";
	close $fh;
	my ($stdout, $stderr);
	my $t0 = time;
	my $ok = IPC::Run::run [ 'pgbench', '-n', '-c', '8', '-j', '2', '-t', $unrouted / 8, '-f', $script,
		'-h', $coord->host, '-p', $coord->port, 'postgres' ], '>', \$stdout, '2>', \$stderr;
	ok($ok, 'the loop with finish_job without the queue ran') or diag($stderr);
	my ($tps) = $stdout =~ /tps = ([0-9.]+) \(without initial connection time\)/;
	diag(sprintf("Citus, finish_job without the queue: %d jobs by 8 workers in %.1f s: %s jobs/s (pgbench)",
			$unrouted, time - $t0, $tps // '?'));
}

# --- The waiting grab, woken by the coordinator's submit --------------------
# The row is written on a worker, where nobody waits; submit_job tells the
# coordinator's waiters at its commit. With the re-check an hour away, only
# that wake-up can hand the waiter the job within its 60 s.
{
	my ($wout, $werr) = ('', '');
	my $waiter = IPC::Run::start [ 'psql', '-XAtq', '-h', $coord->host, '-p', $coord->port, '-d', 'postgres',
		'-c', "SET compute.wait_recheck = '1h'; SELECT queue FROM compute.grab_job('wake', 1, '1 minute', '60 seconds')" ],
	  '>', \$wout, '2>', \$werr;
	ok( $coord->poll_query_until(
			'postgres',
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%grab_job(''wake''%' AND wait_event_type = 'Extension'"),
		'a grab waits on queue "wake"');
	$coord->safe_psql('postgres', "SELECT compute.submit_job(decode(md5('wake me'), 'hex'), 'wake')");
	$waiter->finish;
	chomp $wout;
	is($wout, 'wake', 'the submit on the coordinator woke it with the job') or diag($werr);
}

# --- The guard fires on the shards ----------------------------------------
for my $worker (@workers)
{
	ok( $worker->safe_psql(
			'postgres',
			"SET citus.show_shards_for_app_name_prefixes = '*';"
			  . " SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
			  . " WHERE c.relname ~ '^jobs_[0-9]+\$' AND t.tgname ~ '^jobs_guard'") > 0,
		$worker->name . ': its shards of compute.jobs carry the guard');
}

# --- The maintenance worker on the coordinator -----------------------------
# requeue_stale() and the expiry of old complete jobs, on every shard.
$coord->safe_psql('postgres', q{
INSERT INTO compute.jobs (job_id, status, queue) SELECT decode(md5('kept ' || i), 'hex'), 'queued', 'kept' || i FROM generate_series(1, 3) i;
UPDATE compute.jobs SET status = 'in-progress' WHERE queue LIKE 'kept_';
UPDATE compute.jobs SET status = 'complete' WHERE queue LIKE 'kept_';
UPDATE compute.jobs SET last_accessed = now() - interval '2 hours' WHERE queue LIKE 'kept_';
SELECT compute.submit_job(decode(md5('lost'), 'hex'), 'lost');
});
$coord->safe_psql('postgres', "SELECT compute.grab_job('lost', 1, '10 milliseconds')");
$coord->append_conf(
	'postgresql.conf', q{
compute.databases = 'postgres'
compute.requeue_interval = '1s'
compute.expire_interval = '1s'
compute.expire_after = '1h'
});
$coord->reload;
ok( $coord->poll_query_until(
		'postgres',
		"SELECT count(*) FILTER (WHERE queue LIKE 'kept_' AND status = 'expired') = 3"
		  . " AND bool_and(status = 'queued' AND lost_leases = 1) FILTER (WHERE queue = 'lost')"
		  . " FROM compute.jobs WHERE queue LIKE 'kept_' OR queue = 'lost'"),
	'the maintenance worker expired old complete jobs and requeued a lost lease, across shards');

$_->stop for (@nodes, $single);
done_testing();
