// The queue marks of src/core/queue_mark.hpp, kept in shared memory, with
// the transaction bookkeeping that invalidates them. They exist only when
// the library is in shared_preload_libraries (and compute.queue_marks is
// on); otherwise every grab scans its queue from the head.
#pragma once

#include "pg/postgres.hpp"

#include "core/queue_mark.hpp"

namespace compute::pg {

// compute.queue_marks: use the marks (when they exist).
extern bool queue_marks_enabled;

// From _PG_init: asks for the shared memory when preloaded, and registers
// the transaction callbacks.
void
InitMarks();

// The mark of `queue` (in this database) for a grab; false when there are
// no marks, or when this grab must neither use nor set one.
bool
ReadQueueMark(const char *queue, size_t len, MarkRead *read);

// After a grab that took jobs up to `last`; remembers the queue so that an
// abort invalidates its mark.
void
AdvanceQueueMark(const char *queue, size_t len, const MarkRead &read, const Position &last);

// From the trigger: this transaction wrote a queued row at `position`
// (recorded at commit).
void
NoteQueuedRow(const char *queue, size_t len, const Position &position);

// From the trigger: this transaction locked (wrote) a row that was queued at
// `position` (recorded if the transaction or a savepoint rolls back).
void
NoteLockedQueuedRow(const char *queue, size_t len, const Position &position);

// Copies the used slots of this database, for compute._queue_marks(); returns how many (0
// without marks). `out` has room for MarkSlots() entries.
size_t
CopyMarks(QueueMark *out);
size_t
MarkSlots();

// The position of a job from its created and job_id values.
Position
PositionOf(TimestampTz created, const char *job_id, size_t len);

} // namespace compute::pg
