// Reading SQL arguments and tuple fields into plain values for the core.
// Everything here is plain data: safe to keep across calls that ereport.
#pragma once

#include <optional>
#include <string_view>

#include "pg/postgres.hpp"

namespace compute::pg {

// The bytes of a varlena value (bytea, text, varchar), or NULL.
struct Bytes {
	const char *data;
	size_t len;
	bool null;

	std::optional<std::string_view>
	View() const {
		if (null) {
			return std::nullopt;
		}
		return std::string_view(data, len);
	}
	std::string_view
	ViewOrEmpty() const {
		return null ? std::string_view() : std::string_view(data, len);
	}
};

inline Bytes
BytesOf(Datum value, bool isnull) {
	if (isnull) {
		return Bytes {nullptr, 0, true};
	}
	struct varlena *v = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(value)));
	return Bytes {VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), false};
}

inline Bytes
ArgBytes(FunctionCallInfo fcinfo, int n) {
	return BytesOf(PG_GETARG_DATUM(n), PG_ARGISNULL(n));
}

// How a lease of `lease` from `start` fits: it must end after `start`
// (computed as the expiry is, timestamptz + interval, so '-2 months 60 days'
// counts as it will be applied) and be at most kMaxLeaseYears in each part,
// so that the expiry stays in the timestamp range.
enum class LeaseFit { Ok, NotPositive, TooLong };

constexpr int kMaxLeaseYears = 1000;

inline LeaseFit
FitLease(TimestampTz start, Datum lease) {
	const Interval *span = DatumGetIntervalP(lease);
	const int64 max_days = static_cast<int64>(kMaxLeaseYears) * 366;
	if (span->month > kMaxLeaseYears * MONTHS_PER_YEAR || span->day > max_days ||
	    span->time > max_days * USECS_PER_DAY) {
		return LeaseFit::TooLong;
	}
	if (span->month < -kMaxLeaseYears * MONTHS_PER_YEAR || span->day < -max_days ||
	    span->time < -max_days * USECS_PER_DAY) {
		return LeaseFit::NotPositive;
	}
	Datum end = DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(start), lease);
	return DatumGetTimestampTz(end) > start ? LeaseFit::Ok : LeaseFit::NotPositive;
}

} // namespace compute::pg
