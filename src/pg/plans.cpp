#include "pg/plans.hpp"

namespace compute::pg {

namespace {

struct PlanText {
	const char *sql;
	int nargs;
	Oid argtypes[5];
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
};

static_assert(sizeof(kPlans) / sizeof(kPlans[0]) == static_cast<size_t>(Statement::Count),
              "one text for each Statement");

SPIPlanPtr saved[static_cast<size_t>(Statement::Count)];

SPIPlanPtr
Prepared(Statement plan) {
	auto index = static_cast<size_t>(plan);
	if (saved[index] == nullptr) {
		const PlanText &text = kPlans[index];
		// Always the generic plan: each statement has one good plan whatever
		// its arguments, and planning it again at every call (the plan
		// cache's custom plans) would cost more than running it.
		SPIPlanPtr prepared =
		    SPI_prepare_cursor(text.sql, text.nargs, const_cast<Oid *>(text.argtypes), CURSOR_OPT_GENERIC_PLAN);
		if (prepared == nullptr) {
			elog(ERROR, "compute: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		}
		if (SPI_keepplan(prepared) != 0) {
			elog(ERROR, "compute: SPI_keepplan failed");
		}
		saved[index] = prepared;
	}
	return saved[index];
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
