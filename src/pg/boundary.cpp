#include "pg/postgres.hpp"

#include "pg/boundary.hpp"

#include <cstring>

namespace compute::pg {

namespace {

int
SqlState(Code code) noexcept {
	switch (code) {
	case Code::BadTransition:
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	case Code::NoJob:
		return ERRCODE_NO_DATA_FOUND;
	case Code::BadParam:
		return ERRCODE_INVALID_PARAMETER_VALUE;
	case Code::TooLong:
		return ERRCODE_STRING_DATA_RIGHT_TRUNCATION;
	case Code::NullValue:
		return ERRCODE_NULL_VALUE_NOT_ALLOWED;
	case Code::NoPrivilege:
		return ERRCODE_INSUFFICIENT_PRIVILEGE;
	case Code::Conflict:
		return ERRCODE_T_R_SERIALIZATION_FAILURE;
	case Code::NotSupported:
		return ERRCODE_FEATURE_NOT_SUPPORTED;
	}
	return ERRCODE_INTERNAL_ERROR;
}

// Copies a NUL-terminated message, cut to fit on a character boundary of
// the server encoding (a message may quote long multi-byte input).
template <size_t N>
void
Copy(char (&to)[N], const char *from) noexcept {
	size_t len = std::strlen(from);
	if (len >= N) {
		len = static_cast<size_t>(pg_encoding_mbcliplen(GetDatabaseEncoding(), from, static_cast<int>(len), N - 1));
	}
	std::memcpy(to, from, len);
	to[len] = '\0';
}

} // namespace

void
Fill(PgError &out, const Error &error) noexcept {
	out.sqlstate = SqlState(error.code);
	Copy(out.message, error.message.c_str());
	Copy(out.detail, error.detail.c_str());
	Copy(out.hint, error.hint.c_str());
}

void
FillOutOfMemory(PgError &out) noexcept {
	out.sqlstate = ERRCODE_OUT_OF_MEMORY;
	Copy(out.message, "out of memory");
	out.detail[0] = '\0';
	out.hint[0] = '\0';
}

void
FillInternal(PgError &out, const char *what) noexcept {
	out.sqlstate = ERRCODE_INTERNAL_ERROR;
	Copy(out.message, "internal error in compute");
	Copy(out.detail, what);
	out.hint[0] = '\0';
}

void
Raise(const PgError &error) {
	ereport(ERROR, (errcode(error.sqlstate), errmsg_internal("%s", error.message),
	                error.detail[0] ? errdetail_internal("%s", error.detail) : 0,
	                error.hint[0] ? errhint("%s", error.hint) : 0));
	pg_unreachable();
}

} // namespace compute::pg
