#include "pg/plans.hpp"

#include "pg/distributed.hpp"

namespace compute::pg {

namespace {

struct PlanText {
	const char *sql;
	int nargs;
	Oid argtypes[6];
};

// The grab statements ($1 queue, $2 max_jobs), with what each adds to the
// SET list and to the search of queued jobs.
#define GRAB_STATEMENT(set_more, search_more)                                                                          \
	"UPDATE compute.jobs AS j SET status = 'in-progress'" set_more                                                   \
	" WHERE j.job_id = ANY (ARRAY (SELECT job_id FROM compute.jobs"                                                 \
	"                               WHERE queue = $1 AND status = 'queued'" search_more                           \
	"                               ORDER BY created, job_id LIMIT $2"                                              \
	"                               FOR UPDATE SKIP LOCKED))"                                                       \
	"   AND j.queue = $1"                                                                                           \
	" RETURNING j, j.created, j.job_id"

// Names are schema-qualified and the functions run with a pinned
// search_path, so nothing in a caller's schemas can change what these mean.
const PlanText kPlans[] = {
    // Submit: a new job is queued; an existing queued, in-progress or complete
    // job is only touched. A failed or expired one matches no row here but is
    // locked, and Resubmit then queues it again.
    {"INSERT INTO compute.jobs AS j (job_id, status, queue, config, input_files, created, last_accessed)"
     " VALUES ($1, 'queued', $2, $3, $4, pg_catalog.now(), pg_catalog.now())"
     " ON CONFLICT (job_id) DO UPDATE SET last_accessed = pg_catalog.now()"
     " WHERE j.status IN ('queued', 'in-progress', 'complete')"
     " RETURNING j, j.xmax = 0", // (xmax 0: inserted, not an existing job's row)
     4,
     {BYTEAOID, TEXTOID, TEXTOID, TEXTARRAYOID}},
    {"UPDATE compute.jobs AS j SET status = 'queued', queue = $2, config = $3, input_files = $4,"
     " last_accessed = pg_catalog.now()"
     " WHERE j.job_id = $1 AND j.status IN ('failed', 'expired')"
     " RETURNING j",
     4,
     {BYTEAOID, TEXTOID, TEXTOID, TEXTARRAYOID}},
    // Grab: the oldest queued jobs of one queue, read from the partial index
    // jobs_queued_idx and locked with SKIP LOCKED so that concurrent grabbers
    // pass each other, then marked in-progress by primary key (the queue in
    // the WHERE lets a distributed table route it). The trigger sets grabbed,
    // and (1.1.0) attempt and lease_expires. Rows come back in no order; the
    // caller sorts them by (created, job_id).
    {GRAB_STATEMENT("", ""), 2, {TEXTOID, INT8OID}},
    {GRAB_STATEMENT(", lease = $3", ""), 3, {TEXTOID, INT8OID, INTERVALOID}},
    // GrabFromMark: the same from just after the queue's mark, which the
    // index reaches in one descent (see src/core/queue_mark.hpp).
    {GRAB_STATEMENT(", lease = $3", " AND (created, job_id) > ($4, $5)"),
     5,
     {TEXTOID, INT8OID, INTERVALOID, TIMESTAMPTZOID, BYTEAOID}},
    // Finish: a NULL output_files keeps those recorded while the job ran
    // (1.2.0); an array replaces them.
    {"UPDATE compute.jobs AS j SET status = $2, output_files = COALESCE($3, j.output_files)"
     " WHERE j.job_id = $1 RETURNING j",
     3,
     {BYTEAOID, TEXTOID, TEXTARRAYOID}},
    {"UPDATE compute.jobs AS j SET status = $2, output_files = COALESCE($3, j.output_files), error = $4"
     " WHERE j.job_id = $1 RETURNING j",
     4,
     {BYTEAOID, TEXTOID, TEXTARRAYOID, TEXTOID}},
    // FinishFenced names attempt: the trigger refuses it unless the job is
    // in-progress at exactly that attempt.
    {"UPDATE compute.jobs AS j SET status = $2, output_files = COALESCE($3, j.output_files), error = $4,"
     " attempt = $5"
     " WHERE j.job_id = $1 RETURNING j",
     5,
     {BYTEAOID, TEXTOID, TEXTARRAYOID, TEXTOID, INT4OID}},
    // finish_jobs: a batch in one statement; fenced, each row is checked
    // against its own token by the trigger.
    {"UPDATE compute.jobs SET status = $2 WHERE job_id = ANY ($1)", 2, {BYTEAARRAYOID, TEXTOID}},
    {"UPDATE compute.jobs AS j SET status = $2, attempt = f.attempt"
     " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) AS f (job_id, attempt)"
     " WHERE j.job_id = f.job_id",
     3,
     {BYTEAARRAYOID, TEXTOID, INT4ARRAYOID}},
    {"SELECT id FROM pg_catalog.unnest($1) AS id"
     " WHERE NOT EXISTS (SELECT FROM compute.jobs WHERE job_id = id) LIMIT 1",
     1,
     {BYTEAARRAYOID}},
    {"SELECT id FROM pg_catalog.unnest($1) AS id GROUP BY id HAVING pg_catalog.count(*) > 1 LIMIT 1",
     1,
     {BYTEAARRAYOID}},
    {"SELECT status IN ('complete', 'failed', 'expired') FROM compute.jobs WHERE job_id = $1", 1, {BYTEAOID}},
    // Heartbeat: extends the lease by $3, else by the lease the job was
    // grabbed with (kept in j.lease: an explicit extension does not change
    // it), else ($4) by the default lease; fenced by attempt.
    {"UPDATE compute.jobs AS j SET attempt = $2,"
     " lease_expires = pg_catalog.now() + COALESCE($3, j.lease, $4)"
     " WHERE j.job_id = $1 RETURNING j",
     4,
     {BYTEAOID, INT4OID, INTERVALOID, INTERVALOID}},
    {"UPDATE compute.jobs SET status = 'expired'"
     " WHERE status = 'complete' AND last_accessed < pg_catalog.now() - $1",
     1,
     {INTERVALOID}},
    {"UPDATE compute.jobs AS j SET status = 'expired' WHERE j.job_id = $1 RETURNING j", 1, {BYTEAOID}},
    {"UPDATE compute.jobs AS j SET last_accessed = pg_catalog.now() WHERE j.job_id = $1 RETURNING j",
     1,
     {BYTEAOID}},
    // QueuePosition: jobs ahead in grab order (created, then job_id), counted
    // on the partial index of queued jobs of the same queue.
    {"SELECT (SELECT pg_catalog.count(*) FROM compute.jobs o"
     "         WHERE o.queue = me.queue AND o.status = 'queued'"
     "           AND (o.created, o.job_id) < (me.created, me.job_id))"
     " FROM compute.jobs me WHERE me.job_id = $1 AND me.status = 'queued'",
     1,
     {BYTEAOID}},
    {"UPDATE compute.jobs SET status = 'queued'"
     " WHERE status = 'in-progress' AND grabbed < pg_catalog.now() - $1",
     1,
     {INTERVALOID}},
    // ExpiredLeases skips jobs locked by a worker that is finishing or
    // heartbeating right now: they are not lost.
    {"SELECT job_id, lost_leases FROM compute.jobs"
     " WHERE status = 'in-progress' AND lease_expires < pg_catalog.now()"
     " ORDER BY lease_expires FOR UPDATE SKIP LOCKED",
     0,
     {}},
    {"UPDATE compute.jobs SET status = $2, lost_leases = LEAST(lost_leases, 2147483646) + 1, error = $3"
     " WHERE job_id = $1 AND status = 'in-progress'",
     3,
     {BYTEAOID, TEXTOID, TEXTOID}},
    {"DELETE FROM compute.jobs WHERE job_id = $1", 1, {BYTEAOID}},
    // ExpireBatch: Expire, at most $2 jobs, the longest unaccessed first
    // (from the partial index jobs_complete_idx); jobs locked by another
    // transaction (a get_job touch, a resubmit) are left for the next batch.
    {"UPDATE compute.jobs AS j SET status = 'expired'"
     " WHERE j.job_id = ANY (ARRAY (SELECT job_id FROM compute.jobs"
     "                               WHERE status = 'complete' AND last_accessed < pg_catalog.now() - $1"
     "                               ORDER BY last_accessed LIMIT $2 FOR UPDATE SKIP LOCKED)"
     "                       )"
     "   AND j.status = 'complete'",
     2,
     {INTERVALOID, INT8OID}},
    // The queue-carrying forms: the statements above with the queue in the
    // WHERE, so that a table distributed by queue routes each to one shard.
    {"UPDATE compute.jobs AS j SET status = $2, output_files = COALESCE($3, j.output_files), error = $4"
     " WHERE j.job_id = $1 AND j.queue = $5 RETURNING j",
     5,
     {BYTEAOID, TEXTOID, TEXTARRAYOID, TEXTOID, TEXTOID}},
    {"UPDATE compute.jobs AS j SET status = $2, output_files = COALESCE($3, j.output_files), error = $4,"
     " attempt = $5"
     " WHERE j.job_id = $1 AND j.queue = $6 RETURNING j",
     6,
     {BYTEAOID, TEXTOID, TEXTARRAYOID, TEXTOID, INT4OID, TEXTOID}},
    {"UPDATE compute.jobs AS j SET attempt = $2,"
     " lease_expires = pg_catalog.now() + COALESCE($3, j.lease, $4)"
     " WHERE j.job_id = $1 AND j.queue = $5 RETURNING j",
     5,
     {BYTEAOID, INT4OID, INTERVALOID, INTERVALOID, TEXTOID}},
    {"UPDATE compute.jobs AS j SET status = $2 WHERE j.job_id = ANY ($1) AND j.queue = $3 RETURNING j.job_id",
     3,
     {BYTEAARRAYOID, TEXTOID, TEXTOID}},
    {"UPDATE compute.jobs AS j SET status = $2, attempt = f.attempt"
     " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) AS f (job_id, attempt)"
     " WHERE j.job_id = f.job_id AND j.queue = $4 RETURNING j.job_id",
     4,
     {BYTEAARRAYOID, TEXTOID, INT4ARRAYOID, TEXTOID}},
    // Distributed mode. Submits of one job id are serialized on the
    // coordinator (an advisory lock under compute's key), so that the look
    // for the id on every shard and the insert into its queue's shard
    // cannot race with another submit of the id to another queue.
    {"SELECT pg_catalog.pg_advisory_xact_lock(1668246896, $1)", 1, {INT4OID}},
    {"SELECT queue, status FROM compute.jobs WHERE job_id = $1", 1, {BYTEAOID}},
    {"SELECT job_id, queue, status FROM compute.jobs WHERE job_id = ANY ($1)", 1, {BYTEAARRAYOID}},
    {"SELECT attempt FROM compute.retired_attempts WHERE job_id = $1", 1, {BYTEAOID}},
    // (Citus wants no volatile function in DO UPDATE SET, hence $6, the
    // transaction's now(); and it cannot return the shard's row type as
    // compute.jobs, hence the row built from its columns.)
    {"INSERT INTO compute.jobs AS j (job_id, status, queue, config, input_files, created, last_accessed, attempt)"
     " VALUES ($1, 'queued', $2, $3, $4, $6, $6, $5)"
     " ON CONFLICT (queue, job_id) DO UPDATE SET last_accessed = $6"
     " WHERE j.status IN ('queued', 'in-progress', 'complete')"
     " RETURNING ROW(j.*)::compute.jobs, j.xmax = 0",
     6,
     {BYTEAOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT4OID, TIMESTAMPTZOID}},
    {"UPDATE compute.jobs AS j SET status = 'queued', config = $3, input_files = $4,"
     " last_accessed = pg_catalog.now()"
     " WHERE j.job_id = $1 AND j.queue = $2 AND j.status IN ('failed', 'expired')"
     " RETURNING j",
     4,
     {BYTEAOID, TEXTOID, TEXTOID, TEXTARRAYOID}},
    {"DELETE FROM compute.jobs WHERE job_id = $1 RETURNING attempt", 1, {BYTEAOID}},
    {"INSERT INTO compute.retired_attempts AS r (job_id, attempt) VALUES ($1, $2)"
     " ON CONFLICT (job_id) DO UPDATE SET attempt = GREATEST(r.attempt, excluded.attempt)",
     2,
     {BYTEAOID, INT4OID}},
    {"SELECT job_id, lost_leases, queue FROM compute.jobs"
     " WHERE status = 'in-progress' AND lease_expires < pg_catalog.now()"
     " ORDER BY lease_expires",
     0,
     {}},
    // (Rechecked under the row lock: a heartbeat or finish that got there
    // first leaves nothing to do.)
    {"UPDATE compute.jobs SET status = $2, lost_leases = LEAST(lost_leases, 2147483646) + 1, error = $3"
     " WHERE job_id = $1 AND queue = $4 AND status = 'in-progress' AND lease_expires < pg_catalog.now()"
     "   AND lost_leases = $5",
     5,
     {BYTEAOID, TEXTOID, TEXTOID, TEXTOID, INT4OID}},
};

static_assert(sizeof(kPlans) / sizeof(kPlans[0]) == static_cast<size_t>(Statement::Count),
              "one text for each Statement");

// Per statement, its plan for a plain compute.jobs ([0]) and for one that
// is distributed ([1]).
SPIPlanPtr saved[2][static_cast<size_t>(Statement::Count)];

SPIPlanPtr
Prepared(Statement plan) {
	auto index = static_cast<size_t>(plan);
	bool distributed = Distributed();
	SPIPlanPtr &slot = saved[distributed ? 1 : 0][index];
	if (slot == nullptr) {
		const PlanText &text = kPlans[index];
		// Always the generic plan: each statement has one good plan whatever
		// its arguments, and planning it again at every call (the plan
		// cache's custom plans) would cost more than running it. On a
		// distributed table, the plan cache's choice: Citus routes a
		// statement to its shard by the queue's value, which a generic plan
		// of a statement with a subquery does not know.
		int options = distributed ? 0 : CURSOR_OPT_GENERIC_PLAN;
		SPIPlanPtr prepared = SPI_prepare_cursor(text.sql, text.nargs, const_cast<Oid *>(text.argtypes), options);
		if (prepared == nullptr) {
			elog(ERROR, "compute: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		}
		if (SPI_keepplan(prepared) != 0) {
			elog(ERROR, "compute: SPI_keepplan failed");
		}
		slot = prepared;
	}
	return slot;
}

} // namespace

uint64
Execute(Statement plan, Datum *args, const char *nulls) {
	int rc = SPI_execute_plan(Prepared(plan), args, nulls, false, 0);
	if (rc < 0) {
		elog(ERROR, "compute: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	}
	return SPI_processed;
}

} // namespace compute::pg
