// Shared-memory queue marks and the transaction callbacks that keep them
// honest. See src/core/queue_mark.hpp for the rule; this file holds the
// lock, the shared memory, the per-transaction lists of what to record when
// the transaction ends, and the table of prepared transactions that wrote
// queued rows.

#include "pg/marks.hpp"
#include "pg/module.hpp"
#include "pg/waiters.hpp"

extern "C" {
#include "access/twophase.h"
#include "access/xact.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
}

#include <cstring>

namespace compute::pg {

bool queue_marks_enabled = true;

namespace {

constexpr size_t kSlots = 256;
constexpr int kNotes = 16;

// A prepared transaction that wrote or locked queued rows: until it ends
// (COMMIT or ROLLBACK PREPARED, perhaps in another backend), grabs of its
// queue neither use nor move the mark; once it has ended, the mark is
// invalidated. `all_queues` when it touched more than one queue.
struct Prepared {
	TransactionId xid; // InvalidTransactionId: a free entry
	Oid database;
	bool all_queues;
	uint8 queue_len;
	char queue[kMarkQueueBytes];
};

struct Shared {
	int prepared_count; // entries of `prepared` (max_prepared_xacts)
	QueueMark slots[kSlots];
	Prepared prepared[FLEXIBLE_ARRAY_MEMBER];
};

Shared *shared = nullptr; // in shared memory
QueueMark *slots = nullptr;
LWLock *lock = nullptr;

// What this backend's open transaction must record when it ends, per queue,
// as the earliest position: `queued_notes`, rows it leaves queued (recorded
// at commit); `locked_notes`, rows that were queued and that it locked or
// wrote (recorded at abort: they are queued again); `grab_notes`, queues it
// grabbed from (invalidated at abort). When a list overflows, every mark of
// the database is invalidated instead.
struct Note {
	uint8 len;
	char queue[kMarkQueueBytes];
	Position position;
	uint32 rows; // how many rows were noted (for the waiting grabs)
};
Note queued_notes[kNotes];
int queued_count = 0;
Note locked_notes[kNotes];
int locked_count = 0;
Note grab_notes[kNotes];
int grab_count = 0;
bool overflow = false;

bool
Available() {
	return slots != nullptr && queue_marks_enabled;
}

Size
SharedSize() {
	return add_size(offsetof(Shared, prepared), mul_size(sizeof(Prepared), Max(max_prepared_xacts, 1)));
}

Note *
FindNote(Note *notes, int &count, const char *queue, size_t len) {
	for (int i = 0; i < count; i++) {
		if (notes[i].len == len && memcmp(notes[i].queue, queue, len) == 0) {
			return &notes[i];
		}
	}
	if (count == kNotes || len > kMarkQueueBytes) {
		overflow = true;
		return nullptr;
	}
	Note *note = &notes[count++];
	note->len = static_cast<uint8>(len);
	memcpy(note->queue, queue, len);
	note->rows = 0;
	note->position.created = PG_INT64_MAX; // after every position
	memset(note->position.job_id, 0xff, sizeof(note->position.job_id));
	return note;
}

void
NotePosition(Note *notes, int &count, const char *queue, size_t len, const Position &position) {
	Note *note = FindNote(notes, count, queue, len);
	if (note != nullptr) {
		note->rows++;
		if (ComparePositions(position, note->position) < 0) {
			note->position = position;
		}
	}
}

void
StartupShmem() {
	bool found;
	shared = static_cast<Shared *>(ShmemInitStruct("compute queue marks", SharedSize(), &found));
	if (!found) {
		memset(shared, 0, SharedSize());
		shared->prepared_count = Max(max_prepared_xacts, 1);
	}
	slots = shared->slots;
	lock = &GetNamedLWLockTranche("compute")->lock;
}

QueueMark *
MarkOf(const char *queue, size_t len, bool claim) {
	return FindMark(slots, kSlots, {queue, len}, claim, MyDatabaseId);
}

void
InvalidateDatabase() {
	for (size_t i = 0; i < kSlots; i++) {
		if (slots[i].used && slots[i].database == MyDatabaseId) {
			Invalidate(slots[i]);
		}
	}
}

void
RecordNotes(const Note *notes, int count) {
	for (int i = 0; i < count; i++) {
		if (QueueMark *entry = MarkOf(notes[i].queue, notes[i].len, false)) {
			InvalidateIfBehind(*entry, notes[i].position);
		}
	}
}

// Applies this transaction's notes as it ends: committed (`undone` false)
// or rolled back (true, also for a rolled-back savepoint).
void
ApplyNotes(bool undone) {
	if (queued_count == 0 && locked_count == 0 && grab_count == 0 && !overflow) {
		return;
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (overflow) {
		InvalidateDatabase();
	} else if (undone) {
		RecordNotes(locked_notes, locked_count);
		for (int i = 0; i < grab_count; i++) {
			if (QueueMark *entry = MarkOf(grab_notes[i].queue, grab_notes[i].len, false)) {
				Invalidate(*entry);
			}
		}
	} else {
		RecordNotes(queued_notes, queued_count);
	}
	LWLockRelease(lock);
	// Jobs that are grabbable now: wake as many waiting grabs.
	const Note *notes = undone ? locked_notes : queued_notes;
	int count = undone ? locked_count : queued_count;
	for (int i = 0; i < count; i++) {
		WakeQueue(notes[i].queue, notes[i].len, notes[i].rows);
	}
}

// Before PREPARE TRANSACTION: the rows this transaction touched become
// queued (or visible) when it ends, perhaps in another backend; remember it.
void
RememberPrepared() {
	TransactionId xid = GetTopTransactionIdIfAny();
	if ((queued_count == 0 && locked_count == 0 && grab_count == 0 && !overflow) || !TransactionIdIsValid(xid)) {
		return;
	}
	const Note *only = nullptr;
	bool all_queues = overflow;
	for (const Note *notes : {queued_notes, locked_notes, grab_notes}) {
		int count = notes == queued_notes ? queued_count : notes == locked_notes ? locked_count : grab_count;
		for (int i = 0; i < count; i++) {
			if (only == nullptr) {
				only = &notes[i];
			} else if (only->len != notes[i].len || memcmp(only->queue, notes[i].queue, only->len) != 0) {
				all_queues = true;
			}
		}
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->prepared_count; i++) {
		Prepared &entry = shared->prepared[i];
		if (!TransactionIdIsValid(entry.xid)) {
			entry.xid = xid;
			entry.database = MyDatabaseId;
			entry.all_queues = all_queues || only == nullptr;
			entry.queue_len = only == nullptr ? 0 : only->len;
			if (only != nullptr) {
				memcpy(entry.queue, only->queue, only->len);
			}
			break;
		}
	}
	// (No free entry cannot happen: at most max_prepared_xacts transactions
	// are prepared at once, and an ended one's entry is freed below before
	// another could need it, or is harmlessly reused: see PreparedBlocks.)
	LWLockRelease(lock);
}

// Whether a prepared transaction that touched `queue` is still open: then
// the grab neither uses nor moves the mark. Prepared transactions that have
// ended are forgotten here, their queues' marks invalidated.
bool
PreparedBlocks(const char *queue, size_t len) {
	if (max_prepared_xacts == 0) {
		return false;
	}
	bool blocks = false;
	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->prepared_count; i++) {
		Prepared &entry = shared->prepared[i];
		if (!TransactionIdIsValid(entry.xid) || entry.database != MyDatabaseId ||
		    !(entry.all_queues || (entry.queue_len == len && memcmp(entry.queue, queue, len) == 0))) {
			continue;
		}
		if (TransactionIdIsInProgress(entry.xid)) {
			blocks = true;
			continue;
		}
		if (entry.all_queues) {
			InvalidateDatabase();
		} else if (QueueMark *mark = MarkOf(entry.queue, entry.queue_len, false)) {
			Invalidate(*mark);
		}
		entry.xid = InvalidTransactionId;
	}
	LWLockRelease(lock);
	return blocks;
}

void
Forget() {
	queued_count = 0;
	locked_count = 0;
	grab_count = 0;
	overflow = false;
}

void
OnXactEvent(XactEvent event, void *) {
	if (slots == nullptr) {
		return;
	}
	switch (event) {
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PARALLEL_COMMIT:
		ApplyNotes(false);
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PARALLEL_ABORT:
		ApplyNotes(true);
		break;
	case XACT_EVENT_PRE_PREPARE:
		RememberPrepared();
		return; // PREPARE itself follows
	case XACT_EVENT_PREPARE:
		break; // remembered: nothing to apply now
	default:
		return;
	}
	Forget();
}

void
OnSubXactEvent(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
	// Rows locked or grabbed in a rolled-back savepoint are queued again now
	// (conservatively, this records those of the whole transaction so far).
	if (slots != nullptr && event == SUBXACT_EVENT_ABORT_SUB && (grab_count > 0 || locked_count > 0)) {
		ApplyNotes(true);
	}
}

} // namespace

void
InitMarks() {
	RegisterShared({SharedSize, "compute", StartupShmem});
	RegisterXactCallback(OnXactEvent, nullptr);
	RegisterSubXactCallback(OnSubXactEvent, nullptr);
}

bool
ReadQueueMark(const char *queue, size_t len, MarkRead *read) {
	if (!Available()) {
		return false;
	}
	if (PreparedBlocks(queue, len)) {
		return false; // a full scan that sets no mark
	}
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(lock, LW_EXCLUSIVE);
	QueueMark *entry = MarkOf(queue, len, true);
	if (entry != nullptr) {
		*read = ReadMark(*entry, now);
	}
	LWLockRelease(lock);
	if (entry == nullptr) {
		return false;
	}
	if (IsolationUsesXactSnapshot()) {
		// The grab sees the transaction's snapshot, older than the mark:
		// rows committed since are invisible to it. Scan from the head and
		// set nothing.
		return false;
	}
	if (read->from_mark) {
		// This transaction's own queued rows are visible to it before they
		// are recorded for others (at commit): scan from the head if one lies
		// behind the mark.
		for (int i = 0; i < queued_count; i++) {
			const Note &note = queued_notes[i];
			if (note.len == len && memcmp(note.queue, queue, len) == 0 &&
			    ComparePositions(note.position, read->mark) <= 0) {
				read->from_mark = false;
			}
		}
		if (overflow) {
			read->from_mark = false;
		}
	}
	return true;
}

void
AdvanceQueueMark(const char *queue, size_t len, const MarkRead &read, const Position &last) {
	if (!Available()) {
		return;
	}
	FindNote(grab_notes, grab_count, queue, len);
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (QueueMark *entry = MarkOf(queue, len, false)) {
		AdvanceMark(*entry, read, last, now);
	}
	LWLockRelease(lock);
}

void
NoteQueuedRow(const char *queue, size_t len, const Position &position) {
	if (slots != nullptr) {
		NotePosition(queued_notes, queued_count, queue, len, position);
	}
}

void
NoteLockedQueuedRow(const char *queue, size_t len, const Position &position) {
	if (slots != nullptr) {
		NotePosition(locked_notes, locked_count, queue, len, position);
	}
}

size_t
MarkSlots() {
	return kSlots;
}

size_t
CopyMarks(QueueMark *out) {
	if (slots == nullptr) {
		return 0;
	}
	size_t copied = 0;
	LWLockAcquire(lock, LW_SHARED);
	for (size_t i = 0; i < kSlots; i++) {
		if (slots[i].used && slots[i].database == MyDatabaseId) {
			out[copied++] = slots[i];
		}
	}
	LWLockRelease(lock);
	return copied;
}

Position
PositionOf(TimestampTz created, const char *job_id, size_t len) {
	Position position;
	position.created = created;
	memset(position.job_id, 0, sizeof(position.job_id));
	memcpy(position.job_id, job_id, Min(len, sizeof(position.job_id)));
	return position;
}

} // namespace compute::pg
