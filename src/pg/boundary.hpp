// The boundary between C++ and PostgreSQL's error handling.
//
// PostgreSQL raises errors with ereport(), which unwinds by siglongjmp and
// skips C++ destructors; a C++ exception that reaches a PostgreSQL frame
// aborts the backend. This layer is the only place where the two meet:
//
//  * RunCore() runs server-independent core code (src/core/) inside a
//    try/catch and turns its result, or any exception, into a PgError: plain
//    data, no destructors.
//  * Raise() ereports a PgError. It is called only after RunCore() has
//    returned, so no C++ object with a destructor is alive in the frames it
//    jumps over.
//
// The rule for the glue in src/pg/: an SQL-callable function keeps only plain
// data (Datums, pointers, PODs) in its own frame, calls the core only through
// CoreCheck(), and calls PostgreSQL (SPI, ereport, palloc) outside of any
// lambda passed to it.
#pragma once

#include <new>
#include <utility>

#include "core/errors.hpp"

namespace compute::pg {

struct PgError {
	int sqlstate;       // an ERRCODE_* value
	char message[1024]; // NUL-terminated, possibly cut
	char detail[1024];  // NUL-terminated; empty means none
	char hint[256];     // NUL-terminated; empty means none
};

// Copies a core error into `out`. Never throws.
void
Fill(PgError &out, const Error &error) noexcept;

// Fills `out` for an exception that is not a core error.
void
FillOutOfMemory(PgError &out) noexcept;
void
FillInternal(PgError &out, const char *what) noexcept;

// Runs `core` (returning a compute::Check) without letting any exception
// escape. Returns true when the check passed; else `out` holds the error.
template <typename F>
bool
RunCore(F &&core, PgError &out) noexcept {
	try {
		Check check = std::forward<F>(core)();
		if (!check) {
			return true;
		}
		Fill(out, *check);
	} catch (const std::bad_alloc &) {
		FillOutOfMemory(out);
	} catch (const std::exception &e) {
		FillInternal(out, e.what());
	} catch (...) {
		FillInternal(out, "unknown C++ exception");
	}
	return false;
}

// ereport(ERROR) with the SQLSTATE, message and detail of `error`.
[[noreturn]] void
Raise(const PgError &error);

// Runs a core check; raises its error, if any, once the C++ side is done.
template <typename F>
inline void
CoreCheck(F &&core) {
	PgError error;
	if (!RunCore(std::forward<F>(core), error)) {
		Raise(error);
	}
}

} // namespace compute::pg
