// Where each queue's head is: a mark that lets grab_job start its index
// scan past the jobs that were already taken (extension 1.1.0, with the
// library in shared_preload_libraries).
//
// Why: every grab leaves a dead entry in the queue's index. Until vacuum
// removes them, and for as long as any transaction holds the xmin horizon
// back, a scan from the head of the queue walks over all of them, so grabs
// get slower the more jobs were grabbed. The mark is the position (created,
// job_id) of the last job grabbed from a queue; a grab scans from just after
// it, which the index reaches in one descent.
//
// The rule that keeps it correct: a queued job may lie behind the mark only
// while some transaction that will invalidate the mark is still open. So
//  - a transaction that ends with a queued row at position p in the queue
//    (a committed insert, requeue, resubmit, re-route or touch; an aborted
//    write of a row that was queued, which concurrent grabs skipped while it
//    was locked) invalidates the mark if p is at or behind it, and records p
//    among the queue's recent positions;
//  - a grab advances the mark only if nobody invalidated it since the grab
//    read it (the generation is unchanged) and no position recorded since
//    then lies at or before the grab's last job (the grab may have passed
//    that row without seeing it): otherwise the mark is invalidated;
//  - a full scan from the head (an invalid mark, or every kRescanMicros)
//    that sets the mark also moves the generation on, so that no grab that
//    read the old mark moves it forward again;
//  - a prepared transaction (two-phase commit) is tracked by its xid in
//    shared memory until it ends (src/pg/marks.cpp);
//  - anything else (a plain SELECT ... FOR UPDATE of queued rows without a
//    write) is caught by the full scan at least every kRescanMicros.
// Marks belong to one database: the same queue name in two databases has
// two marks.
// An invalid or missing mark means a full scan from the head, which sets a
// new mark. Everything here is plain data: it lives in shared memory, under
// a lock held by the caller, and nothing in it allocates or throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace compute {

// A job's place in its queue, in grab order.
struct Position {
	std::int64_t created; // microseconds, as PostgreSQL's timestamptz
	unsigned char job_id[16];
};

// <0, 0, >0 as a is before, at, after b.
int
ComparePositions(const Position &a, const Position &b) noexcept;

constexpr std::size_t kMarkQueueBytes = 128; // 32 characters of up to 4 bytes
constexpr std::int64_t kRescanMicros = 1000 * 1000;
constexpr std::size_t kRecentPositions = 32;

struct QueueMark {
	bool used;
	bool valid;
	std::uint8_t queue_len;
	std::uint32_t database; // the database's OID
	char queue[kMarkQueueBytes];
	std::uint64_t generation;
	Position mark;
	std::int64_t last_full_scan; // microseconds
	// Positions of queued rows recorded by ended transactions: the last
	// kRecentPositions, the n-th at recent[n % kRecentPositions].
	std::uint64_t recorded;
	Position recent[kRecentPositions];
};

// What a grab does with a queue's mark.
struct MarkRead {
	bool from_mark;          // scan from after `mark`; else from the head
	Position mark;
	std::uint64_t generation; // to pass back to AdvanceMark
	std::uint64_t recorded;   // likewise
};

MarkRead
ReadMark(const QueueMark &entry, std::int64_t now) noexcept;

// After a grab that took jobs up to `last` (the last in grab order).
void
AdvanceMark(QueueMark &entry, const MarkRead &read, const Position &last, std::int64_t now) noexcept;

// After a transaction that left a queued job at `position` ended.
void
InvalidateIfBehind(QueueMark &entry, const Position &position) noexcept;

// After a grabbing transaction aborted.
void
Invalidate(QueueMark &entry) noexcept;

// The entry of `queue` of `database` in a table of `count` slots, claiming one (and so
// forgetting another queue's mark) when it has none; nullptr only for a
// queue name too long to store.
QueueMark *
FindMark(QueueMark *slots, std::size_t count, std::string_view queue, bool claim,
         std::uint32_t database = 0) noexcept;

} // namespace compute
