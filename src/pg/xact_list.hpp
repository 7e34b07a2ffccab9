// What a transaction collects until it ends (notifications to send, counts
// to add): entries in TopTransactionContext, each tagged with the
// (sub)transaction nesting level that added it, so that a rolled back
// savepoint takes its entries back and a released one hands them to its
// parent. Used by waiters.cpp and stats.cpp.
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/memutils.h"
}

#include <type_traits>

namespace compute::pg {

// T: plain data with an `int level` member.
template <typename T>
class XactList {
	static_assert(std::is_trivially_copyable_v<T>, "entries are copied as bytes and freed with their context");

public:
	int Count() const {
		return count_;
	}
	T &operator[](int i) {
		return entries_[i];
	}

	// The most recent of the last `window` entries of this level that
	// `match` accepts, or nullptr.
	template <typename Match>
	T *FindAtThisLevel(Match match, int window) {
		int level = GetCurrentTransactionNestLevel();
		for (int i = count_ - 1; i >= 0 && i >= count_ - window; i--) {
			if (entries_[i].level == level && match(entries_[i])) {
				return &entries_[i];
			}
		}
		return nullptr;
	}

	// A new entry of this level (its other members are the caller's to set).
	T &Add(int first_capacity) {
		if (count_ == capacity_) {
			int capacity = capacity_ == 0 ? first_capacity : capacity_ * 2;
			Size bytes = sizeof(T) * static_cast<Size>(capacity);
			entries_ = static_cast<T *>(entries_ == nullptr ? MemoryContextAlloc(TopTransactionContext, bytes)
			                                                : repalloc(entries_, bytes));
			capacity_ = capacity;
		}
		T &entry = entries_[count_++];
		entry.level = GetCurrentTransactionNestLevel();
		return entry;
	}

	// At the end of the transaction (the memory goes with its context).
	void Forget() {
		entries_ = nullptr;
		count_ = 0;
		capacity_ = 0;
	}

	// From a subtransaction callback.
	void OnSubXact(SubXactEvent event) {
		int level = GetCurrentTransactionNestLevel();
		if (event == SUBXACT_EVENT_ABORT_SUB) {
			int kept = 0;
			for (int i = 0; i < count_; i++) {
				if (entries_[i].level < level) {
					entries_[kept++] = entries_[i];
				}
			}
			count_ = kept;
		} else if (event == SUBXACT_EVENT_COMMIT_SUB) {
			for (int i = 0; i < count_; i++) {
				if (entries_[i].level >= level) {
					entries_[i].level = level - 1;
				}
			}
		}
	}

private:
	T *entries_ = nullptr;
	int count_ = 0;
	int capacity_ = 0;
};

} // namespace compute::pg
