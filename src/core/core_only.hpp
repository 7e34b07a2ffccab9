// Included by every .cpp file of the server-independent core (src/core/).
// The core must compile and be unit-tested without a PostgreSQL server, so it
// may not see PostgreSQL's headers: they define macros (elog, Assert, ...)
// and longjmp-based error handling that have no place in plain C++.
#pragma once

#ifdef POSTGRES_H
#error "src/core/ is plain C++: do not include postgres.h before core sources"
#endif
