// The maintenance background workers: with the library in
// shared_preload_libraries, one worker per database named in
// compute.databases requeues jobs whose lease ran out and expires old
// complete jobs (see maintenance.cpp).
#pragma once

namespace compute::pg {

// Defines the maintenance settings (in every process that loads the
// library). While shared_preload_libraries is being processed, also asks for
// the shared memory, registers the launcher and installs the hook that
// keeps DROP DATABASE and its kin possible.
void
InitMaintenance();

} // namespace compute::pg
