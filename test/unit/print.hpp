// How GoogleTest prints the core's types in failure messages (found by ADL).
#pragma once

#include <ostream>

#include "core/errors.hpp"
#include "core/status.hpp"

namespace compute {

inline void
PrintTo(Code code, std::ostream *os) {
	switch (code) {
	case Code::BadTransition:
		*os << "BadTransition";
		return;
	case Code::NoJob:
		*os << "NoJob";
		return;
	case Code::BadParam:
		*os << "BadParam";
		return;
	case Code::TooLong:
		*os << "TooLong";
		return;
	case Code::NullValue:
		*os << "NullValue";
		return;
	}
	*os << "Code(" << static_cast<int>(code) << ")";
}

inline void
PrintTo(Status status, std::ostream *os) {
	*os << StatusName(status);
}

} // namespace compute
