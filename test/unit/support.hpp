// What the core's unit tests share: how GoogleTest prints the core's types
// (found by ADL), a job id with its hex, and the message-style check.
#pragma once

#include <gtest/gtest.h>

#include <ostream>
#include <string>

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
	case Code::NoPrivilege:
		*os << "NoPrivilege";
		return;
	case Code::Conflict:
		*os << "Conflict";
		return;
	}
	*os << "Code(" << static_cast<int>(code) << ")";
}

inline void
PrintTo(Status status, std::ostream *os) {
	*os << StatusName(status);
}

// The job id 00 01 02 ... 0f, and how messages print it.
inline const std::string kJobId = {'\x00', '\x01', '\x02', '\x03', '\x04', '\x05', '\x06', '\x07',
                                   '\x08', '\x09', '\x0a', '\x0b', '\x0c', '\x0d', '\x0e', '\x0f'};
inline const std::string kJobHex = "000102030405060708090a0b0c0d0e0f";

// The message style of STYLE.md section 3: one line, lower case, no trailing
// period; the detail is empty or a full sentence.
inline void
ExpectWellFormed(const Error &error) {
	ASSERT_FALSE(error.message.empty());
	EXPECT_FALSE(error.message.front() >= 'A' && error.message.front() <= 'Z') << error.message;
	EXPECT_NE(error.message.back(), '.') << error.message;
	EXPECT_EQ(error.message.find('\n'), std::string::npos) << error.message;
	if (!error.detail.empty()) {
		EXPECT_TRUE(error.detail.front() >= 'A' && error.detail.front() <= 'Z') << error.detail;
		EXPECT_EQ(error.detail.back(), '.') << error.detail;
	}
}

} // namespace compute
