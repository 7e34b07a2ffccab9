// libFuzzer harness over the server-independent core (src/core/): parsing and
// validation of everything a client can send (job ids, statuses, queue names,
// file-name arrays, max_jobs, intervals, finish statuses, finish_jobs'
// arrays), the transition check and the row checks of the trigger, the lease
// rules (fencing tokens, lease lengths, error texts, what a lost lease leads
// to, lost_leases), the queue marks (src/core/queue_mark.hpp: a table of
// slots and a sequence of operations on it) and Hex. Every input drives every
// function the core declares: the bytes are split by
// FuzzedDataProvider into the arguments, and each result is checked against an
// independent statement of the contract (SPEC sections 3 and 5), not against
// the implementation itself.
//
// Built and run by scripts/check-fuzz.sh (clang, -fsanitize=fuzzer,address,
// undefined); the seed corpus is test/fuzz/corpus/, the dictionary
// test/fuzz/core.dict. A failed invariant prints what broke and aborts, which
// libFuzzer reports as a crash and saves as a reproducer.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/lease.hpp"
#include "core/queue_mark.hpp"
#include "core/rights.hpp"
#include "core/status.hpp"
#include "core/transition.hpp"
#include "core/validate.hpp"

using namespace compute;

namespace {

[[noreturn]] void
Fail(const char *what, int line, const std::string &context) {
	std::fprintf(stderr, "core_fuzz: invariant failed at line %d: %s\n  context: %s\n", line, what,
	             context.c_str());
	std::abort();
}

#define EXPECT(cond, context)                                                                                          \
	do {                                                                                                               \
		if (!(cond)) {                                                                                                 \
			Fail(#cond, __LINE__, (context));                                                                          \
		}                                                                                                              \
	} while (0)

// A printable rendering of arbitrary bytes for failure messages.
std::string
Show(std::string_view text) {
	std::string out = "\"";
	for (unsigned char c : text.substr(0, 200)) {
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			out.push_back(static_cast<char>(c));
		} else {
			char buf[8];
			std::snprintf(buf, sizeof(buf), "\\x%02x", c);
			out += buf;
		}
	}
	if (text.size() > 200) {
		out += "...";
	}
	return out + "\" (" + std::to_string(text.size()) + " bytes)";
}

// The five statuses, spelled as SPEC section 2 lists them (independent of
// StatusName).
const char *const kSpecNames[kStatusCount] = {"queued", "in-progress", "complete", "failed", "expired"};

// SPEC section 3, transcribed: kTable[from + 1][to], from = -1 for a new job.
// Rows: (new), queued, in-progress, complete, failed, expired; columns: to.
const bool kTable[kStatusCount + 1][kStatusCount] = {
    //            queued in-progress complete failed expired
    /* new */ {true, false, false, false, false},
    /* queued */ {true, true, false, false, true},
    /* in-progress */ {true, false, true, true, true},
    /* complete */ {true, false, false, false, true},
    /* failed */ {true, false, false, false, true}, // failed -> expired: 1.2.0
    /* expired */ {true, false, false, false, false},
};

bool
SpecAllows(std::optional<Status> from, Status to) {
	int row = from ? static_cast<int>(*from) + 1 : 0;
	return kTable[row][static_cast<int>(to)];
}

// Removes the first occurrence of `part` from `text` (for checking the fixed
// wording of a message around the client's own text, which may hold anything).
std::string
Without(std::string text, std::string_view part) {
	if (part.empty()) {
		return text;
	}
	auto at = text.find(part);
	if (at != std::string::npos) {
		text.erase(at, part.size());
	}
	return text;
}

// Every Error: a code of the five, a message that is one non-empty line in
// lower case without a trailing period, a detail that is empty or a sentence.
// `embedded` are client-supplied strings that the message may quote verbatim.
void
ExpectWellFormed(const Error &error, Code code, const std::vector<std::string_view> &embedded,
                 const std::string &context) {
	EXPECT(error.code == code, context + " code=" + std::to_string(static_cast<int>(error.code)));
	EXPECT(!error.message.empty(), context);
	std::string fixed = error.message;
	for (auto part : embedded) {
		fixed = Without(fixed, part);
	}
	for (unsigned char c : fixed) {
		EXPECT(c >= 0x20 && c != 0x7f, context + " message=" + Show(error.message));
	}
	EXPECT(error.message[0] >= 'a' && error.message[0] <= 'z', context + " message=" + Show(error.message));
	EXPECT(fixed.empty() || fixed.back() != '.', context + " message=" + Show(error.message));
	if (!error.detail.empty()) {
		EXPECT(error.detail[0] >= 'A' && error.detail[0] <= 'Z', context + " detail=" + Show(error.detail));
		EXPECT(error.detail.back() == '.', context + " detail=" + Show(error.detail));
		for (unsigned char c : error.detail) {
			EXPECT(c >= 0x20 && c != 0x7f, context + " detail=" + Show(error.detail));
		}
	}
}

// The message names the job as SPEC section 5 asks: "job <hex>".
void
ExpectNamesJob(const Error &error, std::string_view job_id, const std::string &context) {
	EXPECT(error.message.find("job " + Hex(job_id)) != std::string::npos,
	       context + " message=" + Show(error.message));
}

// Hex: lower-case hex of the first max_bytes bytes, then "..." when cut; the
// digits decode back to exactly those bytes.
void
FuzzHex(std::string_view bytes, std::size_t max_bytes, const std::string &hex) {
	std::string context = "Hex(" + Show(bytes) + ", " + std::to_string(max_bytes) + ") = " + Show(hex);
	std::size_t shown = bytes.size() < max_bytes ? bytes.size() : max_bytes;
	bool cut = shown < bytes.size();
	EXPECT(hex.size() == shown * 2 + (cut ? 3 : 0), context);
	if (cut) {
		EXPECT(hex.compare(shown * 2, 3, "...") == 0, context);
	}
	auto nibble = [&](char c) -> int {
		if (c >= '0' && c <= '9') {
			return c - '0';
		}
		EXPECT(c >= 'a' && c <= 'f', context);
		return c - 'a' + 10;
	};
	for (std::size_t i = 0; i < shown; i++) {
		int value = nibble(hex[2 * i]) * 16 + nibble(hex[2 * i + 1]);
		EXPECT(value == static_cast<unsigned char>(bytes[i]), context);
	}
}

Status
AnyStatus(FuzzedDataProvider &in) {
	return kAllStatuses[in.ConsumeIntegralInRange<int>(0, kStatusCount - 1)];
}

// A job id: 16 bytes more often than chance would give, else any length.
std::string
JobId(FuzzedDataProvider &in) {
	std::size_t len = in.ConsumeBool() ? kJobIdBytes : in.ConsumeIntegralInRange<std::size_t>(0, 48);
	return in.ConsumeBytesAsString(len);
}

// A client string (bytes as the glue passes them: anything but NUL is
// possible in text; bytea and the core take NUL too).
std::string
Text(FuzzedDataProvider &in, std::size_t max = 80) {
	return in.ConsumeRandomLengthString(max);
}

void
FuzzStatuses(FuzzedDataProvider &in, std::string_view job) {
	// Every name round-trips, and matches the SPEC's spelling.
	for (int i = 0; i < kStatusCount; i++) {
		Status s = kAllStatuses[i];
		EXPECT(static_cast<int>(s) == i, "kAllStatuses order");
		EXPECT(StatusName(s) == kSpecNames[i], "StatusName(" + std::to_string(i) + ")");
		auto parsed = ParseStatus(StatusName(s));
		EXPECT(parsed && *parsed == s, "ParseStatus(StatusName(" + std::to_string(i) + "))");
	}

	// ParseStatus accepts exactly the five names (case, spaces, prefixes and
	// NULs all refused).
	std::string text = Text(in, 24);
	auto parsed = ParseStatus(text);
	std::optional<Status> expected;
	for (int i = 0; i < kStatusCount; i++) {
		if (text == kSpecNames[i]) {
			expected = kAllStatuses[i];
		}
	}
	EXPECT(parsed == expected, "ParseStatus(" + Show(text) + ")");
	if (parsed) {
		EXPECT(StatusName(*parsed) == text, "StatusName(ParseStatus(" + Show(text) + "))");
	}

	// CheckStatusValue: ok iff ParseStatus, *out set only then.
	Status out = Status::Expired;
	Status sentinel = in.ConsumeBool() ? Status::Queued : Status::Expired;
	out = sentinel;
	Check check = CheckStatusValue(job, text, &out);
	std::string context = "CheckStatusValue(" + Show(job) + ", " + Show(text) + ")";
	if (expected) {
		EXPECT(!check, context);
		EXPECT(out == *expected, context);
	} else {
		EXPECT(check.has_value(), context);
		EXPECT(out == sentinel, context + " wrote *out on error");
		ExpectWellFormed(*check, Code::BadParam, {text}, context);
		ExpectNamesJob(*check, job, context);
	}

	// A stray enum value (not one of the five) has no name to parse back.
	auto stray = static_cast<Status>(in.ConsumeIntegralInRange<std::uint8_t>(kStatusCount, 255));
	std::string_view stray_name = StatusName(stray);
	EXPECT(!ParseStatus(stray_name), "ParseStatus(StatusName(stray))");
}

void
FuzzFinishStatus(FuzzedDataProvider &in, std::string_view job) {
	bool is_null = in.ConsumeIntegralInRange<int>(0, 7) == 0;
	std::string text;
	if (!is_null) {
		switch (in.ConsumeIntegralInRange<int>(0, 3)) {
		case 0:
			text = kSpecNames[in.ConsumeIntegralInRange<int>(0, kStatusCount - 1)];
			break;
		default:
			text = Text(in, 24);
		}
	}
	std::optional<std::string_view> arg;
	if (!is_null) {
		arg = text;
	}
	Status sentinel = in.ConsumeBool() ? Status::Queued : Status::InProgress;
	Status out = sentinel;
	Check check = CheckFinishStatus(job, arg, &out);
	std::string context = "CheckFinishStatus(" + Show(job) + ", " + (is_null ? "NULL" : Show(text)) + ")";
	if (is_null) {
		EXPECT(check.has_value(), context);
		ExpectWellFormed(*check, Code::NullValue, {}, context);
		EXPECT(out == sentinel, context);
		return;
	}
	if (text == "complete" || text == "failed") {
		EXPECT(!check, context);
		EXPECT(out == (text == "complete" ? Status::Complete : Status::Failed), context);
		return;
	}
	EXPECT(check.has_value(), context);
	EXPECT(out == sentinel, context + " wrote *out on error");
	ExpectWellFormed(*check, Code::BadParam, {text}, context);
	ExpectNamesJob(*check, job, context);
}

void
FuzzTransitions(FuzzedDataProvider &in, std::string_view job) {
	// The whole table, every time: it is cheap, and a broken cell shows at once.
	for (int f = -1; f < kStatusCount; f++) {
		std::optional<Status> from;
		if (f >= 0) {
			from = kAllStatuses[f];
		}
		for (Status to : kAllStatuses) {
			std::string context = std::string("transition ") + (from ? kSpecNames[f] : "(new)") + " -> " +
			                      kSpecNames[static_cast<int>(to)];
			EXPECT(TransitionAllowed(from, to) == SpecAllows(from, to), context);
		}
	}

	std::optional<Status> from;
	if (in.ConsumeIntegralInRange<int>(0, 5) != 0) {
		from = AnyStatus(in);
	}
	Status to = AnyStatus(in);
	std::string context = "CheckTransition(" + Show(job) + ", " +
	                      (from ? kSpecNames[static_cast<int>(*from)] : "(new)") + ", " +
	                      kSpecNames[static_cast<int>(to)] + ")";
	Check check = CheckTransition(job, from, to);
	EXPECT(check.has_value() == !TransitionAllowed(from, to), context);
	if (check) {
		ExpectWellFormed(*check, Code::BadTransition, {}, context);
		ExpectNamesJob(*check, job, context);
		EXPECT(!check->detail.empty(), context);
		EXPECT(check->message.find(std::string("\"") + kSpecNames[static_cast<int>(to)] + "\"") != std::string::npos,
		       context + " message=" + Show(check->message));
		if (from) {
			EXPECT(check->message.find(std::string("\"") + kSpecNames[static_cast<int>(*from)] + "\"") !=
			           std::string::npos,
			       context + " message=" + Show(check->message));
		}
	}

	// Effects of entering a status (SPEC section 3).
	Effects effects = EffectsOf(to);
	EXPECT(effects.clear_run == (to == Status::Queued), context + " EffectsOf");
	EXPECT(effects.set_grabbed == (to == Status::InProgress), context + " EffectsOf");
	EXPECT(effects.set_finished == (to == Status::Complete || to == Status::Failed), context + " EffectsOf");

	// job_id and created never change.
	bool id_changed = in.ConsumeBool();
	bool created_changed = in.ConsumeBool();
	Check immutable = CheckImmutable(job, id_changed, created_changed);
	std::string icontext = context + " CheckImmutable(" + std::to_string(id_changed) + ", " +
	                       std::to_string(created_changed) + ")";
	EXPECT(immutable.has_value() == (id_changed || created_changed), icontext);
	if (immutable) {
		ExpectWellFormed(*immutable, Code::BadTransition, {}, icontext);
		ExpectNamesJob(*immutable, job, icontext);
	}
}

void
FuzzJobId(FuzzedDataProvider &in, std::string_view job) {
	Check check = CheckJobId(job);
	std::string context = "CheckJobId(" + Show(job) + ")";
	EXPECT(check.has_value() == (job.size() != kJobIdBytes), context);
	if (check) {
		ExpectWellFormed(*check, Code::BadParam, {}, context);
		EXPECT(check->message.find(std::to_string(job.size())) != std::string::npos, context);
		EXPECT(check->message.find(Hex(job)) != std::string::npos, context);
	}
	Check null = CheckJobId(std::nullopt);
	EXPECT(null.has_value(), "CheckJobId(NULL)");
	ExpectWellFormed(*null, Code::NullValue, {}, "CheckJobId(NULL)");

	Error unknown = UnknownJob(job);
	ExpectWellFormed(unknown, Code::NoJob, {}, "UnknownJob(" + Show(job) + ")");
	ExpectNamesJob(unknown, job, "UnknownJob");

	std::size_t max_bytes = in.ConsumeIntegralInRange<std::size_t>(0, 40);
	FuzzHex(job, max_bytes, Hex(job, max_bytes));
	FuzzHex(job, 32, Hex(job));
	FuzzHex(job, std::numeric_limits<std::size_t>::max(), Hex(job, std::numeric_limits<std::size_t>::max()));
}

// Characters of a UTF-8 string as the server would count them (lead bytes);
// the harness also passes counts that disagree with the bytes, since the core
// must rely on the count it is given.
std::size_t
Utf8Chars(std::string_view text) {
	std::size_t n = 0;
	for (unsigned char c : text) {
		n += (c & 0xc0) != 0x80;
	}
	return n;
}

void
FuzzQueue(FuzzedDataProvider &in) {
	bool is_null = in.ConsumeIntegralInRange<int>(0, 9) == 0;
	std::string queue = is_null ? std::string() : Text(in, 96);
	std::size_t chars = in.ConsumeBool() ? Utf8Chars(queue) : in.ConsumeIntegral<std::size_t>();
	std::optional<std::string_view> arg;
	if (!is_null) {
		arg = queue;
	}
	Check check = CheckQueue(arg, chars);
	std::string context =
	    "CheckQueue(" + (is_null ? std::string("NULL") : Show(queue)) + ", " + std::to_string(chars) + ")";
	if (is_null) {
		EXPECT(check.has_value(), context);
		ExpectWellFormed(*check, Code::NullValue, {}, context);
	} else if (queue.empty()) {
		EXPECT(check.has_value(), context);
		ExpectWellFormed(*check, Code::BadParam, {}, context);
	} else if (chars > kMaxQueueChars) {
		EXPECT(check.has_value(), context);
		ExpectWellFormed(*check, Code::TooLong, {queue}, context);
		EXPECT(check->detail.find(std::to_string(chars)) != std::string::npos, context);
	} else {
		EXPECT(!check, context);
	}
}

void
FuzzFiles(FuzzedDataProvider &in) {
	const char *column = in.ConsumeBool() ? "input_files" : "output_files";
	int ndim = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-1, 7) : in.ConsumeIntegral<int>();
	Check shape = CheckFileArrayShape(column, ndim);
	std::string context = std::string("CheckFileArrayShape(") + column + ", " + std::to_string(ndim) + ")";
	EXPECT(shape.has_value() == (ndim > 1), context);
	if (shape) {
		ExpectWellFormed(*shape, Code::BadParam, {}, context);
		EXPECT(shape->message.find(column) != std::string::npos, context);
	}

	// An array of names, each NULL, empty or anything.
	int count = in.ConsumeIntegralInRange<int>(0, 8);
	for (int i = 0; i < count; i++) {
		int kind = in.ConsumeIntegralInRange<int>(0, 5);
		std::string name = kind <= 1 ? std::string() : Text(in, 40);
		std::optional<std::string_view> arg;
		if (kind != 0) {
			arg = name;
		}
		std::size_t index = in.ConsumeBool() ? static_cast<std::size_t>(i + 1) : in.ConsumeIntegral<std::size_t>();
		Check check = CheckFileName(column, index, arg);
		std::string fcontext = std::string("CheckFileName(") + column + ", " + std::to_string(index) + ", " +
		                       (kind == 0 ? std::string("NULL") : Show(name)) + ")";
		if (kind == 0) {
			EXPECT(check.has_value(), fcontext);
			ExpectWellFormed(*check, Code::NullValue, {}, fcontext);
		} else if (name.empty()) {
			EXPECT(check.has_value(), fcontext);
			ExpectWellFormed(*check, Code::BadParam, {}, fcontext);
		} else {
			EXPECT(!check, fcontext);
		}
		if (check) {
			EXPECT(check->message.find(column) != std::string::npos, fcontext);
			EXPECT(check->detail.find(std::to_string(index)) != std::string::npos, fcontext);
		}
	}
}

void
FuzzNumbers(FuzzedDataProvider &in) {
	std::optional<std::int64_t> max_jobs;
	switch (in.ConsumeIntegralInRange<int>(0, 4)) {
	case 0:
		break; // NULL
	case 1:
		max_jobs = in.ConsumeIntegralInRange<std::int64_t>(-3, 3);
		break;
	case 2:
		max_jobs = in.PickValueInArray<std::int64_t>({std::numeric_limits<std::int64_t>::min(),
		                                              std::numeric_limits<std::int64_t>::max(),
		                                              std::numeric_limits<std::int32_t>::min(),
		                                              std::numeric_limits<std::int32_t>::max()});
		break;
	default:
		max_jobs = in.ConsumeIntegral<std::int64_t>();
	}
	Check check = CheckMaxJobs(max_jobs);
	std::string context = "CheckMaxJobs(" + (max_jobs ? std::to_string(*max_jobs) : std::string("NULL")) + ")";
	if (!max_jobs) {
		EXPECT(check.has_value(), context);
		ExpectWellFormed(*check, Code::NullValue, {}, context);
	} else if (*max_jobs < 1) {
		EXPECT(check.has_value(), context);
		ExpectWellFormed(*check, Code::BadParam, {}, context);
		EXPECT(check->message.find(std::to_string(*max_jobs)) != std::string::npos, context);
	} else {
		EXPECT(!check, context);
	}

	const char *name = in.PickValueInArray({"older_than", "interval", "x"});
	bool is_null = in.ConsumeBool();
	bool negative = in.ConsumeBool();
	Check interval = CheckInterval(name, is_null, negative);
	std::string icontext = std::string("CheckInterval(") + name + ", " + std::to_string(is_null) + ", " +
	                       std::to_string(negative) + ")";
	EXPECT(interval.has_value() == (is_null || negative), icontext);
	if (interval) {
		ExpectWellFormed(*interval, is_null ? Code::NullValue : Code::BadParam, {}, icontext);
		EXPECT(interval->message.rfind(name, 0) == 0, icontext);
	}

	bool null_arg = in.ConsumeBool();
	Check not_null = CheckNotNull(name, null_arg);
	EXPECT(not_null.has_value() == null_arg, "CheckNotNull");
	if (not_null) {
		ExpectWellFormed(*not_null, Code::NullValue, {}, "CheckNotNull");
	}
}

// The lease rules (src/core/lease.hpp), against the header's own words.
void
FuzzLeases(FuzzedDataProvider &in, std::string_view job) {
	Status status = AnyStatus(in);
	std::int64_t current = in.ConsumeIntegral<std::int64_t>();
	std::int64_t claimed = in.ConsumeBool() ? current : in.ConsumeIntegral<std::int64_t>();
	Check fence = CheckFence(job, status, current, claimed);
	std::string context = "CheckFence(" + Show(job) + ", " + kSpecNames[static_cast<int>(status)] + ", " +
	                      std::to_string(current) + ", " + std::to_string(claimed) + ")";
	// Accepted only while the job is in-progress at exactly that attempt.
	EXPECT(fence.has_value() == !(status == Status::InProgress && current == claimed), context);
	if (fence) {
		ExpectWellFormed(*fence, Code::BadTransition, {}, context);
		ExpectNamesJob(*fence, job, context);
		EXPECT(fence->message.find(std::to_string(claimed)) != std::string::npos, context);
	}
	// A token for a job that does not exist: P0002, like any unknown job.
	Error deleted = LeaseLostDeleted(job, claimed);
	ExpectWellFormed(deleted, Code::NoJob, {}, "LeaseLostDeleted");
	ExpectNamesJob(deleted, job, "LeaseLostDeleted");

	const char *name = in.PickValueInArray({"lease", "extend_by", "x"});
	bool is_null = in.ConsumeBool();
	bool positive = in.ConsumeBool();
	bool too_long = in.ConsumeBool();
	int max_years = in.ConsumeIntegralInRange<int>(0, 10000);
	Check length = CheckLeaseLength(name, is_null, positive, too_long, max_years);
	std::string lcontext = std::string("CheckLeaseLength(") + name + ", " + std::to_string(is_null) + ", " +
	                       std::to_string(positive) + ", " + std::to_string(too_long) + ", " +
	                       std::to_string(max_years) + ")";
	// Not NULL, ending after it starts, not longer than max_years.
	EXPECT(length.has_value() == (is_null || !positive || too_long), lcontext);
	if (length) {
		ExpectWellFormed(*length, is_null ? Code::NullValue : Code::BadParam, {}, lcontext);
		EXPECT(length->message.rfind(name, 0) == 0, lcontext);
		if (!is_null && too_long) {
			EXPECT(length->detail.find(std::to_string(max_years)) != std::string::npos, lcontext);
		}
	}

	Status finished_as = AnyStatus(in);
	bool has_error = in.ConsumeBool();
	Check error_text = CheckFinishError(job, finished_as, has_error);
	std::string fcontext = std::string("CheckFinishError(") + kSpecNames[static_cast<int>(finished_as)] + ", " +
	                       std::to_string(has_error) + ")";
	// An error text only with status failed.
	EXPECT(error_text.has_value() == (has_error && finished_as != Status::Failed), fcontext);
	if (error_text) {
		ExpectWellFormed(*error_text, Code::BadParam, {}, fcontext);
		ExpectNamesJob(*error_text, job, fcontext);
	}

	// A job fails instead of going back to the queue once it has lost
	// max_attempts leases. lost_before comes from compute.jobs.lost_leases,
	// an integer column, so the glue passes int32 values; beyond that range
	// lost_before + 1 overflows (see the report that added this harness).
	std::int64_t lost_before = in.ConsumeIntegralInRange<std::int64_t>(std::numeric_limits<std::int32_t>::min(),
	                                                                   std::numeric_limits<std::int32_t>::max());
	std::int64_t max_attempts = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(-2, 12)
	                                             : in.ConsumeIntegral<std::int64_t>();
	LeaseLoss loss = DecideLeaseLoss(lost_before, max_attempts);
	std::string dcontext =
	    "DecideLeaseLoss(" + std::to_string(lost_before) + ", " + std::to_string(max_attempts) + ")";
	bool fails = lost_before + 1 >= max_attempts;
	EXPECT(loss.next == (fails ? Status::Failed : Status::Queued), dcontext);
	std::size_t error_len = 0;
	while (error_len < sizeof(loss.error) && loss.error[error_len] != '\0') {
		error_len++;
	}
	EXPECT(error_len < sizeof(loss.error), dcontext + " error not NUL-terminated");
	EXPECT((error_len > 0) == fails, dcontext + " error=" + Show(std::string_view(loss.error, error_len)));
	if (fails) {
		std::string_view text(loss.error, error_len);
		EXPECT(text.find(std::to_string(lost_before + 1)) != std::string_view::npos, dcontext + " " + Show(text));
	}

	// A new submission: a new job, or a finished one sent again.
	std::optional<Status> from;
	if (in.ConsumeIntegralInRange<int>(0, 5) != 0) {
		from = AnyStatus(in);
	}
	Status to = AnyStatus(in);
	bool expected = to == Status::Queued &&
	                (!from || *from == Status::Complete || *from == Status::Failed || *from == Status::Expired);
	EXPECT(StartsSubmission(from, to) == expected, std::string("StartsSubmission(") +
	                                                   (from ? kSpecNames[static_cast<int>(*from)] : "(new)") + ", " +
	                                                   kSpecNames[static_cast<int>(to)] + ")");
}

// finish_jobs' array checks and its duplicate error (src/core/validate.hpp).
void
FuzzBatch(FuzzedDataProvider &in) {
	int ids_ndim = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(0, 3) : in.ConsumeIntegral<int>();
	std::size_t ids = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 4) : in.ConsumeIntegral<std::size_t>();
	std::optional<int> attempts_ndim;
	if (in.ConsumeBool()) {
		attempts_ndim = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(0, 3) : in.ConsumeIntegral<int>();
	}
	std::size_t attempts = in.ConsumeBool() ? ids : in.ConsumeIntegralInRange<std::size_t>(0, 5);
	Check check = CheckBatch(ids_ndim, ids, attempts_ndim, attempts);
	std::string context = "CheckBatch(" + std::to_string(ids_ndim) + ", " + std::to_string(ids) + ", " +
	                      (attempts_ndim ? std::to_string(*attempts_ndim) : std::string("none")) + ", " +
	                      std::to_string(attempts) + ")";
	// One dimension each (0: empty); attempts, when given, one per job id.
	bool shape = ids_ndim > 1 || (attempts_ndim && *attempts_ndim > 1);
	bool length = attempts_ndim && attempts != ids;
	EXPECT(check.has_value() == (shape || length), context);
	if (check) {
		ExpectWellFormed(*check, Code::BadParam, {}, context);
		if (!shape) {
			EXPECT(check->message.find(std::to_string(attempts)) != std::string::npos &&
			           check->message.find(std::to_string(ids)) != std::string::npos,
			       context + " message=" + Show(check->message));
		}
	}
	ExpectWellFormed(DuplicateInBatch(), Code::BadParam, {}, "DuplicateInBatch");
}

// What the trigger checks of a row written by plain SQL: lost_leases not
// negative, and the run columns consistent with the status (SPEC section 3:
// a queued job has no grabbed, finished or output_files; an in-progress job
// has grabbed and no finished, and may have output_files (1.2.0); a complete
// or failed job has grabbed and finished; an expired job keeps whatever it
// had). Also the trigger-order error, and ForJob.
void
FuzzRowChecks(FuzzedDataProvider &in, std::string_view job) {
	std::int64_t lost = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int64_t>(-2, 2)
	                                     : in.ConsumeIntegral<std::int64_t>();
	Check lost_check = CheckLostLeases(job, lost);
	std::string lcontext = "CheckLostLeases(" + Show(job) + ", " + std::to_string(lost) + ")";
	EXPECT(lost_check.has_value() == (lost < 0), lcontext);
	if (lost_check) {
		ExpectWellFormed(*lost_check, Code::BadParam, {}, lcontext);
		ExpectNamesJob(*lost_check, job, lcontext);
	}

	Status status = AnyStatus(in);
	RunFields fields {in.ConsumeBool(), in.ConsumeBool(), in.ConsumeBool()};
	Check check = CheckConsistent(job, status, fields);
	std::string context = std::string("CheckConsistent(") + kSpecNames[static_cast<int>(status)] +
	                      ", grabbed=" + std::to_string(fields.grabbed) + ", finished=" +
	                      std::to_string(fields.finished) + ", output_files=" + std::to_string(fields.output_files) +
	                      ")";
	bool consistent = true;
	switch (status) {
	case Status::Queued:
		consistent = !fields.grabbed && !fields.finished && !fields.output_files;
		break;
	case Status::InProgress:
		consistent = fields.grabbed && !fields.finished;
		break;
	case Status::Complete:
	case Status::Failed:
		consistent = fields.grabbed && fields.finished;
		break;
	case Status::Expired:
		break;
	}
	EXPECT(check.has_value() == !consistent, context);
	if (check) {
		ExpectWellFormed(*check, Code::BadTransition, {}, context);
		ExpectNamesJob(*check, job, context);
	}

	// Trigger names: identifiers, printed quoted.
	auto printable = [](std::string text) {
		for (char &c : text) {
			c = static_cast<char>(0x20 + static_cast<unsigned char>(c) % 0x5f);
		}
		return text;
	};
	std::string other = printable(Text(in, 40));
	std::string self = printable(Text(in, 40));
	Error order = TriggerAfterCheck(other, self);
	ExpectWellFormed(order, Code::BadTransition, {other, self}, "TriggerAfterCheck(" + Show(other) + ")");

	// ForJob: an error that does not name its job is made to; nothing else
	// changes.
	Check plain;
	switch (in.ConsumeIntegralInRange<int>(0, 2)) {
	case 0:
		break;
	case 1:
		plain = CheckMaxJobs(0);
		break;
	default:
		plain = UnknownJob(job);
	}
	Check named = ForJob(job, plain);
	std::string fcontext = "ForJob(" + Show(job) + ", " + (plain ? Show(plain->message) : std::string("none")) + ")";
	EXPECT(named.has_value() == plain.has_value(), fcontext);
	if (named) {
		EXPECT(named->code == plain->code && named->detail == plain->detail, fcontext);
		ExpectNamesJob(*named, job, fcontext);
		EXPECT(named->message.size() >= plain->message.size() &&
		           named->message.compare(named->message.size() - plain->message.size(), std::string::npos,
		                                  plain->message) == 0,
		       fcontext + " lost the message: " + Show(named->message));
		if (plain->message.rfind("job ", 0) == 0) {
			EXPECT(named->message == plain->message, fcontext + " named the job twice");
		}
	}
}

// Queue rights (src/core/rights.hpp): a restricted role may use a right only
// on a queue one of its patterns matches; calls on every queue are refused
// to a restricted role; the three right names round-trip.
void
FuzzRights(FuzzedDataProvider &in, std::string_view job) {
	const Right rights[] = {Right::Submit, Right::Work, Right::Admin};
	const char *const names[] = {"submit", "work", "admin"};
	for (int i = 0; i < 3; i++) {
		EXPECT(RightName(rights[i]) == names[i], "RightName");
		EXPECT(ParseRight(names[i]) == rights[i], "ParseRight");
	}
	std::string text = Text(in, 12);
	std::optional<Right> expected;
	for (int i = 0; i < 3; i++) {
		if (text == names[i]) {
			expected = rights[i];
		}
	}
	EXPECT(ParseRight(text) == expected, "ParseRight(" + Show(text) + ")");
	bool is_null = in.ConsumeIntegralInRange<int>(0, 5) == 0;
	std::optional<std::string_view> arg;
	if (!is_null) {
		arg = text;
	}
	Right sentinel = rights[in.ConsumeIntegralInRange<int>(0, 2)];
	Right out = sentinel;
	Check name_check = CheckRightName(arg, &out);
	std::string ncontext = "CheckRightName(" + (is_null ? std::string("NULL") : Show(text)) + ")";
	if (is_null || !expected) {
		EXPECT(name_check.has_value() && out == sentinel, ncontext);
		ExpectWellFormed(*name_check, is_null ? Code::NullValue : Code::BadParam, {"\"" + text + "\""}, ncontext);
	} else {
		EXPECT(!name_check && out == *expected, ncontext);
	}

	Right right = rights[in.ConsumeIntegralInRange<int>(0, 2)];
	std::string queue = Text(in, 40);
	std::string role = Text(in, 40);
	std::string with_job = in.ConsumeBool() ? std::string(job) : std::string();
	RightLookup lookup {in.ConsumeBool(), in.ConsumeBool()};
	Check use = CheckQueueRight(with_job, queue, role, right, lookup);
	std::string ucontext = "CheckQueueRight(" + Show(queue) + ", " + Show(role) + ", " +
	                       std::string(RightName(right)) + ", restricted=" + std::to_string(lookup.restricted) +
	                       ", allowed=" + std::to_string(lookup.allowed) + ")";
	EXPECT(use.has_value() == (lookup.restricted && !lookup.allowed), ucontext);
	if (use) {
		// The client's texts, quoted where the message quotes them (so that
		// a short name does not match inside another).
		ExpectWellFormed(*use, Code::NoPrivilege, {"role \"" + role + "\"", "queue \"" + queue + "\""}, ucontext);
		if (!with_job.empty()) {
			ExpectNamesJob(*use, with_job, ucontext);
		}
	}
	const char *function = in.PickValueInArray({"expire", "requeue_stale"});
	bool restricted = in.ConsumeBool();
	Check all = CheckAllQueues(function, role, right, restricted);
	EXPECT(all.has_value() == restricted, std::string("CheckAllQueues(") + function + ")");
	if (all) {
		ExpectWellFormed(*all, Code::NoPrivilege, {"role \"" + role + "\""}, std::string("CheckAllQueues(") + function + ")");
		EXPECT(all->message.find(function) != std::string::npos, "CheckAllQueues names the function");
	}
}

// The queue marks (src/core/queue_mark.hpp): a table of a few slots and a
// sequence of operations on it, each checked against the header's words by
// a comparison with the slots as they were before it.
bool
SameMark(const QueueMark &a, const QueueMark &b) {
	if (a.recorded != b.recorded) {
		return false;
	}
	for (std::size_t i = 0; i < kRecentPositions; i++) {
		if (a.recent[i].created != b.recent[i].created ||
		    std::memcmp(a.recent[i].job_id, b.recent[i].job_id, sizeof(a.recent[i].job_id)) != 0) {
			return false;
		}
	}
	return a.used == b.used && a.valid == b.valid && a.queue_len == b.queue_len && a.database == b.database &&
	       std::memcmp(a.queue, b.queue, sizeof(a.queue)) == 0 && a.generation == b.generation &&
	       a.mark.created == b.mark.created && std::memcmp(a.mark.job_id, b.mark.job_id, sizeof(a.mark.job_id)) == 0 &&
	       a.last_full_scan == b.last_full_scan;
}

// (created, job_id) in grab order, stated independently: created first,
// then the 16 bytes as unsigned, first byte first.
int
SpecCompare(const Position &a, const Position &b) {
	if (a.created != b.created) {
		return a.created < b.created ? -1 : 1;
	}
	for (std::size_t i = 0; i < sizeof(a.job_id); i++) {
		if (a.job_id[i] != b.job_id[i]) {
			return a.job_id[i] < b.job_id[i] ? -1 : 1;
		}
	}
	return 0;
}

int
Sign(int v) {
	return (v > 0) - (v < 0);
}

Position
AnyPosition(FuzzedDataProvider &in, const std::vector<Position> &seen) {
	if (!seen.empty() && in.ConsumeBool()) {
		Position p = seen[in.ConsumeIntegralInRange<std::size_t>(0, seen.size() - 1)];
		if (in.ConsumeBool()) { // a neighbour: the same time, or the same id
			if (in.ConsumeBool()) {
				p.job_id[in.ConsumeIntegralInRange<std::size_t>(0, 15)] = in.ConsumeIntegral<unsigned char>();
			} else {
				p.created += in.ConsumeIntegralInRange<std::int64_t>(-2, 2);
			}
		}
		return p;
	}
	Position p {};
	// Server timestamps (microseconds since 2000): well inside int64.
	p.created = in.ConsumeIntegralInRange<std::int64_t>(-(std::int64_t(1) << 60), std::int64_t(1) << 60);
	std::string id = in.ConsumeBytesAsString(in.ConsumeBool() ? 1 : 16);
	std::memcpy(p.job_id, id.data(), id.size());
	return p;
}

void
FuzzQueueMarks(FuzzedDataProvider &in) {
	std::size_t count = in.ConsumeIntegralInRange<std::size_t>(0, 12);
	std::vector<QueueMark> slots(count ? count : 1, QueueMark {});
	std::vector<std::pair<std::uint32_t, std::string>> names; // (database, queue)
	std::vector<Position> seen;
	std::int64_t now = in.ConsumeIntegralInRange<std::int64_t>(0, std::int64_t(1) << 60);
	int steps = in.ConsumeIntegralInRange<int>(0, 24);
	for (int step = 0; step < steps && in.remaining_bytes() > 0; step++) {
		// A queue of a database: one seen before, or new (a name of any
		// length up to past kMarkQueueBytes; the same name in another
		// database is another queue).
		std::uint32_t database;
		std::string queue;
		if (!names.empty() && in.ConsumeBool()) {
			std::tie(database, queue) = names[in.ConsumeIntegralInRange<std::size_t>(0, names.size() - 1)];
			if (in.ConsumeIntegralInRange<int>(0, 3) == 0) {
				database = in.ConsumeIntegralInRange<std::uint32_t>(0, 2);
				names.emplace_back(database, queue);
			}
		} else {
			database = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint32_t>(0, 2)
			                            : in.ConsumeIntegral<std::uint32_t>();
			std::size_t len = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 4)
			                                   : in.ConsumeIntegralInRange<std::size_t>(0, kMarkQueueBytes + 3);
			queue = in.ConsumeBytesAsString(len);
			names.emplace_back(database, queue);
		}
		now += in.ConsumeIntegralInRange<std::int64_t>(0, 2 * kRescanMicros);
		std::vector<QueueMark> before = slots;
		std::string context = "queue marks step " + std::to_string(step) + " of " + std::to_string(count) +
		                      " slots, database " + std::to_string(database) + " queue " + Show(queue);
		auto is_queue = [&](const QueueMark &slot) {
			return slot.used && slot.database == database && slot.queue_len == queue.size() &&
			       std::memcmp(slot.queue, queue.data(), queue.size()) == 0;
		};

		// Where the queue is before the step (at most one used slot).
		QueueMark *existing = nullptr;
		for (std::size_t i = 0; i < count; i++) {
			if (is_queue(slots[i])) {
				existing = &slots[i];
			}
		}

		bool claim = in.ConsumeBool();
		QueueMark *entry = FindMark(slots.data(), count, queue, claim, database);
		bool storable = count > 0 && queue.size() <= kMarkQueueBytes;
		context += claim ? " FindMark(claim)" : " FindMark";
		if (!storable) {
			EXPECT(entry == nullptr, context + " stored what it cannot");
		} else if (existing) {
			EXPECT(entry == existing, context + " did not find the queue's slot");
		} else if (claim) {
			EXPECT(entry != nullptr, context + " claimed nothing");
		} else {
			EXPECT(entry == nullptr, context + " found a slot the queue has not");
		}
		for (std::size_t i = 0; i < count; i++) {
			if (&slots[i] == entry && claim && !existing) {
				// Claimed: this queue's, not valid, nothing recorded, a
				// generation moved on.
				EXPECT(is_queue(slots[i]) && !slots[i].valid && slots[i].recorded == 0,
				       context + " claimed slot is not the queue's, fresh");
				EXPECT(slots[i].generation > before[i].generation, context + " generation did not move on");
			} else {
				EXPECT(SameMark(slots[i], before[i]), context + " changed slot " + std::to_string(i));
			}
		}
		// No queue of a database in two slots.
		for (std::size_t i = 0; i < count; i++) {
			for (std::size_t j = i + 1; j < count; j++) {
				EXPECT(!(slots[i].used && slots[j].used && slots[i].database == slots[j].database &&
				         slots[i].queue_len == slots[j].queue_len &&
				         std::memcmp(slots[i].queue, slots[j].queue, slots[i].queue_len) == 0),
				       context + " one queue in two slots");
			}
		}
		if (entry == nullptr) {
			continue;
		}

		// A grab reads the mark, others act meanwhile (transactions that
		// end with a queued row record its position), then the grab
		// advances the mark.
		MarkRead read = ReadMark(*entry, now);
		EXPECT(read.generation == entry->generation && read.recorded == entry->recorded,
		       context + " ReadMark generation, recorded");
		EXPECT(read.from_mark == (entry->valid && now - entry->last_full_scan < kRescanMicros),
		       context + " ReadMark from_mark");
		if (read.from_mark) {
			EXPECT(SpecCompare(read.mark, entry->mark) == 0, context + " ReadMark mark");
		}
		std::vector<Position> recorded_since;
		int between = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? in.ConsumeIntegralInRange<int>(28, 36)
		                                                         : in.ConsumeIntegralInRange<int>(0, 3);
		for (int k = 0; k < between; k++) {
			QueueMark was = *entry;
			if (in.ConsumeIntegralInRange<int>(0, 5) == 0) {
				Invalidate(*entry);
				EXPECT(!entry->valid && entry->generation == was.generation + 1 && entry->recorded == was.recorded,
				       context + " Invalidate");
			} else {
				// Now and then exactly the mark's own position (a row
				// written at the mark is behind it: the boundary).
				Position position = entry->valid && in.ConsumeIntegralInRange<int>(0, 3) == 0 ? entry->mark
				                                                                               : AnyPosition(in, seen);
				seen.push_back(position);
				recorded_since.push_back(position);
				InvalidateIfBehind(*entry, position);
				bool behind = was.valid && SpecCompare(position, was.mark) <= 0;
				EXPECT(entry->valid == (was.valid && !behind), context + " InvalidateIfBehind valid");
				EXPECT(entry->generation == was.generation + (behind ? 1 : 0), context + " InvalidateIfBehind gen");
				EXPECT(entry->recorded == was.recorded + 1, context + " InvalidateIfBehind did not record");
			}
			EXPECT(SpecCompare(entry->mark, was.mark) == 0 && entry->last_full_scan == was.last_full_scan,
			       context + " invalidation moved the mark");
		}
		Position last = AnyPosition(in, seen);
		seen.push_back(last);
		std::int64_t later = now + in.ConsumeIntegralInRange<std::int64_t>(0, 1000);
		QueueMark was = *entry;
		AdvanceMark(*entry, read, last, later);
		std::string acontext = context + " AdvanceMark";
		EXPECT(entry->used && entry->queue_len == was.queue_len && entry->database == was.database &&
		           entry->recorded == was.recorded,
		       acontext + " changed the queue or what was recorded");
		// A row recorded since the read at or before the grab's last job may
		// have been passed unseen; so may any, once more were recorded than
		// the slot remembers.
		bool passed = recorded_since.size() > kRecentPositions;
		for (const Position &p : recorded_since) {
			passed = passed || SpecCompare(p, last) <= 0;
		}
		if (was.generation != read.generation) {
			EXPECT(SameMark(*entry, was), acontext + " wrote a mark invalidated since it was read");
		} else if (passed) {
			EXPECT(!entry->valid && entry->generation == was.generation + 1 &&
			           SpecCompare(entry->mark, was.mark) == 0,
			       acontext + " kept a mark past a row recorded behind the grab");
		} else if (!read.from_mark) {
			// A full scan: the mark is where it ended, the rescan clock
			// restarts, and grabs that read the old mark can no longer
			// move it.
			EXPECT(entry->valid && SpecCompare(entry->mark, last) == 0 && entry->last_full_scan == later &&
			           entry->generation == was.generation + 1,
			       acontext + " after a full scan");
		} else if (was.valid && SpecCompare(last, was.mark) > 0) {
			EXPECT(entry->valid && SpecCompare(entry->mark, last) == 0 &&
			           entry->last_full_scan == was.last_full_scan && entry->generation == was.generation,
			       acontext + " forward");
		} else {
			EXPECT(SameMark(*entry, was), acontext + " moved the mark back");
		}
		// ComparePositions is the grab order.
		Position other = AnyPosition(in, seen);
		EXPECT(Sign(ComparePositions(last, other)) == SpecCompare(last, other), "ComparePositions");
		EXPECT(Sign(ComparePositions(other, last)) == -SpecCompare(last, other), "ComparePositions antisymmetry");
	}
}

} // namespace

extern "C" int
LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
	FuzzedDataProvider in(data, size);
	std::string job = JobId(in);
	FuzzJobId(in, job);
	FuzzStatuses(in, job);
	FuzzFinishStatus(in, job);
	FuzzTransitions(in, job);
	FuzzQueue(in);
	FuzzFiles(in);
	FuzzNumbers(in);
	FuzzLeases(in, job);
	FuzzBatch(in);
	FuzzRowChecks(in, job);
	FuzzRights(in, job);
	FuzzQueueMarks(in);
	return 0;
}
