#include "core/core_only.hpp"
#include "core/queue_mark.hpp"

#include <cstring>

namespace compute {

int
ComparePositions(const Position &a, const Position &b) noexcept {
	if (a.created != b.created) {
		return a.created < b.created ? -1 : 1;
	}
	return std::memcmp(a.job_id, b.job_id, sizeof(a.job_id));
}

MarkRead
ReadMark(const QueueMark &entry, std::int64_t now) noexcept {
	MarkRead read {};
	read.generation = entry.generation;
	read.recorded = entry.recorded;
	read.from_mark = entry.valid && now - entry.last_full_scan < kRescanMicros;
	if (read.from_mark) {
		read.mark = entry.mark;
	}
	return read;
}

void
AdvanceMark(QueueMark &entry, const MarkRead &read, const Position &last, std::int64_t now) noexcept {
	if (entry.generation != read.generation) {
		return; // invalidated (or the slot reused) since the grab read it
	}
	// A queued row recorded since the read, at or before the last job
	// taken, may have been passed unseen (not yet committed, or locked).
	if (entry.recorded - read.recorded > kRecentPositions) {
		Invalidate(entry);
		return;
	}
	for (std::uint64_t n = read.recorded + 1; n <= entry.recorded; n++) {
		if (ComparePositions(entry.recent[n % kRecentPositions], last) <= 0) {
			Invalidate(entry);
			return;
		}
	}
	if (!read.from_mark) {
		entry.last_full_scan = now;
		entry.mark = last;
		entry.valid = true;
		entry.generation++; // grabs that read the old mark must not move this one
	} else if (entry.valid && ComparePositions(last, entry.mark) > 0) {
		entry.mark = last;
	}
}

void
InvalidateIfBehind(QueueMark &entry, const Position &position) noexcept {
	entry.recorded++;
	entry.recent[entry.recorded % kRecentPositions] = position;
	if (entry.valid && ComparePositions(position, entry.mark) <= 0) {
		Invalidate(entry);
	}
}

void
Invalidate(QueueMark &entry) noexcept {
	entry.valid = false;
	entry.generation++;
}

QueueMark *
FindMark(QueueMark *slots, std::size_t count, std::string_view queue, bool claim, std::uint32_t database) noexcept {
	if (queue.size() > kMarkQueueBytes || count == 0) {
		return nullptr;
	}
	std::uint64_t hash = 1469598103934665603ull; // FNV-1a of the database's 4 bytes, then the name
	for (int shift = 0; shift < 32; shift += 8) {
		hash = (hash ^ ((database >> shift) & 0xffu)) * 1099511628211ull;
	}
	for (char c : queue) {
		hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
	}
	std::size_t home = hash % count;
	QueueMark *target = &slots[home];
	for (std::size_t i = 0; i < 8 && i < count; i++) {
		QueueMark &slot = slots[(home + i) % count];
		if (slot.used && slot.database == database && slot.queue_len == queue.size() &&
		    std::memcmp(slot.queue, queue.data(), queue.size()) == 0) {
			return &slot;
		}
		if (!slot.used) {
			target = &slot;
			break;
		}
	}
	if (!claim) {
		return nullptr;
	}
	// A free slot near home, or else the home slot, taken over from another
	// queue. The generation moves on, so that a grab of the old queue that
	// read it cannot write its position into the new queue's mark.
	std::uint64_t generation = target->generation + 1;
	*target = QueueMark {};
	target->used = true;
	target->database = database;
	target->generation = generation;
	target->queue_len = static_cast<std::uint8_t>(queue.size());
	std::memcpy(target->queue, queue.data(), queue.size());
	return target;
}

} // namespace compute
