// The shared counters of compute.stats; see stats.hpp.

#include "pg/stats.hpp"
#include "pg/module.hpp"
#include "pg/xact_list.hpp"

#include "core/queue_mark.hpp"
#include "core/stats.hpp"

extern "C" {
#include "access/xact.h"
#include "funcapi.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

#include <cstring>

namespace compute::pg {

namespace {

constexpr long kStatsQueues = 1024;

struct Key {
	Oid database;
	uint8 len;           // 0 with `other`: the queues past kStatsQueues
	bool other;
	char queue[kMarkQueueBytes];
};

struct Entry {
	Key key;
	TimestampTz since;
	uint64 counters[kCounterCount];
	uint64 refused[kRefusalCodes];
};

HTAB *table = nullptr;
LWLock *lock = nullptr;

// This transaction's counts, per queue and (sub)transaction level, in
// TopTransactionContext.
struct Pending {
	Key key;
	int level;
	uint64 counters[kCounterCount];
};
XactList<Pending> pending;
bool submitting = false;

Size
SharedSize() {
	return hash_estimate_size(kStatsQueues + 1, sizeof(Entry));
}

void
StartupShmem() {
	HASHCTL info;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(Key);
	info.entrysize = sizeof(Entry);
	table = ShmemInitHash("compute stats", kStatsQueues + 1, kStatsQueues + 1, &info, HASH_ELEM | HASH_BLOBS);
	lock = &GetNamedLWLockTranche("compute stats")->lock;
}

Key
KeyOf(const char *queue, size_t len) {
	Key key;
	memset(&key, 0, sizeof(key));
	key.database = MyDatabaseId;
	if (queue == nullptr) {
		key.other = true;
		return key;
	}
	len = Min(len, kMarkQueueBytes);
	key.len = static_cast<uint8>(len);
	memcpy(key.queue, queue, len);
	return key;
}

// The shared entry of `key`, created if need be; the queues past
// kStatsQueues share one. Under the lock, exclusive.
Entry *
EntryOf(const Key &key) {
	bool found;
	Entry *entry = static_cast<Entry *>(hash_search(table, &key, HASH_ENTER_NULL, &found));
	if (entry == nullptr) {
		Key other = KeyOf(nullptr, 0);
		entry = static_cast<Entry *>(hash_search(table, &other, HASH_ENTER_NULL, &found));
		if (entry == nullptr) {
			return nullptr; // (the table holds one more than kStatsQueues: not reached)
		}
	}
	if (!found) {
		memset(entry->counters, 0, sizeof(entry->counters));
		memset(entry->refused, 0, sizeof(entry->refused));
		entry->since = GetCurrentTimestamp();
	}
	return entry;
}

void
Flush() {
	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 0; i < pending.Count(); i++) {
		Entry *entry = EntryOf(pending[i].key);
		if (entry != nullptr) {
			for (size_t c = 0; c < kCounterCount; c++) {
				entry->counters[c] += pending[i].counters[c];
			}
		}
	}
	LWLockRelease(lock);
}

void
Forget() {
	pending.Forget();
	submitting = false;
}

void
OnXactEvent(XactEvent event, void *) {
	switch (event) {
	case XACT_EVENT_COMMIT:
	case XACT_EVENT_PARALLEL_COMMIT:
	case XACT_EVENT_PREPARE: // counted when prepared: most prepared transactions commit
		if (pending.Count() > 0 && table != nullptr) {
			Flush();
		}
		Forget();
		break;
	case XACT_EVENT_ABORT:
	case XACT_EVENT_PARALLEL_ABORT:
		Forget();
		break;
	default:
		break;
	}
}

void
OnSubXactEvent(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
	if (event == SUBXACT_EVENT_ABORT_SUB) {
		submitting = false;
	}
	pending.OnSubXact(event);
}

} // namespace

void
InitStats() {
	RegisterShared({SharedSize, "compute stats", StartupShmem});
	RegisterXactCallback(OnXactEvent, nullptr);
	RegisterSubXactCallback(OnSubXactEvent, nullptr);
}

void
CountWrite(const char *queue, size_t len, uint32 counters) {
	if (table == nullptr || counters == 0) {
		return;
	}
	len = Min(len, kMarkQueueBytes);
	auto same = [&](const Pending &p) { return p.key.len == len && memcmp(p.key.queue, queue, len) == 0; };
	Pending *mine = pending.FindAtThisLevel(same, INT_MAX);
	if (mine == nullptr) {
		mine = &pending.Add(4);
		mine->key = KeyOf(queue, len);
		memset(mine->counters, 0, sizeof(mine->counters));
	}
	for (size_t c = 0; c < kCounterCount; c++) {
		if (counters & (1u << c)) {
			mine->counters[c]++;
		}
	}
}

void
CountRefusal(const char *queue, size_t len, int sqlstate) {
	if (table == nullptr) {
		return;
	}
	size_t slot = RefusalSlot(unpack_sql_state(sqlstate));
	Key key = KeyOf(queue, len);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	Entry *entry = EntryOf(key);
	if (entry != nullptr) {
		entry->refused[slot]++;
	}
	LWLockRelease(lock);
}

void
SetSubmitting(bool on) {
	submitting = on;
}

bool
Submitting() {
	return submitting;
}

} // namespace compute::pg

extern "C" {

PG_FUNCTION_INFO_V1(compute_stats);
PG_FUNCTION_INFO_V1(compute_stats_reset);

// _stats() returns setof (queue text, since timestamptz, counters bigint[],
// refused_codes text[], refused_counts bigint[]): this database's counters;
// compute.stats names them.
Datum
compute_stats(PG_FUNCTION_ARGS) {
	using namespace compute;
	using namespace compute::pg;
	InitMaterializedSRF(fcinfo, 0);
	if (table == nullptr) {
		return Datum(0);
	}
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	// Copied under the lock, turned into rows after it.
	int capacity = static_cast<int>(kStatsQueues) + 1, count = 0;
	Entry *copies = static_cast<Entry *>(palloc(sizeof(Entry) * capacity));
	LWLockAcquire(lock, LW_SHARED);
	HASH_SEQ_STATUS scan;
	hash_seq_init(&scan, table);
	for (Entry *entry; (entry = static_cast<Entry *>(hash_seq_search(&scan))) != nullptr;) {
		if (entry->key.database == MyDatabaseId && count < capacity) {
			copies[count++] = *entry;
		}
	}
	LWLockRelease(lock);
	for (int i = 0; i < count; i++) {
		const Entry &e = copies[i];
		Datum counters[kCounterCount];
		for (size_t c = 0; c < kCounterCount; c++) {
			counters[c] = Int64GetDatum(static_cast<int64>(e.counters[c]));
		}
		Datum codes[kRefusalCodes], refused[kRefusalCodes];
		int refusals = 0;
		for (size_t r = 0; r < kRefusalCodes; r++) {
			if (e.refused[r] > 0) {
				std::string_view code = RefusalCode(r);
				codes[refusals] = PointerGetDatum(cstring_to_text_with_len(code.data(), static_cast<int>(code.size())));
				refused[refusals] = Int64GetDatum(static_cast<int64>(e.refused[r]));
				refusals++;
			}
		}
		Datum values[5];
		bool nulls[5] = {e.key.other, false, false, false, false};
		values[0] = e.key.other ? Datum(0) : PointerGetDatum(cstring_to_text_with_len(e.key.queue, e.key.len));
		values[1] = TimestampTzGetDatum(e.since);
		values[2] = PointerGetDatum(construct_array(counters, kCounterCount, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		values[3] = PointerGetDatum(construct_array(codes, refusals, TEXTOID, -1, false, TYPALIGN_INT));
		values[4] = PointerGetDatum(construct_array(refused, refusals, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return Datum(0);
}

// stats_reset() returns bigint: forgets this database's counters; how many
// queues it forgot.
Datum
compute_stats_reset(PG_FUNCTION_ARGS) {
	using namespace compute::pg;
	int64 forgotten = 0;
	if (table != nullptr) {
		LWLockAcquire(lock, LW_EXCLUSIVE);
		HASH_SEQ_STATUS scan;
		hash_seq_init(&scan, table);
		for (Entry *entry; (entry = static_cast<Entry *>(hash_seq_search(&scan))) != nullptr;) {
			if (entry->key.database == MyDatabaseId) {
				hash_search(table, &entry->key, HASH_REMOVE, nullptr);
				forgotten++;
			}
		}
		LWLockRelease(lock);
	}
	PG_RETURN_INT64(forgotten);
}

} // extern "C"
