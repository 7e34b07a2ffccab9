// The list of waiting grabs in shared memory; see waiters.hpp.

#include "pg/waiters.hpp"
#include "pg/module.hpp"
#include "pg/xact_list.hpp"

#include "core/queue_mark.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/async.h"
#include "utils/memutils.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"
}

#include <cstring>

namespace compute::pg {

int wait_recheck_ms = 1000;
bool notify_enabled = true;
bool notify_finished = false;

namespace {

constexpr long kUnlistedRecheckMs = 100;

struct Waiter {
	bool waiting;
	bool for_job; // wait_job: job_id; else a grab: queue
	unsigned char job_id[16];
	Oid database;
	uint8 queue_len;
	char queue[kMarkQueueBytes];
	Latch *latch;
};

struct Shared {
	int waiting; // how many slots are waiting: a commit with none to wake looks no further
	int waiting_jobs; // how many of them wait for a job (wait_job)
	int slots;
	Waiter waiters[FLEXIBLE_ARRAY_MEMBER];
};

Shared *shared = nullptr;
LWLock *lock = nullptr;
bool listed = false; // this backend's slot is in use

// Jobs this transaction finished, for wait_job's waiters (only while some
// backend waits for a job); past kFinishedNotes, every job waiter of the
// database is woken.
constexpr int kFinishedNotes = 64;
unsigned char finished_jobs[kFinishedNotes][16];
int finished_count = 0;
bool finished_overflow = false;

Size
SharedSize() {
	return add_size(offsetof(Shared, waiters), mul_size(sizeof(Waiter), MaxBackends + 1));
}

void
StartupShmem() {
	bool found;
	shared = static_cast<Shared *>(ShmemInitStruct("compute waiters", SharedSize(), &found));
	if (!found) {
		memset(shared, 0, SharedSize());
		shared->slots = MaxBackends + 1;
	}
	lock = &GetNamedLWLockTranche("compute waiters")->lock;
}

Waiter *
MySlot() {
	if (shared == nullptr || MyBackendId <= 0 || MyBackendId >= shared->slots) {
		return nullptr;
	}
	return &shared->waiters[MyBackendId];
}

// Notifications to send at pre-commit, in TopTransactionContext.
struct Pending {
	char channel[64];
	char payload[64]; // "" for none
	int level;        // the (sub)transaction nesting level that queued it
};
XactList<Pending> pending;

void
SendPending() {
	for (int i = 0; i < pending.Count(); i++) {
		Async_Notify(pending[i].channel, pending[i].payload[0] ? pending[i].payload : nullptr);
	}
}

void
OnSubXactEvent(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
	pending.OnSubXact(event);
}

void
WakeFinished() {
	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 1; i < shared->slots && shared->waiting_jobs > 0; i++) {
		Waiter &waiter = shared->waiters[i];
		if (!waiter.waiting || !waiter.for_job || waiter.database != MyDatabaseId) {
			continue;
		}
		bool match = finished_overflow;
		for (int j = 0; j < finished_count && !match; j++) {
			match = memcmp(waiter.job_id, finished_jobs[j], 16) == 0;
		}
		if (match) {
			waiter.waiting = false;
			shared->waiting--;
			shared->waiting_jobs--;
			SetLatch(waiter.latch);
		}
	}
	LWLockRelease(lock);
}

void
OnXactEvent(XactEvent event, void *) {
	if (listed && (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)) {
		StopAwaiting(); // a cancelled or failed wait
	}
	if (event == XACT_EVENT_COMMIT && (finished_count > 0 || finished_overflow) && shared != nullptr &&
	    shared->waiting_jobs > 0) {
		WakeFinished();
	}
	if (event == XACT_EVENT_PRE_COMMIT && pending.Count() > 0) {
		SendPending();
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
	    event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT) {
		finished_count = 0;
		finished_overflow = false;
		pending.Forget();
	}
}

} // namespace

void
InitWaiters() {
	RegisterShared({SharedSize, "compute waiters", StartupShmem});
	RegisterXactCallback(OnXactEvent, nullptr);
	RegisterSubXactCallback(OnSubXactEvent, nullptr);
}

void
QueueNotify(const char *channel, const char *payload) {
	const char *text = payload ? payload : "";
	// The same notification is kept once per level; a recent duplicate is
	// the common case (a batch of submits).
	auto same = [&](const Pending &p) { return strcmp(p.channel, channel) == 0 && strcmp(p.payload, text) == 0; };
	if (pending.FindAtThisLevel(same, 16) != nullptr) {
		return;
	}
	Pending &entry = pending.Add(16);
	strlcpy(entry.channel, channel, sizeof(entry.channel));
	strlcpy(entry.payload, text, sizeof(entry.payload));
}

void
AwaitQueue(const char *queue, size_t len) {
	ResetLatch(MyLatch);
	Waiter *slot = MySlot();
	if (slot == nullptr || len > kMarkQueueBytes) {
		return;
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (!slot->waiting) {
		shared->waiting++;
	} else if (slot->for_job) {
		shared->waiting_jobs--;
	}
	slot->waiting = true;
	slot->for_job = false;
	slot->database = MyDatabaseId;
	slot->queue_len = static_cast<uint8>(len);
	memcpy(slot->queue, queue, len);
	slot->latch = MyLatch;
	LWLockRelease(lock);
	listed = true;
}

void
SleepForQueue(long left_ms) {
	long recheck = MySlot() != nullptr ? wait_recheck_ms : kUnlistedRecheckMs;
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, Min(left_ms, recheck),
	                 PG_WAIT_EXTENSION);
}

void
StopAwaiting() {
	Waiter *slot = MySlot();
	if (slot == nullptr || !listed) {
		return;
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (slot->waiting) {
		slot->waiting = false;
		shared->waiting--;
		if (slot->for_job) {
			shared->waiting_jobs--;
		}
	}
	LWLockRelease(lock);
	listed = false;
}

namespace {
// When a waiting grab of the transaction `woke_lxid` last woke.
LocalTransactionId woke_lxid = InvalidLocalTransactionId;
TimestampTz woke_at = 0;
} // namespace

void
NoteWoke() {
	woke_lxid = MyProc->lxid;
	woke_at = GetCurrentTimestamp();
}

TimestampTz
RowClock() {
	TimestampTz start = GetCurrentTransactionStartTimestamp();
	return woke_lxid == MyProc->lxid && woke_at > start ? woke_at : start;
}

void
AwaitJob(const char *job_id) {
	ResetLatch(MyLatch);
	Waiter *slot = MySlot();
	if (slot == nullptr) {
		return;
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (!slot->waiting) {
		shared->waiting++;
	}
	if (!slot->waiting || !slot->for_job) {
		shared->waiting_jobs++;
	}
	slot->waiting = true;
	slot->for_job = true;
	memcpy(slot->job_id, job_id, 16);
	slot->database = MyDatabaseId;
	slot->queue_len = 0;
	slot->latch = MyLatch;
	LWLockRelease(lock);
	listed = true;
}

void
NoteFinishedJob(const char *job_id) {
	// Always noted: whether anyone waits is read at commit, after the
	// transaction became visible; a waiter lists itself before it looks at
	// the job, so it either sees the job finished or is listed by then.
	if (shared == nullptr) {
		return;
	}
	if (finished_count == kFinishedNotes) {
		finished_overflow = true;
		return;
	}
	memcpy(finished_jobs[finished_count++], job_id, 16);
}

void
WakeQueue(const char *queue, size_t len, uint32 rows) {
	if (shared == nullptr || rows == 0 || shared->waiting == 0) {
		return; // (an unlocked read: a waiter listed later looks for itself)
	}
	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int i = 1; i < shared->slots && rows > 0 && shared->waiting > 0; i++) {
		Waiter &waiter = shared->waiters[i];
		if (waiter.waiting && !waiter.for_job && waiter.database == MyDatabaseId && waiter.queue_len == len &&
		    memcmp(waiter.queue, queue, len) == 0) {
			waiter.waiting = false; // the next wake-up goes to another waiter
			shared->waiting--;
			SetLatch(waiter.latch);
			rows--;
		}
	}
	LWLockRelease(lock);
}

} // namespace compute::pg
