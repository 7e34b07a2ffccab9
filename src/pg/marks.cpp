// Shared-memory queue marks and the transaction callbacks that keep them
// honest. See src/core/queue_mark.hpp for the rule; this file holds the
// lock, the shared memory, and the per-transaction lists of what to
// invalidate when the transaction ends.

#include "pg/marks.hpp"

extern "C" {
#include "access/xact.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

#include <cstring>

namespace compute::pg {

bool queue_marks_enabled = true;

namespace {

constexpr size_t kSlots = 256;
constexpr int kNotes = 16;

QueueMark *slots = nullptr; // in shared memory
LWLock *lock = nullptr;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

// What this backend's open transaction must do when it ends. When a list
// overflows, every mark is invalidated instead.
struct Note {
	uint8 len;
	char queue[kMarkQueueBytes];
	Position position; // the earliest queued row written (queued notes)
};
Note queued_notes[kNotes];
int queued_count = 0;
Note grab_notes[kNotes];
int grab_count = 0;
bool overflow = false;

bool
Available() {
	return slots != nullptr && queue_marks_enabled;
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
	note->position.created = PG_INT64_MAX; // after every position
	memset(note->position.job_id, 0xff, sizeof(note->position.job_id));
	return note;
}

void
RequestShmem() {
	if (previous_request_hook) {
		previous_request_hook();
	}
	RequestAddinShmemSpace(sizeof(QueueMark) * kSlots);
	RequestNamedLWLockTranche("compute", 1);
}

void
StartupShmem() {
	if (previous_startup_hook) {
		previous_startup_hook();
	}
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found;
	slots = static_cast<QueueMark *>(ShmemInitStruct("compute queue marks", sizeof(QueueMark) * kSlots, &found));
	if (!found) {
		memset(slots, 0, sizeof(QueueMark) * kSlots);
	}
	lock = &GetNamedLWLockTranche("compute")->lock;
	LWLockRelease(AddinShmemInitLock);
}

// Applies this transaction's notes: always those of queued rows, those of
// grabs when the grabs are undone (`undone`).
void
ApplyNotes(bool undone) {
	if (queued_count == 0 && grab_count == 0 && !overflow) {
		return;
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (overflow) {
		for (size_t i = 0; i < kSlots; i++) {
			Invalidate(slots[i]);
		}
	} else {
		for (int i = 0; i < queued_count; i++) {
			Note &note = queued_notes[i];
			if (QueueMark *entry = FindMark(slots, kSlots, {note.queue, note.len}, false)) {
				InvalidateIfBehind(*entry, note.position);
			}
		}
		for (int i = 0; undone && i < grab_count; i++) {
			Note &note = grab_notes[i];
			if (QueueMark *entry = FindMark(slots, kSlots, {note.queue, note.len}, false)) {
				Invalidate(*entry);
			}
		}
	}
	LWLockRelease(lock);
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
	case XACT_EVENT_PREPARE: // decided later, perhaps elsewhere: assume undone
		ApplyNotes(true);
		break;
	default:
		return;
	}
	queued_count = 0;
	grab_count = 0;
	overflow = false;
}

void
OnSubXactEvent(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
	// Grabs undone by a rolled-back savepoint put their jobs back now.
	if (slots != nullptr && event == SUBXACT_EVENT_ABORT_SUB && grab_count > 0) {
		ApplyNotes(true);
	}
}

} // namespace

void
InitMarks() {
	if (process_shared_preload_libraries_in_progress) {
		previous_request_hook = shmem_request_hook;
		shmem_request_hook = RequestShmem;
		previous_startup_hook = shmem_startup_hook;
		shmem_startup_hook = StartupShmem;
	}
	RegisterXactCallback(OnXactEvent, nullptr);
	RegisterSubXactCallback(OnSubXactEvent, nullptr);
}

bool
ReadQueueMark(const char *queue, size_t len, MarkRead *read) {
	if (!Available()) {
		return false;
	}
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(lock, LW_EXCLUSIVE);
	QueueMark *entry = FindMark(slots, kSlots, {queue, len}, true);
	if (entry != nullptr) {
		*read = ReadMark(*entry, now);
	}
	LWLockRelease(lock);
	if (entry != nullptr && read->from_mark) {
		// This transaction's own queued rows are visible to it before they
		// invalidate the mark for others (at commit): scan from the head if
		// one lies behind the mark.
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
	return entry != nullptr;
}

void
AdvanceQueueMark(const char *queue, size_t len, const MarkRead &read, const Position &last) {
	if (!Available()) {
		return;
	}
	FindNote(grab_notes, grab_count, queue, len);
	TimestampTz now = GetCurrentTimestamp();
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (QueueMark *entry = FindMark(slots, kSlots, {queue, len}, false)) {
		AdvanceMark(*entry, read, last, now);
	}
	LWLockRelease(lock);
}

void
NoteQueuedRow(const char *queue, size_t len, const Position &position) {
	if (slots == nullptr) {
		return;
	}
	Note *note = FindNote(queued_notes, queued_count, queue, len);
	if (note != nullptr && ComparePositions(position, note->position) < 0) {
		note->position = position;
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
		if (slots[i].used) {
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
