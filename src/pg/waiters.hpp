// Waiting grabs (extension 1.2.0): a grab_job with a wait sleeps on its
// backend's latch until a transaction that makes a job of its queue
// grabbable commits (a submit, requeue, resubmission, requeue_stale, or a
// grab that rolled back), then grabs again.
//
// With compute in shared_preload_libraries, waiters are listed in shared
// memory (one slot per backend: database, queue, latch); a committing
// transaction wakes as many waiters of a queue as it left jobs queued there
// (no stampede), and each waiter also looks again every
// compute.wait_recheck milliseconds (default 1000), a safety net, not the
// way jobs are found. Without preloading there is no list: a waiting grab
// looks again every 100 ms until its wait has passed.
#pragma once

#include "pg/postgres.hpp"

namespace compute::pg {

// compute.wait_recheck, milliseconds.
extern int wait_recheck_ms;

// compute.notify: transitions send NOTIFY (default on).
extern bool notify_enabled;

// compute.notify_finished: terminal transitions also notify
// compute_finished (default off: a transaction that notifies holds
// PostgreSQL's notify lock through its commit, so finishing commits would
// flush the WAL one at a time; wait_job needs no NOTIFY).
extern bool notify_finished;

// From _PG_init.
void
InitWaiters();

// Lists this backend as waiting for `queue` (of this database), after
// resetting its latch: call it before looking for a job, then sleep.
void
AwaitQueue(const char *queue, size_t len);

// Sleeps until the latch is set, `left_ms` passed, or the recheck is due.
void
SleepForQueue(long left_ms);

// Takes this backend off the list (also done when its transaction aborts).
void
StopAwaiting();

// A waiting grab is about to look again after sleeping: from now on, the
// rows this transaction writes are stamped with this moment (RowClock).
void
NoteWoke();

// The time the trigger stamps on grabbed, finished and lease_expires: the
// transaction's start (now()), or, once a waiting grab of this transaction
// slept, the moment it last woke, so that a job it takes gets its whole
// lease and a grabbed time requeue_stale() can trust.
TimestampTz
RowClock();

// From the transaction callbacks (marks.cpp), once the transaction's rows are
// visible: `rows` jobs of `queue` became grabbable.
void
WakeQueue(const char *queue, size_t len, uint32 rows);

// wait_job: lists this backend as waiting for job `job_id` (16 bytes) to
// finish, after resetting its latch.
void
AwaitJob(const char *job_id);

// From the trigger: a NOTIFY to send when the transaction commits (at
// pre-commit, so that a transaction that is prepared (PREPARE TRANSACTION)
// sends none and can still be prepared; rolled-back savepoints take theirs
// back). `payload` may be null; equal notifications are sent once.
void
QueueNotify(const char *channel, const char *payload);

// From the trigger: this transaction finished job `job_id` (complete,
// failed or expired); its waiters are woken when the transaction commits.
void
NoteFinishedJob(const char *job_id);

} // namespace compute::pg
